"""Training across processes, GPUs and machines with ``torch.distributed`` (started by ``torchrun``).

Every rank (process) loads the same corpus and builds the same vocabulary and the same starting tables (one seed,
and rank 0's tables are broadcast to make sure). The chunks of an epoch (``workers.chunk_bounds``) are dealt out
round-robin: rank r trains chunks r, r + N, r + 2N, ... with the usual bounded step and its own worker threads, each
chunk seeded by its number in the whole corpus. The ranks keep one model by **delta all-reduce**: every
``sync_every`` words (per rank) each rank's change to the tables since the last sync is all-reduced and added to the
tables as they were then, so every rank carries on from the same weights with every rank's updates in them. Between
syncs a rank's updates see the others' only at the next sync, as Hogwild threads see each other's late; the bounded
step keeps each rank stable. How the changes combine (``combine``):

* ``"auto"`` (the default): ``"sum"`` for 2 ranks, ``"scaled"`` for more (what was measured best for each,
  benchmarks/README.md "Distributed").
* ``"scaled"``: every rank steps at N times the rate one process would use at that point, and the changes are
  averaged (local SGD with the linear scaling rule). A row that moves only a little in a round (a rare word, and any
  row along the directions it is still learning) then moves by the sum of the ranks' ordinary steps, as one process
  given all their words would; a row that settles within the round ends at the mean of the ranks' balances. On the
  sample 4 ranks match or beat one process with it, for both architectures; at 2 ranks CBOW came out 0.02 lower
  than with sum.
* ``"sum"``: the changes are added, at the one-process rate. A row that settles within a round (a frequent word's
  rows: hundreds of updates a round, each rank's copy settling where its own data pulls it) then lands N times as
  far from the start as its balance: an overshoot that 2 ranks survive (e -> -e) and 4 do not (e -> -3e: they
  diverged at every rate tried).
* ``"mean"``: model averaging at the one-process rate: every rank's progress counts 1/N, so the model under-trains.

What one run means across ranks: the learning rate decays over the words of all ranks together, the loss each
rank saw between syncs is summed over the ranks (so the progress reports, the divergence watch and its retries
take the same decision on every rank, from the same numbers), and rank 0 writes the log and the model folder.
A rank that dies or stops answering within the timeout ends the run on every other rank with one
:class:`~w2v_core.errors.W2VError`; under torchrun, which stops the survivors with SIGTERM when one rank dies,
:class:`OneLine` turns that signal into the same one line (one line a rank, whichever comes first). Nothing is
saved then.

Backends: gloo on CPUs, NCCL on GPUs (rank r on GPU ``LOCAL_RANK`` of its node). See README "More than one
machine" for the commands and ``benchmarks/bench_distributed.py`` for the speed, quality and bytes per sync.
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from w2v_core.errors import W2VError
from w2v_core.workers import MIN_CHUNK, EpochRun, WorkerPool

COMBINE = ("auto", "scaled", "sum", "mean")
DEFAULT_SYNC_EVERY = 50_000  # words per rank between syncs
DEFAULT_TIMEOUT = 300.0  # seconds a collective may wait for the other ranks
ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
HEARTBEAT = 0.5  # seconds between two "still reading the corpus?" all-reduces (``first_local``)


@dataclass
class SyncStats:
    """What the synchronisation cost on this rank (the model folder's summary records rank 0's)."""

    syncs: int = 0
    payload_bytes: int = 0  # all_reduce input per sync: the tables' bytes
    seconds: float = 0.0  # spent in the table all-reduces, all syncs

    def as_dict(self, world: int) -> dict:
        ring = int(round(2 * (world - 1) / max(world, 1) * self.payload_bytes))
        return {"syncs": self.syncs, "sync_payload_bytes": self.payload_bytes,
                "sync_sent_bytes_ring": ring, "sync_seconds": round(self.seconds, 4)}


@dataclass
class DistContext:
    """This process's place in a distributed run (``start`` makes one from torchrun's environment)."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    backend: str
    device: str  # "cpu" | "cuda"
    sync_every: int = DEFAULT_SYNC_EVERY
    combine: str = "sum"  # start() resolves "auto"
    timeout: float = DEFAULT_TIMEOUT
    stats: SyncStats = field(default_factory=SyncStats)

    def info(self) -> dict:
        """What the model folder's summary says about the run."""
        return {"world_size": self.world, "backend": self.backend, "sync_every": self.sync_every,
                "combine": self.combine, **self.stats.as_dict(self.world)}

    def barrier(self) -> None:
        collective(self, dist.barrier)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def start(device: str, sync_every: int = DEFAULT_SYNC_EVERY, combine: str = "auto",
          timeout: float = DEFAULT_TIMEOUT) -> DistContext:
    """Join the run torchrun started (its RANK, WORLD_SIZE, MASTER_ADDR, ... environment): gloo on CPUs, NCCL
    with ``device`` cuda (or auto with a GPU present), this rank on GPU ``LOCAL_RANK``."""
    missing = [k for k in ENV if k not in os.environ]
    if missing:
        raise W2VError("--distributed needs the environment torchrun sets (" + ", ".join(missing) + " missing): start "
                       "it with `torchrun --nproc_per_node N -m w2v_core train --distributed ...`.")
    if combine not in COMBINE:
        raise W2VError(f"Unknown --sync-combine '{combine}': choose auto, scaled, sum or mean.")
    if not 1_000 <= sync_every <= 1_000_000_000:
        raise W2VError(f"--sync-every must be between 1,000 and 1,000,000,000 words (got {sync_every}).")
    if not 1 <= timeout <= 86_400:
        raise W2VError(f"--dist-timeout must be between 1 and 86,400 seconds (got {timeout:g}).")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise W2VError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu.")
        if local_rank >= torch.cuda.device_count():
            raise W2VError(f"Rank {os.environ['RANK']} is local rank {local_rank}, but this node has only "
                           f"{torch.cuda.device_count()} GPU(s): give --nproc_per_node at most that many.")
        torch.cuda.set_device(local_rank)
    backend = "nccl" if cuda else "gloo"
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    except Exception as e:  # a master that cannot be reached, a port in use
        raise W2VError(f"Could not join the distributed run ({_first_line(e)}): check --master_addr/--master_port "
                       "and that every node was started.") from None
    if combine == "auto":  # sum where it was measured best (2 ranks), scaled where sum diverges (4)
        combine = "sum" if dist.get_world_size() <= 2 else "scaled"
    return DistContext(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank,
                       local_world=int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())), backend=backend,
                       device="cuda" if cuda else "cpu", sync_every=sync_every, combine=combine, timeout=timeout)


