"""w2v_core.learn: the Learn page's numbers come from the training code itself and say what a student sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_texts
from w2v_core import learn, store
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.models import Batch, ModelConfig
from w2v_core.training import TrainConfig, Trainer
from w2v_core.windows import Stream, cbow_examples, context_matrix, draw_radii, skipgram_pairs, subsample

COMBOS = [("skipgram", "negative"), ("skipgram", "softmax"), ("cbow", "negative"), ("cbow", "softmax")]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("learn-corpus") / "animals.txt"
    p.write_text("\n".join(make_texts(60, seed=3)), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    """One small saved model per architecture and output layer, with the Trainer's in-memory result."""
    corpus = load_corpus(CorpusConfig(source=str(corpus_file)))
    root = tmp_path_factory.mktemp("learn-models")
    out = {}
    for arch, loss in COMBOS:
        r = Trainer(corpus, ModelConfig(arch=arch, loss=loss, dim=12, window=3, min_count=1, sample=1e-2, negative=4),
                    TrainConfig(epochs=2, threads=1, seed=1)).train()
        out[(arch, loss)] = (r, r.save(root / f"{arch}-{loss}"))
    return out


def test_rebuilt_model_is_the_trained_module(trained):
    """The page's model computes exactly what the Trainer's model computes (same class, same tensors)."""
    for (arch, loss), (r, path) in trained.items():
        lm = learn.load_training_model(path)
        assert type(lm.model) is type(r.model)
        assert lm.config == r.model_config
        assert lm.vocab.words == r.vocab.words and (lm.vocab.counts == r.vocab.counts).all()
        assert torch.equal(lm.model.w_in, r.model.w_in) and torch.equal(lm.model.w_out, r.model.w_out)
        if loss == "softmax":
            assert torch.equal(lm.model.out_bias, r.model.out_bias)
        assert lm.lr == r.train_config.lr
        g = torch.Generator().manual_seed(0)
        V = len(lm.vocab)
        b = Batch(torch.randint(V, (5,), generator=g), torch.randint(V, (5, 6), generator=g),
                  torch.ones(5, 6), torch.randint(V, (5, 4), generator=g) if loss == "negative" else None)
        assert torch.allclose(lm.model.loss(b)[0], r.model.loss(b)[0])
        # the negative table is the Trainer's
        assert np.array_equal(lm.negative_table(), r.vocab.negative_table())


def test_model_corpus_is_reloaded_from_its_config(trained, corpus_file):
    _, path = trained[("skipgram", "negative")]
    lm = learn.load_training_model(path)
    corpus = learn.load_model_corpus(lm)
    direct = load_corpus(CorpusConfig(source=str(corpus_file)))
    assert np.array_equal(corpus.ids, direct.ids)
    ps = learn.passages(corpus, lm.vocab, n=5, length=12)
    assert 1 <= len(ps) <= 5 and all(len(p) <= 12 for p in ps)
    docs = [corpus.doc_tokens(i)[:12] for i in range(corpus.n_docs)]
    assert all(p in docs for p in ps)


def test_missing_corpus_and_imported_vectors_explain_themselves(tiny_model, tmp_path):
    lm = learn.load_training_model(tiny_model)  # its corpus 'tiny' was in-memory text
    with pytest.raises(W2VError, match="cannot be re-read"):
        learn.load_model_corpus(lm)
    src = tmp_path / "v.txt"
    src.write_text("2 3\ncat 1 0 0\ndog 0 1 0\n", encoding="utf-8")
    imported = store.import_vectors(src, root=tmp_path / "models")
    with pytest.raises(W2VError, match="imported"):
        learn.load_training_model(imported)
    assert not store.read_record(imported).trained_here  # so the Learn page does not offer it


def test_one_hot_times_w_in_is_the_row(trained):
    lm = learn.load_training_model(trained[("cbow", "negative")][1])
    i = lm.vocab.index["paris"]
    x, prod, row = learn.one_hot_product(lm.model, i)
    assert x.shape == (1, lm.V) and x.sum() == 1 and x[0, i] == 1
    assert torch.equal(prod, row) and torch.equal(row, lm.model.w_in[i])


