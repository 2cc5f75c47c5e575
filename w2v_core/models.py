"""CBOW and Skip-gram: two ``nn.Embedding`` tables and the arithmetic of one training step.

Mikolov et al. (2013), "Efficient Estimation of Word Representations in Vector Space" (CBOW, Skip-gram)
and "Distributed Representations of Words and Phrases and their Compositionality" (negative sampling).

Both models own an *input* table ``W_in`` (V x D, the word vectors we keep) and an *output* table
``W_out`` (V x D). A word's one-hot vector times ``W_in`` is just its row, so the "projection layer" is a
lookup.

* CBOW: the hidden vector ``h`` is the mean of the context words' input rows; it predicts the centre word.
* Skip-gram: ``h`` is the centre word's input row; it predicts each context word.

Two output layers:

* ``softmax`` (the lecture's version): scores ``h @ W_out.T + b`` over the whole vocabulary, softmax,
  cross-entropy with the true word. Exact but O(V) per example: fine for small vocabularies.
* ``negative`` (the default): for the true word and ``k`` words drawn from the noise distribution,
  ``-log sigmoid(h . o_true) - sum log sigmoid(-h . o_neg)``. O(k) per example.

The step is written out by hand under ``torch.no_grad()`` (the gradients are short and well known): gather
the rows involved, a few batched matrix products, then one ``index_add_`` per table. No autograd graph,
no optimizer state, so it is fast on a CPU and runs unchanged on a GPU. For Skip-gram the ``k`` negatives
of a centre word are shared by all its context words (Ji et al., 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"), which turns many dot products into one small matrix product.

The trainer uses a faster, packed form of the same step (:class:`PackedBatch`, :meth:`Word2Vec.step_packed`):
only real context words are stored (no padding), CBOW's mean is one ``embedding_bag``, and a batch draws one
pool of ``N`` negatives that every example shares, each weighted ``k / N`` so that the expected gradient is
that of ``k`` negatives per example (BlazingText's trick, Gupta & Khare, 2017: the negative scores of a whole
batch become one matrix product ``H @ O_neg.T`` and only ``N`` output rows are touched). Its negative-sampling
steps are plain tensor functions (``sg_negative_step``, ``cbow_negative_step``) run through TorchScript.
``tests/test_models.py`` checks every step, padded and packed, against autograd.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

ARCHS = ("skipgram", "cbow")
LOSSES = ("negative", "softmax")
SOFTMAX_WARN_VOCAB = 20_000


@dataclass(frozen=True)
class ModelConfig:
    """What the network looks like and which examples it learns from."""

    arch: str = "skipgram"  # "skipgram" | "cbow"
    loss: str = "negative"  # "negative" (sampling) | "softmax" (full softmax + cross-entropy)
    dim: int = 100  # D, the size of a word vector
    window: int = 5  # maximum context radius (the actual one is drawn from 1..window per centre word)
    negative: int = 5  # k, negatives per positive example (negative sampling only)
    min_count: int = 5  # words seen fewer times are dropped
    sample: float = 1e-3  # frequent-word subsampling threshold; 0 = off
    max_vocab: int | None = None  # keep at most this many of the most frequent words

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise W2VError(f"Unknown architecture '{self.arch}': choose 'skipgram' or 'cbow'.")
        if self.loss not in LOSSES:
            raise W2VError(f"Unknown output layer '{self.loss}': choose 'negative' or 'softmax'.")
        if not 2 <= self.dim <= 1000:
            raise W2VError(f"The vector dimension must be between 2 and 1000 (got {self.dim}).")
        if not 1 <= self.window <= 50:
            raise W2VError(f"The window must be between 1 and 50 (got {self.window}).")
        if self.loss == "negative" and not 1 <= self.negative <= 50:
            raise W2VError(f"The number of negatives must be between 1 and 50 (got {self.negative}).")
        if self.min_count < 1:
            raise W2VError(f"min_count must be at least 1 (got {self.min_count}).")
        if not 0 <= self.sample < 1:
            raise W2VError(f"sample must be 0 (off) or a small positive number such as 1e-3 (got {self.sample}).")


@dataclass
class Batch:
    """One batch of centre positions with their context windows (see ``windows.context_matrix``)."""

    centres: torch.Tensor  # int64 (B,)
    ctx: torch.Tensor  # int64 (B, 2w); 0 in unused slots
    mask: torch.Tensor  # float (B, 2w); 1.0 for real context words
    negatives: torch.Tensor | None = None  # int64 (B, k), negative sampling only


@dataclass
class PackedBatch:
    """A batch in the trainer's compact form: real context words only, negatives shared by the batch.

    Centre ``i`` owns ``ctx[starts[i] : starts[i] + counts[i]]``; ``rows`` repeats ``i`` once per context word.
    Every centre has at least one context word.
    """

    centres: torch.Tensor  # int64 (B,)
    ctx: torch.Tensor  # int64 (P,): context ids, grouped by centre
    rows: torch.Tensor  # int64 (P,): the centre (0..B-1) each context word belongs to
    starts: torch.Tensor  # int64 (B,): where each centre's context words start in ctx
    counts: torch.Tensor  # float (B,): context words per centre
    negatives: torch.Tensor | None = None  # int64 (N,): negatives shared by every example of the batch

    @classmethod
    def from_batch(cls, batch: Batch, negatives: torch.Tensor | None = None) -> "PackedBatch":
        """Pack a padded :class:`Batch` (centres without any context word are dropped)."""
        valid = batch.mask > 0
        has = valid.any(1)
        valid = valid[has]
        counts = valid.sum(1)
        starts = torch.zeros_like(counts)
        torch.cumsum(counts[:-1], 0, out=starts[1:])
        rows = torch.arange(int(has.sum()), device=counts.device).repeat_interleave(counts)
        return cls(batch.centres[has], batch.ctx[has][valid], rows, starts, counts.float(), negatives)


class Word2Vec(nn.Module):
    """Shared parts of CBOW and Skip-gram: the two tables, initialisation and the output layers."""

    arch = ""

    def __init__(self, vocab_size: int, config: ModelConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.vocab_size = vocab_size
        self.in_embed = nn.Embedding(vocab_size, config.dim)
        self.out_embed = nn.Embedding(vocab_size, config.dim)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size)) if config.loss == "softmax" else None
        self.requires_grad_(False)  # trained by hand in `step`
        if config.loss == "softmax" and vocab_size > SOFTMAX_WARN_VOCAB:
            log.warning(
                "Full softmax over %d words is slow (every example scores every word); "
                "negative sampling is much faster.", vocab_size)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """word2vec's initialisation: input rows uniform in +-0.5/D, output rows zero."""
        d = self.config.dim
        w = torch.rand(self.in_embed.weight.shape, generator=generator, dtype=torch.float32)
        self.in_embed.weight.copy_((w - 0.5) / d)
        self.out_embed.weight.zero_()
        if self.out_bias is not None:
            self.out_bias.zero_()

    @property
    def w_in(self) -> torch.Tensor:
        return self.in_embed.weight

    @property
    def w_out(self) -> torch.Tensor:
        return self.out_embed.weight

    # ----- the parts both architectures use -------------------------------------------------------

    def hidden(self, batch: Batch) -> torch.Tensor:
        """The hidden vector h of each example (B, D)."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, batch: Batch, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on a batch. Returns (summed loss, number of (input, target) examples), as tensors
        on the model's device so that the caller decides when to synchronise."""
        if self.config.loss == "softmax":
            return self._step_softmax(batch, lr)
        return self._step_negative(batch, lr)

    @torch.no_grad()
    def step_packed(self, batch: PackedBatch, lr: float, want_loss: bool = True, bound: "RowBound | None" = None,
                    dst: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on a packed batch. Returns (summed loss, examples) as tensors; the loss is only computed
        when ``want_loss``. ``bound`` (a :class:`RowBound`) limits each row's step (None: word2vec's plain sum);
        ``dst`` receives the updates instead of the tables (to emulate concurrent workers)."""
        if self.config.loss == "softmax":
            return self._packed_softmax(batch, lr, want_loss, bound, dst)
        return self._packed_negative(batch, lr, want_loss, bound, dst)

    @torch.no_grad()
    def loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss on a batch without changing the weights (used to show before/after a step)."""
        return self.step(batch, 0.0)

    def _softmax_logits(self, h: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.out_bias, h, self.w_out.t())

    def _softmax_bound(self, g: torch.Tensor, h: torch.Tensor, lr: float, bound):
        """Scale the full softmax's dense step: returns (the output rows' -lr * gradient, the input rows' loads or
        None). Every output row is touched by every example, so with several workers its load counts each time."""
        g.mul_(-lr)
        if bound is None or bound.kappa <= 0:
            return g, None
        a = g.abs()
        load_out = a.t() @ (h * h).sum(1).add_(_norm_floor())  # (V,)
        s_out = load_out.mul_(float(bound.workers)).clamp_(min=1e-12).reciprocal_().mul_(bound.kappa).clamp_(max=1.0)
        return g * s_out.unsqueeze(0), a @ (self.w_out * self.w_out).sum(1).add_(_norm_floor())