def _first_line(e: BaseException) -> str:
    """The gist of a backend's error: its first line, without the C++ source location gloo puts first."""
    text = str(e).strip().splitlines()
    line = re.sub(r"^\[[^\]]*\]\s*", "", text[0]) if text else type(e).__name__
    return line.split(". ")[0][:160]


def collective(ctx: DistContext, fn, *args, **kw):
    """Run one collective; a rank that died or did not answer within the timeout becomes one W2VError."""
    try:
        return fn(*args, **kw)
    except Exception as e:
        raise W2VError(f"Rank {ctx.rank} of {ctx.world} lost the other ranks ({_first_line(e)}): a rank died or did "
                       f"not answer within {ctx.timeout:g} s, so the run stopped and nothing was saved.") from None


class OneLine:
    """A rank's one error line, whichever comes first: the run's own error (a lost rank, a bad setting, ...) or the
    SIGTERM torchrun sends the surviving ranks when one of them dies.

    Both run in the main thread (Python runs a signal handler there, between two bytecodes), so the signal may come
    while the error line is being printed, or after it while the process ends: the handler then lets the line out
    and ends the process quietly with the error's status. A SIGTERM before any error prints the "stopped" line and
    ends the process at once with status 3 (no model is saved: only a finished run saves).
    """

    def __init__(self, rank: int, world: int):
        self.rank, self.world = rank, world
        self.code: int | None = None  # the exit status of the line already printed
        self._busy = False  # printing it now
        self._pending = False  # a SIGTERM came while it was printed

    def say(self, line: str, code: int) -> None:
        """Print ``line`` on stderr unless a line was printed already."""
        if self.code is not None:
            return
        self._busy = True
        print(line, file=sys.stderr, flush=True)
        self.code = code
        self._busy = False
        if self._pending:
            os._exit(code)

    def on_terminate(self, signum, frame) -> None:
        """The SIGTERM handler."""
        if self._busy:
            self._pending = True
            return
        if self.code is None:
            self.say(f"error: Rank {self.rank} of {self.world} was stopped (another rank died, or torchrun was "
                     "stopped): the run ended and nothing was saved.", 3)
        os._exit(self.code if self.code is not None else 3)


