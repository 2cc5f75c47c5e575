"""This session's current model: the model every page shows.

``st.session_state["current_model"]`` holds the path of the current model folder, or None. On a session's first
run it is the newest saved model, so a browser refresh or a server restart keeps working. Pages change it only
through :func:`set_current_model`.

Loaded models are cached for all sessions and never changed (``st.cache_resource``: shared, read-only). What can
change under a running app (a rename, scores written by the CLI) is read fresh from the folder's
``store.ModelRecord`` on every run, which is cheap: a couple of small JSON files.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from ui import shell
from w2v_core import store
from w2v_core.errors import W2VError

CURRENT = "current_model"


def newest_model_path() -> str | None:
    """The most recently created model folder under models_dir(), or None."""
    try:
        records = store.list_records()
    except OSError:
        return None
    return str(records[0].path) if records else None


def init_session() -> None:
    """Shared session defaults (app.py calls this before every page)."""
    if CURRENT not in st.session_state:
        st.session_state[CURRENT] = newest_model_path()


def set_current_model(path: str | os.PathLike | None) -> None:
    st.session_state[CURRENT] = str(path) if path is not None else None


def current_path() -> str | None:
    """The current model's folder; a model deleted meanwhile falls back to the newest one."""
    path = st.session_state.get(CURRENT)
    if path and not (Path(path) / store.CONFIG).is_file():
        path = newest_model_path()
        set_current_model(path)
    return path or None


@st.cache_resource(max_entries=6, show_spinner="Loading the model ...")
def _load_model(path: str, stamp: int) -> store.Model:
    """Shared by reruns and sessions, so never changed; ``stamp`` reloads a rewritten folder."""
    return store.load_model(path)


def load_model(path: str | os.PathLike) -> store.Model:
    """A model folder's vectors, loaded once per version (W2VError for a damaged or missing folder)."""
    return _load_model(str(path), store.stamp(path))


def current_model() -> store.Model | None:
    """The current model, loaded; None when there is none (or it cannot be opened: then a red box says why)."""
    path = current_path()
    if not path:
        return None
    try:
        return load_model(path)
    except W2VError as e:
        st.error(f"The current model could not be opened: {e}")
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
