"""Training: turn a corpus into word vectors, reporting progress through callbacks.

The Trainer knows the data pipeline (vocabulary, subsampling, windows, negatives) and the schedule
(linear learning-rate decay, as in word2vec), but nothing about who is watching: the app's live loss chart
and the command line's log line are both callbacks (as in minGPT's trainer).

One epoch walks the corpus in chunks of about ``chunk_tokens`` tokens. Each chunk gets its own random
generator seeded from ``(seed, epoch, chunk)``, so subsampling, window radii and negatives do not depend on
thread timing. With ``threads > 1`` worker threads take the next chunk when they are free and update the same
tables without locks ("Hogwild", as word2vec and gensim do); only then is a run not bit-for-bit repeatable.

What makes it fast (measured against gensim in ``benchmarks/``): a chunk's windows are built at once and packed
(real context words only); each block of 256 centres shares one pool of negatives; CBOW's context rows get one
summed update each (CPU); all the batches of a chunk run in one TorchScript call with the GIL released
(``kernels.run_chunk``); each worker uses one intra-op thread; the loss is computed on every ``loss_every``-th batch
and read back only when progress is reported (on a GPU nothing waits for the device between reports).

What keeps it correct at any batch size and thread count: each row's step per batch is bounded
(``kernels.row_scale``), and the trainer watches its own loss: a run whose loss climbs far above an untrained
model's, or rises over a whole epoch, is rolled back to the epoch's start and retried at half the learning rate;
if that keeps happening it stops with one ``W2VError`` that says what to change. A run that ends normally always
has a final loss below an untrained model's.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
import torch

from w2v_core.errors import W2VError
from w2v_core.kernels import (BIG_BATCH, BIG_BATCH_BOUND, ROW_STEP_BOUND, Examples, RowBound, Schedule, Tables,
                              chunk_groups, run_chunk, scripted, warm_up)
from w2v_core.models import ModelConfig, PackedBatch, Word2Vec, build_model
from w2v_core.vocab import Vocabulary
from w2v_core.windows import Stream, draw_radii, packed_windows, subsample

log = logging.getLogger(__name__)

DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}
# centres per batch: measured on 2 CPU cores (see benchmarks/), larger on a GPU
DEFAULT_BATCH = {("cpu", "skipgram"): 512, ("cpu", "cbow"): 1024, ("cuda", "skipgram"): 16384, ("cuda", "cbow"): 32768}
# all CPU workers' default batches together (default_batch); CBOW's may be bigger: on 16 cores (10.3M tokens, 1 epoch)
# 8 x 1024 ran at 5.24M words/s against 4.16M for 8 x 512 with the same WordSim353 (0.313)
CPU_EFFECTIVE_BATCH = {"skipgram": 4096, "cbow": 8192}
BOOST_FROM = 4096  # effective batch (centres) from which the rate is boosted (batch_lr_boost)
# CBOW on a CPU may go to 2 sqrt 2 (an effective batch of 32,768): 2 threads x 16384 on 689k tokens, 5 epochs,
# WordSim353 0.186 at 2 (7 seeds), 0.243 at 2.83 (4 seeds; the default batch: 0.275), no retries; emulated workers,
# 3 seeds: 8 x 4096 0.205 -> 0.240, 64 x 512 0.178 -> 0.201, 16 x 4096 0.109 -> 0.104, no retries. A GPU keeps the
# cap its figures were measured with
BOOST_CAP = {("cpu", "skipgram"): 2.0, ("cpu", "cbow"): 2.0 * math.sqrt(2.0), ("cuda", "skipgram"): 2.0,
             ("cuda", "cbow"): 2.0}
# share of the run over which the boost ramps in: CBOW at 2x with 5% blew up (and retried) in 2 runs of 3 at one
# batch of 16384 on the sample, with 20% in none (batch_lr_boost)
BOOST_WARMUP = {"skipgram": 0.05, "cbow": 0.2}
MIN_CPU_BATCH = 128
# negatives shared per block of centres (each stands for k / N of an example's k negatives), centres per block and
# whether a batch's centres come from all over a chunk. Measured at 10M tokens, 1 epoch, 3 seeds against gensim
# (benchmarks/bench_quality.py, ablation table in benchmarks/README.md): big blocks of 256 centres sharing one pool
# put the same few negatives into many rows at once, and the row bound then clips those lumps; smaller blocks and,
# for Skip-gram, shuffled centres bring SimLex and the analogies up to gensim's at the same speed
DEFAULT_POOL = {"skipgram": 32, "cbow": 16}
DEFAULT_BLOCK = {"skipgram": 64, "cbow": 32}
DEFAULT_SHUFFLE = {"skipgram": True, "cbow": False}
CPU_CHUNK = 50_000  # tokens per chunk on a CPU (bounds memory); on a GPU chunks hold many big batches
MIN_CHUNK = 2_000  # with several workers, chunks shrink so that each worker gets ~8, but not below this
GPU_CHUNK = 2_000_000
UPDATES = ("bounded", "sum")
# the trainer's own divergence watch
BLOWUP_FACTOR = 1.5  # a report's loss above this x an untrained model's is a blow-up
RISE_SHARE = 0.25  # an epoch that undoes this share of the progress the previous epochs made is a blow-up
# an epoch's loss above an untrained model's is a blow-up (the margin is rounding: a one-batch epoch reports
# the loss of the weights it started from, which is exactly the untrained loss in the first epoch)
WORSE = 1.0001
MAX_RETRIES = 3  # epochs retried at half the learning rate before giving up


def default_batch(device: str, arch: str, threads: int = 1) -> int:
    """Centres per batch when none is asked for. On a CPU, many workers' batches add up to one big effective batch
    (their updates are computed from nearly the same weights), and a small corpus then gets few update rounds: the
    per-worker batch shrinks so that all workers together hold at most ``CPU_EFFECTIVE_BATCH`` centres. Measured with
    emulated workers (all computed from the same weights: the worst case) on the bundled sample, CBOW, 3 seeds:
    WordSim353 0.196 at 8 x 512, 0.185 at 8 x 1024 (one worker: 0.210); on 16 real cores and 10.3M tokens 8 x 1024
    lost nothing against 8 x 512 and ran 26% faster, so CBOW holds up to 8,192 centres, Skip-gram 4,096."""
    base = DEFAULT_BATCH[(device, arch)]
    if device == "cuda":
        return base
    return max(MIN_CPU_BATCH, min(base, CPU_EFFECTIVE_BATCH[arch] // max(1, threads)))


def batch_lr_boost(arch: str, effective_batch: int, device: str = "cpu") -> float:
    """How much faster the rate may be when many centres share one update (all workers' batches together).

    A big effective batch makes fewer, bigger steps per epoch, so it learns less per epoch; the bounded step keeps
    frequent rows from overshooting, so the rare rows can take a faster rate: x sqrt(batch / 4096), at most 2 (CBOW on
    a CPU: 2.83, see BOOST_CAP).
    Measured on the bundled sample, 3 seeds: Skip-gram with 64 emulated workers x 256 went from WordSim353 0.197 to
    0.264 with it (one worker: 0.224), one batch of 16384 from 0.187 to 0.295. CBOW, one batch of 16384: 0.146
    without, 0.255 at 2 ramped in over 20% of the run (over 5%, two runs of three blew up in their first epoch and
    retried: 0.179); 2 threads x 16384 on 689k tokens, 4 seeds: 0.14 without, 0.195 with it (default batch: 0.24)."""
    cap = BOOST_CAP[(device, arch)]
    return float(min(cap, max(1.0, math.sqrt(effective_batch / BOOST_FROM))))


def default_threads() -> int:
    """The cores this process may run on (its CPU affinity: a container or ``taskset`` may allow fewer than the
    machine has), not the host's logical CPU count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: schedule, batching, parallelism and randomness."""

    epochs: int = 5
    lr: float | None = None  # starting learning rate; None = word2vec's default for the architecture
    min_lr_fraction: float = 1e-4  # the rate decays linearly to lr * this
    batch_size: int | None = None  # centre words per batch, used as given; None = tuned default for the device
    threads: int = 0  # worker threads on the CPU; 0 = one per core this process may use
    seed: int = 1
    device: str = "auto"  # "auto" (CUDA when present) | "cpu" | "cuda"
    chunk_tokens: int | None = None  # tokens per chunk of an epoch (bounds memory); None = by device and batch
    report_every: float = 0.25  # seconds between progress reports to callbacks
    shared_negatives: int | None = None  # N, negatives drawn per block and shared by its centres; None = default
    block_size: int | None = None  # centres that share one pool of negatives; None = default for the architecture
    loss_every: int = 4  # compute the loss on every n-th batch only (it is only shown, never trained on)
    # batches of centres drawn from all over a chunk, not consecutive (see Windows.permute); None = default for
    # the architecture (DEFAULT_SHUFFLE)
    shuffle: bool | None = None
    # "bounded": each row's step per batch is limited (kernels.row_scale), stable at any batch size and thread
    # count; "sum": word2vec's plain summed step, which diverges with big batches or many threads (kept to show it)
    update: str = "bounded"
    # for tests and benchmarks on a small machine: N workers' batches computed from the same weights, then all
    # applied, which is what N truly concurrent Hogwild threads do at worst; 1 = off
    emulate_workers: int = 1

    def validate(self) -> None:
        if not 1 <= self.epochs <= 1000:
            raise W2VError(f"epochs must be between 1 and 1000 (got {self.epochs}).")
        if self.lr is not None and not (0 < self.lr <= 10) or (self.lr is not None and math.isnan(self.lr)):
            raise W2VError(f"The learning rate must be a positive number such as 0.025 (got {self.lr}).")
        if self.batch_size is not None and not 1 <= self.batch_size <= 1_000_000:
            raise W2VError(f"The batch size must be between 1 and 1,000,000 (got {self.batch_size}).")
        if not 0 <= self.threads <= 256:
            raise W2VError(f"threads must be between 0 (all cores) and 256 (got {self.threads}).")
        if self.shared_negatives is not None and not 1 <= self.shared_negatives <= 100_000:
            raise W2VError(f"shared_negatives must be between 1 and 100,000 (got {self.shared_negatives}).")
        if self.block_size is not None and not 1 <= self.block_size <= 1_000_000:
            raise W2VError(f"block_size must be between 1 and 1,000,000 (got {self.block_size}).")
        if not 1 <= self.loss_every <= 1_000_000:
            raise W2VError(f"loss_every must be at least 1 (got {self.loss_every}).")
        if self.chunk_tokens is not None and not 1_000 <= self.chunk_tokens <= 100_000_000:
            raise W2VError(f"chunk_tokens must be between 1,000 and 100,000,000 (got {self.chunk_tokens}).")
        if self.update not in UPDATES:
            raise W2VError(f"Unknown update rule '{self.update}': choose 'bounded' or 'sum'.")
        if not 1 <= self.emulate_workers <= 4096:
            raise W2VError(f"emulate_workers must be between 1 and 4096 (got {self.emulate_workers}).")
        if self.device not in ("auto", "cpu", "cuda"):
            raise W2VError(f"Unknown device '{self.device}': choose auto, cpu or cuda.")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise W2VError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu or auto.")


# One intra-op thread per training worker: the ops are small, and OpenMP threads spinning at barriers on a busy
# machine cost far more than they give (tiny corpus, batch 16: 0.28 s with 1 thread, 5.7 s with 2, 69 s with 2
# while two other processes kept both cores busy). The setting is process-wide, so concurrent trainings (two
# jobs in the app) share one count: the first sets it, the last restores what was there before.
_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 1


def _intra_op_threads_enter() -> None:
    global _threads_users, _threads_saved
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
        _threads_users += 1
        torch.set_num_threads(1)


def _intra_op_threads_exit() -> None:
    global _threads_users
    with _threads_lock:
        _threads_users -= 1
        if _threads_users == 0:
            torch.set_num_threads(_threads_saved)


def untrained_loss(model_config: ModelConfig, vocab_size: int) -> float:
    """The loss per example of a model that has learnt nothing (every score 0: output rows start at zero).

    (1 + k) ln 2 with negative sampling (k = 5: 4.16), ln V with the full softmax. A loss above this means the
    run made the model worse than untrained: it diverged.
    """
    if model_config.loss == "softmax":
        return math.log(max(int(vocab_size), 2))
    return (model_config.negative + 1) * math.log(2)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Progress:
    """What a callback is told while training runs."""

    epoch: int  # 1-based epoch in progress
    epochs: int
    fraction: float  # of the whole run, 0..1
    words_done: int  # raw corpus tokens processed so far (all epochs)
    total_words: int  # raw corpus tokens x epochs
    loss: float  # mean loss per example since the previous report
    smoothed_loss: float  # exponential moving average of `loss`
    lr: float
    words_per_sec: float
    elapsed: float  # seconds
    eta: float  # seconds left (estimate)


class Callback:
    """Override what you need. Called from the training thread: never touch UI state here directly."""

    def on_train_begin(self, info: dict[str, Any]) -> None: ...
    def on_batch_end(self, progress: Progress) -> None: ...
    def on_epoch_end(self, epoch: int, epoch_loss: float, progress: Progress) -> None: ...
    def on_epoch_retry(self, epoch: int, message: str) -> None:
        """The epoch blew up and starts again from its first weights at a lower learning rate; the batch reports
        since its start are void."""
    def on_train_end(self, result: "TrainResult") -> None: ...


@dataclass
class TrainResult:
    vocab: Vocabulary
    model: Word2Vec
    model_config: ModelConfig
    train_config: TrainConfig  # as resolved (lr, batch size, threads filled in)
    corpus_info: dict[str, Any]
    history: dict[str, list]
    summary: dict[str, Any]

    @property
    def vectors(self):
        from w2v_core.vectors import WordVectors

        return WordVectors(list(self.vocab.words), self.model.w_in.detach().float().cpu().numpy().copy(),
                           self.vocab.counts.copy())

    def tensors(self) -> dict[str, np.ndarray]:
        out = {"in": self.model.w_in.detach().cpu().numpy(), "out": self.model.w_out.detach().cpu().numpy()}
        if self.model.out_bias is not None:
            out["out_bias"] = self.model.out_bias.detach().cpu().numpy()
        return out

    def config_dict(self) -> dict[str, Any]:
        """How the model was made (saved as config.json next to the weights)."""
        return {"corpus": self.corpus_info, "model": asdict(self.model_config),
                "train": asdict(self.train_config), "summary": self.summary}

    def save(self, path, name: str | None = None):
        """Save as a model folder (see ``store.save_model``); returns its path."""
        from w2v_core import store

        cfg = self.config_dict()
        if name:
            cfg["name"] = name
        return store.save_model(path, self.vectors, cfg, tensors=self.tensors(), history=self.history)


@dataclass
class _Run:
    """What the worker threads of one epoch share (counters behind ``lock``)."""

    epoch: int  # 0-based
    total: int  # in-vocabulary tokens x epochs
    scale: float  # raw tokens per in-vocabulary token
    start: float  # perf_counter() when training started
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: float = 0.0  # in-vocabulary tokens processed, all epochs
    loss_sum: float = 0.0  # this epoch
    loss_n: float = 0.0
    last_report: float = 0.0
    error: BaseException | None = None
    blowup: float | None = None  # the loss that made this attempt of the epoch stop
    reports: int = 0  # progress reports made in this attempt (the blown-up one included)
    next_chunk: int = 0  # the next chunk of this epoch that no worker has taken
    abort: threading.Event = field(default_factory=threading.Event)


def encode_corpus(corpus, remap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corpus ids -> vocabulary ids with out-of-vocabulary tokens removed; documents keep their places."""
    mapped = remap[corpus.ids]
    keep = mapped >= 0
    csum = np.zeros(len(mapped) + 1, dtype=np.int64)
    np.cumsum(keep, out=csum[1:])
    return mapped[keep].astype(np.int32), csum[np.asarray(corpus.offsets, dtype=np.int64)]


def chunk_bounds(offsets: np.ndarray, n_tokens: int, chunk_tokens: int) -> list[tuple[int, int, np.ndarray]]:
    """Split the stream into chunks of about `chunk_tokens` tokens, each with its local document offsets.

    Chunks end on document boundaries when a document boundary is near; a longer document is cut.
    """
    chunks = []
    a = 0
    while a < n_tokens:
        b = min(a + chunk_tokens, n_tokens)
        if b < n_tokens:  # prefer to end at the last document boundary inside the chunk's second half
            i = np.searchsorted(offsets, b, side="right") - 1
            if offsets[i] > a + chunk_tokens // 2:
                b = int(offsets[i])
        inner = offsets[(offsets > a) & (offsets < b)]
        local = np.concatenate([[a], inner, [b]]).astype(np.int64) - a
        chunks.append((a, b, local))
        a = b
    return chunks


class Trainer:
    """Trains one model on one corpus. ``train()`` blocks; run it in a thread to keep a UI responsive."""

    def __init__(self, corpus, model_config: ModelConfig = ModelConfig(), train_config: TrainConfig = TrainConfig(),
                 callbacks: Sequence[Callback] = (), stop_event: threading.Event | None = None):
        model_config.validate()
        train_config.validate()
        self.corpus = corpus
        self.device = resolve_device(train_config.device)
        dev = "cuda" if self.device.type == "cuda" else "cpu"
        threads = 1 if dev == "cuda" else (train_config.threads or default_threads())
        batch = train_config.batch_size or default_batch(dev, model_config.arch, threads)
        chunk = train_config.chunk_tokens or (GPU_CHUNK if dev == "cuda" else max(CPU_CHUNK, 8 * batch))
        self.model_config = model_config
        self.train_config = replace(
            train_config,
            lr=train_config.lr or DEFAULT_LR[model_config.arch],
            batch_size=batch,
            threads=threads,
            chunk_tokens=chunk,
            shared_negatives=train_config.shared_negatives or max(DEFAULT_POOL[model_config.arch], model_config.negative),
            block_size=train_config.block_size or DEFAULT_BLOCK[model_config.arch],
            shuffle=DEFAULT_SHUFFLE[model_config.arch] if train_config.shuffle is None else train_config.shuffle,
            device=str(self.device),
        )
        self.callbacks = list(callbacks)
        self.stop_event = stop_event or threading.Event()
        self.history: dict[str, list] = {"batch": [], "epoch": [], "retries": []}
        self.lr_scale = 1.0  # halved at each retry of a blown-up epoch
        self.batch_boost = 1.0  # set in _prepare (batch_lr_boost)

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        mc, tc = self.model_config, self.train_config
        self.vocab, remap = Vocabulary.from_corpus(self.corpus, mc.min_count, mc.max_vocab)
        ids, offsets = encode_corpus(self.corpus, remap)
        if len(ids) < 2:
            raise W2VError("After min_count the corpus has fewer than 2 tokens: lower min_count or use more text.")
        lengths = np.diff(offsets)
        if mc.window >= 1 and lengths.max() < 2:
            raise W2VError("Every document has fewer than 2 in-vocabulary words, so no word has any context. "
                           "Use longer documents (one per line) or lower min_count.")
        self.ids = torch.from_numpy(ids).to(self.device)  # int32; on a GPU the whole corpus lives there
        self.offsets = offsets
        chunk = tc.chunk_tokens
        if tc.threads > 1:  # at least ~8 chunks per worker, so that no worker idles long at the end of an epoch
            chunk = max(MIN_CHUNK, min(chunk, -(-len(ids) // (8 * tc.threads))))
        self.chunks = chunk_bounds(offsets, len(ids), chunk)
        dev = self.device
        self.keep_prob = torch.from_numpy(self.vocab.keep_probs(mc.sample)).to(dev) if mc.sample > 0 else None
        self.neg_table = (torch.from_numpy(self.vocab.negative_table()).to(dev)
                          if mc.loss == "negative" else None)
        gen = torch.Generator().manual_seed(tc.seed)
        self.model = build_model(len(self.vocab), mc)
        self.model.reset_parameters(gen)
        self.model.to(dev)
        self.threads_running = max(1, min(tc.threads, len(self.chunks)))
        # how many batches can be in flight at once, all computed from the same weights
        self.workers = tc.emulate_workers if tc.emulate_workers > 1 else self.threads_running
        kappa = (BIG_BATCH_BOUND if tc.batch_size >= BIG_BATCH else ROW_STEP_BOUND)[mc.arch]
        self.bound = RowBound(len(self.vocab), dev, self.workers, kappa) if tc.update == "bounded" else RowBound.off(dev)
        self.untrained = untrained_loss(mc, len(self.vocab))
        if tc.update == "bounded":
            self.batch_boost = batch_lr_boost(mc.arch, self.workers * tc.batch_size, dev.type)
        if mc.loss == "negative":
            warm_up(mc.arch, mc.dim, mc.negative, dev)
        self.raw_tokens = int(self.corpus.n_tokens)
        self.encoded_tokens = len(ids)

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
        tc, mc = self.train_config, self.model_config
        epochs = tc.epochs
        total = self.encoded_tokens * epochs
        scale = self.raw_tokens / max(self.encoded_tokens, 1)  # raw tokens per in-vocabulary token
        self._ema: float | None = None
        info = {"vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
                "epochs": epochs, "device": str(self.device), "threads": tc.threads, "batch_size": tc.batch_size,
                "lr": tc.lr, "untrained_loss": self.untrained, "words": self.vocab.words, "snapshot": self.snapshot}
        for cb in self.callbacks:
            cb.on_train_begin(info)
        cpu = self.device.type == "cpu"
        if cpu:
            _intra_op_threads_enter()
        start = time.perf_counter()
        done = 0.0
        epochs_done = 0
        try:
            # the start of the last two epochs: (epoch, weights, reports so far, tokens done), to roll back to
            marks: list[tuple[int, list[torch.Tensor], int, float]] = []
            epoch = 0
            while epoch < epochs and not self.stop_event.is_set():
                if not marks or marks[-1][0] != epoch:
                    marks = marks[-1:] + [(epoch, [t.clone() for t in self._tables()], len(self.history["batch"]), done)]
                run = _Run(epoch, total, scale, start, done=done, last_report=time.perf_counter())
                self._run_epoch(run)
                if run.error is not None:
                    raise run.error
                eloss = run.loss_sum / max(run.loss_n, 1.0)
                stopped = self.stop_event.is_set() and run.done < self.encoded_tokens * (epoch + 1) - 0.5
                problem = run.blowup if run.blowup is not None else (None if stopped else self._epoch_problem(eloss))
                if problem is not None:
                    # a loss that is already wrong at the epoch's first report was made by the previous epoch's
                    # last batches (it is measured before each update): go back to that epoch's start
                    if run.reports <= 1 and len(marks) == 2:
                        marks = marks[:1]
                    epoch, saved, n_reports, done = marks[-1]
                    del self.history["epoch"][epoch:]
                    epochs_done = epoch
                    self._retry(epoch, problem, saved, n_reports)
                    continue
                done = run.done
                if stopped:
                    break
                epochs_done = epoch + 1
                self.history["epoch"].append({"epoch": epoch + 1, "loss": eloss})
                prog = self._progress(run, epoch + 1, eloss)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch + 1, eloss, prog)
                epoch += 1
        finally:
            if cpu:
                _intra_op_threads_exit()
        seconds = time.perf_counter() - start
        if not torch.isfinite(self.model.w_in).all():
            raise self._diverged(float("nan"), max(epochs_done, 1))
        stopped = epochs_done < epochs
        words_done = done * scale
        final_loss = self.history["epoch"][-1]["loss"] if self.history["epoch"] else (
            self.history["batch"][-1]["loss"] if self.history["batch"] else float("nan"))
        summary = {
            "vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
            "epochs": epochs_done if not stopped else round(done / max(self.encoded_tokens, 1), 3),
            "seconds": round(seconds, 3), "words_per_sec": round(words_done / max(seconds, 1e-9), 1),
            "final_loss": None if not math.isfinite(final_loss) else round(final_loss, 6),
            "untrained_loss": round(self.untrained, 6),
            "stopped": stopped, "device": str(self.device), "threads": tc.threads, "batch_size": tc.batch_size,
            "lr_retries": len(self.history["retries"]), "final_lr_scale": self.lr_scale,
            "lr_batch_boost": round(self.batch_boost, 4),
        }
        result = TrainResult(self.vocab, self.model, mc, tc, self.corpus_info(), self.history, summary)
        for cb in self.callbacks:
            cb.on_train_end(result)
        return result

    def _tables(self) -> list[torch.Tensor]:
        m = self.model
        return [m.w_in, m.w_out] + ([m.out_bias] if m.out_bias is not None else [])

    def _epoch_problem(self, eloss: float) -> float | None:
        """The loss that says this epoch went wrong: not finite, above an untrained model's, or well above the
        previous epoch's (with a decaying learning rate the loss only rises when steps overshoot)."""
        prev = self.history["epoch"][-1]["loss"] if self.history["epoch"] else None
        rose = prev is not None and eloss - prev > RISE_SHARE * (self.untrained - prev)
        if not math.isfinite(eloss) or eloss > self.untrained * WORSE or rose:
            return eloss
        return None

    def _retry(self, epoch: int, loss: float, saved: list[torch.Tensor], n_reports: int) -> None:
        """Roll the epoch back to its first weights and halve the learning rate, or give up."""
        if len(self.history["retries"]) >= MAX_RETRIES:
            raise self._diverged(loss, epoch + 1)
        for t, s in zip(self._tables(), saved):
            t.copy_(s)
        if self.bound.kappa > 0:  # a tighter bound too (a bounded step does not shrink with the rate alone)
            self.bound = RowBound(len(self.vocab), self.device, self.workers, self.bound.kappa * 0.5)
        self.lr_scale *= 0.5
        lr = self.train_config.lr * self.lr_scale
        self.history["retries"].append({"epoch": epoch + 1, "loss": loss, "lr": lr})
        del self.history["batch"][n_reports:]
        msg = (f"Epoch {epoch + 1} blew up (loss {loss:.4g}; untrained {self.untrained:.2f}): "
               f"starting it again at learning rate {lr:.3g}.")
        log.warning(msg)
        for cb in self.callbacks:
            cb.on_epoch_retry(epoch + 1, msg)

    def snapshot(self, rows: np.ndarray | None = None) -> np.ndarray:
        """A float32 CPU copy of the input vectors (all rows, or ``rows``), as they are now.

        Callbacks may call it from the training thread (``info["snapshot"]`` in ``on_train_begin``) to keep
        the vectors at points of the run, e.g. to show the map forming. Other workers keep writing meanwhile
        (Hogwild), so a copy taken mid-epoch is a blend of a few batches: fine for a picture.
        """
        w = self.model.w_in
        if rows is not None:
            w = w.index_select(0, torch.as_tensor(np.asarray(rows, dtype=np.int64), device=w.device))
        return w.detach().float().cpu().numpy().copy()

    def _diverged(self, loss: float, epoch: int) -> W2VError:
        """Stop the run and say what to change (epoch is 1-based)."""
        self.stop_event.set()
        tc = self.train_config
        tried = f" (it was {tc.lr:g}, and {tc.lr * self.lr_scale:.3g} on the last retry)" if self.lr_scale < 1 else (
            f" (it was {tc.lr:g})")
        return W2VError(f"Training diverged in epoch {epoch} (the loss became {loss:.4g}, an untrained model scores "
                        f"{self.untrained:.2f}). Lower the learning rate{tried}.")

    def _run_epoch(self, run: _Run) -> None:
        n_workers = self.threads_running
        if n_workers <= 1:
            self._worker(run)
            return
        # workers take the next chunk when they are free, so neither idles while the other has work
        threads = [threading.Thread(target=self._worker, args=(run,), daemon=True) for _ in range(n_workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _worker(self, run: _Run) -> None:
        try:
            if self.device.type == "cpu":
                torch.set_num_threads(1)  # OpenMP's setting is partly per thread: make sure for this one
            self._work(run)
        except BaseException as e:  # surfaced by the main thread
            run.error = e
            run.abort.set()

    def _chunk_windows(self, epoch: int, ci: int):
        """Subsampling, radii and packed windows of one chunk, from the chunk's own seeded generator."""
        tc, mc = self.train_config, self.model_config
        dev = self.device
        a, b, local = self.chunks[ci]
        g = torch.Generator(device=dev).manual_seed(tc.seed * 1_000_003 + epoch * 10_007 + ci)
        ids = self.ids[a:b].to(dev, non_blocking=True).long()
        offs = torch.from_numpy(local).to(dev)
        kept, koffs, _ = subsample(ids, offs, self.keep_prob, g)
        stream = Stream.from_offsets(kept, koffs)
        radii = draw_radii(len(stream), mc.window, g, dev)
        order = torch.randperm(len(stream), generator=g, device=dev) if tc.shuffle else None
        return packed_windows(stream, radii, mc.window, order=order), g, b - a

    def _lr_at(self, done: float, total: int) -> float:
        """word2vec's linear decay, times the big-batch boost (ramped in over the first ``BOOST_WARMUP`` of the run)
        and the retries' back-off."""
        tc = self.train_config
        frac = done / max(total, 1)
        boost = 1.0 + (self.batch_boost - 1.0) * min(1.0, frac / BOOST_WARMUP[self.model_config.arch])
        lr0 = tc.lr * self.lr_scale
        return max(lr0 * tc.min_lr_fraction, lr0 * boost * (1.0 - frac))

    @torch.no_grad()
    def _work(self, run: _Run) -> None:
        tc, mc = self.train_config, self.model_config
        dev = self.device
        B = tc.batch_size
        loss_acc = torch.zeros((), device=dev)
        n_acc = torch.zeros((), device=dev)
        bound = self.bound
        while True:
            with run.lock:
                ci = run.next_chunk
                run.next_chunk += 1
                done = run.done
            if ci >= len(self.chunks) or self.stop_event.is_set() or run.abort.is_set():
                break
            win, g, chunk_len = self._chunk_windows(run.epoch, ci)
            n = len(win)
            if n > 0:
                # the rate falls while this chunk runs, and the other workers move the run on meanwhile
                lr0 = self._lr_at(done, run.total)
                lr1 = self._lr_at(done + chunk_len * self.threads_running, run.total)
                loss, cnt = self._train_chunk(win, g, B, lr0, lr1, bound)
                loss_acc += loss
                n_acc += cnt
            now = time.perf_counter()
            with run.lock:
                run.done += chunk_len
                # at least one report per epoch, so that a small corpus still draws a curve
                report = now - run.last_report >= tc.report_every or ci == len(self.chunks) - 1
                if report:
                    run.last_report = now
            if report:
                self._report(run, loss_acc, n_acc)
                loss_acc = torch.zeros((), device=dev)
                n_acc = torch.zeros((), device=dev)
        self._report(run, loss_acc, n_acc, call=False)

    def _train_chunk(self, win, g: torch.Generator, B: int, lr0: float, lr1: float, b: RowBound):
        """All batches of one chunk; returns the summed loss and examples of the batches whose loss was taken."""
        tc, mc = self.train_config, self.model_config
        dev = self.device
        n = len(win)
        n_batches = (n + B - 1) // B
        counts = win.counts.to(torch.float32)
        cuts = win.starts[::B].tolist() + [int(win.ctx.shape[0])]  # one host read per chunk
        # batch-local row numbers and context starts for all batches at once (centre i is in batch i // B)
        centre_batch = torch.arange(n, device=dev).div_(B, rounding_mode="floor")
        first = centre_batch * B
        batch_of = centre_batch.index_select(0, win.rows)  # each context entry's batch (a gather: 3x faster than %)
        rows = win.rows - batch_of * B
        starts = win.starts[:-1] - win.starts.index_select(0, first)
        blocks = -(-min(B, n) // tc.block_size)
        blk = -(-min(B, n) // blocks)
        table = self.neg_table
        negs = (table[torch.randint(len(table), (n_batches, blocks, tc.shared_negatives), generator=g, device=dev)]
                .long() if table is not None else None)
        if mc.loss == "negative" and tc.emulate_workers <= 1:
            groups, group_cuts = chunk_groups(mc.arch, rows, batch_of, win.ctx, self.model.w_in.shape[0], cuts)
            chunk = Examples(win.centres, win.ctx, rows, starts, counts, negs)
            schedule = Schedule(B, cuts, lr0, lr1, float(mc.negative), tc.loss_every)
            return scripted(run_chunk, dev)(mc.arch == "skipgram", Tables(self.model.w_in, self.model.w_out), chunk,
                                            schedule, b.for_kernel(), groups, group_cuts)
        # the full softmax, or emulated concurrent workers: one batch at a time from Python
        group = tc.emulate_workers
        dst = None
        if group > 1:
            dst = tuple(torch.zeros_like(t) for t in (self.model.w_in, self.model.w_out))
        loss_sum = torch.zeros((), device=dev)
        n_sum = torch.zeros((), device=dev)
        for bi in range(n_batches):
            c0, c1 = bi * B, min((bi + 1) * B, n)
            p0, p1 = cuts[bi], cuts[bi + 1]
            nb = -(-(c1 - c0) // blk)
            batch = PackedBatch(win.centres[c0:c1], win.ctx[p0:p1], rows[p0:p1], starts[c0:c1], counts[c0:c1],
                                negs[bi, :nb] if negs is not None else None)
            want = bi % tc.loss_every == 0
            # in an emulated round every batch reads the weights of the round's start
            lr = lr0 + (lr1 - lr0) * (bi - bi % group) / n_batches
            loss, cnt = self.model.step_packed(batch, lr, want, b, dst)
            if want:
                loss_sum += loss
                n_sum += cnt
            if dst is not None and (bi % group == group - 1 or bi == n_batches - 1):
                for t, d in zip((self.model.w_in, self.model.w_out), dst):
                    t.add_(d)
                    d.zero_()
        return loss_sum, n_sum

    def _report(self, run: _Run, loss_acc: torch.Tensor, n_acc: torch.Tensor, call: bool = True) -> None:
        ls, n = float(loss_acc.item()), float(n_acc.item())
        with run.lock:
            run.loss_sum += ls
            run.loss_n += n
            if n <= 0:
                return
            loss = ls / n
            run.reports += 1
            if run.blowup is None and (not math.isfinite(loss) or loss > BLOWUP_FACTOR * self.untrained):
                run.blowup = loss  # the epoch stops here and is retried (Trainer.train)
                run.abort.set()
            if not call or run.blowup is not None:
                return
            prog = self._progress(run, run.epoch + 1, loss)
            self.history["batch"].append({"fraction": round(prog.fraction, 5), "words": prog.words_done,
                                          "loss": loss, "smoothed": prog.smoothed_loss, "epoch": run.epoch + 1})
            for cb in self.callbacks:
                cb.on_batch_end(prog)

    def _progress(self, run: _Run, epoch: int, loss: float) -> Progress:
        elapsed = time.perf_counter() - run.start
        frac = min(1.0, run.done / max(run.total, 1))
        if math.isfinite(loss):
            self._ema = loss if self._ema is None else 0.9 * self._ema + 0.1 * loss
        words = run.done * run.scale
        wps = words / max(elapsed, 1e-9)
        tc = self.train_config
        eta = (run.total - run.done) * run.scale / wps if wps > 0 else float("inf")
        return Progress(epoch=epoch, epochs=tc.epochs, fraction=frac, words_done=int(words),
                        total_words=int(run.total * run.scale), loss=loss,
                        smoothed_loss=self._ema if self._ema is not None else loss, lr=self._lr_at(run.done, run.total),
                        words_per_sec=wps, elapsed=elapsed, eta=eta)


class LogCallback(Callback):
    """Progress lines through a function (the CLI passes one that writes to stderr)."""

    def __init__(self, write: Callable[[str], None], every: float = 2.0):
        self.write, self.every, self._last = write, every, 0.0

    def on_batch_end(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.write(f"epoch {p.epoch}/{p.epochs}  {p.fraction * 100:5.1f}%  loss {p.smoothed_loss:.4f}  "
                       f"lr {p.lr:.5f}  {p.words_per_sec:,.0f} words/s  ETA {p.eta:.0f}s")

    def on_epoch_end(self, epoch: int, epoch_loss: float, p: Progress) -> None:
        self.write(f"epoch {epoch}/{p.epochs} done: loss {epoch_loss:.4f}, {p.words_per_sec:,.0f} words/s")

    def on_epoch_retry(self, epoch: int, message: str) -> None:
        self.write(message)
