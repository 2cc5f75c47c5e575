"""Map page (AppTest): a named default view, every projection, clicks and selections, search, shared links,
exports and the replay of a training run. The chart's own events cannot be sent through AppTest, so what an event
does is checked on ``map_state.apply_selection`` and on the session keys it writes (the browser test clicks)."""

from __future__ import annotations

import base64
import io
import json
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP, make_model, open_app_page

@pytest.fixture
def map_model():
    """In the server's models folder, so that a link can name it."""
    from w2v_core import store

    return make_model(store.models_dir())


def open_map(model_path, **query) -> AppTest:
    if not query:
        return open_app_page("pages/map.py", model_path, timeout=180)
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["current_model"] = str(model_path)
    at.query_params.update(query)
    at.run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    return at


def figure(at: AppTest, n: int = 0) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "no chart on the page"
    return json.loads(charts[n].proto.spec)


def points(fig: dict) -> list[str]:
    """Every word drawn as a point (not the rings and markers drawn again on top)."""
    out: list[str] = []
    for tr in fig["data"]:
        if tr.get("mode") == "markers" and tr.get("meta") not in ("selected", "highlighted"):
            out += list(tr.get("customdata") or [])
    return out


def names(fig: dict) -> list[str]:
    """The words written on the map: annotations in 2-D, text traces in 3-D."""
    texts = [a["text"] for a in fig["layout"].get("annotations", [])]
    for tr in fig["data"]:
        if tr.get("mode") == "text":
            texts += list(tr["text"])
    return texts


def test_map_without_a_model_points_to_training():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert any("no model yet" in i.value.lower() for i in at.info)


def test_default_view_names_at_least_30_words_without_stop_words(map_model, tmp_path):
    at = open_map(map_model)
    fig = figure(at)
    assert len(points(fig)) == 400 and fig["data"][0]["type"] == "scatter"
    shown = names(fig)
    assert 30 <= len(shown) <= 40 and len(set(shown)) == len(shown)
    # clusters: distinct colours, each named by its words, largest first
    clusters = [tr for tr in fig["data"] if tr.get("mode") == "markers"]
    assert len(clusters) == 12 and len({tr["marker"]["color"] for tr in clusters}) == 12
    assert all(" · " in tr["name"] for tr in clusters)
    assert "UMAP" in at.selectbox(key="map_method").options
    assert any("of the variance" in c.value for c in at.caption)  # PCA says how much it shows
    # a real model with stop words: they are not among the names
    from w2v_core import store
    from w2v_core.vectors import WordVectors

    wv = store.load_model(map_model).vectors
    stop = ["the", "and", "of", "to", "in", "is", "was", "for"]
    path = store.save_model(tmp_path / "with-stop-words", WordVectors(stop + wv.words, np.vstack(
        [wv.vectors[:8], wv.vectors]), np.concatenate([[10**6] * 8, wv.counts])), {"name": "s"})
    assert not set(stop) & set(names(figure(open_map(path))))


def test_a_clicked_word_shows_its_neighbours_with_scores_and_lights_them_up(map_model):
    from ui.map_state import FOCUS, apply_selection

    state: dict = {}
    click = {"points": [{"curve_number": 3, "point_index": 7, "customdata": "tenlo"}], "box": [], "lasso": []}
    apply_selection(state, click)
    assert state == {FOCUS: "tenlo"}
    apply_selection(state, {"points": [], "box": [], "lasso": []})  # a click beside the points changes nothing
    assert state == {FOCUS: "tenlo"}

    at = open_map(map_model)
    word = points(figure(at))[17]
    at.session_state[FOCUS] = word  # what the chart's click does
    at.run()
    assert not at.exception
    assert any(f"Nearest to *{word}*" in m.value for m in at.markdown)
    table = [d for d in at.dataframe if "cosine" in d.value.columns][0].value
    assert len(table) == 10 and table["cosine"].is_monotonic_decreasing and (table["cosine"] <= 1).all()
    from w2v_core import store

    wv = store.load_model(map_model).vectors
    assert list(table["word"]) == [w for w, _ in wv.neighbours(word, 10)]  # the full space, not the plane
    fig = figure(at)
    (hl,) = [tr for tr in fig["data"] if tr.get("meta") == "highlighted"]
    assert hl["customdata"][0] == word and set(hl["customdata"][1:]) == set(table["word"][table["shown"]])
    assert word in names(fig) and set(table["word"][table["shown"]]) <= set(names(fig))
    # Euclidean distances instead, smallest first
    at.radio(key="map_metric").set_value("euclidean").run()
    table = [d for d in at.dataframe if "euclidean" in d.value.columns][0].value
    assert table["euclidean"].is_monotonic_increasing and (table["euclidean"] >= 0).all()
    assert at.query_params["focus"] == word and at.query_params["metric"] == "euclidean"


