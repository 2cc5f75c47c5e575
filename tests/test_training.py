"""The Trainer: it learns, it stops when asked, it repeats with a seed, it refuses bad settings clearly."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from w2v_core.data.corpus import CorpusConfig, from_documents, from_texts
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.training import Callback, TrainConfig, Trainer, chunk_bounds, default_threads, encode_corpus
from w2v_core.workers import Tuning
from w2v_core.vocab import Vocabulary

SMALL = dict(dim=16, window=3, min_count=1, sample=0)


def _cos(vecs, words, a, b):
    x, y = vecs[words.index(a)], vecs[words.index(b)]
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


class Recorder(Callback):
    def __init__(self):
        self.begin, self.batches, self.epochs, self.end = None, [], [], None

    def on_train_begin(self, info):
        self.begin = info

    def on_batch_end(self, p):
        self.batches.append(p)

    def on_epoch_end(self, epoch, loss, p):
        self.epochs.append((epoch, loss))

    def on_train_end(self, result):
        self.end = result


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
@pytest.mark.parametrize("loss", ["negative", "softmax"])
def test_both_architectures_and_output_layers_learn(tiny_corpus, arch, loss):
    rec = Recorder()
    r = Trainer(tiny_corpus, ModelConfig(arch=arch, loss=loss, **SMALL),
                TrainConfig(epochs=4, threads=1, seed=3, report_every=0.02), [rec]).train()
    losses = [e["loss"] for e in r.history["epoch"]]
    assert len(losses) == 4 and losses[-1] < losses[0]
    # untrained, every score is 0 (output rows start at zero): loss (1 + k) ln 2, or ln V for the full softmax
    start = (1 + 5) * np.log(2) if loss == "negative" else np.log(len(r.vocab))
    assert losses[-1] < 0.8 * start
    v = r.model.w_in.numpy()
    words = r.vocab.words
    # words used alike end up closer than words used differently
    assert _cos(v, words, "cat", "dog") > _cos(v, words, "cat", "paris")
    assert _cos(v, words, "paris", "berlin") > _cos(v, words, "paris", "grass")
    assert rec.begin["vocab_size"] == len(words)
    assert [e for e, _ in rec.epochs] == [1, 2, 3, 4]
    assert rec.end is r and r.summary["stopped"] is False and r.summary["epochs"] == 4
    fr = [p.fraction for p in rec.batches]
    assert fr == sorted(fr) and 0 < fr[-1] <= 1.0
    p = rec.batches[-1]
    assert p.words_per_sec > 0 and p.eta >= 0 and p.total_words == 4 * tiny_corpus.n_tokens


def test_summary_counts_raw_tokens_and_speed(tiny_corpus):
    r = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=2, threads=1)).train()
    s = r.summary
    assert s["tokens"] == tiny_corpus.n_tokens and s["vocab_size"] == len(r.vocab)
    assert s["words_per_sec"] == pytest.approx(s["tokens"] * 2 / s["seconds"], rel=0.05)
    assert np.isfinite(s["final_loss"])
    assert r.vectors.vectors.shape == (len(r.vocab), 16)


def test_same_seed_repeats_and_another_seed_differs(tiny_corpus):
    def run(seed):
        return Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=2, threads=1, seed=seed)).train()

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a.model.w_in, b.model.w_in) and torch.equal(a.model.w_out, b.model.w_out)
    assert not torch.allclose(a.model.w_in, c.model.w_in)


def test_stop_event_ends_training_cleanly_and_keeps_what_was_learnt(tiny_texts):
    corpus = from_texts(tiny_texts * 5, name="bigger", config=CorpusConfig(source="x"))
    stop = threading.Event()

    class StopSoon(Callback):
        def __init__(self):
            self.n = 0

        def on_batch_end(self, p):
            self.n += 1
            if self.n == 3:
                stop.set()

    mc = ModelConfig(**SMALL)
    tc = TrainConfig(epochs=50, threads=1, seed=1, report_every=0.0, batch_size=16)
    t = Trainer(corpus, mc, tc, [StopSoon()], stop, tuning=Tuning(chunk_tokens=1000))
    r = t.train()
    assert r.summary["stopped"] is True
    assert 0 < r.summary["epochs"] < 1
    init = Trainer(corpus, mc, tc, tuning=Tuning(chunk_tokens=1000))
    init._prepare()
    assert not torch.allclose(r.model.w_in, init.model.w_in)  # the steps taken are kept
    assert torch.count_nonzero(r.model.w_out) > 0
    assert torch.isfinite(r.model.w_in).all()


def test_a_stop_before_training_trains_nothing(tiny_corpus):
    stop = threading.Event()
    stop.set()
    r = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=3, threads=1), stop_event=stop).train()
    assert r.summary["stopped"] is True and r.history["epoch"] == []


def test_two_worker_threads_learn_too(tiny_texts):
    corpus = from_texts(tiny_texts * 3, name="x", config=CorpusConfig(source="x"))
    r = Trainer(corpus, ModelConfig(**SMALL), TrainConfig(epochs=3, threads=2),
                tuning=Tuning(chunk_tokens=2000)).train()
    losses = [e["loss"] for e in r.history["epoch"]]
    assert r.summary["threads"] == 2
    assert losses[-1] < losses[0] and torch.isfinite(r.model.w_in).all()


UNTRAINED = 6 * np.log(2)  # k = 5: every score 0


class Retries(Callback):
    def __init__(self):
        self.seen = []

    def on_epoch_retry(self, epoch, message):
        self.seen.append((epoch, message))


def test_a_blow_up_is_rolled_back_and_retried_at_half_the_rate(tiny_corpus):
    """word2vec's plain summed step at a rate too high for this text blows up; the trainer notices, restarts the
    epoch from its first weights at half the rate, and ends exactly where a run started at that rate ends."""
    cfg = dict(epochs=3, threads=1, update="sum", batch_size=16)
    rec = Retries()
    r = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(lr=0.2, **cfg), [rec]).train()
    fresh = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(lr=0.1, **cfg)).train()
    assert [e for e, _ in rec.seen] == [1] and "learning rate 0.1" in rec.seen[0][1]
    assert r.summary["lr_retries"] == 1 and r.summary["final_loss"] < UNTRAINED
    assert torch.equal(r.model.w_in, fresh.model.w_in)
    assert all(np.isfinite(b["loss"]) for b in r.history["batch"])  # the blown-up reports were dropped


def test_a_blow_up_that_keeps_coming_back_stops_with_one_clear_line(tiny_corpus):
    with pytest.raises(W2VError) as e:
        Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=3, threads=1, lr=10.0, update="sum")).train()
    msg = str(e.value)
    assert "diverged" in msg and "Lower the learning rate" in msg and "\n" not in msg


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_bounded_step_survives_a_rate_that_breaks_the_plain_sum(tiny_corpus, arch):
    r = Trainer(tiny_corpus, ModelConfig(arch=arch, **SMALL), TrainConfig(epochs=3, threads=1, lr=10.0)).train()
    assert torch.isfinite(r.model.w_in).all() and r.summary["final_loss"] < 0.8 * UNTRAINED


@pytest.mark.parametrize("kwargs, words", [
    (dict(epochs=0), "epochs"),
    (dict(lr=-0.1), "learning rate"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(batch_size=0), "batch size"),
    (dict(threads=-1), "threads"),
    (dict(device="tpu"), "Unknown device"),
    (dict(update="adam"), "update rule"),
])
def test_bad_train_configs_are_refused(tiny_corpus, kwargs, words):
    with pytest.raises(W2VError, match=words):
        Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(**kwargs))


@pytest.mark.parametrize("kwargs, words", [
    (dict(shared_negatives=0), "shared_negatives"),
    (dict(loss_every=0), "loss_every"),
    (dict(chunk_tokens=10), "chunk_tokens"),
    (dict(block_size=0), "block_size"),
    (dict(emulate_workers=0), "emulate_workers"),
])
def test_bad_tuning_knobs_are_refused(tiny_corpus, kwargs, words):
    with pytest.raises(W2VError, match=words):
        Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(), tuning=Tuning(**kwargs))


def test_cuda_asked_for_without_a_gpu_is_a_user_error(tiny_corpus):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(W2VError, match="no CUDA GPU"):
        TrainConfig(device="cuda").validate()


def test_corpus_without_any_context_is_refused():
    corpus = from_documents([["alone"], ["single"], ["alone"]])
    with pytest.raises(W2VError, match="fewer than 2 in-vocabulary words"):
        Trainer(corpus, ModelConfig(**SMALL), TrainConfig(threads=1)).train()


def test_defaults_follow_word2vec(tiny_corpus):
    sg = Trainer(tiny_corpus, ModelConfig(arch="skipgram"), TrainConfig())
    cb = Trainer(tiny_corpus, ModelConfig(arch="cbow"), TrainConfig())
    assert sg.train_config.lr == 0.025 and cb.train_config.lr == 0.05
    assert sg.train_config.device == "cpu"
    assert sg.train_config.threads == default_threads() == len(os.sched_getaffinity(0))  # cores we may use


def test_default_threads_follow_the_cpu_affinity_not_the_host(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert default_threads() == 2


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_one_word_that_fills_most_of_the_text_trains_with_a_big_batch(arch):
    """The old trainer had to shrink batches to 16 here (one row summed from 90% of a batch diverged). Now the
    batch is used as given; at worst one epoch overshoots and is retried with a tighter bound."""
    docs = [["the"] * 30 + ["a", "b", "c"] for _ in range(2000)]  # 16 batches an epoch
    r = Trainer(from_documents(docs), ModelConfig(arch=arch, **SMALL),
                TrainConfig(epochs=3, threads=1, batch_size=4096)).train()
    assert r.train_config.batch_size == 4096 and r.summary["lr_retries"] < 3  # recovered by itself
    assert torch.isfinite(r.model.w_in).all() and r.summary["final_loss"] < 0.8 * UNTRAINED


def test_the_batch_size_is_used_as_given_and_recorded(tiny_corpus):
    r = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=2, threads=1, batch_size=100_000)).train()
    assert r.train_config.batch_size == 100_000 and r.summary["batch_size"] == 100_000
    assert r.config_dict()["train"]["batch_size"] == 100_000
    assert r.summary["final_loss"] < UNTRAINED


def test_the_default_batch_shrinks_with_the_threads_and_is_recorded(tiny_corpus):
    """Many workers' batches add up to one big step: the default per-worker batch shrinks as threads grow (CBOW's
    workers together hold up to 8,192 centres, Skip-gram's 4,096, never under 128 each), and the run records it."""
    from w2v_core.training import default_batch

    assert [default_batch("cpu", "skipgram", t) for t in (1, 2, 8, 16, 64)] == [512, 512, 512, 256, 128]
    assert [default_batch("cpu", "cbow", t) for t in (1, 2, 8, 16, 64)] == [1024, 1024, 1024, 512, 128]
    assert default_batch("cuda", "cbow", 16) == 32768
    # hierarchical-softmax CBOW's sparse step on a CPU starts from bigger batches (on a corpus of 64 of them or
    # more), under the same cap
    assert [default_batch("cpu", "cbow", t, "hs") for t in (1, 2, 8, 16, 64)] == [4096, 4096, 1024, 512, 128]
    assert [default_batch("cpu", "cbow", 2, "hs", n) for n in (6_000, 100_000, 689_000)] == [1024, 1562, 4096]
    assert default_batch("cpu", "skipgram", 2, "hs") == 512 and default_batch("cuda", "cbow", 1, "hs") == 32768
    # and on a GPU, a small corpus: hierarchical softmax at most tokens / 64, CBOW tokens / 256, from the CPU's
    # default up; Skip-gram with negative sampling keeps its batch
    assert [default_batch("cuda", "cbow", 1, "hs", n) for n in (6_000, 689_000, 10_000_000)] == [1024, 10765, 32768]
    assert [default_batch("cuda", "skipgram", 1, "hs", n) for n in (6_000, 689_000)] == [512, 10765]
    assert [default_batch("cuda", "cbow", 1, "negative", n) for n in (6_000, 689_000, 10_000_000)] == [1024, 2691,
                                                                                                      32768]
    assert default_batch("cuda", "skipgram", 1, "negative", 6_000) == 16384
    r = Trainer(tiny_corpus, ModelConfig(arch="cbow", **SMALL), TrainConfig(epochs=1, threads=16)).train()
    assert r.summary["batch_size"] == r.config_dict()["train"]["batch_size"] == 512


