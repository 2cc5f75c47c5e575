"""Vocabulary maths: the min_count cut, the size cap, word2vec's subsampling formula, the negative table."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_core.errors import W2VError
from w2v_core.vocab import Vocabulary

WORDS = ["b", "a", "c", "d", "e", "f"]
COUNTS = np.array([5, 9, 1, 5, 2, 40])


def test_min_count_drops_rare_words_and_ranks_by_count():
    v, remap = Vocabulary.build(WORDS, COUNTS, min_count=2)
    assert v.words == ["f", "a", "b", "d", "e"]  # count descending; ties keep their input order (b before d)
    assert v.counts.tolist() == [40, 9, 5, 5, 2]
    assert remap.tolist() == [2, 1, -1, 3, 4, 0]  # input id -> vocabulary id, -1 = dropped
    assert v.total == 61
    assert v.index["d"] == 3 and len(v) == 5


def test_max_size_keeps_the_most_frequent():
    v, remap = Vocabulary.build(WORDS, COUNTS, min_count=1, max_size=2)
    assert v.words == ["f", "a"]
    assert (remap >= 0).sum() == 2


def test_empty_vocabulary_says_what_to_do():
    with pytest.raises(W2VError, match="Lower min_count"):
        Vocabulary.build(WORDS, COUNTS, min_count=100)
    with pytest.raises(W2VError, match="min_count"):
        Vocabulary.build(WORDS, COUNTS, min_count=0)
    with pytest.raises(W2VError, match="maximum vocabulary size"):
        Vocabulary.build(WORDS, COUNTS, max_size=0)


def test_keep_probabilities_follow_word2vec():
    v, _ = Vocabulary.build(WORDS, COUNTS, min_count=1)
    sample = 0.05
    t = sample * v.total  # word2vec.c: sample * train_words
    want = np.minimum((np.sqrt(v.counts / t) + 1) * t / v.counts, 1.0)
    got = v.keep_probs(sample)
    assert np.allclose(got, want, rtol=1e-6)
    assert got[0] < 0.5  # the most frequent word is thinned out hard
    assert got[-1] == 1.0  # a rare word is always kept
    assert np.all(v.keep_probs(0) == 1.0)
    with pytest.raises(W2VError, match="sample"):
        v.keep_probs(-1e-3)


def test_keep_probabilities_match_gensim():
    """Same counts, same `sample`: gensim's stored keep probabilities (sample_int / 2**32) equal ours."""
    from gensim.models import Word2Vec

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    p = 1.0 / np.arange(1, 61)
    docs = [list(rng.choice(words, size=50, p=p / p.sum())) for _ in range(200)]
    m = Word2Vec(vector_size=4, min_count=2, sample=1e-2, workers=1)
    m.build_vocab(docs)
    uniq, counts = np.unique(np.concatenate(docs), return_counts=True)
    v, _ = Vocabulary.build(list(uniq), counts, min_count=2)
    ours = v.keep_probs(1e-2)
    theirs = np.array([m.wv.get_vecattr(w, "sample_int") / 2**32 for w in v.words])
    assert np.allclose(ours, theirs, atol=1e-6)
    assert ours.min() < 0.5


def test_negative_table_is_unigram_to_the_three_quarters():
    counts = np.array([1000, 300, 50, 7, 1])
    v, _ = Vocabulary.build([str(i) for i in range(5)], counts, min_count=1)
    size = 100_000
    table = v.negative_table(size=size)
    assert len(table) == size and table.dtype == np.int32
    share = np.bincount(table, minlength=5) / size
    want = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.allclose(share, want, atol=2 / size)
    assert np.allclose(v.noise_distribution(), want)
    # flatter than the raw unigram distribution: rare words are drawn more often than their frequency
    assert share[-1] > counts[-1] / counts.sum()


def test_every_word_can_be_drawn_as_a_negative():
    counts = np.array([10**9] + [1] * 50)
    v, _ = Vocabulary.build([str(i) for i in range(51)], counts, min_count=1)
    table = v.negative_table(size=1000)
    assert len(table) == 1000
    assert set(np.unique(table)) == set(range(51))


def test_default_table_size_grows_with_the_vocabulary():
    v, _ = Vocabulary.build(["a", "b"], np.array([3, 2]), min_count=1)
    assert len(v.negative_table()) == 1_000_000
