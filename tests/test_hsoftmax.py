"""Hierarchical softmax: the Huffman tree against word2vec.c's rules and gensim's tree, and every step against autograd.

As in test_models.py, the loss is written plainly with autograd on a tiny example, and the step's change to each table
must equal ``-lr * gradient`` (CBOW's input rows: word2vec's undivided spread of the hidden gradient). The bounded
step is checked against the bound written out one contribution at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from w2v_core import hs_loop, hsoftmax, kernels
from w2v_core.kernels import NORM_FLOOR, WRONG_SIDE, RowBound, group_contexts
from w2v_core.models import Batch, ModelConfig, PackedBatch, build_model

V, D, LR = 11, 6, 0.3
LR_CBOW = 2.5  # CBOW's context mean is shorter: its rows reach their bound at a higher rate
COUNTS = np.array([50, 30, 20, 12, 9, 7, 5, 4, 3, 2, 1])


# ------------------------------------------------------------------------------------------ the tree


def test_the_tree_follows_word2vec_c():
    """counts 5 4 3 2 1, merged by hand with CreateBinaryTree's two queues: (1+2) -> node 0, a tie (3 against node
    0's 3) goes to the inner node: (0+3) -> node 1, (4+5) -> node 2, root (1+2) -> node 3; the second of each pair
    takes code 1."""
    t = hsoftmax.huffman_tree([5, 4, 3, 2, 1])
    paths = [t.path(w) for w in range(5)]
    assert paths == [([3, 2], [1, 1]), ([3, 2], [1, 0]), ([3, 1], [0, 1]), ([3, 1, 0], [0, 0, 1]),
                     ([3, 1, 0], [0, 0, 0])]
    assert t.points[0, 2] == 4 and t.codes[0, 2] == 0  # padding: the unused row V - 1, code 0


def test_every_word_has_its_own_prefix_free_code_and_frequent_words_short_ones():
    t = hsoftmax.huffman_tree(COUNTS)
    codes = ["".join(map(str, t.path(w)[1])) for w in range(V)]
    assert len(set(codes)) == V
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)
    assert sum(2.0 ** -len(c) for c in codes) == pytest.approx(1.0)  # a full binary tree
    assert all(t.path(w)[0][0] == V - 2 for w in range(V))  # every path starts at the root
    assert list(t.lengths) == sorted(t.lengths)  # counts fall, paths grow
    with pytest.raises(ValueError):
        hsoftmax.huffman_tree([1, 2, 3])  # not sorted from the most frequent down


def _gensim_paths(words: list[str], counts) -> dict[str, tuple[list[int], list[int]]]:
    """gensim's tree for the same counts: the vocabulary of a Word2Vec(hs=1, negative=0) built from them."""
    from gensim.models import Word2Vec

    m = Word2Vec(vector_size=4, hs=1, negative=0, min_count=1)
    m.build_vocab_from_freq({w: int(c) for w, c in zip(words, counts)})
    wv = m.wv
    return {w: ([int(p) for p in wv.get_vecattr(w, "point")], [int(c) for c in wv.get_vecattr(w, "code")])
            for w in words}


def test_the_tree_is_gensims_when_no_counts_tie():
    """With no two counts (or sums) equal, gensim's heap and word2vec.c's two queues make the same merges: every
    word gets the same inner nodes and codes."""
    rng = np.random.default_rng(0)
    counts = np.sort(rng.choice(10 ** 9, size=300, replace=False) + 1)[::-1]
    words = [f"w{i}" for i in range(len(counts))]
    ours = hsoftmax.huffman_tree(counts)
    theirs = _gensim_paths(words, counts)
    assert all(ours.path(i) == theirs[w] for i, w in enumerate(words))


def test_on_real_counts_the_tree_is_as_short_as_gensims_and_differs_only_among_tied_words():
    """Real counts tie (hundreds of words seen exactly 5 times), and the two builders break ties differently (the heap
    takes the lower index, word2vec.c the inner node and the rarer leaf). Both trees are Huffman trees: the total
    code length over the corpus is the same, and a word whose path length differs always shares its count."""
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus
    from w2v_core.vocab import Vocabulary

    vocab, _ = Vocabulary.from_corpus(load_corpus(CorpusConfig(source="lee")), 5)
    ours = hsoftmax.huffman_tree(vocab.counts)
    theirs = _gensim_paths(vocab.words, vocab.counts)
    their_len = np.array([len(theirs[w][1]) for w in vocab.words])
    assert (vocab.counts * their_len).sum() == (vocab.counts * ours.lengths).sum()
    differ = np.flatnonzero(their_len != ours.lengths)
    shared = {c for c, n in zip(*np.unique(vocab.counts, return_counts=True)) if n > 1}
    assert all(vocab.counts[i] in shared for i in differ)
    assert len(differ) < 0.05 * len(vocab)


