"""Hierarchical softmax on a CPU as one compiled loop per chunk: the updates of ``hsoftmax.cbow_tree_step``, turn by
turn, in a loop numba compiles (a requirement; umap-learn, for the Map's UMAP, needs it too).

Why a loop: a turn (one example at one inner node of its centre's path) is a dot product and two scaled additions
of D numbers. Stock PyTorch ops do each of those as a pass over all of a batch's turns, plus some 70 small ops that
list the turns and group them by node and by row (``hsoftmax._turns_by_word``): at 2 threads that came to 0.88-0.94x
gensim's words/s for Skip-gram however the ops were arranged (benchmarks/HISTORY.md). Here each turn touches its two
rows once, while they are in the cache, as gensim's Cython does: each example's scores four nodes at a time (four
independent dot products over one pass of h, where one would wait on its own latency), h's update four nodes' rows a
pass, and in Skip-gram each node's update from four of a centre's context rows a pass (they all walk its path).
2 threads, 689k tokens: Skip-gram 1.3x, CBOW 1.2x the words/s of the TorchScript step (benchmarks/README.md).

What is computed is the batched step, not gensim's per-example one: every score of a batch reads the tables as they
were when the batch began; each inner node's and each input row's updates are summed over the batch, scaled by the
row bound (``kernels.row_scale``: loads from the curvature, decayed and shared between workers) and added at the
batch's end. ``tests/test_hsoftmax.py`` checks its updates, losses and loads against ``hsoftmax.run_hs_chunk`` on
the same chunks, ``tests/test_hs_loop.py`` a whole training run against the TorchScript one.

The tensors' memory is used in place (``Tensor.numpy()``); the loop releases the GIL, so the trainer's worker
threads run it side by side (Hogwild, as with the other steps). Without numba (or ``W2V_HS_LOOP=0``) the trainer
runs ``hsoftmax.run_hs_chunk``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from typing import NamedTuple

import numpy as np
import torch

from w2v_core.kernels import NORM_FLOOR, WRONG_SIDE, Bound, Examples, Schedule, Tables

try:  # pragma: no cover - numba is a dependency (umap-learn); the trainer falls back without it
    import numba
except Exception:  # noqa: BLE001 - an unusable numba is the same as none
    numba = None

log = logging.getLogger(__name__)

ENABLED = os.environ.get("W2V_HS_LOOP", "1") != "0"

# reassociation lets the compiler vectorise the dot products; no assumption about infinities or NaNs (a score far
# on the wrong side makes exp overflow to inf, and a row's bound divides by a load that may be 0)
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def _jit(fn, inline="never"):
    """numba's compiled form (kept in numba's on-disk cache where it finds a writable folder), or ``fn`` itself
    without numba (then unused)."""
    if numba is None:
        return fn
    try:
        return numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, inline=inline)(fn)
    except RuntimeError:  # "cannot cache function": no folder numba may write its cache to
        return numba.njit(nogil=True, fastmath=_FASTMATH, inline=inline)(fn)


def _inline(fn):
    return _jit(fn, "always")


@_inline
def _path_slots(word, points, lengths, w_out, node_slot, node_ids, node_acc, node_load, node_norm, U, path_u):
    """Each inner node on ``word``'s path: its slot in the batch's sums (``path_u``); a node's first turn in the
    batch zeroes its sum and takes its row's squared norm. Returns the batch's slot count."""
    D = w_out.shape[1]
    zero = np.float32(0.0)
    for j in range(lengths[word]):
        node = points[word, j]
        u = node_slot[node]
        if u < 0:
            u = U
            U += 1
            node_slot[node] = u
            node_ids[u] = node
            node_load[u] = zero
            o_norm = zero
            for k in range(D):
                node_acc[u, k] = zero
                o_norm += w_out[node, k] * w_out[node, k]
            node_norm[u] = o_norm + np.float32(NORM_FLOOR)
        path_u[j] = u
    return U


@_inline
def _scores(h, word, points, lengths, w_out, out):
    """h's score at each node of ``word``'s path, four nodes at a time: four independent dot products over one pass
    of h, which a single one's latency would leave idle (the last tile's missing nodes repeat its first)."""
    D = w_out.shape[1]
    L = lengths[word]
    zero = np.float32(0.0)
    for j in range(0, L, 4):
        n0 = points[word, j]
        n1 = points[word, j + 1] if j + 1 < L else n0
        n2 = points[word, j + 2] if j + 2 < L else n0
        n3 = points[word, j + 3] if j + 3 < L else n0
        s0 = zero
        s1 = zero
        s2 = zero
        s3 = zero
        for k in range(D):
            x = h[k]
            s0 += x * w_out[n0, k]
            s1 += x * w_out[n1, k]
            s2 += x * w_out[n2, k]
            s3 += x * w_out[n3, k]
        out[j] = s0
        out[j + 1] = s1
        out[j + 2] = s2
        out[j + 3] = s3


@_inline
def _steps(st, word, codes, lengths, step_lr, want, bounded, h_norm, path_u, node_load, node_norm):
    """Scores -> steps in place (the gradient on a score is sigma(s) - label, label = 1 - code; a step is -lr times
    it); the nodes' loads (kernels.row_scale's, from the curvature) are added. Returns the loss (0 unless ``want``)
    and h's own load.

    The loss is -log of the product of the turns' probabilities (one log per path, not one per turn), each turn's
    at least 1e-30 (a turn's loss at most 69; the exact softplus of hsoftmax's steps differs only beyond that)."""
    one = np.float32(1.0)
    wrong = np.float32(WRONG_SIDE)
    loss = 0.0
    prob = 1.0
    h_load = np.float32(0.0)
    for j in range(lengths[word]):
        s = st[j]
        code = codes[word, j]
        e = np.float32(math.exp(-s))
        f = one / (one + e)
        g = f + code - one
        st[j] = step_lr * g
        if want:  # the turn's probability: sigma(s) = f for code 0, 1 - sigma(s) for code 1 (= e f: no cancellation)
            p = f if code < 0.5 else (one - f if f < 0.5 else e * f)
            if p < 1e-30:
                p = np.float32(1e-30)
            prob *= p
            if prob < 1e-270:
                loss -= math.log(prob)
                prob = 1.0
        if bounded:
            a = abs(g)
            curv = a * max(one - a, wrong)  # sigma'(s), at least |g| * WRONG_SIDE on the wrong side
            u = path_u[j]
            node_load[u] += curv * h_norm
            h_load += curv * node_norm[u]
    if want:
        loss -= math.log(prob)
    return loss, h_load


@_inline
def _add_h_step(dst, row, st, word, points, lengths, w_out):
    """dst[row] += the sum over ``word``'s path of each step times its node's row (four rows a pass; the last
    tile's missing nodes repeat its first, with a step of 0)."""
    D = w_out.shape[1]
    L = lengths[word]
    zero = np.float32(0.0)
    for j in range(0, L, 4):
        n0 = points[word, j]
        st0 = st[j]
        n1, st1 = (points[word, j + 1], st[j + 1]) if j + 1 < L else (n0, zero)
        n2, st2 = (points[word, j + 2], st[j + 2]) if j + 2 < L else (n0, zero)
        n3, st3 = (points[word, j + 3], st[j + 3]) if j + 3 < L else (n0, zero)
        for k in range(D):
            dst[row, k] += st0 * w_out[n0, k] + st1 * w_out[n1, k] + st2 * w_out[n2, k] + st3 * w_out[n3, k]


@_inline
def _row_slot(r, row_slot, row_ids, row_acc, row_load, R):
    """Input row r's slot in the batch's sums (a new one zeroed); returns it and the batch's slot count."""
    v = row_slot[r]
    if v < 0:
        v = R
        R += 1
        row_slot[r] = v
        row_ids[v] = r
        row_load[v] = np.float32(0.0)
        for k in range(row_acc.shape[1]):
            row_acc[v, k] = np.float32(0.0)
    return v, R


@_inline
def _sq_norm(x):
    t = np.float32(0.0)
    for k in range(x.shape[0]):
        t += x[k] * x[k]
    return t + np.float32(NORM_FLOOR)


def _chunk_loop(skipgram, w_in, w_out, centres, ctx, starts, counts, cuts, batch, lr0, lr1, loss_every,
                points, codes, lengths, load, decay, kappa, node_slot, row_slot, node_ids, row_ids, node_acc,
                row_acc, node_load, row_load, node_norm, H, ST, path_u):
    V = w_in.shape[0]
    D = w_in.shape[1]
    n = centres.shape[0]
    n_batches = (n + batch - 1) // batch
    bounded = kappa > 0.0
    one = np.float32(1.0)
    zero = np.float32(0.0)
    keep = math.exp(-decay)
    loss_sum = 0.0
    n_sum = 0.0
    for b in range(n_batches):
        c0 = b * batch
        c1 = min(c0 + batch, n)
        p0 = cuts[b]
        lr = lr0 + (lr1 - lr0) * b / n_batches
        step_lr = np.float32(-lr)
        want = b % loss_every == 0
        U = 0
        R = 0
        for i in range(c0, c1):
            word = centres[i]
            q0 = p0 + starts[i]
            m = int(counts[i])
            if m <= 0:
                continue
            if q0 < p0 or q0 + m > cuts[b + 1]:
                raise ValueError("a centre's context entries lie outside its batch")
            L = lengths[word]
            U = _path_slots(word, points, lengths, w_out, node_slot, node_ids, node_acc, node_load, node_norm, U,
                            path_u)
            if skipgram:
                # each context row walks the centre's path with h = its own row: its scores, steps and h's update,
                # then each node's update from all m rows at once
                for e in range(m):
                    r = ctx[q0 + e]
                    for k in range(D):
                        H[e, k] = w_in[r, k]
                    h_norm = _sq_norm(H[e]) if bounded else zero
                    st = ST[e]
                    _scores(H[e], word, points, lengths, w_out, st)
                    loss, h_load = _steps(st, word, codes, lengths, step_lr, want, bounded, h_norm, path_u,
                                          node_load, node_norm)
                    loss_sum += loss
                    v, R = _row_slot(r, row_slot, row_ids, row_acc, row_load, R)
                    row_load[v] += h_load
                    _add_h_step(row_acc, v, st, word, points, lengths, w_out)
                for j in range(L):  # four rows a pass (the last tile's missing rows: its first, with a step of 0)
                    u = path_u[j]
                    for e in range(0, m, 4):
                        a0 = ST[e, j]
                        e1, a1 = (e + 1, ST[e + 1, j]) if e + 1 < m else (e, zero)
                        e2, a2 = (e + 2, ST[e + 2, j]) if e + 2 < m else (e, zero)
                        e3, a3 = (e + 3, ST[e + 3, j]) if e + 3 < m else (e, zero)
                        for k in range(D):
                            node_acc[u, k] += a0 * H[e, k] + a1 * H[e1, k] + a2 * H[e2, k] + a3 * H[e3, k]
                if want:
                    n_sum += m
            else:
                # h = the mean of the context rows walks the centre's path; h's update goes to every context row,
                # undivided (word2vec's cbow_mean=1), and each row moves h by 1 / m of its step (its load's share)
                h = H[0]
                for k in range(D):
                    h[k] = zero
                for q in range(q0, q0 + m):
                    r = ctx[q]
                    for k in range(D):
                        h[k] += w_in[r, k]
                inv = np.float32(1.0 / m)
                for k in range(D):
                    h[k] *= inv
                h_norm = _sq_norm(h) if bounded else zero
                st = ST[0]
                _scores(h, word, points, lengths, w_out, st)
                loss, h_load = _steps(st, word, codes, lengths, step_lr, want, bounded, h_norm, path_u, node_load,
                                      node_norm)
                loss_sum += loss
                for j in range(L):
                    u = path_u[j]
                    a0 = st[j]
                    for k in range(D):
                        node_acc[u, k] += a0 * h[k]
                gh = H[1]
                for k in range(D):
                    gh[k] = zero
                _add_h_step(H, 1, st, word, points, lengths, w_out)
                share = h_load / np.float32(m)
                for q in range(q0, q0 + m):
                    v, R = _row_slot(ctx[q], row_slot, row_ids, row_acc, row_load, R)
                    row_load[v] += share
                    for k in range(D):
                        row_acc[v, k] += gh[k]
                if want:
                    n_sum += 1.0
        # the batch's end: the row bound's factors (node_load, row_load become them), then the updates
        if bounded:
            limit = kappa / max(lr, 1e-30)
            if decay > 0.0:
                for t in range(load.shape[0]):
                    load[t] *= keep
            for u in range(U):
                load[node_ids[u]] += node_load[u]
            for v in range(R):
                load[V + row_ids[v]] += row_load[v]
            for u in range(U):
                total = load[node_ids[u]]
                node_load[u] = np.float32(limit / total) if total > limit else one
            for v in range(R):
                total = load[V + row_ids[v]]
                row_load[v] = np.float32(limit / total) if total > limit else one
            if decay <= 0.0:  # one worker: a row's load is this batch's alone
                for u in range(U):
                    load[node_ids[u]] = zero
                for v in range(R):
                    load[V + row_ids[v]] = zero
        for u in range(U):
            node = node_ids[u]
            f = node_load[u] if bounded else one
            for k in range(D):
                w_out[node, k] += node_acc[u, k] * f
            node_slot[node] = -1
        for v in range(R):
            r = row_ids[v]
            f = row_load[v] if bounded else one
            for k in range(D):
                w_in[r, k] += row_acc[v, k] * f
            row_slot[r] = -1
    return loss_sum, n_sum


_compiled = None
_compile_lock = threading.Lock()
_scratch = threading.local()


_failed = False  # numba could not compile the loop here (warm_up): the TorchScript step trains instead


def available() -> bool:
    """Whether the trainer runs this loop (numba installed, the loop compiled, not turned off by ``W2V_HS_LOOP=0``)."""
    return ENABLED and numba is not None and not _failed


def _loop():
    global _compiled
    if _compiled is None:
        with _compile_lock:
            if _compiled is None:
                _compiled = _jit(_chunk_loop)
    return _compiled


def _buffers(V: int, D: int, nodes: int, depth: int, most: int, node_cap: int, row_cap: int) -> tuple:
    """This thread's scratch for the loop, kept between chunks (every batch leaves the slots at -1): each inner node's
    and input row's slot in a batch's sums (-1: none), the slots' rows, sums (of updates, then loads: the bound's
    factors), the nodes' squared norms, and one centre's context rows and steps (``most``: the most context words
    of a centre, ``depth``: the longest path). A batch has at most ``node_cap`` inner nodes and ``row_cap`` input
    rows, so the sums take (node_cap + row_cap) x D floats, not the tables' size."""
    key, want = (V, D, nodes, depth), (max(2, most), node_cap, row_cap)
    caps = getattr(_scratch, "caps", (0, 0, 0)) if getattr(_scratch, "key", None) == key else (0, 0, 0)
    if any(c < w for c, w in zip(caps, want)):  # first use, other tables, or a bigger batch: (re)allocate, growing
        f32 = np.float32
        most, node_cap, row_cap = (max(c, w) for c, w in zip(caps, want))
        _scratch.key, _scratch.caps = key, (most, node_cap, row_cap)
        _scratch.bufs = (np.full(nodes, -1, np.int64), np.full(V, -1, np.int64),  # node_slot, row_slot
                         np.empty(node_cap, np.int64), np.empty(row_cap, np.int64),  # node_ids, row_ids
                         np.empty((node_cap, D), f32), np.empty((row_cap, D), f32),  # node_acc, row_acc
                         np.empty(node_cap, f32), np.empty(row_cap, f32),  # node_load, row_load
                         np.empty(node_cap, f32),  # node_norm
                         np.empty((most, D), f32), np.empty((most, depth + 3), f32),  # H, ST (+ a 4-node tile)
                         np.empty(depth, np.int64))  # path_u
    return _scratch.bufs


def supports(tables: Tables) -> bool:
    """The loop's tables: float32 and contiguous on a CPU."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 and t.is_contiguous() for t in tables)


def run_chunk(skipgram: bool, tables: Tables, chunk: Examples, path, schedule: Schedule, bound: Bound):
    """``hsoftmax.run_hs_chunk``'s updates for one chunk (its ``sparse`` form, whose batch order this keeps), made
    in place on ``tables``; returns the summed loss and example count of every ``loss_every``-th batch (tensors)."""
    w_in, w_out = tables.w_in.detach(), tables.w_out.detach()
    V, D = w_in.shape
    # the loop does not check its indices: a word id outside the tables would read and write other memory
    for ids in (chunk.centres, chunk.ctx):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= V):
            raise ValueError(f"word ids must be in 0..{V - 1}")
    if len(schedule.cuts) != -(-chunk.centres.shape[0] // schedule.batch) + 1 or \
            (schedule.cuts and schedule.cuts[-1] > chunk.ctx.shape[0]):
        raise ValueError("the schedule's cuts do not fit the chunk")
    np_ = lambda t: t.detach().contiguous().numpy()  # noqa: E731
    load = bound.load.detach()
    cuts = np.asarray(schedule.cuts, dtype=np.int64)
    if bound.kappa > 0 and bound.load.shape[0] < 2 * V:
        raise ValueError("the row bound's loads must cover both tables")
    most = int(chunk.counts.max().item()) if chunk.counts.numel() else 0
    depth = path.points.shape[1]
    row_cap = min(V, max(1, int(np.diff(cuts).max(initial=1))))  # a batch's entries
    node_cap = min(w_out.shape[0], max(1, min(schedule.batch, chunk.centres.shape[0]) * depth))
    try:
        loss, n = _loop()(bool(skipgram), w_in.numpy(), w_out.numpy(), np_(chunk.centres), np_(chunk.ctx),
                          np_(chunk.starts), np_(chunk.counts), cuts, int(schedule.batch),
                          float(schedule.lr0), float(schedule.lr1), max(1, int(schedule.loss_every)),
                          np_(path.points), np_(path.codes), np_(path.lengths),
                          load.numpy() if bound.kappa > 0 else np.zeros(0, np.float32), float(bound.decay),
                          float(bound.kappa), *_buffers(V, D, w_out.shape[0], depth, most, node_cap, row_cap))
    except Exception:
        _scratch.caps = (0, 0, 0)  # a batch stopped half way leaves slots taken: start the next call afresh
        raise
    return torch.tensor(loss, dtype=torch.float32), torch.tensor(n, dtype=torch.float32)


def warm_up() -> bool:
    """Compile the loop (or load it from numba's cache) before training starts: both architectures, with and without
    the bound, on a three-word tree. Where numba cannot compile it, the loop is turned off for this process (a
    warning in the log; the trainer runs ``hsoftmax.run_hs_chunk``) and False returned."""
    global _failed
    try:
        _warm_up()
    except Exception as e:  # noqa: BLE001 - numba's errors have no common base; any of them means "not here"
        _failed = True
        log.warning("The compiled hierarchical-softmax loop is not available (%s: %s); training with the "
                    "TorchScript step instead.", type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        return False
    return True


def _warm_up() -> None:
    # a three-word tree: two inner nodes (0 the root, 1 below it); words 0 and 1 under node 1, word 2 at the root
    path = _Path(torch.tensor([[0, 1], [0, 1], [0, 0]]), torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
                 torch.tensor([2, 2, 1]))
    one = torch.ones(1, dtype=torch.long)
    chunk = Examples(one * 0, one * 1, one * 0, one * 0, torch.ones(1), one[:0])
    for skipgram in (False, True):
        for kappa in (0.0, 1.0):
            tables = Tables(torch.zeros(3, 2), torch.zeros(3, 2))
            run_chunk(skipgram, tables, chunk, path, Schedule(1, [0, 1], 0.0, 0.0, 0.0, 1),
                      Bound(torch.zeros(6), 0.5, kappa))


class _Path(NamedTuple):
    """What the loop reads of ``hsoftmax.Path`` (which imports this module)."""

    points: torch.Tensor
    codes: torch.Tensor
    lengths: torch.Tensor
