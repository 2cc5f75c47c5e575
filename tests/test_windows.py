"""Context windows against a naive pure-Python reference: dynamic radii, document boundaries, both layouts."""

from __future__ import annotations

import random

import pytest
import torch

from w2v_core.windows import (Stream, cbow_examples, context_matrix, draw_radii, packed_windows, skipgram_pairs,
                              subsample)


def naive_windows(docs: list[list[int]], radii: list[int]) -> list[tuple[int, list[int]]]:
    """(centre, its context words in text order) for every token, one document at a time, with plain loops."""
    out, t = [], 0
    for doc in docs:
        for i, centre in enumerate(doc):
            r = radii[t]
            ctx = [doc[j] for j in range(max(0, i - r), min(len(doc), i + r + 1)) if j != i]
            out.append((centre, ctx))
            t += 1
    return out


def make_stream(docs: list[list[int]]) -> Stream:
    ids = torch.tensor([w for d in docs for w in d], dtype=torch.int64)
    offsets = torch.tensor([0] + [len(d) for d in docs]).cumsum(0)
    return Stream.from_offsets(ids, offsets)


def random_docs(seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    # short, empty and one-word documents: windows must stop at every boundary
    lengths = [rng.choice([0, 1, 2, 3, 7, 12, 30]) for _ in range(15)]
    return [[rng.randrange(40) for _ in range(n)] for n in lengths]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("window", [1, 2, 5])
def test_skipgram_pairs_match_the_naive_reference(seed, window):
    docs = random_docs(seed)
    stream = make_stream(docs)
    radii = draw_radii(len(stream), window, torch.Generator().manual_seed(seed))
    centres, ctx = skipgram_pairs(stream, radii, window)
    want = [(c, x) for c, xs in naive_windows(docs, radii.tolist()) for x in xs]
    assert list(zip(centres.tolist(), ctx.tolist())) == want


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("window", [1, 4])
def test_cbow_examples_match_the_naive_reference(seed, window):
    docs = random_docs(seed)
    stream = make_stream(docs)
    radii = draw_radii(len(stream), window, torch.Generator().manual_seed(seed))
    want = [(xs, c) for c, xs in naive_windows(docs, radii.tolist()) if xs]
    assert cbow_examples(stream, radii, window) == want


@pytest.mark.parametrize("block", [3, 7, 65_536])
def test_packed_windows_match_the_naive_reference(block):
    docs = random_docs(5)
    stream = make_stream(docs)
    window = 3
    radii = draw_radii(len(stream), window, torch.Generator().manual_seed(5))
    w = packed_windows(stream, radii, window, block=block)
    got = [(int(w.centres[i]), w.ctx[w.starts[i]:w.starts[i + 1]].tolist()) for i in range(len(w))]
    want = [(c, xs) for c, xs in naive_windows(docs, radii.tolist()) if xs]
    assert got == want
    assert w.rows.tolist() == [i for i, (_, xs) in enumerate(want) for _ in xs]
    assert w.counts.tolist() == [len(xs) for _, xs in want]
    assert torch.equal(stream.ids[w.positions], w.centres)


def test_windows_never_cross_a_document_boundary():
    docs = [[1, 1, 1], [2, 2, 2, 2], [3]]
    stream = make_stream(docs)
    radii = torch.full((len(stream),), 10)
    centres, ctx = skipgram_pairs(stream, radii, 10)
    assert torch.equal(centres, ctx)  # every context word comes from its centre's own document
    assert len(centres) == 3 * 2 + 4 * 3  # and a one-word document gives nothing


def test_context_matrix_marks_padding_and_keeps_ids_gatherable():
    stream = make_stream([[5, 6, 7]])
    ctx, valid = context_matrix(stream, torch.tensor([0, 2]), torch.tensor([2, 1]), 2)
    # slots are -2, -1, +1, +2
    assert valid.tolist() == [[False, False, True, True], [False, True, False, False]]
    assert ctx.tolist() == [[0, 0, 6, 7], [0, 6, 0, 0]]


def test_radii_are_uniform_between_one_and_the_window():
    r = draw_radii(20_000, 5, torch.Generator().manual_seed(0))
    assert r.min() == 1 and r.max() == 5
    share = torch.bincount(r, minlength=6)[1:] / 20_000
    assert torch.allclose(share, torch.full((5,), 0.2), atol=0.02)


def test_stream_offsets_with_empty_documents():
    s = Stream.from_offsets(torch.tensor([4, 5, 6]), torch.tensor([0, 0, 2, 2, 3]))
    assert s.doc_start.tolist() == [0, 0, 2] and s.doc_end.tolist() == [2, 2, 3]


def test_subsampling_keeps_words_with_their_probability_and_fixes_offsets():
    n = 40_000
    ids = torch.cat([torch.zeros(n // 2, dtype=torch.int64), torch.ones(n // 2, dtype=torch.int64)])
    offsets = torch.tensor([0, 10_000, 20_000, 40_000])
    keep_prob = torch.tensor([0.25, 1.0])
    kept, new_off, mask = subsample(ids, offsets, keep_prob, torch.Generator().manual_seed(0))
    frac0 = mask[: n // 2].float().mean().item()
    assert abs(frac0 - 0.25) < 0.02
    assert mask[n // 2:].all()  # probability 1: always kept
    assert torch.equal(kept, ids[mask])
    assert new_off[-1] == len(kept) and new_off[0] == 0
    assert new_off[3] - new_off[2] == 20_000  # the third document (all ones) keeps every word
    per_doc = [int(mask[a:b].sum()) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    assert (new_off[1:] - new_off[:-1]).tolist() == per_doc


def test_no_subsampling_keeps_everything():
    ids = torch.arange(10)
    kept, off, mask = subsample(ids, torch.tensor([0, 10]), None, None)
    assert torch.equal(kept, ids) and mask.all() and off.tolist() == [0, 10]


def test_permuted_windows_keep_each_centre_with_its_own_context():
    docs = random_docs(7)
    stream = make_stream(docs)
    radii = draw_radii(len(stream), 3, torch.Generator().manual_seed(7))
    w = packed_windows(stream, radii, 3)
    order = torch.randperm(len(w), generator=torch.Generator().manual_seed(0))
    s = w.permute(order)

    def rows_of(x):
        return [(int(x.positions[i]), int(x.centres[i]), x.ctx[x.starts[i]:x.starts[i + 1]].tolist())
                for i in range(len(x))]

    before, after = rows_of(w), rows_of(s)
    assert after == [before[i] for i in order.tolist()]
    assert s.rows.tolist() == [i for i, (_, _, xs) in enumerate(after) for _ in xs]


def test_windows_built_in_a_given_order_equal_the_permuted_windows():
    docs = random_docs(8)
    stream = make_stream(docs)
    radii = draw_radii(len(stream), 4, torch.Generator().manual_seed(8))
    perm = torch.randperm(len(stream), generator=torch.Generator().manual_seed(1))
    direct = packed_windows(stream, radii, 4, block=5, order=perm)
    w = packed_windows(stream, radii, 4)
    # the same windows, in the order of `perm` (centres without context dropped)
    rank = torch.empty_like(perm)
    rank[perm] = torch.arange(len(perm))
    via = w.permute(torch.argsort(rank[w.positions]))
    for a, b in ((direct.positions, via.positions), (direct.centres, via.centres), (direct.ctx, via.ctx),
                 (direct.starts, via.starts), (direct.rows, via.rows)):
        assert torch.equal(a, b)


def test_interleaved_order_keeps_each_batch_and_spreads_its_blocks():
    from w2v_core.windows import interleaved_order

    n, batch, block = 2 * 1024 + 100, 1024, 32
    order = interleaved_order(n, batch, block)
    assert sorted(order.tolist()) == list(range(n))  # a permutation
    for b0 in (0, 1024):  # each full batch holds the same centres as in text order
        assert sorted(order[b0:b0 + batch].tolist()) == list(range(b0, b0 + batch))
        blocks = order[b0:b0 + batch].view(-1, block)  # what one pool of negatives serves
        gaps = blocks[:, 1:] - blocks[:, :-1]
        assert bool((gaps == batch // block).all())  # 32 positions apart: their windows do not overlap
    assert order[2048:].tolist() == list(range(2048, n))  # the partial last batch stays in text order
    assert interleaved_order(50, 16, 5).tolist() == list(range(50))  # blocks that do not tile a batch: unchanged