class SkipGram(Word2Vec):
    """The centre word's input row predicts each of its context words."""

    arch = "skipgram"

    def hidden(self, batch: Batch) -> torch.Tensor:
        return self.w_in.index_select(0, batch.centres)

    def _step_negative(self, batch: Batch, lr: float):
        w_in, w_out = self.w_in, self.w_out
        B, W = batch.ctx.shape
        d = w_in.shape[1]
        negs = batch.negatives
        k = negs.shape[1]
        h = w_in.index_select(0, batch.centres)  # (B, D)
        targets = torch.cat([batch.ctx, negs], 1)  # (B, 2w + k): positives then shared negatives
        o = w_out.index_select(0, targets.reshape(-1)).view(B, W + k, d)
        s = torch.bmm(o, h.unsqueeze(2)).squeeze(2)  # (B, 2w + k) scores
        n_ctx = batch.mask.sum(1, keepdim=True)  # each negative counts once per context word
        # a negative that is one of this centre's true context words is skipped, as word2vec does
        clash = (negs.unsqueeze(2) == batch.ctx.unsqueeze(1)).logical_and_(batch.mask.unsqueeze(1) > 0).any(2)
        weight = torch.cat([batch.mask, n_ctx * (~clash)], 1)
        pos, neg = s[:, :W], s[:, W:]
        loss = (F.softplus(-pos) * weight[:, :W]).sum() + (F.softplus(neg) * weight[:, W:]).sum()
        # d loss / d s = sigmoid(s) - label;  SGD: w -= lr * grad
        g = torch.sigmoid(s)
        g[:, :W] -= 1.0
        g.mul_(weight).mul_(-lr)  # (B, 2w + k)
        grad_h = torch.bmm(g.unsqueeze(1), o).squeeze(1)  # (B, D)
        grad_o = g.unsqueeze(2) * h.unsqueeze(1)  # (B, 2w + k, D)
        w_out.index_add_(0, targets.reshape(-1), grad_o.view(-1, d))
        w_in.index_add_(0, batch.centres, grad_h)
        return loss, n_ctx.sum()

    def _step_softmax(self, batch: Batch, lr: float):
        h = self.hidden(batch)  # (B, D)
        logits = self._softmax_logits(h)  # (B, V)
        logp = torch.log_softmax(logits, 1)
        n_ctx = batch.mask.sum(1)
        loss = -(logp.gather(1, batch.ctx) * batch.mask).sum()
        # every (centre, context) pair is one cross-entropy example with the same h:
        # d loss / d logits = n_ctx * softmax - counts of each true context word
        g = logp.exp_().mul_(n_ctx.unsqueeze(1))
        g.scatter_add_(1, batch.ctx, -batch.mask)
        g.mul_(-lr)
        grad_h = g @ self.w_out
        self.w_out.add_(g.t() @ h)
        self.out_bias.add_(g.sum(0))
        self.w_in.index_add_(0, batch.centres, grad_h)
        return loss, n_ctx.sum()

    def _packed_negative(self, b: PackedBatch, lr: float, want_loss: bool, bound=None, dst=None):
        return _run(sg_negative_step, self.w_in, self.w_out, b, lr, float(self.config.negative), want_loss, bound, dst)

    def _packed_softmax(self, b: PackedBatch, lr: float, want_loss: bool, bound=None, dst=None):
        h = self.w_in.index_select(0, b.centres)
        logp = torch.log_softmax(self._softmax_logits(h), 1)  # (B, V)
        loss = -logp[b.rows, b.ctx].sum() if want_loss else None
        g = logp.exp_().mul_(b.counts.unsqueeze(1))  # n_ctx * softmax - counts of each true context word
        g.index_put_((b.rows, b.ctx), torch.full_like(b.counts[:1], -1.0).expand(b.rows.shape[0]),
                     accumulate=True)
        g_out, load_in = self._softmax_bound(g, h, lr, bound)
        d_in, d_out = dst if dst is not None else (self.w_in, self.w_out)
        grad_h = g @ self.w_out
        if load_in is not None:
            grad_h.mul_(row_scale(bound.load, b.centres + self.vocab_size, load_in, bound.decay,
                                  bound.kappa).unsqueeze(1))
        d_out.add_(g_out.t() @ h)
        self.out_bias.add_(g_out.sum(0))
        d_in.index_add_(0, b.centres, grad_h)
        return loss, b.counts.sum()

