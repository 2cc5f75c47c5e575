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


def _glove_file(folder: Path, words: list[str], dim: int = 10) -> Path:
    """A GloVe-format text file (one word and its numbers a line, no header), random vectors."""
    rng = np.random.default_rng(0)
    f = folder / "glove.domain.10d.txt"
    f.write_text("".join(w + " " + " ".join(f"{x:.5f}" for x in rng.normal(0, 0.3, dim)) + "\n" for w in words),
                 encoding="utf-8")
    return f


def test_an_imported_glove_file_is_tuned_on_the_sample_and_what_changed_lists_moved_words(tmp_path):
    """The issue's case in the app: a GloVe file covering the sample's 300 most frequent words (plus one the sample
    lacks) is imported, continued on the sample from the Train page, and the "What changed" view lists the words it
    moved and the sample words that joined; the import's folder is byte for byte what it was."""
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus

    sample = load_corpus(CorpusConfig(source="sample", max_tokens=20_000), use_cache=False)
    top = [sample.words[i] for i in np.argsort(-np.asarray(sample.counts), kind="stable")[:300]]
    imported = store.import_vectors(_glove_file(tmp_path, top + ["zzqxunseen"]), store.models_dir())
    before = _digest(imported)
    at = app()
    at.switch_page("pages/train.py").run()
    at.selectbox(key=continue_view.INIT_KEY).set_value(str(imported)).run()
    assert not at.exception
    assert any("imported vectors have no output layer" in c.value for c in at.caption)
    assert not at.radio(key="train_arch").disabled  # imported vectors take any architecture
    at.selectbox(key="corpus_source").set_value("sample")
    at.select_slider(key="corpus_size").set_value(20_000)
    at.slider(key="train_epochs").set_value(2)
    at.slider(key="corpus_min_count").set_value(3)
    at.button(key="train_start").click().run()
    run_until_finished(at)
    s = at.session_state["train_job"].state()
    assert s.status == "done", (s.status, s.error)
    lineage = store.read_record(s.path).config["lineage"]
    assert lineage["parent_imported"] and lineage["output_table"].startswith("zeros") and lineage["new_words"] > 0
    at.toggle(key="train_changed").set_value(True).run()
    assert not at.exception
    moved, new, _ = (d.value for d in at.dataframe)
    # random vectors learnt the sample: the import's words moved, those that moved most first
    assert len(moved) > 0 and set(moved["word"]) <= set(top)
    assert moved["aligned cosine"].is_monotonic_increasing and moved["aligned cosine"].iloc[0] < 0.8
    assert (moved["new text count"] >= 5).all() and moved["neighbours now"].str.len().gt(0).all()
    assert len(new) > 0 and not set(new["word"]) & set(top)
    assert _digest(imported) == before  # nothing of the import is overwritten


def _start_long_continuation(at: AppTest) -> None:
    at.selectbox(key="corpus_source").set_value("lee")
    at.select_slider(key="corpus_size").set_value(50_000)
    at.slider(key="train_epochs").set_value(50)
    at.slider(key="corpus_min_count").set_value(3)
    at.button(key="train_start").click().run()


def test_stop_on_a_continued_run_keeps_the_parent_and_saves_a_complete_child(parent_model):
    import time

    before = _digest(parent_model)
    at = app()
    at.session_state[continue_view.INIT_KEY] = str(parent_model)
    at.switch_page("pages/train.py").run()
    _start_long_continuation(at)
    job = at.session_state["train_job"]
    for _ in range(1200):  # until it has learnt something (a bounded wait, no timing assertion)
        if job.state().batch_losses or not job.state().active:
            break
        time.sleep(0.05)
    at.run()
    assert job.state().active, (job.state().status, job.state().error)
    at.button(key="train_stop").click().run()
    run_until_finished(at)
    assert not at.exception
    s = job.state()
    assert s.status == "stopped", (s.status, s.error)
    child = store.load_model(s.path)  # complete: every file there and checked
    assert child.config["summary"]["stopped"] and child.config["lineage"]["parent"] == "parent"
    assert child.config["lineage"]["runs"][-1]["epochs"] < 50
    assert _digest(parent_model) == before
    assert sorted(p.name for p in store.models_dir().iterdir() if not p.name.startswith(".")) == sorted(
        ["parent", Path(s.path).name])  # the parent and one child, nothing half-written beside them