# ------------------------------------------------------------------------------------------ the steps


def _model(arch: str, seed: int = 0):
    m = build_model(V, ModelConfig(arch=arch, loss="hs", dim=D, min_count=1), COUNTS)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # random inner-node vectors too, so every term of the gradient is non-zero
        m.w_in.copy_(torch.randn(V, D, generator=g) * 0.5)
        m.w_out.copy_(torch.randn(V, D, generator=g) * 0.5)
    return m


def _batch() -> Batch:
    # 4 centres, window 2; centre 2 has no context; word 1 repeats (summed updates); centre 10 has the longest path
    ctx = torch.tensor([[3, 4, 1, 0], [1, 0, 5, 1], [0, 0, 0, 0], [7, 8, 9, 10]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], dtype=torch.float32)
    return Batch(torch.tensor([2, 10, 6, 1]), ctx, mask)


def _examples(batch: Batch, arch: str):
    """(input rows, centre) of every example: Skip-gram's context words one by one, CBOW's whole context."""
    out = []
    for i in range(len(batch.centres)):
        real = [int(c) for c, m in zip(batch.ctx[i], batch.mask[i]) if m > 0]
        if not real:
            continue
        out += [([c], int(batch.centres[i])) for c in real] if arch == "skipgram" else [(real, int(batch.centres[i]))]
    return out


def _autograd(m, batch: Batch, arch: str):
    """The loss written plainly, one example and one inner node at a time, and the expected change to each table."""
    tree = hsoftmax.huffman_tree(COUNTS)
    w_in = m.w_in.detach().clone().requires_grad_(True)
    w_out = m.w_out.detach().clone().requires_grad_(True)
    loss = torch.zeros(())
    hs = []
    for rows, centre in _examples(batch, arch):
        h = w_in[rows].mean(0) if arch == "cbow" else w_in[rows[0]]
        if arch == "cbow":
            h = h.detach().requires_grad_(True)
            hs.append((rows, h))
        for node, code in zip(*tree.path(centre)):
            # the turn's label is 1 - code: -log sigma(s) to go left (code 0), -log sigma(-s) to go right
            loss = loss + F.softplus((2 * code - 1) * (h @ w_out[node]))
    loss.backward()
    want_in = w_in.grad if arch == "skipgram" else torch.zeros(V, D)
    for rows, h in hs:  # word2vec adds the hidden vector's gradient to every context word undivided
        for r in rows:
            want_in[r] += h.grad
    return loss.detach(), -LR * want_in, -LR * w_out.grad


