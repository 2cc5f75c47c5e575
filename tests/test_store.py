"""Model folders: save/load round trip, gensim compatibility, atomic writes, and refusal of unsafe folders."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
import io

import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v_core import store
from w2v_core.errors import W2VError


def test_round_trip(tiny_model):
    m = store.load_model(tiny_model)
    assert m.name == "tiny-model"
    assert set(os.listdir(tiny_model)) >= {"config.json", "vocab.tsv", "weights.safetensors", "vectors.txt",
                                          "history.json"}
    cfg = m.config
    assert cfg["model"]["arch"] == "skipgram" and cfg["model"]["dim"] == 16
    assert cfg["summary"]["vocab_size"] == len(m.vectors)
    assert m.vectors.counts is not None and m.vectors.counts[0] >= m.vectors.counts[-1]
    t = m.tensors()
    assert t["in"].shape == t["out"].shape == (len(m.vectors), 16)
    assert m.history["epoch"] and all(np.isfinite(e["loss"]) for e in m.history["epoch"])


def test_gensim_reads_vectors_txt(tiny_model):
    m = store.load_model(tiny_model)
    kv = KeyedVectors.load_word2vec_format(str(tiny_model / "vectors.txt"))
    assert kv.index_to_key == m.vectors.words
    np.testing.assert_allclose(kv.vectors, m.vectors.vectors, rtol=1e-5, atol=1e-6)
    ours = [w for w, _ in m.vectors.most_similar("cat", topn=5)]
    assert ours == [w for w, _ in kv.most_similar("cat", topn=5)]


def test_pickle_file_in_folder_is_refused(tiny_model):
    (tiny_model / "weights.pt").write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(W2VError, match="pickle"):
        store.load_model(tiny_model)


def test_tampered_weights_are_refused(tiny_model):
    # a pickle disguised as safetensors must not be unpickled
    (tiny_model / "weights.safetensors").write_bytes(pickle.dumps(os.system))
    with pytest.raises(W2VError, match="not a valid safetensors"):
        store.load_model(tiny_model)


def test_mismatched_vocab_and_damaged_config(tiny_model):
    lines = (tiny_model / "vocab.tsv").read_text().splitlines()
    (tiny_model / "vocab.tsv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(W2VError, match="damaged"):
        store.load_model(tiny_model)
    (tiny_model / "config.json").write_text("{not json")
    with pytest.raises(W2VError, match="not valid JSON"):
        store.load_model(tiny_model)


def test_overwrite_is_atomic_and_failed_save_leaves_old_model(tiny_model, monkeypatch):
    m = store.load_model(tiny_model)
    before = (tiny_model / "vectors.txt").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(m.vectors, "save_word2vec_format", boom)
    with pytest.raises(RuntimeError):
        store.save_model(tiny_model, m.vectors, m.config)
    assert (tiny_model / "vectors.txt").read_bytes() == before  # the old model is intact
    assert not [p for p in tiny_model.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_list_rename_delete(tiny_model):
    root = tiny_model.parent
    (root / "junk").mkdir()  # not a model: skipped
    infos = store.list_records(root)
    assert [i.path for i in infos] == [tiny_model]
    store.rename_model(tiny_model, "My model")
    assert store.load_model(tiny_model).name == "My model"
    with pytest.raises(W2VError):
        store.rename_model(tiny_model, "  ")
    with pytest.raises(W2VError):
        store.delete_model(root / "junk")
    store.delete_model(tiny_model)
    assert store.list_records(root) == []


def test_zip_round_trip_and_bad_zips(tiny_model, tmp_path):
    data = store.zip_model(tiny_model)
    dest = tmp_path / "imported"
    dest.mkdir()
    p = store.import_zip(data, dest)
    assert store.load_model(p).vectors.words == store.load_model(tiny_model).vectors.words
    with pytest.raises(W2VError, match="not a zip"):
        store.import_zip(b"hello", dest)
    with pytest.raises(W2VError, match="empty"):
        store.import_zip(b"", dest)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("m/config.json", "{}")
        z.writestr("m/model.pkl", pickle.dumps(1))
    with pytest.raises(W2VError, match="pickle"):
        store.import_zip(buf.getvalue(), dest)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil/config.json", "{}")
    with pytest.raises(W2VError, match="not a model folder"):
        store.import_zip(buf.getvalue(), dest)
    assert sorted(x.name for x in dest.iterdir()) == [p.name]


def test_import_text_vectors_and_export(tmp_path):
    src = tmp_path / "glove.6B.3d.txt"
    src.write_text("the 0.1 0.2 0.3\ncat 0.5 0.1 0.0\ndog 0.4 0.2 0.1\n")
    p = store.import_vectors(src, tmp_path / "models")
    m = store.load_model(p)
    assert m.imported and m.vectors.words == ["the", "cat", "dog"]
    assert m.vectors.most_similar("cat", topn=1)[0][0] == "dog"
    files = store.export_model(p, "projector", tmp_path / "proj")
    assert [f.name for f in files] == ["vectors.tsv", "metadata.tsv"]
    (out,) = store.export_model(p, "word2vec-binary", tmp_path / "v.bin")
    assert KeyedVectors.load_word2vec_format(str(out), binary=True).index_to_key == ["the", "cat", "dog"]
    with pytest.raises(W2VError, match="Unknown export format"):
        store.export_model(p, "xml", tmp_path / "x")


def test_scores_saved_and_listed(tiny_model):
    store.save_scores(tiny_model, {"wordsim353": 0.5})
    assert store.load_model(tiny_model).scores == {"wordsim353": 0.5}
    assert store.list_records(tiny_model.parent)[0].scores == {"wordsim353": 0.5}
    assert json.loads((tiny_model / "config.json").read_text())["format"] == store.FORMAT
