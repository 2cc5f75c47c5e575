"""This session's workspace and current model: whose models a visitor sees, and the model every page shows.

**Workspaces.** In personal mode (the default) there is one models folder, ``store.models_dir()``. On a server a
class shares (``W2V_MODE=shared``), every visitor gets a private workspace: a random token of 256 bits
(``secrets.token_urlsafe(32)``) made on their first visit, kept in ``st.session_state`` and in the tab's URL
(``?ws=...``), so a refresh, a bookmark or a server restart finds the same models again. The folders live under
``<W2V_DATA_DIR>/workspaces/<sha256 of the token>``: a folder name that leaks (a log line, an old config.json) does
not give the token back. A token from a URL is only taken when its workspace already exists, so nobody can make up
one; anything else gets a fresh workspace. Whoever holds the link holds the workspace, like a shared document link.
The operator's gallery (``W2V_GALLERY_DIR``) is listed for everyone and never changed by the app.

**Current model.** ``st.session_state["current_model"]`` holds the path of the current model folder, or None. On a
session's first run it is the model the visitor last chose (kept in ``.current-model.json`` in their models folder,
so a reload or a new tab keeps it), else the newest saved model (in shared mode: the visitor's own, else the
gallery's). Pages change it only through :func:`set_current_model`.

Loaded models are cached for all sessions and never changed (``st.cache_resource``: shared, read-only). What can
change under a running app (a rename, scores written by the CLI) is read fresh from the folder's
``store.ModelRecord`` on every run, which is cheap: a couple of small JSON files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from pathlib import Path

import streamlit as st

from ui import shell
from ui.widgets import show_error
from w2v_core import settings, store
from w2v_core.data import sources
from w2v_core.errors import W2VError
from w2v_core.serve import quota, workspaces

log = logging.getLogger(__name__)

CURRENT = "current_model"
WORKSPACE = "workspace_token"  # session state: this visitor's workspace token (shared mode)
WS_PARAM = "ws"  # the URL query parameter that carries it
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what secrets.token_urlsafe(32) makes


# ---------------------------------------------------------------------------------------------- workspaces


def shared() -> bool:
    return settings.get_settings().shared


def _workspace_for(token: str) -> settings.Workspace:
    return settings.workspace(hashlib.sha256(token.encode("ascii")).hexdigest())


def init_workspace() -> None:
    """Shared mode: give this session its workspace (the one its URL names, if that exists) and keep it in the URL."""
    if not shared():
        return
    ss = st.session_state
    token = ss.get(WORKSPACE)
    if token is None:
        wanted = st.query_params.get(WS_PARAM)
        if isinstance(wanted, str) and _TOKEN.match(wanted) and _workspace_for(wanted).models.parent.is_dir():
            token = wanted
        else:  # its folders are made by the first thing saved in it: a visit that saves nothing leaves nothing
            token = secrets.token_urlsafe(32)
            workspaces.prune_unused(settings.get_settings().data_dir / "workspaces")
        ss[WORKSPACE] = token
    if st.query_params.get(WS_PARAM) != token:  # page switches drop query parameters: put it back
        st.query_params[WS_PARAM] = token


def models_root() -> Path:
    """Where this visitor's models are saved: their workspace (shared mode) or the app's models folder."""
    token = st.session_state.get(WORKSPACE)
    if shared():
        if token is None:  # init_workspace runs first in app.py; never fall back to a folder others see
            raise W2VError("This session has no workspace yet: reload the page.")
        return _workspace_for(token).models
    return store.models_dir()


def uploads_folder() -> Path:
    """Where this visitor's uploads and pasted texts are kept."""
    return models_root().parent / "uploads" if shared() else sources.uploads_dir()


def uploads_for(model_path: str | os.PathLike) -> Path | None:
    """The uploads folder a model's corpus may be re-read from: its own workspace's (shared mode), else the app's.

    A pure function of the path, so results cached by path are the same for everyone who can see the model.
    """
    if not shared():
        return sources.uploads_dir()
    p = Path(model_path)
    ws = settings.get_settings().data_dir / "workspaces"
    if p.parent.name == "models" and p.parent.parent.parent == ws:
        return p.parent.parent / "uploads"
    return None


def gallery_dir() -> Path | None:
    """The operator's read-only gallery folder, when there is one."""
    g = settings.get_settings().gallery_dir
    return g if g is not None and g.is_dir() else None