def _change(m, fn):
    before_in, before_out = m.w_in.clone(), m.w_out.clone()
    loss, n = fn()
    return m.w_in - before_in, m.w_out - before_out, loss, n


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_padded_hs_step_matches_autograd(arch):
    m, batch = _model(arch), _batch()
    loss, want_in, want_out = _autograd(m, batch, arch)
    d_in, d_out, got_loss, n = _change(m, lambda: m.step(batch, LR))
    assert torch.allclose(got_loss, loss, atol=1e-5)
    assert n.item() == (9 if arch == "skipgram" else 3)
    assert torch.allclose(d_in, want_in, atol=1e-6)
    assert torch.allclose(d_out, want_out, atol=1e-6)
    assert d_out[V - 1].abs().sum() == 0  # row V - 1 is no inner node: never touched


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_packed_hs_step_matches_autograd(arch):
    """The trainer's step (compiled, padded to the batch's most context words and longest path, masked) makes the
    same change."""
    m, batch = _model(arch), _batch()
    loss, want_in, want_out = _autograd(m, batch, arch)
    d_in, d_out, got_loss, n = _change(m, lambda: m.step_packed(PackedBatch.from_batch(batch), LR))
    assert torch.allclose(got_loss, loss, atol=1e-5)
    assert n.item() == (9 if arch == "skipgram" else 3)
    assert torch.allclose(d_in, want_in, atol=1e-6)
    assert torch.allclose(d_out, want_out, atol=1e-6)


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_bounded_hs_step_scales_each_rows_sum_by_its_load(arch):
    """The bound written out one (input, inner node) contribution at a time: a row's load sums the curvature
    sigma'(s) (at least WRONG_SIDE x |g|) x (|partner|^2 + NORM_FLOOR) of its contributions (CBOW: a context row
    gets 1 / n of its example's), and the row's summed step is scaled by min(1, kappa / (lr * load))."""
    lr, kappa = {"skipgram": 1.0, "cbow": LR_CBOW}[arch], 1.0
    m, batch = _model(arch), _batch()
    tree = hsoftmax.huffman_tree(COUNTS)
    w_in, w_out = m.w_in.clone(), m.w_out.clone()
    load_out, load_in = torch.zeros(V), torch.zeros(V)
    parts = []  # (input rows, h, [(node, g)])
    for rows, centre in _examples(batch, arch):
        h = w_in[rows].mean(0)
        turns, example_load = [], 0.0
        for node, code in zip(*tree.path(centre)):
            g = torch.sigmoid(h @ w_out[node]) - 1 + code
            curv = g.abs() * (1 - g.abs()).clamp(min=WRONG_SIDE)
            load_out[node] += curv * (h @ h + NORM_FLOOR)
            example_load = example_load + curv * (w_out[node] @ w_out[node] + NORM_FLOOR)
            turns.append((node, g))
        for r in rows:
            load_in[r] += example_load / len(rows)
        parts.append((rows, h, turns))
    s_out = (kappa / (lr * load_out)).clamp(max=1)
    s_in = (kappa / (lr * load_in)).clamp(max=1)
    want_out, want_in = torch.zeros(V, D), torch.zeros(V, D)
    for rows, h, turns in parts:
        grad_h = sum(g * w_out[node] for node, g in turns)
        for node, g in turns:
            want_out[node] += -lr * s_out[node] * g * h
        for r in rows:
            want_in[r] += -lr * s_in[r] * grad_h
    d_in, d_out, _, _ = _change(m, lambda: m.step_packed(PackedBatch.from_batch(batch), lr,
                                                          bound=RowBound(V, kappa=kappa)))
    touched = load_out > 0
    assert (s_out[touched] < 1).any() and (s_out[touched] == 1).any(), "some rows must be clipped, some not"
    assert (s_in[load_in > 0] < 1).any()
    assert torch.allclose(d_out, want_out, atol=1e-5)
    assert torch.allclose(d_in, want_in, atol=1e-5)


def test_the_hs_steps_compile_to_torchscript():
    for fn in (hsoftmax.hs_step, hsoftmax.run_hs_chunk):
        torch.jit.script(fn)
        assert kernels.scripted(fn) is not fn


