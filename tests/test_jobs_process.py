"""A training job in a process of its own (the app's default, issue 24): its progress, live map, Stop, errors and
death reach the server's job as they did from a thread, and the model it saves is complete or absent."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from w2v_core import store
from w2v_core.data.corpus import CorpusConfig
from w2v_core.models import ModelConfig
from w2v_core.serve import jobs, trainproc
from w2v_core.serve.jobs import TrainingJob
from w2v_core.snapshots import load_snapshots
from w2v_core.training import TrainConfig

from conftest import make_texts

SMALL = ModelConfig(dim=12, window=3, min_count=1, sample=0)
START_S = 180  # a fresh process imports torch: slow on a busy machine


@pytest.fixture
def corpus_file(tmp_path) -> Path:
    path = tmp_path / "animals.txt"
    path.write_text("\n".join(make_texts(300)), encoding="utf-8")
    return path


def _wait_for(job: TrainingJob, what, timeout: float = START_S) -> None:
    deadline = time.monotonic() + timeout
    while not what(job.state()):
        assert job.state().active, job.state().error
        assert time.monotonic() < deadline, f"waited {timeout} s; the job says {job.state().message!r}"
        time.sleep(0.05)


def _job(corpus_file, model_config=SMALL, train_config=TrainConfig(epochs=1000, threads=1, report_every=0.0),
         **kw) -> TrainingJob:
    """A job that trains in a process of its own (the tests' default is the thread, see conftest.py)."""
    return TrainingJob(CorpusConfig(source=str(corpus_file)), model_config, train_config, process=True, **kw)


def _model_folders(root: Path) -> list[str]:
    return sorted(os.listdir(root)) if root.is_dir() else []


def test_progress_and_the_live_map_come_from_the_training_process(corpus_file):
    job = _job(corpus_file, SMALL, TrainConfig(epochs=3, threads=1, seed=3, report_every=0.0)).start()
    assert job.process
    _wait_for(job, lambda s: s.batch_losses)
    pid = job.worker_pid
    assert pid is not None and pid != os.getpid()  # the run trains in another process
    assert job.join(START_S)
    s = job.state()
    assert s.status == "done", s.error
    assert job.worker_pid is None  # the process has ended
    assert s.fraction == 1.0 and [e["epoch"] for e in s.epoch_losses] == [1, 2, 3]
    assert s.batch_losses and all(b["loss"] > 0 for b in s.batch_losses)
    assert s.words_per_sec > 0 and s.info["vocab_size"] > 20 and s.corpus["tokens"] > 10_000
    assert s.summary["threads"] == 1 and s.summary["final_loss"] < s.summary["untrained_loss"]
    words, vectors, fraction = job.recorder.latest()  # what the Train page's live map draws
    assert "cat" in words and vectors.shape == (len(words), 12) and fraction == 1.0
    m = store.load_model(s.path)  # saved by the child, in the folder the server chose
    assert m.config["summary"]["epochs"] == 3 and len(m.history["epoch"]) == 3 and "cat" in m.vectors
    replay = load_snapshots(s.path)  # the Map's "watch it learn"
    assert replay is not None and len(replay) >= 2 and replay.words[:len(words)] == words


def test_the_process_uses_as_many_threads_as_the_command_line(corpus_file):
    from w2v_core.training import default_threads

    job = _job(corpus_file, SMALL, TrainConfig(epochs=1, report_every=0.0)).start()
    assert job.join(START_S)
    s = job.state()
    assert s.status == "done", s.error
    assert s.summary["threads"] == s.info["threads"] == default_threads()


def test_stop_reaches_the_process_and_keeps_what_was_learnt(corpus_file):
    job = _job(corpus_file, name="stopped-run").start()
    _wait_for(job, lambda s: s.batch_losses)
    job.stop()
    assert job.join(120)
    s = job.state()
    assert s.status == "stopped", s.error
    assert 0 < s.fraction < 1
    m = store.load_model(s.path)
    assert m.name == "stopped-run-stopped" and m.config["summary"]["stopped"] is True


def test_a_killed_process_fails_the_job_with_one_sentence_and_leaves_no_model(corpus_file):
    root = store.models_dir()
    job = _job(corpus_file).start()
    _wait_for(job, lambda s: s.batch_losses)
    os.kill(job.worker_pid, signal.SIGKILL)
    assert job.join(60)
    s = job.state()
    assert s.status == "failed" and s.path is None
    assert "training process was killed (SIGKILL" in s.error and "nothing was saved" in s.error
    assert "\n" not in s.error and "Traceback" not in s.error
    assert _model_folders(root) == [] and store.list_records() == []
    assert jobs.QUEUE.running() == 0  # its slot is free again


def test_a_process_killed_while_saving_leaves_no_half_model(corpus_file, monkeypatch):
    """Killed between writing its folder aside and renaming it in: the server removes what it left."""
    root = store.models_dir()
    killed = {}
    real_handle = jobs.ChildRelay.handle

    def handle(self, head, payload):
        if head.get("kind") == "trained":
            real_handle(self, head, payload)  # the server names the folder and says "save"
            pid = self.child.proc.pid
            deadline = time.monotonic() + 60
            while not any(n.startswith(".") and f".{pid}-" in n for n in _model_folders(root)):  # it has begun
                assert time.monotonic() < deadline
                time.sleep(0.001)
            os.kill(pid, signal.SIGKILL)
            killed["pid"] = pid
            return
        real_handle(self, head, payload)

    monkeypatch.setattr(jobs.ChildRelay, "handle", handle)
    big = ModelConfig(dim=300, window=3, min_count=1, sample=0)  # a model that takes a moment to write
    job = _job(corpus_file, big, TrainConfig(epochs=1, threads=1)).start()
    assert job.join(START_S)
    s = job.state()
    assert killed and s.path is None and s.status == "failed"
    assert "was killed" in s.error and "nothing was saved" in s.error
    assert _model_folders(root) == []  # neither the half-written folder nor a model


def test_an_error_in_the_process_is_one_sentence(tmp_path):
    job = _job(tmp_path / "missing.txt", SMALL, TrainConfig(epochs=1)).start()
    assert job.process and job.join(START_S)
    s = job.state()
    assert s.status == "failed" and "not found" in s.error and "\n" not in s.error


def test_a_blow_up_in_the_process_is_rolled_back_on_the_chart(corpus_file):
    job = _job(corpus_file, ModelConfig(dim=16, window=3, min_count=1, sample=0),
               TrainConfig(epochs=3, threads=1, lr=0.2, update="sum", batch_size=16, report_every=0.0)).start()
    assert job.join(START_S)
    s = job.state()
    assert s.status == "done", s.error
    assert s.retries and "starting it again at learning rate" in s.retries[0]
    assert all(b["loss"] < 10 for b in s.batch_losses)  # the blown-up points left the chart
    assert len(s.epoch_losses) == 3


def test_jobs_wait_in_line_while_another_trains_in_its_process(corpus_file, monkeypatch):
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    first = _job(corpus_file, name="first").start()
    second = _job(corpus_file, SMALL, TrainConfig(epochs=1, threads=1), name="second").start()
    _wait_for(first, lambda s: s.batch_losses)
    assert second.state().status == "pending" and second.queue_position == 1 and second.worker_pid is None
    first.stop()
    assert first.join(120) and second.join(START_S)
    assert first.state().status == "stopped" and second.state().status == "done", second.state().error


def test_without_a_process_the_job_trains_in_its_thread(corpus_file, monkeypatch):
    def no_process(spec):
        raise OSError("no more processes")

    monkeypatch.setattr(trainproc.Child, "start", staticmethod(no_process))
    job = _job(corpus_file, SMALL, TrainConfig(epochs=1, threads=1)).start()
    assert job.join(START_S)
    s = job.state()
    assert s.status == "done", s.error
    assert not job.process and store.load_model(s.path).config["summary"]["epochs"] == 1


def test_the_app_trains_in_a_process_unless_the_server_says_otherwise(corpus_file, tiny_corpus, monkeypatch):
    monkeypatch.delenv("W2V_TRAIN_PROCESS")  # as a server starts
    assert TrainingJob(CorpusConfig(source=str(corpus_file))).process
    assert not TrainingJob(corpus=tiny_corpus).process  # a corpus loaded here cannot go to another process
    monkeypatch.setenv("W2V_TRAIN_PROCESS", "0")
    assert not TrainingJob(CorpusConfig(source=str(corpus_file))).process


def test_a_run_started_from_a_lowered_page_run_still_trains_at_the_servers_priority(corpus_file):
    """A page run is lowered while another run trains (ui.shell.yield_to_training); a run it starts is not."""
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return
    base = os.getpriority(os.PRIO_PROCESS, 0)
    box = {}

    def page_run():
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), base + 5)
        box["job"] = _job(corpus_file).start()

    t = threading.Thread(target=page_run)
    t.start()
    t.join()
    job = box["job"]
    try:
        _wait_for(job, lambda s: s.batch_losses)
        assert os.getpriority(os.PRIO_PROCESS, job.worker_pid) == base
    finally:
        job.stop()
        assert job.join(120)