def test_a_lasso_selection_is_listed_isolated_and_undone(map_model):
    from ui.map_state import SELECTION, apply_selection

    at = open_map(map_model)
    words = points(figure(at))
    chosen = words[10:60]
    state: dict = {}
    apply_selection(state, {"points": [{"customdata": w} for w in chosen], "lasso": [{"x": [0, 1, 1]}], "box": []})
    assert state == {SELECTION: chosen}
    at.session_state[SELECTION] = chosen
    at.run()
    assert any("50 words selected" in m.value for m in at.markdown)
    (ring,) = [tr for tr in figure(at)["data"] if tr.get("meta") == "selected"]
    assert sorted(ring["customdata"]) == sorted(chosen)
    at.button(key="map_isolate").click().run()
    assert not at.exception
    assert sorted(points(figure(at))) == sorted(chosen)  # projected again, on their own
    assert at.radio(key="map_mode").value == "My word list"
    assert len(names(figure(at))) >= 20  # a short list: every word that fits is named
    at.button(key="map_back").click().run()
    assert len(points(figure(at))) == 400


def test_search_adds_any_word_with_its_neighbours_and_suggests_spellings(map_model):
    from w2v_core import store

    wv = store.load_model(map_model).vectors
    at = open_map(map_model)
    at.slider(key="map_n").set_value(100).run()
    rare = wv.words[350]
    at.text_input(key="map_search").set_value(rare.upper()).run()  # case is forgiven
    fig = figure(at)
    on_map = set(points(fig))
    assert len(on_map) >= 101 and rare in on_map
    assert {w for w, _ in wv.neighbours(rare, 10)} <= on_map
    assert [tr for tr in fig["data"] if tr.get("meta") == "highlighted"][0]["customdata"][0] == rare
    assert any("added by the search" in c.value for c in at.caption)

    at.text_input(key="map_search").set_value(rare + "x").run()
    assert any("not in this model's vocabulary" in w.value for w in at.warning)
    buttons = [b for b in at.button if b.key and b.key.startswith("map_dym_")]
    assert buttons and buttons[0].label == rare
    buttons[0].click().run()
    assert at.text_input(key="map_search").value == rare and rare in set(points(figure(at)))


def test_an_empty_word_list_explains_and_offers_examples(map_model):
    at = open_map(map_model)
    at.radio(key="map_mode").set_value("My word list").run()
    assert not at.get("plotly_chart") and at.info
    at.button(key="map_example_list").click().run()
    assert len(points(figure(at))) >= 6
    at.radio(key="map_mode").set_value("A word and its neighbours").run()
    example = [b for b in at.button if b.key and b.key.startswith("map_example_")][0]
    example.click().run()
    fig = figure(at)
    assert len(points(fig)) == 51  # the word + 50 neighbours, the word marked
    assert [tr for tr in fig["data"] if tr.get("meta") == "highlighted"][0]["customdata"][0] == example.label