class CBOW(Word2Vec):
    """The mean of the context words' input rows predicts the centre word."""

    arch = "cbow"

    def hidden(self, batch: Batch) -> torch.Tensor:
        B, W = batch.ctx.shape
        c = self.w_in.index_select(0, batch.ctx.reshape(-1)).view(B, W, -1)
        n = batch.mask.sum(1, keepdim=True).clamp_(min=1.0)
        return torch.bmm(batch.mask.unsqueeze(1), c).squeeze(1) / n

    def _spread_to_context(self, batch: Batch, grad_h: torch.Tensor) -> None:
        # word2vec (cbow_mean=1) adds the hidden error to every context word, undivided
        d = grad_h.shape[1]
        upd = grad_h.unsqueeze(1) * batch.mask.unsqueeze(2)
        self.w_in.index_add_(0, batch.ctx.reshape(-1), upd.view(-1, d))

    def _step_negative(self, batch: Batch, lr: float):
        w_out = self.w_out
        h = self.hidden(batch)  # (B, D)
        B, d = h.shape
        has_ctx = (batch.mask.sum(1) > 0).float()
        negs = batch.negatives
        k = negs.shape[1]
        targets = torch.cat([batch.centres.unsqueeze(1), negs], 1)  # (B, 1 + k)
        o = w_out.index_select(0, targets.reshape(-1)).view(B, 1 + k, d)
        s = torch.bmm(o, h.unsqueeze(2)).squeeze(2)  # (B, 1 + k)
        clash = negs == batch.centres.unsqueeze(1)
        weight = torch.cat([has_ctx.unsqueeze(1), has_ctx.unsqueeze(1) * (~clash)], 1)
        loss = (F.softplus(-s[:, 0]) * weight[:, 0]).sum() + (F.softplus(s[:, 1:]) * weight[:, 1:]).sum()
        g = torch.sigmoid(s)
        g[:, 0] -= 1.0
        g.mul_(weight).mul_(-lr)
        grad_h = torch.bmm(g.unsqueeze(1), o).squeeze(1)
        grad_o = g.unsqueeze(2) * h.unsqueeze(1)
        w_out.index_add_(0, targets.reshape(-1), grad_o.view(-1, d))
        self._spread_to_context(batch, grad_h)
        return loss, has_ctx.sum()

    def _step_softmax(self, batch: Batch, lr: float):
        h = self.hidden(batch)
        has_ctx = (batch.mask.sum(1) > 0).float()
        logits = self._softmax_logits(h)
        logp = torch.log_softmax(logits, 1)
        loss = -(logp.gather(1, batch.centres.unsqueeze(1)).squeeze(1) * has_ctx).sum()
        g = logp.exp_()
        g.scatter_add_(1, batch.centres.unsqueeze(1), -torch.ones_like(has_ctx).unsqueeze(1))
        g.mul_(has_ctx.unsqueeze(1)).mul_(-lr)
        grad_h = g @ self.w_out
        self.w_out.add_(g.t() @ h)
        self.out_bias.add_(g.sum(0))
        self._spread_to_context(batch, grad_h)
        return loss, has_ctx.sum()

    def _packed_hidden(self, b: PackedBatch) -> torch.Tensor:
        return F.embedding_bag(b.ctx, self.w_in, b.starts, mode="sum").div_(b.counts.unsqueeze(1))  # (B, D)

    def _packed_negative(self, b: PackedBatch, lr: float, want_loss: bool, bound=None, dst=None):
        none = b.ctx.new_zeros(0)  # one update per context entry (the trainer's chunks group them: chunk_groups)
        return _run(cbow_negative_step, self.w_in, self.w_out, b, lr, float(self.config.negative), want_loss, bound,
                    dst, (none, none, none))

    def _packed_softmax(self, b: PackedBatch, lr: float, want_loss: bool, bound=None, dst=None):
        h = self._packed_hidden(b)
        B = h.shape[0]
        logp = torch.log_softmax(self._softmax_logits(h), 1)
        ar = torch.arange(B, device=h.device)
        loss = -logp[ar, b.centres].sum() if want_loss else None
        g = logp.exp_()
        g[ar, b.centres] -= 1.0
        g_out, load_in = self._softmax_bound(g, h, lr, bound)
        d_in, d_out = dst if dst is not None else (self.w_in, self.w_out)
        up_ctx = (g @ self.w_out).index_select(0, b.rows)
        if load_in is not None:  # a context row moves h by 1 / n of its step
            s_ctx = row_scale(bound.load, b.ctx + self.vocab_size, load_in.div_(b.counts).index_select(0, b.rows),
                              bound.decay, bound.kappa)
            up_ctx.mul_(s_ctx.unsqueeze(1))
        d_out.add_(g_out.t() @ h)
        self.out_bias.add_(g_out.sum(0))
        d_in.index_add_(0, b.ctx, up_ctx)
        return loss, b.counts.new_full((), float(B))


