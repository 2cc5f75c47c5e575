"""Training steps of the subword model (``subwords.py``): word2vec's negative-sampling steps with h built from pieces.

A vocabulary word's input rows are its own row and its n-grams' bucket rows (``subwords.SubwordIndex``, on the model as
the buffers ``sub_rows`` / ``sub_starts``: :class:`Pieces`). Against the plain steps of ``kernels.py``:

* Skip-gram (:func:`sg_subword_step`): h of a centre is the mean of its rows (one ``embedding_bag``); the error on h is
  added to every one of those rows, undivided (fastText's and gensim's rule), so h moves as far as a plain word row
  would. The row bound (``kernels.row_scale``) counts each row's load from every centre of the batch whose pieces
  include it (a common n-gram such as ``ing>`` is in many), so shared rows take a bounded step.
* CBOW needs no step of its own: h is the mean of *all* rows of all context words (fastText's ``computeHidden``), and
  the error goes undivided to each, which is exactly ``kernels.cbow_negative_step`` run on the context words' rows
  instead of the words (:func:`expand_windows` rewrites a chunk's context entries that way, once per chunk).

The readable steps (``models.SkipGram._step_negative`` / ``CBOW._step_negative`` with subwords) use
:func:`input_sums` and :func:`add_to_inputs`; ``tests/test_subwords.py`` checks both forms against autograd.
"""

from __future__ import annotations

from typing import List, NamedTuple

import torch
import torch.nn.functional as F

from w2v_core.kernels import (USE_SCRIPT, Bound, Examples, RowBound, Schedule, Tables, _blocks, _curvature, expand_rows,
                              _norm_floor, _own, _own_examples, _own_tables, _wrong_side, row_scale, scripted)
from w2v_core.windows import Windows


class Pieces(NamedTuple):
    """Every vocabulary word's input rows, CSR: word w's are ``rows[starts[w]:starts[w + 1]]`` (int64)."""

    rows: torch.Tensor
    starts: torch.Tensor


def model_pieces(model) -> Pieces:
    return Pieces(model.sub_rows, model.sub_starts)


