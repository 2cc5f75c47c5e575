"""Benchmarks (w2v_core.evaluation) give gensim's figures on the same vectors."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

from w2v_core.data.bundled import data_path
from w2v_core.errors import W2VError
from w2v_core.evaluation import (disagreements, evaluate, evaluate_analogies, evaluate_pairs, load_analogies,
                                 load_pairs, without_tables)
from w2v_core.vectors import WordVectors

DIM = 24


@pytest.fixture(scope="module")
def vectors():
    """Seeded vectors for most benchmark words, with real structure so the scores are not all noise.

    Word pairs: the second word of a pair is pulled towards the first in proportion to the human score.
    Analogies: in each section, the second word of a question = first word + a section offset (+ noise).
    About a tenth of the words are left out, and a few words appear in two spellings ("Paris", "paris").
    """
    rng = np.random.default_rng(0)
    words: dict[str, np.ndarray] = {}

    def vec(w):
        if w not in words:
            words[w] = rng.normal(size=DIM)
        return words[w]

    for name, qs in load_analogies():
        offset = rng.normal(size=DIM) * 1.5
        for a, b, _c, _d in qs:
            va = vec(a.lower())
            if b.lower() not in words:
                words[b.lower()] = va + offset + rng.normal(size=DIM) * 0.4
    for name in ("wordsim353", "simlex999"):
        for a, b, s in load_pairs(name):
            va = vec(a.lower())
            if b.lower() not in words:
                words[b.lower()] = va * (s / 10) + rng.normal(size=DIM) * (1 - s / 10 + 0.2)
    vocab = sorted(words)
    keep = [w for w in vocab if rng.random() > 0.1]
    rng.shuffle(keep)  # frequency order is arbitrary here; restrict_vocab cuts the first rows
    mat = np.stack([words[w] for w in keep]).astype(np.float32)
    # case variants: a capitalised twin of "paris" AFTER it (so "paris" wins), one before "london"
    extra_words, extra_rows = [], []
    for w in ("paris", "london", "france"):
        if w in keep:
            extra_words.append(w.capitalize())
            extra_rows.append(rng.normal(size=DIM).astype(np.float32))
    words_all = keep[:50] + extra_words[1:2] + keep[50:] + extra_words[:1] + extra_words[2:]
    rows = {w: mat[i] for i, w in enumerate(keep)}
    rows.update(dict(zip(extra_words, extra_rows)))
    return WordVectors(words_all, np.stack([rows[w] for w in words_all]))


def _gensim(v):
    kv = KeyedVectors(v.vectors.shape[1])
    kv.add_vectors(v.words, v.vectors)
    return kv


@pytest.mark.parametrize("name,fname", [("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")])
@pytest.mark.parametrize("restrict", [300_000, 400])
def test_pairs_match_gensim(vectors, name, fname, restrict):
    ours = evaluate_pairs(vectors, name, restrict_vocab=restrict)
    pearson, spearman, oov = _gensim(vectors).evaluate_word_pairs(data_path(fname), restrict_vocab=restrict)
    assert ours["spearman"] == pytest.approx(spearman.statistic, abs=1e-4)
    assert ours["pearson"] == pytest.approx(pearson.statistic, abs=1e-4)
    assert ours["oov_ratio"] * 100 == pytest.approx(oov, abs=1e-6)
    assert ours["total"] == len(load_pairs(name)) and 0 < ours["pairs"] < ours["total"]
    assert len(ours["table"]) == ours["pairs"]
    if restrict == 300_000:
        assert ours["spearman"] > 0.3  # the structure built in is found


@pytest.mark.parametrize("restrict", [300_000, 600])
def test_analogies_match_gensim(vectors, restrict):
    ours = evaluate_analogies(vectors, restrict_vocab=restrict)
    score, sections = _gensim(vectors).evaluate_word_analogies(data_path("questions-words.txt"),
                                                               restrict_vocab=restrict)
    assert ours["accuracy"] == pytest.approx(score, abs=1e-9)
    theirs = {s["section"]: s for s in sections}
    assert list(ours["sections"]) == [s["section"] for s in sections[:-1]]
    for name, mine in ours["sections"].items():
        t = theirs[name]
        assert mine["correct"] == len(t["correct"])
        assert mine["covered"] == len(t["correct"]) + len(t["incorrect"])
    assert ours["covered"] == len(theirs["Total accuracy"]["correct"]) + len(theirs["Total accuracy"]["incorrect"])
    assert ours["questions"] == 19544
    if restrict == 300_000:
        assert 0.05 < ours["accuracy"] < 1.0


def test_evaluate_top_level_and_progress(vectors):
    seen = []
    res = evaluate(vectors, progress=lambda f, msg: seen.append(f), tables=True)
    assert set(res) >= {"wordsim353", "simlex999", "analogy", "details"}
    for key in ("wordsim353", "simlex999", "analogy"):
        assert 0 <= res[key] <= 1
    assert res["analogy"] == res["details"]["analogy"]["accuracy"]
    sections = res["details"]["analogy"]["sections"]
    assert "capital-common-countries" in sections and "gram9-plural-verbs" in sections and len(sections) == 14
    assert seen[-1] == 1.0 and seen == sorted(seen)
    # a few questions per section with the model's answer, right ones marked
    ex = sections["family"]["examples"]
    assert ex and all(set(e) == {"a", "b", "c", "expected", "answer", "correct"} for e in ex)
    assert all(e["correct"] == (e["answer"] == e["expected"]) for e in ex)
    assert {False} <= {e["correct"] for e in ex}
    small = without_tables(res)
    assert "table" not in small["details"]["wordsim353"] and "table" in res["details"]["wordsim353"]
    assert "examples" not in small["details"]["analogy"]["sections"]["family"]
    import json
    json.dumps(small)  # stored and printed as JSON


def test_evaluate_subset_and_low_coverage():
    v = WordVectors(["tiger", "cat", "zebra"], np.eye(3, dtype=np.float32))
    res = evaluate(v, which=("wordsim353",))
    assert res["wordsim353"] is None and res["analogy"] is None  # two pairs known: too few; analogies not run
    assert res["details"]["wordsim353"]["pairs"] == 2  # tiger-cat, tiger-tiger
    with pytest.raises(W2VError, match="Unknown benchmark"):
        evaluate(v, which=("toefl",))
    res = evaluate_analogies(v)
    assert res["accuracy"] is None and res["covered"] == 0


def test_disagreements_ranks_the_worst_pairs():
    table = [{"w1": f"a{i}", "w2": f"b{i}", "human": float(i), "cosine": i / 10} for i in range(10)]
    table.append({"w1": "cup", "w2": "mug", "human": 9.5, "cosine": -0.5})  # people: close; model: far
    worst = disagreements(table, n=3)
    assert (worst[0]["w1"], worst[0]["w2"]) == ("cup", "mug") and worst[0]["gap"] < 0
    assert len(worst) == 3
    assert disagreements([], 5) == []


def test_section_titles_are_words_for_every_section():
    from w2v_core.evaluation import load_analogies, section_title

    names = [name for name, _ in load_analogies()]
    titles = [section_title(name) for name in names]
    assert section_title("gram1-adjective-to-adverb") == "adjective → adverb"
    assert len(set(titles)) == len(titles) and not set(titles) & set(names) and not any("gram" in t for t in titles)


def test_pairs_listed_in_both_orders_are_merged_for_display():
    from w2v_core.evaluation import merge_symmetric

    table = [{"w1": "bank", "w2": "money", "human": 8.0, "cosine": 0.5},
             {"w1": "money", "w2": "Bank", "human": 9.0, "cosine": 0.5},
             {"w1": "cat", "w2": "dog", "human": 7.0, "cosine": 0.8}]
    merged = merge_symmetric(table)
    assert [(r["w1"], r["w2"], r["human"]) for r in merged] == [("bank", "money", 8.5), ("cat", "dog", 7.0)]