def test_loss_read_every_batch_or_every_few_gives_the_same_training(tiny_corpus):
    def run(every):
        return Trainer(tiny_corpus, ModelConfig(**SMALL),
                       TrainConfig(epochs=2, threads=1), tuning=Tuning(loss_every=every)).train()

    a, b = run(1), run(5)
    assert torch.equal(a.model.w_in, b.model.w_in)  # the loss is only watched, never trained on
    assert a.history["epoch"][-1]["loss"] == pytest.approx(b.history["epoch"][-1]["loss"], rel=0.2)


def test_encode_corpus_drops_unknown_words_and_keeps_documents():
    corpus = from_documents([["a", "b", "zz"], ["q"], ["b", "a", "a"]])
    v, remap = Vocabulary.from_corpus(corpus, min_count=2)
    ids, offsets = encode_corpus(corpus, remap)
    assert [v.words[i] for i in ids] == ["a", "b", "b", "a", "a"]
    assert offsets.tolist() == [0, 2, 2, 5]
    assert ids.dtype == np.int32


def test_chunks_cover_the_stream_and_prefer_document_boundaries():
    offsets = np.array([0, 30, 60, 95, 100, 260, 300])
    chunks = chunk_bounds(offsets, 300, 50)
    assert chunks[0][0] == 0 and chunks[-1][1] == 300
    assert all(a2 == b1 for (_, b1, _), (a2, _, _) in zip(chunks, chunks[1:]))
    assert chunks[0][1] == 30 or chunks[0][1] == 50
    for a, b, local in chunks:  # local offsets are within the chunk and include its two ends
        assert local[0] == 0 and local[-1] == b - a and np.all(np.diff(local) >= 0)
    assert (60, 95) in [(a, b) for a, b, _ in chunks] or any(a <= 60 and b >= 95 for a, b, _ in chunks)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_no_host_sync_per_batch(tiny_corpus, monkeypatch, arch):
    """On a GPU every .item()/.tolist()/float(t) waits for the device; the loop may read back once per chunk
    or report, never once per batch (checked on the CPU by counting the calls, with the steps run as plain
    Python as they are on a GPU)."""
    from w2v_core import models, workers

    for module in (models, workers):  # where the kernels are called from
        monkeypatch.setattr(module, "scripted", lambda fn, device="cpu": fn)
    calls = {"n": 0}
    for name in ("item", "tolist", "__float__", "__int__", "__bool__"):
        orig = getattr(torch.Tensor, name)

        def wrapped(self, *a, _orig=orig, **k):
            calls["n"] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    r = Trainer(tiny_corpus, ModelConfig(arch=arch, **SMALL),
                TrainConfig(epochs=2, threads=1, batch_size=16, report_every=1e9)).train()
    monkeypatch.undo()
    n_batches = 2 * len(tiny_corpus.ids) // 16 // 2  # fewer centres than tokens, and pairs of tokens at least
    assert r.summary["epochs"] == 2
    assert calls["n"] < n_batches / 10, (calls["n"], n_batches)


