"""Phrases: the same scores and decisions as gensim's Phrases, on token ids; cached with the corpus; trained on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gensim.models.phrases import Phrases

from w2v_core.data import corpus_cache
from w2v_core.data.corpus import CorpusConfig, from_documents, from_texts
from w2v_core.data.loader import load_corpus
from w2v_core.data.phrases import apply_phrases, phrase_pass
from w2v_core.errors import W2VError


def _docs(corpus):
    return [corpus.doc_tokens(i) for i in range(corpus.n_docs)]


@pytest.mark.parametrize("scoring, threshold", [("default", 10.0), ("npmi", 0.5)])
def test_same_phrases_scores_and_tokens_as_gensim_on_the_sample(scoring, threshold):
    corpus = load_corpus(CorpusConfig(source="sample", max_tokens=120_000))
    docs = _docs(corpus)
    out, table = phrase_pass(corpus, 5, threshold, scoring)
    gensim = Phrases(docs, min_count=5, threshold=threshold, scoring=scoring)
    theirs = gensim.export_phrases()
    ours = {p.text: p.score for p in table}
    assert len(ours) > 100
    jaccard = len(ours.keys() & theirs.keys()) / len(ours.keys() | theirs.keys())
    assert jaccard >= 0.98
    assert max(abs(ours[k] - theirs[k]) for k in ours.keys() & theirs.keys()) < 1e-9
    assert _docs(out) == [gensim[d] for d in docs]  # the same pairs joined, left to right
    assert "united_states" in ours


def test_a_token_joins_one_phrase_reading_left_to_right_and_never_across_documents():
    docs = [["new", "york", "city"]] * 20 + [["york", "city"]] * 20 + [["new"], ["york"]] * 5
    docs += [[f"w{i}"] for i in range(500)]  # a bigger vocabulary: the default score grows with it
    corpus = from_documents(docs, "t")
    out, table = phrase_pass(corpus, min_count=1, threshold=1.0)
    assert {p.text for p in table} == {"new_york", "york_city"}
    assert _docs(out)[:1] == [["new_york", "city"]] and _docs(out)[20] == ["york_city"]
    assert _docs(out)[40:42] == [["new"], ["york"]]  # a pair split by a document boundary is no pair
    g = Phrases(docs, min_count=1, threshold=1.0)
    assert _docs(out) == [g[d] for d in docs]
    counts = dict(zip(out.words, out.counts.tolist()))
    assert counts["new_york"] == 20 and counts["york_city"] == 20 and counts["city"] == 20
    assert out.offsets[-1] == out.n_tokens and out.ids.dtype == np.int32
    joined = {p.text: p.joined for p in table}
    assert joined == {"new_york": 20, "york_city": 20}


def test_two_passes_join_a_phrase_with_a_word():
    docs = [["the", "new", "york", "times", "said", f"x{i}"] for i in range(30)] + [[f"w{i}", f"v{i}"] for i in range(300)]
    cfg = CorpusConfig(source="t", phrases=2, phrase_min_count=2, phrase_threshold=1.0)
    out = apply_phrases(from_documents(docs, "t"), cfg)
    assert out.doc_tokens(0) == ["the_new_york_times", "said", "x0"]  # pass 1: the_new york_times; pass 2 joins them
    assert max(p.pass_no for p in out.phrases) == 2 and out.config.phrases == 2
    g1 = Phrases(docs, min_count=2, threshold=1.0)
    once = [g1[d] for d in docs]
    g2 = Phrases(once, min_count=2, threshold=1.0)
    assert _docs(out) == [g2[d] for d in once]


def test_phrases_are_cached_with_the_corpus_and_the_knobs_are_part_of_the_key(monkeypatch):
    cfg = CorpusConfig(source="lee", phrases=1)
    assert corpus_cache.cache_key(cfg) != corpus_cache.cache_key(CorpusConfig(source="lee"))
    assert corpus_cache.cache_key(cfg) != corpus_cache.cache_key(CorpusConfig(source="lee", phrases=1,
                                                                             phrase_threshold=20.0))
    # without phrases the phrase knobs change nothing (no needless re-tokenizing)
    assert corpus_cache.cache_key(CorpusConfig(source="lee", phrase_threshold=20.0)) == \
        corpus_cache.cache_key(CorpusConfig(source="lee"))
    first = load_corpus(cfg)
    assert first.phrases and any("_" in w for w in first.words)
    monkeypatch.setattr("w2v_core.data.phrases.phrase_pass", lambda *a, **k: pytest.fail("not read from the cache"))
    again = load_corpus(cfg)
    assert again.words == first.words and np.array_equal(again.ids, first.ids)
    assert again.phrases == first.phrases


def test_a_smaller_corpus_size_finds_phrases_on_that_corpus_not_a_cut_of_the_whole():
    whole = load_corpus(CorpusConfig(source="lee", phrases=1))
    small = load_corpus(CorpusConfig(source="lee", max_tokens=10_000, phrases=1))
    direct = apply_phrases(load_corpus(CorpusConfig(source="lee", max_tokens=10_000)),
                           CorpusConfig(source="lee", max_tokens=10_000, phrases=1))
    assert small.words == direct.words and np.array_equal(small.ids, direct.ids)
    assert small.n_tokens < whole.n_tokens


@pytest.mark.parametrize("opts, match", [
    ({"phrases": 9}, "passes"), ({"phrases": 1, "phrase_scoring": "pmi"}, "scoring"),
    ({"phrases": 1, "phrase_threshold": 0.0}, "above 0"), ({"phrases": 1, "phrase_scoring": "npmi"}, "between -1"),
    ({"phrases": 1, "phrase_min_count": 0}, "min count"),
])
def test_bad_phrase_options_are_a_user_error(opts, match):
    with pytest.raises(W2VError, match=match):
        CorpusConfig(source="lee", **opts).validate()


def test_a_model_trained_with_phrases_has_the_phrase_as_one_word_with_sensible_neighbours(tmp_path):
    from w2v_core.models import ModelConfig
    from w2v_core.store import load_model
    from w2v_core.training import TrainConfig, Trainer

    cities = ["new york", "los angeles", "san francisco", "paris", "london", "berlin"]
    rng = np.random.default_rng(0)
    names = [a + b + c for a in ("ka", "lo", "mi", "ra", "vo", "su", "pel", "dar", "ni", "te")
             for b in ("zan", "gro", "fu", "tox", "ber", "sel", "mar", "qui", "dor", "lan") for c in "aeiou"]
    texts = [f"she flew to {cities[i % 6]} to see the {rng.choice(names)} museum and the {rng.choice(names)} park of "
             f"{cities[i % 6]}" for i in range(300)]
    texts += [f"the {a} {b} was {c}" for a, b, c in rng.choice(["big", "old", "red", "cold"], (100, 3))]
    cfg = CorpusConfig(source="t", phrases=1)
    corpus = apply_phrases(from_texts(texts, "t", cfg), cfg)
    assert {p.text for p in corpus.phrases} == {"new_york", "los_angeles", "san_francisco"}
    r = Trainer(corpus, ModelConfig(dim=16, window=3, min_count=2, sample=0), TrainConfig(epochs=10, threads=1)).train()
    path = r.save(tmp_path / "phrases-model", name="phrases-model")
    model = load_model(path)
    assert "new_york" in model.vectors.words and "york" not in model.vectors.words
    near = [w for w, _ in model.vectors.most_similar("new_york", topn=6)]
    assert len({"los_angeles", "san_francisco", "paris", "london", "berlin"} & set(near)) >= 4
    saved = json.loads((path / "config.json").read_text())["corpus"]["config"]
    assert saved["phrases"] == 1 and saved["phrase_threshold"] == 10.0 and saved["normalize"] == "NFC"


def test_cli_help_lists_the_phrase_and_unicode_options_and_a_bad_one_is_one_line(tmp_path):
    from tests.test_cli import cli

    text = cli("train", "--help").stdout
    for opt in ("--phrases", "--phrase-min-count", "--phrase-threshold", "--phrase-scoring", "--normalize"):
        assert opt in text
    r = cli("train", "--corpus", "lee", "--phrases", "1", "--phrase-scoring", "pmi", "--out", str(tmp_path / "m"))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "scoring" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "m").exists()


def test_a_model_folder_from_before_these_options_still_loads_and_says_phrases_off(tiny_model):
    from ui.cards import phrases_setting
    from w2v_core.store import load_model, read_record

    cfg_file = tiny_model / "config.json"
    cfg = json.loads(cfg_file.read_text())
    for k in ("normalize", "phrases", "phrase_min_count", "phrase_threshold", "phrase_scoring"):
        cfg["corpus"]["config"].pop(k)
    cfg_file.write_text(json.dumps(cfg))
    assert load_model(tiny_model).vectors.most_similar("cat", topn=3)
    r = read_record(tiny_model)
    assert r.error is None and r.corpus.phrases == 0 and r.corpus.normalize == "NFC"
    assert phrases_setting(r) == "off"
