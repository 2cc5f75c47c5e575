"""Small widget helpers: first values of persisted widgets, their ranges, typed words, error boxes.

Widgets whose values should survive a visit to another page use ``persist_state="session"``; their first value
comes from :func:`default` (so no widget gets both a ``value=`` and a Session State value). Widget keys are
``<page>_<what>`` (``train_epochs``, ``map_mode``), so two pages never share one by accident.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from w2v_core.errors import W2VError
from w2v_core.vectors import WordVectors

PERSIST = "session"  # persist_state= for widgets whose value survives a visit to another page


def default(key: str, value: Any) -> None:
    """Give a widget key its first value (use with ``key=`` and no ``value=``, so no double-default warning)."""
    if key not in st.session_state:
        st.session_state[key] = value


def clamp(key: str, lo: int | float, hi: int | float) -> None:
    """Keep a remembered slider value inside this model's range (a smaller model has fewer words)."""
    if key in st.session_state:
        st.session_state[key] = min(max(st.session_state[key], lo), hi)


def show_error(e: BaseException | str) -> None:
    """A user-fixable problem as a red box (the message already says what to do)."""
    st.error(str(e), icon=":material/error:")


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#$~|:"})


def md_escape(text: str) -> str:
    """A user's string (a model or word name) made safe inside st.markdown: it shows as typed, never as markup."""
    return str(text).translate(_MARKDOWN)


def parse_words(text: str) -> list[str]:
    """Words typed by a user: separated by commas, spaces or new lines; duplicates dropped, order kept."""
    seen: dict[str, None] = {}
    for w in text.replace(",", " ").replace(";", " ").split():
        w = w.strip()
        if w:
            seen.setdefault(w, None)
    return list(seen)


def resolve_word(vectors: WordVectors, word: str) -> str:
    """The vocabulary's spelling of ``word`` (tries lower case too); W2VError with close spellings otherwise."""
    w = word.strip()
    if not w:
        raise W2VError("Type a word first.")
    if w in vectors:
        return w
    if w.lower() in vectors:
        return w.lower()
    vectors.get_index(w)  # raises with suggestions
    return w
