"""The hand-written training steps against autograd, and the model configuration's checks.

Every step in models.py updates the tables by hand (no autograd at training time). Here the same loss is
written plainly with autograd on a tiny example and the step's change to each table must equal
``-lr * gradient`` (for CBOW's input table: word2vec's undivided spread of the hidden gradient).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from w2v_core.errors import W2VError
from w2v_core.kernels import NORM_FLOOR, WRONG_SIDE, RowBound
from w2v_core.models import CBOW, Batch, ModelConfig, PackedBatch, SkipGram, build_model

V, D, LR = 11, 6, 0.3


def _model(arch: str, loss: str = "negative", k: int = 3, seed: int = 0):
    m = build_model(V, ModelConfig(arch=arch, loss=loss, dim=D, negative=k, min_count=1))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # random output rows too, so every term of the gradient is non-zero
        m.w_in.copy_(torch.randn(V, D, generator=g) * 0.5)
        m.w_out.copy_(torch.randn(V, D, generator=g) * 0.5)
        if m.out_bias is not None:
            m.out_bias.copy_(torch.randn(V, generator=g) * 0.1)
    return m


def _padded_batch(k: int = 3) -> Batch:
    # 4 centres, window 2 (4 slots); centre 2 has no context at all; word 1 repeats to test summed updates
    ctx = torch.tensor([[3, 4, 1, 0], [1, 0, 5, 1], [0, 0, 0, 0], [7, 8, 9, 10]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=torch.float32)
    negs = torch.tensor([[6, 1, 2], [9, 9, 0], [4, 5, 6], [2, 7, 3]])[:, :k]  # 7 clashes with centre 3's context
    return Batch(torch.tensor([2, 1, 6, 1]), ctx, mask, negs)


def _updates(model, fn):
    before_in, before_out = model.w_in.clone(), model.w_out.clone()
    before_b = model.out_bias.clone() if model.out_bias is not None else None
    loss, n = fn()
    d_b = (model.out_bias - before_b) if before_b is not None else None
    return model.w_in - before_in, model.w_out - before_out, d_b, loss, n


def _leaves(model):
    w_in = model.w_in.detach().clone().requires_grad_(True)
    w_out = model.w_out.detach().clone().requires_grad_(True)
    b = model.out_bias.detach().clone().requires_grad_(True) if model.out_bias is not None else None
    return w_in, w_out, b


# ------------------------------------------------------------------------------------------ padded steps


def test_skipgram_negative_step_matches_autograd():
    m = _model("skipgram")
    batch = _padded_batch()
    w_in, w_out, _ = _leaves(m)
    h = w_in[batch.centres]
    pos = (w_out[batch.ctx] * h.unsqueeze(1)).sum(2)
    neg = (w_out[batch.negatives] * h.unsqueeze(1)).sum(2)
    n_ctx = batch.mask.sum(1, keepdim=True)
    # negatives shared per centre count once per context word; a negative equal to a true context word is skipped
    clash = ((batch.negatives.unsqueeze(2) == batch.ctx.unsqueeze(1)) & (batch.mask.unsqueeze(1) > 0)).any(2)
    loss = (F.softplus(-pos) * batch.mask).sum() + (F.softplus(neg) * n_ctx * (~clash)).sum()
    loss.backward()
    d_in, d_out, _, got_loss, n = _updates(m, lambda: m.step(batch, LR))
    assert clash.any(), "the example must exercise the clash rule"
    assert torch.allclose(got_loss, loss.detach(), atol=1e-5)
    assert n.item() == batch.mask.sum().item()
    assert torch.allclose(d_in, -LR * w_in.grad, atol=1e-6)
    assert torch.allclose(d_out, -LR * w_out.grad, atol=1e-6)


def test_cbow_negative_step_matches_autograd():
    m = _model("cbow")
    batch = _padded_batch()
    w_in, w_out, _ = _leaves(m)
    n = batch.mask.sum(1, keepdim=True)
    has = (n.squeeze(1) > 0).float()
    h = ((w_in[batch.ctx] * batch.mask.unsqueeze(2)).sum(1) / n.clamp(min=1)).detach().requires_grad_(True)
    pos = (w_out[batch.centres] * h).sum(1)
    neg = (w_out[batch.negatives] * h.unsqueeze(1)).sum(2)
    clash = batch.negatives == batch.centres.unsqueeze(1)
    loss = (F.softplus(-pos) * has).sum() + (F.softplus(neg) * has.unsqueeze(1) * (~clash)).sum()
    loss.backward()
    # word2vec adds the hidden vector's gradient to every context word undivided (cbow_mean=1)
    spread = torch.zeros(V, D).index_add_(0, batch.ctx.reshape(-1),
                                          (h.grad.unsqueeze(1) * batch.mask.unsqueeze(2)).reshape(-1, D))
    d_in, d_out, _, got_loss, cnt = _updates(m, lambda: m.step(batch, LR))
    assert torch.allclose(got_loss, loss.detach(), atol=1e-5)
    assert cnt.item() == 3  # the centre without context is no example
    assert torch.allclose(d_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(d_in, -LR * spread, atol=1e-6)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_full_softmax_step_matches_autograd(arch):
    m = _model(arch, loss="softmax")
    batch = _padded_batch()
    w_in, w_out, b = _leaves(m)
    if arch == "skipgram":
        h = w_in[batch.centres]
        logp = torch.log_softmax(h @ w_out.t() + b, 1)
        loss = -(logp.gather(1, batch.ctx) * batch.mask).sum()
        loss.backward()
        want_in = w_in.grad
    else:
        n = batch.mask.sum(1, keepdim=True)
        has = (n.squeeze(1) > 0).float()
        h = ((w_in[batch.ctx] * batch.mask.unsqueeze(2)).sum(1) / n.clamp(min=1)).detach().requires_grad_(True)
        logp = torch.log_softmax(h @ w_out.t() + b, 1)
        loss = -(logp.gather(1, batch.centres.unsqueeze(1)).squeeze(1) * has).sum()
        loss.backward()
        want_in = torch.zeros(V, D).index_add_(0, batch.ctx.reshape(-1),
                                               (h.grad.unsqueeze(1) * batch.mask.unsqueeze(2)).reshape(-1, D))
    d_in, d_out, d_b, got_loss, _ = _updates(m, lambda: m.step(batch, LR))
    assert torch.allclose(got_loss, loss.detach(), atol=1e-5)
    assert torch.allclose(d_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(d_b, -LR * b.grad, atol=1e-6)
    assert torch.allclose(d_in, -LR * want_in, atol=1e-6)


# ------------------------------------------------------------------------------------------ packed steps


def _packed(k: int = 3) -> PackedBatch:
    pool = torch.tensor([6, 1, 2, 9, 9, 1, 7])  # repeats on purpose: a repeated pool word is updated twice
    return PackedBatch.from_batch(_padded_batch(k), pool)


def test_packing_keeps_only_real_context_words():
    p = _packed()
    assert p.centres.tolist() == [2, 1, 1]
    assert p.ctx.tolist() == [3, 4, 1, 1, 5, 1, 8, 9, 10]
    assert p.rows.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert p.starts.tolist() == [0, 3, 6]
    assert p.counts.tolist() == [3.0, 3.0, 3.0]


def test_packed_skipgram_negative_step_matches_autograd():
    k = 3
    m = _model("skipgram", k=k)
    p = _packed(k)
    N = p.negatives.shape[0]
    w_in, w_out, _ = _leaves(m)
    h = w_in[p.centres]
    pos = (h[p.rows] * w_out[p.ctx]).sum(1)
    neg = h @ w_out[p.negatives].t()  # every example against the whole pool, each pool word worth k / N
    loss = F.softplus(-pos).sum() + (F.softplus(neg) * p.counts.unsqueeze(1) * (k / N)).sum()
    loss.backward()
    d_in, d_out, _, got_loss, n = _updates(m, lambda: m.step_packed(p, LR))
    assert torch.allclose(got_loss, loss.detach(), atol=1e-5)
    assert n.item() == 9
    assert torch.allclose(d_in, -LR * w_in.grad, atol=1e-6)
    assert torch.allclose(d_out, -LR * w_out.grad, atol=1e-6)


def test_packed_cbow_negative_step_matches_autograd():
    k = 3
    m = _model("cbow", k=k)
    p = _packed(k)
    N = p.negatives.shape[0]
    w_in, w_out, _ = _leaves(m)
    h = torch.stack([w_in[p.ctx[p.rows == i]].mean(0) for i in range(len(p.centres))]).detach().requires_grad_(True)
    pos = (h * w_out[p.centres]).sum(1)
    neg = h @ w_out[p.negatives].t()
    not_self = (p.negatives.unsqueeze(0) != p.centres.unsqueeze(1)).float()  # the centre is no negative of itself
    loss = F.softplus(-pos).sum() + (F.softplus(neg) * not_self * (k / N)).sum()
    loss.backward()
    spread = torch.zeros(V, D).index_add_(0, p.ctx, h.grad[p.rows])
    d_in, d_out, _, got_loss, n = _updates(m, lambda: m.step_packed(p, LR))
    assert (not_self == 0).any()
    assert torch.allclose(got_loss, loss.detach(), atol=1e-5)
    assert n.item() == 3
    assert torch.allclose(d_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(d_in, -LR * spread, atol=1e-6)


def test_bounded_cbow_step_scales_each_rows_sum_by_its_load():
    """The bound written out plainly: each row's summed step is scaled by min(1, kappa / (lr * load)), the load
    summing the curvature sigma'(s) (at least WRONG_SIDE x |g| on the wrong side) x (|partner|^2 + NORM_FLOOR) of
    every contribution; a pool word equal to the example's centre is no negative, in the step and in the loads."""
    k, lr, kappa = 3, 2.0, 1.0
    m = _model("cbow", k=k)
    p = _packed(k)
    N, B = p.negatives.shape[0], len(p.centres)
    w_in, w_out = m.w_in.clone(), m.w_out.clone()
    h = torch.stack([w_in[p.ctx[p.rows == i]].mean(0) for i in range(B)])
    oc, on = w_out[p.centres], w_out[p.negatives]
    wn = (p.negatives.unsqueeze(0) != p.centres.unsqueeze(1)).float() * (k / N)  # (B, N)
    sig_p, sig_n = torch.sigmoid((h * oc).sum(1)), torch.sigmoid(h @ on.t())
    gp, gn = sig_p - 1, sig_n * wn
    ap = sig_p.clamp(min=WRONG_SIDE) * (1 - sig_p)
    an = gn * (1 - sig_n).clamp(min=WRONG_SIDE)
    h2, oc2, on2 = (h * h).sum(1) + NORM_FLOOR, (oc * oc).sum(1) + NORM_FLOOR, (on * on).sum(1) + NORM_FLOOR
    load_out = torch.zeros(V).index_add_(0, p.centres, ap * h2).index_add_(0, p.negatives, an.t() @ h2)
    per_example = (ap * oc2 + an @ on2) / p.counts
    load_in = torch.zeros(V).index_add_(0, p.ctx, per_example[p.rows])
    s_out = (kappa / (lr * load_out)).clamp(max=1)
    s_in = (kappa / (lr * load_in)).clamp(max=1)
    step_out = torch.zeros(V, D).index_add_(0, p.centres, gp.unsqueeze(1) * h).index_add_(0, p.negatives, gn.t() @ h)
    grad_h = gp.unsqueeze(1) * oc + gn @ on
    step_in = torch.zeros(V, D).index_add_(0, p.ctx, grad_h[p.rows])
    d_in, d_out, _, _, _ = _updates(m, lambda: m.step_packed(p, lr, bound=RowBound(V, kappa=kappa)))
    touched_out, touched_in = load_out > 0, load_in > 0
    assert (s_out[touched_out] < 1).any() and (s_out[touched_out] == 1).any(), "some rows must be clipped, some not"
    assert (s_in[touched_in] < 1).any()
    assert torch.allclose(d_out, -lr * s_out.unsqueeze(1) * step_out, atol=1e-5)
    assert torch.allclose(d_in, -lr * s_in.unsqueeze(1) * step_in, atol=1e-5)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_packed_softmax_equals_padded_softmax(arch):
    """The trainer's packed softmax step makes exactly the padded (autograd-checked) step's change."""
    a, b = _model(arch, loss="softmax"), _model(arch, loss="softmax")
    batch = _padded_batch()
    da = _updates(a, lambda: a.step(batch, LR))
    db = _updates(b, lambda: b.step_packed(PackedBatch.from_batch(batch), LR))
    for x, y in zip(da[:4], db[:4]):
        assert torch.allclose(x, y, atol=1e-6)


