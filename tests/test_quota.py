"""Disk quotas: least recently used things we wrote go first, and nothing we did not write is counted or removed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from w2v_core import store
from w2v_core.data.corpus import CorpusConfig
from w2v_core.models import ModelConfig
from w2v_core.serve import quota
from w2v_core.serve.jobs import TrainingJob
from w2v_core.training import TrainConfig
from w2v_core.vectors import WordVectors


def _model(root: Path, name: str, rows: int = 50, used_days_ago: float = 0) -> Path:
    rng = np.random.default_rng(len(name))
    wv = WordVectors([f"w{i}" for i in range(rows)], rng.standard_normal((rows, 8)).astype(np.float32))
    p = store.save_model(root / name, wv, {"name": name})
    t = time.time() - used_days_ago * 86400
    os.utime(p, (t, t))
    return p


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_models_evicted_least_recently_used_first_and_only_ours(tmp_path):
    root = tmp_path / "models"
    old, mid, new = (_model(root, n, used_days_ago=d) for n, d in (("old", 3), ("mid", 2), ("new", 1)))
    (root / "notes").mkdir()
    (root / "notes" / "big.bin").write_bytes(b"x" * 500_000)  # not a model: neither counted nor removed
    mine = _model(root, "with-my-file", used_days_ago=10)
    (mine / "my-notes.txt").write_text("keep me")  # a model folder holding something of the user's
    foreign_before = _files(root / "notes") | {"mine": (mine / "my-notes.txt").read_bytes()}
    size = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in (old, mid, new)}

    u = quota.usage("models", root, limit=10**9)
    assert (u.used, u.items, u.over) == (sum(size.values()), 3, False)
    assert u.describe().endswith("(3 models)")
    quota.mark_used(old)  # opened just now: no longer the least recently used
    removed = quota.evict("models", root, limit=size["old"] + size["new"] + 1)
    assert removed == [mid]
    assert quota.evict("models", root, limit=1, keep=[new]) == [old]
    assert sorted(p.name for p in root.iterdir()) == ["new", "notes", "with-my-file"]
    assert _files(root / "notes") | {"mine": (mine / "my-notes.txt").read_bytes()} == foreign_before
    assert quota.usage("models", root, limit=1).over and quota.evict("models", root, limit=0) == []  # 0: no limit


def test_uploads_and_cache_entries_are_recognised_by_our_names(tmp_path):
    up = tmp_path / "uploads"
    up.mkdir()
    data = [b"a" * 999 + bytes([65 + i]) for i in range(3)]
    ours = [up / f"notes-{hashlib.sha256(d).hexdigest()[:16]}.txt" for d in data]  # as save_upload names them
    for i, p in enumerate(ours):
        p.write_bytes(data[i])
        os.utime(p, (time.time() - 100 + i, time.time() - 100 + i))
    # a hand-placed file whose name merely looks like an upload's (issue 25: it was evicted) is not ours either
    for name in ("thesis.txt", "notes-xyz.txt", "notes-0123456789abcdef.txt.part", "notes-0123456789abcdef.txt"):
        (up / name).write_bytes(b"b" * 5000)
        os.utime(up / name, (time.time() - 1000,) * 2)
    mtime_ns = ours[0].stat().st_mtime_ns
    quota.mark_used(ours[0])
    assert ours[0].stat().st_mtime_ns == mtime_ns  # part of the corpus-cache key: unchanged
    assert quota.usage("uploads", up, limit=10**6).used == 3000
    assert quota.evict("uploads", up, limit=1500) == ours[1:]
    assert sorted(p.name for p in up.iterdir()) == sorted([ours[0].name, "thesis.txt", "notes-xyz.txt",
                                                           "notes-0123456789abcdef.txt.part",
                                                           "notes-0123456789abcdef.txt"])

    cache = tmp_path / "cache"
    entries = []
    for i in range(2):
        e = cache / f"{i:032x}"
        e.mkdir(parents=True)
        (e / "ids.npy").write_bytes(b"0" * 2000)
        (e / "meta.json").write_text(json.dumps({"n_tokens": 1}))
        os.utime(e, (time.time() - 100 + i,) * 2)
        entries.append(e)
    odd = cache / ("f" * 32)  # a cache-like name holding a file the cache never writes
    odd.mkdir()
    (odd / "meta.json").write_text("{}")
    (odd / "secrets.txt").write_text("keep")
    (cache / "uploads").mkdir()
    assert quota.usage("cache", cache, limit=10**6).items == 2
    assert quota.evict("cache", cache, limit=3000) == [entries[0]]
    assert (odd / "secrets.txt").read_text() == "keep" and entries[1].is_dir() and (cache / "uploads").is_dir()


def test_a_finished_run_keeps_the_models_folder_within_its_quota(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "1")
    root = tmp_path / "models"
    old = [_model(root, f"old{i}", rows=8000, used_days_ago=5 - i) for i in range(2)]  # ~0.95 MB each
    (root / "keep-me").mkdir()
    (root / "keep-me" / "data.bin").write_bytes(b"x" * 2_000_000)
    job = TrainingJob(CorpusConfig(source="tiny"), ModelConfig(dim=8, window=2, min_count=1, sample=0),
                      TrainConfig(epochs=1, threads=1), name="fresh", root=root, loader=lambda c: tiny_corpus).start()
    assert job.join(120)
    s = job.state()
    assert s.status == "done", s.error
    assert s.evicted == [str(old[0])]  # the least recently used went; the new model never does
    assert sorted(p.name for p in root.iterdir()) == ["fresh", "keep-me", "old1"]
    assert (root / "keep-me" / "data.bin").stat().st_size == 2_000_000
    assert quota.usage("models", root).used <= 1024 * 1024
