"""Serving a class (AppTest): private workspaces in shared mode, no server files on any page, damaged and hostile
model folders on every page, one sentence instead of a traceback, unique names, the queue and the disk quota."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP
from test_app_train import run_until_finished, small_run
from ui import session, widgets
from w2v_core import store
from w2v_core.data import sources
from w2v_core.data.corpus import CorpusConfig
from w2v_core.models import ModelConfig
from w2v_core.serve import jobs
from w2v_core.training import TrainConfig

PAGES = ["pages/home.py", "pages/corpus.py", "pages/train.py", "pages/map.py", "pages/neighbours.py",
         "pages/evaluate.py", "pages/compare.py", "pages/learn.py", "pages/models.py"]
SECRET_WORDS = ("zebrasecret", "nologin", "sbin")  # in the server file below; nologin/sbin are /etc/passwd's
MARKDOWN_NAME = "![x](http://host/pixel.png) www.example.com :red[red] <b>bold</b>"


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def page_text(at: AppTest) -> str:
    """Every string the page sent to the browser (every element's message, tables and charts included)."""
    from google.protobuf.json_format import MessageToDict

    parts = []
    for root in (at.main, at.sidebar):
        for node in _walk(root):
            proto = getattr(node, "proto", None)
            if proto is not None:
                parts += _strings(MessageToDict(proto))
            if getattr(node, "type", "") in ("dataframe", "arrow_data_frame"):
                parts.append(node.value.to_string())
    return "\n".join(parts)


def markup_text(at: AppTest) -> list[str]:
    """The strings the browser renders as markdown: bodies, captions, alerts, titles, labels."""
    out = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error", "title", "header",
                                "subheader") for e in getattr(at, kind)]
    out += [m.label for m in at.metric] + [b.label for b in at.button] + [t.label for t in at.tabs]
    return out


