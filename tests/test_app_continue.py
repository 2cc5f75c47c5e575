"""Continue training in the app (AppTest): from the Models page's button or the Train page's "Start from" choice,
through the same job queue; the chart draws the parent's curve first; the card shows the lineage; "What changed"
lists moved and new words; a gallery model's child goes to the visitor's own workspace, the parent untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP
from test_app_train import run_until_finished
from ui import continue_view, session
from w2v_core import store
from w2v_core.models import ModelConfig
from w2v_core.training import TrainConfig, Trainer


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(folder).iterdir())}


@pytest.fixture
def parent_model(tiny_corpus):
    np.random.seed(0)
    r = Trainer(tiny_corpus, ModelConfig(arch="cbow", dim=10, window=3, min_count=1, sample=0),
                TrainConfig(epochs=3, threads=1, seed=1)).train()
    return r.save(store.models_dir() / "parent", name="parent")


def continued_run(at: AppTest) -> None:
    """Lee news, 5k tokens, 1 epoch, min count 3 (the dimension is the parent's: its slider is locked)."""
    at.selectbox(key="corpus_source").set_value("lee")
    at.select_slider(key="corpus_size").set_value(5_000)
    at.slider(key="train_epochs").set_value(1)
    at.slider(key="corpus_min_count").set_value(3)
    at.button(key="train_start").click().run()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=90).run()


def test_continue_from_the_models_page_trains_a_child_with_its_lineage_and_what_changed(parent_model):
    before = _digest(parent_model)
    at = app()
    at.switch_page("pages/models.py").run()
    assert not at.exception
    at.button(key="models_continue_0").click().run()  # opens the Train page with the parent chosen
    assert not at.exception
    assert at.session_state[continue_view.INIT_KEY] == str(parent_model)
    assert any("Train" in t.value for t in at.title)
    at.switch_page("pages/train.py").run()  # AppTest's next run would go back to the page it was switched to last
    assert at.radio(key="train_arch").value == "CBOW" and at.radio(key="train_arch").disabled
    assert at.select_slider(key="train_dim").disabled
    assert any("Continuing **parent**" in c.value for c in at.caption)
    continued_run(at)  # Lee news: many words the tiny parent never saw
    run_until_finished(at)
    job = at.session_state["train_job"]
    s = job.state()
    assert s.status == "done" and job.parent == str(parent_model), (s.status, s.error)
    child = store.read_record(s.path)
    assert child.name.startswith("parent+lee") and child.model.arch == "cbow" and child.dim == 10
    lineage = child.config["lineage"]
    assert lineage["parent"] == "parent" and lineage["new_words"] > 100 and lineage["epochs_total"] == 4
    assert any(c.value.startswith(":material/family_history: Continued from") for c in at.caption)
    assert _digest(parent_model) == before
    # the parent's curve is drawn first, the child's after the parent's 3 epochs
    points, offset = continue_view.parent_curve(job)
    assert offset == 3 and points
    at.toggle(key="train_changed").set_value(True).run()
    assert not at.exception
    assert len(at.dataframe) == 3 and "mean aligned cosine" in " ".join(c.value for c in at.caption)
    new = at.dataframe[1].value
    assert len(new) > 0 and set(new["word"]) <= set(store.load_model(s.path).vectors.words)
    assert not set(new["word"]) & set(store.load_model(parent_model).vectors.words)


def test_a_gallery_models_child_is_saved_in_the_visitors_workspace(parent_model, tmp_path, monkeypatch):
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    shutil.copytree(parent_model, gallery / "teacher")
    store.rename_model(gallery / "teacher", "teacher")
    before = _digest(gallery / "teacher")
    monkeypatch.setenv("W2V_MODE", "shared")
    monkeypatch.setenv("W2V_GALLERY_DIR", str(gallery))
    at = app()
    at.session_state[continue_view.INIT_KEY] = str(gallery / "teacher")
    at.switch_page("pages/train.py").run()
    assert not at.exception
    continued_run(at)
    run_until_finished(at)
    s = at.session_state["train_job"].state()
    ws = session._workspace_for(at.session_state[session.WORKSPACE])
    assert s.status == "done" and Path(s.path).parent == ws.models, (s.status, s.error)
    assert sorted(p.name for p in gallery.iterdir()) == ["teacher"] and _digest(gallery / "teacher") == before
    assert store.read_record(s.path).config["lineage"]["parent"] == "teacher"
