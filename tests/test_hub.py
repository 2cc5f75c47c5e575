"""WikiText through Hugging Face datasets, with the Hub made unreachable by patching (no test uses the network)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import datasets
import datasets.config
import pytest

from w2v_core.data import hub
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError

WIKI_ROWS = [
    "",
    " = Valkyria Chronicles = \n",
    "",
    " Senjō no Valkyria is a well @-@ known tactical role @-@ playing game .\n",
    " = = Gameplay = = \n",
    " It sold 1 @,@ 000 copies in <unk> .\n",
]


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    """The Hub switched on in the environment, an empty datasets cache, and no real network anywhere."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    probes = []

    def unreachable(host, port, timeout):
        probes.append((host, port, timeout))
        raise OSError("Name or service not known")

    monkeypatch.setattr(hub, "_connect", unreachable)
    return probes


def _fake_hub_cache(root, name="wikitext-2", rows=WIKI_ROWS, splits=("train",)):
    """Write a WikiText config into a `datasets` cache folder the way a first download leaves it."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    cfg = hub.CONFIGS[name]
    files = {}
    for s in splits:
        files[s] = str(root / f"src-{s}.parquet")
        datasets.Dataset.from_dict({"text": rows}).to_parquet(files[s])
    b = Parquet(cache_dir=str(root / "build"), dataset_name="wikitext", config_name=cfg, data_files=files, hash="c0ffee")
    b.download_and_prepare()
    target = root / "hf-datasets" / "Salesforce___wikitext" / cfg / "0.0.0" / "c0ffee"
    target.parent.mkdir(parents=True)
    os.replace(b.cache_dir, target)


def test_unreachable_hub_gives_one_clear_line_quickly(hub_env, monkeypatch):
    downloads = []
    real = datasets.load_dataset

    def guarded(*a, **k):
        if not datasets.config.HF_HUB_OFFLINE:  # an online attempt would keep retrying
            downloads.append(a)
        return real(*a, **k)

    monkeypatch.setattr(datasets, "load_dataset", guarded)
    with pytest.raises(hub.HubUnavailable) as e:
        load_corpus(CorpusConfig(source="wikitext-2"))
    msg = str(e.value)
    assert "\n" not in msg and "Could not reach the Hugging Face Hub" in msg and "--corpus sample" in msg
    assert "WikiText-2 (train)" in msg
    assert isinstance(e.value, W2VError)
    assert len(hub_env) == 1 and hub_env[0][2] <= 5  # one short probe ...
    assert downloads == []  # ... and no slow download attempt
    assert datasets.config.HF_HUB_OFFLINE is False  # the cache lookup put the offline switch back


def test_probe_cannot_hang_on_dns(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(hub, "_connect", lambda host, port, timeout: release.wait(60))
    try:
        assert hub.hub_reachable(timeout=0.2) is False
    finally:
        release.set()


def test_probe_goes_through_the_proxy_or_endpoint(monkeypatch):
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert hub.hub_address() == ("proxy.local", 3128)
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.example")
    assert hub.hub_address() == ("hf-mirror.example", 443)


def test_offline_switch_skips_the_probe(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.setattr(hub, "_connect", lambda *a: pytest.fail("probed the network in offline mode"))
    with pytest.raises(hub.HubUnavailable, match="HF_HUB_OFFLINE=1.*--corpus sample"):
        load_corpus(CorpusConfig(source="wikitext-103", split="validation"))


def test_cached_wikitext_works_offline_and_is_cleaned(hub_env, tmp_path):
    _fake_hub_cache(tmp_path)
    c = load_corpus(CorpusConfig(source="wikitext-2"))
    assert hub_env == []  # found in the cache: no probe at all
    assert c.n_docs == 2  # headings and empty rows are not documents
    assert c.doc_tokens(0)[:5] == ["senjō", "no", "valkyria", "is", "a"]
    assert "well-known" not in c.words and "well" in c.words and "@" not in "".join(c.words)
    assert "unk" not in c.words and "<unk>" not in c.words
    assert c.name.startswith("wikitext-2 (train")
    keep = load_corpus(CorpusConfig(source="wikitext-2", keep_unk=True, keep_numbers=True, keep_punct=True))
    assert "<unk>" in keep.words and "1,000" in keep.words and "-" in keep.words
    small = load_corpus(CorpusConfig(source="wikitext-2", max_tokens=3))
    assert small.n_docs == 1 and small.truncated


def test_split_missing_from_cache_is_reported(hub_env, tmp_path):
    _fake_hub_cache(tmp_path, splits=("train",))
    with pytest.raises(hub.HubUnavailable, match=r"WikiText-2 \(test\)"):
        load_corpus(CorpusConfig(source="wikitext-2", split="test"))


def test_reachable_hub_downloads_with_load_dataset(hub_env, monkeypatch):
    calls = []
    monkeypatch.setattr(hub, "_connect", lambda host, port, timeout: None)

    def fake_load_dataset(path, name=None, split=None, cache_dir=None, **kw):
        calls.append((path, name, split, datasets.config.HF_HUB_OFFLINE))
        if datasets.config.HF_HUB_OFFLINE:
            raise ConnectionError("Couldn't reach 'Salesforce/wikitext' on the Hub (OfflineModeIsEnabled)")
        return datasets.Dataset.from_dict({"text": WIKI_ROWS})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    c = load_corpus(CorpusConfig(source="wikitext-103", split="validation"))
    assert {c[:3] for c in calls} == {("Salesforce/wikitext", "wikitext-103-raw-v1", "validation")}
    offline = [c[3] for c in calls]
    assert offline[0] is True and offline[-1] is False and offline.count(False) == 1  # cache first, one download
    assert datasets.config.HF_HUB_OFFLINE is False
    assert "valkyria" in c.words


def test_connection_error_during_download_is_the_same_message(hub_env, monkeypatch):
    monkeypatch.setattr(hub, "_connect", lambda host, port, timeout: None)

    def failing(*a, **k):
        raise ConnectionError("Couldn't reach 'Salesforce/wikitext' on the Hub (ConnectError)")

    monkeypatch.setattr(datasets, "load_dataset", failing)
    with pytest.raises(hub.HubUnavailable, match="Could not reach the Hugging Face Hub.*--corpus sample"):
        hub.load_wikitext("wikitext-2")


def test_cli_without_the_hub_exits_with_one_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    r = subprocess.run([sys.executable, "-m", "w2v_core", "train", "--corpus", "wikitext-2", "--out",
                        str(tmp_path / "m")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0
    err = [line for line in r.stderr.splitlines() if line.startswith("error")]
    assert len(err) == 1 and "WikiText-2" in err[0] and "--corpus sample" in err[0]
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "m").exists()
