"""Subword vectors (fastText's model): the n-grams and hash against gensim, every step against autograd, unseen words.

As in test_models.py, the loss is written plainly with autograd on a tiny example: h is the mean of a word's rows
(Skip-gram: the centre's; CBOW: all rows of all context words), and each input row must change by -lr times the
gradient on h of every example it is part of, once per time it appears (fastText's and gensim's undivided update).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from w2v_core import subwords
from w2v_core.errors import W2VError
from w2v_core.kernels import RowBound
from w2v_core.models import Batch, ModelConfig, PackedBatch, build_model
from w2v_core.vectors import SubwordVectors

WORDS = ["the", "city", "cities", "government", "café", "très", "naïve", "東京", "a", "go", "governments"]
V, D, LR, BUCKETS = len(WORDS), 6, 0.3, 37  # few buckets: n-grams share rows, as they do at any size


# ------------------------------------------------------------------------------------------ n-grams and hash


@pytest.mark.parametrize("min_n,max_n", [(3, 6), (1, 3), (2, 5)])
def test_ngrams_and_hash_are_gensims(min_n, max_n):
    from gensim.models.fasttext import compute_ngrams_bytes, ft_hash_bytes, ft_ngram_hashes

    for w in WORDS + ["Straße", "ñ", "x", "日本語のテキスト"]:
        grams = subwords.ngrams(w, min_n, max_n)
        assert grams == compute_ngrams_bytes(w, min_n, max_n), w
        assert [subwords.ft_hash(g) for g in grams] == [ft_hash_bytes(g) for g in grams]
        assert subwords.hash_many(grams).tolist() == [ft_hash_bytes(g) for g in grams]
        assert subwords.bucket_rows(w, min_n, max_n, 2_000_000).tolist() == list(
            ft_ngram_hashes(w, min_n, max_n, 2_000_000))


def test_the_hash_reads_bytes_as_signed_chars_like_fasttext():
    """'é' is 0xC3 0xA9: fastText xors uint32(int8_t(c)) = 0xFFFFFFC3 ..., not 0xC3 (which a textbook FNV-1a uses)."""
    textbook = 2166136261
    for b in "é".encode():
        textbook = ((textbook ^ b) * 16777619) & 0xFFFFFFFF
    assert subwords.ft_hash("é".encode()) != textbook
    assert subwords.ft_hash(b"") == 2166136261


def test_ngrams_keep_characters_whole_and_the_boundaries():
    assert subwords.ngrams("city", 3, 4) == [b"<ci", b"<cit", b"cit", b"city", b"ity", b"ity>", b"ty>"]
    assert [g.decode() for g in subwords.ngrams("très", 3, 3)] == ["<tr", "trè", "rès", "ès>"]
    assert subwords.ngrams("a", 3, 6) == [b"<a>"]


def test_the_index_lists_each_words_own_row_then_its_buckets():
    from gensim.models.fasttext import ft_ngram_hashes

    idx = subwords.build_index(WORDS, 3, 6, BUCKETS)
    for w, word in enumerate(WORDS):
        rows = idx.of(w)
        assert rows[0] == w
        assert idx.buckets[rows[1:] - V].tolist() == list(ft_ngram_hashes(word, 3, 6, BUCKETS))
    assert idx.lengths.tolist() == [1 + len(subwords.ngrams(w, 3, 6)) for w in WORDS]
    # a training row only for the buckets in use, each once
    assert idx.buckets.tolist() == sorted(set(idx.buckets.tolist())) and len(idx.buckets) < BUCKETS
    assert set(idx.rows[idx.rows >= V].tolist()) == set(range(V, V + len(idx.buckets)))


def test_the_saved_table_puts_trained_rows_in_their_buckets_and_zeros_elsewhere():
    idx = subwords.build_index(WORDS, 3, 6, BUCKETS)
    trained = np.random.default_rng(0).normal(size=(len(idx.buckets), 4)).astype(np.float32)
    full = subwords.full_table(trained, idx.buckets, BUCKETS)
    assert full.shape == (BUCKETS, 4) and np.array_equal(full[idx.buckets], trained)
    unused = np.setdiff1d(np.arange(BUCKETS), idx.buckets)
    assert len(unused) and not full[unused].any()


def test_memory_of_the_table_is_buckets_times_dim_times_4():
    assert subwords.table_bytes(2_000_000, 100) == 800_000_000
    assert subwords.table_bytes(subwords.APP_BUCKETS, 100) == 80_000_000


# ------------------------------------------------------------------------------------------ the model


def _model(arch: str, k: int = 3, seed: int = 0):
    m = build_model(V, ModelConfig(arch=arch, dim=D, negative=k, min_count=1, subwords=True, buckets=BUCKETS),
                    words=WORDS)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.w_in.copy_(torch.randn(m.w_in.shape, generator=g) * 0.5)
        m.w_out.copy_(torch.randn(V, D, generator=g) * 0.5)
    return m


def test_the_model_holds_words_then_buckets_initialised_as_fasttext():
    m = build_model(V, ModelConfig(dim=D, min_count=1, subwords=True, buckets=BUCKETS), words=WORDS)
    m.reset_parameters(torch.Generator().manual_seed(1))
    assert m.w_in.shape == (V + len(m.sub_buckets), D) and m.w_out.shape == (V, D)
    assert m.w_in.abs().max() <= 1.0 / D and m.w_in.abs().max() > 0.8 / D  # uniform in +-1/D
    assert (m.w_out == 0).all()
    with pytest.raises(ValueError):
        build_model(V, ModelConfig(dim=D, min_count=1, subwords=True, buckets=BUCKETS))  # no words to cut


def _rows_of(m, w: int) -> torch.Tensor:
    return m.sub_rows[m.sub_starts[w]:m.sub_starts[w + 1]]


def _spread(m, ids, grads) -> torch.Tensor:
    """Each word's gradient on h added once per appearance of each of its rows (the expected input-table change)."""
    out = torch.zeros_like(m.w_in)
    for w, g in zip(ids.tolist(), grads):
        out.index_add_(0, _rows_of(m, w), g.expand(len(_rows_of(m, w)), D))
    return out