@pytest.mark.parametrize("order", ["shuffle", "interleave"])
def test_shuffled_batches_learn_and_repeat_with_the_seed(tiny_corpus, order):
    def run(shuffle):
        return Trainer(tiny_corpus, ModelConfig(arch="cbow", **SMALL),
                       TrainConfig(epochs=3, threads=1, seed=2),
                       tuning=Tuning(**{order: shuffle}, **({} if order == "shuffle" else {"shuffle": False}))).train()

    a, b, plain = run(True), run(True), run(False)
    assert torch.equal(a.model.w_in, b.model.w_in)
    assert not torch.equal(a.model.w_in, plain.model.w_in)  # another order of the same examples
    assert a.history["epoch"][-1]["loss"] < 0.8 * 6 * np.log(2)


def test_intra_op_threads_are_restored_after_training_even_with_two_runs_at_once(tiny_corpus):
    before = torch.get_num_threads()
    seen = []

    class Peek(Callback):
        def on_epoch_end(self, epoch, loss, p):
            seen.append(torch.get_num_threads())

    runs = [threading.Thread(target=lambda: Trainer(tiny_corpus, ModelConfig(**SMALL),
                                                    TrainConfig(epochs=2, threads=1), [Peek()]).train())
            for _ in range(2)]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert seen and all(n == 1 for n in seen)  # while training: one intra-op thread
    assert torch.get_num_threads() == before


