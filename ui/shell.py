"""The frame around every page: page files by role, links between pages, the stylesheet, and the way in.

Every page script starts with :func:`require_app`, so that it always runs inside ``app.py``'s navigation.
"""

from __future__ import annotations

import os
import runpy
import threading
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PAGES = {  # page files by role, so pages can link to each other with st.page_link
    "home": "pages/home.py", "corpus": "pages/corpus.py", "train": "pages/train.py", "map": "pages/map.py",
    "neighbours": "pages/neighbours.py", "evaluate": "pages/evaluate.py", "compare": "pages/compare.py",
    "learn": "pages/learn.py", "models": "pages/models.py",
}
VIA_APP = "_w2v_via_app"  # set by app.py just before it runs a page; each page run takes it away again


def running_page() -> None:
    """Tell the page that app.py is about to run that it came through the navigation (app.py calls this)."""
    st.session_state[VIA_APP] = True


def require_app() -> None:
    """Make sure this page runs inside app.py's navigation; call it first in every page script.

    Until some session has called ``st.navigation``, Streamlit treats ``pages/`` as its legacy automatic page
    folder: a fresh server whose first request is a deep link (``/train``) runs that page file alone, without
    app.py's page config, shared set-up and navigation (AppTest does the same on every run). Such a page hands
    the run to app.py instead: app.py's ``st.navigation`` leaves the legacy mode for good and runs the page it
    was asked for, in this same script run, so widget values and clicks are kept.
    """
    if st.session_state.pop(VIA_APP, False):
        return
    runpy.run_path(str(APP), run_name="app")  # not "__main__": runpy would swap that process-wide module meanwhile
    st.stop()  # the page has run, inside app.py


def link(role: str, label: str, icon: str | None = None, container=None) -> None:
    """st.page_link to a page by role (``PAGES``)."""
    (container or st).page_link(PAGES[role], label=label, icon=icon)


def load_css() -> None:
    """The app's small stylesheet (assets/style.css)."""
    st.html(f"<style>{(ROOT / 'assets' / 'style.css').read_text(encoding='utf-8')}</style>")


PAGE_NICE = 10  # how much lower a page run's CPU priority is while a training run trains on this server


def yield_to_training() -> None:
    """While a training run trains on this server, this page run gives it the CPU first (app.py calls this).

    The run trains in a process of its own (``w2v_core.serve.trainproc``), on every core; a page computing a map
    meanwhile (in another tab, or another visitor's) still takes a core from it, so each page run is lowered while a
    run holds a slot (Linux: the nice value of the page run's own thread, Streamlit's script thread; elsewhere
    nothing happens), and a page still gets every core when no run trains. Pages answer a little later while one
    does. (When runs trained in a thread of the server, its GIL switch interval was also shortened here: a process
    has a GIL of its own, so that is gone. The training process is started by a thread that is never lowered, see
    ``trainproc.Child.start``.)
    """
    from w2v_core.serve import jobs

    if not jobs.QUEUE.running():
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < PAGE_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, PAGE_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass
