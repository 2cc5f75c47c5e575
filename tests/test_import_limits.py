"""Issue 25: an imported model takes the disk its data needs (not what its files were padded to), within the models
quota, checked before it is written; its memory is bounded by a small multiple of the file; replays are capped."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from w2v_core import store, vectors
from w2v_core.errors import W2VError
from w2v_core.serve import quota
from w2v_core.snapshots import load_snapshots
from w2v_core.vectors import WordVectors

MB = 1024 * 1024


def _model(root: Path, name: str, rows: int = 200, dim: int = 16) -> Path:
    rng = np.random.default_rng(rows)
    wv = WordVectors([f"w{i}" for i in range(rows)], rng.standard_normal((rows, dim)).astype(np.float32))
    return store.save_model(root / name, wv, {"name": name})


def _zip(model: Path, replace: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(model.iterdir()):
            z.writestr(f"m/{f.name}", (replace or {}).get(f.name, f.read_bytes()))
        for name, data in (replace or {}).items():
            if not (model / name).exists():
                z.writestr(f"m/{name}", data)
    return buf.getvalue()


def _padded(path: Path, pad: int) -> bytes:
    return b"".join(line.rstrip(b"\n") + b" " * pad + b"\n" for line in path.read_bytes().splitlines(True))


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir())


def test_a_zip_with_padded_lines_is_stored_compactly_within_the_quota(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "5")
    src = _model(tmp_path / "src", "src")
    bomb = _zip(src, {store.VECTORS_TXT: _padded(src / store.VECTORS_TXT, 100_000),  # 20 MB of spaces
                      store.VOCAB: _padded(src / store.VOCAB, 20_000)})  # int(" 5   ") parses: 4 MB more
    assert len(bomb) < 500_000
    root = tmp_path / "ws" / "models"
    first = quota.import_zip(bomb, root)[0]
    second = quota.import_zip(bomb, root)[0]
    assert first != second and _bytes(first) < 2 * _bytes(src)  # the padding is not kept
    assert quota.usage("models", root).used <= 5 * MB
    assert store.load_model(second).vectors.words == store.load_model(src).vectors.words


def test_an_import_that_cannot_fit_is_refused_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "1")
    root = tmp_path / "models"
    current = _model(root, "current", rows=2000, dim=20)  # ~0.7 MB, in use: may not be evicted
    big = _model(tmp_path / "src", "big", rows=3000, dim=20)
    with pytest.raises(quota.QuotaFull, match="in use"):
        quota.import_zip(_zip(big), root, keep=[current])
    with pytest.raises(quota.QuotaFull, match="in use"):
        quota.import_vectors(big / store.VECTORS_TXT, root, keep=[current])
    assert sorted(p.name for p in root.iterdir()) == ["current"]  # nothing written, nothing evicted
    small = _model(tmp_path / "src", "small", rows=300, dim=20)
    quota.import_vectors(small / store.VECTORS_TXT, root)  # fits once the unused model goes
    assert quota.usage("models", root).used <= 1 * MB


def test_extra_tables_in_an_imported_weights_file_are_not_kept(tmp_path):
    src = _model(tmp_path / "src", "src")
    t = store.read_tensors(src)
    f = tmp_path / "w.safetensors"
    save_file({**t, "junk": np.zeros((2000, 1000), np.float32)}, str(f))  # 8 MB of zeros, compresses to ~8 kB
    p = store.import_zip(_zip(src, {store.WEIGHTS: f.read_bytes()}), tmp_path / "models")
    assert _bytes(p) < 2 * _bytes(src)


def _snapshots_file(K: int, N: int, D: int) -> bytes:
    from safetensors.numpy import save

    meta = {"format": "w2v-explorer-snapshots", "version": 1, "words": [f"w{i}" for i in range(N)], "epochs": 1}
    return save({"vectors": np.ones((K, N, D), np.float32), "fraction": np.linspace(0, 1, K),
                 "epoch": np.ones(K, np.int64), "loss": np.ones(K), "epoch_end": np.zeros(K, np.uint8)},
                metadata={"snapshots": json.dumps(meta)})


def test_an_oversized_snapshots_file_is_refused_from_its_header(tmp_path):
    src = _model(tmp_path / "src", "src")
    huge = _snapshots_file(40, 1000, 250)  # 40 MB of constant floats: a few hundred kB zipped
    with pytest.raises(W2VError, match="too large to replay"):
        store.import_zip(_zip(src, {store.SNAPSHOTS: huge}), tmp_path / "models")
    (src / store.SNAPSHOTS).write_bytes(huge)  # placed by hand: the replay still refuses to load it
    with pytest.raises(W2VError, match="too large to replay") as e:
        load_snapshots(src)
    assert str(tmp_path) not in str(e.value)
    (src / store.SNAPSHOTS).write_bytes(_snapshots_file(5, 50, 16))
    assert len(load_snapshots(src)) == 5


def test_importing_a_vectors_file_takes_memory_near_the_final_table(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("".join(f"w{i} 0.1 0.2\n" for i in range(300_000)))  # ~4 MB of short rows
    tracemalloc.start()
    try:
        wv = WordVectors.load_word2vec_format(f)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(wv) == 300_000
    assert peak < 1.5 * held  # at most a little more than the result (words, index, one float32 table) ...
    assert peak < 12 * f.stat().st_size  # ... for a file of such short rows (it was ~28x the file)


def test_a_vectors_file_over_the_size_cap_is_refused_before_allocating(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "MAX_IMPORT_CELLS", 1000)
    f = tmp_path / "v.txt"
    f.write_text("".join(f"w{i} 0.1 0.2 0.3 0.4\n" for i in range(300)))
    with pytest.raises(W2VError, match="keep the first 250 words"):
        WordVectors.load_word2vec_format(f)
    assert len(WordVectors.load_word2vec_format(f, limit=250)) == 250


@pytest.mark.parametrize("content,msg", [
    ("a 3e38 0.1\nb 0.2 0.3\n", "as large as 3e\\+38"),
    ("a 1e20 0.1\nb 0.2 0.3\n", "as large as 1e\\+20"),
    ("100 2\na 0.1 0.2\nb 0.2 0.3\nc 0.3 0.1\n", "says it holds 100 vectors but has 3"),
])
def test_absurd_values_and_a_lying_header_are_refused(tmp_path, content, msg):
    f = tmp_path / "v.txt"
    f.write_text(content)
    with pytest.raises(W2VError, match=msg):
        store.import_vectors(f, tmp_path / "models")
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []
