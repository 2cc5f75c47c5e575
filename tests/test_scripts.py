"""Text in any script: NFC/NFKC, words with combining marks, Chinese/Japanese/Thai split into words or characters."""

from __future__ import annotations

import unicodedata

import pytest

from w2v_core.data import corpus_cache, scripts
from w2v_core.data.corpus import CorpusConfig, from_texts, tokenize
from w2v_core.errors import W2VError

NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731 - what macOS file names and some exports produce
has_jieba = "zh" in scripts.segmenters()


@pytest.mark.parametrize("sentence, words", [
    ("Le garçon très âgé mange une pêche à côté de l'église.",  # French
     ["le", "garçon", "très", "âgé", "mange", "une", "pêche", "à", "côté", "de", "l'église"]),
    ("Die Straße führt über die Brücke nach Köln.",  # German
     ["die", "straße", "führt", "über", "die", "brücke", "nach", "köln"]),
    ("Ёжик в тумане пошёл домой, а медвежонок ждал его.",  # Russian
     ["ёжик", "в", "тумане", "пошёл", "домой", "а", "медвежонок", "ждал", "его"]),
    ("Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",  # Greek
     ["η", "αθήνα", "είναι", "η", "πρωτεύουσα", "της", "ελλάδας"]),
])
def test_european_sentences_give_the_same_words_precomposed_or_decomposed(sentence, words):
    assert tokenize(sentence) == words
    assert tokenize(NFD(sentence)) == words  # NFD: "très" used to become "tre" + "s"
    assert all(unicodedata.is_normalized("NFC", w) for w in tokenize(NFD(sentence)))


def test_one_word_has_one_spelling_in_the_vocabulary_whatever_the_normal_form():
    c = from_texts(["très bien, café crème", NFD("très bien, café crème")], "t")
    assert sorted(c.words) == ["bien", "café", "crème", "très"] and c.counts.tolist() == [2, 2, 2, 2]


def test_without_normalisation_a_decomposed_word_still_stays_one_word():
    assert [len(w) for w in tokenize(NFD("très"), CorpusConfig(normalize="none"))] == [5]  # t r e ` s: one token


def test_nfkc_folds_compatibility_forms_and_nfc_keeps_them():
    text = "Ｔｏｋｙｏ ﬁnal"
    assert tokenize(text, CorpusConfig(normalize="NFKC")) == ["tokyo", "final"]
    assert tokenize(text) == ["ｔｏｋｙｏ", "ﬁnal"]
    with pytest.raises(W2VError, match="normalisation"):
        CorpusConfig(normalize="NFX").validate()


def test_marks_without_a_precomposed_form_stay_inside_their_word():
    assert tokenize("हिन्दी भाषा सीखो") == ["हिन्दी", "भाषा", "सीखो"]  # virama and vowel signs are marks


def test_plain_english_is_tokenized_as_before():
    text = "The Cat's 3 mats, in 1984: well @-@ known <unk> mp3 players!"
    assert tokenize(text) == ["the", "cat's", "mats", "in", "well", "known", "mp", "players"]
    assert tokenize(text, CorpusConfig(keep_numbers=True, keep_punct=True)) == [
        "the", "cat's", "3", "mats", ",", "in", "1984", ":", "well", "-", "known", "mp3", "players", "!"]


CHINESE = "我爱北京天安门。今天天气很好，我们去公园散步吧。"


@pytest.mark.skipif(not has_jieba, reason="jieba is not installed (requirements.txt)")
def test_chinese_is_split_into_words_with_jieba():
    toks = tokenize(CHINESE)
    assert {"北京", "天安门", "我们", "公园", "散步"} <= set(toks)
    assert "".join(toks) == CHINESE.replace("。", "").replace("，", "")  # nothing lost, punctuation dropped
    c = from_texts([CHINESE], "zh")
    assert scripts.script_notes(c.words) == [f"Chinese text was split into words with {scripts.segmenters()['zh']}."]


def test_chinese_without_a_segmenter_is_split_into_single_characters(monkeypatch):
    monkeypatch.setattr(scripts, "segmenters", lambda: {})
    toks = tokenize(CHINESE)
    assert toks == list(CHINESE.replace("。", "").replace("，", ""))
    notes = scripts.script_notes(from_texts([CHINESE], "zh").words)
    assert len(notes) == 1 and "single characters" in notes[0] and "jieba" in notes[0]


def test_japanese_is_split_into_single_characters_and_its_kanji_never_go_to_the_chinese_segmenter():
    text = "東京は日本の首都です。私は寿司が好きです。"
    toks = tokenize(text)
    assert toks == [ch for ch in text if ch not in "。"]
    notes = scripts.script_notes(from_texts([text], "ja").words)
    assert any("Japanese text was split into single characters" in n for n in notes)
    assert not any("Chinese" in n for n in notes)


def test_latin_words_and_numbers_inside_cjk_text_stay_whole():
    assert tokenize("我买了iPhone手机，2024年", CorpusConfig(keep_numbers=True))[-2:] == ["2024", "年"]
    assert "iphone" in tokenize("我买了iPhone手机")


def test_thai_letters_keep_their_vowel_and_tone_marks():
    toks = tokenize("ภาษาไทยง่าย")
    assert "".join(toks) == "ภาษาไทยง่าย" and "ง่" in toks  # the tone mark stays on its consonant
    assert any("Thai" in n for n in scripts.script_notes(toks))


def test_english_corpus_has_no_script_note_and_pretokenized_text_is_never_segmented():
    assert scripts.script_notes(["the", "cat", "café"]) == []
    assert tokenize(CHINESE, CorpusConfig(pretokenized=True)) == [CHINESE]


def test_the_cache_key_changes_with_the_rules_and_the_installed_segmenters(monkeypatch):
    cfg = CorpusConfig(source="lee")
    monkeypatch.setattr(scripts, "segmenters", lambda: {})
    key = corpus_cache.cache_key(cfg)
    assert corpus_cache.cache_key(CorpusConfig(source="lee")) == key
    assert corpus_cache.cache_key(CorpusConfig(source="lee", normalize="NFKC")) != key
    monkeypatch.setattr(scripts, "RULES", scripts.RULES + 1)
    assert corpus_cache.cache_key(cfg) != key
    monkeypatch.setattr(scripts, "RULES", scripts.RULES - 1)
    assert corpus_cache.cache_key(cfg) == key
    monkeypatch.setattr(scripts, "segmenters", lambda: {"zh": "jieba 9.9"})
    assert corpus_cache.cache_key(cfg) != key
