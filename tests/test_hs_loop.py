"""The CPU's hierarchical-softmax loop (w2v_core.hs_loop, numba): the trainer runs it, and it trains as the
TorchScript step does (tests/test_hsoftmax.py checks its updates, losses and loads batch for batch)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from w2v_core import hs_loop, hsoftmax, kernels
from w2v_core.kernels import RowBound
from w2v_core.models import ModelConfig

pytestmark = pytest.mark.skipif(not hs_loop.available(), reason="numba is not installed")


def _tiny_chunk(V=20, D=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    counts = np.sort(np.arange(1, V + 1) * 7)[::-1].copy()
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items()})
    B, C = 8, 3
    centres = torch.randint(V, (B,), generator=g)
    ctx = torch.randint(V, (B * C,), generator=g)
    rows = torch.arange(B).repeat_interleave(C)
    starts = torch.arange(B) * C
    chunk = kernels.Examples(centres, ctx, rows, starts, torch.full((B,), float(C)), ctx.new_zeros(0))
    tables = kernels.Tables(torch.randn(V, D, generator=g) * 0.3, torch.randn(V, D, generator=g) * 0.3)
    return tables, chunk, path, kernels.Schedule(B, [0, B * C], 0.05, 0.05, 0.0, 1)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_trainer_runs_the_loop_and_it_trains_as_the_torchscript_step(arch, monkeypatch):
    """One thread, one seed: the model trained through the loop has the vectors (to 1e-4) and the loss of the one
    trained through hsoftmax.run_hs_chunk (W2V_HS_LOOP=0), and the loop did the training."""
    from conftest import make_texts

    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.training import TrainConfig, Trainer

    corpus = from_texts(make_texts(200, seed=3), name="t", config=CorpusConfig(source="t"))
    calls = []
    real = hs_loop.run_chunk

    def counted(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(hs_loop, "run_chunk", counted)
    out = []
    for enabled in (True, False):
        monkeypatch.setattr(hs_loop, "ENABLED", enabled)
        before = len(calls)
        r = Trainer(corpus, ModelConfig(arch=arch, loss="hs", dim=16, window=3, min_count=1, sample=1e-2),
                    TrainConfig(epochs=2, threads=1, seed=1)).train()
        out.append((r.vectors.vectors, r.summary["final_loss"], len(calls) - before))
    (v_loop, loss_loop, n_loop), (v_script, loss_script, n_script) = out
    assert n_loop > 0 and n_script == 0  # warm-up included: the loop ran only when enabled
    assert loss_loop < math.log(2) * 6  # it learned (an untrained model pays ln 2 a turn)
    assert np.abs(v_loop - v_script).max() < 1e-4
    assert loss_loop == pytest.approx(loss_script, rel=1e-4)


def test_word_ids_outside_the_tables_are_refused_not_followed():
    tables, chunk, path, schedule = _tiny_chunk()
    before = [t.clone() for t in tables]
    bad = chunk._replace(ctx=chunk.ctx.clone().index_fill_(0, torch.tensor([5]), 20))
    with pytest.raises(ValueError, match="word ids"):
        hs_loop.run_chunk(True, tables, bad, path, schedule, RowBound.off().for_kernel())
    with pytest.raises(ValueError, match="cuts"):
        hs_loop.run_chunk(True, tables, chunk, path, schedule._replace(cuts=[0, 10_000]),
                          RowBound.off().for_kernel())
    assert all(torch.equal(a, b) for a, b in zip(before, tables))


def test_a_centre_whose_context_runs_past_its_batch_is_refused_and_the_next_chunk_is_unharmed():
    tables, chunk, path, schedule = _tiny_chunk()
    ref = [t.clone() for t in tables]
    hs_loop.run_chunk(False, kernels.Tables(*ref), chunk, path, schedule, RowBound.off().for_kernel())
    bad = chunk._replace(counts=chunk.counts.clone().index_fill_(0, torch.tensor([7]), 9.0))  # the last centre
    with pytest.raises(ValueError, match="outside its batch"):
        hs_loop.run_chunk(False, kernels.Tables(*[t.clone() for t in tables]), bad, path, schedule,
                          RowBound.off().for_kernel())
    again = [t.clone() for t in tables]  # the refused call stopped half way: its slots must not leak into this one
    hs_loop.run_chunk(False, kernels.Tables(*again), chunk, path, schedule, RowBound.off().for_kernel())
    assert all(torch.equal(a, b) for a, b in zip(ref, again))


@pytest.mark.parametrize("skipgram", [True, False])
def test_a_diverged_table_gives_a_nan_loss_for_the_divergence_watch(skipgram):
    """The trainer's retry at a lower rate starts from a non-finite loss: a NaN in the tables must reach it."""
    tables, chunk, path, schedule = _tiny_chunk()
    tables.w_out[int(path.points[int(chunk.centres[0]), 0])] = float("nan")  # the first centre's root
    loss, n = hs_loop.run_chunk(skipgram, tables, chunk, path, schedule, RowBound(20).for_kernel())
    assert not math.isfinite(float(loss)) and float(n) > 0


