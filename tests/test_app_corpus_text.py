"""AppTest: the Corpus page's phrase options and phrase table, and its note on Chinese/Japanese/Thai text."""

from __future__ import annotations

import unicodedata

from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core.data import scripts
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus


def _app(source: str, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["corpus_source"] = source
    for k, v in state.items():
        at.session_state[k] = v
    return at.switch_page("pages/corpus.py")


def _tokens(at) -> int:
    return int(next(m for m in at.metric if m.label == "Tokens").value.replace(",", ""))


def test_phrase_passes_join_pairs_and_the_phrases_tab_lists_them_with_scores_and_counts():
    at = _app("lee").run()
    assert not at.exception
    assert any("Phrases are off" in c.value for c in at.caption)
    before = _tokens(at)
    at.number_input(key="corpus_phrases").set_value(1).run()
    assert not at.exception and not at.error
    expected = load_corpus(CorpusConfig(source="lee", phrases=1))  # what a training run would read
    assert _tokens(at) == expected.n_tokens < before
    df = at.dataframe[0].value
    assert list(df.columns) == ["phrase", "score", "pair count", "joined", "pass"]
    assert len(df) == len(expected.phrases) > 10 and (df["score"] > 10).all()
    assert at.number_input(key="corpus_phrase_threshold").value == 10.0
    at.selectbox(key="corpus_phrase_scoring").set_value("npmi").run()
    assert at.number_input(key="corpus_phrase_threshold").value == 0.5  # that scoring's usual threshold
    assert not at.exception and (at.dataframe[0].value["score"] <= 1).all()


def test_chinese_and_japanese_text_get_a_note_and_decomposed_accents_stay_in_their_word(monkeypatch):
    at = _app("paste").run()
    at.text_area(key="corpus_paste").input("東京は日本の首都です。\n私は寿司が好きです。\n").run()
    assert not at.exception
    assert any("Japanese text was split into single characters" in i.value for i in at.info)
    at.text_area(key="corpus_paste").input(unicodedata.normalize("NFD", "très bien\ntrès cher\n")).run()
    assert not at.info and int(next(m for m in at.metric if m.label == "Distinct words").value) == 3
    if "zh" in scripts.segmenters():
        at.text_area(key="corpus_paste").input("我爱北京天安门。\n今天天气很好。\n").run()
        assert any("Chinese text was split into words with jieba" in i.value for i in at.info)


def test_phrases_set_on_the_train_page_reach_the_model_its_config_and_its_card():
    from test_app_train import open_train, run_until_finished, small_run

    from w2v_core import store

    at = open_train()
    assert at.number_input(key="corpus_phrases").help and at.selectbox(key="corpus_normalize").help
    at.number_input(key="corpus_phrases").set_value(1)
    small_run(at, tokens=10_000)
    assert at.session_state["train_job"].corpus_config.phrases == 1
    run_until_finished(at)
    assert not at.exception and not at.error
    m = store.load_model(at.session_state["current_model"])
    assert m.config["corpus"]["config"]["phrases"] == 1
    assert any("_" in w for w in m.vectors.words)  # phrases are words of the model
    card = [c.value for c in at.caption if "1 pass, default" in c.value]  # (markdown-escaped: "phrases\\:")
    assert len(card) == 1 and "phrases" in card[0] and "min count 5" in card[0]


def test_a_trace_of_such_text_in_an_english_corpus_is_a_caption_not_blue_boxes():
    """The English Wikipedia sample has 7 such tokens (算盤, 阿拉, a Thai word) of 465,441 (its Dutch "in 't Duytsch"
    gives the token "'t"): two info boxes about Chinese and Thai read as if something were wrong with it; one caption
    says it."""
    at = AppTest.from_file(APP, default_timeout=300).switch_page("pages/corpus.py").run()
    assert not at.exception
    assert not [i for i in at.info if "text was split" in i.value]
    (note,) = [c.value for c in at.caption if "scripts written without spaces" in c.value]
    assert "of the 465,441 tokens" in note and "Chinese text was split" in note and "Thai text" in note
