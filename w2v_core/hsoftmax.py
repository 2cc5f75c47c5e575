"""Hierarchical softmax: the output layer of word2vec's ``-hs 1`` (gensim ``hs=1``), a Huffman tree over the words.

Mikolov et al. (2013), "Distributed Representations of Words and Phrases and their Compositionality", section 2.1
(after Morin & Bengio, 2005). The V words are the leaves of a binary tree with V - 1 inner nodes, each inner node n
owning an output vector v_n (a row of the output table ``W_out``: inner node n is row n, and row V - 1 is unused,
as in word2vec's ``syn1``). A word's *path* is the inner nodes from the root down to its leaf, and its *code* the
turn taken at each one (0 or 1). The probability of word w given the hidden vector h is the product, along w's path,
of the probability of each turn:

    p(w | h) = prod_j sigma((1 - 2 code_j) * h . v_{point_j}),   loss = sum_j softplus((2 code_j - 1) * h . v_{point_j})

so one example costs len(path) dot products (about log2 V) instead of V (the full softmax) or 1 + k (negative
sampling). The tree is a Huffman tree of the word counts (:func:`huffman_tree`, built exactly as word2vec.c's
``CreateBinaryTree``): frequent words get short paths, so the average example costs even less.

Which vector walks which path, as in word2vec.c and gensim:

* CBOW: h = the mean of the context rows walks the centre's path; h's gradient goes to every context row, undivided.
* Skip-gram: each context word's input row walks the *centre's* path (word2vec.c reads every (centre, context) pair
  this way round with ``-hs 1``: the same pairs, and one path per centre, shared by its context words).

The forms of the step:

* :func:`padded_step`, the readable one (``Word2Vec.step``), on a padded ``models.Batch``;
* :func:`hs_step`, the trainer's (``Word2Vec.step_packed`` and :func:`run_hs_chunk`), on packed examples: one
  (B x C x D) by (B x D x L) matrix product per batch (C: the most context words of a centre, L: the longest path in
  the batch; slots beyond a centre's context or path are masked), the row bound of ``kernels.row_scale`` (the root
  is on every path, so every example of a batch updates it), one ``index_add_`` per table; TorchScript on a CPU;
* :func:`cbow_tree_step`, a CPU's: the same updates as a sampled sparse product and two weighted bags over a
  batch's (centre, inner node) turns (Skip-gram's: over its (centre, context) pairs, each walking the centre's path
  with the context's row), with the centres in the tree's leaf order (:func:`leaf_order`, :func:`chunk_order`), so
  no (B x L x D) tensor is built;
* ``hs_loop.run_chunk``, what a CPU's trainer runs where numba is installed: :func:`cbow_tree_step`'s updates as one
  compiled loop over a chunk's turns, each turn touching its two rows once (Skip-gram at 2 threads 1.3x the words/s
  of :func:`run_hs_chunk`'s sparse step, benchmarks/README.md).

``tests/test_hsoftmax.py`` checks both against autograd and the tree against gensim's.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import List, NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F

from w2v_core import hs_loop
from w2v_core.kernels import (USE_SCRIPT, Bound, ContextGroups, Examples, RowBound, Schedule, Tables, _norm_floor,
                              _own, _own_examples, _own_tables, _wrong_side, chunk_groups, group_contexts, no_groups,
                              row_scale, scripted)

# cbow_tree_step builds sparse CSR matrices, and torch warns once per process that their support is "beta": the
# three ops used here are tested against the dense step (tests/test_hsoftmax.py)
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

# ----- the tree ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HuffmanTree:
    """Every word's path down the tree: ``points[w, :lengths[w]]`` are its inner nodes from the root (node V - 2)
    down, ``codes[w, :lengths[w]]`` the turn (0 or 1) at each. Beyond a word's length, points are V - 1 (the unused
    row) and codes 0."""

    points: np.ndarray  # int64 (V, L)
    codes: np.ndarray  # int8 (V, L)
    lengths: np.ndarray  # int64 (V,)

    @property
    def depth(self) -> int:
        return int(self.points.shape[1])

    def path(self, w: int) -> tuple[list[int], list[int]]:
        """(inner nodes, codes) of word ``w``, root first."""
        n = int(self.lengths[w])
        return self.points[w, :n].tolist(), self.codes[w, :n].tolist()

    def same_as(self, other: "HuffmanTree") -> bool:
        return (self.points.shape == other.points.shape and np.array_equal(self.points, other.points)
                and np.array_equal(self.codes, other.codes))


def huffman_tree(counts) -> HuffmanTree:
    """The Huffman tree of ``counts`` (most frequent first, as every vocabulary here is sorted), built exactly as
    word2vec.c's ``CreateBinaryTree``.

    Two queues, both in increasing order: the leaves read from the rarest end, and the inner nodes in the order they
    are made. Each of the V - 1 steps joins the two smallest (a tie goes to the inner node), the second of them taking
    code 1. Inner node a (made at step a) is row a of the output table, so the root is V - 2.
    """
    c = np.asarray(counts, dtype=np.int64)
    V = len(c)
    if V > 1 and np.any(np.diff(c) > 0):
        raise ValueError("huffman_tree wants counts sorted from the most frequent word down")
    count = c.tolist() + [10 ** 15] * V
    parent = [0] * (2 * V)
    binary = [0] * (2 * V)
    pos1, pos2 = V - 1, V
    for a in range(V - 1):
        picks = []
        for _ in range(2):
            if pos1 >= 0 and count[pos1] < count[pos2]:
                picks.append(pos1)
                pos1 -= 1
            else:
                picks.append(pos2)
                pos2 += 1
        count[V + a] = count[picks[0]] + count[picks[1]]
        parent[picks[0]] = parent[picks[1]] = V + a
        binary[picks[1]] = 1
    return _paths(V, np.asarray(parent, dtype=np.int64), np.asarray(binary, dtype=np.int8))


def _paths(V: int, parent: np.ndarray, binary: np.ndarray) -> HuffmanTree:
    """Every leaf's path, walked up to the root for all leaves at once, then read root first."""
    root = 2 * V - 2
    node = np.arange(V, dtype=np.int64)
    up_points, up_codes = [], []
    alive = node != root if V > 1 else np.zeros(V, dtype=bool)
    lengths = np.zeros(V, dtype=np.int64)
    while alive.any():
        up_codes.append(np.where(alive, binary[node], 0))
        node = np.where(alive, parent[node], node)
        up_points.append(np.where(alive, node - V, -1))
        lengths += alive
        alive = alive & (node != root)
    L = max(1, len(up_points))
    points = np.full((V, L), max(V - 1, 0), dtype=np.int64)
    codes = np.zeros((V, L), dtype=np.int8)
    for i, (p, b) in enumerate(zip(up_points, up_codes)):  # step i up from the leaf is depth lengths - 1 - i
        has = lengths > i
        depth = lengths[has] - 1 - i
        points[np.flatnonzero(has), depth] = p[has]
        codes[np.flatnonzero(has), depth] = b[has]
    return HuffmanTree(points, codes, lengths)


