"""Context windows: which words each centre word is trained with, built with tensor operations.

word2vec does not use a fixed window: for every centre word it draws a radius ``r`` uniformly from
``1..window`` (the "dynamic" or "shrinking" window), so near words are seen more often than far ones.
Windows never cross a document boundary. Frequent words are first thinned out by subsampling, so a
window reaches further in the original text.

Everything here works on a *stream*: one int64 tensor of vocabulary ids plus document offsets, on any device.
There is no Python loop per word. The trainer processes a corpus chunk by chunk (tens of thousands of
tokens): a chunk's windows are built at once, packed (:func:`packed_windows`: only real context words, no
padding), and cut into batches, so all the pairs of a big corpus are never in memory at once.
:func:`context_matrix` gives the padded (positions x 2 window) view that displays and the padded step use.

* CBOW example: the context words of a position -> its centre word.
* Skip-gram pairs: the centre word -> each of its context words.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Stream:
    """Token ids of consecutive documents, with per-token document bounds for window clipping."""

    ids: torch.Tensor  # int64 (N,)
    doc_start: torch.Tensor  # int64 (N,): index of the first token of this token's document
    doc_end: torch.Tensor  # int64 (N,): one past the last token of this token's document

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def from_offsets(cls, ids: torch.Tensor, offsets: torch.Tensor) -> "Stream":
        """``offsets`` (n_docs + 1) delimit documents in ``ids``; empty documents are allowed."""
        lengths = offsets[1:] - offsets[:-1]
        n = int(ids.shape[0])  # output_size: no device -> host sync on a GPU
        starts = torch.repeat_interleave(offsets[:-1], lengths, output_size=n)
        ends = torch.repeat_interleave(offsets[1:], lengths, output_size=n)
        return cls(ids.long(), starts.long(), ends.long())


def subsample(
    ids: torch.Tensor, offsets: torch.Tensor, keep_prob: torch.Tensor | None, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Drop frequent words at random (word2vec's subsampling); returns (kept ids, new offsets, keep mask)."""
    if keep_prob is None:
        return ids, offsets, torch.ones_like(ids, dtype=torch.bool)
    p = keep_prob.index_select(0, ids)
    keep = torch.rand(ids.shape, generator=generator, device=ids.device) < p
    csum = torch.zeros(ids.shape[0] + 1, dtype=torch.int64, device=ids.device)
    torch.cumsum(keep, 0, out=csum[1:])
    return ids.masked_select(keep), csum.index_select(0, offsets), keep


def draw_radii(n: int, window: int, generator: torch.Generator | None, device=None) -> torch.Tensor:
    """Effective window radius of each centre word, uniform in 1..window (word2vec's ``window - b``)."""
    return torch.randint(1, window + 1, (n,), generator=generator, device=device)


def offsets_for(window: int, device=None) -> torch.Tensor:
    """Relative positions of context slots: -window..-1, 1..window."""
    left = torch.arange(-window, 0, device=device)
    return torch.cat([left, -left.flip(0)])


