"""Neighbours & analogies page (AppTest): results for known words, help and clickable spellings for the rest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from conftest import open_app_page
from w2v_core import store


def open_page(model_path) -> AppTest:
    return open_app_page("pages/neighbours.py", model_path)


def test_neighbours_chart_shows_the_scores_on_an_axis_that_shows_their_differences(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("cat").run()
    at.slider(key="nb_k").set_value(5).run()
    assert not at.exception and not at.warning
    charts = at.get("plotly_chart")
    assert len(charts) == 1  # one view of the neighbours, not a chart and the same table again
    assert not [d for d in at.dataframe if "cosine" in d.value.columns]
    import json
    fig = json.loads(charts[0].proto.spec)
    trace = fig["data"][0]
    expected = store.load_model(tiny_model).vectors.most_similar("cat", topn=5)
    assert list(trace["y"])[::-1] == [w for w, _ in expected]  # best at the top
    assert trace["text"][::-1] == [f"{s:.3f}" for _, s in expected]
    lo, hi = fig["layout"]["xaxis"]["range"]
    assert lo > 0 and lo < min(s for _, s in expected) and hi > max(s for _, s in expected)  # not from 0


def test_an_empty_word_shows_help_and_examples_are_clickable(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("").run()
    assert not at.exception and not at.get("plotly_chart")
    assert any("Type a word" in i.value for i in at.info)
    chips = at.pills(key="nb_try")  # none of the showcase words: this model's own frequent words
    assert len(chips.options) >= 3
    chips.set_value(chips.options[1]).run()
    assert at.text_input(key="nb_word").value == chips.options[1] and len(at.get("plotly_chart")) == 1


def test_unknown_word_offers_close_spellings_as_buttons(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("hors").run()
    assert not at.exception
    assert any("'hors' is not in the vocabulary" in w.value for w in at.warning)
    fix = at.pills(key="nb_fix")
    assert "horse" in fix.options
    fix.set_value("horse").run()
    assert at.text_input(key="nb_word").value == "horse" and not at.warning


def test_similarity_of_two_words(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_sim_a").set_value("paris").run()
    at.text_input(key="nb_sim_b").set_value("Rome").run()  # case is forgiven
    assert not at.exception
    m = next(x for x in at.metric if x.label == "cosine(paris, rome)")
    expected = store.load_model(tiny_model).vectors.similarity("paris", "rome")
    assert float(m.value) == round(expected, 3)


def test_similarity_says_the_same_rank_as_the_neighbours_list(tiny_model):
    """'july' is 2nd in january's list: the Similarity tab must say 2, not 3 (issue 24)."""
    wv = store.load_model(tiny_model).vectors
    listed = [w for w, _ in wv.most_similar("cat", topn=3)]
    at = open_page(tiny_model)
    for i, w in enumerate(listed, 1):
        at.text_input(key="nb_sim_a").set_value("cat").run()
        at.text_input(key="nb_sim_b").set_value(w).run()
        assert not at.exception
        assert any(f"'{w}' is neighbour number {i} of 'cat'" in c.value for c in at.caption), [c.value for c in at.caption]


def test_analogy_says_where_the_expected_answer_ranks_and_is_green_only_when_right(tiny_model):
    at = open_page(tiny_model)
    wv = store.load_model(tiny_model).vectors
    for k, v in (("a", "france"), ("b", "paris"), ("c", "italy"), ("d", "")):
        at.text_input(key=f"nb_an_{k}").set_value(v).run()
    for method in ("3CosAdd", "3CosMul"):
        at.radio(key="nb_an_method").set_value(method).run()
        assert not at.exception
        ranked = [w for w, _ in wv.most_similar(positive=["paris", "italy"], negative=["france"], topn=len(wv),
                                                method=method.lower())]
        assert any(f"france : paris :: italy : **{ranked[0]}**" in i.value for i in at.info), method
        assert not at.success  # no expected answer given: nothing to call right
    table = next(d.value for d in at.dataframe if "answer" in d.value.columns)
    assert {"answer", "score"} <= set(table.columns) and len(table) == 5
    at.radio(key="nb_an_method").set_value("3CosAdd").run()
    ranked = [w for w, _ in wv.most_similar(positive=["paris", "italy"], negative=["france"], topn=len(wv))]
    right, wrong = ranked[0], ranked[3]
    at.text_input(key="nb_an_d").set_value(right).run()
    assert any("first choice" in s.value for s in at.success) and not at.warning
    at.text_input(key="nb_an_d").set_value(wrong).run()
    assert not at.success  # a wrong answer is never shown as a success
    assert any(f"answer number 4 of {len(wv):,}" in w.value for w in at.warning), [w.value for w in at.warning]
    at.text_input(key="nb_an_d").set_value(ranked[9]).run()  # further down than the 5 answers shown
    table = next(d.value for d in at.dataframe if "answer" in d.value.columns)
    assert list(table.index) == [1, 2, 3, 4, 5, 10] and table.loc[10, "expected"] == "✓"


def test_analogy_examples_fill_all_four_fields(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_an_a").set_value("").run()
    assert any("Fill in a, b and c" in i.value for i in at.info)
    # the tiny corpus has none of the showcase analogies, so there is no chip to click
    assert not [p for p in at.pills if p.key == "nb_an_try"]


def test_odd_one_out(tiny_model):
    at = open_page(tiny_model)
    at.text_input(key="nb_odd").set_value("cat, dog, horse, paris").run()
    assert not at.exception
    wv = store.load_model(tiny_model).vectors
    odd = wv.doesnt_match(["cat", "dog", "horse", "paris"])
    assert any(f"**{odd}**" in s.value for s in at.info) and not at.success
    at.text_input(key="nb_odd").set_value("cat dog").run()
    assert any("at least three words" in w.value for w in at.warning)
    at.text_input(key="nb_odd").set_value("cat dog hors").run()
    at.pills(key="nb_odd_fix").set_value("horse").run()
    assert at.text_input(key="nb_odd").value == "cat dog horse"


def test_a_phrase_is_explained_and_an_unknown_word_said_once(tiny_model):
    """"new york" got "did you mean network"; "Try a more common word." was printed twice (issue 24)."""
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("new york").run()
    assert not at.exception
    assert any("one word at a time" in w.value for w in at.warning)
    assert not [p for p in at.pills if p.key == "nb_fix"]
    at.text_input(key="nb_word").set_value("qqqqzzzz").run()
    text = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert sum(t.count("Try a more common word") for t in text) == 1, text


def test_the_neighbours_axis_stays_within_a_cosines_range(tiny_model):
    import json
    at = open_page(tiny_model)
    at.text_input(key="nb_word").set_value("cat").run()
    lo, hi = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["xaxis"]["range"]
    assert -1 <= lo < hi <= 1


def test_an_undertrained_model_says_so_where_its_neighbours_are_shown(tmp_path):
    """Undertrained models looked like trained ones: every neighbour scored 0.99, nothing warned (issue 24)."""
    import numpy as np

    from w2v_core.vectors import WordVectors

    rng = np.random.default_rng(0)
    words = [f"{a}{b}" for a in "bcdfghjklm" for b in ("ar", "en", "is", "ot", "us")] * 1
    vecs = (3 + rng.normal(size=(len(words), 16)) * 0.2).astype(np.float32)  # all pointing the same way
    path = store.save_model(tmp_path / "crowded", WordVectors(words, vecs, np.arange(len(words))[::-1] + 20),
                            {"name": "crowded"})
    at = open_page(path)
    at.text_input(key="nb_word").set_value(words[0]).run()
    assert any("mean cosine" in w.value and "more epochs" in w.value for w in at.warning)
