"""Watch it learn: snapshots taken during a real training run, aligned, projected into one frame, saved and loaded."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from w2v_core.data.corpus import CorpusConfig, from_texts
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.projection import project
from w2v_core.snapshots import (SNAPSHOTS_FILE, SnapshotRecorder, align, frame_coords, frame_neighbours,
                                load_snapshots, save_snapshots)
from w2v_core.store import load_model
from w2v_core.training import Progress, TrainConfig, Trainer
from w2v_core.workers import Tuning

SMALL = dict(dim=16, window=3, min_count=1, sample=0)


def _progress(fraction, epoch=1, loss=1.0):
    return Progress(epoch=epoch, epochs=1, fraction=fraction, words_done=0, total_words=1, loss=loss,
                    smoothed_loss=loss, lr=0.025, words_per_sec=1.0, elapsed=0.0, eta=0.0)


def test_memory_stays_bounded_and_snapshots_spread_over_the_run():
    rng = np.random.default_rng(0)
    state = {"w": rng.normal(size=(50, 4)).astype(np.float32)}
    rec = SnapshotRecorder(max_words=10, max_snapshots=6, every=0.01)
    rec.on_train_begin({"words": [f"w{i}" for i in range(50)], "epochs": 1,
                        "copy_vectors": lambda rows=None: state["w"][rows].copy()})
    sizes = []
    for i in range(1, 201):
        state["w"] = state["w"] + 0.01
        rec.on_batch_end(_progress(i / 200))
        sizes.append(len(rec.snapshots()))
    rec.on_epoch_end(1, 0.5, _progress(1.0))
    rec.on_train_end(None)
    s = rec.snapshots()
    assert max(sizes) <= 6 and 3 <= len(s) <= 6
    assert s.vectors.shape[1:] == (10, 4) and s.words == tuple(f"w{i}" for i in range(10))
    assert s.fraction[0] == 0 and s.fraction[-1] == 1.0 and (np.diff(s.fraction) > 0).all()
    assert np.diff(s.fraction[:-1]).max() <= 2.5 * np.diff(s.fraction[:-1]).min()  # evenly spread, not bunched
    assert rec.every > 0.01  # the interval doubled as memory filled
    np.testing.assert_array_equal(s.vectors[-1], state["w"][:10])  # the last frame is the final vectors
    assert s.epoch_end[-1] and s.loss[-1] == 0.5 and np.isnan(s.loss[0])
    assert s.label(0) == "start" and s.label(len(s) - 1) == "end of epoch 1 of 1"


def test_byte_budget_lowers_the_number_kept():
    rec = SnapshotRecorder(max_words=100, max_snapshots=40, max_bytes=100 * 8 * 4 * 5)  # room for 5 snapshots
    w = np.zeros((100, 8), dtype=np.float32)
    rec.on_train_begin({"words": [str(i) for i in range(100)], "epochs": 1, "copy_vectors": lambda rows=None: w[rows]})
    for i in range(1, 101):
        rec.on_batch_end(_progress(i / 100))
        assert len(rec.snapshots()) <= 5


@pytest.fixture(scope="module")
def run():
    """A real skip-gram run on the test corpus with a recorder (module-scoped: trained once)."""
    from conftest import make_texts

    corpus = from_texts(make_texts(), name="tiny", config=CorpusConfig(source="tiny"))
    rec = SnapshotRecorder(max_words=27, max_snapshots=8, every=0.05)  # 27 of the 29 words
    r = Trainer(corpus, ModelConfig(**SMALL), TrainConfig(epochs=4, threads=1, seed=2, report_every=0.0),
                [rec]).train()
    return r, rec.snapshots()


def test_recorder_follows_a_real_training_run(run):
    r, s = run
    assert 4 <= len(s) <= 8 and s.epochs == 4
    assert s.words == tuple(r.vocab.words[:27]) and len(r.vocab.words) > 27  # the most frequent words
    assert s.fraction[0] == 0 and s.fraction[-1] == pytest.approx(1.0) and (np.diff(s.fraction) > 0).all()
    np.testing.assert_array_equal(s.vectors[-1], r.vectors.vectors[:27])
    assert s.epoch[-1] == 4 and s.epoch_end[-1] and s.loss[-1] == pytest.approx(r.history["epoch"][-1]["loss"])
    assert np.isfinite(s.loss[1:]).all()


def test_alignment_brings_frames_towards_the_final_map(run):
    _, s = run
    frames, errors = align(s)
    assert frames.shape == s.vectors.shape and errors[-1] < 1e-5
    assert errors[0] > 0.5 > errors[-2]  # the random start is far from the end, the frame before it close
    # alignment is a rotation: cosines within a frame do not change
    raw = s.vectors[1] / np.linalg.norm(s.vectors[1], axis=1, keepdims=True)
    np.testing.assert_allclose(frames[1] @ frames[1].T, raw @ raw.T, atol=1e-5)


def test_frames_share_one_coordinate_system(run):
    _, s = run
    xy = frame_coords(s, "pca", 2)
    assert xy.shape == (len(s), 27, 2)
    # the last frame is the ordinary PCA map of the final vectors (up to PCA's sign choice)
    final = project(s.vectors[-1], "pca", 2)
    np.testing.assert_allclose(np.abs(xy[-1]), np.abs(final), atol=1e-4)
    # words settle: the last steps move them much less than the first
    step = np.linalg.norm(np.diff(xy, axis=0), axis=2).mean(axis=1)
    assert step[-1] < step[0]
    words = ["cat", "dog", "paris", "berlin", "the"]
    u = frame_coords(s, "umap", 2, words=list(s.words), n_neighbors=5)
    assert u.shape == (len(s), 27, 2) and np.isfinite(u).all()
    # earlier frames are placed among the final layout's points, never flung outside it
    lo, hi = u[-1].min(0) - 1e-4, u[-1].max(0) + 1e-4
    assert (u[:-1].min(axis=(0, 1)) >= lo).all() and (u[:-1].max(axis=(0, 1)) <= hi).all()
    assert frame_coords(s, "pca", 3, words=words).shape == (len(s), 5, 3)
    with pytest.raises(W2VError, match="most frequent words only"):
        frame_coords(s, "pca", 2, words=["cat", "sheep"])


def test_neighbour_lists_change_as_the_model_learns(run):
    _, s = run
    nb = frame_neighbours(s, ["paris", "cat"], n=3)
    assert set(nb) == {"paris", "cat"} and all(len(v) == len(s) for v in nb.values())
    last = [w for w, _ in nb["paris"][-1]]
    assert "paris" not in last and {"berlin", "rome", "madrid"} & set(last)
    assert {"dog", "cow"} & {w for w, _ in nb["cat"][-1]}
    assert nb["paris"][0] != nb["paris"][-1]


def test_save_and_load_next_to_the_model(run, tmp_path):
    r, s = run
    folder = r.save(tmp_path / "m", name="m")
    assert load_snapshots(folder) is None
    path = save_snapshots(folder, s)
    assert path.name == SNAPSHOTS_FILE and path.read_bytes()[8:9] == b"{"  # safetensors: a JSON header, no pickle
    back = load_snapshots(folder)
    assert back.words == s.words and back.epochs == s.epochs
    for name in ("vectors", "fraction", "epoch", "loss", "epoch_end"):
        np.testing.assert_array_equal(getattr(back, name), getattr(s, name))
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert load_model(folder).vectors.words == r.vectors.words  # the model folder still opens
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(W2VError, match="damaged"):
        load_snapshots(folder)
    with pytest.raises(W2VError, match="Save the model first"):
        save_snapshots(tmp_path / "nowhere", s)


def test_a_stopped_run_keeps_its_last_vectors(tiny_texts):
    corpus = from_texts(tiny_texts * 3, name="x", config=CorpusConfig(source="x"))
    stop = threading.Event()

    class StoppingRecorder(SnapshotRecorder):  # the user presses Stop once a few frames are in
        def on_batch_end(self, p):
            super().on_batch_end(p)
            if len(self.snapshots()) >= 5:
                stop.set()

    rec = StoppingRecorder(max_words=10, every=0.001)
    r = Trainer(corpus, ModelConfig(**SMALL), TrainConfig(epochs=20, threads=1, seed=1, report_every=0.0,
                                                          batch_size=16), [rec], stop,
                tuning=Tuning(chunk_tokens=1000)).train()
    s = rec.snapshots()
    assert r.summary["stopped"] and 0 < s.fraction[-1] < 1 and not s.epoch_end[-1]
    np.testing.assert_array_equal(s.vectors[-1], r.vectors.vectors[:10])