def _failed_sentence(at: AppTest) -> str:
    run_until_finished(at)
    assert not at.exception
    s = at.session_state["train_job"].state()
    assert s.status == "failed" and s.path is None, (s.status, s.error)
    said = [e.value for e in at.error]
    assert len(said) == 1 and "\n" not in said[0] and "Traceback" not in said[0], said
    return said[0]


def test_a_parent_damaged_after_it_was_chosen_fails_the_run_with_one_sentence(parent_model):
    at = app()
    at.session_state[continue_view.INIT_KEY] = str(parent_model)
    at.switch_page("pages/train.py").run()
    (parent_model / "weights.safetensors").write_bytes(b"\x00" * 40)  # damaged while the page was open
    continued_run(at)
    said = _failed_sentence(at)
    assert "weights.safetensors" in said and "safetensors file" in said
    assert [p.name for p in store.models_dir().iterdir() if not p.name.startswith(".")] == ["parent"]


def test_a_parent_deleted_after_it_was_chosen_is_said_and_nothing_trains_from_random_vectors(parent_model):
    """The model chosen under "Start from" is deleted (in another tab) before Train is pressed: the page says so in
    one sentence and starts nothing, rather than quietly training a model from random vectors."""
    at = app()
    at.session_state[continue_view.INIT_KEY] = str(parent_model)
    at.switch_page("pages/train.py").run()
    assert any("Continuing **parent**" in c.value for c in at.caption)
    shutil.rmtree(parent_model)
    continued_run(at)
    assert not at.exception
    said = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any("no longer here" in m and "parent" in m for m in said), said
    assert "train_job" not in at.session_state or at.session_state["train_job"] is None
    assert [p.name for p in store.models_dir().iterdir() if not p.name.startswith(".")] == []
    # the choice is now random vectors, and the next press trains a new model from them
    assert at.selectbox(key=continue_view.INIT_KEY).value == continue_view.FRESH
    at.button(key="train_start").click().run()
    run_until_finished(at)
    s = at.session_state["train_job"].state()
    assert s.status == "done" and at.session_state["train_job"].parent is None, (s.status, s.error)
    assert "lineage" not in store.read_record(s.path).config
    assert not any("no longer here" in w.value for w in at.warning)


def test_continue_training_a_subword_model_keeps_its_ngram_settings(tiny_corpus):
    """A subword (fastText) parent: the Train page shows subwords on and locked, and the child is a subword model
    with the parent's n-gram lengths and buckets (a bucket count the slider does not offer, too)."""
    r = Trainer(tiny_corpus, ModelConfig(dim=10, window=3, min_count=1, sample=0, subwords=True, min_n=3, max_n=5,
                                         buckets=5000), TrainConfig(epochs=2, threads=1, seed=1)).train()
    path = r.save(store.models_dir() / "subparent", name="subparent")
    before = _digest(path)
    at = app()
    at.switch_page("pages/models.py").run()
    at.button(key="models_continue_0").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    box = at.checkbox(key="train_subwords")
    assert box.value and box.disabled
    assert any("its n-gram settings" in c.value for c in at.caption)
    continued_run(at)
    run_until_finished(at)
    s = at.session_state["train_job"].state()
    assert s.status == "done", (s.status, s.error)
    mc = store.read_record(s.path).model
    assert mc.subwords and (mc.min_n, mc.max_n, mc.buckets) == (3, 5, 5000)
    assert store.load_model(s.path).vectors.built_from_pieces("zebrafish")
    assert _digest(path) == before
