"""AppTest: the Evaluate page runs the benchmarks on the current model, shows them and stores them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import APP, make_texts
from streamlit.testing.v1 import AppTest

from w2v_core import store
from w2v_core.evaluation import load_analogies, load_pairs
from w2v_core.vectors import WordVectors

PAGE = "pages/evaluate.py"


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    """A tiny trained model, and imported vectors that cover the benchmark words (so scores are real)."""
    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("models")
    corpus = from_texts(make_texts(n_docs=60), name="tiny", config=CorpusConfig(source="tiny"))
    r = Trainer(corpus, ModelConfig(dim=12, window=2, min_count=1, sample=0), TrainConfig(epochs=1, threads=1, seed=1)).train()
    trained = r.save(root / "tiny", name="tiny")

    rng = np.random.default_rng(0)
    vecs: dict[str, np.ndarray] = {}
    for _name, qs in load_analogies():
        off = rng.normal(size=16)
        for a, b, _c, _d in qs[:40]:
            vecs.setdefault(a.lower(), rng.normal(size=16))
            vecs.setdefault(b.lower(), vecs[a.lower()] + off + rng.normal(size=16) * 0.3)
    for a, b, s in load_pairs("wordsim353") + load_pairs("simlex999"):
        vecs.setdefault(a.lower(), rng.normal(size=16))
        vecs.setdefault(b.lower(), vecs[a.lower()] * s / 10 + rng.normal(size=16) * (1.2 - s / 10))
    words = sorted(vecs)
    wv = WordVectors(words, np.stack([vecs[w] for w in words]))
    imported = store.save_model(root / "bench", wv, {"name": "bench vectors", "imported": True})
    return {"root": root, "trained": str(trained), "imported": str(imported)}


def _app(models_root, monkeypatch, current):
    monkeypatch.setenv("W2V_MODELS_DIR", str(models_root["root"]))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["current_model"] = current
    at.switch_page(PAGE)  # through app.py: navigation, session defaults and page links as in the app
    return at


def test_no_model_points_to_train(monkeypatch, tmp_path):
    monkeypatch.setenv("W2V_MODELS_DIR", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["current_model"] = None
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any("Train" in i.value for i in at.info)
    assert not at.button


def test_damaged_current_model_shows_error(models_root, monkeypatch, tmp_path):
    bad = tmp_path / "damaged"
    bad.mkdir()
    (bad / "config.json").write_text((Path(models_root["trained"]) / "config.json").read_text())
    (bad / "vocab.tsv").write_text("cat\t3\n")
    (bad / "weights.safetensors").write_bytes(b"not safetensors")
    at = _app(models_root, monkeypatch, str(bad)).run()
    assert not at.exception
    assert at.error and "could not be opened" in at.error[0].value
    assert not at.button  # nothing to evaluate


def test_run_benchmarks_shows_and_stores_scores(models_root, monkeypatch):
    path = models_root["imported"]
    at = _app(models_root, monkeypatch, path).run()
    assert not at.exception
    assert at.multiselect(key="eval_which").value == ["wordsim353", "simlex999", "analogy"]
    assert any("not been evaluated" in i.value for i in at.info)
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    labels = {m.label: m.value for m in at.metric}
    ws = float(labels["WordSim353 (Spearman ρ)"])
    assert 0.2 < ws <= 1.0  # the structure in the vectors is found
    assert labels["Google analogies (accuracy)"].endswith("%")
    # the disagreement tables and the per-section chart are there
    assert len(at.tabs) == 2
    assert any("people (0–10)" in df.value.columns for df in at.dataframe)
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # analogy sections + one scatter per pair set
    sections = json.loads(charts[0].proto.spec)
    names = [x for t in sections["data"] for x in t["x"]]
    assert "adjective → adverb" in names and not any(n.startswith(("gram", "capital-")) for n in names)
    scatter = json.loads(charts[1].proto.spec)
    red = next(t for t in scatter["data"] if "biggest" in (t.get("name") or ""))
    assert sorted(map(int, red["texttemplate"])) == list(range(1, len(red["texttemplate"]) + 1))  # numbers, not words
    pairs = [p for t in scatter["data"] for p in t["text"]]
    unordered = [frozenset(p.split(" – ")) for p in pairs]
    assert len(unordered) == len(set(unordered))  # "bank – money" and "money – bank" are one dot
    assert frozenset(("bank", "money")) in unordered
    # the model's answers to a few questions of the chosen section
    at.selectbox(key="eval_section").set_value("family").run()
    answers = next(df.value for df in at.dataframe if "model's answer" in df.value.columns)
    assert len(answers) > 0 and set(answers[""]) <= {"✓", "✗"}
    # stored in the model folder (without the big tables) and read back by the store
    saved = store.load_model(path).scores
    assert saved["wordsim353"] == pytest.approx(ws, abs=1e-3)
    assert "table" not in saved["details"]["wordsim353"]
    assert "capital-common-countries" in saved["details"]["analogy"]["sections"]
    # the model card on Home shows them right away
    at.switch_page("pages/home.py").run()
    assert not at.exception
    assert any("WordSim353" in c.value for c in at.caption)


def test_stored_scores_shown_without_rerunning(models_root, monkeypatch):
    path = models_root["imported"]
    store.save_scores(path, {"wordsim353": 0.5, "simlex999": 0.25, "analogy": 0.1, "details": {}})
    at = _app(models_root, monkeypatch, path).run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["WordSim353 (Spearman ρ)"] == "0.500" and labels["Google analogies (accuracy)"] == "10.0%"


def test_tiny_model_with_little_coverage(models_root, monkeypatch):
    at = _app(models_root, monkeypatch, models_root["trained"]).run()
    at.button(key="eval_run").click().run()
    assert not at.exception, at.exception
    # a 30-word model covers almost nothing: a dash and an explanation, never a crash
    labels = {m.label: m.value for m in at.metric}
    assert labels["WordSim353 (Spearman ρ)"] == "—"
    assert any("Too few" in c.value for c in at.caption)


def test_no_benchmark_chosen_warns(models_root, monkeypatch):
    at = _app(models_root, monkeypatch, models_root["trained"]).run()
    at.multiselect(key="eval_which").set_value([])
    at.button(key="eval_run").click().run()
    assert not at.exception
    assert any("at least one" in w.value for w in at.warning)