@pytest.mark.parametrize("workers", [1, 2])
def test_grouped_cbow_hs_chunk_makes_the_same_updates_as_one_per_entry(workers):
    """The CPU path sums each context row's updates before adding them (as for negative sampling): same tables."""
    from w2v_core.windows import Stream, draw_radii, packed_windows

    V_, D_, batch = 40, 8, 64
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(V_, (3000,), generator=g)
    win = packed_windows(Stream.from_offsets(ids, torch.tensor([0, 1000, 3000])), draw_radii(len(ids), 5, g), 5)
    cuts = win.starts[::batch].tolist() + [int(win.ctx.shape[0])]
    starts = win.starts[:-1] - win.starts.index_select(0, torch.arange(len(win)).div(batch, rounding_mode="floor")
                                                       .mul(batch))
    counts = np.sort(np.bincount(ids.numpy(), minlength=V_))[::-1].copy() + 1
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items()})
    chunk = kernels.Examples(win.centres, win.ctx, win.rows % batch, starts, win.counts.float(), win.ctx.new_zeros(0))
    schedule = kernels.Schedule(batch, cuts, 1.0, 0.5, 0.0, 1)
    tables = (torch.randn(V_, D_, generator=g) * 0.5, torch.randn(V_, D_, generator=g) * 0.5)
    out = []
    for groups in ((kernels.no_groups(win.ctx), [0]),
                   group_contexts(win.rows % batch, win.rows // batch, win.ctx, V_, cuts)):
        w_in, w_out = (t.clone() for t in tables)
        bound = RowBound(V_, workers=workers)
        loss, n = kernels.scripted(hsoftmax.run_hs_chunk)(False, kernels.Tables(w_in, w_out), chunk, path, schedule,
                                                          bound.for_kernel(), *groups)
        out.append((w_in, w_out, loss, bound.load))
    assert not torch.equal(out[0][0], tables[0])
    for a, b in zip(*out):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_every_words_probability_sums_to_one():
    m = _model("skipgram")
    p = hsoftmax.log_probs(m, m.w_in[3]).exp()
    assert p.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (p > 0).all()


def test_an_untrained_model_pays_ln2_per_turn():
    m = build_model(V, ModelConfig(loss="hs", dim=D, min_count=1), COUNTS)
    m.reset_parameters(torch.Generator().manual_seed(0))  # inner nodes start at zero, as word2vec's syn1
    loss, n = m.loss(_batch())
    tree = hsoftmax.huffman_tree(COUNTS)
    turns = sum(len(tree.path(c)[0]) for _, c in _examples(_batch(), "skipgram"))
    assert loss.item() == pytest.approx(turns * np.log(2), rel=1e-5)
    assert hsoftmax.untrained_loss(tree.lengths, COUNTS) == pytest.approx(
        np.log(2) * (COUNTS * tree.lengths).sum() / COUNTS.sum())


def test_a_model_without_counts_cannot_have_a_tree():
    with pytest.raises(ValueError, match="counts"):
        build_model(V, ModelConfig(loss="hs", dim=D))


@pytest.mark.parametrize("arch", ["cbow", "skipgram"])
@pytest.mark.parametrize("kappa,workers,leaf_order", [(0.0, 1, True), (1.0, 1, True), (1.0, 2, True),
                                                      (1.0, 1, False)])
def test_sparse_hs_step_makes_the_same_updates_as_the_dense_one(arch, kappa, workers, leaf_order):
    """A CPU runs its batches as sparse products (cbow_tree_step; Skip-gram's over its (centre, context) pairs): the
    same tables, losses and loads as hs_step, with each batch's centres in the leaves' order (as the trainer takes
    them) or in any other."""
    from w2v_core.windows import Stream, draw_radii, packed_windows

    V_, D_, batch = 60, 8, 64
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(V_, (4000,), generator=g)
    counts = np.sort(np.bincount(ids.numpy(), minlength=V_))[::-1].copy() + 1
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items()})
    stream = Stream.from_offsets(ids, torch.tensor([0, 1, 1500, 4000]))  # a one-word document has no context
    order = None
    if leaf_order:
        ranks = hsoftmax.leaf_ranks(path.codes, path.lengths)
    radii = draw_radii(len(ids), 5, g)
    if leaf_order and arch == "cbow":
        order = hsoftmax.leaf_order(stream, batch, ranks)
        assert 0 not in order.tolist()  # the one-word document's centre
    elif leaf_order:
        order = hsoftmax.chunk_order(radii, stream.ids, g, batch, ranks)
    win = packed_windows(stream, radii, 5, order=order)
    cuts = win.starts[::batch].tolist() + [int(win.ctx.shape[0])]
    batch_of = win.rows // batch
    starts = win.starts[:-1] - win.starts.index_select(0, torch.arange(len(win)).div(batch, rounding_mode="floor")
                                                       .mul(batch))
    chunk = kernels.Examples(win.centres, win.ctx, win.rows % batch, starts, win.counts.float(), win.ctx.new_zeros(0))
    lr = 1.0 if kappa > 0 else 0.05  # word2vec's plain summed step diverges at the bounded one's rate
    schedule = kernels.Schedule(batch, cuts, lr, lr / 2, 0.0, 1)
    tables = (torch.randn(V_, D_, generator=g) * 0.5, torch.randn(V_, D_, generator=g) * 0.5)
    out = []
    for sparse in (False, True):  # Skip-gram's sparse step groups its pairs by context row, the dense one not at all
        groups = hsoftmax.step_groups(arch, sparse, win.rows % batch, batch_of, win.ctx, V_, cuts)
        assert (groups[0].rows.shape[0] > 0) == (arch == "cbow" or sparse)
        w_in, w_out = (t.clone() for t in tables)
        bound = RowBound(V_, workers=workers, kappa=kappa) if kappa > 0 else RowBound.off()
        loss, n = kernels.scripted(hsoftmax.run_hs_chunk)(arch == "skipgram", kernels.Tables(w_in, w_out), chunk, path,
                                                          schedule, bound.for_kernel(), *groups, sparse)
        out.append((w_in, w_out, loss, n, bound.load))
    if hs_loop.available():  # the trainer's CPU loop (numba): the sparse step's updates, turn by turn
        w_in, w_out = (t.clone() for t in tables)
        bound = RowBound(V_, workers=workers, kappa=kappa) if kappa > 0 else RowBound.off()
        loss, n = hs_loop.run_chunk(arch == "skipgram", kernels.Tables(w_in, w_out), chunk, path, schedule,
                                    bound.for_kernel())
        out.append((w_in, w_out, loss, n, bound.load))
    assert not torch.equal(out[1][1], tables[1]) and not torch.equal(out[1][0], tables[0])
    assert torch.isfinite(out[1][0]).all() and torch.isfinite(out[1][2])
    for other in out[1:]:
        for a, b in zip(out[0], other):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("ranks", [True, False])