def test_big_effective_batches_get_a_capped_rate_boost_per_device_and_architecture():
    from w2v_core.training import batch_lr_boost

    assert batch_lr_boost("cbow", 4096) == batch_lr_boost("skipgram", 1024) == 1.0  # small batches: word2vec's rate
    assert batch_lr_boost("skipgram", 16384) == pytest.approx(2.0)  # sqrt(16384 / 4096)
    assert batch_lr_boost("skipgram", 65536) == pytest.approx(2.0)  # capped
    assert batch_lr_boost("cbow", 32768, "cpu") == pytest.approx(2 * 2 ** 0.5)
    assert batch_lr_boost("cbow", 10 ** 6, "cpu") == pytest.approx(2 * 2 ** 0.5)
    assert batch_lr_boost("cbow", 32768, "cuda") == pytest.approx(2.0)  # the GPU keeps the cap it was measured with
    # hierarchical-softmax CBOW on a CPU (2 threads x 4096 centres): boosted from 2048, not 4096 (HS_BOOST_FROM)
    assert batch_lr_boost("cbow", 8192, "cpu", "hs") == pytest.approx(2.0)
    assert batch_lr_boost("cbow", 8192, "cpu") == pytest.approx(2 ** 0.5)
    assert batch_lr_boost("skipgram", 8192, "cpu", "hs") == pytest.approx(2 ** 0.5)