# ---------------------------------------------------------------------------------------------------------------
# The negative-sampling steps of the packed batch as plain functions of tensors, so that they run as TorchScript:
# a whole chunk of batches is one call (``run_chunk``) with the GIL released, so worker threads really run side by
# side and a GPU gets its kernels without Python in between.
#
# Why a batch needs a bounded step. A batch sums the updates of all its examples, all computed from the same old
# weights. A row that many examples touch (a frequent context word; a shared negative, which every example of its
# block touches) then takes one huge step where sequential SGD would take many small self-correcting ones: past a
# point the step overshoots and training diverges. Hogwild worker threads do the same thing to each other (their
# stale updates add up), so 8 threads of small batches diverge like one big batch.
#
# The bound: a row's *load* is lr * sum over its contributions of sigma'(s) |x|^2 (the curvature of each example's
# logistic loss along the row, x the partner vector): the row's summed step is scaled by min(1, kappa / load).
# A load of 1 means the plain summed step is a full Newton step for that row; beyond that it would overshoot. Rows
# with a small load (almost all of them, and every row early on, when vectors are short) keep word2vec's plain
# SGD step; a very frequent row takes a damped Newton step instead, which settles rather than oscillates. With ``workers`` > 1 the load that
# counts is what the row received over the last ``workers`` batches of all threads (a per-row sum that decays by
# e every ``workers`` batches): that is what the threads' stale updates add up to.
# ``tests/test_training.py`` emulates N perfectly concurrent workers: the plain sum diverges at N = 8, the bounded
# step converges at N = 64.

# kappa per architecture: a clipped row takes at most kappa damped-Newton steps' worth. Measured on the bundled
# sample with emulated concurrent workers (benchmarks/README.md): Skip-gram keeps its vectors best at 1.5 (2 and 3
# needed retries at 64 workers), CBOW at 1 (2 oscillated and lost 0.06 WordSim353 at 16 workers). Big batches
# (BIG_BATCH centres and more per worker) measure their loads within the batch rather than estimating them from
# other workers, and there Skip-gram does better with more: batch 16384, 2 threads, 689k tokens, 5 epochs,
# WordSim353 0.19 at 1.5, 0.25 at 2.25 (mean of 4 runs; the default batch: 0.31); 3 blew up in 2 runs of 4.
BIG_BATCH = 4096
BIG_BATCH_BOUND = {"skipgram": 2.25, "cbow": 1.0}
ROW_STEP_BOUND = {"skipgram": 1.5, "cbow": 1.0}


