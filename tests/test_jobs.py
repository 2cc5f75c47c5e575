"""The background training job, without Streamlit: progress is recorded, Stop keeps a model, failures explain."""

from __future__ import annotations

import time

import pytest

from w2v_core import store
from w2v_core.data.corpus import CorpusConfig
from w2v_core.models import ModelConfig
from w2v_core.serve.jobs import TrainingJob, default_name
from w2v_core.training import TrainConfig

SMALL = ModelConfig(dim=12, window=3, min_count=1, sample=0)


def _wait(job: TrainingJob, timeout: float = 120) -> None:
    assert job.join(timeout), "the training thread did not finish"


def test_job_records_progress_and_saves_a_model(tiny_corpus):
    job = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=3, threads=1, seed=3, report_every=0.0),
                      corpus=tiny_corpus).start()
    _wait(job)
    s = job.state()
    assert s.status == "done", s.error
    assert s.fraction == 1.0 and s.epochs == 3
    assert [e["epoch"] for e in s.epoch_losses] == [1, 2, 3]
    assert s.batch_losses and all(b["loss"] > 0 for b in s.batch_losses)
    xs = [b["x"] for b in s.batch_losses]
    assert xs == sorted(xs) and 0 < xs[-1] <= 3  # x is in epochs, for the chart
    assert s.words_per_sec > 0 and s.info["vocab_size"] == len(tiny_corpus.words)
    assert s.corpus["tokens"] == tiny_corpus.n_tokens
    # the model is saved under models_dir(), loads, and says how it was made
    assert s.path is not None and store.models_dir() in __import__("pathlib").Path(s.path).parents
    m = store.load_model(s.path)
    assert m.config["model"]["dim"] == 12 and m.config["summary"]["stopped"] is False
    assert len(m.history["epoch"]) == 3
    assert "cat" in m.vectors
    assert m.name == default_name("tiny", SMALL, 3) or m.name.startswith("skipgram")


def test_stop_keeps_what_was_learnt(tiny_corpus):
    job = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1000, threads=1, report_every=0.0),
                      corpus=tiny_corpus, name="stopped-run").start()
    deadline = time.monotonic() + 120
    while not job.state().batch_losses and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.state().status == "running"
    job.stop()
    _wait(job)
    s = job.state()
    assert s.status == "stopped", s.error
    assert s.fraction < 1.0
    assert s.path is not None
    m = store.load_model(s.path)
    assert m.config["summary"]["stopped"] is True
    assert m.name == "stopped-run-stopped"
    assert len(m.vectors) == len(tiny_corpus.words)


def test_stop_before_training_saves_nothing(tiny_corpus):
    def slow_loader(config):
        time.sleep(0.3)
        return tiny_corpus

    job = TrainingJob(CorpusConfig(source="tiny"), SMALL, TrainConfig(epochs=1, threads=1), loader=slow_loader)
    job.start()
    job.stop()
    _wait(job)
    s = job.state()
    assert s.status == "stopped" and s.path is None
    assert store.list_records() == []


def test_failure_is_reported_with_a_message(tmp_path):
    job = TrainingJob(CorpusConfig(source=str(tmp_path / "missing.txt")), SMALL, TrainConfig(epochs=1)).start()
    _wait(job)
    s = job.state()
    assert s.status == "failed"
    assert "not found" in s.error
    assert s.path is None


def test_settings_that_leave_no_vocabulary_fail_clearly(tiny_corpus):
    job = TrainingJob(model_config=ModelConfig(dim=8, min_count=10**9), train_config=TrainConfig(epochs=1, threads=1),
                      corpus=tiny_corpus).start()
    _wait(job)
    s = job.state()
    assert s.status == "failed"
    assert "min_count" in s.error


def test_a_run_that_keeps_blowing_up_fails_with_one_sentence_and_saves_nothing(tiny_corpus):
    job = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=3, threads=1, lr=10.0, update="sum"),
                      corpus=tiny_corpus).start()
    _wait(job)
    s = job.state()
    assert s.status == "failed" and s.path is None
    assert "diverged" in s.error and "Lower the learning rate" in s.error and "\n" not in s.error
    assert len(s.retries) == 3  # it tried three lower rates first


def test_a_blow_up_that_a_lower_rate_cures_leaves_a_clean_chart(tiny_corpus):
    job = TrainingJob(model_config=ModelConfig(dim=16, window=3, min_count=1, sample=0),
                      train_config=TrainConfig(epochs=3, threads=1, lr=0.2, update="sum", batch_size=16,
                                               report_every=0.0), corpus=tiny_corpus).start()
    _wait(job)
    s = job.state()
    assert s.status == "done", s.error
    assert len(s.retries) == 1 and "learning rate 0.1" in s.retries[0]
    assert all(b["loss"] < 10 for b in s.batch_losses)  # the blown-up points left the chart
    assert s.summary["final_loss"] < s.summary["untrained_loss"]


def test_unexpected_errors_do_not_hang_the_job(tiny_corpus):
    def broken_loader(config):
        raise RuntimeError("disk on fire")

    job = TrainingJob(CorpusConfig(source="x"), SMALL, TrainConfig(epochs=1), loader=broken_loader).start()
    _wait(job)
    s = job.state()
    assert s.status == "failed" and "disk on fire" in s.error