@pytest.mark.parametrize("method", ["t-SNE", "UMAP"])
@pytest.mark.parametrize("dims", ["2-D", "3-D"])
def test_neighbourhood_projections_render(map_model, method, dims):
    at = open_map(map_model)
    at.selectbox(key="map_method").set_value(method).run()
    at.radio(key="map_dims").set_value(dims).run()
    assert not at.exception and not at.error
    fig = figure(at)
    assert fig["data"][0]["type"] == ("scatter3d" if dims == "3-D" else "scatter")
    assert len(points(fig)) == 400 and len(names(fig)) >= 8  # tight made-up clusters: a few names fit on each


def test_pca_components_custom_axes_and_spherize(map_model):
    at = open_map(map_model)
    at.number_input(key="map_pc_y").set_value(3).run()
    assert figure(at)["layout"]["yaxis"]["title"]["text"].startswith("PC3 (")
    at.toggle(key="map_spherize").set_value(True).run()
    assert not at.exception and len(points(figure(at))) == 400
    from w2v_core import store

    wv = store.load_model(map_model).vectors
    at.selectbox(key="map_method").set_value("Custom axes").run()
    at.text_input(key="map_axis_x").set_value(f"{wv.words[0]} -> {wv.words[1]}").run()
    at.text_input(key="map_axis_y").set_value(wv.words[2]).run()
    fig = figure(at)
    assert fig["layout"]["xaxis"]["title"]["text"] == f"{wv.words[0]} → {wv.words[1]}"
    xs = np.concatenate([np.frombuffer(base64.b64decode(tr["x"]["bdata"]), tr["x"]["dtype"])
                         if isinstance(tr["x"], dict) else np.asarray(tr["x"]) for tr in fig["data"]
                         if tr.get("mode") == "markers"])
    assert np.abs(xs).max() <= 1.0 + 1e-5  # cosines
    at.text_input(key="map_axis_y").set_value("nosuchword").run()
    assert not at.exception and any("nosuchword" in e.value for e in at.error)


def test_thirty_clusters_stay_distinct_and_density_draws_contours(map_model):
    at = open_map(map_model)
    at.slider(key="map_k").set_value(30).run()
    clusters = [tr for tr in figure(at)["data"] if tr.get("mode") == "markers"]
    assert len(clusters) == 30 and len({tr["marker"]["color"] for tr in clusters}) == 30
    at.toggle(key="map_density").set_value(True).run()
    assert figure(at)["data"][0]["type"] == "contour"
    at.selectbox(key="map_colour").set_value("Word frequency").run()
    assert "colorbar" in figure(at)["data"][-1]["marker"] or any("colorbar" in tr.get("marker", {})
                                                                  for tr in figure(at)["data"])


def test_a_copied_link_restores_the_view(map_model):
    at = open_map(map_model)
    at.slider(key="map_n").set_value(200).run()
    at.selectbox(key="map_method").set_value("t-SNE").run()
    at.radio(key="map_dims").set_value("3-D").run()
    at.slider(key="map_k").set_value(5).run()
    at.session_state["map_focus"] = points(figure(at))[3]
    at.run()
    before = figure(at)
    link = [c.value for c in at.get("code")][0]
    params = dict(at.query_params)
    assert link.endswith("?" + urlencode(params)) and params["method"] == "tsne"

    fresh = AppTest.from_file(APP, default_timeout=180)  # a new tab: a new session, knowing nothing but the URL
    fresh.query_params.update(params)
    fresh.run()
    fresh.switch_page("pages/map.py").run()
    assert not fresh.exception
    after = figure(fresh)
    assert fresh.selectbox(key="map_method").value == "t-SNE" and fresh.radio(key="map_dims").value == "3-D"
    assert fresh.slider(key="map_n").value == 200 and fresh.slider(key="map_k").value == 5
    assert points(after) == points(before) and names(after) == names(before)
    assert [tr.get("name") for tr in after["data"]] == [tr.get("name") for tr in before["data"]]


