"""Map page (AppTest): PCA and t-SNE maps render with hover words, colours, highlight, CSV; bad input explains."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP, open_app_page


def open_map(model_path) -> AppTest:
    return open_app_page("pages/map.py", model_path, timeout=120)


def figure(at: AppTest) -> dict:
    import json

    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def words_on_map(fig: dict) -> set[str]:
    out = set()
    for tr in fig["data"]:
        out |= set(tr.get("hovertext") or [])
    return out


def test_map_without_a_model_points_to_training():
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert any("no model yet" in i.value.lower() for i in at.info)


def test_pca_map_shows_every_word_with_clusters(tiny_model):
    at = open_map(tiny_model)
    fig = figure(at)
    words = words_on_map(fig)
    assert {"cat", "dog", "paris", "france"} <= words
    assert len([t for t in fig["data"] if t["type"] == "scatter"]) >= 2  # one trace per k-means cluster
    assert not at.error


@pytest.mark.parametrize("dims", ["2-D", "3-D"])
def test_tsne_map_renders(tiny_model, dims):
    at = open_map(tiny_model)
    at.radio(key="map_method").set_value("t-SNE").run()
    at.radio(key="map_dims").set_value(dims).run()
    assert not at.exception and not at.error
    assert at.slider(key="map_perplexity") is not None and at.slider(key="map_iter") is not None
    fig = figure(at)
    assert fig["data"][0]["type"] == ("scatter3d" if dims == "3-D" else "scatter")
    assert "cat" in words_on_map(fig)


def test_word_list_with_an_unknown_word_warns_and_maps_the_rest(tiny_model):
    at = open_map(tiny_model)
    at.radio(key="map_mode").set_value("My word list").run()
    at.text_area(key="map_words").set_value("cat dog horse paris rome berlin catt").run()
    assert not at.exception
    assert any("'catt' is not in the vocabulary" in w.value and "cat" in w.value for w in at.warning)
    assert words_on_map(figure(at)) == {"cat", "dog", "horse", "paris", "rome", "berlin"}


def test_too_few_words_is_an_error_not_a_crash(tiny_model):
    at = open_map(tiny_model)
    at.radio(key="map_mode").set_value("My word list").run()
    at.text_area(key="map_words").set_value("cat dog").run()
    at.radio(key="map_method").set_value("t-SNE").run()
    assert not at.exception
    assert any("at least" in e.value for e in at.error)


def test_search_highlights_a_word_and_its_neighbours(tiny_model):
    at = open_map(tiny_model)
    at.text_input(key="map_search").set_value("Paris").run()  # case is forgiven
    fig = figure(at)
    hl = [t for t in fig["data"] if t.get("name") == "highlighted"]
    assert hl and hl[0]["text"][0] == "paris" and len(hl[0]["text"]) == 11  # the word + 10 neighbours
    at.text_input(key="map_search").set_value("zzzz").run()
    assert any("not in the vocabulary" in w.value for w in at.warning)


def test_neighbour_mode_and_frequency_colours(tiny_model):
    at = open_map(tiny_model)
    at.radio(key="map_mode").set_value("A word and its neighbours").run()
    at.text_input(key="map_center").set_value("cat").run()
    at.slider(key="map_center_n").set_value(6).run()
    at.radio(key="map_colour").set_value("Word frequency").run()
    assert not at.exception
    fig = figure(at)
    assert "cat" in words_on_map(fig) and len(words_on_map(fig)) == 7
    assert "coloraxis" in fig["layout"]


def test_coordinates_download_as_csv(tiny_model):
    at = open_map(tiny_model)
    (button,) = at.get("download_button")
    assert button.label == "Download coordinates (CSV)" and button.proto.url.endswith(".csv")
    # AppTest does not hand out a download's bytes: what the button holds is made by ui.exports, checked here
    from ui import exports

    words = sorted(words_on_map(figure(at)))
    frame = pd.DataFrame({"word": words, "x": range(len(words)), "y": range(len(words)), "cluster": "cluster 1",
                          "count": 3, "highlight": False})
    df = pd.read_csv(io.StringIO(exports.coordinates_csv(frame)))
    assert list(df.columns) == ["word", "x", "y", "cluster", "count"]
    assert len(df) == 29 and "paris" in set(df["word"])
    assert exports.coordinates_file_name(tiny_model, "pca", 2) == "tiny-model-pca-2d.csv"
