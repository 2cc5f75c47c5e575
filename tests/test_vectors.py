"""WordVectors: the queries a user asks, checked against gensim's KeyedVectors on the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v_core.errors import W2VError
from w2v_core.vectors import WordVectors


@pytest.fixture
def wv() -> WordVectors:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)] + ["king", "queen", "man", "woman", "paris", "france"]
    return WordVectors(words, rng.normal(size=(len(words), 20)).astype(np.float32), np.arange(len(words))[::-1])


def _gensim(wv: WordVectors) -> KeyedVectors:
    kv = KeyedVectors(wv.dim)
    kv.add_vectors(wv.words, wv.vectors)
    return kv


def test_most_similar_matches_gensim(wv):
    ours = wv.most_similar("king", topn=10)
    theirs = _gensim(wv).most_similar("king", topn=10)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    assert "king" not in [w for w, _ in ours]


def test_analogy_3cosadd_and_3cosmul_match_gensim(wv):
    kv = _gensim(wv)
    add = wv.most_similar(["king", "woman"], ["man"], topn=5)
    assert [w for w, _ in add] == [w for w, _ in kv.most_similar(positive=["king", "woman"], negative=["man"], topn=5)]
    mul = wv.most_similar(["king", "woman"], ["man"], topn=5, method="3cosmul")
    ref = kv.most_similar_cosmul(positive=["king", "woman"], negative=["man"], topn=5)
    assert [w for w, _ in mul] == [w for w, _ in ref]
    np.testing.assert_allclose([s for _, s in mul], [s for _, s in ref], rtol=1e-4)


def test_analogy_finds_planted_relation():
    rng = np.random.default_rng(1)
    base = {w: rng.normal(size=30) for w in ["man", "king", "paris", "x1", "x2", "x3", "x4"]}
    gender = rng.normal(size=30)
    base["woman"] = base["man"] + gender
    base["queen"] = base["king"] + gender
    wv = WordVectors(list(base), np.array(list(base.values()), dtype=np.float32))
    assert wv.most_similar(["king", "woman"], ["man"], topn=1)[0][0] == "queen"
    assert wv.most_similar(["king", "woman"], ["man"], topn=1, method="3cosmul")[0][0] == "queen"


def test_similarity_and_doesnt_match(wv):
    kv = _gensim(wv)
    assert wv.similarity("king", "queen") == pytest.approx(float(kv.similarity("king", "queen")), abs=1e-5)
    assert wv.similarity("king", "king") == pytest.approx(1.0, abs=1e-5)
    words = ["king", "queen", "man", "paris"]
    assert wv.doesnt_match(words) == kv.doesnt_match(words)
    with pytest.raises(W2VError, match="three"):
        wv.doesnt_match(["king", "queen"])


def test_unknown_word_suggests_close_spellings(wv):
    with pytest.raises(W2VError) as e:
        wv.most_similar("kinng")
    assert "not in the vocabulary" in str(e.value) and "king" in str(e.value)
    with pytest.raises(W2VError, match="Type a word"):
        wv.get_index("  ")
    assert "king" in wv and "kinng" not in wv


def test_word2vec_text_and_binary_round_trip_with_gensim(wv, tmp_path):
    for binary in (False, True):
        p = tmp_path / f"v{int(binary)}"
        wv.save_word2vec_format(p, binary=binary)
        kv = KeyedVectors.load_word2vec_format(str(p), binary=binary)
        assert kv.index_to_key == wv.words
        np.testing.assert_allclose(kv.vectors, wv.vectors, atol=1e-5)
        back = WordVectors.load_word2vec_format(p)  # format guessed from the bytes
        assert back.words == wv.words
        np.testing.assert_allclose(back.vectors, wv.vectors, atol=1e-5)


def test_glove_file_without_header(tmp_path):
    p = tmp_path / "glove.txt"
    p.write_text("the 0.1 0.2 0.3\nof -0.1 0.5 0.0\nand 0.3 0.3 0.3\n")
    g = WordVectors.load_word2vec_format(p)
    assert g.words == ["the", "of", "and"] and g.dim == 3


@pytest.mark.parametrize("content,msg", [
    (b"", "empty"),
    (b"2 3\nthe 0.1 0.2\n", "numbers where"),
    (b"hello world this is not vectors\n", "not a word2vec"),
])
def test_bad_vector_files_are_explained(tmp_path, content, msg):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(W2VError, match=msg):
        WordVectors.load_word2vec_format(p)


def test_projector_export(wv, tmp_path):
    vec_p, meta_p = wv.save_projector(tmp_path / "proj")
    rows = vec_p.read_text().splitlines()
    meta = meta_p.read_text().splitlines()
    assert len(rows) == len(wv) and len(rows[0].split("\t")) == wv.dim
    assert meta[0] == "word\tcount" and len(meta) == len(wv) + 1 and meta[1].split("\t")[0] == wv.words[0]


def test_neighbours_cosine_and_euclidean():
    # "big" points the same way as "small" but is 10x longer: cosine calls them twins, Euclidean does not
    words = ["small", "big", "near", "other"]
    X = np.array([[1.0, 0.0], [10.0, 0.0], [0.9, 0.5], [0.0, 1.0]], dtype=np.float32)
    wv = WordVectors(words, X)
    cos = wv.neighbours("small", 3)
    assert [w for w, _ in cos] == ["big", "near", "other"] and cos[0][1] == pytest.approx(1.0)
    euc = wv.neighbours("small", 3, metric="euclidean")
    assert [w for w, _ in euc] == ["near", "other", "big"]
    assert [d for _, d in euc] == pytest.approx([np.hypot(0.1, 0.5), np.sqrt(2), 9.0], rel=1e-5)
    assert wv.neighbours(0, 1) == cos[:1]  # a row number is the same query as its word
    assert wv.neighbours(np.array([0.0, 2.0]), 1)[0][0] == "other"  # a vector is not excluded from anything
    with pytest.raises(W2VError, match="cosine or euclidean"):
        wv.neighbours("small", 3, metric="manhattan")
    with pytest.raises(W2VError, match="Did you mean"):
        wv.neighbours("smal")


def test_neighbours_agree_with_most_similar(wv):
    ours, theirs = wv.neighbours("king", 5), wv.most_similar("king", topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)


def test_neighbour_rank_is_the_position_in_the_neighbours_list(wv):
    listed = [w for w, _ in wv.most_similar("king", topn=50)]
    assert [wv.neighbour_rank("king", w) for w in listed] == list(range(1, 51))
    assert wv.neighbour_rank("king", listed[-1], limit=10) is None
    with pytest.raises(W2VError):
        wv.neighbour_rank("king", "nosuchword")
