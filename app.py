"""Word2Vec Explorer: train CBOW/Skip-gram in PyTorch, watch it learn, explore the vectors.

Run with ``streamlit run app.py``. This file sets up the page and the session, then hands over to the page the
visitor asked for; every page is a plain script under ``pages/`` (helpers they share live in ``ui/``).
"""

from __future__ import annotations

import streamlit as st

from ui import job, map_view, session, shell

st.set_page_config(page_title="Word2Vec Explorer", page_icon=":material/scatter_plot:", layout="wide")
shell.load_css()
session.init_session()
map_view.warm_up_umap()  # once per server process, in the background: the first UMAP map needs no compiling
job.reattach_job()

current = st.navigation({
    "Start": [st.Page("pages/home.py", title="Home", icon=":material/home:", default=True)],
    "Build": [st.Page("pages/corpus.py", title="Corpus", icon=":material/library_books:"),
              st.Page("pages/train.py", title="Train", icon=":material/model_training:")],
    "Explore": [st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
                st.Page("pages/neighbours.py", title="Neighbours & analogies", icon=":material/hub:"),
                st.Page("pages/evaluate.py", title="Evaluate", icon=":material/grading:"),
                st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:")],
    "Learn": [st.Page("pages/learn.py", title="Learn word2vec", icon=":material/school:")],
    "Manage": [st.Page("pages/models.py", title="Models", icon=":material/inventory_2:")],
})
job.training_status(show=current.url_path != "train")  # the Train page has its own, larger view
shell.running_page()
current.run()
