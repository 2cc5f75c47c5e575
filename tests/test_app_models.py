"""Models page (AppTest): list with cards, choose current, rename, delete, zip round trip, vectors import, bad uploads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from conftest import APP
from w2v_core import store


def two_models(tiny_model) -> tuple[Path, Path]:
    root = store.models_dir()
    a, b = root / "alpha", root / "beta"
    shutil.copytree(tiny_model, a)
    shutil.copytree(tiny_model, b)
    store.rename_model(a, "alpha")
    store.rename_model(b, "beta")
    return a, b


def open_models() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/models.py").run()
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_empty_list_says_what_to_do():
    at = open_models()
    assert any("No saved models yet" in i.value for i in at.info)


def test_list_choose_rename_delete(tiny_model):
    a, b = two_models(tiny_model)
    at = open_models()
    names = [m.value for m in at.markdown if m.value.startswith("**")]
    assert any("alpha" in n for n in names) and any("beta" in n for n in names)
    assert len([b for b in at.get("download_button") if b.label == "Download zip"]) == 2
    assert len([b for b in at.get("download_button") if b.label == "Embedding Projector"]) == 2
    # choose the other one as current
    cur = at.session_state["current_model"]
    other = str(a) if cur == str(b) else str(b)
    idx = [str(m.path) for m in store.list_records()].index(other)
    at.button(key=f"models_use_{idx}").click().run()
    assert at.session_state["current_model"] == other
    # rename
    at.text_input(key=f"models_new_name_{idx}").set_value("my favourite").run()
    at.button(key=f"models_rename_{idx}").click().run()
    assert store.read_config(other)["name"] == "my favourite"
    assert any("Renamed" in s.value for s in at.success)
    # delete the current one: the current model falls back to the other
    at.button(key=f"models_delete_{idx}").click().run()
    assert not Path(other).exists()
    assert at.session_state["current_model"] in (str(a), str(b)) and at.session_state["current_model"] != other
    assert not at.exception


def test_zip_upload_round_trip_and_bad_zip(tiny_model):
    at = open_models()
    data = store.zip_model(tiny_model)
    at.file_uploader(key="models_zip_upload").upload("tiny.zip", data, "application/zip").run()
    button(at, "Import model").click().run()
    assert not at.exception
    models = store.list_records()
    assert len(models) == 1
    assert at.session_state["current_model"] == str(models[0].path)
    assert any("Imported" in s.value for s in at.success)
    # junk is refused with a message, not an exception
    at.file_uploader(key="models_zip_upload").upload("junk.zip", b"not a zip at all", "application/zip").run()
    button(at, "Import model").click().run()
    assert not at.exception
    assert any("not a zip file" in e.value for e in at.error)


def test_import_glove_vectors_and_bad_files(tmp_path):
    at = open_models()
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta"]
    text = "".join(w + " " + " ".join(f"{x:.4f}" for x in rng.normal(size=5)) + "\n" for w in words)
    at.file_uploader(key="models_vectors_upload").upload("glove.txt", text.encode(), "text/plain").run()
    at.text_input(key="models_import_name").set_value("glove-mini").run()
    button(at, "Import vectors").click().run()
    assert not at.exception and not at.error
    m = store.load_model(at.session_state["current_model"])
    assert m.imported and m.vectors.words == words and m.name == "glove-mini"
    # empty and binary junk
    at.file_uploader(key="models_vectors_upload").upload("empty.txt", b"", "text/plain").run()
    button(at, "Import vectors").click().run()
    assert any("empty" in e.value for e in at.error)
    at.file_uploader(key="models_vectors_upload").upload("bad.txt", b"hello world\nthis is not vectors\n", "text/plain").run()
    button(at, "Import vectors").click().run()
    assert not at.exception
    assert at.error


def test_projector_export_has_vectors_and_metadata(tiny_model):
    import io
    import zipfile

    from ui.exports import projector_zip

    z = zipfile.ZipFile(io.BytesIO(projector_zip(tiny_model)))
    assert sorted(z.namelist()) == ["metadata.tsv", "vectors.tsv"]
    wv = store.load_model(tiny_model).vectors
    vec = z.read("vectors.tsv").decode().splitlines()
    meta = z.read("metadata.tsv").decode().splitlines()
    assert len(vec) == len(wv) and len(vec[0].split("\t")) == wv.dim
    assert meta[0] == "word\tcount" and meta[1].split("\t")[0] == wv.words[0]


def test_the_chosen_model_stays_current_in_a_new_tab_and_after_a_reload(tiny_model):
    """'... is now the current model', then a reload or a new tab (a new session) showed the newest one (issue 24)."""
    a, b = two_models(tiny_model)
    at = open_models()
    newest = at.session_state["current_model"]
    other = str(a) if newest == str(b) else str(b)
    idx = [str(m.path) for m in store.list_records()].index(other)
    at.button(key=f"models_use_{idx}").click().run()
    assert any("is now the current model" in s.value for s in at.success)
    again = open_models()  # a new session, as a reload or a second tab makes
    assert again.session_state["current_model"] == other
    shutil.rmtree(other)  # gone since: the newest again, no error
    assert open_models().session_state["current_model"] == newest
    assert not list(store.models_dir().glob("*.part"))


def test_rename_refuses_a_name_with_a_slash_and_says_why(tiny_model):
    a, b = two_models(tiny_model)
    at = open_models()
    idx = [str(m.path) for m in store.list_records()].index(str(a))
    at.text_input(key=f"models_new_name_{idx}").set_value("runs/alpha").run()
    at.button(key=f"models_rename_{idx}").click().run()
    assert any("cannot contain '/'" in e.value for e in at.error)
    assert store.read_config(a)["name"] == "alpha" and not at.success