def expand(pieces: Pieces, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows of each word of ``ids`` laid end to end: (rows (Q,), the entry of ``ids`` each belongs to (Q,), the
    number of rows of each entry (N,))."""
    return expand_rows(pieces.rows, pieces.starts, ids)


# ----- the readable forms --------------------------------------------------------------------------------------

def input_sums(w_in: torch.Tensor, pieces: Pieces, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each word's sum of input rows (N, D) and how many rows it has (N,), for any shape of ``ids`` (flattened)."""
    flat = ids.reshape(-1)
    rows, owner, lens = expand(pieces, flat)
    sums = torch.zeros(flat.shape[0], w_in.shape[1], dtype=w_in.dtype, device=w_in.device)
    sums.index_add_(0, owner, w_in.index_select(0, rows))
    return sums, lens.to(w_in.dtype)


def add_to_inputs(w_in: torch.Tensor, pieces: Pieces, ids: torch.Tensor, upd: torch.Tensor) -> None:
    """Add ``upd[i]`` (N, D) to every input row of word ``ids[i]`` (fastText's undivided update)."""
    rows, owner, _ = expand(pieces, ids.reshape(-1))
    w_in.index_add_(0, rows, upd.reshape(-1, w_in.shape[1]).index_select(0, owner))


# ----- Skip-gram, packed and compiled --------------------------------------------------------------------------

def sg_subword_step(tables: Tables, batch: Examples, pieces: Pieces, lr: float, k: float, want_loss: bool,
                    dst: Tables, bound: Bound) -> tuple[torch.Tensor, torch.Tensor]:
    """``kernels.sg_negative_step`` with each centre's h the mean of its input rows, and the error on h added to every
    one of them. Input rows are numbered ``w_in.shape[0] + row`` in the bound's loads."""
    w_in, w_out = _own_tables(tables)
    dst_in, dst_out = _own_tables(dst)
    centres, ctx, rows, starts, counts, negs = _own_examples(batch)
    pieces = Pieces(_own(pieces.rows), _own(pieces.starts))
    load, kappa = _own(bound.load), bound.kappa
    B = centres.shape[0]
    n_blocks, pool = negs.shape[0], negs.shape[1]
    per_block = (B + n_blocks - 1) // n_blocks
    P = ctx.shape[0]
    # h: the mean of each centre's rows
    in_rows, owner, lens = expand(pieces, centres)
    h = F.embedding_bag(in_rows, w_in, torch.cumsum(lens, 0) - lens, mode="sum").div_(lens.unsqueeze(1).to(w_in.dtype))
    # scores
    h_of_entry = h.index_select(0, rows)  # (P, D)
    o_pos = w_out.index_select(0, ctx)  # (P, D)
    pos_score = (h_of_entry * o_pos).sum(1)
    o_neg = w_out.index_select(0, negs.reshape(-1)).view(n_blocks, pool, -1)
    h_blocks = _blocks(h, n_blocks, per_block)
    neg_score = torch.bmm(h_blocks, o_neg.transpose(1, 2))  # (blocks, per_block, N)
    neg_weight = _blocks(counts, n_blocks, per_block).unsqueeze(2) * (k / pool)
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus(-pos_score).sum() + (F.softplus(neg_score) * neg_weight).sum()
    # gradients
    pos_grad = torch.sigmoid(pos_score).sub_(1.0)
    neg_sigmoid = torch.sigmoid(neg_score)
    neg_grad = neg_sigmoid * neg_weight
    pos_step = pos_grad * -lr
    neg_step = neg_grad * -lr
    pos_step_out, neg_step_out = pos_step, neg_step
    in_scale = torch.ones_like(in_rows, dtype=h.dtype)
    # bound: an input row's load is that of every centre whose rows include it (each moves h by the full step)
    if kappa > 0:
        h_norm2 = (h * h).sum(1).add_(_norm_floor())
        pos_curv = _curvature(pos_grad)
        neg_curv = neg_grad * (1.0 - neg_sigmoid).clamp_(min=_wrong_side())
        o_neg_norm2 = (o_neg * o_neg).sum(2).add_(_norm_floor())
        centre_load = (neg_curv * o_neg_norm2.unsqueeze(1)).sum(2).view(-1)[:B]
        centre_load.index_add_(0, rows, pos_curv * o_neg_norm2.mean())
        scale = row_scale(load, torch.cat([ctx, negs.reshape(-1), in_rows + w_in.shape[0]]),
                          torch.cat([pos_curv * h_norm2.index_select(0, rows),
                                     (neg_curv * _blocks(h_norm2, n_blocks, per_block).unsqueeze(2)).sum(1).view(-1),
                                     centre_load.index_select(0, owner)]), bound.decay, kappa / max(lr, 1e-30))
        pos_step_out = pos_step * scale[:P]
        neg_step_out = neg_step * scale[P:P + n_blocks * pool].view(n_blocks, 1, pool)
        in_scale = scale[P + n_blocks * pool:]
    # scatter
    grad_h = torch.bmm(neg_step, o_neg).view(n_blocks * per_block, -1)[:B].add_(
        F.embedding_bag(ctx, w_out, starts, mode="sum", per_sample_weights=pos_step))
    dst_out.index_add_(0, ctx, h_of_entry.mul_(pos_step_out.unsqueeze(1)))
    dst_out.index_add_(0, negs.reshape(-1),
                       torch.bmm(neg_step_out.transpose(1, 2), h_blocks).reshape(n_blocks * pool, -1))
    dst_in.index_add_(0, in_rows, grad_h.index_select(0, owner).mul_(in_scale.unsqueeze(1)))
    return loss, counts.sum()


def run_sg_subword_chunk(tables: Tables, chunk: Examples, pieces: Pieces, schedule: Schedule,
                         bound: Bound) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch of one chunk in one call, as ``kernels.run_chunk`` for Skip-gram."""
    tables = _own_tables(tables)
    centres, ctx, rows, starts, counts, negs = _own_examples(chunk)
    pieces = Pieces(_own(pieces.rows), _own(pieces.starts))
    bound = Bound(_own(bound.load), bound.decay, bound.kappa)
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
        loss, cnt = sg_subword_step(tables, examples, pieces, lr, schedule.k, want, tables, bound)
        if want:
            loss_sum += loss
            n_sum += cnt
    return loss_sum, n_sum


# ----- CBOW: the context words' rows as the context ------------------------------------------------------------

def expand_windows(win: Windows, pieces: Pieces) -> Windows:
    """A chunk's windows with every context word replaced by its input rows (CBOW: h is the mean of them all)."""
    rows, owner, lens = expand(pieces, win.ctx)
    ends = torch.zeros(lens.shape[0] + 1, dtype=lens.dtype, device=lens.device)
    torch.cumsum(lens, 0, out=ends[1:])
    return Windows(win.positions, win.centres, rows, ends.index_select(0, win.starts),
                   win.rows.index_select(0, owner))


def expand_examples(b: Examples, pieces: Pieces) -> Examples:
    """One packed batch's context entries replaced by their words' input rows (for ``Word2Vec.step_packed``)."""
    rows, owner, lens = expand(pieces, b.ctx)
    ends = torch.zeros(lens.shape[0] + 1, dtype=lens.dtype, device=lens.device)
    torch.cumsum(lens, 0, out=ends[1:])
    starts = ends.index_select(0, b.starts)
    counts = (ends.index_select(0, b.starts + b.counts.long()) - starts).to(b.counts.dtype)
    return Examples(b.centres, rows, b.rows.index_select(0, owner), starts, counts, b.negs)


# ----- what the model and the trainer call ---------------------------------------------------------------------

def packed_step(model, b, lr: float, want_loss: bool, bound: RowBound | None, dst):
    """``Word2Vec.step_packed`` of a subword model (negative sampling)."""
    from w2v_core.kernels import cbow_negative_step, no_groups, no_words

    w_in, w_out = model.w_in, model.w_out
    bound = bound or RowBound.off(w_in.device)
    d_in, d_out = dst if dst is not None else (w_in, w_out)
    negs = b.negatives if b.negatives.dim() == 2 else b.negatives.unsqueeze(0)
    ex = Examples(b.centres, b.ctx, b.rows, b.starts, b.counts, negs)
    pieces = model_pieces(model)
    if model.arch == "skipgram":
        loss, n = scripted(sg_subword_step, w_in.device)(Tables(w_in, w_out), ex, pieces, float(lr),
                                                         float(model.config.negative), bool(want_loss),
                                                         Tables(d_in, d_out), bound.for_kernel())
    else:
        ex = expand_examples(ex, pieces)
        loss, n = scripted(cbow_negative_step, w_in.device)(Tables(w_in, w_out), ex, float(lr),
                                                            float(model.config.negative), bool(want_loss),
                                                            Tables(d_in, d_out), bound.for_kernel(), no_groups(ex.ctx),
                                                            no_words(ex.ctx))
    return (loss if want_loss else None), n


def train_chunk(model, chunk: Examples, schedule: Schedule, bound: RowBound):
    """Skip-gram's call for one chunk (``workers.WorkerPool._train_chunk``; CBOW runs ``kernels.run_chunk`` on the
    :func:`expand_windows` of its chunk)."""
    return scripted(run_sg_subword_chunk, model.w_in.device)(Tables(model.w_in, model.w_out), chunk,
                                                             model_pieces(model), schedule, bound.for_kernel())


def warm_up(dim: int, negative: int, device: torch.device | str = "cpu") -> None:
    """Compile :func:`run_sg_subword_chunk` on throwaway tensors before training starts (as ``kernels.warm_up``)."""
    if not USE_SCRIPT or torch.device(device).type == "cuda":
        return
    V, D, B, C = 16, max(2, dim), 4, 2
    tables = Tables(torch.zeros(2 * V, D, device=device), torch.zeros(V, D, device=device))
    pieces = Pieces(torch.arange(V, device=device).repeat_interleave(2) + torch.tensor([0, V], device=device).repeat(V),
                    torch.arange(0, 2 * V + 1, 2, device=device))
    ar = torch.arange(B, device=device)
    ctx, rows, starts = (ar + 1).repeat_interleave(C), ar.repeat_interleave(C), ar * C
    counts = torch.full((B,), float(C), device=device)
    negs = torch.arange(8, device=device).view(1, 2, 4).expand(2, 2, 4).contiguous()
    cuts: List[int] = [0, B * C, 2 * B * C]
    chunk = Examples(ar.repeat(2), ctx.repeat(2), rows.repeat(2), starts.repeat(2), counts.repeat(2), negs)
    for bound in (RowBound(2 * V, device), RowBound(2 * V, device, workers=2), RowBound.off(device)):
        for i in range(2):
            schedule = Schedule(B, cuts, 0.0, 0.0, float(negative), 1 + i)
            scripted(run_sg_subword_chunk)(tables, chunk, pieces, schedule, bound.for_kernel())
