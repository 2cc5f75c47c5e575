"""Model records: what a model folder says about itself (settings, summary, scores, stamps), read in one place."""

from __future__ import annotations

import json
import os

from w2v_core import store
from w2v_core.models import ModelConfig
from w2v_core.training import DEFAULT_LR


def test_a_trained_model_reads_as_typed_settings(tiny_model):
    r = store.read_record(tiny_model)
    assert r.ok and r.trained_here and not r.imported
    assert r.name == "tiny-model" and r.path == tiny_model
    assert r.model == ModelConfig(dim=16, window=3, min_count=1, sample=0)  # as conftest trained it
    assert r.corpus is not None and r.corpus.source == "tiny" and r.corpus_name == "tiny" and r.corpus_tokens > 0
    assert r.epochs == 3 and r.seed == 1 and r.batch_size > 0
    assert r.lr == DEFAULT_LR["skipgram"]  # the trainer writes the learning rate it used
    assert r.vocab_size == len(store.load_model(tiny_model).vectors) and r.dim == 16
    assert r.final_loss > 0 and r.seconds > 0 and not r.stopped
    assert r.scores is None and r.scores_stamp == 0 and r.mtime_stamp == store.mtime_stamp(tiny_model) > 0


def test_scores_and_stamps_follow_the_files(tiny_model):
    store.save_scores(tiny_model, {"analogy": 0.25})
    r = store.read_record(tiny_model)
    assert r.scores == {"analogy": 0.25} and r.scores_stamp > 0
    config = tiny_model / store.CONFIG
    later = os.stat(config).st_mtime_ns + 5 * 10**9
    os.utime(config, ns=(later, later))  # config.json rewritten (a rename): anything cached by stamp reloads
    assert store.read_record(tiny_model).mtime_stamp == later
    (tiny_model / store.SCORES).write_text("{not json", encoding="utf-8")
    assert store.read_record(tiny_model).scores is None  # a damaged scores file is ignored, not fatal


def test_imported_vectors_have_no_training_settings(tmp_path):
    src = tmp_path / "glove.txt"
    src.write_text("the 0.1 0.2 0.3\ncat 0.5 0.1 0.0\n", encoding="utf-8")
    r = store.read_record(store.import_vectors(src, tmp_path / "models"))
    assert r.ok and r.imported and not r.trained_here
    assert r.model is None and r.corpus is None and r.epochs is None and r.lr is None and r.final_loss is None
    assert r.source_file == "glove.txt" and r.vocab_size == 2 and r.dim == 3


def test_a_damaged_folder_is_a_record_with_an_error(tiny_model):
    root = tiny_model.parent
    bad = root / "bad"
    bad.mkdir()
    (bad / store.CONFIG).write_text("{", encoding="utf-8")
    r = store.read_record(bad)
    assert not r.ok and "not valid JSON" in r.error and r.name == "bad"
    assert [x.path for x in store.list_records(root)] == [tiny_model]  # left out of lists by default
    listed = {x.path: x for x in store.list_records(root, broken=True)}
    assert set(listed) == {tiny_model, bad} and listed[bad].error == r.error
    assert not store.read_record(root / "missing").ok


def test_records_are_listed_newest_first(tiny_model):
    root = tiny_model.parent
    cfg = json.loads((tiny_model / store.CONFIG).read_text(encoding="utf-8"))
    m = store.load_model(tiny_model)
    store.save_model(root / "older", m.vectors, {**cfg, "name": "older", "created": "2000-01-01 00:00:00"})
    assert [r.name for r in store.list_records(root)] == ["tiny-model", "older"]