def context_matrix(
    stream: Stream, positions: torch.Tensor, radii: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Context ids of each centre position: ``(ctx, valid)``, both (len(positions), 2*window).

    ``ctx`` holds a vocabulary id in every slot (0 where ``valid`` is False, so it can be gathered safely);
    ``radii`` is the effective radius of each of ``positions``.
    """
    rel = offsets_for(window, positions.device)
    q = positions.unsqueeze(1) + rel.unsqueeze(0)
    valid = (
        (q >= stream.doc_start[positions].unsqueeze(1))
        & (q < stream.doc_end[positions].unsqueeze(1))
        & (rel.abs().unsqueeze(0) <= radii.unsqueeze(1))
    )
    n = len(stream)
    ctx = stream.ids[q.clamp_(0, max(n - 1, 0))]
    ctx = ctx.masked_fill_(~valid, 0)
    return ctx, valid


@dataclass
class Windows:
    """The windows of a whole stream, packed: only real context words, grouped by centre (CSR layout).

    Centre ``i`` (position ``positions[i]`` in the stream, word ``centres[i]``) owns
    ``ctx[starts[i] : starts[i + 1]]``, in text order. Centres without any context word are left out.
    """

    positions: torch.Tensor  # int64 (C,)
    centres: torch.Tensor  # int64 (C,)
    ctx: torch.Tensor  # int64 (P,)
    starts: torch.Tensor  # int64 (C + 1,)
    rows: torch.Tensor  # int64 (P,): the centre (0..C-1) each context word belongs to

    def __len__(self) -> int:
        return int(self.centres.shape[0])

    @property
    def counts(self) -> torch.Tensor:
        return self.starts[1:] - self.starts[:-1]

    def permute(self, order: torch.Tensor) -> "Windows":
        """The same windows with the centres in ``order`` (each keeps its own context words, in text order).

        Why: the trainer takes batches of consecutive centres. Neighbouring centres share most of their context
        words, so in text order a batch sums several updates to the same rows from the same old weights;
        shuffled, a batch's windows come from all over the chunk.
        """
        counts = self.counts[order]
        starts = torch.zeros_like(self.starts)
        torch.cumsum(counts, 0, out=starts[1:])
        p = int(self.ctx.shape[0])
        rows = torch.repeat_interleave(torch.arange(len(order), device=order.device), counts, output_size=p)
        src = self.starts[order][rows] + (torch.arange(p, device=order.device) - starts[rows])
        return Windows(self.positions[order], self.centres[order], self.ctx[src], starts, rows)


def interleaved_order(n: int, batch: int, block: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Positions 0..n-1 reordered so that each batch of ``batch`` neighbouring centres keeps its centres but lists
    them block-strided: the ``block`` centres of one block lie ``batch / block`` positions apart in the text, not
    side by side (a partial last batch stays in text order).

    A block's centres share one pool of negatives; side by side, their windows overlap and their hidden vectors are
    nearly the same, so the shared negatives take many nearly equal pushes at once. Strided, the same batch (and so
    the same context rows, which CBOW's grouping sums) gives each pool independent-looking examples.
    """
    order = torch.arange(n, device=device)
    n_blocks = -(-batch // block)
    full = (n // batch) * batch
    if n_blocks <= 1 or block <= 1 or full == 0 or n_blocks * block != batch:
        return order
    # new slot p of a batch (block p // block, place p % block) takes the batch's centre (p % block) * n_blocks + p // block
    p = torch.arange(batch, device=device)
    local = (p % block) * n_blocks + p // block
    order[:full] = (torch.arange(0, full, batch, device=device).unsqueeze(1) + local).reshape(-1)
    return order


def packed_windows(stream: Stream, radii: torch.Tensor, window: int, block: int | None = None,
                   order: torch.Tensor | None = None) -> Windows:
    """All windows of a stream as one :class:`Windows`, built from each centre's reach.

    A centre's context is two runs of neighbours: ``reach_l = min(radius, tokens before it in its document)``
    to the left and ``reach_r`` likewise to the right. So the packed context positions follow from two numbers
    per centre with a handful of O(pairs) operations, and no (positions x 2 window) matrix is ever built.
    ``order`` (a permutation of the positions) lists the centres in that order instead of text order, at no
    extra cost (see :meth:`Windows.permute`). ``block`` is accepted for compatibility and not needed.
    """
    dev = stream.ids.device
    if order is None:
        positions = torch.arange(len(stream), device=dev)
        r, d0, d1 = radii, stream.doc_start, stream.doc_end
    else:  # index_select throughout: much faster than tensor[index] on a CPU
        positions = order
        r, d0, d1 = (t.index_select(0, order) for t in (radii, stream.doc_start, stream.doc_end))
    reach_l = torch.minimum(r, positions - d0)
    reach_r = torch.minimum(r, d1 - 1 - positions)
    counts = reach_l + reach_r
    idx = (counts > 0).nonzero().squeeze(1)  # centres with at least one context word
    positions, reach_l, counts = (t.index_select(0, idx) for t in (positions, reach_l, counts))
    starts = torch.zeros(len(counts) + 1, dtype=torch.int64, device=dev)
    torch.cumsum(counts, 0, out=starts[1:])
    p = int(starts[-1])  # one host read per call
    rows = torch.repeat_interleave(torch.arange(len(counts), device=dev), counts, output_size=p)
    # pair q of centre i (rank q - starts[i] in its window) sits at positions[i] - reach_l[i] + rank, plus one
    # once past the left run (skipping the centre itself)
    first = starts[:-1]
    ar = torch.arange(p, device=dev)
    ctx_pos = (positions - reach_l - first).index_select(0, rows).add_(ar)
    ctx_pos.add_(ar >= (first + reach_l).index_select(0, rows))
    ids = stream.ids
    return Windows(positions, ids.index_select(0, positions), ids.index_select(0, ctx_pos), starts, rows)


def skipgram_pairs(
    stream: Stream, radii: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """All Skip-gram pairs of a stream, in text order: (centre ids, context ids), each (P,).

    For display and tests; training uses :func:`packed_windows` chunk by chunk.
    """
    positions = torch.arange(len(stream), device=stream.ids.device)
    ctx, valid = context_matrix(stream, positions, radii, window)
    centres = stream.ids.unsqueeze(1).expand_as(ctx)
    return centres[valid], ctx[valid]


def cbow_examples(stream: Stream, radii: torch.Tensor, window: int) -> list[tuple[list[int], int]]:
    """All CBOW examples of a stream, in text order: (context ids, centre id). For display and tests."""
    positions = torch.arange(len(stream), device=stream.ids.device)
    ctx, valid = context_matrix(stream, positions, radii, window)
    out = []
    for row, v, c in zip(ctx.tolist(), valid.tolist(), stream.ids.tolist()):
        words = [w for w, ok in zip(row, v) if ok]
        if words:
            out.append((words, c))
    return out
