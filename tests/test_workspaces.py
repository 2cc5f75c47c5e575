"""Issue 25: a visit that saves nothing leaves no workspace folder; old, never-used ones go; the gallery is only read."""

from __future__ import annotations

import os
import shutil
import time

from test_app_serve import app, go
from ui import session
from w2v_core import settings, store
from w2v_core.serve import quota, workspaces


def _workspaces_dir():
    return settings.get_settings().data_dir / "workspaces"


def test_visits_without_a_valid_token_create_no_folder(monkeypatch):
    monkeypatch.setenv("W2V_MODE", "shared")
    for query in (None, {"ws": "A" * 43}, {"ws": "junk"}):
        at = go(app(query), "pages/models.py")
        go(at, "pages/train.py")
    root = _workspaces_dir()
    assert not root.exists() or list(root.iterdir()) == []
    token = at.session_state[session.WORKSPACE]  # the first thing saved makes the folders
    quota.save_pasted_text("the cat eats fish\n", session._workspace_for(token).uploads)
    again = app({"ws": token})
    assert again.session_state[session.WORKSPACE] == token  # and then the link finds them


def test_old_empty_workspaces_are_removed_and_nothing_with_a_file(tmp_path):
    root = tmp_path / "workspaces"
    old = time.time() - 2 * workspaces.UNUSED_AFTER_S
    made = {}
    for name, files in (("a" * 64, []), ("b" * 64, ["models/m/config.json"]), ("c" * 64, ["uploads/x.txt"]),
                        ("d" * 64, ["notes.txt"])):
        ws = root / name
        (ws / "models").mkdir(parents=True)
        (ws / "uploads").mkdir()
        for f in files:
            (ws / f).parent.mkdir(parents=True, exist_ok=True)
            (ws / f).write_text("keep")
        for p in [*ws.rglob("*"), ws]:
            os.utime(p, (old, old))
        made[name] = ws
    fresh = root / ("e" * 64)
    (fresh / "models").mkdir(parents=True)  # empty but new: a visitor may be about to save into it
    assert workspaces.prune_unused(root, force=True) == [made["a" * 64]]
    assert sorted(p.name for p in root.iterdir()) == ["b" * 64, "c" * 64, "d" * 64, "e" * 64]
    assert workspaces.prune_unused(root) == []  # at most once an hour


def test_listing_the_gallery_never_writes_there(tiny_model, tmp_path, monkeypatch):
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    shutil.copytree(tiny_model, gallery / "teacher")
    stray = gallery / ".teacher.1-00000001-abcdef.w2v-new"  # looks like a killed save's leftover
    stray.mkdir()
    (stray / "config.json").write_text("{}")
    before = sorted(p.relative_to(gallery) for p in gallery.rglob("*"))
    monkeypatch.setenv("W2V_MODE", "shared")
    monkeypatch.setenv("W2V_GALLERY_DIR", str(gallery))
    go(app(), "pages/models.py")
    assert sorted(p.relative_to(gallery) for p in gallery.rglob("*")) == before
    assert [r.name for r in store.list_records(gallery, repair=False)] != []


def test_no_message_shows_a_server_path_when_shared(tmp_path):
    shared = settings.Settings(mode="shared", data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpora")
    ws = settings.workspace("a" * 64, shared)
    msg = f"Corpus file not found: {ws.uploads}/notes-0123456789abcdef.txt. Cannot write to {tmp_path} (denied)."
    out = settings.public_message(msg, shared)
    assert "/" not in out and "notes-0123456789abcdef.txt" in out and "a" * 64 not in out
    assert settings.public_message(msg, settings.Settings()) == msg  # personal mode: the user's own paths
    assert settings.public_message("see http://example.org/a/b and/or 1/2", shared).endswith("and/or 1/2")
    try:
        settings.allowed_corpus_path("/etc/passwd", shared)
    except Exception as e:  # noqa: BLE001 - the message is what is checked
        assert str(tmp_path) not in str(e) and "corpus folder" in str(e)
    else:
        raise AssertionError("a path outside the corpus folder was allowed")


def test_a_link_to_a_run_the_server_no_longer_has_says_so():
    at = app({"job": "x" * 22})  # e.g. a tab reloaded after the server restarted
    assert any("no longer on the server" in i.value for i in at.sidebar.info)
    assert "job" not in at.query_params
    at.run()
    assert not any("no longer on the server" in i.value for i in at.sidebar.info)  # said once