def test_window_pairs_for_a_known_sentence():
    """No subsampling, fixed window 1: the pairs are exactly the neighbours, and match windows.py."""
    from w2v_core.vocab import Vocabulary

    vocab = Vocabulary(["the", "cat", "eats", "grass"], np.array([10, 3, 2, 1]))
    toks = ["the", "cat", "eats", "zebra", "the", "grass"]  # 'zebra' is not in the vocabulary
    d = learn.window_demo(toks, vocab, window=1, sample=0.0, seed=0, dynamic=False)
    assert d.ids == [0, 1, 2, None, 0, 3]
    assert d.token_of == [0, 1, 2, 4, 5]  # the out-of-vocabulary token is removed before windows
    w = vocab.words
    assert [(w[a], w[b]) for a, b in d.skipgram] == [
        ("the", "cat"), ("cat", "the"), ("cat", "eats"), ("eats", "cat"), ("eats", "the"),
        ("the", "eats"), ("the", "grass"), ("grass", "the")]
    assert [([w[c] for c in ctx], w[t]) for ctx, t in d.cbow][:2] == [(["cat"], "the"), (["the", "eats"], "cat")]
    assert d.context_of(1) == [0, 2]


def test_window_demo_draws_like_the_trainer(trained):
    """Same seed, same order of draws (subsampling then radii) as an epoch chunk: same pairs as windows.py."""
    r, path = trained[("skipgram", "softmax")]
    lm = learn.load_training_model(path)
    toks = "the cat eats the grass and paris is the capital of france the dog runs".split()
    for seed in range(5):
        d = learn.window_demo(toks, lm.vocab, window=3, sample=0.05, seed=seed)
        g = torch.Generator().manual_seed(seed)
        ids = torch.tensor(learn.encode(toks, lm.vocab))
        kp = torch.from_numpy(lm.vocab.keep_probs(0.05))
        kept, koffs, mask = subsample(ids, torch.tensor([0, len(ids)]), kp, g)
        s = Stream.from_offsets(kept, koffs)
        radii = draw_radii(len(s), 3, g)
        a, b = skipgram_pairs(s, radii, 3)
        assert d.skipgram == list(zip(a.tolist(), b.tolist()))
        assert d.cbow == cbow_examples(s, radii, 3)
        assert d.kept == mask.tolist()
        ctx, valid = context_matrix(s, torch.arange(len(s)), radii, 3)
        assert torch.equal(d.ctx, ctx) and torch.equal(d.valid, valid)
        # only words with keep probability < 1 are ever dropped
        assert all(k or p < 1 for k, p in zip(d.kept, d.keep_prob))
        assert all(1 <= int(x) <= 3 for x in d.radii)


def test_subsampling_drops_frequent_words_more():
    from w2v_core.vocab import Vocabulary

    vocab = Vocabulary(["the", "rare"], np.array([100_000, 50]))
    d = learn.window_demo(["the", "rare"] * 200, vocab, window=2, sample=1e-3, seed=1)
    kept_the = sum(k for t, k in zip(d.tokens, d.kept) if t == "the") / 200
    kept_rare = sum(k for t, k in zip(d.tokens, d.kept) if t == "rare") / 200
    assert d.keep_prob[0] < 0.2 and d.keep_prob[1] == 1.0
    assert kept_rare == 1.0 and kept_the < 0.3


def _example(lm, arch, seed=0):
    toks = "madrid is the capital of spain and madrid is a city in spain".split()
    d = learn.window_demo(toks, lm.vocab, window=3, sample=0.0, seed=seed)
    p = 2
    negs = learn.draw_negatives(lm, lm.config.negative, seed) if lm.config.loss == "negative" else None
    return d, p, learn.example_batch(d, p, arch, d.context_of(p)[0], negs)


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_forward_pass_numbers(trained, arch, loss):
    lm = learn.load_training_model(trained[(arch, loss)][1])
    d, p, b = _example(lm, arch)
    f = learn.forward(lm.model, b)
    assert abs(f.probs.sum() - 1) < 1e-9 and f.probs.shape == (lm.V,)
    assert 1 <= f.target_rank <= lm.V and f.top(10)[0][1] >= f.target_prob
    if arch == "cbow":
        ctx = [int(c) for c, ok in zip(d.ctx[p].tolist(), d.valid[p].tolist()) if ok]
        assert f.inputs == ctx and f.target == int(d.stream_ids[p])
        assert np.allclose(f.hidden, lm.model.w_in[ctx].mean(0).numpy(), atol=1e-6)
    else:
        assert f.inputs == [int(d.stream_ids[p])] and np.allclose(f.hidden, lm.model.w_in[f.inputs[0]].numpy())
    if loss == "negative":
        assert len(f.ns_ids) == 1 + lm.config.negative and f.ns_ids[0] == f.target
        # the per-word terms add up to the model's own loss
        assert f.ns_terms.sum() == pytest.approx(f.loss, rel=1e-5)
        assert np.allclose(f.ns_sigmoid, 1 / (1 + np.exp(-f.ns_scores)))
    else:
        assert f.loss == pytest.approx(-np.log(f.target_prob), rel=1e-5)


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_gradient_step_lowers_the_loss_on_a_copy(trained, arch, loss):
    lm = learn.load_training_model(trained[(arch, loss)][1])
    w_in, w_out = lm.model.w_in.clone(), lm.model.w_out.clone()
    _, _, b = _example(lm, arch)
    res = learn.sgd_step(lm.model, b, lm.lr)
    assert res.loss_after < res.loss_before
    assert res.after.target_prob > res.before.target_prob
    assert torch.equal(lm.model.w_in, w_in) and torch.equal(lm.model.w_out, w_out)  # the real model is untouched
    assert not torch.equal(res.model_after.w_out, w_out)
    assert res.roles[: len(res.before.inputs)] == ["input"] * len(res.before.inputs)
    assert "true word" in res.roles
    rows = res.cosine_rows()
    true_row = rows[0]
    assert true_row["role"] == "true word"
    assert true_row["cos(h, out) after"] > true_row["cos(h, out) before"]  # h and the true word move together
    pb, pa = learn.pca_2d(np.vstack([res.before.hidden, res.out_before]), np.vstack([res.after.hidden, res.out_after]))
    assert pb.shape == pa.shape == (1 + len(res.words), 2)


