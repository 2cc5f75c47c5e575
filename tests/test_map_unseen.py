"""Unseen words of a subword model on a map (w2v_core, no Streamlit): placed from their n-gram vectors."""

from __future__ import annotations

import numpy as np
import pytest

from w2v_core import explorer, map_unseen, projection


@pytest.fixture(scope="module")
def sub_wv():
    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    texts = ["the city council met the government of the city and the cities grew",
             "a town and a village and a city near the river", "the people of the town met the council"] * 20
    corpus = from_texts(texts, name="tiny", config=CorpusConfig(source="x"))
    r = Trainer(corpus, ModelConfig(dim=12, min_count=1, sample=0, subwords=True, buckets=5_000),
                TrainConfig(epochs=2, threads=1, seed=1)).train()
    return r.vectors


def test_search_puts_an_unseen_word_and_its_neighbours_on_the_map(sub_wv):
    assert "citys" not in sub_wv and sub_wv.built_from_pieces("citys")
    s = explorer.search_map(sub_wv, "Citys", sub_wv.words[:5], n=3)
    assert s.word == "citys" and s.added[0] == "citys" and len(s.neighbours) == 3 and not s.suggestions


def test_pca_places_an_unseen_word_through_the_fitted_projection(sub_wv):
    words = [w for w in sub_wv.words if w != "city"]
    proj = projection.project_map(sub_wv, words, "pca", 2)
    placed = map_unseen.place_unseen(sub_wv, proj, ["citys"])
    assert placed.words[-1] == "citys" and placed.pieces == ("citys",)
    np.testing.assert_allclose(np.abs(placed.coords[:-1]), np.abs(proj.coords), atol=1e-4)  # the map is kept
    # a vocabulary word's own vector, placed as if unseen, lands exactly where PCA put the word: the same linear map
    class Copy:  # the same model, with "city2" an unseen word whose vector is city's
        index, vectors, dim = sub_wv.index, sub_wv.vectors, sub_wv.dim

        @staticmethod
        def get_vector(w):
            return sub_wv.get_vector("city" if w == "city2" else w)

    full = projection.project_map(sub_wv, words + ["city"], "pca", 2)
    again = map_unseen.place_unseen(Copy, full, ["city2"])
    np.testing.assert_allclose(again.coords[-1], again.coords[len(words)], atol=1e-5)
    np.testing.assert_allclose(np.abs(again.coords[:-1]), np.abs(full.coords), atol=1e-4)


def test_tsne_places_an_unseen_word_among_its_nearest_words(sub_wv):
    words = list(sub_wv.words)
    proj = projection.project_map(sub_wv, words, "tsne", 2, perplexity=5, n_iter=250)
    placed = map_unseen.place_unseen(sub_wv, proj, ["citys", "citys"])
    assert placed.pieces == ("citys",) and len(placed.words) == len(words) + 1
    lo, hi = proj.coords.min(axis=0), proj.coords.max(axis=0)
    assert ((placed.coords[-1] >= lo) & (placed.coords[-1] <= hi)).all()  # a weighted mean stays inside the map


def test_map_rows_and_counts_mark_unseen_words(sub_wv):
    words = [sub_wv.words[0], "citys"]
    assert explorer.map_rows(sub_wv, words).tolist() == [0, -1]
    assert explorer.map_matrix(sub_wv, words).shape == (2, sub_wv.dim)
    counts = explorer.map_counts(sub_wv, words)
    assert counts is None or (counts[0] > 0 and counts[1] == 0)
