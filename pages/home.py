"""Home: what the app is, where to start, and the current model."""

from __future__ import annotations

import streamlit as st

from ui import cards, job, session, shell
from w2v_core import store

shell.require_app()

st.title("Word2Vec Explorer")
st.markdown(
    '<p class="w2v-lead">Train word2vec (CBOW or Skip-gram, in PyTorch) on a real corpus, watch the loss fall '
    "while it learns, then explore what it learnt: words on a map, nearest neighbours and analogies. "
    + ("Everything runs on this server, in a workspace of your own, with the bundled Wikipedia sample as the "
       "default corpus.</p>" if session.shared() else
       "Everything runs on your machine, offline, with the bundled Wikipedia sample as the default corpus.</p>"),
    unsafe_allow_html=True)

st.subheader("Start here")
steps = [
    ("train", "1. Train a model", ":material/model_training:",
     "The first settings train a good first model on the bundled corpus in under half a minute; watch the loss "
     "fall live."),
    ("map", "2. Map the words", ":material/scatter_plot:",
     "PCA, t-SNE or UMAP in 2-D or 3-D, clusters named by their words; click a word for its neighbours, and "
     "watch the map form as the model learnt."),
    ("neighbours", "3. Ask questions", ":material/hub:",
     "Nearest neighbours, similarity of two words, analogies (france : french :: spain : ?), odd one out."),
    ("models", "4. Keep, share, import", ":material/inventory_2:",
     "Rename, download as zip, upload back, import word2vec/GloVe vectors, export for the Embedding Projector."),
]
next_step = "train" if session.current_path() is None else "map"  # the one primary button: where to go next
for col, (key, label, icon, text) in zip(st.columns(len(steps)), steps):
    with col.container(border=True, height="stretch"):
        if st.button(label, icon=icon, key=f"home_{key}", width="stretch",
                     type="primary" if key == next_step else "secondary"):
            st.switch_page(shell.PAGES[key])
        st.caption(text)

extra = [("corpus", "Look at the corpus", ":material/library_books:"),
         ("evaluate", "Score on benchmarks", ":material/grading:"),
         ("compare", "Compare models", ":material/compare_arrows:"),
         ("learn", "Learn step by step", ":material/school:")]
for col, (key, label, icon) in zip(st.columns(len(extra)), extra):
    if col.button(label, icon=icon, key=f"home_{key}", width="stretch"):
        st.switch_page(shell.PAGES[key])

st.subheader("Current model")
run = job.current_job()
if run is not None and run.state().active:
    st.info("A training run is going on; follow it on the Train page.", icon=":material/hourglass_top:")
model = session.current_model()
if model is None:
    st.info("No model yet: start with step 1. Models you train are saved and still here after a restart.",
            icon=":material/info:")
else:
    cards.model_card(store.read_record(model.path))