def test_config_json_records_changed_tuning_and_older_models_still_load(tiny_corpus, tmp_path):
    import json

    from w2v_core.store import load_model, read_record

    plain = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=1, threads=1)).train()
    tuned = Trainer(tiny_corpus, ModelConfig(**SMALL), TrainConfig(epochs=1, threads=1),
                    tuning=Tuning(loss_every=2, block_size=8)).train()
    assert "tuning" not in plain.config_dict()
    assert tuned.config_dict()["tuning"] == {"loss_every": 2, "block_size": 8}
    assert "loss_every" not in tuned.config_dict()["train"]  # "train" holds what a user can set
    path = tuned.save(tmp_path / "tuned")
    assert load_model(path).config["tuning"] == {"loss_every": 2, "block_size": 8}
    # a folder saved before the knobs left TrainConfig: they sat in "train"
    old = plain.save(tmp_path / "old")
    cfg = json.loads((old / "config.json").read_text())
    cfg["train"].update(min_lr_fraction=1e-4, chunk_tokens=50000, shared_negatives=32, block_size=64, loss_every=4,
                        shuffle=True, emulate_workers=1)
    (old / "config.json").write_text(json.dumps(cfg))
    assert load_model(old).config["train"]["chunk_tokens"] == 50000
    rec = read_record(old)
    assert rec.error is None and rec.epochs == 1
