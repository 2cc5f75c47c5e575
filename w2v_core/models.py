"""CBOW and Skip-gram: two ``nn.Embedding`` tables and the arithmetic of one training step.

Mikolov et al. (2013), "Efficient Estimation of Word Representations in Vector Space" (CBOW, Skip-gram)
and "Distributed Representations of Words and Phrases and their Compositionality" (negative sampling).

Both models own an *input* table ``W_in`` (V x D, the word vectors we keep) and an *output* table
``W_out`` (V x D). A word's one-hot vector times ``W_in`` is just its row, so the "projection layer" is a
lookup.

* CBOW: the hidden vector ``h`` is the mean of the context words' input rows; it predicts the centre word.
* Skip-gram: ``h`` is the centre word's input row; it predicts each context word.

Three output layers:

* ``softmax`` (the lecture's version): scores ``h @ W_out.T + b`` over the whole vocabulary, softmax,
  cross-entropy with the true word. Exact but O(V) per example: fine for small vocabularies.
* ``negative`` (the default): for the true word and ``k`` words drawn from the noise distribution,
  ``-log sigmoid(h . o_true) - sum log sigmoid(-h . o_neg)``. O(k) per example.
* ``hs`` (hierarchical softmax): a Huffman tree over the words, one sigmoid per inner node on the true word's path;
  ``W_out``'s rows are the tree's inner nodes. O(log V) per example. Its steps live in ``hsoftmax.py``.

The step is written out by hand under ``torch.no_grad()`` (the gradients are short and well known): gather
the rows involved, a few batched matrix products, then one ``index_add_`` per table. No autograd graph,
no optimizer state, so it is fast on a CPU and runs unchanged on a GPU. For Skip-gram the ``k`` negatives
of a centre word are shared by all its context words (Ji et al., 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"), which turns many dot products into one small matrix product.

The trainer uses a faster, packed form of the same step (:class:`PackedBatch`, :meth:`Word2Vec.step_packed`):
only real context words are stored (no padding), CBOW's mean is one ``embedding_bag``, and each block of centres
draws one pool of ``N`` negatives that its examples share, each weighted ``k / N`` so that the expected gradient
is that of ``k`` negatives per example (BlazingText's trick, Gupta & Khare, 2017). Its negative-sampling steps,
the per-row step bound and the chunk loop the trainer calls (``run_chunk``) live in ``kernels.py``, compiled to
TorchScript. ``tests/test_models.py`` checks every step, padded and packed, against autograd.

Read top to bottom: the configuration, the two batch forms, the shared parts (:class:`Word2Vec`), then
:class:`SkipGram` and :class:`CBOW`, each with its padded (readable) and packed steps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from w2v_core import hsoftmax, subword_steps, subwords
from w2v_core.errors import W2VError
from w2v_core.kernels import (NORM_FLOOR, Examples, RowBound, Tables, cbow_negative_step, no_groups, no_words,
                              row_scale, scripted, sg_negative_step)
from w2v_core.subwords import DEFAULT_BUCKETS

log = logging.getLogger(__name__)

ARCHS = ("skipgram", "cbow")
LOSSES = ("negative", "softmax", "hs")
SOFTMAX_WARN_VOCAB = 20_000


@dataclass(frozen=True)
class ModelConfig:
    """What the network looks like and which examples it learns from."""

    arch: str = "skipgram"  # "skipgram" | "cbow"
    loss: str = "negative"  # "negative" (sampling) | "softmax" (full softmax + cross-entropy) | "hs" (hierarchical)
    dim: int = 100  # D, the size of a word vector
    window: int = 5  # maximum context radius (the actual one is drawn from 1..window per centre word)
    negative: int = 5  # k, negatives per positive example (negative sampling only)
    min_count: int = 5  # words seen fewer times are dropped
    sample: float = 1e-3  # frequent-word subsampling threshold; 0 = off
    max_vocab: int | None = None  # keep at most this many of the most frequent words
    # fastText's subword vectors (subwords.py): a word's input vector is the mean of its own row and the hashed rows
    # of its min_n..max_n-character n-grams, so any word, seen or not, has a vector; the n-gram table costs
    # buckets x dim x 4 bytes (2,000,000 x 100: 800 MB)
    subwords: bool = False
    min_n: int = 3
    max_n: int = 6
    buckets: int = DEFAULT_BUCKETS

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise W2VError(f"Unknown architecture '{self.arch}': choose 'skipgram' or 'cbow'.")
        if self.loss not in LOSSES:
            raise W2VError(f"Unknown output layer '{self.loss}': choose 'negative', 'softmax' or 'hs'.")
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
        if self.subwords:
            subwords.validate_settings(self.min_n, self.max_n, self.buckets)
            if self.loss != "negative":
                raise W2VError(f"Subword vectors train with negative sampling (the default loss), not '{self.loss}'.")


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

    def __init__(self, vocab_size: int, config: ModelConfig, counts=None, words=None):
        super().__init__()
        config.validate()
        self.config = config
        self.vocab_size = vocab_size
        index = None
        if config.subwords:  # every word's input rows (its own, then its n-grams'), CSR, computed once
            if words is None or len(words) != vocab_size:
                raise ValueError("subword vectors need the vocabulary's words to cut them into n-grams")
            index = subwords.build_index(words, config.min_n, config.max_n, config.buckets)
        # with subwords the input table is fastText's: the V word rows, then the n-gram buckets (those in use)
        self.in_embed = nn.Embedding(vocab_size + (len(index.buckets) if index is not None else 0), config.dim)
        self.out_embed = nn.Embedding(vocab_size, config.dim)
        self.out_bias = nn.Parameter(torch.zeros(vocab_size)) if config.loss == "softmax" else None
        self.requires_grad_(False)  # trained by hand in `step`
        if config.loss == "hs":  # the Huffman tree of the counts: each word's inner nodes and turns (buffers)
            if counts is None or len(counts) != vocab_size:
                raise ValueError("hierarchical softmax needs the vocabulary's counts to build its tree")
            for name, t in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items():
                self.register_buffer(name, t, persistent=False)
        if index is not None:
            self.register_buffer("sub_rows", torch.from_numpy(index.rows), persistent=False)
            self.register_buffer("sub_starts", torch.from_numpy(index.starts), persistent=False)
            self.sub_buckets = index.buckets  # numpy: the bucket of each n-gram row
        if config.loss == "softmax" and vocab_size > SOFTMAX_WARN_VOCAB:
            log.warning(
                "Full softmax over %d words is slow (every example scores every word); "
                "negative sampling is much faster.", vocab_size)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """word2vec's initialisation: input rows uniform in +-0.5/D, output rows zero (with subwords fastText's: every
        input row, words and n-grams, uniform in +-1/D)."""
        d = self.config.dim
        w = torch.rand(self.in_embed.weight.shape, generator=generator, dtype=torch.float32)
        self.in_embed.weight.copy_((w - 0.5) * (2.0 if self.config.subwords else 1.0) / d)
        self.out_embed.weight.zero_()
        if self.out_bias is not None:
            self.out_bias.zero_()

    @property
    def w_in(self) -> torch.Tensor:
        return self.in_embed.weight

    @property
    def w_out(self) -> torch.Tensor:
        return self.out_embed.weight

    def word_vectors(self) -> torch.Tensor:
        """The V word vectors (V, D): the input rows, or with subwords each word's mean of its rows."""
        if not self.config.subwords:
            return self.w_in
        lens = (self.sub_starts[1:] - self.sub_starts[:-1]).to(self.w_in.dtype)
        return F.embedding_bag(self.sub_rows, self.w_in, self.sub_starts[:-1], mode="sum") / lens.unsqueeze(1)

    def ngram_table(self) -> np.ndarray:
        """The subword model's buckets x D n-gram table, as saved (``subwords.full_table``)."""
        trained = self.w_in[self.vocab_size:].detach().float().cpu().numpy()
        return subwords.full_table(trained, self.sub_buckets, self.config.buckets)

    def _inputs(self, ids: torch.Tensor) -> torch.Tensor:
        """The input vectors of words ``ids`` (N,) -> (N, D): their rows (with subwords: the mean of each's rows)."""
        if not self.config.subwords:
            return self.w_in.index_select(0, ids)
        sums, n = subword_steps.input_sums(self.w_in, subword_steps.model_pieces(self), ids)
        return sums / n.unsqueeze(1)

    def _add_inputs(self, ids: torch.Tensor, upd: torch.Tensor) -> None:
        """Add ``upd[i]`` to word ``ids[i]``'s input row (with subwords: to each of its rows, undivided)."""
        if not self.config.subwords:
            self.w_in.index_add_(0, ids, upd)
        else:
            subword_steps.add_to_inputs(self.w_in, subword_steps.model_pieces(self), ids, upd)

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
        if self.config.loss == "hs":
            return hsoftmax.padded_step(self, batch, lr)
        return self._step_negative(batch, lr)

    @torch.no_grad()
    def step_packed(self, batch: PackedBatch, lr: float, want_loss: bool = True, bound: RowBound | None = None,
                    dst: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One SGD step on a packed batch. Returns (summed loss, examples) as tensors; the loss is only computed
        when ``want_loss``. ``bound`` (a :class:`RowBound`) limits each row's step (None: word2vec's plain sum);
        ``dst`` receives the updates instead of the tables (to emulate concurrent workers)."""
        if self.config.loss == "softmax":
            return self._packed_softmax(batch, lr, want_loss, bound, dst)
        if self.config.loss == "hs":
            return hsoftmax.packed_step(self, batch, lr, want_loss, bound, dst)
        if self.config.subwords:
            return subword_steps.packed_step(self, batch, lr, want_loss, bound, dst)
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
        load_out = a.t() @ (h * h).sum(1).add_(NORM_FLOOR)  # (V,)
        s_out = load_out.mul_(float(bound.workers)).clamp_(min=1e-12).reciprocal_().mul_(bound.kappa).clamp_(max=1.0)
        return g * s_out.unsqueeze(0), a @ (self.w_out * self.w_out).sum(1).add_(NORM_FLOOR)


class SkipGram(Word2Vec):
    """The centre word's input row predicts each of its context words."""

    arch = "skipgram"

    def hidden(self, batch: Batch) -> torch.Tensor:
        return self._inputs(batch.centres)

    def _step_negative(self, batch: Batch, lr: float):
        w_in, w_out = self.w_in, self.w_out
        B, W = batch.ctx.shape
        d = w_in.shape[1]
        negs = batch.negatives
        k = negs.shape[1]
        h = self._inputs(batch.centres)  # (B, D)
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
        self._add_inputs(batch.centres, grad_h)
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
        return _kernel_step(sg_negative_step, self, b, lr, want_loss, bound, dst)

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
        if self.config.subwords:  # fastText: the mean of all rows of all context words
            sums, n = subword_steps.input_sums(self.w_in, subword_steps.model_pieces(self), batch.ctx)
            rows = (batch.mask * n.view(B, W)).sum(1, keepdim=True).clamp_(min=1.0)
            return torch.bmm(batch.mask.unsqueeze(1), sums.view(B, W, -1)).squeeze(1) / rows
        c = self.w_in.index_select(0, batch.ctx.reshape(-1)).view(B, W, -1)  # (B, 2w, D) context rows
        n = batch.mask.sum(1, keepdim=True).clamp_(min=1.0)  # (B, 1) real context words
        return torch.bmm(batch.mask.unsqueeze(1), c).squeeze(1) / n  # (B, D) their mean

    def _spread_to_context(self, batch: Batch, grad_h: torch.Tensor) -> None:
        # word2vec (cbow_mean=1) adds the hidden error to every context word, undivided
        d = grad_h.shape[1]
        upd = grad_h.unsqueeze(1) * batch.mask.unsqueeze(2)  # (B, 2w, D)
        self._add_inputs(batch.ctx.reshape(-1), upd.view(-1, d))  # with subwords: to each of a word's rows

    def _step_negative(self, batch: Batch, lr: float):
        w_out = self.w_out
        h = self.hidden(batch)  # (B, D)
        B, d = h.shape
        has_ctx = (batch.mask.sum(1) > 0).float()  # (B,): a centre without context is no example
        negs = batch.negatives  # (B, k)
        k = negs.shape[1]
        targets = torch.cat([batch.centres.unsqueeze(1), negs], 1)  # (B, 1 + k): the centre, then its negatives
        o = w_out.index_select(0, targets.reshape(-1)).view(B, 1 + k, d)  # (B, 1 + k, D)
        s = torch.bmm(o, h.unsqueeze(2)).squeeze(2)  # (B, 1 + k) scores
        clash = negs == batch.centres.unsqueeze(1)  # a negative that is the centre itself is skipped, as word2vec does
        weight = torch.cat([has_ctx.unsqueeze(1), has_ctx.unsqueeze(1) * (~clash)], 1)
        loss = (F.softplus(-s[:, 0]) * weight[:, 0]).sum() + (F.softplus(s[:, 1:]) * weight[:, 1:]).sum()
        # d loss / d s = sigmoid(s) - label;  SGD: w -= lr * grad
        g = torch.sigmoid(s)
        g[:, 0] -= 1.0
        g.mul_(weight).mul_(-lr)  # (B, 1 + k)
        grad_h = torch.bmm(g.unsqueeze(1), o).squeeze(1)  # (B, D)
        grad_o = g.unsqueeze(2) * h.unsqueeze(1)  # (B, 1 + k, D)
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
        # one update per context entry (the trainer's chunks group them: kernels.chunk_groups)
        return _kernel_step(cbow_negative_step, self, b, lr, want_loss, bound, dst, (no_groups(b.ctx), no_words(b.ctx)))

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