def test_two_jobs_keep_their_own_progress(tiny_corpus):
    a = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1, threads=1, report_every=0.0),
                    corpus=tiny_corpus, name="a").start()
    b = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=2, threads=1, report_every=0.0),
                    corpus=tiny_corpus, name="b").start()
    _wait(a)
    _wait(b)
    sa, sb = a.state(), b.state()
    assert len(sa.epoch_losses) == 1 and len(sb.epoch_losses) == 2
    assert sa.path != sb.path


def test_a_job_starts_once(tiny_corpus):
    job = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1, threads=1), corpus=tiny_corpus).start()
    with pytest.raises(RuntimeError):
        job.start()
    _wait(job)


def test_registered_jobs_are_found_only_by_their_random_id(tiny_corpus):
    from w2v_core.serve import jobs

    a = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1, threads=1), corpus=tiny_corpus)
    b = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1, threads=1), corpus=tiny_corpus)
    ia, ib = jobs.REGISTRY.register(a), jobs.REGISTRY.register(b)
    assert ia != ib and len(ia) >= 20 and a.job_id == ia
    assert jobs.REGISTRY.find(ia) is a and jobs.REGISTRY.find(ib) is b
    for wrong in (None, "", ia[:-1], ia + "x", "job"):
        assert jobs.REGISTRY.find(wrong) is None
    jobs.REGISTRY.forget(ia)
    assert jobs.REGISTRY.find(ia) is None and jobs.REGISTRY.find(ib) is b
    jobs.REGISTRY.forget(ib)


def test_finished_jobs_leave_the_registry_running_ones_stay(tiny_corpus, monkeypatch):
    import threading

    from w2v_core.serve import jobs

    gate = threading.Event()

    def held_loader(config):
        gate.wait(120)
        return tiny_corpus

    running = TrainingJob(CorpusConfig(source="tiny"), SMALL, TrainConfig(epochs=1, threads=1),
                          loader=held_loader).start()
    done = []
    for i in range(3):  # one after the other: distinct, ordered end times
        done.append(TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=1, threads=1),
                                corpus=tiny_corpus, name=f"d{i}").start())
        _wait(done[-1])
        time.sleep(0.01)
    ids = [jobs.REGISTRY.register(j) for j in [running, *done]]
    monkeypatch.setattr(jobs, "MAX_FINISHED", 2)  # only the two newest finished jobs are kept
    assert jobs.REGISTRY.find(ids[1]) is None
    assert [jobs.REGISTRY.find(i) for i in ids[2:]] == done[1:]
    monkeypatch.setattr(jobs, "KEEP_FINISHED_S", 0.0)  # and none once they are old enough
    time.sleep(0.01)
    assert all(jobs.REGISTRY.find(i) is None for i in ids[1:])
    assert jobs.REGISTRY.find(ids[0]) is running  # still loading: never dropped
    gate.set()
    _wait(running)
    time.sleep(0.01)
    s = running.state()
    assert jobs.REGISTRY.find(ids[0]) is None, (s.status, s.finished, time.time())


def test_a_job_keeps_snapshots_of_the_run_beside_its_model(tiny_corpus, tmp_path):
    """Watch it learn: the job records the top words' vectors while training and saves them in the model folder,
    which stays a model folder (zipped with it, imported back, deleted whole)."""
    from w2v_core.snapshots import load_snapshots

    job = TrainingJob(model_config=SMALL, train_config=TrainConfig(epochs=3, threads=1, seed=3, report_every=0.0),
                      corpus=tiny_corpus).start()
    assert job.recorder.snapshots() is None  # nothing before the run begins
    _wait(job)
    s = job.state()
    assert s.status == "done", s.error
    snaps = load_snapshots(s.path)
    assert snaps is not None and len(snaps) >= 4  # the start, each epoch's end, points in between
    assert snaps.fraction[0] == 0 and snaps.fraction[-1] == 1.0 and list(snaps.fraction) == sorted(snaps.fraction)
    assert set(snaps.words) == set(tiny_corpus.words)  # a tiny vocabulary: every word is kept
    final = store.load_model(s.path).vectors
    rows = [final.index[w] for w in snaps.words]
    assert abs(snaps.vectors[-1] - final.vectors[rows]).max() < 1e-6  # the last frame is the saved model
    words, newest, fraction = job.recorder.latest()  # what a live view reads, without copying every frame
    assert words == snaps.words and fraction == 1.0 and (newest == snaps.vectors[-1]).all()
    assert store.is_model_folder(s.path)

    dest = tmp_path / "imported"
    dest.mkdir()
    back = store.import_zip(store.zip_model(s.path), dest)
    assert load_snapshots(back).vectors.shape == snaps.vectors.shape
    store.delete_model(s.path)
    assert not __import__("pathlib").Path(s.path).exists()


def test_a_model_of_an_upload_is_named_after_the_file_without_its_digest():
    """Names carried the upload's stored digest: skipgram-nc-wt2-test_valid-f362b12242779856-... (issue 24)."""
    assert default_name("/up/wt2-test_valid-f362b12242779856.txt", SMALL, 5).startswith("skipgram-wt2-test_valid-d")
    assert default_name("sample", SMALL, 5).startswith("skipgram-sample-d")
