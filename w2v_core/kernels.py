"""The trainer's negative-sampling steps, packed and compiled: the machinery behind ``models.py``'s maths.

``models.py`` shows one training step as the paper writes it. The trainer runs the same step in a faster form:

* a batch is *packed* (``models.PackedBatch``; here :class:`Examples`): only real context words are stored, and
  each block of centres shares one pool of negatives, each pool word worth ``k / N`` of an example's ``k``
  (BlazingText's trick, Gupta & Khare, 2017), so the negative scores of a block are one matrix product;
* each row's step per batch is bounded (:func:`row_scale`), so that big batches and many threads do not diverge;
* the steps are plain functions of tensors, compiled to TorchScript (:func:`scripted`): a whole chunk of batches is
  one call (:func:`run_chunk`) with the GIL released, so worker threads really run side by side.

Each step reads: scores -> gradients -> bound -> scatter. Their arguments come grouped in small named tuples
(:class:`Tables`, :class:`Examples`, :class:`Bound`, :class:`ContextGroups`, :class:`Schedule`), which TorchScript
passes as tuples. ``tests/test_models.py`` checks each step against autograd, ``tests/test_kernels.py`` the rest.

Why a batch needs a bounded step. A batch sums the updates of all its examples, all computed from the same old
weights. A row that many examples touch (a frequent context word; a shared negative, which every example of its
block touches) then takes one huge step where sequential SGD would take many small self-correcting ones: past a
point the step overshoots and training diverges. Hogwild worker threads do the same thing to each other (their
stale updates add up), so 8 threads of small batches diverge like one big batch.

The bound: a row's *load* is lr * sum over its contributions of sigma'(s) |x|^2 (the curvature of each example's
logistic loss along the row, x the partner vector): the row's summed step is scaled by min(1, kappa / load). A load
of 1 means the plain summed step is a full Newton step for that row; beyond that it would overshoot. Rows with a
small load (almost all of them, and every row early on, when vectors are short) keep word2vec's plain SGD step; a
very frequent row takes a damped Newton step instead, which settles rather than oscillates. With ``workers`` > 1 the
load that counts is what the row received over the last ``workers`` batches of all threads (a per-row sum that
decays by e every ``workers`` batches): that is what the threads' stale updates add up to. ``tests/test_concurrency.py``
emulates N perfectly concurrent workers: the plain sum diverges, the bounded step converges.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from typing import List, NamedTuple, Optional

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

# kappa per architecture: a clipped row takes at most kappa damped-Newton steps' worth; big batches (BIG_BATCH centres
# and more per worker) measure their loads within the batch and take more. Measured: benchmarks/HISTORY.md
# ("The row bound's constants").
BIG_BATCH = 4096
BIG_BATCH_BOUND = {"skipgram": 2.25, "cbow": 1.0}
ROW_STEP_BOUND = {"skipgram": 1.5, "cbow": 1.0}
# Hierarchical-softmax Skip-gram: every pair of a batch updates the inner nodes of its centre's path, the root's
# always. On the sample, 2 seeds x 3 epochs, batch 256 (tests/test_concurrency.py), WordSim353 of 1 / 16 emulated
# workers: kappa 1.5: 0.356 / 0.309; 2.5: 0.358 / 0.327; 3.0: 0.359 / 0.339; 5.0: 0.356 / 0.234 (16 blew up)
HS_ROW_STEP_BOUND = {"skipgram": 3.0, "cbow": 1.0}

# Added to every squared partner norm in a load. Without it a row whose partners are still short (early on, when
# vectors start near zero) could take a step that moves its scores little but makes the row itself huge; with it
# a row's step is also at most about kappa / (2 sqrt(NORM_FLOOR)) long (larger values slow the first epochs of big
# batches: benchmarks/HISTORY.md).
NORM_FLOOR = 0.1

# A contribution's load uses the curvature of its logistic loss, sigma'(s) = |g| (1 - |g|), where g is the gradient
# on the score: then a clipped row takes a damped Newton step, which settles instead of oscillating when its
# examples are nearly right. For an example on the wrong side (|g| near 1, sigma' near 0) the curvature says little
# about how far a step may go, so it counts at least |g| * WRONG_SIDE.
WRONG_SIDE = 0.25


def _norm_floor() -> float:
    return 0.1  # NORM_FLOOR: TorchScript cannot read a module's float, so the scripted steps call this


def _wrong_side() -> float:
    return 0.25  # WRONG_SIDE, for TorchScript


# ----- the arguments, grouped ----------------------------------------------------------------------------------

class Tables(NamedTuple):
    """The two weight tables (V, D): the input vectors we keep and the output vectors."""

    w_in: torch.Tensor
    w_out: torch.Tensor


class Examples(NamedTuple):
    """A packed batch (or a whole chunk of them, for ``run_chunk``): centre ``i`` owns
    ``ctx[starts[i] : starts[i] + counts[i]]``, and ``rows[p]`` is the centre of context entry ``p``."""

    centres: torch.Tensor  # int64 (B,)
    ctx: torch.Tensor  # int64 (P,): context ids, grouped by centre
    rows: torch.Tensor  # int64 (P,): each entry's centre (0..B-1)
    starts: torch.Tensor  # int64 (B,)
    counts: torch.Tensor  # float (B,): context words per centre
    negs: torch.Tensor  # int64 (blocks, N): block i's pool (a chunk: (batches, blocks, N))


class Bound(NamedTuple):
    """The row bound's state (``RowBound.for_kernel``): every row's load (output rows 0..V-1, input rows V..2V-1),
    its decay per batch (0: one worker) and kappa (<= 0: no bound, word2vec's plain summed step)."""

    load: torch.Tensor
    decay: float
    kappa: float


class ContextGroups(NamedTuple):
    """CBOW's context entries grouped by input row (``group_contexts``); empty tensors: one update per entry.

    For one batch: ``by_row`` is every entry's centre, sorted by row; group j is ``by_row[starts[j]:starts[j + 1]]``
    and updates input row ``rows[j]``."""

    by_row: torch.Tensor
    starts: torch.Tensor
    rows: torch.Tensor


class WordRows(NamedTuple):
    """Subword CBOW (``subword_steps``): each vocabulary word's input rows, CSR (word w's are
    ``rows[starts[w]:starts[w + 1]]``), and each context entry's group within its batch (``group_entries``), so a
    batch composes each of its context words from its rows once. Empty tensors: plain CBOW, a word is its row."""

    rows: torch.Tensor
    starts: torch.Tensor
    slots: torch.Tensor


def expand_rows(rows: torch.Tensor, starts: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                       torch.Tensor]:
    """The rows of each word of ``ids`` laid end to end (CSR ``rows``/``starts``): (rows (Q,), the entry of ``ids``
    each belongs to (Q,), the number of rows of each entry (N,))."""
    lo = starts.index_select(0, ids)
    lens = starts.index_select(0, ids + 1) - lo
    owner = torch.repeat_interleave(torch.arange(ids.shape[0], device=ids.device), lens)
    first = torch.cumsum(lens, 0) - lens  # where each entry's rows start in the output
    pos = torch.arange(owner.shape[0], device=ids.device) - first.index_select(0, owner) + lo.index_select(0, owner)
    return rows.index_select(0, pos), owner, lens


class Schedule(NamedTuple):
    """How ``run_chunk`` walks a chunk: batch b is centres ``[b * batch, (b + 1) * batch)`` with context entries
    ``cuts[b]:cuts[b + 1]``; the rate goes linearly from ``lr0`` to ``lr1``; the loss is taken every
    ``loss_every``-th batch; ``k`` is the negatives per example that a pool stands for."""

    batch: int
    cuts: List[int]
    lr0: float
    lr1: float
    k: float
    loss_every: int


class RowBound:
    """The state of the per-row step bound shared by a run's workers (see ``row_scale``).

    With several workers they share one buffer whose loads decay over the last ``workers`` batches, so a row that
    only some of the batches in flight touch is not counted as if all of them did (private buffers counting every
    load ``workers`` times were measured worse: benchmarks/HISTORY.md).
    """

    def __init__(self, vocab_size: int, device: torch.device | str = "cpu", workers: int = 1, kappa: float = 1.0):
        # the load of every output row, then of every input row
        self.load = torch.zeros(2 * vocab_size, device=device)
        self.workers = max(1, workers)
        self.decay = 0.0 if workers <= 1 else 1.0 / workers
        self.kappa = float(kappa)

    @classmethod
    def off(cls, device: torch.device | str = "cpu") -> "RowBound":
        """No bound: word2vec's plain summed step."""
        b = cls(1, device)
        b.kappa = 0.0
        return b

    def for_kernel(self) -> Bound:
        return Bound(self.load, self.decay, self.kappa)


# ----- the pieces every step uses ------------------------------------------------------------------------------

def _curvature(pos_grad: torch.Tensor) -> torch.Tensor:
    """sigma'(s) of a positive example from its gradient sigma(s) - 1, at least |gradient| * WRONG_SIDE."""
    return (pos_grad + 1.0).clamp_(min=_wrong_side()).mul_(pos_grad).neg_()


def row_scale(load: torch.Tensor, idx: torch.Tensor, add: torch.Tensor, decay: float, limit: float,
              ask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The factor min(1, limit / load of the row) for every entry of ``idx`` (rows may repeat), or of ``ask``.

    ``add`` is each entry's own load without the learning rate, and ``limit`` is kappa / lr. Output rows are
    numbered 0..V-1 and input rows V..2V-1 in one buffer. With ``decay`` = 0 (one worker) a row's load is this
    batch's alone; with ``decay`` = 1 / workers it also holds what the row got in recent batches of every worker,
    decayed by exp(-decay) per batch. ``ask``: the rows whose factors are wanted, when not every entry's (rows of
    ``idx`` only).
    """
    rows = idx if ask is None else ask
    if decay <= 0.0:
        load.index_add_(0, idx, add)
        total = load.index_select(0, rows)
        load.index_fill_(0, idx, 0.0)
    else:
        # every row decays at every batch: one pass over the 2V loads costs less than each entry's age (HISTORY.md)
        load.mul_(math.exp(-decay))
        load.index_add_(0, idx, add)
        total = load.index_select(0, rows)
    return torch.div(limit, total).clamp_(max=1.0)  # a load of 0 gives inf, clamped to 1


def _own(t: torch.Tensor) -> torch.Tensor:
    """An alias of ``t`` that only TorchScript holds. An op on a tensor that Python also holds may take the GIL (to
    count a reference to its Python object), so worker threads running the step on the tables and batches they got
    from Python kept waiting for each other; an alias shares the memory, not the Python object (8 threads on 2
    cores: 10x fewer context switches). Run as plain Python (on a GPU) nothing needs it."""
    if torch.jit.is_scripting():
        return t.detach()
    return t


def _own_tables(t: Tables) -> Tables:
    return Tables(_own(t.w_in), _own(t.w_out))


def _own_examples(e: Examples) -> Examples:
    return Examples(_own(e.centres), _own(e.ctx), _own(e.rows), _own(e.starts), _own(e.counts), _own(e.negs))


def _blocks(x: torch.Tensor, n_blocks: int, per_block: int) -> torch.Tensor:
    """(B, ...) -> (n_blocks, per_block, ...), padding B up to n_blocks * per_block with zeros."""
    pad = n_blocks * per_block - x.shape[0]
    rest = list(x.shape[1:])
    if pad > 0:
        x = torch.cat([x, x.new_zeros([pad] + rest)])
    return x.view([n_blocks, per_block] + rest)


# ----- Skip-gram -----------------------------------------------------------------------------------------------

def sg_negative_step(tables: Tables, batch: Examples, lr: float, k: float, want_loss: bool, dst: Tables,
                     bound: Bound) -> tuple[torch.Tensor, torch.Tensor]:
    """Skip-gram: h = the centre's input row; positives = its context words; each block of centres shares a pool.

    Centres ``[i * per_block, (i + 1) * per_block)`` share row i of ``batch.negs``, each pool word worth k / N of an
    example's k negatives. Updates are read from ``tables`` and added to ``dst`` (the same tables, except when a
    test emulates concurrent workers). Returns the summed loss (0 unless ``want_loss``) and the example count.
    """
    w_in, w_out = _own_tables(tables)
    dst_in, dst_out = _own_tables(dst)
    centres, ctx, rows, starts, counts, negs = _own_examples(batch)
    load, kappa = _own(bound.load), bound.kappa
    B = centres.shape[0]
    n_blocks, pool = negs.shape[0], negs.shape[1]
    per_block = (B + n_blocks - 1) // n_blocks
    P = ctx.shape[0]
    # scores
    h = w_in.index_select(0, centres)  # (B, D)
    h_of_entry = h.index_select(0, rows)  # (P, D): the centre's row beside each of its context words
    o_pos = w_out.index_select(0, ctx)  # (P, D)
    pos_score = (h_of_entry * o_pos).sum(1)  # (P,)
    o_neg = w_out.index_select(0, negs.reshape(-1)).view(n_blocks, pool, -1)  # (blocks, N, D)
    h_blocks = _blocks(h, n_blocks, per_block)  # (blocks, per_block, D)
    neg_score = torch.bmm(h_blocks, o_neg.transpose(1, 2))  # (blocks, per_block, N)
    # each centre's context words share its block's pool; a pool word stands for k / N negatives per context word
    neg_weight = _blocks(counts, n_blocks, per_block).unsqueeze(2) * (k / pool)
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus(-pos_score).sum() + (F.softplus(neg_score) * neg_weight).sum()
    # gradients: d loss / d score, then -lr times it per table (the bound may scale the two tables differently)
    pos_grad = torch.sigmoid(pos_score).sub_(1.0)
    neg_sigmoid = torch.sigmoid(neg_score)
    neg_grad = neg_sigmoid * neg_weight
    pos_step_out = pos_grad * -lr
    neg_step_out = neg_grad * -lr
    pos_step_in, neg_step_in = pos_step_out, neg_step_out
    # bound
    if kappa > 0:
        h_norm2 = (h * h).sum(1).add_(_norm_floor())
        pos_curv = _curvature(pos_grad)
        neg_curv = neg_grad * (1.0 - neg_sigmoid).clamp_(min=_wrong_side())
        o_neg_norm2 = (o_neg * o_neg).sum(2).add_(_norm_floor())  # (blocks, N)
        centre_load = (neg_curv * o_neg_norm2.unsqueeze(1)).sum(2).view(-1)[:B]
        # a context word's |o|^2 is taken as the pool's mean (the pool is drawn from about the same words): no P x D
        centre_load.index_add_(0, rows, pos_curv * o_neg_norm2.mean())
        scale = row_scale(load, torch.cat([ctx, negs.reshape(-1), centres + w_in.shape[0]]),
                          torch.cat([pos_curv * h_norm2.index_select(0, rows),
                                     (neg_curv * _blocks(h_norm2, n_blocks, per_block).unsqueeze(2)).sum(1).view(-1),
                                     centre_load]), bound.decay, kappa / max(lr, 1e-30))
        in_scale = scale[P + n_blocks * pool:]
        pos_step_out = pos_step_out * scale[:P]
        neg_step_out = neg_step_out * scale[P:P + n_blocks * pool].view(n_blocks, 1, pool)
        pos_step_in = pos_step_in * in_scale.index_select(0, rows)
        neg_step_in = neg_step_in * _blocks(in_scale, n_blocks, per_block).unsqueeze(2)
    # scatter; the positives' part of each centre's step is one fused gather-scale-sum over its context rows
    grad_h = torch.bmm(neg_step_in, o_neg).view(n_blocks * per_block, -1)[:B].add_(
        F.embedding_bag(ctx, w_out, starts, mode="sum", per_sample_weights=pos_step_in))
    dst_out.index_add_(0, ctx, h_of_entry.mul_(pos_step_out.unsqueeze(1)))
    dst_out.index_add_(0, negs.reshape(-1),
                       torch.bmm(neg_step_out.transpose(1, 2), h_blocks).reshape(n_blocks * pool, -1))
    dst_in.index_add_(0, centres, grad_h)
    return loss, counts.sum()


# ----- CBOW ----------------------------------------------------------------------------------------------------

def _self_negatives(centres: torch.Tensor, negs: torch.Tensor, per_block: int) -> torch.Tensor:
    """How often each example's own centre is in its block's pool (B,).

    A pool word that is the example's own centre is no negative for it (word2vec skips such draws). Rather than
    weigh every (example, pool word) pair (five ops over blocks x pool a batch), every pool word is taken as a
    negative, and an example whose centre is in its pool m times takes m * k / N of a negative's gradient off
    its positive: it is the same output row, so the sums, and the loads of the bound, come out exactly the same.
    """
    centre_blocks = _blocks(centres + 1, negs.shape[0], per_block).unsqueeze(2) - 1  # padding: -1, in no pool
    return (negs.unsqueeze(1) == centre_blocks).sum(2).view(-1)[:centres.shape[0]]


def cbow_negative_step(tables: Tables, batch: Examples, lr: float, k: float, want_loss: bool, dst: Tables,
                       bound: Bound, groups: ContextGroups, words: WordRows) -> tuple[torch.Tensor, torch.Tensor]:
    """CBOW: h = the mean of the context rows (one embedding_bag); it predicts the centre against its block's pool.

    ``groups`` (``group_contexts``) gathers the batch's context entries by input row; empty: every entry is updated
    on its own. Otherwise as ``sg_negative_step``.

    Subword CBOW (``words`` not empty; ``groups`` then gathers the entries by context *word*): h is the mean of all
    rows of all context words (fastText), each word's sum of rows composed once a batch, and each group's summed
    error goes undivided to every row of its word; the same step as plain CBOW over the expanded rows, with the
    sort, the gathers and the sums over ~15x fewer entries.
    """
    w_in, w_out = _own_tables(tables)
    dst_in, dst_out = _own_tables(dst)
    centres, ctx, rows, starts, counts, negs = _own_examples(batch)
    by_row, group_starts, group_rows = _own(groups.by_row), _own(groups.starts), _own(groups.rows)
    sub_rows, sub_starts, slots = _own(words.rows), _own(words.starts), _own(words.slots)
    load, kappa = _own(bound.load), bound.kappa
    grouped = group_rows.shape[0] > 0
    subword = sub_rows.shape[0] > 0
    B = centres.shape[0]
    n_blocks, pool = negs.shape[0], negs.shape[1]
    per_block = (B + n_blocks - 1) // n_blocks
    w = k / pool  # what one pool word is worth in an example
    # scores; mode="sum" then a division is 2x faster than mode="mean" on a CPU
    in_rows, owner = ctx, ctx
    if subword:  # each context word of the batch composed once: the sum of its rows
        in_rows, owner, lens = expand_rows(sub_rows, sub_starts, group_rows)
        sums = F.embedding_bag(in_rows, w_in, torch.cumsum(lens, 0) - lens, mode="sum")  # (words, D)
        h = F.embedding_bag(slots, sums, starts, mode="sum").div_(counts.unsqueeze(1))  # counts: rows, not words
    else:
        h = F.embedding_bag(ctx, w_in, starts, mode="sum").div_(counts.unsqueeze(1))  # (B, D)
    o_centre = w_out.index_select(0, centres)  # (B, D)
    pos_score = (h * o_centre).sum(1)  # (B,)
    o_neg = w_out.index_select(0, negs.reshape(-1)).view(n_blocks, pool, -1)  # (blocks, N, D)
    h_blocks = _blocks(h, n_blocks, per_block)
    neg_score = torch.bmm(h_blocks, o_neg.transpose(1, 2))  # (blocks, per_block, N)
    self_negs = _self_negatives(centres, negs, per_block).to(h.dtype)  # (B,)
    pos_sigmoid = torch.sigmoid(pos_score)
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus(-pos_score).sum() + w * (F.softplus(neg_score).view(-1, pool)[:B].sum()
                                                   - (self_negs * F.softplus(pos_score)).sum())
    # gradients
    self_weight = self_negs * w
    pos_grad = (pos_sigmoid - 1.0) - self_weight * pos_sigmoid
    neg_sigmoid = torch.sigmoid(neg_score)
    pos_step = pos_grad * -lr
    neg_step = neg_sigmoid * (-lr * w)
    o_centre_norm2 = ((o_centre * o_centre).sum(1).add_(_norm_floor()) if kappa > 0
                      else o_centre.new_zeros(1))  # before o_centre is reused below
    grad_h = torch.bmm(neg_step, o_neg).view(n_blocks * per_block, -1)[:B].add_(o_centre.mul_(pos_step.unsqueeze(1)))
    # word2vec (cbow_mean=1) adds the hidden error to every context word. Neighbouring centres share most of their
    # context words, so summing each row's errors first (one embedding_bag over the entries grouped by row) writes
    # about a tenth of the rows that one gathered copy per entry does
    if grouped:  # subword: one row of errors per context word of the batch, for every row of the word below
        ctx_step = F.embedding_bag(by_row, grad_h, group_starts, mode="sum")  # (rows or words, D)
        ctx_rows = group_rows
    else:
        ctx_step = grad_h.index_select(0, rows)  # (entries, D)
        ctx_rows = ctx
    if subword:
        ctx_step = ctx_step.index_select(0, owner)  # (the words' rows, D)
        ctx_rows = in_rows
    # bound
    if kappa > 0:
        h_norm2 = (h * h).sum(1).add_(_norm_floor())
        # the loads of the positive, less those of the self-negatives counted in the pool's
        pos_curv = _curvature(pos_sigmoid - 1.0).sub_(
            self_weight * (1.0 - pos_sigmoid).clamp(min=_wrong_side()) * pos_sigmoid)
        neg_curv = (1.0 - neg_sigmoid).clamp_(min=_wrong_side()).mul_(neg_sigmoid)  # (blocks, per_block, N), no w
        o_neg_norm2 = (o_neg * o_neg).sum(2).add_(_norm_floor())  # (blocks, N)
        # products and sums, not a bmm with one column (faster)
        example_load = (neg_curv * o_neg_norm2.unsqueeze(1)).sum(2).view(-1)[:B].mul_(w).add_(pos_curv * o_centre_norm2)
        # a context row moves h by 1 / n of its step
        out_rows = torch.cat([centres, negs.reshape(-1)])
        in_load = example_load.div_(counts).index_select(0, rows)  # each context entry's
        in_idx = ctx
        ask: Optional[torch.Tensor] = None  # ungrouped (or subword), the factors wanted are every entry's
        if subword:  # a word's entries' loads summed, then on each of its rows
            in_load = torch.zeros(group_rows.shape[0], dtype=h.dtype, device=h.device).index_add_(
                0, slots, in_load).index_select(0, owner)
            in_idx = in_rows
        elif grouped:
            ask = torch.cat([out_rows, ctx_rows + w_in.shape[0]])
        scale = row_scale(load, torch.cat([out_rows, in_idx + w_in.shape[0]]),
                          torch.cat([pos_curv * h_norm2,
                                     (neg_curv * _blocks(h_norm2, n_blocks, per_block).unsqueeze(2)).sum(1).view(-1)
                                     .mul_(w),
                                     in_load]), bound.decay, kappa / max(lr, 1e-30), ask)
        pos_step = pos_step * scale[:B]
        neg_step = neg_step * scale[B:B + n_blocks * pool].view(n_blocks, 1, pool)
        ctx_step.mul_(scale[B + n_blocks * pool:].unsqueeze(1))
    # scatter
    dst_out.index_add_(0, centres, h * pos_step.unsqueeze(1))
    dst_out.index_add_(0, negs.reshape(-1), torch.bmm(neg_step.transpose(1, 2), h_blocks).reshape(n_blocks * pool, -1))
    dst_in.index_add_(0, ctx_rows, ctx_step)
    return loss, torch.full((), float(B), dtype=h.dtype, device=h.device)


# ----- a chunk of batches in one call --------------------------------------------------------------------------

def run_chunk(skipgram: bool, tables: Tables, chunk: Examples, schedule: Schedule, bound: Bound,
              groups: ContextGroups, group_cuts: List[int], words: WordRows) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch of one chunk, in order, in one call (the trainer's inner loop).

    ``chunk``'s ``rows``/``starts`` are batch-local and its ``negs`` is (batches, blocks, N); ``schedule`` says where
    each batch lies. Returns the summed loss and example count of every ``loss_every``-th batch. CBOW's grouped
    context entries (``chunk_groups``; empty tensors: not grouped): batch b's groups are
    ``group_cuts[b]:group_cuts[b + 1]`` of ``groups.starts``/``groups.rows``, over its entries in
    ``groups.by_row[cuts[b]:cuts[b + 1]]``. Subword CBOW: ``words`` (``WordRows``; its slots over the chunk's
    entries), the groups by context word, ``chunk.counts`` each centre's number of rows.
    """
    tables = _own_tables(tables)
    centres, ctx, rows, starts, counts, negs = _own_examples(chunk)
    bound = Bound(_own(bound.load), bound.decay, bound.kappa)
    by_row, group_starts, group_rows = _own(groups.by_row), _own(groups.starts), _own(groups.rows)
    grouped = group_rows.shape[0] > 0
    sub_rows, sub_starts, slots = _own(words.rows), _own(words.starts), _own(words.slots)
    subword = sub_rows.shape[0] > 0
    batch, cuts = schedule.batch, schedule.cuts
    n = centres.shape[0]
    n_batches = (n + batch - 1) // batch
    per_block = (batch + negs.shape[1] - 1) // negs.shape[1]
    loss_sum = torch.zeros((), dtype=tables.w_in.dtype, device=tables.w_in.device)
    n_sum = torch.zeros((), dtype=tables.w_in.dtype, device=tables.w_in.device)
    for bi in range(n_batches):
        c0 = bi * batch
        c1 = min(c0 + batch, n)
        p0 = cuts[bi]
        p1 = cuts[bi + 1]
        lr = schedule.lr0 + (schedule.lr1 - schedule.lr0) * bi / n_batches
        want = bi % schedule.loss_every == 0
        n_blocks = (c1 - c0 + per_block - 1) // per_block
        examples = Examples(centres[c0:c1], ctx[p0:p1], rows[p0:p1], starts[c0:c1], counts[c0:c1],
                            negs[bi, :n_blocks])
        if skipgram:
            loss, cnt = sg_negative_step(tables, examples, lr, schedule.k, want, tables, bound)
        else:
            u0 = group_cuts[bi] if grouped else 0
            u1 = group_cuts[bi + 1] if grouped else 0
            batch_groups = ContextGroups(by_row[p0:p1] if grouped else by_row, group_starts[u0:u1],
                                         group_rows[u0:u1])
            batch_words = WordRows(sub_rows, sub_starts, slots[p0:p1] if subword else slots)
            loss, cnt = cbow_negative_step(tables, examples, lr, schedule.k, want, tables, bound, batch_groups,
                                           batch_words)
        if want:
            loss_sum += loss
            n_sum += cnt
    return loss_sum, n_sum


