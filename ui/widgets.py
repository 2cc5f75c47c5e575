"""Small widget helpers: first values of persisted widgets, their ranges, typed words, error boxes, user text.

Widgets whose values should survive a visit to another page use ``persist_state="session"``; their first value
comes from :func:`default` (so no widget gets both a ``value=`` and a Session State value). Widget keys are
``<page>_<what>`` (``train_epochs``, ``map_mode``), so two pages never share one by accident.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import re
from typing import Any, Callable, Iterator

import streamlit as st

from w2v_core import settings
from w2v_core.errors import W2VError
from w2v_core.vectors import WordVectors

log = logging.getLogger(__name__)

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
    """A user-fixable problem as a red box (the message already says what to do; it is shown as plain text, because
    it may quote what the user typed, a file name or a word)."""
    st.error(md_escape(settings.public_message(str(e))), icon=":material/error:")  # no server path when shared


def show_warning(e: BaseException | str, icon: str | None = ":material/help:") -> None:
    """A problem with what was typed (a word the model does not know) as a yellow box, shown as plain text."""
    st.warning(md_escape(settings.public_message(str(e))), icon=icon)


UNEXPECTED = ("Something unexpected went wrong here, so this part of the page could not be shown; the details are in "
              "the server's log (reload the page to try again).")


@contextlib.contextmanager
def page_errors(stop: bool = False) -> Iterator[None]:
    """Whatever a page cannot handle ends as one sentence on the page and the details in the server's log.

    A W2VError (a problem the user can fix) shows its own message; any other exception shows :data:`UNEXPECTED`
    and is logged with its traceback, so no traceback, server path or exception text ever reaches the browser.
    Streamlit's own st.stop/st.rerun are not exceptions of that kind and pass through. ``stop``: end the script
    run after the sentence (for set-up that the rest of the page needs).
    """
    try:
        yield
    except W2VError as e:
        show_error(e)
    except Exception:  # noqa: BLE001 - the last line of defence between a bug and the visitor
        log.exception("a page failed")
        st.error(UNEXPECTED, icon=":material/error:")
    else:
        return
    if stop:
        st.stop()


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` run inside :func:`page_errors` (for fragments, which rerun on their own, outside the page's guard)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with page_errors():
            return fn(*args, **kwargs)
        return None

    return wrapper


_WJ = "\u2060"  # WORD JOINER: invisible, and it breaks the patterns GFM turns into links by itself
_MARKDOWN = str.maketrans({**{c: "\\" + c for c in "\\`*_[]<>#$~|"}, ":": _WJ + "\\:", "@": "\\@" + _WJ,
                           "\n": " ", "\r": " "})
_AUTOLINK = re.compile(r"(?i)\b(www)\.")  # GFM links www.example.com by itself, escaped or not
_LIST_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")  # a list item or heading marker where the text starts


def md_escape(text: Any) -> str:
    """A user's string (a model name, a word, a file name) made safe inside markdown: it shows as typed, never as
    markup (no links or autolinks, images, HTML, directives like :red[...], maths, lists or headings).

    The characters that start markup are backslash-escaped, which CommonMark shows as the character itself. GFM
    also links bare URLs (``http://...``, ``www....``, e-mail addresses) after escapes are undone, so an invisible
    word joiner goes before every ':', after every '@' and after "www". Line breaks become spaces, so the text stays
    on the line it was put in.
    """
    out = str(text).translate(_MARKDOWN)
    out = _AUTOLINK.sub(r"\1" + _WJ + r"\\.", out)
    return _LIST_START.sub(lambda m: m[1] + "\\" + m[2] if len(m[2]) == 1 else m[1] + m[2][:-1] + "\\" + m[2][-1], out)


def plot_text(text: Any) -> str:
    """A user's string as Plotly text (titles, legends, hover labels): Plotly reads a little HTML (links, bold) and
    %{...} templates in it; entities are shown as the characters they stand for."""
    return html.escape(str(text)).replace("%", "&#37;")


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
    for x in (w.lower(), w):  # a subword model builds an unseen word from its pieces
        if vectors.built_from_pieces(x):
            return x
    vectors.get_index(w)  # raises with suggestions
    return w


def pieces_note(vectors: WordVectors, words) -> None:
    """Say which of ``words`` are not in the vocabulary and have vectors built from their pieces (a subword model)."""
    for w in dict.fromkeys(words):
        if vectors.built_from_pieces(w):
            grams = vectors.pieces(w)
            shown = ", ".join(grams[:8]) + (", ..." if len(grams) > 8 else "")
            st.info(f"'{md_escape(w)}' is not in the vocabulary: its vector is built from its pieces, the character "
                    f"n-grams {md_escape(shown)} (the ones training has seen).", icon=":material/extension:")
