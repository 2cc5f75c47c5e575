"""A big plain-text file tokenized on every core the process may use, in shards, straight into the corpus cache.

The file is cut into blocks of whole lines (:func:`byte_ranges`, at newline bytes), and worker processes tokenize the
blocks (``blocks.BlockTokenizer``: exactly the tokens of ``corpus.Tokenizer``), each into ids local to its block.
The blocks come back in order; the parent merges their words (first appearance over the file, as
``corpus.CorpusBuilder`` numbers them), their counts and their documents as they arrive, and reports progress (bytes,
tokens, tokens/s, ETA). A block's ids go to a shard file in the cache entry being written (or back to the parent when
the corpus is kept in memory); once every block is in, the shards are mapped to corpus ids and written into one
``ids.npy``, a shard at a time. So neither the text nor all its tokens are ever in memory at once: one block of text
and one shard of ids per worker, the vocabulary, and the document lengths.

Why processes rather than threads: the regular expressions hold the GIL. Why ``forkserver``: the app and the trainer
run threads, and forking a process with threads can copy a held lock into the child. Small files (under
:data:`PARALLEL_MIN_BYTES`) are tokenized in this process: starting workers costs more than they save there.
"""

from __future__ import annotations

import json
import logging
import shutil
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from w2v_core.data import corpus_cache
from w2v_core.data.blocks import BlockTokenizer, Encoded, Merger
from w2v_core.data.corpus import Corpus, CorpusConfig, ProgressFn, Tokenizer
from w2v_core.data.textfile import check_local_file, text_encoding
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