def app(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def go(at: AppTest, page: str) -> AppTest:
    at.switch_page(page).run()
    assert not at.exception, page
    return at


@pytest.fixture
def server_file(tmp_path) -> Path:
    p = tmp_path / "server-secret.txt"
    p.write_text("zebrasecret nologin sbin daemon\n" * 30, encoding="utf-8")
    return p


@pytest.fixture
def shared(monkeypatch):
    monkeypatch.setenv("W2V_MODE", "shared")


# ---------------------------------------------------------------------------------------------- server files


def test_personal_mode_offers_a_path_box_for_local_files():
    at = go(app(), "pages/corpus.py")
    assert "path" in at.selectbox(key="corpus_source").options or any(
        "Local file" in o for o in at.selectbox(key="corpus_source").options)


def test_shared_mode_without_a_corpus_folder_has_no_path_box_and_reads_no_server_file(shared, server_file):
    at = go(app(), "pages/corpus.py")
    options = at.selectbox(key="corpus_source").options
    assert not any("Local file" in o or "corpus folder" in o for o in options)
    for path in (str(server_file), "/etc/passwd", "/etc/../etc/passwd"):  # a forged widget state changes nothing
        at = AppTest.from_file(APP, default_timeout=90)
        at.session_state["corpus_source"] = "path"
        at.session_state["corpus_path"] = path
        go(at.run(), "pages/corpus.py")
        assert at.session_state["corpus_source"] == "sample"
        text = page_text(at)
        assert not any(w in text for w in SECRET_WORDS)


def test_shared_mode_offers_only_the_class_corpus_folder(shared, server_file, tmp_path, monkeypatch):
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    (corpora / "class.txt").write_text("giraffe elephant giraffe lion\n" * 20, encoding="utf-8")
    (corpora / "escape.txt").symlink_to(server_file)  # a link out of the folder is not offered
    monkeypatch.setenv("W2V_CORPUS_DIR", str(corpora))
    at = go(app(), "pages/corpus.py")
    assert any("corpus folder" in o for o in at.selectbox(key="corpus_source").options)
    at.selectbox(key="corpus_source").set_value("path").run()
    assert at.selectbox(key="corpus_server_file").options == ["class.txt"]
    assert not at.text_input  # no box to type a path into
    at.min_count = at.slider(key="corpus_min_count").set_value(1).run()
    text = page_text(at)
    assert "giraffe" in text and not any(w in text for w in SECRET_WORDS)


def test_shared_mode_uploads_stay_in_the_visitors_workspace(shared):
    at = go(app(), "pages/corpus.py")
    at.selectbox(key="corpus_source").set_value("upload").run()
    at.file_uploader(key="corpus_upload").upload("../../etc/passwd.txt", b"hippo hippo walrus\n" * 10,
                                                  "text/plain").run()
    assert not at.exception
    saved = Path(at.session_state["corpus_saved_upload"][1])
    assert saved.parent == session._workspace_for(at.session_state[session.WORKSPACE]).uploads
    text = page_text(at)
    assert "hippo" in text and not any(w in text for w in SECRET_WORDS)


def test_a_model_whose_config_names_a_server_file_shows_nothing_of_it_on_learn(shared, tiny_model, server_file):
    cfg = store.read_config(tiny_model)
    cfg["corpus"]["config"] = {"source": str(server_file)}
    (Path(tiny_model) / store.CONFIG).write_text(json.dumps(cfg), encoding="utf-8")
    at = go(app(), "pages/models.py")
    at.file_uploader(key="models_zip_upload").upload("m.zip", store.zip_model(tiny_model), "application/zip").run()
    next(b for b in at.button if b.label == "Import model").click().run()
    assert not at.exception
    go(at, "pages/learn.py")
    text = page_text(at)
    assert not any(w in text for w in SECRET_WORDS) and str(server_file.parent) not in text


# ---------------------------------------------------------------------------------------------- workspaces


def import_model(at: AppTest, tiny_model, name: str) -> None:
    go(at, "pages/models.py")
    data = store.zip_model(tiny_model)
    at.file_uploader(key="models_zip_upload").upload(f"{name}.zip", data, "application/zip").run()
    next(b for b in at.button if b.label == "Import model").click().run()
    assert not at.exception
    path = at.session_state["current_model"]
    at.text_input(key="models_new_name_0").set_value(name).run()
    at.button(key="models_rename_0").click().run()
    assert store.read_record(path).name == name


def test_the_home_page_says_where_things_run():
    """A visitor of a shared server is not told that everything runs offline on their own machine."""
    assert "on your machine, offline" in page_text(go(app(), "pages/home.py"))


def test_the_home_page_of_a_shared_server_says_it_runs_there(shared):
    text = page_text(go(app(), "pages/home.py"))
    assert "runs on this server, in a workspace of your own" in text and "on your machine" not in text


def test_two_visitors_never_see_each_others_models(shared, tiny_model, tmp_path):
    a, b = app(), app()
    ta, tb = a.session_state[session.WORKSPACE], b.session_state[session.WORKSPACE]
    assert ta != tb and len(ta) == 43
    import_model(a, tiny_model, "alice-model")
    path_a = a.session_state["current_model"]
    assert Path(path_a).parent == session._workspace_for(ta).models
    assert not store.list_records(store.models_dir(), broken=True)  # nothing in the app-wide folder
    for page in PAGES:
        go(b, page)
        assert "alice-model" not in page_text(b), page
    assert b.session_state["current_model"] is None
    go(b, "pages/models.py")
    assert any("No saved models yet" in i.value for i in b.info)
    # a forged current model, or a job id, from A's workspace: B still sees nothing of it
    b.session_state["current_model"] = path_a
    go(b, "pages/home.py")
    assert b.session_state["current_model"] is None and "alice-model" not in page_text(b)


def test_the_link_is_the_key_and_guesses_open_nothing(shared, tiny_model):
    a = app()
    token = a.session_state[session.WORKSPACE]
    import_model(a, tiny_model, "alice-model")
    assert a.query_params[session.WS_PARAM] == token  # kept in the tab's URL
    again = go(app({session.WS_PARAM: token}), "pages/models.py")  # a refresh (a new session) finds the models
    assert again.session_state[session.WORKSPACE] == token and "alice-model" in page_text(again)
    folder = session._workspace_for(token).models.parent.name  # what a leaked server path could show
    assert folder == hashlib.sha256(token.encode()).hexdigest()
    for guess in ("A" * 43, folder, folder[:43], "../" + token, token[:-1] + ("a" if token[-1] != "a" else "b")):
        other = go(app({session.WS_PARAM: guess}), "pages/models.py")
        assert other.session_state[session.WORKSPACE] not in (token, guess)
        assert "alice-model" not in page_text(other)


def test_the_gallery_is_listed_read_only_for_everyone(shared, tiny_model, tmp_path, monkeypatch):
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    shutil.copytree(tiny_model, gallery / "teacher")
    store.rename_model(gallery / "teacher", "teacher's model")
    monkeypatch.setenv("W2V_GALLERY_DIR", str(gallery))
    a, b = app(), app()
    for at in (a, b):
        assert at.session_state["current_model"] == str(gallery / "teacher")  # something to explore at once
        go(at, "pages/models.py")
        assert any("Gallery" in t.label for t in at.tabs)
        assert "teacher's model" in page_text(at)
        assert not any(b.key and b.key.startswith(("models_rename", "models_delete")) for b in at.button)
    go(a, "pages/evaluate.py")
    a.button(key="eval_run").click().run()
    assert not a.exception and any("not saved" in i.value for i in a.info)
    assert not (gallery / "teacher" / store.SCORES).exists()


def test_a_training_run_saves_into_the_workspace(shared):
    at = go(app(), "pages/train.py")
    small_run(at)
    run_until_finished(at)
    job = at.session_state["train_job"]
    ws = session._workspace_for(at.session_state[session.WORKSPACE])
    assert Path(job.path).parent == ws.models and job.state().status == "done"
    other = app({"job": job.job_id})  # someone else's tab with the run's id but not the workspace's link
    assert "train_job" not in other.session_state and other.session_state["current_model"] is None


# ---------------------------------------------------------------------------------------------- hostile folders


def hostile_models(tiny_model) -> dict[str, Path]:
    root = store.models_dir()
    good, bad_json, bad_summary, nan, md = (root / n for n in ("good", "bad-json", "bad-summary", "nan", "md"))
    for p in (good, bad_json, bad_summary, nan, md):
        shutil.copytree(tiny_model, p)
    (bad_json / store.CONFIG).write_text("{not json", encoding="utf-8")
    cfg = store.read_config(tiny_model)
    (bad_summary / store.CONFIG).write_text(json.dumps({**cfg, "summary": "a string"}), encoding="utf-8")
    from safetensors.numpy import load_file, save_file

    t = load_file(str(nan / store.WEIGHTS))
    t["in"] = np.full_like(t["in"], np.nan)
    save_file(t, str(nan / store.WEIGHTS))
    store.rename_model(nan, "nan-model")
    store.rename_model(md, MARKDOWN_NAME)
    store.rename_model(good, "good-model")
    return {"good": good, "bad-json": bad_json, "bad-summary": bad_summary, "nan": nan, "md": md}


@pytest.mark.parametrize("current", ["md", "nan", "good"])
def test_every_page_renders_beside_damaged_and_hostile_folders(tiny_model, current):
    paths = hostile_models(tiny_model)
    at = app()
    at.session_state["current_model"] = str(paths[current])
    for page in PAGES:
        go(at, page)
        for text in markup_text(at):
            raw = [m for m in ("![x](", ":red[", "<b>", "www.example") if m in text]  # markup the name would make
            assert not raw, (page, text)
    go(at, "pages/compare.py")
    if current == "good":
        at.multiselect(key="cmp_models").set_value([str(paths["good"]), str(paths["md"])]).run()
        assert not at.exception


def test_broken_folders_are_listed_with_their_delete_button(tiny_model):
    paths = hostile_models(tiny_model)
    at = go(app(), "pages/models.py")
    text = page_text(at)
    assert "bad-json" in text and "bad-summary" in text and "cannot be opened" in text
    names = [store.read_record(p).name for p in paths.values()]
    idx = [str(r.path) for r in store.list_records(broken=True)].index(str(paths["bad-summary"]))
    at.button(key=f"models_delete_{idx}").click().run()
    assert not at.exception and not paths["bad-summary"].exists() and paths["good"].exists()
    assert len(names) == 5


# ---------------------------------------------------------------------------------------------- no tracebacks


def test_an_unexpected_error_is_one_sentence_and_no_traceback(tiny_model, monkeypatch):
    from ui import cards

    shutil.copytree(tiny_model, store.models_dir() / "m")

    def broken(*a, **k):
        raise RuntimeError("boom at /srv/secret/path")

    monkeypatch.setattr(cards, "describe", broken)
    at = app()
    assert not at.exception
    assert [e.value for e in at.error] == [widgets.UNEXPECTED]
    assert "boom" not in page_text(at) and "Traceback" not in page_text(at)
    go(at, "pages/models.py")  # the card breaks here too; the page still says one sentence
    assert [e.value for e in at.error] == [widgets.UNEXPECTED]
    monkeypatch.undo()


def test_a_broken_session_setup_is_one_sentence(monkeypatch):
    monkeypatch.setenv("W2V_MODE", "classroom")  # a misconfigured server
    at = app()
    assert not at.exception
    assert len(at.error) == 1 and "W2V\\_MODE" in at.error[0].value


# ---------------------------------------------------------------------------------------------- names, queue, quota


def test_rename_to_a_name_in_use_is_refused(tiny_model):
    root = store.models_dir()
    for n in ("alpha", "beta"):
        store.import_zip(store.zip_model(tiny_model), root, name=n)
    at = go(app(), "pages/models.py")
    idx = [r.name for r in store.list_records()].index("beta")
    at.text_input(key=f"models_new_name_{idx}").set_value("Alpha").run()
    at.button(key=f"models_rename_{idx}").click().run()
    assert not at.exception and not at.success
    assert any("already called" in e.value for e in at.error)
    assert sorted(r.name for r in store.list_records()) == ["alpha", "beta"]


def test_training_twice_with_the_same_settings_gives_two_names():
    at = go(app(), "pages/train.py")
    small_run(at)
    run_until_finished(at)
    first = at.session_state["current_model"]
    small_run(at)
    run_until_finished(at)
    second = at.session_state["current_model"]
    a, b = store.read_record(first).name, store.read_record(second).name
    assert b == a + "-2" and Path(second).name == Path(first).name + "-2"


def test_a_waiting_run_shows_its_place_in_line(monkeypatch, tiny_corpus):
    monkeypatch.setenv("W2V_MAX_JOBS", "1")
    release = threading.Event()

    def held(config):
        release.wait(60)
        return tiny_corpus

    blocker = jobs.TrainingJob(CorpusConfig(source="tiny"), ModelConfig(dim=8, min_count=1),
                               TrainConfig(epochs=1, threads=1), root=store.models_dir(), loader=held).start()
    try:
        at = go(app(), "pages/train.py")
        small_run(at)
        for _ in range(50):
            at.run()
            if at.session_state["train_job"].queue_position:
                break
        assert at.subheader[0].value == "Waiting in line: number 1"
        assert any("waiting for a free training slot" in str(p.proto) for p in at.get("progress"))
    finally:
        release.set()
    run_until_finished(at)
    assert blocker.join(60) and at.session_state["train_job"].state().status == "done"


def test_the_models_page_shows_the_quota_and_keeps_within_it(monkeypatch, tmp_path):
    monkeypatch.setenv("W2V_QUOTA_MODELS_MB", "2")  # room for the current model and the import, not for three
    rng = np.random.default_rng(0)
    src = tmp_path / "big.txt"
    src.write_text("".join(f"w{i} " + " ".join(f"{x:.5f}" for x in rng.normal(size=20)) + "\n" for i in range(2500)),
                   encoding="utf-8")
    old = store.import_vectors(src, name="first")
    newer = store.import_vectors(src, name="second")  # same second: newest by name
    at = go(app(), "pages/models.py")  # the newest becomes current
    assert at.session_state["current_model"] == str(newer)
    bar = at.get("progress")[0]
    assert "of 2.1 MB (2 models)" in str(bar.proto)
    at.file_uploader(key="models_vectors_upload").upload("big.txt", src.read_bytes(), "text/plain").run()
    next(b for b in at.button if b.label == "Import vectors").click().run()
    assert not at.exception
    assert not old.exists() and newer.exists()  # least recently used first; the current one stays
    assert any("least recently used" in s.value for s in at.success)
    assert sources.uploads_dir()  # the personal uploads folder is untouched by a model import


def test_a_new_corpus_upload_keeps_the_uploads_within_their_quota(monkeypatch):
    monkeypatch.setenv("W2V_QUOTA_UPLOADS_MB", "1")
    old = sources.save_upload(("alpha beta gamma\n" * 40_000).encode(), "old.txt")  # 680 kB
    at = go(app(), "pages/corpus.py")
    at.selectbox(key="corpus_source").set_value("upload").run()
    at.file_uploader(key="corpus_upload").upload("new.txt", ("delta epsilon\n" * 40_000).encode(), "text/plain").run()
    assert not at.exception
    new = Path(at.session_state["corpus_saved_upload"][1])
    assert new.is_file() and not old.exists()