# Added to every squared partner norm in a load. Without it a row whose partners are still short (early on, when
# vectors start near zero) could take a step that moves its scores little but makes the row itself huge; with it
# a row's step is also at most about kappa / (2 sqrt(NORM_FLOOR)) long. Larger values slow the first epochs of big
# batches (measured with emulated workers: 1.0 cost Skip-gram at N = 64 0.09 WordSim353 on the sample, 0.1 cost 0.01)
NORM_FLOOR = 0.1


def _norm_floor() -> float:
    return 0.1  # NORM_FLOOR: TorchScript cannot read a module's float, so the scripted steps call this


# A contribution's load uses the curvature of its logistic loss, sigma'(s) = |g| (1 - |g|), where g is the gradient
# on the score: then a clipped row takes a damped Newton step, which settles instead of oscillating when its
# examples are nearly right. For an example on the wrong side (|g| near 1, sigma' near 0) the curvature says little
# about how far a step may go, so it counts at least |g| * WRONG_SIDE.
WRONG_SIDE = 0.25


def _wrong_side() -> float:
    return 0.25  # WRONG_SIDE, for TorchScript


def _curvature(gp: torch.Tensor) -> torch.Tensor:
    """sigma'(s) of a positive example from its gradient gp = sigma(s) - 1, at least |gp| * WRONG_SIDE."""
    return (gp + 1.0).clamp_(min=_wrong_side()).mul_(gp).neg_()


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
        # every row decays at every batch: one pass over the 2V loads costs less than reading and writing each
        # entry's age (2 threads, V = 9k: 31 against 95 us a batch; V = 200k: 59 against 98)
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


def _blocks(x: torch.Tensor, nb: int, blk: int) -> torch.Tensor:
    """(B, ...) -> (nb, blk, ...), padding B up to nb * blk with zeros."""
    pad = nb * blk - x.shape[0]
    rest = list(x.shape[1:])
    if pad > 0:
        x = torch.cat([x, x.new_zeros([pad] + rest)])
    return x.view([nb, blk] + rest)