def test_packed_step_can_skip_the_loss():
    m = _model("skipgram")
    loss, n = m.step_packed(_packed(), LR, want_loss=False)
    assert loss is None and n.item() == 9


def test_zero_learning_rate_changes_nothing_and_loss_matches_step():
    m = _model("cbow")
    before = m.w_in.clone(), m.w_out.clone()
    loss, _ = m.loss(_padded_batch())
    assert torch.equal(m.w_in, before[0]) and torch.equal(m.w_out, before[1])
    assert loss.item() > 0


# ------------------------------------------------------------------------------------------ the models


def test_build_model_picks_the_architecture_and_initialises_like_word2vec():
    sg = build_model(50, ModelConfig(arch="skipgram", dim=8))
    cb = build_model(50, ModelConfig(arch="cbow", dim=8))
    assert isinstance(sg, SkipGram) and isinstance(cb, CBOW)
    sg.reset_parameters(torch.Generator().manual_seed(0))
    assert sg.w_in.abs().max() <= 0.5 / 8 and sg.w_in.abs().max() > 0
    assert torch.count_nonzero(sg.w_out) == 0
    assert sg.out_bias is None
    assert build_model(50, ModelConfig(loss="softmax", dim=8)).out_bias is not None
    assert not sg.w_in.requires_grad  # trained by hand


def test_softmax_on_a_large_vocabulary_warns(caplog):
    with caplog.at_level("WARNING"):
        build_model(25_000, ModelConfig(loss="softmax", dim=2))
    assert "negative sampling is much faster" in caplog.text


@pytest.mark.parametrize("kwargs, words", [
    (dict(arch="glove"), "Unknown architecture"),
    (dict(loss="nce"), "Unknown output layer"),
    (dict(dim=1), "dimension"),
    (dict(dim=5000), "dimension"),
    (dict(window=0), "window"),
    (dict(negative=0), "negatives"),
    (dict(min_count=0), "min_count"),
    (dict(sample=1.5), "sample"),
    (dict(sample=-0.1), "sample"),
])
def test_bad_model_configs_are_refused_with_a_clear_message(kwargs, words):
    with pytest.raises(W2VError, match=words):
        ModelConfig(**kwargs).validate()
    with pytest.raises(W2VError):
        build_model(10, ModelConfig(**kwargs))


def test_softmax_ignores_the_number_of_negatives():
    ModelConfig(loss="softmax", negative=0).validate()  # no negatives are drawn for the full softmax
