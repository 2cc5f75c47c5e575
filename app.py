"""Word2Vec Explorer: train CBOW/Skip-gram in PyTorch, watch it learn, explore the vectors.

Run with ``streamlit run app.py``. This file sets up the page and the session, then hands over to the page the
visitor asked for; every page is a plain script under ``pages/`` (helpers they share live in ``ui/``). Whatever a
page cannot handle is caught here (``ui.widgets.page_errors``): one sentence on the page, the traceback in the log.
"""

from __future__ import annotations

import streamlit as st

from ui import corpus_picker, job, session, shell
from ui.widgets import page_errors

shell.yield_to_training()  # while a run trains here, this page run comes second
# the favicon is our own file: a Material icon would make the browser fetch it from Google's font host
st.set_page_config(page_title="Word2Vec Explorer", page_icon=str(shell.ROOT / "assets" / "favicon.png"), layout="wide")
shell.load_css()

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
corpus_picker.warm_up_sample()  # once per server, in the background: the bundled sample is tokenized before it is asked for
with page_errors(stop=True):  # one sentence on the page, the details in the server's log: never a traceback
    session.init_session()
    job.reattach_job()
with page_errors():
    job.training_status(show=current.url_path != "train")  # the Train page has its own, larger view
shell.running_page()
with page_errors():
    current.run()
