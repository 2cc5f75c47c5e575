"""The compiled training kernels: they compile, and CBOW's grouped context updates change nothing.

(Each kernel's step against autograd is in test_models.py, through ``Word2Vec.step_packed``.)
"""

from __future__ import annotations

import pytest
import torch

from w2v_core import kernels
from w2v_core.kernels import RowBound, group_contexts


def test_the_training_steps_compile_to_torchscript():
    """If TorchScript refused a step, the trainer would quietly fall back to Python: same numbers, several times
    slower and serialised on the GIL across worker threads. Catch that here, not in a benchmark."""
    for fn in (kernels.sg_negative_step, kernels.cbow_negative_step, kernels.run_chunk):
        torch.jit.script(fn)  # raises if it cannot
        assert kernels.scripted(fn) is not fn
    assert kernels._norm_floor() == kernels.NORM_FLOOR and kernels._wrong_side() == kernels.WRONG_SIDE


def _chunk(V_: int = 40, n_tokens: int = 3000, batch: int = 64, seed: int = 0):
    """A chunk of windows over a random stream, cut into batches as the trainer cuts it."""
    from w2v_core.windows import Stream, draw_radii, packed_windows

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(V_, (n_tokens,), generator=g)
    stream = Stream.from_offsets(ids, torch.tensor([0, n_tokens // 3, n_tokens]))
    win = packed_windows(stream, draw_radii(len(stream), 5, g), 5)
    n = len(win)
    cuts = win.starts[::batch].tolist() + [int(win.ctx.shape[0])]
    first = torch.arange(n).div_(batch, rounding_mode="floor").mul_(batch)
    starts = win.starts[:-1] - win.starts.index_select(0, first)
    return win, cuts, starts, g


def test_context_groups_hold_every_entry_of_their_batch_once():
    V_, batch = 40, 64
    win, cuts, _, _ = _chunk(V_, batch=batch)
    (by_row, row_starts, row_ids), row_cuts = group_contexts(win.rows % batch, win.rows // batch, win.ctx, V_, cuts)
    n_batches = len(cuts) - 1
    assert len(row_cuts) == n_batches + 1 and row_cuts[-1] == len(row_ids)
    for b in range(n_batches):
        p0, p1, u0, u1 = cuts[b], cuts[b + 1], row_cuts[b], row_cuts[b + 1]
        want = sorted(zip(win.ctx[p0:p1].tolist(), (win.rows[p0:p1] % batch).tolist()))
        bounds = row_starts[u0:u1].tolist() + [p1 - p0]
        got = sorted((int(row_ids[u0 + j]), int(r)) for j in range(u1 - u0)
                     for r in by_row[p0 + bounds[j]:p0 + bounds[j + 1]])
        assert got == want  # every (row, centre) entry of the batch, each once, under its own row
        assert len(set(row_ids[u0:u1].tolist())) == u1 - u0  # one group per row
    assert len(row_ids) < len(win.ctx) / 2  # neighbouring centres share context words: far fewer rows than entries
    # a vocabulary too big for 32-bit sort keys takes the 64-bit path to the same groups
    big = group_contexts(win.rows % batch, win.rows // batch, win.ctx, 2 ** 31, cuts)
    assert torch.equal(big[0].rows, row_ids) and torch.equal(big[0].starts, row_starts) and big[1] == row_cuts


@pytest.mark.parametrize("workers", [1, 2])
def test_grouped_cbow_chunk_makes_the_same_updates_as_one_per_entry(workers):
    """The trainer's CPU path sums each context row's errors before adding them; the tables must end up the same
    as with one update per entry, bound included (several batches, so the loads carry over)."""
    V_, D_, batch = 40, 8, 64
    win, cuts, starts, g = _chunk(V_, batch=batch)
    n_batches = len(cuts) - 1
    negs = torch.randint(V_, (n_batches, 4, 8), generator=g)
    tables = (torch.randn(V_, D_, generator=g) * 0.5, torch.randn(V_, D_, generator=g) * 0.5)
    chunk = kernels.Examples(win.centres, win.ctx, win.rows % batch, starts, win.counts.float(), negs)
    schedule = kernels.Schedule(batch, cuts, 1.0, 0.5, 5.0, 1)
    out = []
    for groups in ((kernels.no_groups(win.ctx), [0]), group_contexts(win.rows % batch, win.rows // batch, win.ctx, V_,
                                                                     cuts)):
        w_in, w_out = (t.clone() for t in tables)
        bound = RowBound(V_, workers=workers)
        loss, n = kernels.scripted(kernels.run_chunk)(False, kernels.Tables(w_in, w_out), chunk, schedule,
                                                      bound.for_kernel(), *groups, kernels.no_words(win.ctx))
        out.append((w_in, w_out, loss, bound.load))
    assert not torch.equal(out[0][0], tables[0])  # the step did something
    for a, b in zip(*out):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("workers,kappa", [(1, 1.0), (2, 1.0), (1, 0.0)])
def test_subword_cbow_composed_per_word_makes_the_same_updates_as_over_every_row(workers, kappa):
    """Subword CBOW on a CPU composes each context word of a batch once from its rows (``WordRows``); the tables must
    end up as with the context expanded into every row of every word (``expand_windows``), bound included."""
    from w2v_core import subword_steps

    V_, R_, D_, batch = 40, 30, 8, 64
    lr0 = 0.2 if kappa > 0 else 0.02  # unbounded, a high rate diverges (to nan in both forms)
    win, cuts, starts, g = _chunk(V_, batch=batch, seed=3)
    # each word: its own row, then 1-4 shared "n-gram" rows
    lens = torch.randint(1, 5, (V_,), generator=g)
    rows = torch.cat([torch.cat([torch.tensor([w]), V_ + torch.randint(R_, (int(lens[w]),), generator=g)])
                      for w in range(V_)])
    pstarts = torch.zeros(V_ + 1, dtype=torch.long)
    pstarts[1:] = torch.cumsum(lens + 1, 0)
    pieces = subword_steps.Pieces(rows, pstarts)
    n_batches = len(cuts) - 1
    negs = torch.randint(V_, (n_batches, 4, 8), generator=g)
    tables = (torch.randn(V_ + R_, D_, generator=g) * 0.5, torch.randn(V_, D_, generator=g) * 0.5)
    schedule = kernels.Schedule(batch, cuts, lr0, lr0 / 2, 5.0, 1)
    out = []
    # expanded: every context entry is one row
    big = subword_steps.expand_windows(win, pieces)
    big_cuts = big.starts[::batch].tolist() + [int(big.ctx.shape[0])]
    first = torch.arange(len(big)).div_(batch, rounding_mode="floor").mul_(batch)
    big_starts = big.starts[:-1] - big.starts.index_select(0, first)
    chunk = kernels.Examples(big.centres, big.ctx, big.rows % batch, big_starts, big.counts.float(), negs)
    groups = group_contexts(big.rows % batch, big.rows // batch, big.ctx, V_ + R_, big_cuts)
    runs = [(kernels.Schedule(batch, big_cuts, lr0, lr0 / 2, 5.0, 1), chunk, groups, kernels.no_words(big.ctx))]
    # composed: the entries grouped by word, each centre's count the number of its rows
    counts = torch.zeros(len(win)).index_add_(0, win.rows, (lens + 1).index_select(0, win.ctx).float())
    chunk = kernels.Examples(win.centres, win.ctx, win.rows % batch, starts, counts, negs)
    word_groups, word_cuts, slots = kernels.group_entries(win.rows % batch, win.rows // batch, win.ctx, V_, cuts)
    runs.append((schedule, chunk, (word_groups, word_cuts), kernels.WordRows(rows, pstarts, slots)))
    for sched, ch, grp, words in runs:
        w_in, w_out = (t.clone() for t in tables)
        bound = RowBound(V_ + R_, workers=workers, kappa=kappa)
        loss, n = kernels.scripted(kernels.run_chunk)(False, kernels.Tables(w_in, w_out), ch, sched,
                                                      bound.for_kernel(), *grp, words)
        out.append((w_in, w_out, loss, n, bound.load))
    assert not torch.equal(out[0][0], tables[0]) and torch.isfinite(out[0][0]).all()  # it did something
    assert slots.shape == win.ctx.shape and int(slots.max()) < int(word_groups.rows.shape[0])
    for a, b in zip(*out):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)  # float sums in another order
