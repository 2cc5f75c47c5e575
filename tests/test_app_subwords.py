"""Subword vectors in the app: the Train page's setting (help with the memory), a run records it, and the model
answers a word it never saw."""

from __future__ import annotations

from test_app_train import open_train, run_until_finished, small_run, widget
from w2v_core import store
from w2v_core.vectors import SubwordVectors


def test_the_subword_setting_has_help_and_shows_the_tables_memory():
    at = open_train()
    box = widget(at, "train_subwords")
    assert box is not None and "pieces" in box.help and "memory" in box.help
    assert not any(getattr(e, "key", None) == "train_buckets" for e in at.select_slider)  # only once it is on
    at.select_slider(key="train_dim").set_value(100).run()
    at.checkbox(key="train_subwords").check().run()
    assert not at.exception
    assert "buckets x dimension x 4 bytes" in widget(at, "train_buckets").help and widget(at, "train_ngrams").help
    assert at.slider(key="train_ngrams").value == (3, 6)
    assert any("200,000 buckets x 100 dimensions x 4 bytes = 80 MB" in c.value for c in at.caption)
    at.select_slider(key="train_buckets").set_value(2_000_000).run()
    assert any("= 800 MB" in c.value for c in at.caption)


def test_a_subword_run_records_its_settings_and_knows_unseen_words():
    at = open_train()
    at.checkbox(key="train_subwords").check().run()
    at.select_slider(key="train_buckets").set_value(20_000).run()
    small_run(at)
    run_until_finished(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    m = store.load_model(at.session_state["current_model"])
    assert {k: m.config["model"][k] for k in ("subwords", "min_n", "max_n", "buckets")} == {
        "subwords": True, "min_n": 3, "max_n": 6, "buckets": 20_000}
    assert isinstance(m.vectors, SubwordVectors) and m.vectors.built_from_pieces("governmentz")
    assert len(m.vectors.most_similar("governmentz", topn=5)) == 5


def test_the_model_card_and_compare_record_the_subword_setting(tmp_path):
    from ui import cards
    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    texts = ["the city council met the government of the city"] * 30
    corpus = from_texts(texts, name="tiny", config=CorpusConfig(source="x"))
    for name, sub in (("plain", False), ("pieces", True)):
        mc = ModelConfig(dim=8, min_count=1, subwords=sub, buckets=5_000, min_n=2, max_n=4)
        Trainer(corpus, mc, TrainConfig(epochs=1, threads=1)).train().save(tmp_path / name)
    sub, plain = store.read_record(tmp_path / "pieces"), store.read_record(tmp_path / "plain")
    assert "subwords: 2-4 character n-grams, 5,000 buckets" in cards.describe(sub)["knobs"]
    assert "subwords" not in cards.describe(plain)["knobs"]
    assert cards.settings(sub)["subwords"] == "2-4 character n-grams, 5,000 buckets"
    assert cards.settings(plain)["subwords"] == "off"


def _subword_model(tiny_corpus, tmp_path):
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    r = Trainer(tiny_corpus, ModelConfig(dim=16, window=3, min_count=1, sample=0, subwords=True, buckets=5_000),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    return r.save(tmp_path / "pieces", name="pieces"), r.vectors


def test_neighbours_answers_an_unseen_word_and_says_it_is_built_from_its_pieces(tiny_corpus, tmp_path):
    from conftest import open_app_page

    path, wv = _subword_model(tiny_corpus, tmp_path)
    known = wv.words[0]
    unseen = known + "s" if known + "s" not in wv else known + "zz"
    at = open_app_page("pages/neighbours.py", path)
    at.text_input(key="nb_word").set_value(unseen).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 1
    notes = [i.value for i in at.info if "built from its pieces" in i.value]
    assert len(notes) == 1 and f"'{unseen}' is not in the vocabulary" in notes[0] and "<" in notes[0]
    at.text_input(key="nb_word").set_value(known).run()  # a vocabulary word: no such note
    assert not any("built from its pieces" in i.value for i in at.info)
    at.text_input(key="nb_sim_a").set_value(unseen).run()
    at.text_input(key="nb_sim_b").set_value(known).run()
    assert not at.exception and not at.error and any("built from its pieces" in i.value for i in at.info)


def test_learn_shows_a_words_pieces_for_a_subword_model(tiny_corpus, tmp_path):
    from conftest import open_app_page

    path, wv = _subword_model(tiny_corpus, tmp_path)
    at = open_app_page("pages/learn.py", path)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("subword (fastText) model" in m.value for m in at.markdown)
    word = wv.words[0]
    at.text_input(key="learn_pieces_word").set_value(word).run()
    table = at.dataframe[0].value
    assert table["piece"].tolist() == wv.pieces(word) and table["seen"].all()  # a vocabulary word's pieces
    assert any("is in the vocabulary" in c.value for c in at.caption)
    at.text_input(key="learn_pieces_word").set_value(word + "q").run()
    assert any("built from its pieces" in c.value for c in at.caption)
    assert any("Nearest words" in c.value for c in at.caption)


def _unseen(wv) -> tuple[str, str]:
    known = next(w for w in wv.words if w.isalpha() and len(w) > 3)
    return known, next(x for x in (known + "s", known + "zz", known + "qq") if x not in wv)


def _plain_model(tiny_corpus, tmp_path):
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    r = Trainer(tiny_corpus, ModelConfig(dim=16, window=3, min_count=1, sample=0),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    return r.save(tmp_path / "plain", name="plain"), r.vectors


def _pieces_trace(at):
    import json

    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [tr for tr in fig["data"] if tr.get("meta") == "built from its pieces"]


def test_the_map_places_an_unseen_word_from_its_pieces_in_the_search_and_the_word_list(tiny_corpus, tmp_path):
    from conftest import open_app_page

    path, wv = _subword_model(tiny_corpus, tmp_path)
    known, unseen = _unseen(wv)
    at = open_app_page("pages/map.py", path, timeout=180)
    at.text_input(key="map_search").set_value(unseen).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not any("not in this model's vocabulary" in w.value for w in at.warning)
    traces = _pieces_trace(at)
    assert len(traces) == 1 and list(traces[0]["customdata"]) == [unseen]  # its own marker, "built from..." hover
    assert any("built from its pieces" in c.value and unseen in c.value and "same projection" in c.value
               for c in at.caption)
    # the word list, with t-SNE: placed near its most similar words on the map, and the page says so
    at.radio(key="map_mode").set_value("My word list").run()
    at.text_area(key="map_words").set_value(" ".join(wv.words[:12] + [unseen])).run()
    at.text_input(key="map_search").set_value("").run()
    at.selectbox(key="map_method").set_value("t-SNE").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [list(t["customdata"]) for t in _pieces_trace(at)] == [[unseen]]
    assert any("similarity-weighted position" in c.value for c in at.caption)


def test_a_plain_model_map_still_says_an_unseen_word_is_unknown(tiny_corpus, tmp_path):
    from conftest import open_app_page

    path, wv = _plain_model(tiny_corpus, tmp_path)
    _, unseen = _unseen(wv)
    at = open_app_page("pages/map.py", path, timeout=180)
    at.text_input(key="map_search").set_value(unseen).run()
    assert not at.exception
    assert any("not in this model's vocabulary" in w.value for w in at.warning)
    assert not _pieces_trace(at)


def test_compare_lists_an_unseen_words_neighbours_in_the_subword_model_only(tiny_corpus, tmp_path, monkeypatch):
    from conftest import APP
    from streamlit.testing.v1 import AppTest

    _, wv = _subword_model(tiny_corpus, tmp_path)
    _plain_model(tiny_corpus, tmp_path)
    _, unseen = _unseen(wv)
    monkeypatch.setenv("W2V_MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["current_model"] = str(tmp_path / "pieces")
    at.switch_page("pages/compare.py").run()
    at.text_input(key="cmp_word").set_value(unseen).run()
    assert not at.exception, at.exception
    assert any("built from its pieces" in c.value and unseen in c.value for c in at.caption)
    assert any("not in the vocabulary" in w.value for w in at.warning)  # the plain model, as before
    assert len([df for df in at.dataframe if "cosine" in df.value.columns]) == 1