# ----- CBOW's context entries grouped by row -------------------------------------------------------------------

def group_contexts(rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor, vocab_size: int,
                   cuts: list[int]) -> tuple[ContextGroups, list[int]]:
    """CBOW's context entries of a chunk grouped by input row within each batch, for ``run_chunk``.

    Entry p belongs to centre ``rows[p]`` (numbered within its batch) of batch ``batch_of[p]``, whose entries are
    ``cuts[b]:cuts[b + 1]``; ``ctx[p]`` is its input row. Returns the groups (``by_row``: every entry's centre, the
    entries of a batch sorted by row; each group's start in its batch's entries and its row) and where each batch's
    groups begin. One sort per chunk costs far less than the grouped updates save (benchmarks/HISTORY.md).
    """
    groups, group_cuts, _ = group_entries(rows, batch_of, ctx, vocab_size, cuts, False)
    return groups, group_cuts


def group_entries(rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor, vocab_size: int, cuts: list[int],
                  want_slots: bool = True) -> tuple[ContextGroups, list[int], torch.Tensor]:
    """:func:`group_contexts`, and (``want_slots``) each entry's group numbered within its batch (empty otherwise)."""
    if (len(cuts) - 1) * vocab_size < 2 ** 31:  # int32 keys sort 40% faster
        key = batch_of.to(torch.int32).mul_(vocab_size).add_(ctx.to(torch.int32))
    else:
        key = batch_of * vocab_size + ctx
    key, order = torch.sort(key)
    by_row = rows.index_select(0, order)
    ukey, ucount = torch.unique_consecutive(key, return_counts=True)
    ukey = ukey.long()
    ubatch = ukey.div(vocab_size, rounding_mode="floor")
    cut_t = torch.tensor(cuts, dtype=torch.long, device=rows.device)
    group_starts = ucount.cumsum(0).sub_(ucount).sub_(cut_t.index_select(0, ubatch))
    group_cuts_t = torch.searchsorted(ubatch, torch.arange(len(cuts), device=rows.device))
    slots = rows.new_zeros(0)
    if want_slots:
        gid = torch.arange(ukey.shape[0], device=rows.device)
        local = gid - group_cuts_t.index_select(0, ubatch)  # the group's number within its batch
        slots = torch.empty_like(order)
        slots.index_copy_(0, order, torch.repeat_interleave(local, ucount))
    return ContextGroups(by_row, group_starts, ukey - ubatch * vocab_size), group_cuts_t.tolist(), slots


