"""The frame around every page: page files by role, links between pages, the stylesheet, and the way in.

Every page script starts with :func:`require_app`, so that it always runs inside ``app.py``'s navigation.
"""

from __future__ import annotations

import os
import runpy
import sys
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


PAGE_NICE = 10  # how much lower a page run's CPU priority is while a training run trains in this process
# The training thread calls many small torch ops, each giving the GIL up and taking it back; while a page runs
# Python code, taking it back waits out Python's switch interval (5 ms by default). At 1 ms, a run with a busy
# Python thread beside it trained in 11.6-21.5 s instead of 22.9-31.7 s (5 epochs of the sample; busy machine).
GIL_SWITCH_S = 0.001


def yield_to_training() -> None:
    """While a training run trains in this server process, this page run gives it the CPU first (app.py calls this).

    The run trains on every core; a page computing a map meanwhile (in another tab, or another visitor's) took a
    core from it, and the app trained 2-3x slower than the CLI (issue 24). Each page run has a thread of its own
    (Streamlit's script thread), so only this run is lowered (Linux: a thread's nice value; elsewhere nothing
    happens), and a page still gets every core when no run trains. Pages answer a little later while one does.
    The first time, the process's GIL switch interval is shortened (``GIL_SWITCH_S``).
    """
    from w2v_core.serve import jobs

    if not jobs.QUEUE.running():
        return
    if sys.getswitchinterval() > GIL_SWITCH_S:  # once: the process keeps it
        sys.setswitchinterval(GIL_SWITCH_S)
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < PAGE_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, PAGE_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed
        pass
