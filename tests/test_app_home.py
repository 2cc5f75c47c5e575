"""Home page (AppTest): the app starts, explains itself, links the path, and shows the current model's card."""

from __future__ import annotations

import shutil

from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core import store


def test_home_without_a_model_points_to_training():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Word2Vec Explorer"
    assert at.session_state["current_model"] is None
    text = " ".join(m.value for m in at.markdown)
    assert "Train word2vec" in text
    assert any("No model yet" in i.value for i in at.info)
    buttons = {b.label: b for b in at.button}
    assert "1. Train a model" in buttons and "2. Map the words" in buttons
    assert [b.label for b in at.button if b.proto.type == "primary"] == ["1. Train a model"]  # the next step
    buttons["1. Train a model"].click().run()
    assert not at.exception and at.button(key="train_start")  # it is a real way in: the Train page


def test_first_load_picks_the_newest_saved_model_and_shows_its_card(tiny_model):
    shutil.copytree(tiny_model, store.models_dir() / "tiny-model")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.session_state["current_model"] == str(store.models_dir() / "tiny-model")
    labels = [m.label for m in at.metric]
    assert {"Vocabulary", "Dimension", "Final loss", "Training time"} <= set(labels)
    vocab = next(m.value for m in at.metric if m.label == "Vocabulary")
    assert int(vocab.replace(",", "")) == len(store.load_model(tiny_model).vectors)
    assert any("tiny-model" in m.value for m in at.markdown)
    assert [b.label for b in at.button if b.proto.type == "primary"] == ["2. Map the words"]  # a model: map it next


def test_a_deleted_current_model_falls_back_without_crashing(tiny_model):
    dst = store.models_dir() / "tiny-model"
    shutil.copytree(tiny_model, dst)
    at = AppTest.from_file(APP, default_timeout=60).run()
    shutil.rmtree(dst)
    at.run()
    assert not at.exception
    assert at.session_state["current_model"] is None
