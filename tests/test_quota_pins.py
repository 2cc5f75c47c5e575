"""Issue 25: eviction never breaks work in progress (a queued run's upload, another tab's current model), and a run
that loses its file anyway says so without a server path."""

from __future__ import annotations

import functools
import threading

import numpy as np

from tests.conftest import make_texts
from w2v_core import store
from w2v_core.data.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.serve import quota
from w2v_core.serve.jobs import TrainingJob, run_to_end
from w2v_core.training import TrainConfig
from w2v_core.vectors import WordVectors

MC = ModelConfig(dim=8, window=2, min_count=1, sample=0)
TC = TrainConfig(epochs=1, threads=1)


def _blocker(tiny_corpus, release: threading.Event, root) -> TrainingJob:
    """A run holding the only training slot until ``release`` is set."""
    return TrainingJob(CorpusConfig(source="tiny"), MC, TC, name="blocker", root=root,
                       loader=lambda c: (release.wait(60), tiny_corpus)[1]).start()


def test_a_queued_runs_upload_survives_other_uploads(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    monkeypatch.setenv("W2V_QUOTA_UPLOADS_MB", "1")
    uploads, root = tmp_path / "uploads", tmp_path / "models"
    text = "\n".join(make_texts(300)) + "\n"  # ~0.1 MB
    mine = quota.save_upload(text.encode(), "mine.txt", uploads)
    release = threading.Event()
    blocker = _blocker(tiny_corpus, release, root)
    try:
        queued = TrainingJob(CorpusConfig(source=str(mine)), MC, TC, name="queued", root=root, uploads=uploads).start()
        for i in range(6):  # another tab's uploads fill the quota several times over
            quota.save_upload((text * 2 + f"tab two {i}\n").encode(), f"other{i}.txt", uploads)
            assert quota.usage("uploads", uploads).used <= 1024 * 1024
        assert mine.is_file()
    finally:
        release.set()
    assert blocker.join(120) and queued.join(120)
    assert queued.state().status == "done", queued.state().error
    assert str(mine.resolve()) not in quota.pinned()  # released when the runs ended
    quota.save_upload(b"x " * 500_000, "later.txt", uploads)  # takes nearly the whole quota
    assert not mine.exists()  # no longer in use: it may go now


def test_a_run_whose_file_was_removed_anyway_fails_without_a_server_path(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    uploads = tmp_path / "workspaces" / "0123abcd" / "uploads"
    mine = quota.save_upload(b"the cat eats fish\n" * 100, "mine.txt", uploads)
    release = threading.Event()
    blocker = _blocker(tiny_corpus, release, tmp_path / "models")
    queued = TrainingJob(CorpusConfig(source=str(mine)), MC, TC, root=tmp_path / "models", uploads=uploads).start()
    mine.unlink()  # by hand: nothing of ours does that to a pinned file
    release.set()
    assert blocker.join(120) and queued.join(120)
    s = queued.state()
    assert s.status == "failed" and "mine-" in s.error and "upload it again" in s.error
    assert str(tmp_path) not in s.error and "workspaces" not in s.error


def test_every_sessions_current_model_is_kept(tmp_path):
    root = tmp_path / "models"
    rng = np.random.default_rng(0)
    models = [store.save_model(root / f"m{i}", WordVectors([f"w{j}" for j in range(2000)],
                                                           rng.standard_normal((2000, 16)).astype(np.float32)),
                               {"name": f"m{i}"}) for i in range(3)]
    quota.lease("tab-one", models[0])  # the least recently used, but another tab's current model
    try:
        removed = quota.evict("models", root, limit=1)
        assert models[0] not in removed and models[0].is_dir() and len(removed) == 2
        with __import__("pytest").raises(quota.QuotaFull):
            quota.reserve("models", root, 10**6, limit=10**6)
    finally:
        quota.lease("tab-one", None)
    assert quota.evict("models", root, limit=1) == [models[0]]


def test_the_tiny_model_waits_in_the_queue_and_keeps_to_the_quota(tiny_corpus, tmp_path, monkeypatch):
    """Issue 25: Learn's "Train a tiny model" ran beside a busy slot, and six of them overflowed a 5 MB quota."""
    import time

    from w2v_core import learn
    from w2v_core.serve.jobs import QUEUE

    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "3")  # a tiny model takes about 1 MB
    root = tmp_path / "models"
    release = threading.Event()
    blocker = _blocker(tiny_corpus, release, tmp_path / "elsewhere")
    seen, box = [], {}
    queued = functools.partial(run_to_end, progress=lambda s: seen.append(s.status))  # as the Learn page runs it
    t = threading.Thread(target=lambda: box.update(path=learn.train_tiny_model(root, epochs=1, run=queued)),
                         daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while "pending" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "pending" in seen and not root.exists()  # waiting for the busy slot, nothing trained or written
    release.set()
    t.join(120)
    assert blocker.join(60) and box["path"].is_dir()
    paths = [box["path"]] + [learn.train_tiny_model(root, epochs=1, run=run_to_end) for _ in range(3)]
    assert quota.usage("models", root).used <= 3 * 1024 * 1024 and paths[-1].is_dir()
    quota.lease("tab", paths[-1])
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "2")
    before = sorted(root.iterdir())
    try:  # what could make room is another tab's current model: refused, with a message, nothing saved
        with __import__("pytest").raises(W2VError, match="needs .* MB"):
            learn.train_tiny_model(root, epochs=1, run=run_to_end)
    finally:
        quota.lease("tab", None)
    assert sorted(root.iterdir()) == before  # refused: nothing saved, nothing removed for it


def test_one_visitor_cannot_fill_the_queue(tiny_corpus, tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("W2V_MODE", "shared")
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    release = threading.Event()
    mine = [_blocker(tiny_corpus, release, tmp_path / "ws1") for _ in range(2)]
    try:
        with pytest.raises(W2VError, match="already have 2 training runs"):
            _blocker(tiny_corpus, release, tmp_path / "ws1")
        other = _blocker(tiny_corpus, release, tmp_path / "ws2")  # another visitor still gets in line
    finally:
        release.set()
    assert all(j.join(120) for j in mine + [other])
    _blocker(tiny_corpus, release, tmp_path / "ws1").join(120)  # once they ended, the visitor may start again