class Path(NamedTuple):
    """The tree as the steps read it (on the model's device): points (V, L) int64, codes and mask (V, L) float,
    lengths (V,) int64."""

    points: torch.Tensor
    codes: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor


def tree_buffers(tree: HuffmanTree) -> dict[str, torch.Tensor]:
    """The tree as the model's buffers (they move with ``model.to(device)``)."""
    L = tree.depth
    mask = (np.arange(L)[None, :] < tree.lengths[:, None]).astype(np.float32)
    return {"hs_points": torch.from_numpy(tree.points.copy()), "hs_codes": torch.from_numpy(tree.codes.astype(np.float32)),
            "hs_mask": torch.from_numpy(mask), "hs_lengths": torch.from_numpy(tree.lengths.copy())}


def model_path(model) -> Path:
    return Path(model.hs_points, model.hs_codes, model.hs_mask, model.hs_lengths)


SORT_GROUP = 16  # Skip-gram's dense step: batches whose centres are sorted by window radius together (chunk_order)


def chunk_order(radii: torch.Tensor, ids: torch.Tensor, g: torch.Generator, batch: int,
                ranks: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Skip-gram's centres in the order its batches take them: shuffled (as for negative sampling), then

    * ``ranks`` given (the sparse step on a CPU, :func:`leaf_ranks`): each batch's own centres in the leaves' order,
      so that each inner node's turns are neighbours (:func:`cbow_tree_step`, over the batch's pairs);
    * else (:func:`hs_step`, which pads each centre's context words to the batch's most): within each run of
      ``SORT_GROUP`` batches sorted by window radius, so that a batch's centres have about as many context words.

    Either way each batch's words stay a random draw: sorting a whole chunk by path length (as this did before, to
    cut the padding over paths) gave each batch the same few frequent words, whose summed updates the row bound then
    cut, and on a GPU (one chunk: the whole corpus) the rare words all at the end of every epoch: WordSim353 0.38
    against gensim's 0.41 on a CPU, 0.24 against 0.45 on an H200 (benchmarks/README.md)."""
    n = radii.shape[0]
    dev = radii.device
    perm = torch.randperm(n, generator=g, device=dev)
    pos = torch.arange(n, device=dev)
    if ranks is not None:
        key = pos.div_(batch, rounding_mode="floor").mul_(ranks.shape[0]).add_(
            ranks.index_select(0, ids.index_select(0, perm).long()))
    else:
        key = pos.div_(SORT_GROUP * batch, rounding_mode="floor").mul_(1024).add_(radii.index_select(0, perm))
    return perm.index_select(0, torch.sort(key, stable=True)[1])


