"""Subword vectors from the command line: train --subwords on the sample, unseen misspellings, the saved folder.

One small model on the bundled sample (Skip-gram, SETTINGS below: 32 dimensions, window 3, 5 epochs, 20,000 buckets;
measured 64 s on the 2 shared cores at load 11-14, with "citys" -> "city" 1st and "goverment" -> "government" 4th;
3 epochs at dimension 50 were not enough) serves every test. Its n-gram table takes buckets x dim x 4 bytes
(20,000 x 32 x 4 = 2.6 MB here; fastText's 2,000,000 buckets at dim 100 would be 800 MB).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from gensim.models import KeyedVectors

from tests.test_cli import cli
from w2v_core import store
from w2v_core.vectors import SubwordVectors

BUCKETS, DIM = 20_000, 32
SETTINGS = ["--arch", "skipgram", "--dim", str(DIM), "--window", "3", "--epochs", "5", "--threads", "2",
            "--subwords", "--min-n", "3", "--max-n", "6", "--buckets", str(BUCKETS)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    out = tmp_path_factory.mktemp("subwords") / "model"
    r = cli("train", "--corpus", "sample", *SETTINGS, "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def _neighbours(model, word: str) -> tuple[list[str], str]:
    r = cli("neighbors", str(model), word)
    assert r.returncode == 0, r.stderr
    return [line.split("\t")[0] for line in r.stdout.strip().splitlines()], r.stderr


@pytest.mark.parametrize("typo,meant", [("citys", "city"), ("goverment", "government")])
def test_an_unseen_misspelling_has_its_word_among_its_10_nearest(model, typo, meant):
    near, said = _neighbours(model, typo)
    assert len(near) == 10 and typo not in near
    assert meant in near, near
    assert "built from its pieces" in said


def test_a_vocabulary_word_is_answered_as_before(model):
    near, said = _neighbours(model, "city")
    assert len(near) == 10 and "city" not in near and "built from its pieces" not in said


def test_the_folder_keeps_the_ngram_table_and_the_settings(model):
    cfg = json.loads((model / "config.json").read_text())
    assert {k: cfg["model"][k] for k in ("subwords", "min_n", "max_n", "buckets")} == {
        "subwords": True, "min_n": 3, "max_n": 6, "buckets": BUCKETS}
    m = store.load_model(model, tables=True)
    V = len(m.vectors)
    assert isinstance(m.vectors, SubwordVectors)
    assert m.tables["ngrams"].shape == (BUCKETS, DIM) and m.tables["in_words"].shape == (V, DIM)
    # vectors.txt: the vocabulary words only, each the mean of its rows (what gensim and fastText write)
    kv = KeyedVectors.load_word2vec_format(str(model / "vectors.txt"))
    assert len(kv) == V and "citys" not in kv
    assert np.allclose(kv["city"], m.vectors["city"], atol=1e-5)


def test_export_vec_is_fasttexts_text_format(model, tmp_path):
    out = tmp_path / "model.vec"
    r = cli("export", str(model), "--format", "vec", "--out", str(out))
    assert r.returncode == 0, r.stderr
    first = out.read_text(encoding="utf-8").split("\n", 1)[0]
    kv = KeyedVectors.load_word2vec_format(str(out))
    assert first == f"{len(kv)} {DIM}" and "government" in kv


def test_evaluate_covers_every_wordsim_pair(model):
    from w2v_core.evaluation import evaluate_pairs

    wv = store.load_model(model).vectors
    r = evaluate_pairs(wv, "wordsim353", table=False)
    assert r["pairs"] == r["total"] == 353 and r["built_from_pieces"] > 0
    assert r["spearman"] > 0.1


def test_train_help_lists_the_subword_options_and_their_memory():
    r = cli("train", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for opt in ("--subwords", "--min-n", "--max-n", "--buckets"):
        assert opt in text
    assert "buckets x dim x 4 bytes" in text and "800 MB" in text


def test_subwords_with_another_loss_is_one_line(tmp_path):
    r = cli("train", "--corpus", "sample", "--subwords", "--loss", "hs", "--max-tokens", "2000",
            "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "negative sampling" in r.stderr


def test_an_old_folder_without_subword_fields_still_loads(model, tmp_path):
    """A folder saved before subwords existed: config.json's model section has none of the new fields."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(model, old)
    cfg = json.loads((old / "config.json").read_text())
    for k in ("subwords", "min_n", "max_n", "buckets"):
        cfg["model"].pop(k)
    (old / "config.json").write_text(json.dumps(cfg))
    m = store.load_model(old)
    assert not isinstance(m.vectors, SubwordVectors) and not m.vectors.built_from_pieces("citys")
    assert store.read_record(old).model.subwords is False
