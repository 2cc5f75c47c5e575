"""The server-wide cap on training runs: extra jobs wait in a first-come-first-served queue, know their place, and
leave it when stopped; the registry (random ids, reattach) works the same for queued jobs."""

from __future__ import annotations

import threading
import time

import pytest

from w2v_core.data.corpus import CorpusConfig
from w2v_core.models import ModelConfig
from w2v_core.serve import jobs
from w2v_core.serve.jobs import TrainingJob
from w2v_core.training import TrainConfig

SMALL = ModelConfig(dim=8, window=2, min_count=1, sample=0)


def _until(cond, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Loaders:
    """Corpus loaders that record the order runs start in and how many load at once; 'a' waits for a gate."""

    def __init__(self, corpus):
        self.corpus, self.started, self.gate = corpus, [], threading.Event()
        self.active = self.most_at_once = 0
        self.lock = threading.Lock()

    def __call__(self, config: CorpusConfig):
        with self.lock:
            self.started.append(config.source)
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        try:
            if config.source == "a":
                assert self.gate.wait(120)
            return self.corpus
        finally:
            with self.lock:
                self.active -= 1


def _job(name: str, loader: Loaders, tmp_path) -> TrainingJob:
    return TrainingJob(CorpusConfig(source=name), SMALL, TrainConfig(epochs=1, threads=1), name=name,
                       root=tmp_path / "models", loader=loader)


@pytest.fixture
def one_slot(monkeypatch):
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    _until(lambda: jobs.QUEUE.running() == 0 and jobs.QUEUE.queued() == 0, "runs of other tests to end")


def test_jobs_beyond_the_cap_wait_in_order_and_a_stopped_one_leaves_the_queue(one_slot, tiny_corpus, tmp_path):
    load = Loaders(tiny_corpus)
    a = _job("a", load, tmp_path).start()
    _until(lambda: load.started == ["a"], "a to start")
    b, c, d = (_job(n, load, tmp_path).start() for n in "bcd")
    _until(lambda: [j.queue_position for j in (b, c, d)] == [1, 2, 3], "b, c, d to queue")
    assert jobs.QUEUE.queued() == 3 and jobs.QUEUE.running() == 1
    s = c.state()
    assert s.status == "pending" and "1 runs ahead" in s.message
    assert b.state().message == "waiting for a free training slot (next in line)"
    c.stop()
    assert c.join(30)
    s = c.state()
    assert s.status == "stopped" and s.path is None and s.queue_position is None
    _until(lambda: [b.queue_position, d.queue_position] == [1, 2], "d to move up")
    load.gate.set()
    for j in (a, b, d):
        assert j.join(120)
        assert j.state().status == "done", j.state().error
    assert load.started == ["a", "b", "d"] and load.most_at_once == 1
    assert jobs.QUEUE.running() == 0 and jobs.QUEUE.queued() == 0


def test_a_queued_job_is_registered_and_found_like_any_other(one_slot, tiny_corpus, tmp_path):
    load = Loaders(tiny_corpus)
    a = _job("a", load, tmp_path).start()
    _until(lambda: load.started == ["a"], "a to start")
    b = _job("b", load, tmp_path).start()
    jid = jobs.REGISTRY.register(b)
    _until(lambda: b.queue_position == 1, "b to queue")
    assert jobs.REGISTRY.find(jid) is b and jobs.REGISTRY.find(jid).state().active
    load.gate.set()
    assert a.join(120) and b.join(120)
    assert jobs.REGISTRY.find(jid).state().status == "done"
    jobs.REGISTRY.forget(jid)


def test_raising_the_cap_starts_a_waiting_job(one_slot, tiny_corpus, tmp_path, monkeypatch):
    load = Loaders(tiny_corpus)
    a = _job("a", load, tmp_path).start()
    _until(lambda: load.started == ["a"], "a to start")
    b = _job("b", load, tmp_path).start()
    _until(lambda: b.queue_position == 1, "b to queue")
    monkeypatch.setenv("W2V_MAX_JOBS", "2")
    _until(lambda: "b" in load.started, "b to start beside a")
    assert a.state().active
    load.gate.set()
    assert a.join(120) and b.join(120)


def test_an_unwritable_models_folder_fails_before_queueing_or_loading(tiny_corpus, tmp_path):
    (tmp_path / "file").write_text("x")
    load = Loaders(tiny_corpus)
    job = TrainingJob(CorpusConfig(source="b"), SMALL, TrainConfig(epochs=1, threads=1), root=tmp_path / "file" / "m",
                      loader=load).start()
    assert job.join(30)
    s = job.state()
    assert s.status == "failed" and "not a folder" in s.error and load.started == []


def test_a_bad_cap_setting_fails_the_job_with_its_name(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("W2V_MAX_JOBS", "lots")
    job = _job("b", Loaders(tiny_corpus), tmp_path).start()
    assert job.join(30)
    s = job.state()
    assert s.status == "failed" and "W2V_MAX_JOBS" in s.error
