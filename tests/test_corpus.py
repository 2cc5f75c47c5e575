"""Tokenization options, corpus size, the corpus cache and corpus statistics."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest

from w2v_core.data import corpus_cache, loader
from w2v_core.data.corpus import CorpusConfig, corpus_stats, cut, from_texts, tokenize
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.vocab import Vocabulary

TEXT = "The Cat's 3 mats, in 1984: well @-@ known <unk> cafés!"


def test_default_tokenizer_lowercases_words_and_cleans_wikitext_markup():
    assert tokenize(TEXT) == ["the", "cat's", "mats", "in", "well", "known", "cafés"]


@pytest.mark.parametrize("options, expected", [
    ({"lowercase": False}, ["The", "Cat's", "mats", "in", "well", "known", "cafés"]),
    ({"keep_numbers": True}, ["the", "cat's", "3", "mats", "in", "1984", "well", "known", "cafés"]),
    ({"keep_punct": True}, ["the", "cat's", "mats", ",", "in", ":", "well", "-", "known", "cafés", "!"]),
    ({"min_token_len": 4}, ["cat's", "mats", "well", "known", "cafés"]),
    ({"keep_unk": True}, ["the", "cat's", "mats", "in", "well", "known", "<unk>", "cafés"]),
    ({"pretokenized": True}, ["the", "cat's", "3", "mats,", "in", "1984:", "well", "@-@", "known", "<unk>", "cafés!"]),
])
def test_tokenization_options(options, expected):
    assert tokenize(TEXT, CorpusConfig(**options)) == expected


def test_headings_are_skipped_and_lines_are_documents():
    c = from_texts([" = Title = \n first line here\n = = Section = = \n second line"], "t")
    assert c.n_docs == 2
    assert c.doc_tokens(0) == ["first", "line", "here"] and c.doc_tokens(1) == ["second", "line"]


def test_max_tokens_keeps_whole_documents_in_order_and_reports_truncation():
    texts = [" ".join(f"word{chr(97 + i)}" for _ in range(10)) for i in range(20)]
    full = from_texts(texts, "t")
    assert full.n_tokens == 200 and not full.truncated
    c = from_texts(texts, "t", CorpusConfig(source="t", max_tokens=25))
    assert c.n_tokens == 30 and c.n_docs == 3 and c.truncated  # the document that crosses the limit is kept whole
    assert c.doc_tokens(2) == full.doc_tokens(2)
    assert c.words == full.words[:3]


def test_cut_matches_building_with_max_tokens(tiny_texts):
    full = from_texts(tiny_texts, "t")
    for n in (1, 57, 500, full.n_tokens - 1, full.n_tokens, full.n_tokens + 10):
        built = from_texts(tiny_texts, "t", CorpusConfig(source="t", max_tokens=n))
        c = cut(full, n)
        assert np.array_equal(c.ids, built.ids) and np.array_equal(c.offsets, built.offsets)
        assert c.words == built.words and np.array_equal(c.counts, built.counts)
        assert c.truncated == (c.n_docs < full.n_docs)


def test_lee_loads_as_int32_and_size_control_changes_token_count():
    lee = load_corpus(CorpusConfig(source="lee"))
    assert lee.ids.dtype == np.int32 and lee.offsets.dtype == np.int64
    assert 50_000 < lee.n_tokens < 80_000 and lee.n_docs >= 300 and not lee.truncated
    small = load_corpus(CorpusConfig(source="lee", max_tokens=5_000))
    assert 5_000 <= small.n_tokens < 6_000 and small.truncated
    again = load_corpus(CorpusConfig(source="lee", max_tokens=5_000), use_cache=False)
    assert np.array_equal(small.ids, again.ids) and small.words == again.words  # same size -> same corpus
    assert np.array_equal(small.ids, lee.ids[:small.n_tokens])


def test_sample_is_the_default_and_honours_max_tokens():
    c = load_corpus(CorpusConfig(max_tokens=3_000))
    assert c.name.startswith("sample") and c.truncated and 3_000 <= c.n_tokens < 6_000
    assert "anarchism" in c.words


def test_every_option_reaches_builtin_corpora():
    base = load_corpus(CorpusConfig(source="lee", max_tokens=3_000))
    nums = load_corpus(CorpusConfig(source="lee", max_tokens=3_000, keep_numbers=True))
    punct = load_corpus(CorpusConfig(source="lee", max_tokens=3_000, keep_punct=True))
    cased = load_corpus(CorpusConfig(source="lee", max_tokens=3_000, lowercase=False))
    long = load_corpus(CorpusConfig(source="lee", max_tokens=3_000, min_token_len=5))
    assert not any(w.isdigit() for w in base.words) and any(w.isdigit() for w in nums.words)
    assert "," in punct.words and "," not in base.words
    assert any(w[0].isupper() for w in cased.words) and not any(w[0].isupper() for w in base.words)
    assert min(len(w) for w in long.words) == 5


def _count_tokenizations(monkeypatch) -> list:
    calls = []
    real = loader._load_uncached

    def counting(config, progress=None):
        calls.append(config)
        return real(config, progress)

    monkeypatch.setattr(loader, "_load_uncached", counting)
    return calls


def test_second_load_comes_from_the_cache(monkeypatch):
    calls = _count_tokenizations(monkeypatch)
    cfg = CorpusConfig(source="lee", max_tokens=4_000)
    a = load_corpus(cfg)
    b = load_corpus(cfg)
    assert len(calls) == 1
    assert np.array_equal(a.ids, b.ids) and a.words == b.words and np.array_equal(a.counts, b.counts)
    assert b.truncated and b.config == cfg and b.name == a.name
    load_corpus(replace(cfg, keep_numbers=True))  # other options: another entry
    assert len(calls) == 2


def test_smaller_size_is_cut_from_the_cached_full_corpus(monkeypatch):
    calls = _count_tokenizations(monkeypatch)
    full = load_corpus(CorpusConfig(source="lee"))
    small = load_corpus(CorpusConfig(source="lee", max_tokens=2_000))
    assert len(calls) == 1
    fresh = load_corpus(CorpusConfig(source="lee", max_tokens=2_000), use_cache=False)
    assert np.array_equal(small.ids, fresh.ids) and small.words == fresh.words and small.truncated
    assert small.n_tokens < full.n_tokens


def test_cache_entries_are_npy_and_json_without_pickle():
    cfg = CorpusConfig(source="lee", max_tokens=1_000)
    load_corpus(cfg)
    entry = corpus_cache.cache_dir() / corpus_cache.cache_key(cfg)
    assert str(corpus_cache.cache_dir()).startswith(os.environ["W2V_CACHE_DIR"])
    assert sorted(p.name for p in entry.iterdir()) == sorted(corpus_cache._FILES)
    ids = np.load(entry / "ids.npy", allow_pickle=False)
    assert ids.dtype == np.int32
    assert isinstance(json.loads((entry / "words.json").read_text(encoding="utf-8")), list)


@pytest.mark.parametrize("damage", ["garbage_ids", "short_words", "bad_meta", "missing_counts"])
def test_corrupt_cache_entry_is_rebuilt(monkeypatch, damage):
    cfg = CorpusConfig(source="lee", max_tokens=1_000)
    good = load_corpus(cfg)
    entry = corpus_cache.cache_dir() / corpus_cache.cache_key(cfg)
    if damage == "garbage_ids":
        (entry / "ids.npy").write_bytes(b"not numpy at all")
    elif damage == "short_words":
        (entry / "words.json").write_text(json.dumps(good.words[:-1]), encoding="utf-8")
    elif damage == "bad_meta":
        (entry / "meta.json").write_text("{", encoding="utf-8")
    else:
        (entry / "counts.npy").unlink()
    calls = _count_tokenizations(monkeypatch)
    again = load_corpus(cfg)
    assert len(calls) == 1  # rebuilt
    assert np.array_equal(again.ids, good.ids) and again.words == good.words
    assert corpus_cache._load_entry(corpus_cache.cache_key(cfg), cfg) is not None  # and stored again


def test_edited_file_is_tokenized_again(tmp_path, monkeypatch):
    f = tmp_path / "c.txt"
    f.write_text("alpha beta\ngamma\n", encoding="utf-8")
    first = load_corpus(CorpusConfig(source=str(f)))
    f.write_text("alpha beta\ngamma delta epsilon\n", encoding="utf-8")
    m = f.stat().st_mtime_ns
    os.utime(f, ns=(m, m + 10**9))  # a later modification time even on coarse clocks
    second = load_corpus(CorpusConfig(source=str(f)))
    assert first.n_tokens == 3 and second.n_tokens == 5


def test_unwritable_cache_is_not_fatal(monkeypatch, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("W2V_CACHE_DIR", str(blocker))
    c = load_corpus(CorpusConfig(source="lee", max_tokens=500))
    assert c.n_tokens >= 500


def test_corpus_stats_on_a_known_corpus():
    texts = ["a a a a b b b c c d", "a b e", "f"]
    c = from_texts(texts, "t")
    s = corpus_stats(c, min_count=2, top_n=3, n_samples=2)
    assert (s.n_tokens, s.n_docs, s.n_words) == (14, 3, 6)
    assert s.top_words == [("a", 5), ("b", 4), ("c", 2)]
    assert s.n_kept == 3 and s.kept_tokens == 11  # a, b, c have count >= 2
    assert [s.words_kept(m) for m in (1, 2, 3, 5, 6)] == [6, 3, 2, 1, 0]
    assert s.ranks.tolist() == [1, 2, 3, 4, 5, 6] and s.freqs.tolist() == [5, 4, 2, 1, 1, 1]
    assert s.samples == ["a a a a b b b c c d"]  # the longest document; the short ones say little


def test_sample_documents_are_paragraphs_not_headings():
    para = " ".join(["the", "cat", "sat", "on", "a", "mat"] * 5)
    texts = [t for k in range(10) for t in (f"heading {k}", para)]
    s = corpus_stats(from_texts(texts, "t"), n_samples=3)
    assert len(s.samples) == 3 and all(t == para for t in s.samples)


def test_corpus_stats_agree_with_the_training_vocabulary_and_stay_small():
    c = load_corpus(CorpusConfig(source="lee"))
    s = corpus_stats(c, min_count=5, max_points=500)
    for m in (1, 2, 5, 20):
        vocab, _ = Vocabulary.from_corpus(c, min_count=m)
        assert s.words_kept(m) == len(vocab)
    assert len(s.ranks) <= 500 and s.ranks[0] == 1 and s.ranks[-1] == c.n_words
    assert np.all(np.diff(s.freqs) <= 0)  # Zipf: frequency falls with rank
    assert s.freqs.sum() <= c.n_tokens and s.sorted_counts.sum() == c.n_tokens
    assert all(len(t.split()) <= 61 for t in s.samples)


def test_bad_settings_are_user_errors():
    with pytest.raises(W2VError, match="at least 1 token"):
        load_corpus(CorpusConfig(source="lee", max_tokens=0))
    with pytest.raises(W2VError, match="split"):
        load_corpus(CorpusConfig(source="wikitext-2", split="dev"))
    with pytest.raises(W2VError, match="not found"):
        load_corpus(CorpusConfig(source="wikitext2"))
