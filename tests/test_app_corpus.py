"""AppTest: the Corpus page shows sizes, top words, a Zipf plot and samples; the size control and min_count work."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.vocab import Vocabulary

def _app(source: str | None = None, **state) -> AppTest:
    """The Corpus page, through app.py (call .run())."""
    at = AppTest.from_file(APP, default_timeout=120)
    if source is not None:
        at.session_state["corpus_source"] = source
    for k, v in state.items():
        at.session_state[k] = v
    return at.switch_page("pages/corpus.py")


def _metrics(at) -> dict[str, int]:
    return {m.label.split(" (")[0]: int(m.value.replace(",", "")) for m in at.metric}


def test_default_sample_corpus_page():
    at = _app().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="corpus_source").value == "sample"
    m = _metrics(at)
    assert m["Tokens"] > 400_000 and m["Documents"] > 10_000 and m["Distinct words"] > 30_000
    assert 0 < m["Words kept"] < m["Distinct words"]
    assert len(at.get("plotly_chart")) == 2  # top words and Zipf
    samples = [m.value for m in at.markdown if m.value.count(" ") >= 19]  # the sample documents: whole paragraphs
    assert len(samples) == 3 and "anarchism" in samples[0]


def test_size_control_changes_the_token_count_and_matches_training_corpus():
    at = _app("lee").run()
    full = _metrics(at)["Tokens"]
    at.select_slider(key="corpus_size").set_value(10_000).run()
    assert not at.exception
    m = _metrics(at)
    expected = load_corpus(CorpusConfig(source="lee", max_tokens=10_000))  # what a training run would load
    assert m["Tokens"] == expected.n_tokens and 10_000 <= m["Tokens"] < full
    assert m["Distinct words"] == expected.n_words
    assert any("Cut to" in c.value for c in at.caption)


def test_min_count_slider_matches_the_vocabulary():
    at = _app("lee").run()
    corpus = load_corpus(CorpusConfig(source="lee"))
    for mc in (1, 3, 20):
        at.slider(key="corpus_min_count").set_value(mc).run()
        assert _metrics(at)["Words kept"] == len(Vocabulary.from_corpus(corpus, min_count=mc)[0])


def test_tokenization_options_change_the_corpus():
    at = _app("lee").run()
    before = _metrics(at)["Distinct words"]
    at.checkbox(key="corpus_keep_numbers").check().run()
    assert _metrics(at)["Distinct words"] > before
    at.number_input(key="corpus_min_token_len").set_value(4).run()
    assert not at.exception and _metrics(at)["Distinct words"] < before


def test_hub_failure_offers_the_bundled_sample():
    at = _app("wikitext-2").run()  # the Hub is off in tests (conftest) and nothing is cached
    assert not at.exception
    msg = at.error[0].value
    assert len(at.error) == 1 and "WikiText-2" in msg and "bundled Wikipedia sample" in msg
    assert "--" not in msg  # no command-line flags
    # personal mode: whoever reads it runs the app, so it says how to get WikiText, not "ask whoever runs the app"
    plain = msg.replace("\\", "")  # as the page shows it (the markdown escapes are not seen)
    assert "ask whoever" not in plain and "HF_HUB_OFFLINE" in plain and "works offline from then on" in plain
    assert not at.metric
    at.button(key="corpus_use_sample").click().run()
    assert not at.error and at.selectbox(key="corpus_source").value == "sample"
    assert _metrics(at)["Tokens"] > 400_000


def test_pasted_text():
    at = _app("paste").run()
    assert not at.exception and at.info  # nothing pasted yet
    at.text_area(key="corpus_paste").input("the cat sat\nthe dog sat on the cat\n").run()
    m = _metrics(at)
    assert (m["Tokens"], m["Documents"], m["Distinct words"]) == (9, 2, 5)


def test_local_file_with_several_text_columns(tmp_path):
    p = tmp_path / "reviews.csv"
    p.write_text("title,body\nGreat,loved every page\nMeh,too long really\n", encoding="utf-8")
    at = _app("path").run()
    at.text_input(key="corpus_path").input(str(p)).run()
    assert not at.exception
    assert at.selectbox(key="corpus_text_column").options == ["title", "body"]
    at.selectbox(key="corpus_text_column").set_value("body").run()
    assert _metrics(at)["Tokens"] == 6
    at.selectbox(key="corpus_text_column").set_value("title").run()
    assert _metrics(at)["Tokens"] == 2


@pytest.mark.parametrize("content", [None, b"\x00\x01\x02" * 100])
def test_bad_path_is_an_error_not_a_crash(tmp_path, content):
    p = tmp_path / "bad.txt"
    if content is not None:
        p.write_bytes(content)
    at = _app("path").run()
    at.text_input(key="corpus_path").input(str(p)).run()
    assert not at.exception and len(at.error) == 1
    assert ("not found" if content is None else "binary") in at.error[0].value


def test_the_bundled_sample_is_tokenized_in_the_background_for_the_first_visit(monkeypatch):
    """A new server starts tokenizing the sample with its first page run; the Corpus page then reads that entry
    (the page's untouched picker asks for the very config the warm-up cached: no second entry)."""
    from ui import corpus_picker
    from w2v_core.data import corpus_cache

    monkeypatch.setenv("W2V_WARM_CORPUS", "1")
    corpus_picker.warm_up_sample.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=300).run()  # Home: starts the warm-up
        assert not at.exception
        thread = corpus_picker.warm_up_sample()
        assert thread is not None
        thread.join(300)
        assert corpus_cache.load(corpus_picker.SAMPLE) is not None
        entries = sorted(p.name for p in corpus_cache.cache_dir().iterdir() if p.is_dir() and not p.name.startswith("."))
        assert len(entries) == 1
        at.switch_page("pages/corpus.py").run()
        assert not at.exception and _metrics(at)["Tokens"] > 400_000
        assert sorted(p.name for p in corpus_cache.cache_dir().iterdir()
                      if p.is_dir() and not p.name.startswith(".")) == entries
    finally:
        corpus_picker.warm_up_sample.clear()
