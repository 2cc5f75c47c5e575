"""Training: turn a corpus into word vectors, reporting progress through callbacks.

The Trainer knows the data pipeline (vocabulary, subsampling, windows, negatives) and the schedule
(linear learning-rate decay, as in word2vec), but nothing about who is watching: the app's live loss chart
and the command line's log line are both callbacks (as in minGPT's trainer).

One epoch walks the corpus in chunks of about ``chunk_tokens`` tokens. Each chunk gets its own random
generator seeded from ``(seed, epoch, chunk)``, so subsampling, window radii and negatives do not depend on
thread timing. With ``threads > 1`` worker threads take the next chunk when they are free and update the same
tables without locks ("Hogwild", as word2vec and gensim do); only then is a run not bit-for-bit repeatable.

What makes it fast (measured against gensim in ``benchmarks/``): a chunk's windows are built at once and packed
(real context words only); a batch shares one pool of negatives; the step runs as TorchScript with the GIL
released; each worker uses one intra-op thread; the loss is computed on every ``loss_every``-th batch and read
back only when progress is reported (on a GPU nothing waits for the device between reports). Batches are
capped so that no word fills too much of one (``safe_batch_size``): summed updates to one row diverge.
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
from w2v_core.models import ModelConfig, PackedBatch, Word2Vec, build_model, warm_up
from w2v_core.vocab import Vocabulary
from w2v_core.windows import Stream, draw_radii, packed_windows, subsample

log = logging.getLogger(__name__)

DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}
# centre words per batch; measured on 2 CPU cores (see benchmarks/), larger on a GPU
# A batch sums the updates of every example in it, so a word that fills a large share of a batch gets one
# huge step where sequential SGD would take many small self-correcting ones, and training diverges. The batch
# is kept small enough that its most frequent word (after subsampling) appears about this many times at most:
# as a centre for CBOW, as a context word (window + 1 per centre on average) for Skip-gram.
MAX_ROW_REPEATS = {"cbow": 8.0, "skipgram": 20.0}
MIN_BATCH = 16
MIN_CHUNK = 2_000
DEFAULT_POOL = 32  # negatives shared per batch (each stands for k / N of an example's k negatives)
DEFAULT_BATCH = {("cpu", "skipgram"): 256, ("cpu", "cbow"): 512, ("cuda", "skipgram"): 16384, ("cuda", "cbow"): 32768}


@dataclass(frozen=True)
class TrainConfig:
    """How to train: schedule, batching, parallelism and randomness."""

    epochs: int = 5
    lr: float | None = None  # starting learning rate; None = word2vec's default for the architecture
    min_lr_fraction: float = 1e-4  # the rate decays linearly to lr * this
    batch_size: int | None = None  # centre words per batch at most; None = tuned default (see safe_batch_size)
    threads: int = 0  # worker threads on the CPU; 0 = one per core
    seed: int = 1
    device: str = "auto"  # "auto" (CUDA when present) | "cpu" | "cuda"
    chunk_tokens: int = 50_000  # tokens per chunk of an epoch (bounds memory)
    report_every: float = 0.25  # seconds between progress reports to callbacks
    shared_negatives: int | None = None  # N, negatives drawn per batch and shared by its examples; None = default
    loss_every: int = 4  # compute the loss on every n-th batch only (it is only shown, never trained on)
    # batches of centres drawn from all over a chunk, not consecutive (see Windows.permute): better vectors on
    # small corpora (WikiText-2 valid, CBOW: SimLex 0.064 -> 0.084, gensim 0.11), ~10% slower CBOW; off by default
    shuffle: bool = False

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
        if not 1 <= self.loss_every <= 1_000_000:
            raise W2VError(f"loss_every must be at least 1 (got {self.loss_every}).")
        if not 1_000 <= self.chunk_tokens <= 100_000_000:
            raise W2VError(f"chunk_tokens must be between 1,000 and 100,000,000 (got {self.chunk_tokens}).")
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


def safe_batch_size(requested: int, vocab: Vocabulary, model_config: ModelConfig) -> int:
    """The largest batch (at most ``requested``) in which the most frequent word stays below ``MAX_ROW_REPEATS``.

    Why: a row's updates within a batch are summed from the same old weights; past a few dozen repeats that
    overshoots and diverges (tiny vocabularies, no subsampling). Large real corpora keep the requested size.
    """
    kept = vocab.counts.astype(np.float64) * vocab.keep_probs(model_config.sample)
    share = float(kept.max() / kept.sum())
    per_centre = 1.0 if model_config.arch == "cbow" else model_config.window + 1.0
    bound = MAX_ROW_REPEATS[model_config.arch] / (share * per_centre)
    return int(max(min(requested, bound), min(MIN_BATCH, requested)))


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
class _Shared:
    """State the worker threads share (behind `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: float = 0.0  # encoded tokens processed, all epochs
    epoch_loss_sum: float = 0.0
    epoch_loss_n: float = 0.0
    last_report: float = 0.0
    error: BaseException | None = None
    next_chunk: int = 0  # the next chunk of this epoch that no worker has taken


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
        threads = train_config.threads or (os.cpu_count() or 1)
        if dev == "cuda":
            threads = 1
        self.model_config = model_config
        self.train_config = replace(
            train_config,
            lr=train_config.lr or DEFAULT_LR[model_config.arch],
            batch_size=train_config.batch_size or DEFAULT_BATCH[(dev, model_config.arch)],
            threads=threads,
            device=str(self.device),
        )
        self.callbacks = list(callbacks)
        self.stop_event = stop_event or threading.Event()
        self.history: dict[str, list] = {"batch": [], "epoch": []}

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
        safe = safe_batch_size(tc.batch_size, self.vocab, mc)
        if safe < tc.batch_size:
            log.info("Batch size lowered from %d to %d: the most frequent word would repeat too often in a batch.",
                     tc.batch_size, safe)
            self.train_config = tc = replace(tc, batch_size=safe)
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
        warm_up(mc, dev)
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
        total_enc = self.encoded_tokens * epochs
        scale = self.raw_tokens / max(self.encoded_tokens, 1)  # raw tokens per in-vocabulary token
        sh = _Shared()
        self._ema: float | None = None
        info = {"vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
                "epochs": epochs, "device": str(self.device), "threads": tc.threads, "batch_size": tc.batch_size,
                "lr": tc.lr, "words": self.vocab.words, "snapshot": self.snapshot}
        for cb in self.callbacks:
            cb.on_train_begin(info)
        cpu = self.device.type == "cpu"
        if cpu:
            _intra_op_threads_enter()
        start = time.perf_counter()
        sh.last_report = start
        epochs_done = 0
        try:
            for epoch in range(epochs):
                if self.stop_event.is_set():
                    break
                sh.epoch_loss_sum = sh.epoch_loss_n = 0.0
                self._run_epoch(epoch, sh, total_enc, scale, start)
                if sh.error is not None:
                    raise sh.error
                if self.stop_event.is_set() and sh.done < self.encoded_tokens * (epoch + 1) - 0.5:
                    break
                epochs_done = epoch + 1
                eloss = sh.epoch_loss_sum / max(sh.epoch_loss_n, 1.0)
                self._check_finite(eloss, epoch + 1)
                self.history["epoch"].append({"epoch": epoch + 1, "loss": eloss})
                prog = self._progress(sh, epoch + 1, total_enc, scale, start, eloss)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch + 1, eloss, prog)
        finally:
            if cpu:
                _intra_op_threads_exit()
        seconds = time.perf_counter() - start
        if not torch.isfinite(self.model.w_in).all():
            raise W2VError("Training diverged: the word vectors contain NaN/inf. Lower the learning rate.")
        stopped = epochs_done < epochs
        words_done = sh.done * scale
        final_loss = self.history["epoch"][-1]["loss"] if self.history["epoch"] else (
            self.history["batch"][-1]["loss"] if self.history["batch"] else float("nan"))
        summary = {
            "vocab_size": len(self.vocab), "tokens": self.raw_tokens, "train_tokens": self.encoded_tokens,
            "epochs": epochs_done if not stopped else round(sh.done / max(self.encoded_tokens, 1), 3),
            "seconds": round(seconds, 3), "words_per_sec": round(words_done / max(seconds, 1e-9), 1),
            "final_loss": None if not math.isfinite(final_loss) else round(final_loss, 6),
            "stopped": stopped, "device": str(self.device), "threads": tc.threads,
        }
        result = TrainResult(self.vocab, self.model, mc, tc, self.corpus_info(), self.history, summary)
        for cb in self.callbacks:
            cb.on_train_end(result)
        return result

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
        return W2VError(f"Training diverged in epoch {epoch} (the loss became {loss}). "
                        f"Lower the learning rate (it was {self.train_config.lr}).")

    def _check_finite(self, loss: float, epoch: int) -> None:
        if not math.isfinite(loss):
            raise self._diverged(loss, epoch)

    def _run_epoch(self, epoch: int, sh: _Shared, total_enc: int, scale: float, start: float) -> None:
        tc = self.train_config
        n_workers = min(tc.threads, len(self.chunks))
        sh.next_chunk = 0
        if n_workers <= 1:
            self._worker(epoch, sh, total_enc, scale, start)
            return
        # workers take the next chunk when they are free, so neither idles while the other has work
        threads = [threading.Thread(target=self._worker, args=(epoch, sh, total_enc, scale, start), daemon=True)
                   for _ in range(n_workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _worker(self, epoch: int, sh: _Shared, total_enc: int, scale: float, start: float) -> None:
        try:
            if self.device.type == "cpu":
                torch.set_num_threads(1)  # OpenMP's setting is partly per thread: make sure for this one
            self._work(epoch, sh, total_enc, scale, start)
        except BaseException as e:  # surfaced by the main thread
            sh.error = e
            self.stop_event.set()

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

    @torch.no_grad()
    def _work(self, epoch, sh, total_enc, scale, start) -> None:
        tc, mc = self.train_config, self.model_config
        dev = self.device
        model = self.model
        lr0, lr_min = tc.lr, tc.lr * tc.min_lr_fraction
        B = tc.batch_size
        table = self.neg_table
        pool = tc.shared_negatives or max(DEFAULT_POOL, mc.negative)
        loss_acc = torch.zeros((), device=dev)
        n_acc = torch.zeros((), device=dev)
        nb = 0
        while True:
            with sh.lock:
                ci = sh.next_chunk
                sh.next_chunk += 1
            if ci >= len(self.chunks) or self.stop_event.is_set():
                break
            win, g, chunk_len = self._chunk_windows(epoch, ci)
            n = len(win)
            if n == 0:  # nothing to learn from (every word subsampled away or alone in its document)
                with sh.lock:
                    sh.done += chunk_len
                continue
            counts = win.counts.to(torch.float32)
            n_batches = (n + B - 1) // B
            cuts = win.starts[::B].tolist() + [int(win.ctx.shape[0])]  # one host read per chunk
            # batch-local row numbers and context starts for all batches at once (centre i is in batch i // B)
            rows = win.rows % B
            first = torch.arange(n, device=dev).div_(B, rounding_mode="floor").mul_(B)
            starts = win.starts[:-1] - win.starts.index_select(0, first)
            negs_all = (table[torch.randint(len(table), (n_batches, pool), generator=g, device=dev)].long()
                        if table is not None else None)
            for bi in range(n_batches):
                if self.stop_event.is_set():
                    break
                c0, c1 = bi * B, min((bi + 1) * B, n)
                p0, p1 = cuts[bi], cuts[bi + 1]
                batch = PackedBatch(win.centres[c0:c1], win.ctx[p0:p1], rows[p0:p1], starts[c0:c1], counts[c0:c1],
                                    negs_all[bi] if negs_all is not None else None)
                lr = max(lr_min, lr0 * (1.0 - sh.done / total_enc))
                want = nb % tc.loss_every == 0
                nb += 1
                loss, cnt = model.step_packed(batch, lr, want)
                if want:
                    loss_acc += loss
                    n_acc += cnt
                now = time.perf_counter()
                with sh.lock:
                    sh.done += chunk_len * (c1 - c0) / n
                    report = now - sh.last_report >= tc.report_every
                    if report:
                        sh.last_report = now
                if report:
                    self._report(sh, epoch, total_enc, scale, start, loss_acc, n_acc)
                    loss_acc = torch.zeros((), device=dev)
                    n_acc = torch.zeros((), device=dev)
                    nb = 0
        if n_acc.item() > 0:
            self._report(sh, epoch, total_enc, scale, start, loss_acc, n_acc, call=False)

    def _report(self, sh, epoch, total_enc, scale, start, loss_acc, n_acc, call: bool = True) -> None:
        ls, n = float(loss_acc.item()), float(n_acc.item())
        with sh.lock:
            sh.epoch_loss_sum += ls
            sh.epoch_loss_n += n
            if n <= 0 or not call:
                return
            loss = ls / n
            if not math.isfinite(loss):
                sh.error = self._diverged(loss, epoch + 1)
                return
            prog = self._progress(sh, epoch + 1, total_enc, scale, start, loss)
            self.history["batch"].append({"fraction": round(prog.fraction, 5), "words": prog.words_done,
                                          "loss": loss, "smoothed": prog.smoothed_loss, "epoch": epoch + 1})
            for cb in self.callbacks:
                cb.on_batch_end(prog)

    def _progress(self, sh, epoch, total_enc, scale, start, loss) -> Progress:
        elapsed = time.perf_counter() - start
        frac = min(1.0, sh.done / max(total_enc, 1))
        if math.isfinite(loss):
            self._ema = loss if self._ema is None else 0.9 * self._ema + 0.1 * loss
        words = sh.done * scale
        wps = words / max(elapsed, 1e-9)
        tc = self.train_config
        lr = max(tc.lr * tc.min_lr_fraction, tc.lr * (1.0 - frac))
        eta = (total_enc - sh.done) * scale / wps if wps > 0 else float("inf")
        return Progress(epoch=epoch, epochs=tc.epochs, fraction=frac, words_done=int(words),
                        total_words=int(total_enc * scale), loss=loss,
                        smoothed_loss=self._ema if self._ema is not None else loss, lr=lr,
                        words_per_sec=wps, elapsed=elapsed, eta=eta)


def train(corpus, model_config: ModelConfig = ModelConfig(), train_config: TrainConfig = TrainConfig(),
          callbacks: Sequence[Callback] = (), stop_event: threading.Event | None = None) -> TrainResult:
    """Convenience wrapper: ``Trainer(...).train()``."""
    return Trainer(corpus, model_config, train_config, callbacks, stop_event).train()


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