def sg_negative_step(w_in: torch.Tensor, w_out: torch.Tensor, centres: torch.Tensor, ctx: torch.Tensor,
                     rows: torch.Tensor, starts: torch.Tensor, counts: torch.Tensor, negs: torch.Tensor, lr: float,
                     k: float, want_loss: bool, dst_in: torch.Tensor, dst_out: torch.Tensor,
                     load: torch.Tensor, decay: float, kappa: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Skip-gram: h = the centre's input row; positives = its context words; each block of centres shares a pool.

    ``negs`` is (blocks, N): centres ``[i * blk, (i + 1) * blk)`` share row i's N negatives, each worth k / N of an
    example's k. Updates are read from ``w_in``/``w_out`` and added to ``dst_in``/``dst_out`` (the same tables,
    except when a test emulates concurrent workers). ``kappa`` <= 0: the plain summed step (no bound).
    """
    w_in, w_out, dst_in, dst_out, load = _own(w_in), _own(w_out), _own(dst_in), _own(dst_out), _own(load)
    centres, ctx, rows, starts, counts, negs = _own(centres), _own(ctx), _own(rows), _own(starts), _own(counts), _own(negs)
    B = centres.shape[0]
    nb, pool = negs.shape[0], negs.shape[1]
    blk = (B + nb - 1) // nb
    P = ctx.shape[0]
    h = w_in.index_select(0, centres)  # (B, D)
    he = h.index_select(0, rows)  # (P, D): the centre's row beside each of its context words
    op = w_out.index_select(0, ctx)  # (P, D)
    sp = (he * op).sum(1)  # (P,) positive scores
    on = w_out.index_select(0, negs.reshape(-1)).view(nb, pool, -1)  # (nb, N, D)
    hb = _blocks(h, nb, blk)  # (nb, blk, D)
    sn = torch.bmm(hb, on.transpose(1, 2))  # (nb, blk, N) negative scores
    # each centre's context words share its block's pool; a pool word stands for k / N negatives per context word
    wn = _blocks(counts, nb, blk).unsqueeze(2) * (k / pool)
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus(-sp).sum() + (F.softplus(sn) * wn).sum()
    gp = torch.sigmoid(sp).sub_(1.0)  # d loss / d score
    sig_n = torch.sigmoid(sn)
    gn = sig_n * wn
    cp_out = gp * -lr  # -lr * d loss / d score, per table (the bound may scale the two tables differently)
    cn_out = gn * -lr
    cp_in, cn_in = cp_out, cn_out
    if kappa > 0:
        h2 = (h * h).sum(1).add_(_norm_floor())
        ap = _curvature(gp)
        an = gn * (1.0 - sig_n).clamp_(min=_wrong_side())
        o2n = (on * on).sum(2).add_(_norm_floor())  # (nb, N)
        load_cen = (an * o2n.unsqueeze(1)).sum(2).view(-1)[:B]
        # a context word's |o|^2 is taken as the pool's mean (the pool is drawn from about the same words): no P x D
        load_cen.index_add_(0, rows, ap * o2n.mean())
        s = row_scale(load, torch.cat([ctx, negs.reshape(-1), centres + w_in.shape[0]]),
                      torch.cat([ap * h2.index_select(0, rows), (an * _blocks(h2, nb, blk).unsqueeze(2)).sum(1).view(-1),
                                 load_cen]), decay, kappa / max(lr, 1e-30))
        s_in = s[P + nb * pool:]
        cp_out = cp_out * s[:P]
        cn_out = cn_out * s[P:P + nb * pool].view(nb, 1, pool)
        cp_in = cp_in * s_in.index_select(0, rows)
        cn_in = cn_in * _blocks(s_in, nb, blk).unsqueeze(2)
    # the positives' part of each centre's step: one fused gather-scale-sum over its context rows
    grad_h = torch.bmm(cn_in, on).view(nb * blk, -1)[:B].add_(
        F.embedding_bag(ctx, w_out, starts, mode="sum", per_sample_weights=cp_in))
    dst_out.index_add_(0, ctx, he.mul_(cp_out.unsqueeze(1)))
    dst_out.index_add_(0, negs.reshape(-1), torch.bmm(cn_out.transpose(1, 2), hb).reshape(nb * pool, -1))
    dst_in.index_add_(0, centres, grad_h)
    return loss, counts.sum()


def cbow_negative_step(w_in: torch.Tensor, w_out: torch.Tensor, centres: torch.Tensor, ctx: torch.Tensor,
                       rows: torch.Tensor, starts: torch.Tensor, counts: torch.Tensor, negs: torch.Tensor,
                       lr: float, k: float, want_loss: bool, dst_in: torch.Tensor, dst_out: torch.Tensor,
                       load: torch.Tensor, decay: float, kappa: float, by_row: torch.Tensor, row_starts: torch.Tensor,
                       row_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CBOW: h = the mean of the context rows (one embedding_bag); it predicts the centre against its block's pool.

    ``by_row``/``row_starts``/``row_ids`` (``group_contexts``) group the batch's context entries by input row; empty:
    every entry is updated on its own.
    """
    w_in, w_out, dst_in, dst_out, load = _own(w_in), _own(w_out), _own(dst_in), _own(dst_out), _own(load)
    centres, ctx, rows, starts, counts, negs = _own(centres), _own(ctx), _own(rows), _own(starts), _own(counts), _own(negs)
    by_row, row_starts, row_ids = _own(by_row), _own(row_starts), _own(row_ids)
    grouped = row_ids.shape[0] > 0
    B = centres.shape[0]
    nb, pool = negs.shape[0], negs.shape[1]
    blk = (B + nb - 1) // nb
    w = k / pool  # what one pool word is worth in an example
    # mode="sum" then a division: measured 2x faster than mode="mean" on a CPU (B = 512: 25 vs 55 us)
    h = F.embedding_bag(ctx, w_in, starts, mode="sum").div_(counts.unsqueeze(1))  # (B, D)
    oc = w_out.index_select(0, centres)  # (B, D)
    sp = (h * oc).sum(1)  # (B,)
    on = w_out.index_select(0, negs.reshape(-1)).view(nb, pool, -1)  # (nb, N, D)
    hb = _blocks(h, nb, blk)
    sn = torch.bmm(hb, on.transpose(1, 2))  # (nb, blk, N)
    # A pool word that is the example's own centre is no negative for it (word2vec skips such draws). Rather than
    # weigh every (example, pool word) pair (five ops over blocks x pool a batch), every pool word is taken as a
    # negative, and an example whose centre is in its pool m times takes m * k / N of a negative's gradient off
    # its positive: it is the same output row, so the sums, and the loads of the bound, come out exactly the same
    cb = _blocks(centres + 1, nb, blk).unsqueeze(2) - 1  # padding rows of the last block: -1, in no pool
    m = (negs.unsqueeze(1) == cb).sum(2).view(-1)[:B].to(h.dtype)
    sig_p = torch.sigmoid(sp)
    loss = torch.zeros((), dtype=h.dtype, device=h.device)
    if want_loss:
        loss = F.softplus(-sp).sum() + w * (F.softplus(sn).view(-1, pool)[:B].sum() - (m * F.softplus(sp)).sum())
    mw = m * w
    gp = (sig_p - 1.0) - mw * sig_p
    sig_n = torch.sigmoid(sn)
    cp_out = gp * -lr
    cn_out = sig_n * (-lr * w)
    o2c = (oc * oc).sum(1).add_(_norm_floor()) if kappa > 0 else oc.new_zeros(1)  # before oc is reused below
    grad_h = torch.bmm(cn_out, on).view(nb * blk, -1)[:B].add_(oc.mul_(cp_out.unsqueeze(1)))
    # word2vec (cbow_mean=1) adds the hidden error to every context word. Neighbouring centres share most of their
    # context words, so summing each row's errors first (one embedding_bag over the entries grouped by row) writes a
    # tenth of the rows that one gathered copy per entry does (a batch of 1024 on the sample: 538 rows for 5951
    # entries; ~240 us less a batch)
    if grouped:
        up_ctx = F.embedding_bag(by_row, grad_h, row_starts, mode="sum")  # (rows, D)
        up_rows = row_ids
    else:
        up_ctx = grad_h.index_select(0, rows)  # (entries, D)
        up_rows = ctx
    if kappa > 0:
        h2 = (h * h).sum(1).add_(_norm_floor())
        # the loads of the positive, less those of the self-negatives counted in the pool's
        ap = _curvature(sig_p - 1.0).sub_(mw * (1.0 - sig_p).clamp(min=_wrong_side()) * sig_p)
        an = (1.0 - sig_n).clamp_(min=_wrong_side()).mul_(sig_n)  # (nb, blk, N), without w
        o2n = (on * on).sum(2).add_(_norm_floor())  # (nb, N)
        # products and sums, not a bmm with one column: 12 against 31 us for 4 x 256 x 32
        per_example = (an * o2n.unsqueeze(1)).sum(2).view(-1)[:B].mul_(w).add_(ap * o2c)
        # a context row moves h by 1 / n of its step
        head = torch.cat([centres, negs.reshape(-1)])
        ask: Optional[torch.Tensor] = None  # ungrouped, the factors wanted are every entry's
        if grouped:
            ask = torch.cat([head, up_rows + w_in.shape[0]])
        s = row_scale(load, torch.cat([head, ctx + w_in.shape[0]]),
                      torch.cat([ap * h2, (an * _blocks(h2, nb, blk).unsqueeze(2)).sum(1).view(-1).mul_(w),
                                 per_example.div_(counts).index_select(0, rows)]), decay, kappa / max(lr, 1e-30),
                      ask)
        cp_out = cp_out * s[:B]
        cn_out = cn_out * s[B:B + nb * pool].view(nb, 1, pool)
        up_ctx.mul_(s[B + nb * pool:].unsqueeze(1))
    dst_out.index_add_(0, centres, h * cp_out.unsqueeze(1))
    dst_out.index_add_(0, negs.reshape(-1), torch.bmm(cn_out.transpose(1, 2), hb).reshape(nb * pool, -1))
    dst_in.index_add_(0, up_rows, up_ctx)
    return loss, torch.full((), float(B), dtype=h.dtype, device=h.device)


