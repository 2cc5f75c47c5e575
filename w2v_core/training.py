"""Training: turn a corpus into word vectors, reporting progress through callbacks.

The :class:`Trainer` holds the epoch loop: it builds the vocabulary and the model, then runs the epochs on a
:class:`~w2v_core.workers.WorkerPool` (the data pipeline: chunks, subsampling, windows, negatives, worker threads,
the compiled ``kernels.run_chunk``), with word2vec's linear learning-rate decay. A
:class:`~w2v_core.divergence.DivergenceWatch` judges each epoch: a run whose loss climbs far above an untrained
model's, or rises over a whole epoch, is rolled back to the epoch's start and retried at half the learning rate.
It knows nothing about who is watching: the app's live loss chart and the command line's log line are both
callbacks (``progress.py``, as in minGPT's trainer).

What makes it fast (measured against gensim in ``benchmarks/``): a chunk's windows are built at once and packed
(real context words only); each block of centres shares one pool of negatives; CBOW's context rows get one summed
update each (CPU); all the batches of a chunk run in one TorchScript call with the GIL released; each worker uses
one intra-op thread; the loss is computed on every few batches and read back only when progress is reported (on a
GPU nothing waits for the device between reports). What keeps it correct at any batch size and thread count: each
row's step per batch is bounded (``kernels.row_scale``), and the divergence watch.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Sequence

import numpy as np
import torch

from w2v_core import distributed, hsoftmax, subword_steps
from w2v_core.divergence import MAX_RETRIES, WORSE, WORSE_HS, DivergenceWatch, untrained_loss
from w2v_core.errors import W2VError
from w2v_core.kernels import BIG_BATCH, BIG_BATCH_BOUND, HS_ROW_STEP_BOUND, ROW_STEP_BOUND, RowBound, warm_up
from w2v_core.models import ModelConfig, Word2Vec, build_model
from w2v_core.progress import Callback, LogCallback, Progress, Reporter
from w2v_core.vocab import Vocabulary
from w2v_core.workers import (CPU_CHUNK, DEFAULT_BLOCK, DEFAULT_POOL, DEFAULT_SHUFFLE, GPU_CHUNK, MIN_CHUNK,
                              EncodedCorpus, EpochRun, Tuning, WorkerPool, chunk_bounds, encode_corpus,
                              one_intra_op_thread)

# what callers import from here, wherever it lives now
__all__ = ["Trainer", "TrainConfig", "TrainResult", "Tuning", "Callback", "LogCallback", "Progress", "DEFAULT_LR",
           "DEFAULT_BATCH", "CPU_EFFECTIVE_BATCH", "HS_CPU_CBOW_BATCH", "default_batch", "batch_lr_boost", "default_threads",
           "resolve_device", "untrained_loss", "encode_corpus", "chunk_bounds", "DEFAULT_POOL", "DEFAULT_BLOCK",
           "DEFAULT_SHUFFLE", "CPU_CHUNK", "MIN_CHUNK", "GPU_CHUNK"]

log = logging.getLogger(__name__)

# The defaults below were measured; how, and what else was tried: benchmarks/HISTORY.md
DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}
# centres per batch: measured on 2 CPU cores, larger on a GPU
DEFAULT_BATCH = {("cpu", "skipgram"): 512, ("cpu", "cbow"): 1024, ("cuda", "skipgram"): 16384, ("cuda", "cbow"): 32768}
CPU_EFFECTIVE_BATCH = {"skipgram": 4096, "cbow": 8192}  # all CPU workers' default batches together (default_batch)
# Hierarchical-softmax CBOW's sparse step (hsoftmax.cbow_tree_step) shares each inner node's row among more turns
# in bigger batches: at 2 threads, 4096 per thread ran 1.3x faster than 1024 with WordSim353 as good (0.346 vs 0.338,
# seeds 1-3; gensim 0.363): benchmarks/README.md
HS_CPU_CBOW_BATCH = 4096
# GPU_NOTE: on a GPU, hierarchical softmax takes at most tokens / 64 centres a batch and CBOW with negative sampling
# (subwords too) tokens / 256. On 689k tokens x 5 epochs (an H200), WordSim353: HS CBOW 0.294 at its default 32,768,
# 0.403 at 8,192 (gensim 0.398); HS Skip-gram 0.454 at 10,765 (gensim 0.435); CBOW negative 0.184 at 32,768, 0.252
# at 8,192 (gensim 0.228); subword CBOW 0.126 at 32,768 (gensim FastText 0.172); on a CPU with one thread, the same
# batches: CBOW negative 0.109 / 0.244 / 0.251 at 32,768 / 8,192 / 2,048, subword CBOW -0.031 / 0.166 / 0.180 at
# 32,768 / 10,765 / 4,096. Skip-gram with negative sampling keeps its 16,384 (0.378 on the GPU; gensim 0.197). On
# 10M tokens every default batch stays (benchmarks/README.md)
BOOST_FROM = 4096  # effective batch (centres) from which the rate is boosted (batch_lr_boost)
# Hierarchical-softmax CBOW on a CPU (4096 centres a thread): the bound clips the top inner nodes, which are on every
# path, so at gensim's rate it learned less (WordSim353 0.354 vs gensim's 0.368, 8 seeds x 2). Boosted from 2048
# centres (2.0 at 2 threads, was 1.41): 0.363, SimLex 0.176 -> 0.183, analogies 0.0185 -> 0.0212; 2.83: 0.366
# (benchmarks/README.md)
HS_BOOST_FROM = {("cpu", "cbow"): 2048}
BOOST_CAP = {("cpu", "skipgram"): 2.0, ("cpu", "cbow"): 2.0 * math.sqrt(2.0), ("cuda", "skipgram"): 2.0,
             ("cuda", "cbow"): 2.0}
BOOST_WARMUP = {"skipgram": 0.05, "cbow": 0.2}  # share of the run over which the boost ramps in
MIN_CPU_BATCH = 128
UPDATES = ("bounded", "sum")


def default_batch(device: str, arch: str, threads: int = 1, loss: str = "negative", tokens: int | None = None) -> int:
    """Centres per batch when none is asked for. On a CPU, many workers' batches add up to one big effective batch
    (their updates are computed from nearly the same weights), and a small corpus then gets few update rounds: the
    per-worker batch shrinks so that all workers together hold at most ``CPU_EFFECTIVE_BATCH`` centres.
    Hierarchical-softmax CBOW on a CPU starts from ``HS_CPU_CBOW_BATCH`` on a corpus (``tokens``) of 64 such
    batches or more (a smaller one would get too few steps per epoch), from the usual default below that. A GPU's
    batch shrinks on a small corpus: hierarchical softmax to tokens / 64, CBOW to tokens / 256 (GPU_NOTE)."""
    base = DEFAULT_BATCH[(device, arch)]
    n = tokens if tokens is not None else 1 << 62
    if (loss, device, arch) == ("hs", "cpu", "cbow"):
        base = min(HS_CPU_CBOW_BATCH, max(base, n // 64))
    if device == "cuda":  # a small corpus gets more, smaller batches, from the CPU's default batch up (GPU_NOTE)
        if loss == "hs":
            base = min(base, max(DEFAULT_BATCH[("cpu", arch)], n // 64))
        elif arch == "cbow":
            base = min(base, max(DEFAULT_BATCH[("cpu", arch)], n // 256))
        return base
    return max(MIN_CPU_BATCH, min(base, CPU_EFFECTIVE_BATCH[arch] // max(1, threads)))


def batch_lr_boost(arch: str, effective_batch: int, device: str = "cpu", loss: str = "negative") -> float:
    """How much faster the rate may be when many centres share one update (all workers' batches together).

    A big effective batch makes fewer, bigger steps per epoch, so it learns less per epoch; the bounded step keeps
    frequent rows from overshooting, so the rare rows can take a faster rate: x sqrt(batch / 4096), at most 2 (CBOW on
    a CPU: 2.83, see BOOST_CAP). Hierarchical-softmax CBOW on a CPU from 2048 centres (HS_BOOST_FROM)."""
    cap = BOOST_CAP[(device, arch)]
    start = HS_BOOST_FROM.get((device, arch), BOOST_FROM) if loss == "hs" else BOOST_FROM
    return float(min(cap, max(1.0, math.sqrt(effective_batch / start))))


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity: a container or ``taskset`` may allow fewer than the
    machine has), not the host's logical CPU count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class TrainConfig:
    """How to train, as the Train page and the CLI set it: schedule, batching, parallelism and randomness.

    (The inner knobs that only tests and benchmarks turn are ``workers.Tuning``.)"""

    epochs: int = 5
    lr: float | None = None  # starting learning rate; None = word2vec's default for the architecture
    batch_size: int | None = None  # centre words per batch, used as given; None = tuned default for the device
    threads: int = 0  # worker threads on the CPU; 0 = one per core this process may use
    seed: int = 1
    device: str = "auto"  # "auto" (CUDA when present) | "cpu" | "cuda"
    report_every: float = 0.25  # seconds between progress reports to callbacks
    # "bounded": each row's step per batch is limited (kernels.row_scale), stable at any batch size and thread
    # count; "sum": word2vec's plain summed step, which diverges with big batches or many threads (kept to show it)
    update: str = "bounded"

    def validate(self) -> None:
        if not 1 <= self.epochs <= 1000:
            raise W2VError(f"epochs must be between 1 and 1000 (got {self.epochs}).")
        if self.lr is not None and not (0 < self.lr <= 10) or (self.lr is not None and math.isnan(self.lr)):
            raise W2VError(f"The learning rate must be a positive number such as 0.025 (got {self.lr}).")
        if self.batch_size is not None and not 1 <= self.batch_size <= 1_000_000:
            raise W2VError(f"The batch size must be between 1 and 1,000,000 (got {self.batch_size}).")
        if not 0 <= self.threads <= 256:
            raise W2VError(f"threads must be between 0 (all cores) and 256 (got {self.threads}).")
        if self.update not in UPDATES:
            raise W2VError(f"Unknown update rule '{self.update}': choose 'bounded' or 'sum'.")
        if self.device not in ("auto", "cpu", "cuda"):
            raise W2VError(f"Unknown device '{self.device}': choose auto, cpu or cuda.")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise W2VError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu or auto.")


@dataclass
class TrainResult:
    vocab: Vocabulary
    model: Word2Vec
    model_config: ModelConfig
    train_config: TrainConfig  # as resolved (lr, batch size, threads filled in)
    corpus_info: dict[str, Any]
    history: dict[str, list]
    summary: dict[str, Any]
    tuning: dict[str, Any] = field(default_factory=dict)  # the Tuning knobs a test or benchmark changed
    lineage: dict[str, Any] = field(default_factory=dict)  # a continued run's parent, epochs and corpora so far
    _ngrams: np.ndarray | None = field(default=None, repr=False, compare=False)  # a subword model's, once built

    @property
    def vectors(self):
        from w2v_core.vectors import WordVectors

        words = self.model.word_vectors().detach().float().cpu().numpy().copy()
        if self.model_config.subwords:
            from w2v_core.vectors import SubwordVectors

            return SubwordVectors(list(self.vocab.words), words, self.vocab.counts.copy(),
                                  ngrams=self._ngram_table(), settings=self.model_config)
        return WordVectors(list(self.vocab.words), words, self.vocab.counts.copy())

    def _ngram_table(self) -> np.ndarray:
        """The buckets x D n-gram table, built once (at fastText's 2,000,000 x 100 it is 800 MB: ``vectors`` and
        ``tensors`` share one copy rather than each making their own)."""
        if self._ngrams is None:
            self._ngrams = self.model.ngram_table()
        return self._ngrams

    def tensors(self) -> dict[str, np.ndarray]:
        """The tables as saved: ``in`` is always the V word vectors (with subwords: composed from the pieces, what
        vectors.txt holds), ``in_words`` and ``ngrams`` the subword model's word rows and n-gram table."""
        m = self.model
        out = {"in": m.word_vectors().detach().cpu().numpy(), "out": m.w_out.detach().cpu().numpy()}
        if self.model_config.subwords:
            out["in_words"] = m.w_in[:len(self.vocab)].detach().cpu().numpy()
            out["ngrams"] = self._ngram_table()
        if self.model.out_bias is not None:
            out["out_bias"] = self.model.out_bias.detach().cpu().numpy()
        return out

    def config_dict(self) -> dict[str, Any]:
        """How the model was made (saved as config.json next to the weights; "tuning" only when changed)."""
        cfg = {"corpus": self.corpus_info, "model": asdict(self.model_config),
               "train": asdict(self.train_config), "summary": self.summary}
        if self.tuning:
            cfg["tuning"] = dict(self.tuning)
        if self.lineage:
            cfg["lineage"] = dict(self.lineage)
        return cfg

    def save(self, path, name: str | None = None):
        """Save as a model folder (see ``store.save_model``); returns its path."""
        from w2v_core import store

        cfg = self.config_dict()
        if name:
            cfg["name"] = name
        return store.save_model(path, self.vectors, cfg, tensors=self.tensors(), history=self.history)


class Trainer:
    """Trains one model on one corpus. ``train()`` blocks; run it in a thread to keep a UI responsive.

    ``tuning`` (tests and benchmarks only): the inner knobs of ``workers.Tuning``; None = the defaults for the
    architecture and device. ``init``: a ``continuation.Continuation`` to start from a saved model's tables and
    vocabulary instead of random ones (``continuation.continue_trainer`` builds one). ``dist``: a
    ``distributed.DistContext``: this process is one rank of a distributed run and trains its share of the chunks.
    """

    def __init__(self, corpus, model_config: ModelConfig = ModelConfig(), train_config: TrainConfig = TrainConfig(),
                 callbacks: Sequence[Callback] = (), stop_event: threading.Event | None = None, *,
                 tuning: Tuning | None = None, init=None, dist=None):
        model_config.validate()
        train_config.validate()
        asked = tuning or Tuning()
        asked.validate()
        self.corpus = corpus
        self.device = resolve_device(train_config.device)
        dev = "cuda" if self.device.type == "cuda" else "cpu"
        threads = 1 if dev == "cuda" else (train_config.threads or default_threads())
        batch = train_config.batch_size or default_batch(dev, model_config.arch, threads, model_config.loss,
                                                         int(corpus.n_tokens))
        self.model_config = model_config
        lr = train_config.lr or (DEFAULT_LR[model_config.arch] if init is None else
                                 init.default_lr(corpus, model_config.arch))
        self.train_config = replace(train_config, lr=lr,
                                    batch_size=batch, threads=threads, device=str(self.device))
        self.tuning = asked.resolved(model_config, dev, batch)
        self.tuning_changes = asked.changes()  # recorded in config.json
        self.stop_event = stop_event or threading.Event()
        self.init = init  # continuation.Continuation, or None for random tables
        self.dist = dist  # distributed.DistContext, or None for a run in this process alone
        self.history: dict[str, list] = {"batch": [], "epoch": [], "retries": []}
        self.reporter = Reporter(callbacks, train_config.epochs, self.history, self._lr_at, self._blew_up)
        self.callbacks = self.reporter.callbacks
        self.lr_scale = 1.0  # halved at each retry of a blown-up epoch
        self.batch_boost = 1.0  # batch_lr_boost, with the bounded update
        # made by _prepare, when train() starts
        self.vocab: Vocabulary | None = None
        self.model: Word2Vec | None = None
        self.pool: WorkerPool | None = None  # the worker threads, their data and the row bound
        self.workers = 1  # batches in flight at once, all computed from the same weights
        self.untrained = float("nan")  # the loss of an untrained model
        self.watch = DivergenceWatch(self.untrained)
        self.raw_tokens = 0  # corpus tokens
        self.encoded_tokens = 0  # in-vocabulary tokens

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        mc, tc, dev = self.model_config, self.train_config, self.device
        if self.init is None:
            self.vocab, remap = Vocabulary.from_corpus(self.corpus, mc.min_count, mc.max_vocab)
        else:
            self.vocab, remap = self.init.vocabulary(self.corpus, mc.min_count)
        ids, offsets = encode_corpus(self.corpus, remap)
        if len(ids) < 2:
            raise W2VError("After min_count the corpus has fewer than 2 tokens: lower min_count or use more text.")
        if mc.window >= 1 and np.diff(offsets).max() < 2:
            raise W2VError("Every document has fewer than 2 in-vocabulary words, so no word has any context. "
                           "Use longer documents (one per line) or lower min_count.")
        chunk = self.tuning.chunk_tokens
        if tc.threads > 1:  # at least ~8 chunks per worker, so that no worker idles long at the end of an epoch
            chunk = max(MIN_CHUNK, min(chunk, -(-len(ids) // (8 * tc.threads))))
        if self.dist is not None:
            chunk = distributed.chunk_size(self.dist, chunk, len(ids), tc.threads)
        all_chunks = chunk_bounds(offsets, len(ids), chunk)
        chunks, seed_ids = distributed.shard(all_chunks, self.dist) if self.dist is not None else (all_chunks, None)
        data = EncodedCorpus(
            ids=torch.from_numpy(ids).to(dev),  # int32; on a GPU the whole corpus lives there
            chunks=chunks, seed_ids=seed_ids,
            keep_prob=torch.from_numpy(self.vocab.keep_probs(mc.sample)).to(dev) if mc.sample > 0 else None,
            neg_table=torch.from_numpy(self.vocab.negative_table()).to(dev) if mc.loss == "negative" else None)
        self.model = build_model(len(self.vocab), mc, self.vocab.counts, self.vocab.words)
        self.model.reset_parameters(torch.Generator().manual_seed(tc.seed))
        if self.init is not None:
            self.init.fill(self.model)  # the parent's rows over the fresh ones
        self.model.to(dev)
        threads_running = max(1, min(tc.threads, len(data.chunks)))
        emulated = self.tuning.emulate_workers
        self.workers = emulated if emulated > 1 else threads_running
        small = HS_ROW_STEP_BOUND if mc.loss == "hs" else ROW_STEP_BOUND
        kappa = (BIG_BATCH_BOUND if tc.batch_size >= BIG_BATCH else small)[mc.arch]
        rows = self.model.w_in.shape[0]  # with subwords: the words' and the n-grams' rows
        bound = RowBound(rows, dev, self.workers, kappa) if tc.update == "bounded" else RowBound.off(dev)
        self.untrained = self._untrained_loss()
        self.watch = DivergenceWatch(self.untrained, WORSE_HS if mc.loss == "hs" else WORSE)
        if tc.update == "bounded":
            self.batch_boost = batch_lr_boost(mc.arch, self.workers * tc.batch_size, dev.type, mc.loss)
        if mc.loss == "negative":
            warm_up(mc.arch, mc.dim, mc.negative, dev)
            if mc.subwords and mc.arch == "skipgram":
                subword_steps.warm_up(mc.dim, mc.negative, dev)
        elif mc.loss == "hs":
            hsoftmax.warm_up(mc.arch, mc.dim, dev)
        self.raw_tokens = int(self.corpus.n_tokens)
        self.encoded_tokens = len(ids)
        args = (self.model, data, self.tuning, tc, threads_running, bound, self._lr_at, self.reporter.report,
                self.stop_event)
        self.pool = WorkerPool(*args) if self.dist is None else distributed.make_pool(self.dist, all_chunks, chunk,
                                                                                       *args)
        if self.init is not None:  # the child's epochs draw as the lineage's next ones
            self.pool.first_epoch = self.init.first_epoch

    def _untrained_loss(self) -> float:
        mc = self.model_config
        if mc.loss != "hs":
            return untrained_loss(mc.loss, mc.negative, len(self.vocab))
        keep = self.vocab.keep_probs(mc.sample) if mc.sample > 0 else None
        return hsoftmax.untrained_loss(self.model.hs_lengths.cpu().numpy(), self.vocab.counts, keep)

    def corpus_info(self) -> dict[str, Any]:
        c = self.corpus
        info = {"name": getattr(c, "name", "corpus"), "tokens": int(c.n_tokens), "documents": int(c.n_docs),
                "distinct_words": int(c.n_words)}
        cfg = getattr(c, "config", None)
        if cfg is not None:
            info["config"] = asdict(cfg)
        return info

    # ------------------------------------------------------------------ the loop
    def train(self) -> TrainResult:
        self._prepare()
        tc = self.train_config
        scale = self.raw_tokens / max(self.encoded_tokens, 1)  # raw tokens per in-vocabulary token
        self.reporter.ema = None
        self.reporter.train_begin({
            "vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
            "epochs": tc.epochs, "device": str(self.device), "threads": tc.threads, "batch_size": tc.batch_size,
            "lr": tc.lr, "untrained_loss": self.untrained, "words": self.vocab.words,
            "copy_vectors": self.copy_vectors, "note": self.init.note if self.init is not None else None})
        start = time.perf_counter()
        with one_intra_op_thread() if self.device.type == "cpu" else nullcontext():
            done, epochs_done = self._epochs(scale, start)
        seconds = time.perf_counter() - start
        if not torch.isfinite(self.model.w_in).all():
            raise self._diverged(float("nan"), max(epochs_done, 1))
        summary = self._summary(done * scale, epochs_done, done, seconds)
        lineage = self.init.lineage(self.corpus_info(), summary["epochs"]) if self.init is not None else {}
        result = TrainResult(self.vocab, self.model, self.model_config, tc, self.corpus_info(), self.history,
                             summary, dict(self.tuning_changes), lineage)
        self.reporter.train_end(result)
        return result

    def _epochs(self, scale: float, start: float) -> tuple[float, int]:
        """Run the epochs, rolling a blown-up one back (``DivergenceWatch``); returns (in-vocabulary tokens done,
        epochs done)."""
        epochs = self.train_config.epochs
        total = self.encoded_tokens * epochs
        done = 0.0
        epochs_done = 0
        epoch = 0
        while epoch < epochs and not self.stop_event.is_set():
            self.watch.mark(epoch, self._tables(), len(self.history["batch"]), done)
            run = EpochRun(epoch, total, scale, start, done=done, last_report=time.perf_counter())
            self.pool.run_epoch(run)
            if run.error is not None:
                raise run.error
            eloss = run.loss_sum / max(run.loss_n, 1.0)
            stopped = self.stop_event.is_set() and run.done < self.encoded_tokens * (epoch + 1) - 0.5
            problem = run.blowup if run.blowup is not None else (None if stopped else self._epoch_problem(eloss))
            if problem is not None:
                mark = self.watch.rollback(run.reports)
                epoch, done = mark.epoch, mark.done
                del self.history["epoch"][epoch:]
                epochs_done = epoch
                self._retry(epoch, problem, mark.tables, mark.n_reports)
                continue
            done = run.done
            if stopped:
                break
            epochs_done = epoch + 1
            self.reporter.epoch_end(run, epoch + 1, eloss)
            epoch += 1
        return done, epochs_done

    def _summary(self, words_done: float, epochs_done: int, done: float, seconds: float) -> dict[str, Any]:
        tc = self.train_config
        stopped = epochs_done < tc.epochs
        final_loss = self.history["epoch"][-1]["loss"] if self.history["epoch"] else (
            self.history["batch"][-1]["loss"] if self.history["batch"] else float("nan"))
        return {
            "vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
            "epochs": epochs_done if not stopped else round(done / max(self.encoded_tokens, 1), 3),
            "seconds": round(seconds, 3), "words_per_sec": round(words_done / max(seconds, 1e-9), 1),
            "final_loss": None if not math.isfinite(final_loss) else round(final_loss, 6),
            "untrained_loss": round(self.untrained, 6),
            "stopped": stopped, "device": str(self.device), "threads": tc.threads, "batch_size": tc.batch_size,
            "lr_retries": len(self.history["retries"]), "final_lr_scale": self.lr_scale,
            "lr_batch_boost": round(self.batch_boost, 4),
            **({"distributed": self.dist.info()} if self.dist is not None else {}),
        }

    def _tables(self) -> list[torch.Tensor]:
        m = self.model
        return [m.w_in, m.w_out] + ([m.out_bias] if m.out_bias is not None else [])

    def _blew_up(self, loss: float) -> bool:
        return self.watch.blew_up(loss)

    def _epoch_problem(self, eloss: float) -> float | None:
        prev = self.history["epoch"][-1]["loss"] if self.history["epoch"] else None
        return self.watch.epoch_problem(eloss, prev)

    def _retry(self, epoch: int, loss: float, saved: list[torch.Tensor], n_reports: int) -> None:
        """Roll the epoch back to its first weights and halve the learning rate, or give up."""
        if len(self.history["retries"]) >= MAX_RETRIES:
            raise self._diverged(loss, epoch + 1)
        for t, s in zip(self._tables(), saved):
            t.copy_(s)
        bound = self.pool.bound
        if bound.kappa > 0:  # a tighter bound too (a bounded step does not shrink with the rate alone)
            self.pool.bound = RowBound(self.model.w_in.shape[0], self.device, self.workers, bound.kappa * 0.5)
        self.lr_scale *= 0.5
        lr = self.train_config.lr * self.lr_scale
        self.history["retries"].append({"epoch": epoch + 1, "loss": loss, "lr": lr})
        del self.history["batch"][n_reports:]
        msg = (f"Epoch {epoch + 1} blew up (loss {loss:.4g}; untrained {self.untrained:.2f}): "
               f"starting it again at learning rate {lr:.3g}.")
        log.warning(msg)
        self.reporter.epoch_retry(epoch + 1, msg)

    def _diverged(self, loss: float, epoch: int) -> W2VError:
        """Stop the run and say what to change (epoch is 1-based)."""
        self.stop_event.set()
        return self.watch.diverged(loss, epoch, self.train_config.lr, self.lr_scale)

    def copy_vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """A float32 CPU copy of the input vectors (all rows, or ``rows``), as they are now.

        Callbacks may call it from the training thread (``info["copy_vectors"]`` in ``on_train_begin``) to keep
        the vectors at points of the run, e.g. to show the map forming (``snapshots.py``). Other workers keep
        writing meanwhile (Hogwild), so a copy taken mid-epoch is a blend of a few batches: fine for a picture.
        """
        w = self.model.word_vectors()  # with subwords: composed from the pieces
        if rows is not None:
            w = w.index_select(0, torch.as_tensor(np.asarray(rows, dtype=np.int64), device=w.device))
        return w.detach().float().cpu().numpy().copy()

    def _lr_at(self, done: float, total: int) -> float:
        """word2vec's linear decay, times the big-batch boost (ramped in over the first ``BOOST_WARMUP`` of the run)
        and the retries' back-off."""
        frac = done / max(total, 1)
        boost = 1.0 + (self.batch_boost - 1.0) * min(1.0, frac / BOOST_WARMUP[self.model_config.arch])
        lr0 = self.train_config.lr * self.lr_scale
        return max(lr0 * self.tuning.min_lr_fraction, lr0 * boost * (1.0 - frac))