def test_bad_learning_rate_and_example():
    from w2v_core.vocab import Vocabulary

    vocab = Vocabulary(["a", "b"], np.array([2, 2]))
    d = learn.window_demo(["a", "b"], vocab, window=1, sample=0, seed=0)
    with pytest.raises(W2VError):
        learn.example_batch(d, 0, "skipgram", target=0)  # a word is not its own context
    with pytest.raises(W2VError):
        learn.window_demo(["a"], vocab, window=0, sample=0)


def test_similarities_one_hot_bow_tfidf_embedding(trained, corpus_file):
    lm = learn.load_training_model(trained[("skipgram", "negative")][1])
    corpus = learn.load_model_corpus(lm)
    spaces = learn.word_spaces(corpus, lm)
    rows = learn.similarity_rows(spaces, lm.vocab, [("paris", "paris"), ("paris", "france"), ("paris", "nope")])
    assert len(rows) == 2  # unknown words are skipped
    same, diff = rows
    assert same["one-hot"] == 1.0 and same["bag of words"] == pytest.approx(1.0) and same["embedding"] == pytest.approx(1.0)
    assert diff["one-hot"] == 0.0
    # bag of words by hand: counts of each word per document
    docs = [corpus.doc_tokens(i) for i in range(corpus.n_docs)]
    a = np.array([d.count("paris") for d in docs], float)
    b = np.array([d.count("france") for d in docs], float)
    assert diff["bag of words"] == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert 0 <= diff["TF-IDF"] <= 1
    pairs = learn.suggest_pairs(lm)
    assert pairs and all(a in lm.vocab.index and b in lm.vocab.index and a != b for a, b in pairs)


def test_train_tiny_model(corpus_file, tmp_path):
    path = learn.train_tiny_model(tmp_path / "models", source=str(corpus_file), epochs=1)
    lm = learn.load_training_model(path)
    assert lm.config.arch == "skipgram" and lm.V > 10
    assert learn.load_model_corpus(lm).n_tokens > 0
    assert [m.path for m in store.list_records(tmp_path / "models") if m.trained_here] == [path]


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_hs_path_and_step_come_from_the_models_tree(corpus_file, tmp_path, arch):
    """A hierarchical-softmax model: the Learn page's path is the model's tree (root first, the code bits), its
    turn probabilities multiply to p(word | h) = exp(-loss), and one step on a copy makes every turn likelier."""
    from w2v_core import hsoftmax, learn_hs

    corpus = load_corpus(CorpusConfig(source=str(corpus_file)))
    r = Trainer(corpus, ModelConfig(arch=arch, loss="hs", dim=12, window=3, min_count=1, sample=1e-2),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    lm = learn.load_training_model(r.save(tmp_path / "hs"))
    assert torch.equal(lm.model.w_out, r.model.w_out)
    demo = learn.window_demo(lm.words[:8], lm.vocab, 3, 0.0, seed=0)
    p = 3
    batch = learn.example_batch(demo, p, arch, demo.context_of(p)[0])
    ps = learn_hs.path_scores(lm.model, batch)
    tree = hsoftmax.huffman_tree(lm.vocab.counts)
    assert ([t.node for t in ps.turns], [t.code for t in ps.turns]) == tree.path(ps.target)
    assert ps.turns[0].node == lm.V - 2 and ps.turns[0].words_below == lm.V
    assert ps.prob == pytest.approx(np.exp(-ps.loss), rel=1e-4)
    before = lm.model.w_out.clone()
    step = learn_hs.hs_step(lm.model, batch, 0.5)
    assert torch.equal(lm.model.w_out, before)  # the page's model is untouched
    assert step.after.loss < step.before.loss and (step.node_moves > 0).all()