def test_a_hand_written_link_may_use_the_labels_the_page_shows(map_model):
    """Someone typing a link writes what they see ('3-D', 'UMAP'); a value that means nothing keeps the default."""
    at = open_map(map_model, dims="3-D", method="UMAP", colour="nonsense", n="150")
    assert at.radio(key="map_dims").value == "3-D" and at.selectbox(key="map_method").value == "UMAP"
    assert at.slider(key="map_n").value == 150 and len(points(figure(at))) == 150
    assert at.selectbox(key="map_colour").value == "Clusters"


def test_a_link_to_another_model_switches_to_it_and_a_missing_one_warns(map_model, tmp_path):
    from w2v_core import store

    other = make_model(store.models_dir(), n=150, seed=1, name="other-model")
    at = open_map(map_model, model=other.name)
    assert len(points(figure(at))) == 150
    at = open_map(map_model, model="../../etc")
    assert any("not on this server" in w.value for w in at.warning) and len(points(figure(at))) == 400


def test_big_maps_draw_with_webgl_and_tsne_is_capped(tmp_path):
    path = make_model(tmp_path, n=3200, k=10)
    at = open_map(path)
    at.slider(key="map_n").set_value(3200).run()
    fig = figure(at)
    assert {tr["type"] for tr in fig["data"] if tr.get("mode") == "markers"} == {"scattergl"}
    assert len(points(fig)) == 3200 and len(names(fig)) >= 30
    from w2v_core.projection import MAX_TSNE_POINTS

    at.selectbox(key="map_method").set_value("t-SNE").run()
    assert any("at most" in i.value for i in at.info) and len(points(figure(at))) == MAX_TSNE_POINTS
    from ui.map_view import MAX_3D, cap_points
    from w2v_core.projection import map_knobs

    assert cap_points(MAX_3D + 1, map_knobs("pca", 3))[0] == MAX_3D  # a big cloud turns too slowly in 3-D
    assert cap_points(MAX_3D + 1, map_knobs("pca", 2)) == (MAX_3D + 1, None)