def _mean_rows(w_in, m, w: int) -> torch.Tensor:
    return w_in[_rows_of(m, w)].mean(0)


def _padded_batch(k: int = 3) -> Batch:
    ctx = torch.tensor([[3, 4, 1, 0], [1, 0, 5, 1], [0, 0, 0, 0], [7, 8, 9, 10]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=torch.float32)
    negs = torch.tensor([[6, 1, 2], [9, 9, 0], [4, 5, 6], [2, 7, 3]])[:, :k]
    return Batch(torch.tensor([2, 1, 6, 1]), ctx, mask, negs)


def test_word_vectors_are_the_mean_of_each_words_rows():
    m = _model("skipgram")
    want = torch.stack([_mean_rows(m.w_in, m, w) for w in range(V)])
    assert torch.allclose(m.word_vectors(), want, atol=1e-6)


def test_skipgram_subword_step_matches_autograd():
    m = _model("skipgram")
    b = _padded_batch()
    w_out = m.w_out.detach().clone().requires_grad_(True)
    h = torch.stack([_mean_rows(m.w_in, m, w) for w in b.centres.tolist()]).requires_grad_(True)
    pos = (w_out[b.ctx] * h.unsqueeze(1)).sum(2)
    neg = (w_out[b.negatives] * h.unsqueeze(1)).sum(2)
    n_ctx = b.mask.sum(1, keepdim=True)
    clash = ((b.negatives.unsqueeze(2) == b.ctx.unsqueeze(1)) & (b.mask.unsqueeze(1) > 0)).any(2)
    loss = (F.softplus(-pos) * b.mask).sum() + (F.softplus(neg) * n_ctx * (~clash)).sum()
    loss.backward()
    before_in, before_out = m.w_in.clone(), m.w_out.clone()
    got, _ = m.step(b, LR)
    assert torch.allclose(got, loss.detach(), atol=1e-5)
    assert torch.allclose(m.w_out - before_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(m.w_in - before_in, -LR * _spread(m, b.centres, h.grad), atol=1e-6)


def test_cbow_subword_step_matches_autograd():
    """h = the mean of all rows of all context words (fastText's computeHidden), not the mean of the words' means."""
    m = _model("cbow")
    b = _padded_batch()
    w_out = m.w_out.detach().clone().requires_grad_(True)
    hs = []
    for i in range(len(b.centres)):
        ws = b.ctx[i][b.mask[i] > 0].tolist()
        rows = torch.cat([_rows_of(m, w) for w in ws]) if ws else torch.zeros(0, dtype=torch.long)
        hs.append(m.w_in[rows].mean(0) if ws else torch.zeros(D))
    h = torch.stack(hs).requires_grad_(True)
    has = (b.mask.sum(1) > 0).float()
    pos = (w_out[b.centres] * h).sum(1)
    neg = (w_out[b.negatives] * h.unsqueeze(1)).sum(2)
    clash = b.negatives == b.centres.unsqueeze(1)
    loss = (F.softplus(-pos) * has).sum() + (F.softplus(neg) * has.unsqueeze(1) * (~clash)).sum()
    loss.backward()
    ids = b.ctx[b.mask > 0]
    grads = h.grad.unsqueeze(1).expand(-1, b.ctx.shape[1], -1)[b.mask > 0]
    before_in, before_out = m.w_in.clone(), m.w_out.clone()
    got, _ = m.step(b, LR)
    assert torch.allclose(got, loss.detach(), atol=1e-5)
    assert torch.allclose(m.w_out - before_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(m.w_in - before_in, -LR * _spread(m, ids, grads), atol=1e-6)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_packed_subword_step_matches_autograd(arch):
    k = 3
    m = _model(arch, k=k)
    p = PackedBatch.from_batch(_padded_batch(k), torch.tensor([6, 1, 2, 9, 9, 1, 7]))
    N = p.negatives.shape[0]
    w_out = m.w_out.detach().clone().requires_grad_(True)
    if arch == "skipgram":
        h = torch.stack([_mean_rows(m.w_in, m, w) for w in p.centres.tolist()]).requires_grad_(True)
        pos = (h[p.rows] * w_out[p.ctx]).sum(1)
        loss = F.softplus(-pos).sum() + (F.softplus(h @ w_out[p.negatives].t()) * p.counts.unsqueeze(1) * (k / N)).sum()
        ids, grads_of = p.centres, lambda g: g
    else:
        h = torch.stack([m.w_in[torch.cat([_rows_of(m, w) for w in p.ctx[p.rows == i].tolist()])].mean(0)
                         for i in range(len(p.centres))]).requires_grad_(True)
        not_self = (p.negatives.unsqueeze(0) != p.centres.unsqueeze(1)).float()
        loss = F.softplus(-(h * w_out[p.centres]).sum(1)).sum() + (
            F.softplus(h @ w_out[p.negatives].t()) * not_self * (k / N)).sum()
        ids, grads_of = p.ctx, lambda g: g[p.rows]
    loss.backward()
    before_in, before_out = m.w_in.clone(), m.w_out.clone()
    got, _ = m.step_packed(p, LR)
    assert torch.allclose(got, loss.detach(), atol=1e-5)
    assert torch.allclose(m.w_out - before_out, -LR * w_out.grad, atol=1e-6)
    assert torch.allclose(m.w_in - before_in, -LR * _spread(m, ids, grads_of(h.grad)), atol=1e-6)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_the_bound_only_shrinks_subword_steps_and_a_loose_one_changes_nothing(arch):
    p = PackedBatch.from_batch(_padded_batch(), torch.tensor([6, 1, 2, 9, 9, 1, 7]))
    plain, loose, tight = _model(arch), _model(arch), _model(arch)
    start = plain.w_in.clone()
    plain.step_packed(p, LR)
    loose.step_packed(p, LR, bound=RowBound(plain.w_in.shape[0], kappa=1e9))
    tight.step_packed(p, LR, bound=RowBound(plain.w_in.shape[0], kappa=1e-3))
    assert torch.allclose(plain.w_in, loose.w_in, atol=1e-6) and torch.allclose(plain.w_out, loose.w_out, atol=1e-6)
    moved, damped = (plain.w_in - start).norm(dim=1), (tight.w_in - start).norm(dim=1)
    assert (damped <= moved + 1e-6).all() and damped.sum() < 0.5 * moved.sum()


def test_subwords_need_negative_sampling_and_sane_settings():
    for kw in (dict(loss="hs"), dict(min_n=4, max_n=3), dict(buckets=0), dict(max_n=50)):
        with pytest.raises(W2VError):
            ModelConfig(subwords=True, **kw).validate()
    ModelConfig(subwords=False, min_n=4, max_n=3).validate()  # unused without subwords


# ------------------------------------------------------------------------------------------ unseen words


def _vectors() -> SubwordVectors:
    m = _model("skipgram")
    return SubwordVectors(WORDS, m.word_vectors().numpy(), np.arange(V, 0, -1), ngrams=m.ngram_table(),
                          settings=m.config)


def test_an_unseen_word_is_the_mean_of_its_ngram_rows_that_exist():
    wv = _vectors()
    assert "governmint" not in wv and wv.knows("governmint") and wv.built_from_pieces("governmint")
    b = subwords.bucket_rows("governmint", 3, 6, BUCKETS)
    used = np.isin(b, _model("skipgram").sub_buckets)
    assert used.any() and not used.all()  # some of its pieces were seen in training ("<gov"), some not ("int>")
    assert np.allclose(wv.get_vector("governmint"), wv.ngrams[b[used]].mean(0), atol=1e-6)
    table = wv.ngrams.copy()
    table[subwords.bucket_rows("qqqqzz", 3, 6, BUCKETS)] = 0.0  # as if no piece of it was ever seen
    none_seen = SubwordVectors(WORDS, wv.vectors, None, ngrams=table, settings=wv)
    assert not none_seen.knows("qqqqzz") and not none_seen.built_from_pieces("qqqqzz")
    with pytest.raises(W2VError):
        none_seen.get_vector("qqqqzz")
    assert not wv.built_from_pieces("city") and np.allclose(wv["city"], wv.vectors[1])
    assert wv.pieces("go") == ["<go", "<go>", "go>"]


def test_every_query_accepts_unseen_words():
    wv = _vectors()
    near = wv.most_similar("citys", topn=3)
    assert len(near) == 3 and "citys" not in [w for w, _ in near]
    assert wv.neighbours("citys", 3) == near
    assert -1.0 <= wv.similarity("citys", "city") <= 1.0
    assert len(wv.most_similar(["citys", "government"], ["the"], topn=2)) == 2
    assert wv.doesnt_match(["citys", "city", "cities", "東京"]) in ["citys", "city", "cities", "東京"]
    with pytest.raises(W2VError):
        wv.get_vector("new york")  # several words: still the usual message


def test_a_config_with_a_malformed_subword_field_is_refused_in_one_sentence():
    from w2v_core.store import validate_config
    from w2v_core.store.disk import FORMAT, FORMAT_VERSION

    ok = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": {"subwords": True, "buckets": 1000}}
    validate_config(ok)
    for bad in ({"subwords": "yes"}, {"buckets": 2.5}, {"min_n": "3"}):
        with pytest.raises(W2VError, match="model"):
            validate_config({**ok, "model": bad})