def test_skipgram_batches_stay_a_random_draw_of_the_words(ranks):
    """Skip-gram's order (chunk_order) sorts within a batch (leaf order) or by window radius only: every batch's
    centres stay a random draw of the chunk, frequent and rare words mixed, never a batch of the few words with the
    shortest paths (a sort by path length gave batches of 'the' and 'of', whose summed steps the bound cut)."""
    from w2v_core.windows import draw_radii

    V_, batch = 500, 256
    g = torch.Generator().manual_seed(5)
    counts = (20_000 / np.arange(1, V_ + 1)).astype(np.int64) + 1  # Zipf's law
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items()})
    ids = torch.multinomial(torch.tensor(counts, dtype=torch.float), 64 * batch, replacement=True, generator=g)
    radii = draw_radii(len(ids), 5, g)
    rk = hsoftmax.leaf_ranks(path.codes, path.lengths) if ranks else None
    order = hsoftmax.chunk_order(radii, ids, g, batch, rk)
    assert sorted(order.tolist()) == list(range(len(ids)))
    lens = path.lengths.index_select(0, ids.index_select(0, order)).float().view(-1, batch)
    overall = float(lens.mean())
    assert (lens.mean(1) - overall).abs().max() < 0.1 * overall  # every batch's mean path: about the chunk's
    assert int((ids.index_select(0, order).view(-1, batch) == 0).sum(1).min()) > 0  # the top word in every batch


@pytest.mark.parametrize("sort", [True, False])
def test_skipgrams_turns_listed_per_word_are_the_plain_listing(sort):
    """Skip-gram's pairs list their turns per segment (one word's pairs side by side at one depth,
    hsoftmax._turns_by_word): the very listing of the plain one (_turns), turn for turn, with the same runs, whether
    the batch's words are in the leaves' order (as the trainer takes them) or not."""
    g = torch.Generator().manual_seed(7)
    counts = (5_000 / np.arange(1, 301)).astype(np.int64) + 1
    path = hsoftmax.Path(**{k[3:]: v for k, v in hsoftmax.tree_buffers(hsoftmax.huffman_tree(counts)).items()})
    words = torch.multinomial(torch.tensor(counts, dtype=torch.float), 400, replacement=True, generator=g)
    if sort:
        words = words.index_select(0, torch.sort(hsoftmax.leaf_ranks(path.codes, path.lengths)[words])[1])
    pairs = words.repeat_interleave(torch.randint(1, 11, (400,), generator=g))  # each centre's pairs side by side
    plain = hsoftmax._turns(pairs, path.lengths.index_select(0, pairs), path)
    by_word = hsoftmax._turns_by_word(pairs, path)
    assert plain[0].shape[0] == int(path.lengths.index_select(0, pairs).sum())
    for a, b in zip(plain, by_word):
        assert torch.equal(a, b)
    touched = int(torch.unique(plain[5]).shape[0])
    assert (plain[5].shape[0] == touched) == sort  # in the leaves' order each inner node's turns are one run


def test_leaf_ranks_put_the_words_under_each_inner_node_side_by_side():
    tree = hsoftmax.huffman_tree(COUNTS)
    bufs = hsoftmax.tree_buffers(tree)
    ranks = hsoftmax.leaf_ranks(bufs["hs_codes"], bufs["hs_lengths"]).numpy()
    assert sorted(ranks.tolist()) == list(range(V))
    for node in range(V - 1):
        under = sorted(ranks[w] for w in range(V) if node in tree.path(w)[0])
        assert under == list(range(under[0], under[0] + len(under)))


def test_a_tiny_corpus_is_not_called_diverged_for_its_first_batchs_long_paths():
    """A one-chunk corpus of ~2,500 tokens reports its first epoch's loss from its first batch, measured before any
    step: ln 2 x that batch's own path lengths, which may be above the corpus's mean (3.352 against 3.335). That is
    no blow-up (it was retried three times, then stopped as 'diverged'); a loss far above still is."""
    from conftest import make_texts

    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.divergence import WORSE_HS, DivergenceWatch
    from w2v_core.training import TrainConfig, Trainer

    corpus = from_texts(make_texts(60, seed=3), name="t", config=CorpusConfig(source="t"))
    r = Trainer(corpus, ModelConfig(arch="skipgram", loss="hs", dim=12, window=3, min_count=1, sample=1e-2),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    assert r.summary["lr_retries"] == 0
    assert r.summary["final_loss"] < r.summary["untrained_loss"]
    watch = DivergenceWatch(3.335, WORSE_HS)
    assert watch.epoch_problem(3.352, None) is None and watch.epoch_problem(3.6, None) == 3.6