def rate_scale(ctx: DistContext) -> float:
    """How much faster than one process a rank steps: N with "scaled" (its change is divided by N at the sync)."""
    return float(ctx.world) if ctx.combine == "scaled" else 1.0


def first_local(ctx: DistContext, load):
    """``load()`` on the node's local rank 0 first (it fills the corpus cache), then on the node's other ranks (they
    read the cache).

    While a first rank reads (tokenizing a large corpus takes minutes) every rank meets the others in a small
    all-reduce each ``HEARTBEAT`` seconds, the first rank from a thread: the timeout bounds how long a rank may not
    answer, not how long the corpus takes. A first rank whose load fails raises its own error, the others one line.
    """
    if ctx.local_rank != 0:
        if _heartbeats(ctx, {"loading": False, "failed": False}):
            raise W2VError("Another rank could not read the corpus (its message is in that rank's output); the run "
                           "stopped and nothing was saved.")
        return load()
    state = {"loading": True, "failed": False}
    beat = threading.Thread(target=_beat, args=(ctx, state), name="w2v-heartbeat", daemon=True)
    beat.start()
    try:
        value = load()
    except BaseException:
        state["failed"] = True
        raise
    finally:
        state["loading"] = False
        beat.join()
    if "error" in state:
        raise state["error"]
    if state["others_failed"]:
        raise W2VError("Another rank could not read the corpus (its message is in that rank's output); the run "
                       "stopped and nothing was saved.")
    return value


def _beat(ctx: DistContext, state: dict) -> None:
    try:
        state["others_failed"] = _heartbeats(ctx, state)
    except W2VError as e:
        state["error"] = e


def _heartbeats(ctx: DistContext, state: dict) -> int:
    """All-reduce (ranks still loading, ranks that failed) every ``HEARTBEAT`` s until none loads; how many failed."""
    dev = torch.device("cuda", ctx.local_rank) if ctx.device == "cuda" else torch.device("cpu")
    while True:
        loading = float(state["loading"])  # read first: a failed load sets "failed" before it clears "loading"
        flags = torch.tensor([loading, float(state["failed"])], dtype=torch.float64, device=dev)
        collective(ctx, dist.all_reduce, flags)
        loading, failed = flags.tolist()
        if loading == 0:
            if failed:  # every rank has the news before the failed one ends (and closes its sockets)
                collective(ctx, dist.barrier)
            return int(failed)
        time.sleep(HEARTBEAT)


def shard(chunks: list, ctx: DistContext) -> tuple[list, list[int]]:
    """This rank's chunks (every N-th, from its rank on) and their numbers in the whole list (their seeds)."""
    ids = list(range(ctx.rank, len(chunks), ctx.world))
    return [chunks[i] for i in ids], ids