def _kernel_step(fn, model: Word2Vec, b: PackedBatch, lr: float, want_loss: bool, bound: RowBound | None,
                 dst: tuple[torch.Tensor, torch.Tensor] | None, extra: tuple = ()):
    """One packed negative-sampling step through its compiled kernel (``kernels.py``; ``extra``: its further
    arguments)."""
    w_in, w_out = model.w_in, model.w_out
    bound = bound or RowBound.off(w_in.device)
    d_in, d_out = dst if dst is not None else (w_in, w_out)
    negs = b.negatives if b.negatives.dim() == 2 else b.negatives.unsqueeze(0)
    examples = Examples(b.centres, b.ctx, b.rows, b.starts, b.counts, negs)
    loss, n = scripted(fn, w_in.device)(Tables(w_in, w_out), examples, float(lr), float(model.config.negative),
                                        bool(want_loss), Tables(d_in, d_out), bound.for_kernel(), *extra)
    return (loss if want_loss else None), n


def build_model(vocab_size: int, config: ModelConfig, counts=None, words=None) -> Word2Vec:
    """The model class for ``config.arch`` (``counts``, most frequent first: hierarchical softmax's tree; ``words``:
    the vocabulary, cut into n-grams with subwords)."""
    config.validate()
    cls = SkipGram if config.arch == "skipgram" else CBOW
    return cls(vocab_size, config, counts, words)
