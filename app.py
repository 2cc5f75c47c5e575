"""Word2Vec Explorer: train CBOW/Skip-gram in PyTorch, watch it learn, explore the vectors.

Run with ``streamlit run app.py``. This file only sets up the page, the shared session defaults and the
navigation; every page is a plain script under ``pages/``.
"""

from __future__ import annotations

import glob
import os

import streamlit as st

from pages import _ui

st.set_page_config(page_title="Word2Vec Explorer", page_icon=":material/scatter_plot:", layout="wide")
_ui.init_session()
_ui.load_css()

HERE = os.path.dirname(os.path.abspath(__file__))


def page(path: str, title: str, icon: str, **kw) -> st.Page | None:
    """A page, or None while its file does not exist yet (so a missing page never breaks the app)."""
    return st.Page(path, title=title, icon=icon, **kw) if os.path.exists(os.path.join(HERE, path)) else None


LEARN_TITLES = {"learn": "Learn word2vec"}
learn = [page(os.path.relpath(p, HERE), LEARN_TITLES.get(os.path.basename(p)[:-3],
                                                        os.path.basename(p)[:-3].replace("_", " ").capitalize()),
              ":material/school:")
         for p in sorted(glob.glob(os.path.join(HERE, "pages", "learn*.py")))]

sections = {
    "Start": [page("pages/home.py", "Home", ":material/home:", default=True)],
    "Build": [page("pages/corpus.py", "Corpus", ":material/library_books:"),
              page("pages/train.py", "Train", ":material/model_training:")],
    "Explore": [page("pages/map.py", "Map", ":material/scatter_plot:"),
                page("pages/neighbours.py", "Neighbours & analogies", ":material/hub:"),
                page("pages/evaluate.py", "Evaluate", ":material/grading:"),
                page("pages/compare.py", "Compare", ":material/compare_arrows:")],
    "Learn": learn,
    "Manage": [page("pages/models.py", "Models", ":material/inventory_2:")],
}
nav = {name: [p for p in pages if p is not None] for name, pages in sections.items()}
current = st.navigation({name: pages for name, pages in nav.items() if pages})
_ui.training_status(show=current.url_path != "train")  # the Train page has its own, larger view
current.run()