def _within(path: str | os.PathLike, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        return Path(path).resolve().parent == folder.resolve()
    except (OSError, RuntimeError):
        return False


def is_own(path: str | os.PathLike) -> bool:
    """A model this visitor may rename, delete and write scores into (not a gallery model)."""
    root = models_root()
    return _within(path, root) and not _within(path, gallery_dir())


def is_gallery(path: str | os.PathLike) -> bool:
    return _within(path, gallery_dir())


def writable(path: str | os.PathLike) -> bool:
    """Whether the app may write into this model folder (scores): one's own when shared; else any but the gallery's."""
    return is_own(path) if shared() else not is_gallery(path)


def own_records(broken: bool = False) -> list[store.ModelRecord]:
    """This visitor's models, newest first (``broken``: damaged folders too, with ``error`` set)."""
    return store.list_records(models_root(), broken=broken)


def gallery_records() -> list[store.ModelRecord]:
    """The gallery's usable models, newest first (damaged ones are left out and logged)."""
    g = gallery_dir()
    if g is None or _within(g / "x", models_root()):
        return []
    try:
        return store.list_records(g, repair=False)  # the app never writes in the gallery
    except W2VError as e:
        log.warning("the gallery cannot be listed: %s", e)
        return []


def visible_records() -> list[store.ModelRecord]:
    """Every usable model this visitor may open: their own, then the gallery's."""
    return own_records() + gallery_records()


# ---------------------------------------------------------------------------------------------- current model


def newest_model_path() -> str | None:
    """This visitor's most recently created model, else the gallery's newest, else None."""
    for records in (own_records, gallery_records):
        try:
            found = records()
        except (OSError, W2VError):
            continue
        if found:
            return str(found[0].path)
    return None


CHOICE_FILE = ".current-model.json"  # in the visitor's models folder: the model they chose last (a new tab finds it)


def _choice_file() -> Path:
    return models_root() / CHOICE_FILE


def chosen_model_path() -> str | None:
    """The model this visitor last made current, from their workspace on disk (None: none, or gone since)."""
    try:
        p = _choice_file()
        if not p.is_file() or p.stat().st_size > 4096:
            return None
        path = json.loads(p.read_text(encoding="utf-8")).get("path")
    except (OSError, ValueError, AttributeError, W2VError):
        return None
    if not isinstance(path, str) or not store.is_model_folder(path):
        return None
    if shared() and not (is_own(path) or is_gallery(path)):
        return None
    return path


def _remember_choice(path: str | None) -> None:
    """Keep the choice on disk, so that a reload, a new tab or a restart shows the same current model."""
    try:
        folder = models_root()
        if path is None or not folder.is_dir():
            return
        store.atomic_write_bytes(folder / CHOICE_FILE, json.dumps({"path": str(path)}).encode("utf-8"))
    except (OSError, W2VError) as e:  # a read-only folder: the choice lasts as long as the session
        log.info("the current model choice cannot be kept on disk: %s", e)


def init_session() -> None:
    """Shared session defaults (app.py calls this before every page)."""
    init_workspace()
    if CURRENT not in st.session_state:  # the visitor's last choice (another tab's too), else the newest model
        set_current_model(chosen_model_path() or newest_model_path(), remember=False)


def set_current_model(path: str | os.PathLike | None, remember: bool = True) -> None:
    """Make ``path`` the model every page shows (``remember``: on disk too, for this visitor's next tabs); one's own
    model is marked as used (the disk quota keeps it longest)."""
    st.session_state[CURRENT] = str(path) if path is not None else None
    if remember:
        _remember_choice(st.session_state[CURRENT])
    if path is not None and is_own(path):
        quota.mark_used(path)
    _lease(path)


def _lease(path: str | os.PathLike | None) -> None:
    """Keep this session's current model from any disk quota while the session lasts (renewed on every run)."""
    quota.lease(st.session_state.setdefault("quota_lease_owner", secrets.token_hex(16)), path)


def current_path() -> str | None:
    """The current model's folder; a model deleted meanwhile (or, when shared, not this visitor's) falls back."""
    path = st.session_state.get(CURRENT)
    if path and (not (Path(path) / store.CONFIG).is_file() or shared() and not (is_own(path) or is_gallery(path))):
        path = newest_model_path()
        set_current_model(path, remember=False)
    else:
        _lease(path)
    return path or None


@st.cache_resource(max_entries=6, show_spinner="Loading the model ...")
def _load_model(path: str, stamp: int) -> store.Model:
    """Shared by reruns and sessions, so never changed; ``stamp`` reloads a rewritten folder."""
    return store.load_model(path)


def load_model(path: str | os.PathLike) -> store.Model:
    """A model folder's vectors, loaded once per version (W2VError for a damaged or missing folder)."""
    return _load_model(str(path), store.mtime_stamp(path))


def current_model() -> store.Model | None:
    """The current model, loaded; None when there is none (or it cannot be opened: then a red box says why)."""
    path = current_path()
    if not path:
        return None
    try:
        return load_model(path)
    except W2VError as e:
        show_error(f"The current model could not be opened: {e}")
        return None


def require_model() -> store.Model:
    """The current model, or a friendly pointer to Train/Models and the page stops here."""
    m = current_model()
    if m is None:
        st.info("There is no model yet. Train one (it takes a few seconds with the defaults) or import vectors "
                "on the Models page.", icon=":material/info:")
        c1, c2 = st.columns(2)
        shell.link("train", "Train a model", ":material/model_training:", c1)
        shell.link("models", "Import or choose a model", ":material/inventory_2:", c2)
        st.stop()
    return m
