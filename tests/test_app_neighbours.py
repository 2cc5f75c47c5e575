"""Neighbours & analogies page (AppTest): results for known words, helpful messages for unknown ones."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from conftest import open_app_page
from w2v_core import store


def open_page(model_path) -> AppTest:
    return open_app_page("pages/neighbours.py", model_path)


def test_neighbours_show_a_chart_and_a_table_of_scores(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("cat").run()
    at.slider(key="nb_k").set_value(5).run()
    assert not at.exception and not at.warning
    assert len(at.get("plotly_chart")) == 1
    df = at.dataframe[0].value
    expected = store.load_model(tiny_model).vectors.most_similar("cat", topn=5)
    assert list(df["word"]) == [w for w, _ in expected]
    assert list(df["cosine"].round(5)) == [round(s, 5) for _, s in expected]
    assert "cat" not in set(df["word"])


def test_unknown_word_gets_close_spellings_not_an_exception(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("hors").run()
    assert not at.exception
    msgs = [w.value for w in at.warning]
    assert any("'hors' is not in the vocabulary" in m and "horse" in m for m in msgs)


def test_similarity_of_two_words(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_sim_a").set_value("paris").run()
    at.text_input(key="nb_sim_b").set_value("Rome").run()  # case is forgiven
    assert not at.exception
    m = next(x for x in at.metric if x.label == "cosine(paris, rome)")
    expected = store.load_model(tiny_model).vectors.similarity("paris", "rome")
    assert float(m.value) == round(expected, 3)


def test_analogy_with_both_methods(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_an_a").set_value("france").run()
    at.text_input(key="nb_an_b").set_value("paris").run()
    at.text_input(key="nb_an_c").set_value("italy").run()
    wv = store.load_model(tiny_model).vectors
    for method in ("3CosAdd", "3CosMul"):
        at.radio(key="nb_an_method").set_value(method).run()
        assert not at.exception
        best = wv.most_similar(positive=["paris", "italy"], negative=["france"], topn=1, method=method.lower())[0][0]
        assert any(f"france : paris :: italy : **{best}**" in s.value for s in at.success), method
    table = next(d.value for d in at.dataframe if "answer" in d.value.columns)
    assert {"answer", "score"} <= set(table.columns) and len(table) == 5


def test_odd_one_out(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_odd").set_value("cat, dog, horse, paris").run()
    assert not at.exception
    wv = store.load_model(tiny_model).vectors
    odd = wv.doesnt_match(["cat", "dog", "horse", "paris"])
    assert any(f"The odd one out is **{odd}**" in s.value for s in at.success)
    at.text_input(key="nb_odd").set_value("cat dog").run()
    assert any("at least three words" in w.value for w in at.warning)