def test_coordinates_download_and_picture_export(map_model):
    at = open_map(map_model)
    csv = at.get("download_button")[0]
    assert csv.label == "Coordinates (CSV)" and csv.proto.url.endswith(".csv")
    # AppTest does not hand out a download's bytes: the table behind the button is checked here
    from ui import exports, map_panels, map_view
    from w2v_core import explorer, projection, store

    m = store.load_model(map_model)
    words = m.vectors.words[:50]
    proj = projection.project_map(m.vectors, words, "pca", 2)
    clusters = map_view.Colouring("clusters", explorer.name_clusters(m.vectors.vectors[:50], words, 4))
    df = pd.read_csv(io.StringIO(exports.coordinates_csv(map_panels._table(words, proj, clusters, m.vectors))))
    assert list(df.columns) == ["word", "x", "y", "cluster", "count", "rank"] and len(df) == 50
    assert exports.coordinates_file_name(map_model, "pca", 2) == "map-model-pca-2d.csv"
    got = map_view.png_svg(map_view.map_figure(words, proj.coords, proj.axis_titles, clusters,
                                               np.arange(10), map_view.Highlights()))
    if isinstance(got, str):  # no kaleido or no browser for it here: a sentence, never an exception
        assert "camera button" in got
    else:
        assert got[0][:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in got[1][:2000]


# ---------------------------------------------------------------------------------------------- watch it learn


@pytest.fixture
def trained_with_snapshots(tiny_corpus):
    from w2v_core.models import ModelConfig
    from w2v_core.serve.jobs import TrainingJob
    from w2v_core.training import TrainConfig

    job = TrainingJob(model_config=ModelConfig(dim=16, window=3, min_count=1, sample=0),
                      train_config=TrainConfig(epochs=4, threads=1, seed=1, report_every=0.0), corpus=tiny_corpus)
    job.start().join(120)
    assert job.state().status == "done"
    return job.state().path


def test_the_training_animation_plays_for_a_finished_run(trained_with_snapshots):
    from w2v_core.snapshots import load_snapshots

    snaps = load_snapshots(trained_with_snapshots)
    at = open_map(trained_with_snapshots)
    at.segmented_control(key="map_view").set_value("Watch it learn").run()
    assert not at.exception
    at.text_input(key="map_learn_words").set_value("cat paris").run()
    fig = figure(at)
    frames = fig["frames"]
    assert len(frames) == len(snaps) >= 4
    (play,) = [b for menu in fig["layout"]["updatemenus"] for b in menu["buttons"] if "Play" in b["label"]]
    assert play["method"] == "animate"
    steps = [s["label"] for s in fig["layout"]["sliders"][0]["steps"]]
    assert len(steps) == len(snaps)
    assert steps[0] == "0%" and steps[-1] == "100%" and all(t.endswith("%") for t in steps)  # one unit (issue 24)
    first, last = frames[0]["layout"]["annotations"][0]["text"], frames[-1]["layout"]["annotations"][0]["text"]
    assert "start" in first and "end of epoch 4 of 4" in last and "cat" in last and "paris" in last
    assert first.split("cat</b></span>: ")[1] != last.split("cat</b></span>: ")[1]  # the neighbours changed
    assert at.query_params["view"] == "learn"
    assert at.table and "cat" in at.table[0].value.columns


def test_a_model_without_a_training_record_says_so(map_model):
    at = open_map(map_model, view="learn")
    assert not at.exception and any("no record of its training" in i.value for i in at.info)


def test_the_train_page_live_map_shows_the_words_as_they_are(tiny_corpus):
    """ui.map_learn.live_map on a job whose recorder has a snapshot (as the Train page calls it while a run goes)."""
    from w2v_core.models import ModelConfig
    from w2v_core.serve.jobs import TrainingJob
    from w2v_core.training import TrainConfig

    job = TrainingJob(model_config=ModelConfig(dim=16, window=3, min_count=1, sample=0),
                      train_config=TrainConfig(epochs=2, threads=1, seed=1), corpus=tiny_corpus)
    job.start().join(120)

    def page(job):
        from ui import map_learn

        map_learn.live_map(job, n_words=30, n_labels=10)

    at = AppTest.from_function(page, args=(job,), default_timeout=60).run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert 10 <= len(fig["data"][0]["customdata"]) <= 30 and "the" not in fig["data"][1]["text"]


def test_words_that_look_like_markup_show_as_typed(tmp_path):
    """'<unk>' (WikiText's unknown word) must not vanish as an HTML tag in Plotly's texts, nor '*' turn italic."""
    from w2v_core import store
    from w2v_core.vectors import WordVectors

    wv = store.load_model(make_model(tmp_path, n=100)).vectors
    words = ["<unk>", "*star*"] + wv.words[2:]
    path = store.save_model(store.models_dir() / "odd", WordVectors(words, wv.vectors, wv.counts), {"name": "odd"})
    at = open_map(path)
    fig = figure(at)
    assert "&lt;unk&gt;" in names(fig) and "<unk>" not in names(fig)
    assert "<unk>" in points(fig)  # the word itself still rides with its point (clicks report it)
    assert any("&lt;unk&gt;" in (tr.get("hovertext") or []) for tr in fig["data"])
    at.text_input(key="map_search").set_value("*star").run()
    (button,) = [b for b in at.button if b.key == "map_dym_*star*"]
    assert button.label == "\\*star\\*"


def test_the_link_forgets_a_word_list_once_back_on_the_most_frequent_words(map_model):
    """The share link kept a stale words=... after going back to "Most frequent words" (issue 24)."""
    at = open_map(map_model)
    words = points(figure(at))[:5]
    at.radio(key="map_mode").set_value("My word list").run()
    at.text_area(key="map_words").set_value(" ".join(words)).run()
    assert at.query_params["words"] == " ".join(words) and at.query_params["mode"] == "list"
    at.radio(key="map_mode").set_value("Most frequent words").run()
    assert "words" not in at.query_params and "mode" not in at.query_params
    link = [c.value for c in at.get("code")][0]
    assert "words=" not in link
    at.selectbox(key="map_method").set_value("t-SNE").run()
    at.slider(key="map_perplexity").set_value(10).run()
    assert at.query_params["perplexity"] == "10"
    at.selectbox(key="map_method").set_value("PCA").run()
    assert "perplexity" not in at.query_params


def test_searching_a_word_on_the_map_lights_it_up_in_place(map_model):
    """It re-projected and re-clustered the whole map (500 -> 511 words, new names, new layout) (issue 24)."""
    at = open_map(map_model)
    before = figure(at)
    word = points(before)[40]
    at.text_input(key="map_search").set_value(word).run()
    assert not at.exception
    after = figure(at)
    assert points(after) == points(before)  # the same words, in the same places
    xy = lambda f: [(tr.get("x"), tr.get("y")) for tr in f["data"] if tr.get("meta") not in ("selected", "highlighted")
                    and tr.get("mode") == "markers"]  # noqa: E731
    assert xy(after) == xy(before)
    assert [tr for tr in after["data"] if tr.get("meta") == "highlighted"][0]["customdata"][0] == word
    assert not any("added by the search" in c.value for c in at.caption)


def test_a_selected_groups_names_do_not_overlap():
    """A box-selected group used to be named all at once, on top of each other: now each name takes a free side of
    its point (above, below, beside), the group's words first."""
    from test_explorer import _overlap, _side_box

    from ui import map_view

    rng = np.random.default_rng(3)
    coords = np.vstack([rng.normal(size=(300, 2)) * 3, rng.normal(size=(12, 2)) * 0.6])  # a tight group of 12
    words = [f"w{i:03d}" for i in range(312)]
    group = words[300:]
    labels = map_view.label_indices(coords, words, -np.arange(312.0), map_view.Highlights(selected=group), 40)
    boxes = [_side_box(coords, words, i, side, *map_view.PLOT_PX, font_px=11) for i, side in labels.items()]
    assert not any(_overlap(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:])
    assert sum(words[i] in group for i in labels) >= 8 and list(labels)[0] >= 300  # the group is named first


def test_custom_axes_default_to_topics_the_model_knows():
    """man -> woman by bad -> good was a shapeless cloud over a small model's frequent words; the default axes are
    topics (people -> country, war -> music on the bundled sample: people/children/men against republic/province,
    war/forces/civil against music/science/theory), falling back to other pairs the model knows."""
    from types import SimpleNamespace

    from ui import map_state

    def wv(words):
        return SimpleNamespace(words=words, index={w: i for i, w in enumerate(words)})

    d = map_state.defaults(wv(["the", "people", "country", "war", "music", "man", "woman"]), frozenset())
    assert (d["map_axis_x"], d["map_axis_y"]) == ("people -> country", "war -> music")
    d = map_state.defaults(wv(["the", "man", "woman", "bad", "good", "of"]), frozenset())
    assert (d["map_axis_x"], d["map_axis_y"]) == ("man -> woman", "bad -> good")
    d = map_state.defaults(wv(["a", "b", "c", "d", "e", "f"]), frozenset())
    assert (d["map_axis_x"], d["map_axis_y"]) == ("a -> b", "c -> d")


def test_custom_axes_legend_sits_below_their_tick_labels_and_title():
    """On custom axes (ticks and an x title shown) the cluster legend covered the x axis's title."""
    from ui import map_view
    from w2v_core import explorer

    coords = np.random.default_rng(0).normal(size=(30, 2))
    words = [f"w{i}" for i in range(30)]
    cl = explorer.name_clusters(np.random.default_rng(1).normal(size=(30, 8)), words, 3)
    fig = {ticks: map_view.map_figure(words, coords, ["people → country", "war → music"],
                                      map_view.Colouring("clusters", cl), {}, map_view.Highlights(), show_ticks=ticks)
           for ticks in (False, True)}
    assert fig[True].layout.legend.y < fig[False].layout.legend.y <= -0.05