def no_groups(like: torch.Tensor) -> ContextGroups:
    """Empty groups: one update per context entry."""
    none = like.new_zeros(0)
    return ContextGroups(none, none, none)


def no_words(like: torch.Tensor) -> WordRows:
    """Plain CBOW: every context entry is one input row."""
    none = like.new_zeros(0)
    return WordRows(none, none, none)


def chunk_groups(arch: str, rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor, vocab_size: int,
                 cuts: list[int]) -> tuple[ContextGroups, list[int]]:
    """``run_chunk``'s groups: CBOW on a CPU groups its context entries by row (``group_contexts``); Skip-gram, and
    a GPU (which keeps the per-entry updates it was measured with), pass empty groups."""
    if arch == "cbow" and ctx.device.type == "cpu":
        return group_contexts(rows, batch_of, ctx, vocab_size, cuts)
    return no_groups(ctx), [0]


# ----- TorchScript ---------------------------------------------------------------------------------------------

_SCRIPTED: dict = {}
USE_SCRIPT = os.environ.get("W2V_TORCHSCRIPT", "1") != "0"


def scripted(fn, device: torch.device | str = "cpu"):
    """``fn`` compiled to TorchScript once per process (plain Python if that is not possible).

    On a GPU the plain function runs instead: the TorchScript executor specialises and re-profiles its graph for
    every new shape, and ours change with every chunk (measured 3x slower on an H200: benchmarks/HISTORY.md).
    """
    if torch.device(device).type == "cuda":
        return fn
    f = _SCRIPTED.get(fn)
    if f is None:
        f = fn
        if USE_SCRIPT:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    f = torch.jit.script(fn)
            except Exception as e:  # pragma: no cover - TorchScript missing or changed: same maths, much slower
                log.warning("TorchScript could not compile %s (%s); training runs in Python.", fn.__name__, e)
        _SCRIPTED[fn] = f
    return f


