"""The worker pool: one epoch's chunks of the corpus, trained by worker threads that share the tables.

One epoch walks the corpus in chunks of about ``chunk_tokens`` tokens (:func:`chunk_bounds`). Each chunk gets its
own random generator seeded from ``(seed, epoch, chunk)``, so subsampling, window radii and negatives do not depend
on thread timing. Worker threads take the next chunk when they are free and update the same tables without locks
("Hogwild", as word2vec and gensim do); only with more than one is a run not bit-for-bit repeatable. A chunk's
batches all run in one compiled call (``kernels.run_chunk``, the GIL released); the full softmax, and emulated
workers (:class:`Tuning`), run one batch at a time from Python through ``Word2Vec.step_packed``.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from w2v_core import hsoftmax, subword_steps
from w2v_core.errors import W2VError
from w2v_core.kernels import (Examples, RowBound, Schedule, Tables, WordRows, chunk_groups, group_entries, no_words,
                              run_chunk, scripted)
from w2v_core.models import ModelConfig, PackedBatch, Word2Vec
from w2v_core.windows import Stream, draw_radii, interleaved_order, packed_windows, subsample

# Negatives shared per block of centres (each stands for k / N of an example's k negatives), centres per block and
# whether a batch's centres come from all over a chunk (Skip-gram) or are its neighbours with each block's centres
# strided across the batch (CBOW: windows.interleaved_order keeps the batch's context rows, which CBOW sums per
# row, and stops a pool serving 32 overlapping windows), per architecture. Smaller blocks, shuffled Skip-gram
# centres and interleaved CBOW blocks bring SimLex and the analogies up to gensim's at the same speed
# (benchmarks/README.md, the ablations of bench_quality.py; benchmarks/HISTORY.md). Skip-gram: 64 per block of 128
# (was 32 per 64): the same scores at 10M tokens, and the analogies at 700k x 5 epochs up to gensim's on 3, 5 and 10
# seeds (0.0235 / 0.0232 / 0.0233 against 0.0225 / 0.0232 / 0.0220; 32 per 64: 0.0203 / 0.0211 / 0.0220)
DEFAULT_POOL = {"skipgram": 64, "cbow": 16}
DEFAULT_BLOCK = {"skipgram": 128, "cbow": 32}
DEFAULT_SHUFFLE = {"skipgram": True, "cbow": False}
DEFAULT_INTERLEAVE = {"skipgram": False, "cbow": True}
CPU_CHUNK = 50_000  # tokens per chunk on a CPU (bounds memory); on a GPU chunks hold many big batches
MIN_CHUNK = 2_000  # with several workers, chunks shrink so that each worker gets ~8, but not below this
GPU_CHUNK = 2_000_000


@dataclass(frozen=True)
class Tuning:
    """The trainer's inner knobs, for tests and benchmarks (no page or CLI option sets them): ``Trainer(...,
    tuning=Tuning(...))``. None = the default for the architecture and device (:meth:`resolved`)."""

    min_lr_fraction: float = 1e-4  # the rate decays linearly to lr * this
    chunk_tokens: int | None = None  # tokens per chunk of an epoch (bounds memory); None = by device and batch
    shared_negatives: int | None = None  # N, negatives drawn per block and shared by its centres
    block_size: int | None = None  # centres that share one pool of negatives
    loss_every: int = 4  # compute the loss on every n-th batch only (it is only shown, never trained on)
    shuffle: bool | None = None  # batches of centres drawn from all over a chunk, not consecutive
    interleave: bool | None = None  # unshuffled: a block's centres lie batch / block apart in the text (interleaved_order)
    # N workers' batches computed from the same weights, then all applied, which is what N truly concurrent Hogwild
    # threads do at worst (to show many cores on a small machine); 1 = off
    emulate_workers: int = 1

    def validate(self) -> None:
        if self.shared_negatives is not None and not 1 <= self.shared_negatives <= 100_000:
            raise W2VError(f"shared_negatives must be between 1 and 100,000 (got {self.shared_negatives}).")
        if self.block_size is not None and not 1 <= self.block_size <= 1_000_000:
            raise W2VError(f"block_size must be between 1 and 1,000,000 (got {self.block_size}).")
        if not 1 <= self.loss_every <= 1_000_000:
            raise W2VError(f"loss_every must be at least 1 (got {self.loss_every}).")
        if self.chunk_tokens is not None and not 1_000 <= self.chunk_tokens <= 100_000_000:
            raise W2VError(f"chunk_tokens must be between 1,000 and 100,000,000 (got {self.chunk_tokens}).")
        if not 1 <= self.emulate_workers <= 4096:
            raise W2VError(f"emulate_workers must be between 1 and 4096 (got {self.emulate_workers}).")

    def resolved(self, model_config: ModelConfig, device_type: str, batch: int) -> "Tuning":
        """Every None filled with its default for the architecture, the device ("cpu" | "cuda") and the batch."""
        arch = model_config.arch
        chunk = GPU_CHUNK if device_type == "cuda" else max(CPU_CHUNK, 8 * batch)
        return Tuning(
            min_lr_fraction=self.min_lr_fraction, chunk_tokens=self.chunk_tokens or chunk,
            shared_negatives=self.shared_negatives or max(DEFAULT_POOL[arch], model_config.negative),
            block_size=self.block_size or DEFAULT_BLOCK[arch],
            shuffle=DEFAULT_SHUFFLE[arch] if self.shuffle is None else self.shuffle,
            interleave=DEFAULT_INTERLEAVE[arch] if self.interleave is None else self.interleave,
            loss_every=self.loss_every, emulate_workers=self.emulate_workers)

    def changes(self) -> dict:
        """The knobs set to other than their defaults (what a model's config.json records as "tuning")."""
        default = Tuning()
        return {k: v for k, v in self.__dict__.items() if getattr(default, k) != v}


# One intra-op thread per training worker: the ops are small, and OpenMP threads spinning at barriers on a busy
# machine cost far more than they give (measured: benchmarks/HISTORY.md). The setting is process-wide, so concurrent
# trainings (two jobs in the app) share it: the first in sets it, the last out restores what was there before.
class _IntraOpThreads:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 1

    @contextmanager
    def one(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = torch.get_num_threads()
            self._users += 1
            torch.set_num_threads(1)
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    torch.set_num_threads(self._saved)


_INTRA_OP_THREADS = _IntraOpThreads()


def one_intra_op_thread():
    """``with one_intra_op_thread():`` torch uses one intra-op thread (process-wide) until the last such block
    running in the process ends."""
    return _INTRA_OP_THREADS.one()


ENCODE_STEP = 1 << 22  # tokens of a memory-mapped corpus encoded at a time


def encode_corpus(corpus, remap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corpus ids -> vocabulary ids with out-of-vocabulary tokens removed; documents keep their places.

    A memory-mapped corpus (a big one from the corpus cache) is encoded a step at a time into a memory-mapped
    temporary file, unnamed, so it is gone with the process: neither copy need fit in memory.
    """
    if isinstance(corpus.ids, np.memmap):
        return _encode_mapped(corpus.ids, np.asarray(corpus.offsets, dtype=np.int64), remap)
    mapped = remap[corpus.ids]
    keep = mapped >= 0
    csum = np.zeros(len(mapped) + 1, dtype=np.int64)
    np.cumsum(keep, out=csum[1:])
    return mapped[keep].astype(np.int32), csum[np.asarray(corpus.offsets, dtype=np.int64)]


def _encode_mapped(ids: np.ndarray, offsets: np.ndarray, remap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tempfile

    # in the system's temporary folder (TMPDIR): where /tmp is RAM-backed, point TMPDIR at a disk
    out = np.memmap(tempfile.TemporaryFile(), dtype=np.int32, mode="w+", shape=(max(len(ids), 1),))
    remap32 = remap.astype(np.int32)
    enc_offsets = np.empty(len(offsets), dtype=np.int64)
    pos = 0
    for s in range(0, len(ids), ENCODE_STEP):
        mapped = remap32[ids[s:s + ENCODE_STEP]]
        keep = mapped >= 0
        kept = mapped[keep]
        out[pos:pos + len(kept)] = kept
        lo, hi = np.searchsorted(offsets, [s, s + ENCODE_STEP], side="left")
        before = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=before[1:])
        enc_offsets[lo:hi] = pos + before[offsets[lo:hi] - s]
        pos += len(kept)
    enc_offsets[offsets >= len(ids)] = pos
    return out[:pos], enc_offsets


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


@dataclass
class EpochRun:
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
    limit: int | None = None  # take no chunk from this number on (a distributed run's sync round); None = all
    abort: threading.Event = field(default_factory=threading.Event)


@dataclass
class EncodedCorpus:
    """The corpus as the workers read it: vocabulary ids on the device, cut into chunks, with the sampling tables."""

    ids: torch.Tensor  # int32, in-vocabulary tokens
    chunks: list[tuple[int, int, np.ndarray]]  # chunk_bounds
    keep_prob: torch.Tensor | None  # per word, for subsampling (None: off)
    neg_table: torch.Tensor | None  # the unigram^0.75 table negatives are drawn from (None: full softmax)
    seed_ids: list[int] | None = None  # each chunk's number in the whole corpus, its seed (distributed); None = i


class WorkerPool:
    """Trains the chunks of an epoch with ``threads`` workers, ``bound`` limiting each row's step.

    ``train_config`` is the trainer's resolved ``training.TrainConfig`` (batch size, seed, report interval);
    ``lr_at(done, total)`` is the rate at a point of the run; ``report(run, loss, examples, call=True)`` takes a
    worker's summed loss since its last report (``progress.Reporter.report``).
    """

    def __init__(self, model: Word2Vec, data: EncodedCorpus, tuning: Tuning, train_config, threads: int,
                 bound: RowBound, lr_at: Callable[[float, int], float], report: Callable[..., None],
                 stop_event: threading.Event):
        self.model = model
        self.data = data
        self.tuning = tuning
        self.batch = train_config.batch_size
        self.seed = train_config.seed
        self.first_epoch = 0  # a continued run's epochs go on with its parent's count (in the chunks' seeds)
        self.report_every = train_config.report_every
        self.threads = threads
        self.bound = bound  # replaced by a tighter one when an epoch is retried
        self.lr_at = lr_at
        self.report = report
        self.stop_event = stop_event
        self.device = model.w_in.device
        self._leaf_ranks = None  # hierarchical softmax on a CPU: the words' places among the tree's leaves
        if model.config.loss == "hs" and hsoftmax.uses_sparse_step(model.arch, self.device):
            self._leaf_ranks = hsoftmax.leaf_ranks(model.hs_codes, model.hs_lengths)

    def run_epoch(self, run: EpochRun) -> None:
        if self.threads <= 1:
            self._worker(run)
            return
        # workers take the next chunk when they are free, so neither idles while the other has work
        threads = [threading.Thread(target=self._worker, args=(run,), daemon=True) for _ in range(self.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _worker(self, run: EpochRun) -> None:
        try:
            if self.device.type == "cpu":
                torch.set_num_threads(1)  # OpenMP's setting is partly per thread: make sure for this one
            self._work(run)
        except BaseException as e:  # surfaced by the main thread
            run.error = e
            run.abort.set()

    @torch.no_grad()
    def _work(self, run: EpochRun) -> None:
        dev = self.device
        loss_acc = torch.zeros((), device=dev)
        n_acc = torch.zeros((), device=dev)
        chunks = self.data.chunks
        while True:
            with run.lock:
                ci = run.next_chunk
                end = len(chunks) if run.limit is None else min(run.limit, len(chunks))
                run.next_chunk += ci < end
                done = run.done
            if ci >= end or self.stop_event.is_set() or run.abort.is_set():
                break
            win, g, chunk_len = self._chunk_windows(run.epoch, ci)
            if len(win) > 0:
                # the rate falls while this chunk runs, and the other workers move the run on meanwhile
                lr0 = self.lr_at(done, run.total)
                lr1 = self.lr_at(done + chunk_len * self.threads, run.total)
                loss, cnt = self._train_chunk(win, g, lr0, lr1)
                loss_acc += loss
                n_acc += cnt
            now = time.perf_counter()
            with run.lock:
                run.done += chunk_len
                # at least one report per epoch, so that a small corpus still draws a curve
                report = now - run.last_report >= self.report_every or ci == len(chunks) - 1
                if report:
                    run.last_report = now
            if report:
                self.report(run, loss_acc, n_acc)
                loss_acc = torch.zeros((), device=dev)
                n_acc = torch.zeros((), device=dev)
        self.report(run, loss_acc, n_acc, call=False)

    def _chunk_windows(self, epoch: int, ci: int):
        """Subsampling, radii and packed windows of one chunk, from the chunk's own seeded generator."""
        dev, window = self.device, self.model.config.window
        a, b, local = self.data.chunks[ci]
        sid = ci if self.data.seed_ids is None else self.data.seed_ids[ci]
        g = torch.Generator(device=dev).manual_seed(self.seed * 1_000_003 + (self.first_epoch + epoch) * 10_007 + sid)
        ids = self.data.ids[a:b].to(dev, non_blocking=True).long()
        offs = torch.from_numpy(local).to(dev)
        kept, koffs, _ = subsample(ids, offs, self.data.keep_prob, g)
        stream = Stream.from_offsets(kept, koffs)
        radii = draw_radii(len(stream), window, g, dev)
        order = None
        if self.tuning.shuffle:
            order = torch.randperm(len(stream), generator=g, device=dev)
        elif self.tuning.interleave:
            order = interleaved_order(len(stream), self.batch, self.tuning.block_size, dev)
        if self.model.config.loss == "hs" and self.model.arch == "skipgram":
            order = hsoftmax.chunk_order(radii, stream.ids, g, self.batch,
                                         self._leaf_ranks if self.tuning.emulate_workers <= 1 else None)
        elif self._leaf_ranks is not None and self.tuning.emulate_workers <= 1:
            # CBOW: each batch's centres in the leaves' order (the batches: consecutive centres with a context)
            order = hsoftmax.leaf_order(stream, self.batch, self._leaf_ranks)
        return packed_windows(stream, radii, window, order=order), g, b - a

    def _train_chunk(self, win, g: torch.Generator, lr0: float, lr1: float):
        """All batches of one chunk; returns the summed loss and examples of the batches whose loss was taken."""
        B, dev, tuning = self.batch, self.device, self.tuning
        mc = self.model.config
        words = no_words(win.ctx)
        composed = mc.subwords and mc.arch == "cbow" and tuning.emulate_workers <= 1
        if composed and torch.device(dev).type != "cpu":
            # CBOW with subwords is CBOW over the context words' rows (subword_steps.expand_windows); on a CPU each
            # batch composes its context words instead (kernels.WordRows, below)
            win = subword_steps.expand_windows(win, subword_steps.model_pieces(self.model))
            composed = False
        n = len(win)
        n_batches = (n + B - 1) // B
        counts = win.counts.to(torch.float32)
        if composed:  # each centre's h is the mean of all its context words' rows: count rows, not words
            pieces = subword_steps.model_pieces(self.model)
            word_rows = (pieces.starts[1:] - pieces.starts[:-1]).index_select(0, win.ctx)
            counts = torch.zeros(n, dtype=torch.float32, device=dev).index_add_(0, win.rows, word_rows.to(torch.float32))
        # each batch's first entry, then the end (starts has one more entry than there are centres: a chunk of k * B
        # centres has k batches, not k + 1)
        cuts = win.starts[:-1][::B].tolist() + [int(win.ctx.shape[0])]  # one host read per chunk
        # batch-local row numbers and context starts for all batches at once (centre i is in batch i // B)
        centre_batch = torch.arange(n, device=dev).div_(B, rounding_mode="floor")
        first = centre_batch * B
        batch_of = centre_batch.index_select(0, win.rows)  # each context entry's batch (a gather: 3x faster than %)
        rows = win.rows - batch_of * B
        starts = win.starts[:-1] - win.starts.index_select(0, first)
        blocks = -(-min(B, n) // tuning.block_size)
        table = self.data.neg_table
        negs = (table[torch.randint(len(table), (n_batches, blocks, tuning.shared_negatives), generator=g, device=dev)]
                .long() if table is not None else None)
        if mc.loss == "hs" and tuning.emulate_workers <= 1:
            schedule = Schedule(B, cuts, lr0, lr1, 0.0, tuning.loss_every)
            return hsoftmax.train_chunk(self.model, Examples(win.centres, win.ctx, rows, starts, counts,
                                                             win.ctx.new_zeros(0)), schedule, self.bound, batch_of)
        if mc.subwords and mc.arch == "skipgram" and tuning.emulate_workers <= 1:
            schedule = Schedule(B, cuts, lr0, lr1, float(mc.negative), tuning.loss_every)
            return subword_steps.train_chunk(self.model, Examples(win.centres, win.ctx, rows, starts, counts, negs),
                                             schedule, self.bound)
        if mc.loss == "negative" and tuning.emulate_workers <= 1:
            if composed:  # the entries grouped by context word; each entry's group
                groups, group_cuts, slots = group_entries(rows, batch_of, win.ctx, len(pieces.starts) - 1, cuts)
                words = WordRows(pieces.rows, pieces.starts, slots)
            else:
                groups, group_cuts = chunk_groups(mc.arch, rows, batch_of, win.ctx, self.model.w_in.shape[0], cuts)
            schedule = Schedule(B, cuts, lr0, lr1, float(mc.negative), tuning.loss_every)
            return scripted(run_chunk, dev)(mc.arch == "skipgram", Tables(self.model.w_in, self.model.w_out),
                                            Examples(win.centres, win.ctx, rows, starts, counts, negs), schedule,
                                            self.bound.for_kernel(), groups, group_cuts, words)
        chunk = PackedBatch(win.centres, win.ctx, rows, starts, counts, negs)
        return self._batches_from_python(chunk, cuts, -(-min(B, n) // blocks), lr0, lr1)

    def _batches_from_python(self, chunk: PackedBatch, cuts: list[int], per_block: int, lr0: float, lr1: float):
        """The full softmax, or emulated concurrent workers: one batch at a time through ``Word2Vec.step_packed``."""
        B, model, group = self.batch, self.model, self.tuning.emulate_workers
        n = chunk.centres.shape[0]
        n_batches = (n + B - 1) // B
        dst = None
        if group > 1:
            dst = tuple(torch.zeros_like(t) for t in (model.w_in, model.w_out))
        loss_sum = torch.zeros((), device=self.device)
        n_sum = torch.zeros((), device=self.device)
        for bi in range(n_batches):
            c0, c1 = bi * B, min((bi + 1) * B, n)
            p0, p1 = cuts[bi], cuts[bi + 1]
            nb = -(-(c1 - c0) // per_block)
            batch = PackedBatch(chunk.centres[c0:c1], chunk.ctx[p0:p1], chunk.rows[p0:p1], chunk.starts[c0:c1],
                                chunk.counts[c0:c1], chunk.negatives[bi, :nb] if chunk.negatives is not None else None)
            want = bi % self.tuning.loss_every == 0
            # in an emulated round every batch reads the weights of the round's start
            lr = lr0 + (lr1 - lr0) * (bi - bi % group) / n_batches
            loss, cnt = model.step_packed(batch, lr, want, self.bound, dst)
            if want:
                loss_sum += loss
                n_sum += cnt
            if dst is not None and (bi % group == group - 1 or bi == n_batches - 1):
                for t, d in zip((model.w_in, model.w_out), dst):
                    t.add_(d)
                    d.zero_()
        return loss_sum, n_sum