BLOCK_BYTES = 4 * 1024 * 1024  # text per task (a worker holds one block of text and its tokens at a time)
PARALLEL_MIN_BYTES = 16 * 1024 * 1024  # smaller files are tokenized in this process
PROGRESS_EVERY_S = 0.5


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), or ``W2V_TOKENIZE_WORKERS`` when set."""
    env = os.environ.get("W2V_TOKENIZE_WORKERS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def splittable(encoding: str) -> bool:
    """Whether a newline byte always ends a line in ``encoding`` (UTF-8 and single-byte codecs; not UTF-16/32)."""
    if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig", "utf8", "ascii"):
        return True
    try:
        return len(bytes(range(256)).decode(encoding, errors="replace")) == 256 and \
            "\n".encode(encoding) == b"\n"
    except (LookupError, UnicodeError):
        return False


def byte_ranges(path: Path, start: int, size: int, first: int = BLOCK_BYTES,
                block: int = BLOCK_BYTES) -> list[tuple[int, int]]:
    """``[start, size)`` of the file cut into ranges of about ``block`` bytes (the first one ``first``), each ending
    just after a newline."""
    ranges = []
    with open(path, "rb") as f:
        pos = start
        while pos < size:
            step = block if ranges else first
            if pos + step >= size:
                end = size
            else:
                f.seek(pos + step - 1)
                f.readline()  # to the end of the line that the cut falls in
                end = min(f.tell(), size)
            ranges.append((pos, end))
            pos = end
    return ranges


@dataclass(frozen=True)
class Job:
    """One block for a worker: the file's bytes [start, end) in ``encoding``; ``shard``: where its ids go (None:
    returned)."""

    path: str
    start: int
    end: int
    encoding: str
    strict: bool  # UTF-8 not yet checked: a block that is not valid UTF-8 says so instead of replacing
    tokenizer: Tokenizer
    shard: str | None = None


@dataclass
class Block:
    """A block's result: its words (block-local ids), their counts, its documents' lengths, its ids (or its shard)."""

    words: list[str]
    counts: np.ndarray
    lengths: np.ndarray
    n_tokens: int
    n_bytes: int
    ids: np.ndarray | None = None
    shard: str | None = None
    not_utf8: bool = False
    cpu_s: float = 0.0  # the worker's CPU time on this block


_TOKENIZERS: dict[Tokenizer, BlockTokenizer] = {}


def read_block(job: Job) -> str | None:
    """The text of a job's range, newlines as Python's text files give them (``\\r\\n`` and ``\\r`` -> ``\\n``)."""
    with open(job.path, "rb") as f:
        f.seek(job.start)
        data = f.read(job.end - job.start)
    try:
        text = data.decode(job.encoding, errors="strict" if job.strict else "replace")
    except UnicodeDecodeError:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def run_job(job: Job) -> Block:
    """Tokenize one block (in a worker process, or in this one)."""
    t0 = time.process_time()
    block = _run_job(job)
    block.cpu_s = time.process_time() - t0
    return block


def _run_job(job: Job) -> Block:
    text = read_block(job)
    if text is None:
        return Block([], np.zeros(0, np.int64), np.zeros(0, np.int64), 0, job.end - job.start, not_utf8=True)
    bt = _TOKENIZERS.get(job.tokenizer)
    if bt is None:
        bt = _TOKENIZERS[job.tokenizer] = BlockTokenizer(job.tokenizer)
    enc: Encoded = bt.encode(text)
    del text
    counts = np.bincount(enc.ids, minlength=len(enc.words)).astype(np.int64)
    block = Block(enc.words, counts, enc.lengths, enc.n_tokens, job.end - job.start)
    if job.shard is None:
        block.ids = enc.ids
    else:
        np.save(job.shard, enc.ids, allow_pickle=False)
        block.shard = job.shard
    return block


class NotUTF8(Exception):
    """A block was not valid UTF-8 (the file is read again in the encoding ``textfile.text_encoding`` finds)."""


def _executor(workers: int) -> ProcessPoolExecutor:
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["w2v_core.data.stream"])
    return ProcessPoolExecutor(workers, mp_context=ctx)


def _results(jobs: list[Job], workers: int) -> Iterator[Block]:
    """The blocks' results in file order, from ``workers`` processes (1: this process).

    Worker processes that cannot start (a main script they cannot import, say) make this process do the work.
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_job(job)
        return
    pool = _executor(min(workers, len(jobs)))
    done = 0
    try:
        for block in pool.map(run_job, jobs):
            done += 1
            yield block
    except BrokenProcessPool:
        log.warning("tokenizer worker processes failed; tokenizing in this process instead")
        for job in jobs[done:]:
            yield run_job(job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # also when the caller stops early (max_tokens) or fails


@dataclass
class Tokenized:
    """A file's blocks merged: corpus words and counts, each block's map to corpus ids, the documents' lengths."""

    path: str
    merger: Merger = field(default_factory=Merger)
    blocks: list[Block] = field(default_factory=list)
    lmaps: list[np.ndarray] = field(default_factory=list)
    n_tokens: int = 0
    n_bytes: int = 0
    truncated: bool = False
    cpu_s: float = 0.0  # the blocks' CPU time, in whichever process they ran

    def lengths(self) -> np.ndarray:
        return np.concatenate([b.lengths for b in self.blocks]) if self.blocks else np.zeros(0, np.int64)


class Meter:
    """Progress as the blocks come in: bytes and tokens done, tokens/s and the time left, every ~0.5 s."""

    def __init__(self, progress: ProgressFn | None, total_bytes: int, workers: int):
        self.progress, self.total, self.workers = progress, max(total_bytes, 1), workers
        self.t0 = self.last = time.perf_counter()

    def tick(self, done_bytes: int, tokens: int, final: bool = False) -> None:
        now = time.perf_counter()
        if self.progress is None or (not final and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        dt = max(now - self.t0, 1e-9)
        eta = (self.total - done_bytes) / max(done_bytes / dt, 1.0)
        msg = (f"tokenizing: {done_bytes / 1e6:,.0f} of {self.total / 1e6:,.0f} MB, {tokens:,} tokens, "
               f"{tokens / dt / 1e6:.2f}M tokens/s on {self.workers} core{'s' if self.workers > 1 else ''}"
               + ("" if final else f", about {eta:,.0f} s left"))
        self.progress(min(done_bytes / self.total, 1.0), msg)


def tokenize_file(path, config: CorpusConfig, progress: ProgressFn | None = None, shards: Path | None = None,
                  workers: int | None = None) -> Tokenized:
    """Tokenize the text file ``path`` with ``config``'s options, block by block (see the module docstring).

    ``shards``: a folder for the blocks' ids (one ``.npy`` each); None keeps them in memory. ``workers``: processes
    (default: every core this process may use; 1 for a file under :data:`PARALLEL_MIN_BYTES`).
    """
    p = check_local_file(path)
    size = p.stat().st_size
    encoding = text_encoding(p, utf8_throughout=False)  # the whole file's UTF-8 is checked by the workers
    strict = encoding == "utf-8"
    if not splittable(encoding):
        ranges = [(0, size)]
    else:
        # a few tokens of a big file: a first block about their size, not a whole BLOCK_BYTES
        first = BLOCK_BYTES if config.max_tokens is None else min(BLOCK_BYTES, max(1 << 16, 16 * config.max_tokens))
        ranges = byte_ranges(p, 3 if encoding == "utf-8-sig" else 0, size, first)
    if workers is None:
        wanted = size if config.max_tokens is None else min(size, 16 * config.max_tokens)  # ~bytes to read
        workers = available_cores() if wanted >= PARALLEL_MIN_BYTES else 1
    tok = Tokenizer.from_config(config)
    jobs = [Job(str(p), a, b, encoding, strict, tok, str(shards / f"shard-{i:06d}.npy") if shards else None)
            for i, (a, b) in enumerate(ranges)]
    try:
        return _merge(_results(jobs, workers), str(p), config.max_tokens, Meter(progress, size, workers))
    except NotUTF8:
        encoding = text_encoding(p)  # not UTF-8 after all: the encoding the whole file is read in
        log.warning("%s is not UTF-8: read as %s", p.name, encoding)
        jobs = [Job(j.path, j.start, j.end, encoding, False, tok, j.shard) for j in jobs]
        return _merge(_results(jobs, workers), str(p), config.max_tokens, Meter(progress, size, workers))


def _merge(results: Iterator[Block], path: str, max_tokens: int | None, meter: Meter) -> Tokenized:
    """Merge the blocks as they come; past ``max_tokens``, read on only to see whether a document was left out."""
    out = Tokenized(path)
    for block in results:
        if block.not_utf8:
            raise NotUTF8()
        out.n_bytes += block.n_bytes
        out.cpu_s += block.cpu_s
        if max_tokens is not None and out.n_tokens >= max_tokens:
            if block.n_tokens:  # a document after the limit: the corpus was cut short
                out.truncated = True
                _drop(block)
                break
            continue
        out.lmaps.append(out.merger.add(block.words, block.counts))
        block.words = []  # the merger has them
        out.blocks.append(block)
        out.n_tokens += block.n_tokens
        meter.tick(out.n_bytes, out.n_tokens)
    meter.tick(out.n_bytes, out.n_tokens, final=True)
    log.info("tokenized %s: %d tokens in %.1f s, %.1f CPU s in the tokenizers", path, out.n_tokens,
             time.perf_counter() - meter.t0, out.cpu_s, extra={"tokenizer_cpu_s": out.cpu_s})
    return out


def _drop(block: Block) -> None:
    if block.shard:
        Path(block.shard).unlink(missing_ok=True)  # a shard we wrote and do not need


# ---------------------------------------------------------------------------------------------- assembling


def kept_documents(lengths: np.ndarray, max_tokens: int | None) -> int:
    """How many documents ``CorpusBuilder(max_tokens)`` keeps: it adds one while fewer than max_tokens are in."""
    if max_tokens is None:
        return len(lengths)
    ends = np.cumsum(lengths)
    return int(min(len(lengths), np.searchsorted(ends, max_tokens, side="left") + 1))


def _block_ids(block: Block) -> np.ndarray:
    return block.ids if block.ids is not None else np.load(block.shard, mmap_mode="r", allow_pickle=False)


def write_ids(t: Tokenized, out: np.ndarray) -> tuple[np.ndarray, int]:
    """Every block's ids as corpus ids into ``out`` (its length: the tokens kept), a shard at a time; returns the
    counts of the kept tokens and how many words they use. Shard files are removed once copied."""
    n_keep = len(out)
    pos = 0
    counts = np.zeros(len(t.merger.words), dtype=np.int64)
    n_words = 0
    for block, lmap in zip(t.blocks, t.lmaps):
        take = min(block.n_tokens, n_keep - pos)
        if take > 0:
            ids = lmap[_block_ids(block)[:take]]
            out[pos:pos + take] = ids
            if take == block.n_tokens:
                counts[lmap] += block.counts
                n_words = max(n_words, int(lmap.max()) + 1 if len(lmap) else 0)
            else:  # the block the limit falls in: count what is kept of it
                counts += np.bincount(ids, minlength=len(counts))
                n_words = max(n_words, int(ids.max()) + 1)
            pos += take
        block.ids = None
        _drop(block)
    return counts[:n_words], n_words


def offsets_of(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def in_memory(t: Tokenized, config: CorpusConfig) -> Corpus:
    """The tokenized file as an in-memory :class:`Corpus` (what ``CorpusBuilder`` would have built)."""
    lengths = t.lengths()
    k = kept_documents(lengths, config.max_tokens)
    offsets = offsets_of(lengths[:k])
    ids = np.empty(int(offsets[-1]), dtype=np.int32)
    counts, n_words = write_ids(t, ids)
    truncated = t.truncated or k < len(lengths)
    corpus = Corpus(ids, offsets, t.merger.words[:n_words], counts, Path(t.path).name, config, truncated)
    if corpus.n_tokens == 0:
        raise W2VError(f"The corpus file {t.path} has no words in it after tokenization. Check the file, or keep "
                       "numbers/punctuation in the tokenization options.")
    return corpus


def into_cache(config: CorpusConfig, key: str, progress: ProgressFn | None = None) -> Corpus:
    """Tokenize a big text file straight into the corpus cache entry ``key`` and return it memory-mapped.

    The shards are written inside the entry's hidden folder; the quota (``corpus_cache.set_reserve``) is asked for
    the entry's exact size once the tokens are counted. A refusal, or a file changed while it was read, gives the
    corpus in memory instead (nothing cached), as ``corpus_cache.save`` would.
    """
    tmp: Path | None = corpus_cache.new_entry_folder(key)
    try:
        t = tokenize_file(config.source, config, progress, shards=tmp)
        lengths = t.lengths()
        k = kept_documents(lengths, config.max_tokens)
        offsets = offsets_of(lengths[:k])
        words = json.dumps(t.merger.words, ensure_ascii=False).encode("utf-8")
        if corpus_cache.cache_key(config) != key or not _room(4 * int(offsets[-1]) + 8 * (len(offsets) + len(
                t.merger.words)) + len(words) + 4096):
            return in_memory(t, config)
        if progress is not None:
            progress(1.0, f"writing {int(offsets[-1]):,} token ids to the corpus cache")
        ids = np.lib.format.open_memmap(tmp / "ids.npy", mode="w+", dtype=np.int32, shape=(int(offsets[-1]),))
        counts, n_words = write_ids(t, ids)
        ids.flush()
        del ids
        if n_words == 0:
            raise W2VError(f"The corpus file {t.path} has no words in it after tokenization. Check the file, or keep "
                           "numbers/punctuation in the tokenization options.")
        words = json.dumps(t.merger.words[:n_words], ensure_ascii=False).encode("utf-8")
        corpus_cache.commit(tmp, key, config, Path(t.path).name, t.truncated or k < len(lengths), offsets, counts,
                            words)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)  # our own hidden folder (shards and all)
    corpus = corpus_cache.load(config)
    if corpus is None:
        raise W2VError(f"The tokenized corpus of {Path(str(config.source)).name} could not be read back from the "
                       f"cache folder {corpus_cache.cache_dir()}: check that the disk is not full.")
    return corpus


def _room(nbytes: int) -> bool:
    reserve = corpus_cache._RESERVE.get("cache")
    if reserve is None:
        return True
    try:
        reserve(nbytes)
        return True
    except W2VError as e:
        log.info("corpus cache: not cached (%s)", e)
        return False