def warm_up(arch: str, dim: int, negative: int, device: torch.device | str = "cpu") -> None:
    """Compile the negative-sampling training step (TorchScript) before training starts, on throwaway tensors.

    Why: the first calls of a scripted function profile and optimise it (~0.1 s on a CPU); that is set-up, like
    building the vocabulary, and would otherwise land in the first batches of the run. The real weights are
    not touched."""
    if not USE_SCRIPT or torch.device(device).type == "cuda":
        return
    V, D, B, C = 16, max(2, dim), 4, 2
    tables = Tables(torch.zeros(V, D, device=device), torch.zeros(V, D, device=device))
    ar = torch.arange(B, device=device)
    ctx, rows, starts = (ar + 1).repeat_interleave(C), ar.repeat_interleave(C), ar * C
    counts = torch.full((B,), float(C), device=device)
    negs = torch.arange(8, device=device).view(1, 2, 4).expand(2, 2, 4).contiguous()
    cuts = [0, B * C, 2 * B * C]
    chunk = Examples(ar.repeat(2), ctx.repeat(2), rows.repeat(2), starts.repeat(2), counts.repeat(2), negs)
    groups, group_cuts = chunk_groups(arch, rows.repeat(2), torch.arange(2, device=device).repeat_interleave(B * C),
                                      ctx.repeat(2), V, cuts)
    for bound in (RowBound(V, device), RowBound(V, device, workers=2), RowBound.off(device)):
        for i in range(2):
            schedule = Schedule(B, cuts, 0.0, 0.0, float(negative), 1 + i)
            scripted(run_chunk)(arch == "skipgram", tables, chunk, schedule, bound.for_kernel(), groups, group_cuts,
                                no_words(ctx))