def run_chunk(skipgram: bool, w_in: torch.Tensor, w_out: torch.Tensor, centres: torch.Tensor, ctx: torch.Tensor,
              rows: torch.Tensor, starts: torch.Tensor, counts: torch.Tensor, negs: torch.Tensor, cuts: list[int],
              batch: int, lr0: float, lr1: float, k: float, loss_every: int, load: torch.Tensor,
              decay: float, kappa: float, by_row: torch.Tensor, row_starts: torch.Tensor, row_ids: torch.Tensor,
              row_cuts: List[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every batch of one chunk, in order, in one call (the trainer's inner loop).

    Centre ``i`` is in batch ``i // batch``; ``rows``/``starts`` are batch-local; ``cuts[b]`` is where batch b's
    context words start in ``ctx``; ``negs`` is (batches, blocks, N). The learning rate goes linearly from ``lr0`` to
    ``lr1`` over the chunk. Returns the summed loss and example count of every ``loss_every``-th batch. CBOW's
    context entries grouped by row (``group_contexts``; empty tensors: not grouped): batch b's groups are
    ``row_cuts[b]:row_cuts[b + 1]`` of ``row_starts``/``row_ids``, over its entries in ``by_row[cuts[b]:cuts[b + 1]]``.
    """
    w_in, w_out, load = _own(w_in), _own(w_out), _own(load)
    centres, ctx, rows, starts, counts, negs = _own(centres), _own(ctx), _own(rows), _own(starts), _own(counts), _own(negs)
    by_row, row_starts, row_ids = _own(by_row), _own(row_starts), _own(row_ids)
    grouped = row_ids.shape[0] > 0
    n = centres.shape[0]
    n_batches = (n + batch - 1) // batch
    blk = (batch + negs.shape[1] - 1) // negs.shape[1]
    loss_sum = torch.zeros((), dtype=w_in.dtype, device=w_in.device)
    n_sum = torch.zeros((), dtype=w_in.dtype, device=w_in.device)
    for bi in range(n_batches):
        c0 = bi * batch
        c1 = min(c0 + batch, n)
        p0 = cuts[bi]
        p1 = cuts[bi + 1]
        lr = lr0 + (lr1 - lr0) * bi / n_batches
        want = bi % loss_every == 0
        nb = (c1 - c0 + blk - 1) // blk
        if skipgram:
            loss, cnt = sg_negative_step(w_in, w_out, centres[c0:c1], ctx[p0:p1], rows[p0:p1], starts[c0:c1],
                                         counts[c0:c1], negs[bi, :nb], lr, k, want, w_in, w_out, load, decay,
                                         kappa)
        else:
            u0 = row_cuts[bi] if grouped else 0
            u1 = row_cuts[bi + 1] if grouped else 0
            loss, cnt = cbow_negative_step(w_in, w_out, centres[c0:c1], ctx[p0:p1], rows[p0:p1], starts[c0:c1],
                                           counts[c0:c1], negs[bi, :nb], lr, k, want, w_in, w_out, load, decay,
                                           kappa, by_row[p0:p1] if grouped else by_row, row_starts[u0:u1],
                                           row_ids[u0:u1])
        if want:
            loss_sum += loss
            n_sum += cnt
    return loss_sum, n_sum


def group_contexts(rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor, vocab_size: int,
                   cuts: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """CBOW's context entries of a chunk grouped by input row within each batch, for ``run_chunk``.

    Entry p belongs to centre ``rows[p]`` (numbered within its batch) of batch ``batch_of[p]``, whose entries are
    ``cuts[b]:cuts[b + 1]``; ``ctx[p]`` is its input row. Returns ``by_row`` (every entry's centre, the entries of a
    batch sorted by row), each group's start in its batch's entries and its row, and ``row_cuts`` (where each batch's
    groups begin). One sort per chunk: 1.7 ms for 110k entries on one core, against ~240 us saved per batch of 1024
    (20 batches).
    """
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
    row_starts = ucount.cumsum(0).sub_(ucount).sub_(cut_t.index_select(0, ubatch))
    row_cuts = torch.searchsorted(ubatch, torch.arange(len(cuts), device=rows.device)).tolist()
    return by_row, row_starts, ukey - ubatch * vocab_size, row_cuts


def chunk_groups(arch: str, rows: torch.Tensor, batch_of: torch.Tensor, ctx: torch.Tensor, vocab_size: int,
                 cuts: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """``run_chunk``'s last four arguments: CBOW on a CPU groups its context entries by row (``group_contexts``);
    Skip-gram, and a GPU (which keeps the per-entry updates it was measured with), pass empty groups."""
    if arch == "cbow" and ctx.device.type == "cpu":
        return group_contexts(rows, batch_of, ctx, vocab_size, cuts)
    none = ctx.new_zeros(0)
    return none, none, none, [0]


class RowBound:
    """The state of the per-row step bound shared by a run's workers (see ``row_scale``).

    With several workers they share one buffer whose loads decay over the last ``workers`` batches, so a row that
    only some of the batches in flight touch is not counted as if all of them did. (Counting every load ``workers``
    times in private buffers instead was measured worse: CBOW with 2 threads on 10M tokens ended at loss 3.17
    instead of 2.41, its frequent rows held back too much.)
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


_SCRIPTED: dict = {}
USE_SCRIPT = os.environ.get("W2V_TORCHSCRIPT", "1") != "0"


def scripted(fn, device: torch.device | str = "cpu"):
    """``fn`` compiled to TorchScript once per process (plain Python if that is not possible).

    On a GPU the plain function runs instead: measured on an H200 (Skip-gram, batch 16384, 10M tokens), the
    TorchScript interpreter launched the kernels of a chunk at 8.0M words/s and plain PyTorch at 23.9M (the
    executor specialises and re-profiles its graph for every new shape, and ours change with every chunk).
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


def _negs_2d(negatives: torch.Tensor) -> torch.Tensor:
    return negatives if negatives.dim() == 2 else negatives.unsqueeze(0)


def _run(fn, w_in, w_out, b: PackedBatch, lr: float, k: float, want_loss: bool, bound: RowBound | None,
         dst: tuple[torch.Tensor, torch.Tensor] | None = None, extra: tuple = ()):
    """One packed negative-sampling step through its TorchScript function (``extra``: its further arguments)."""
    bound = bound or RowBound.off(w_in.device)
    d_in, d_out = dst if dst is not None else (w_in, w_out)
    negs = _negs_2d(b.negatives)
    loss, n = scripted(fn, w_in.device)(w_in, w_out, b.centres, b.ctx, b.rows, b.starts, b.counts, negs, float(lr), k,
                           bool(want_loss), d_in, d_out, bound.load, bound.decay, bound.kappa, *extra)
    return (loss if want_loss else None), n


def warm_up(config: ModelConfig, device: torch.device | str = "cpu") -> None:
    """Compile the training step (TorchScript) before training starts, on throwaway tensors.

    Why: the first calls of a scripted function profile and optimise it (~0.1 s on a CPU); that is set-up, like
    building the vocabulary, and would otherwise land in the first batches of the run. The real weights are
    not touched."""
    if config.loss != "negative" or not USE_SCRIPT or torch.device(device).type == "cuda":
        return
    V, D, B, C = 16, max(2, config.dim), 4, 2
    w_in, w_out = torch.zeros(V, D, device=device), torch.zeros(V, D, device=device)
    ar = torch.arange(B, device=device)
    ctx, rows, starts = (ar + 1).repeat_interleave(C), ar.repeat_interleave(C), ar * C
    counts = torch.full((B,), float(C), device=device)
    negs = torch.arange(8, device=device).view(1, 2, 4).expand(2, 2, 4).contiguous()
    cuts = [0, B * C, 2 * B * C]
    groups = chunk_groups(config.arch, rows.repeat(2), torch.arange(2, device=device).repeat_interleave(B * C),
                          ctx.repeat(2), V, cuts)
    for bound in (RowBound(V, device), RowBound(V, device, workers=2), RowBound.off(device)):
        for i in range(2):
            scripted(run_chunk)(config.arch == "skipgram", w_in, w_out, ar.repeat(2), ctx.repeat(2), rows.repeat(2),
                                starts.repeat(2), counts.repeat(2), negs, cuts, B, 0.0, 0.0,
                                float(config.negative), 1 + i, bound.load, bound.decay, bound.kappa, *groups)


def build_model(vocab_size: int, config: ModelConfig) -> Word2Vec:
    """The model class for ``config.arch``."""
    config.validate()
    cls = SkipGram if config.arch == "skipgram" else CBOW
    return cls(vocab_size, config)
