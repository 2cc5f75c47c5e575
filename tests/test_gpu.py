"""On a CUDA GPU (skipped where there is none, as in CI): each output layer's step makes the CPU's updates there, and
the trainer learns with every output layer and with subwords on the GPU and saves a model that a CPU opens.

The CPU steps are checked against autograd in test_models.py, test_hsoftmax.py and test_subwords.py; here the GPU's
are checked against the CPU's on the same tables and examples (negatives given, so no random draw differs).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from w2v_core import hsoftmax, kernels
from w2v_core.kernels import RowBound
from w2v_core.models import Batch, ModelConfig, PackedBatch, build_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

WORDS = ["the", "city", "cities", "government", "café", "très", "naïve", "東京", "a", "go", "governments"]
V, D = len(WORDS), 8
COUNTS = np.array([50, 30, 20, 12, 9, 7, 5, 4, 3, 2, 1])
FAMILIES = [("skipgram", "negative", False), ("cbow", "negative", False), ("skipgram", "hs", False),
            ("cbow", "hs", False), ("skipgram", "negative", True), ("cbow", "negative", True),
            ("skipgram", "softmax", False), ("cbow", "softmax", False)]


def _ids(family) -> str:
    arch, loss, sub = family
    return f"{arch}-{loss}" + ("-subwords" if sub else "")


def _model(arch: str, loss: str, sub: bool):
    cfg = ModelConfig(arch=arch, loss=loss, dim=D, negative=3, min_count=1, **(dict(subwords=True, buckets=37)
                                                                               if sub else {}))
    m = build_model(V, cfg, COUNTS, WORDS)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random tables both sides (untrained output rows are zeros: every update would be alike)
        m.w_in.copy_(torch.randn(m.w_in.shape, generator=g) * 0.5)
        m.w_out.copy_(torch.randn(m.w_out.shape, generator=g) * 0.5)
    return m


def _packed(device) -> PackedBatch:
    ctx = torch.tensor([[3, 4, 1, 0], [1, 0, 5, 1], [0, 0, 0, 0], [7, 8, 9, 10]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=torch.float32)
    p = PackedBatch.from_batch(Batch(torch.tensor([2, 10, 6, 1]), ctx, mask), torch.tensor([6, 1, 2, 9, 9, 1, 7]))
    return PackedBatch(*(t.to(device) for t in (p.centres, p.ctx, p.rows, p.starts, p.counts, p.negatives)))


@pytest.mark.parametrize("family", FAMILIES, ids=_ids)
@pytest.mark.parametrize("kappa", [0.0, 1.0])
def test_each_step_makes_the_same_updates_on_the_gpu_as_on_the_cpu(family, kappa):
    cpu = _model(*family)
    gpu = copy.deepcopy(cpu).to("cuda")
    assert gpu.w_in.is_cuda and gpu.w_out.is_cuda
    out = []
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        bound = RowBound(m.w_in.shape[0], dev, kappa=kappa) if kappa > 0 else None
        lr = 0.3 if kappa == 0 else 2.0  # the bounded step at a rate that clips some rows
        loss, n = m.step_packed(_packed(dev), lr, True, bound)
        out.append((m.w_in.cpu(), m.w_out.cpu(), loss.cpu(), n.cpu()))
    start = _model(*family)
    assert not torch.equal(out[0][0], start.w_in) and not torch.equal(out[0][1], start.w_out)
    for a, b in zip(*out):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_a_hierarchical_softmax_chunk_on_the_gpu_makes_the_cpus_updates(arch):
    """The trainer's call for a whole chunk (hsoftmax.train_chunk): a CPU's CBOW runs the sparse products, a GPU's
    the dense step; the tables, the loss and every row's load agree."""
    from w2v_core.windows import Stream, draw_radii, packed_windows

    V_, batch = 60, 64
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(V_, (4000,), generator=g)
    counts = np.sort(np.bincount(ids.numpy(), minlength=V_))[::-1].copy() + 1
    win = packed_windows(Stream.from_offsets(ids, torch.tensor([0, 1500, 4000])), draw_radii(len(ids), 5, g), 5)
    cuts = win.starts[::batch].tolist() + [int(win.ctx.shape[0])]
    batch_of = win.rows // batch
    starts = win.starts[:-1] - win.starts.index_select(0, torch.arange(len(win)).div(batch, rounding_mode="floor")
                                                       .mul(batch))
    cpu = build_model(V_, ModelConfig(arch=arch, loss="hs", dim=D, min_count=1), counts)
    with torch.no_grad():
        cpu.w_in.copy_(torch.randn(cpu.w_in.shape, generator=g) * 0.5)
        cpu.w_out.copy_(torch.randn(cpu.w_out.shape, generator=g) * 0.5)
    gpu = copy.deepcopy(cpu).to("cuda")
    out = []
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        chunk = kernels.Examples(*(t.to(dev) for t in (win.centres, win.ctx, win.rows % batch, starts,
                                                         win.counts.float(), win.ctx.new_zeros(0))))
        bound = RowBound(V_, dev)
        loss, n = hsoftmax.train_chunk(m, chunk, kernels.Schedule(batch, cuts, 1.0, 0.5, 0.0, 1), bound,
                                       batch_of.to(dev))
        out.append((m.w_in.cpu(), m.w_out.cpu(), loss.cpu(), n.cpu(), bound.load.cpu()))
    assert hsoftmax.uses_sparse_step(arch, "cpu") and not hsoftmax.uses_sparse_step(arch, "cuda")
    for a, b in zip(*out):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def _cos(vecs, words, a, b):
    x, y = vecs[words.index(a)], vecs[words.index(b)]
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


@pytest.mark.parametrize("family", FAMILIES, ids=_ids)
def test_the_trainer_learns_on_the_gpu_and_its_model_opens_on_a_cpu(tiny_corpus, tmp_path, family):
    from w2v_core.store import load_model
    from w2v_core.training import TrainConfig, Trainer

    arch, loss, sub = family
    cfg = ModelConfig(arch=arch, loss=loss, dim=16, window=3, min_count=1, sample=0,
                      **(dict(subwords=True, buckets=5000) if sub else {}))
    # a GPU's default batch (16,384 centres or more) is the whole tiny corpus: one step an epoch
    r = Trainer(tiny_corpus, cfg, TrainConfig(epochs=4, seed=3, device="cuda", batch_size=256)).train()
    assert r.summary["device"].startswith("cuda") and r.model.w_in.is_cuda
    losses = [e["loss"] for e in r.history["epoch"]]
    assert len(losses) == 4 and losses[-1] < losses[0] and np.isfinite(losses).all()
    # Skip-gram with hierarchical softmax ends near 0.8 of the untrained loss on these 29 words, on a CPU too (2.45 on
    # an H200, 2.49 on a CPU, against 3.04); the others well below it
    assert losses[-1] < (0.9 if (arch, loss) == ("skipgram", "hs") else 0.8) * r.summary["untrained_loss"]
    words, v = list(r.vectors.words), r.vectors.vectors
    assert np.isfinite(v).all()
    assert _cos(v, words, "cat", "dog") > _cos(v, words, "cat", "paris")
    assert _cos(v, words, "paris", "berlin") > _cos(v, words, "paris", "grass")
    opened = load_model(r.save(tmp_path / "gpu-model", name="gpu-model"))
    assert list(opened.vectors.words) == words
    assert np.allclose(opened.vectors.vectors, v, atol=1e-6)
    if sub:  # an unseen word is built from its pieces on the CPU
        assert opened.vectors.knows("cats") and "cats" not in words