def leaf_ranks(codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each word's place among the tree's leaves from left to right (its code read as a binary fraction): the words
    under one inner node are neighbours in this order (V,) int64."""
    c, n = codes.cpu().numpy().astype(np.int8), lengths.cpu().numpy()
    c = np.where(np.arange(c.shape[1])[None, :] < n[:, None], c, 0)  # a leaf's code is no other's prefix
    by_code = np.lexsort(c.T[::-1])
    ranks = np.empty(len(n), dtype=np.int64)
    ranks[by_code] = np.arange(len(n))
    return torch.from_numpy(ranks).to(lengths.device)


def leaf_order(stream, batch: int, ranks: torch.Tensor) -> torch.Tensor:
    """CBOW's centres of a ``windows.Stream``, those with a context (in a document of two words or more) in text
    order, each batch of ``batch`` of them reordered into the leaves' order (:func:`leaf_ranks`): the batches hold
    the same centres, and each inner node's turns in a batch are neighbours (:func:`cbow_tree_step`)."""
    centres = (stream.doc_end - stream.doc_start > 1).nonzero().squeeze(1)
    n = centres.shape[0]
    key = torch.arange(n, device=centres.device).div_(batch, rounding_mode="floor").mul_(len(ranks))
    key += ranks.index_select(0, stream.ids.index_select(0, centres))
    return centres.index_select(0, torch.sort(key)[1])


def untrained_loss(lengths, counts, keep_prob=None) -> float:
    """The loss per example of an untrained model (every inner node's vector is zero: each turn costs ln 2): ln 2
    times the mean path length of the words the examples predict (weighted by their counts after subsampling)."""
    w = np.asarray(counts, dtype=np.float64)
    if keep_prob is not None:
        w = w * np.asarray(keep_prob, dtype=np.float64)
    if w.sum() <= 0:
        w = np.ones_like(w)
    return float(math.log(2) * (w * np.asarray(lengths)).sum() / w.sum())


TREE_CHANGED_NOTE = ("The counts changed the Huffman tree of hierarchical softmax, so its inner-node table starts at "
                     "zeros, as word2vec starts one; the word vectors carry over.")


def carry_inner_nodes(model, parent_counts, parent_out, same_rows: bool) -> str | None:
    """Continuing a hierarchical-softmax model: its inner-node table (``parent_out``) fits the child only when the
    child's tree is the parent's (the same words in the same rows, e.g. more epochs on the same text, whose doubled
    counts make the same merges); then it is copied. Otherwise the inner nodes mean other word groups, the table
    stays at zeros, and the note returned says so."""
    tree = huffman_tree(parent_counts)
    if parent_out is not None and same_rows and np.array_equal(tree.points, model.hs_points.cpu().numpy()) \
            and np.array_equal(tree.codes, model.hs_codes.cpu().numpy().astype(np.int8)):
        model.w_out.copy_(torch.from_numpy(np.asarray(parent_out)).to(model.w_out))
        return None
    return TREE_CHANGED_NOTE


# ----- the readable step ---------------------------------------------------------------------------------------


def _walk(o: torch.Tensor, x: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor):
    """Scores, loss and d loss / d score of input vectors x (B, C, D) walking paths o (B, L, D) with codes (B, L):
    the label of a turn is 1 - code, so the gradient on a score s is sigmoid(s) - 1 + code."""
    s = torch.bmm(x, o.transpose(1, 2))  # (B, C, L)
    c = codes.unsqueeze(1)
    loss = (F.softplus((2 * c - 1) * s) * mask).sum()
    return s, loss, (torch.sigmoid(s) - 1 + c) * mask


def padded_step(model, batch, lr: float):
    """One SGD step of hierarchical softmax on a padded ``models.Batch`` (``Word2Vec.step``): returns (summed loss,
    examples). Skip-gram: every context word's row walks the centre's path; CBOW: the context mean does."""
    w_in, w_out = model.w_in, model.w_out
    path = model_path(model)
    B, W = batch.ctx.shape
    d = w_in.shape[1]
    pts = path.points.index_select(0, batch.centres)  # (B, L): the centre's inner nodes
    codes = path.codes.index_select(0, batch.centres)
    o = w_out.index_select(0, pts.reshape(-1)).view(B, -1, d)  # (B, L, D)
    if model.arch == "skipgram":
        x = w_in.index_select(0, batch.ctx.reshape(-1)).view(B, W, d)  # (B, 2w, D): each context word's row
        mask = batch.mask.unsqueeze(2) * path.mask.index_select(0, batch.centres).unsqueeze(1)  # (B, 2w, L)
        n = batch.mask.sum()
    else:
        x = model.hidden(batch).unsqueeze(1)  # (B, 1, D)
        has_ctx = (batch.mask.sum(1) > 0).float()
        mask = has_ctx.view(B, 1, 1) * path.mask.index_select(0, batch.centres).unsqueeze(1)  # (B, 1, L)
        n = has_ctx.sum()
    _, loss, g = _walk(o, x, codes, mask)
    g = g * -lr
    grad_x = torch.bmm(g, o)  # (B, C, D)
    w_out.index_add_(0, pts.reshape(-1), torch.bmm(g.transpose(1, 2), x).reshape(-1, d))
    if model.arch == "skipgram":
        w_in.index_add_(0, batch.ctx.reshape(-1), grad_x.reshape(-1, d))
    else:  # word2vec (cbow_mean=1): the hidden error goes to every context word, undivided
        w_in.index_add_(0, batch.ctx.reshape(-1), (grad_x * batch.mask.unsqueeze(2)).reshape(-1, d))
    return loss, n


def log_probs(model, h: torch.Tensor) -> torch.Tensor:
    """log p(w | h) of every word w (V,), from the tree (they sum to 1): what the Learn page ranks the words by."""
    path = model_path(model)
    s = model.w_out.index_select(0, path.points.reshape(-1)).view(*path.points.shape, -1) @ h  # (V, L)
    return -(F.softplus((2 * path.codes - 1) * s) * path.mask).sum(1)


# ----- the trainer's step --------------------------------------------------------------------------------------


def _inputs(w_in: torch.Tensor, ctx: torch.Tensor, rows: torch.Tensor, starts: torch.Tensor, counts: torch.Tensor,
            skipgram: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The rows that walk each centre's path, x (B, C, D), their mask (B, C) and, for Skip-gram, the input row of
    every slot (B * C,): a centre's context rows in its first ``counts`` slots (C: the most in the batch; the others
    read row 0 and are masked); CBOW's context mean (C = 1)."""
    B, D = counts.shape[0], w_in.shape[1]
    if not skipgram:
        x = F.embedding_bag(ctx, w_in, starts, mode="sum").div_(counts.unsqueeze(1)).unsqueeze(1)
        return x, w_in.new_ones([B, 1]), ctx.new_zeros(0)
    C = int(counts.max().item())
    slot = rows * C + (torch.arange(ctx.shape[0], device=ctx.device) - starts.index_select(0, rows))
    pad = ctx.new_zeros([B * C]).index_copy_(0, slot, ctx)
    x_mask = w_in.new_zeros([B * C]).index_fill_(0, slot, 1.0).view(B, C)
    return w_in.index_select(0, pad).view(B, C, D), x_mask, pad


def hs_step(tables: Tables, batch: Examples, path: Path, lr: float, want_loss: bool, dst: Tables, bound: Bound,
            skipgram: bool, groups: ContextGroups) -> tuple[torch.Tensor, torch.Tensor]:
    """Hierarchical softmax on a packed batch (``batch.negs`` is unused): scores -> gradients -> bound -> scatter.

    Every centre's examples are rows of x (B, C, D) (:func:`_inputs`); they all walk the centre's path, cut to the
    longest path of the batch. CBOW's ``groups`` (``kernels.group_contexts``; empty: one update per entry) sum each
    context row's updates first. Updates are read from ``tables`` and added to ``dst``. Returns the summed loss (0
    unless ``want_loss``) and the example count.
    """
    w_in, w_out = _own_tables(tables)
    dst_in, dst_out = _own_tables(dst)
    centres, ctx, rows, starts, counts, _ = _own_examples(batch)
    by_row, group_starts, group_rows = _own(groups.by_row), _own(groups.starts), _own(groups.rows)
    load, kappa = _own(bound.load), bound.kappa
    B, D, V = centres.shape[0], w_in.shape[1], w_in.shape[0]
    L = max(1, int(path.lengths.index_select(0, centres).max().item()))
    pts = path.points.index_select(0, centres)[:, :L].contiguous()  # (B, L): each centre's inner nodes
    o = w_out.index_select(0, pts.view(-1)).view(B, L, D)  # (B, L, D)
    x, x_mask, pad = _inputs(w_in, ctx, rows, starts, counts, skipgram)
    C = x.shape[1]
    c = path.codes.index_select(0, centres)[:, :L].unsqueeze(1)  # (B, 1, L)
    mask = x_mask.unsqueeze(2) * path.mask.index_select(0, centres)[:, :L].unsqueeze(1)  # (B, C, L)
    # scores and d loss / d score (the label of a turn is 1 - code); CBOW's one row per centre: products and sums,
    # far faster than a bmm of B matrix-vector products
    s = torch.bmm(x, o.transpose(1, 2)) if skipgram else (o * x).sum(2).unsqueeze(1)  # (B, C, L)
    loss = torch.zeros((), dtype=x.dtype, device=x.device)
    if want_loss:
        loss = (F.softplus((2.0 * c - 1.0) * s) * mask).sum()
    grad = torch.sigmoid(s).sub_(1.0).add_(c).mul_(mask)
    step_out = grad * -lr
    step_in = step_out
    grouped = group_rows.shape[0] > 0
    ctx_rows = group_rows if grouped else ctx
    in_scale = torch.ones(0, dtype=x.dtype, device=x.device)
    if kappa > 0:
        a = grad.abs()
        curv = a * (1.0 - a).clamp_(min=_wrong_side())  # sigma'(s), at least |g| * WRONG_SIDE on the wrong side
        node_load = (curv * torch.linalg.vector_norm(x, dim=2).square_().add_(_norm_floor()).unsqueeze(2)).sum(1)
        in_load = (curv * torch.linalg.vector_norm(o, dim=2).square_().add_(_norm_floor()).unsqueeze(1)).sum(2)
        if skipgram:
            in_idx, in_add = pad + V, in_load.view(-1)  # (B * C,): padding adds nothing
        else:  # a context row moves h by 1 / n of its step
            in_idx, in_add = ctx + V, in_load.view(-1).div(counts).index_select(0, rows)
        ask: Optional[torch.Tensor] = None
        if grouped:
            ask = torch.cat([pts.view(-1), group_rows + V])
        scale = row_scale(load, torch.cat([pts.view(-1), in_idx]), torch.cat([node_load.view(-1), in_add]),
                          bound.decay, kappa / max(lr, 1e-30), ask)
        step_out = step_out * scale[:B * L].view(B, 1, L)
        in_scale = scale[B * L:]
        if skipgram:
            step_in = step_in * in_scale.view(B, C, 1)
    # scatter
    if skipgram:
        dst_out.index_add_(0, pts.view(-1), torch.bmm(step_out.transpose(1, 2), x).view(B * L, D))
        dst_in.index_add_(0, pad, torch.bmm(step_in, o).view(B * C, D))
        return loss, counts.sum()
    grad_h = (step_in.view(B, L, 1) * o).sum(1)  # (B, D)
    dst_out.index_add_(0, pts.view(-1), (step_out.view(B, L, 1) * x).view(B * L, D))
    # word2vec (cbow_mean=1): h's update goes to every context row, undivided
    ctx_step = F.embedding_bag(by_row, grad_h, group_starts, mode="sum") if grouped else grad_h.index_select(0, rows)
    if kappa > 0:
        ctx_step = ctx_step * in_scale.unsqueeze(1)
    dst_in.index_add_(0, ctx_rows, ctx_step)
    return loss, torch.full((), float(B), dtype=x.dtype, device=x.device)


def _turns(centres: torch.Tensor, lengths: torch.Tensor, path: Path):
    """:func:`cbow_tree_step`'s turns, depth-major, from a 2-D ``nonzero``: each turn's example and depth, code - 1
    (the gradient on a score s is sigma(s) + code - 1), run, and each run's first turn and inner node."""
    L = max(1, int(lengths.max().item()))
    dc = (torch.arange(L, device=centres.device).unsqueeze(1) < lengths.unsqueeze(0)).nonzero()  # (E, 2)
    d = dc[:, 0].contiguous()
    c = dc[:, 1].contiguous()
    at = centres.index_select(0, c) * path.points.shape[1] + d
    node = path.points.view(-1).index_select(0, at)
    lift = path.codes.view(-1).index_select(0, at).sub_(1.0)
    # the runs of one node (unique_consecutive: 3x faster than finding them with nonzero and cumsum)
    nodes, run, count = torch.unique_consecutive(node, return_inverse=True, return_counts=True)
    return c, d, lift, run, count.cumsum(0).sub_(count), nodes


def _turns_by_word(centres: torch.Tensor, path: Path):
    """:func:`_turns` for Skip-gram's pairs, whose centre words come several times side by side (each centre's pairs,
    and a batch's centres in the leaves' order): each group of one word's examples has one path, so its turns at one
    depth are one *segment*, and the listing is built on the segments (several times fewer than the turns), then
    spread over their examples: a real 512-centre batch's step 3.6% faster than with :func:`_turns`. CBOW's centres
    repeat too seldom for it to pay (its 4,096-centre batches: 4.5% slower, ``benchmarks/ab_step.py``)."""
    dev = centres.device
    g_word, g_count = torch.unique_consecutive(centres, return_counts=True)  # (W,): each group's word, examples
    g_first = g_count.cumsum(0).sub_(g_count)
    g_len = path.lengths.index_select(0, g_word)
    L = max(1, int(g_len.max().item()))
    # every segment, depth-major: segment j is group w_seg[j] at depth d_seg[j]
    dw = (torch.arange(L, device=dev).unsqueeze(1) < g_len.unsqueeze(0)).nonzero()  # (S, 2)
    d_seg = dw[:, 0].contiguous()
    w_seg = dw[:, 1].contiguous()
    at = g_word.index_select(0, w_seg) * path.points.shape[1] + d_seg
    node_seg = path.points.view(-1).index_select(0, at)
    m_seg = g_count.index_select(0, w_seg)  # its turns: one per example of the group
    seg_turn = m_seg.cumsum(0).sub_(m_seg)  # its first turn
    E = int(m_seg.sum().item())
    # turn t of segment seg[t] is example c[t] (the group's examples in order) at depth d[t]
    seg = torch.repeat_interleave(torch.arange(d_seg.shape[0], device=dev), m_seg, output_size=E)
    c = torch.arange(E, device=dev).add_((g_first.index_select(0, w_seg) - seg_turn).index_select(0, seg))
    d = d_seg.index_select(0, seg)
    lift = path.codes.view(-1).index_select(0, at).sub_(1.0).index_select(0, seg)
    # the runs of one inner node: segments side by side at one node
    nodes, run_seg, count = torch.unique_consecutive(node_seg, return_inverse=True, return_counts=True)
    first_seg = count.cumsum(0).sub_(count)
    return c, d, lift, run_seg.index_select(0, seg), seg_turn.index_select(0, first_seg), nodes


def cbow_tree_step(tables: Tables, batch: Examples, path: Path, lr: float, want_loss: bool, dst: Tables, bound: Bound,
                   groups: ContextGroups, pairs: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Hierarchical softmax on a CPU (CBOW's batches, and Skip-gram's as ``pairs``): the same updates as
    :func:`hs_step`, as one sampled sparse product and two weighted bags.

    A batch's (centre, inner node) turns are the nonzeros of a sparse (nodes x centres) matrix: the scores are that
    matrix sampled from the dense product of the nodes' rows and the hidden vectors (``sampled_addmm``), the inner
    nodes' updates and h's one weighted ``embedding_bag`` each (the nodes': the sparse-by-dense product as a bag per
    node, 1.2x faster than ``torch.sparse.mm`` on its CSR matrix). Nothing of size (turns x D)
    is ever built, where :func:`hs_step` builds several (B x longest path x D) tensors (4x slower at 1,024 centres).
    The turns are listed depth by depth and, within a depth, by centre: when the batch's centres are in the tree's
    leaf order (:func:`leaf_order`), all the turns at one node are neighbours, so each node is one row of the matrix.
    Any order gives the same updates (a node met twice is two rows, and its loads and updates add up).

    ``pairs``: Skip-gram's batch, as one example per (centre, context) pair, h = the context word's row
    (:func:`run_hs_chunk` lists the pairs: ``centres[p]`` is pair p's centre, ``ctx[p]`` its row; ``rows``,
    ``starts`` and ``counts`` are not read).
    """
    w_in, w_out = _own_tables(tables)
    dst_in, dst_out = _own_tables(dst)
    centres, ctx, rows, starts, counts, _ = _own_examples(batch)
    by_row, group_starts, group_rows = _own(groups.by_row), _own(groups.starts), _own(groups.rows)
    load, kappa = _own(bound.load), bound.kappa
    B, D, V = centres.shape[0], w_in.shape[1], w_in.shape[0]
    lengths = path.lengths.index_select(0, centres)
    if pairs:
        h = w_in.index_select(0, ctx)  # (B, D)
    else:
        h = F.embedding_bag(ctx, w_in, starts, mode="sum").div_(counts.unsqueeze(1))  # (B, D)
    # every turn, depth-major (turn t: example c[t] at depth d[t]), each run of one inner node's turns, its node
    c, d, lift, run, first, nodes = (_turns_by_word(centres, path) if pairs else _turns(centres, lengths, path))
    E = c.shape[0]
    U = nodes.shape[0]
    crow = torch.cat([first, first.new_full([1], E)])
    o = w_out.index_select(0, nodes)  # (U, D): one row per run
    pattern = torch.sparse_csr_tensor(crow, c, h.new_zeros(E), [U, B])
    s = torch.sparse.sampled_addmm(pattern, o, h.t(), beta=0.0).values()  # (E,): each turn's score
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus((2.0 * lift + 1.0) * s).sum()
    grad = torch.sigmoid(s).add_(lift)
    step = grad * -lr
    grouped = group_rows.shape[0] > 0
    ctx_rows = group_rows if grouped else ctx
    node_scale = torch.ones(0, dtype=h.dtype, device=h.device)
    in_scale = node_scale
    if kappa > 0:  # the loads of hs_step, summed per run and per centre first
        a = grad.abs()
        curv = a * (1.0 - a).clamp_(min=_wrong_side())
        h_norm = torch.linalg.vector_norm(h, dim=1).square_().add_(_norm_floor())
        o_norm = torch.linalg.vector_norm(o, dim=1).square_().add_(_norm_floor())
        node_load = F.embedding_bag(c, h_norm.unsqueeze(1), first, mode="sum", per_sample_weights=curv).squeeze(1)
        centre_load = h.new_zeros(B).index_add_(0, c, curv * o_norm.index_select(0, run))
        # a context row moves h by 1 / n of its step (a pair's one row: all of it)
        in_add = centre_load if pairs else centre_load.div_(counts).index_select(0, rows)
        ask: Optional[torch.Tensor] = None
        if grouped:
            ask = torch.cat([nodes, group_rows + V])
        scale = row_scale(load, torch.cat([nodes, ctx + V]), torch.cat([node_load, in_add]), bound.decay,
                          kappa / max(lr, 1e-30), ask)
        node_scale = scale[:U]
        in_scale = scale[U:]
    # (U, D): each run's turns' steps times their hidden vectors, summed (a CSR-by-dense product, as a bag)
    out_step = F.embedding_bag(c, h, first, mode="sum", per_sample_weights=step)
    if kappa > 0:
        out_step = out_step * node_scale.unsqueeze(1)
    # h's update: the turns centre by centre (centre c's turn at depth d is number offsets[c] + d)
    offsets = lengths.cumsum(0).sub_(lengths)
    by_centre = offsets.index_select(0, c).add_(d)
    grad_h = F.embedding_bag(torch.empty_like(run).index_copy_(0, by_centre, run), o, offsets, mode="sum",
                             per_sample_weights=torch.empty_like(step).index_copy_(0, by_centre, step))
    dst_out.index_add_(0, nodes, out_step)
    # word2vec (cbow_mean=1): h's update goes to every context row, undivided
    if grouped:  # each context row's updates summed first (Skip-gram: its pairs')
        ctx_step = F.embedding_bag(by_row, grad_h, group_starts, mode="sum")
    elif pairs:
        ctx_step = grad_h
    else:
        ctx_step = grad_h.index_select(0, rows)
    if kappa > 0:
        ctx_step = ctx_step * in_scale.unsqueeze(1)
    dst_in.index_add_(0, ctx_rows, ctx_step)
    return loss, torch.full((), float(B), dtype=h.dtype, device=h.device)


def run_hs_chunk(skipgram: bool, tables: Tables, chunk: Examples, path: Path, schedule: Schedule, bound: Bound,
                 groups: ContextGroups, group_cuts: List[int], sparse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch of one chunk in one call, as ``kernels.run_chunk`` (its ``negs`` unused; CBOW's ``groups`` as
    there): returns the summed loss and example count of every ``loss_every``-th batch. ``sparse``: CBOW's batches
    run :func:`cbow_tree_step` (a CPU's), else :func:`hs_step`."""
    tables = _own_tables(tables)
    centres, ctx, rows, starts, counts, negs = _own_examples(chunk)
    path = Path(_own(path.points), _own(path.codes), _own(path.mask), _own(path.lengths))
    bound = Bound(_own(bound.load), bound.decay, bound.kappa)
    by_row, group_starts, group_rows = _own(groups.by_row), _own(groups.starts), _own(groups.rows)
    grouped = group_rows.shape[0] > 0
    batch, cuts = schedule.batch, schedule.cuts
    n = centres.shape[0]
    n_batches = (n + batch - 1) // batch
    loss_sum = torch.zeros((), dtype=tables.w_in.dtype, device=tables.w_in.device)
    n_sum = torch.zeros((), dtype=tables.w_in.dtype, device=tables.w_in.device)
    for bi in range(n_batches):
        c0 = bi * batch
        c1 = min(c0 + batch, n)
        p0 = cuts[bi]
        p1 = cuts[bi + 1]
        lr = schedule.lr0 + (schedule.lr1 - schedule.lr0) * bi / n_batches
        want = bi % schedule.loss_every == 0
        examples = Examples(centres[c0:c1], ctx[p0:p1], rows[p0:p1], starts[c0:c1], counts[c0:c1], negs)
        u0 = group_cuts[bi] if grouped else 0
        u1 = group_cuts[bi + 1] if grouped else 0
        batch_groups = ContextGroups(by_row[p0:p1] if grouped else by_row, group_starts[u0:u1], group_rows[u0:u1])
        if sparse and skipgram:  # each (centre, context) pair walks the centre's path with h = the context's row
            # cbow_tree_step's pairs read only each pair's centre and context row
            pairs = Examples(examples.centres.index_select(0, examples.rows), examples.ctx, examples.rows,
                             examples.starts, examples.counts, negs)
            loss, cnt = cbow_tree_step(tables, pairs, path, lr, want, tables, bound, batch_groups, True)
        elif sparse:
            loss, cnt = cbow_tree_step(tables, examples, path, lr, want, tables, bound, batch_groups)
        else:
            loss, cnt = hs_step(tables, examples, path, lr, want, tables, bound, skipgram, batch_groups)
        if want:
            loss_sum += loss
            n_sum += cnt
    return loss_sum, n_sum


def packed_step(model, b, lr: float, want_loss: bool, bound: RowBound | None, dst):
    """``Word2Vec.step_packed`` with hierarchical softmax: one :func:`hs_step` (compiled on a CPU)."""
    w_in, w_out = model.w_in, model.w_out
    bound = bound or RowBound.off(w_in.device)
    d_in, d_out = dst if dst is not None else (w_in, w_out)
    examples = Examples(b.centres, b.ctx, b.rows, b.starts, b.counts, b.ctx.new_zeros(0))
    loss, n = scripted(hs_step, w_in.device)(Tables(w_in, w_out), examples, model_path(model), float(lr),
                                             bool(want_loss), Tables(d_in, d_out), bound.for_kernel(),
                                             model.arch == "skipgram", no_groups(b.ctx))
    return (loss if want_loss else None), n


def train_chunk(model, chunk: Examples, schedule: Schedule, bound: RowBound, batch_of: torch.Tensor):
    """The trainer's call for one chunk (``workers.WorkerPool._train_chunk``; ``batch_of``: each context entry's
    batch, for CBOW's groups on a CPU, ``kernels.chunk_groups``): on a CPU ``hs_loop``'s compiled loop where numba is
    installed (and ``W2V_HS_LOOP`` is not 0), else :func:`run_hs_chunk`."""
    sparse = uses_sparse_step(model.arch, model.w_in.device)
    tables = Tables(model.w_in, model.w_out)
    if sparse and hs_loop.available() and hs_loop.supports(tables):  # the same updates, turn by turn, compiled
        return hs_loop.run_chunk(model.arch == "skipgram", tables, chunk, model_path(model), schedule,
                                 bound.for_kernel())
    groups, group_cuts = step_groups(model.arch, sparse, chunk.rows, batch_of, chunk.ctx, model.w_in.shape[0],
                                     schedule.cuts)
    return scripted(run_hs_chunk, model.w_in.device)(model.arch == "skipgram", tables, chunk, model_path(model),
                                                     schedule, bound.for_kernel(), groups, group_cuts, sparse)


def step_groups(arch: str, sparse: bool, rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor,
                vocab_size: int, cuts: list[int]) -> tuple[ContextGroups, list[int]]:
    """:func:`run_hs_chunk`'s groups for a chunk: CBOW's as for negative sampling (``kernels.chunk_groups``);
    Skip-gram's sparse step groups its (centre, context) pairs by context row within each batch (its pair ``p`` is
    the p-th entry of its batch), so that each row's updates are summed once: 1.08x faster at 2 threads than one
    ``index_add_`` entry per pair; the dense step, none."""
    if sparse and arch == "skipgram":
        cut_t = torch.tensor(cuts, dtype=torch.long, device=ctx.device)
        pair = torch.arange(ctx.shape[0], device=ctx.device) - cut_t.index_select(0, batch_of)
        return group_contexts(pair, batch_of, ctx, vocab_size, cuts)
    return chunk_groups(arch, rows, batch_of, ctx, vocab_size, cuts)


def uses_sparse_step(arch: str, device: torch.device | str) -> bool:
    """A CPU runs :func:`cbow_tree_step` (both architectures); a GPU, on which the sparse form was never measured,
    :func:`hs_step`. Skip-gram's sparse step on 2 threads: 0.44M words/s against the dense one's 0.32M with the
    same batches (benchmarks/README.md)."""
    return torch.device(device).type == "cpu"


def warm_up(arch: str, dim: int, device: torch.device | str = "cpu") -> None:
    """Compile :func:`run_hs_chunk` (or, on a CPU with numba, ``hs_loop``'s loop) on throwaway tensors before
    training starts (as ``kernels.warm_up``)."""
    if torch.device(device).type == "cpu" and hs_loop.available() and hs_loop.warm_up():
        return
    if not USE_SCRIPT or torch.device(device).type == "cuda":
        return
    V, D, B, C = 16, max(2, dim), 4, 2
    tables = Tables(torch.zeros(V, D, device=device), torch.zeros(V, D, device=device))
    path = Path(**{k[3:]: v.to(device) for k, v in tree_buffers(huffman_tree(np.arange(V, 0, -1))).items()})
    ar = torch.arange(B, device=device)
    ctx, rows, starts = (ar + 1).repeat_interleave(C), ar.repeat_interleave(C), ar * C
    counts = torch.full((B,), float(C), device=device)
    chunk = Examples(ar.repeat(2), ctx.repeat(2), rows.repeat(2), starts.repeat(2), counts.repeat(2),
                     ctx.new_zeros(0))
    cuts = [0, B * C, 2 * B * C]
    groups, group_cuts = chunk_groups(arch, rows.repeat(2), torch.arange(2, device=device).repeat_interleave(B * C),
                                      ctx.repeat(2), V, cuts)
    for bound in (RowBound(V, device), RowBound(V, device, workers=2), RowBound.off(device)):
        for i in range(2):
            schedule = Schedule(B, cuts, 0.0, 0.0, 0.0, 1 + i)
            scripted(run_hs_chunk)(arch == "skipgram", tables, chunk, path, schedule, bound.for_kernel(), groups,
                                   group_cuts, uses_sparse_step(arch, device))