def round_tokens(chunks: list, ctx: DistContext, per_round: int) -> list[int]:
    """The tokens all ranks together train in each sync round of an epoch (the same list on every rank): rank r's
    round k holds its chunks k * per_round ... (k + 1) * per_round - 1."""
    lengths = np.array([b - a for a, b, _ in chunks], dtype=np.int64)
    most = -(-len(chunks) // ctx.world)  # the chunks of the rank with the most
    n_rounds = max(1, -(-most // per_round))
    out = []
    for k in range(n_rounds):
        total = 0
        for r in range(ctx.world):
            own = lengths[r::ctx.world]
            total += int(own[k * per_round:(k + 1) * per_round].sum())
        out.append(total)
    return out


def chunk_size(ctx: DistContext, chunk: int, n_tokens: int, threads: int) -> int:
    """Tokens per chunk: at most one sync round's words, and small enough that every worker of every rank gets
    about 8 chunks an epoch."""
    return max(MIN_CHUNK, min(chunk, ctx.sync_every, -(-n_tokens // (8 * max(threads, 1) * ctx.world))))


def make_pool(ctx: DistContext, all_chunks: list, chunk: int, *pool_args) -> "DistributedPool":
    """This rank's pool (``pool_args`` as ``WorkerPool``'s), its tables made equal to rank 0's."""
    per_round = max(1, ctx.sync_every // chunk)
    pool = DistributedPool(*pool_args, ctx=ctx, per_round=per_round, rounds=round_tokens(all_chunks, ctx, per_round))
    pool.broadcast_tables()
    return pool


class DistributedPool(WorkerPool):
    """A ``WorkerPool`` whose epoch runs in sync rounds: each rank trains ``per_round`` of its chunks, then the
    ranks add up their table changes and their losses (see the module's docstring).

    ``rounds``: ``round_tokens`` of the whole chunk list. The workers' reports are summed locally and given to the
    trainer's reporter once per round, after the all-reduce, so every rank reports the same numbers.
    """

    def __init__(self, *args, ctx: DistContext, per_round: int, rounds: list[int], **kw):
        super().__init__(*args, **kw)
        self.ctx = ctx
        self.per_round = per_round
        self.rounds = rounds
        self.trainer_report = self.report
        self.trainer_lr_at = self.lr_at
        self.report = self._local_report
        self.lr_at = self._global_lr_at
        self.acc = [0.0, 0.0]  # this rank's loss and examples since the last sync
        self.round_start = 0.0  # the run's words (all ranks) when the round began
        self.ref: list[torch.Tensor] = []  # the tables at the last sync

    def tables(self) -> list[torch.Tensor]:
        m = self.model
        return [m.w_in, m.w_out] + ([m.out_bias] if m.out_bias is not None else [])

    def broadcast_tables(self) -> None:
        """Make every rank start from rank 0's tables."""
        for t in self.tables():
            collective(self.ctx, dist.broadcast, t, 0)

    def _local_report(self, run: EpochRun, loss_acc: torch.Tensor, n_acc: torch.Tensor, call: bool = True) -> None:
        ls, n = float(loss_acc.item()), float(n_acc.item())
        with run.lock:
            self.acc[0] += ls
            self.acc[1] += n

    def _global_lr_at(self, done: float, total: int) -> float:
        """This rank's progress in the round stands for every rank's: the rate falls over all ranks' words."""
        lr = self.trainer_lr_at(self.round_start + (done - self.round_start) * self.ctx.world, total)
        return lr * rate_scale(self.ctx)

    def run_epoch(self, run: EpochRun) -> None:
        self.ref = [t.detach().clone() for t in self.tables()]  # equal on all ranks (synced, or rolled back)
        done = run.done
        for k, tokens in enumerate(self.rounds):
            self.round_start = run.done
            run.limit = min(len(self.data.chunks), (k + 1) * self.per_round)
            if not (self.stop_event.is_set() or run.abort.is_set()):
                super().run_epoch(run)
            flags = self._sync(run)
            done += tokens
            run.done = done
            loss, n, stop, failed = flags
            if n > 0:
                self.trainer_report(run, torch.tensor(loss), torch.tensor(n))
            if failed and run.error is None:
                run.error = W2VError("Another rank of the run stopped with an error (its message is above); nothing "
                                     "was saved.")
            if stop:
                self.stop_event.set()
            if stop or failed or run.blowup is not None:
                break
        run.limit = None

    def _sync(self, run: EpochRun) -> list[float]:
        """Sum the losses, stop and error flags and the table changes over the ranks."""
        ctx, dev = self.ctx, self.device
        small = torch.tensor([self.acc[0], self.acc[1], float(self.stop_event.is_set()), float(run.error is not None)],
                             dtype=torch.float64, device=dev)
        self.acc = [0.0, 0.0]
        collective(ctx, dist.all_reduce, small)
        t0 = time.perf_counter()
        payload = 0
        for t, ref in zip(self.tables(), self.ref):
            t.sub_(ref)  # this rank's change since the last sync
            collective(ctx, dist.all_reduce, t)
            if ctx.combine != "sum":  # mean and scaled average the changes
                t.div_(ctx.world)
            t.add_(ref)
            ref.copy_(t)
            payload += t.numel() * t.element_size()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        ctx.stats.seconds += time.perf_counter() - t0
        ctx.stats.syncs += 1
        ctx.stats.payload_bytes = payload
        return small.tolist()