def test_a_turn_far_on_the_wrong_side_costs_its_softplus_up_to_69():
    """Each turn's probability is at least 1e-30 (one log per path): a score of -40 on the wrong side costs 40
    nats, as softplus says, and a score of -1,000 costs 69 (softplus: 1,000)."""
    V, D = 3, 1
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree([3, 2, 1])).items()})
    word = 2
    one = torch.ones(1, dtype=torch.long)
    for score, cost in ((-40.0, 40.0), (-1000.0, -math.log(1e-30))):
        w_in, w_out = torch.zeros(V, D), torch.zeros(V, D)
        w_in[0, 0] = 1.0
        L = int(path.lengths[word])
        for j in range(L):  # every turn on its wrong side by |score|: s = score for code 0, -score for code 1
            w_out[int(path.points[word, j]), 0] = score * (1 - 2 * float(path.codes[word, j]))
        chunk = kernels.Examples(one * word, one * 0, one * 0, one * 0, torch.ones(1), one[:0])
        loss, n = hs_loop.run_chunk(True, kernels.Tables(w_in, w_out), chunk, path,
                                    kernels.Schedule(1, [0, 1], 0.0, 0.0, 0.0, 1), RowBound.off().for_kernel())
        assert float(loss) == pytest.approx(L * cost, rel=1e-3)


def test_where_numba_cannot_compile_the_loop_the_torchscript_step_trains(monkeypatch, caplog):
    """A numba that fails to compile (an unsupported CPU, a broken install) turns the loop off with a warning; the
    run trains through hsoftmax.run_hs_chunk instead of stopping."""
    from conftest import make_texts

    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.training import TrainConfig, Trainer

    def broken(*args):
        raise RuntimeError("LLVM ERROR: no target for this CPU")

    monkeypatch.setattr(hs_loop, "_compiled", None)
    monkeypatch.setattr(hs_loop, "_jit", lambda fn, inline="never": broken)
    monkeypatch.setattr(hs_loop, "_failed", False)
    corpus = from_texts(make_texts(200, seed=3), name="t", config=CorpusConfig(source="t"))
    with caplog.at_level("WARNING", logger="w2v_core.hs_loop"):
        r = Trainer(corpus, ModelConfig(arch="skipgram", loss="hs", dim=16, window=3, min_count=1, sample=1e-2),
                    TrainConfig(epochs=2, threads=1, seed=1)).train()
    assert not hs_loop.available()
    assert "TorchScript step instead" in caplog.text and "no target" in caplog.text
    assert r.summary["final_loss"] < r.summary["untrained_loss"]


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_a_batch_size_that_divides_a_chunk_trains(arch):
    """A chunk of k * B centres is k batches: with a batch of 1 centre (every chunk a multiple of it) the trainer
    trains through the loop and learns, where it once stopped with "the schedule's cuts do not fit the chunk"."""
    from conftest import make_texts

    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.training import TrainConfig, Trainer

    corpus = from_texts(make_texts(60, seed=4), name="t", config=CorpusConfig(source="t"))
    r = Trainer(corpus, ModelConfig(arch=arch, loss="hs", dim=8, window=2, min_count=1, sample=0),
                TrainConfig(epochs=1, threads=1, seed=2, batch_size=1)).train()
    assert r.summary["batch_size"] == 1
    assert r.summary["final_loss"] < r.summary["untrained_loss"]
