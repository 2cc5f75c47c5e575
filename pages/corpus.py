"""Corpus: what the model will read. Sizes, the vocabulary that min count keeps, top words, Zipf's law, samples.

The corpus choice and the min count are the Train page's own widgets (the same keys), so what is looked at here
is what Train trains on.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.express as px
import streamlit as st

from ui import corpus_text, shell
from ui.corpus_picker import (corpus_picker, corpus_stats_cached, load_corpus_with_progress, min_count_control,
                              offline_message, use_sample)
from ui.widgets import md_escape, show_error
from w2v_core.data.hub import HubUnavailable
from w2v_core.errors import W2VError

shell.require_app()

KEY = "corpus"


st.title(":material/library_books: Corpus")
st.caption("Word2vec learns a word from the company it keeps. Here is the company: pick a corpus, "
           "see how big it is, which words dominate it, and how many words survive the min count. "
           "The Train page trains on the corpus chosen here.")

with st.container(border=True):
    config = corpus_picker(KEY)
    min_count = min_count_control()

if config is None:
    st.info("Give the corpus a file, some text or a path above to see its statistics.")
    st.stop()

try:
    with st.spinner("Loading and tokenizing the corpus (cached after the first time)…", show_time=True):
        corpus = load_corpus_with_progress(config)
        stats = corpus_stats_cached(config)
except HubUnavailable:
    show_error(offline_message(config))
    st.button("Use the bundled Wikipedia sample instead", on_click=use_sample, args=(KEY,), key=f"{KEY}_use_sample",
              type="primary")
    st.stop()
except W2VError as e:
    show_error(e)
    st.stop()

kept = stats.words_kept(min_count)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Tokens", f"{stats.n_tokens:,}", help="Words in running text after tokenization.")
c2.metric("Documents", f"{stats.n_docs:,}", help="Lines / paragraphs / rows.")
c3.metric("Distinct words", f"{stats.n_words:,}")
c4.metric("Words kept", f"{kept:,}",
          help=f"Words seen at least {min_count} times (the min count): the vocabulary training will use. "
               f"{stats.tokens_kept(min_count) / max(stats.n_tokens, 1):.1%} of the tokens are these words.")
if stats.truncated:
    st.caption(f"Cut to {stats.n_tokens:,} tokens (whole documents, in order) by the corpus size setting.")
corpus_text.script_notes(corpus)
if st.button("Train on this corpus", type="primary", icon=":material/model_training:", key=f"{KEY}_train"):
    st.switch_page(shell.PAGES["train"])

top_tab, zipf_tab, docs_tab, phrases_tab = st.tabs(["Top words", "Zipf plot", "Sample documents", "Phrases"])
with top_tab:
    n_top = min(30, len(stats.top_words))
    df = pd.DataFrame(stats.top_words[:n_top], columns=["word", "count"])
    fig = px.bar(df, x="word", y="count", title=f"The {n_top} most frequent words")
    fig.update_layout(xaxis_tickangle=-45, height=420, margin=dict(t=50, b=10))
    st.plotly_chart(fig, width="stretch", key=f"{KEY}_top_chart")
with zipf_tab:
    zdf = pd.DataFrame({"rank": stats.ranks, "count": stats.freqs})
    fig = px.line(zdf, x="rank", y="count", log_x=True, log_y=True, markers=False, title="Rank vs frequency")
    fig.add_hline(y=min_count, line_dash="dot", line_color="#e45756")
    if kept:  # the label sits where the cut meets the curve (annotations on log axes take log10 positions)
        fig.add_annotation(x=math.log10(max(kept, 1)), y=math.log10(min_count), ax=-50, ay=30,
                           text=f"min count {min_count}: the {kept:,} words left of here are kept",
                           showarrow=True, arrowhead=2, arrowcolor="#e45756", xanchor="right", font=dict(color="#e45756"))
    fig.update_xaxes(dtick=1, tickformat="~s", title="rank (1 = most frequent word)")
    fig.update_yaxes(dtick=1, tickformat="~s", title="count")
    fig.update_layout(height=420, margin=dict(t=50, b=10))
    st.plotly_chart(fig, width="stretch", key=f"{KEY}_zipf_chart")
    st.caption("Both axes are logarithmic. Zipf's law says a word's count is inversely proportional to its rank "
               "(count ∝ 1 / rank), which is a straight line here: a few words are everywhere, most words are rare.")
with docs_tab:
    st.caption(f"{len(stats.samples)} paragraphs from across the corpus, as the model sees them: after tokenization.")
    for i, text in enumerate(stats.samples):
        with st.container(border=True):
            st.markdown(md_escape(text))
with phrases_tab:
    corpus_text.phrases_found(corpus)

st.caption(f"{md_escape(corpus.name)} · {corpus.n_tokens:,} tokens held as int32 ids "
           f"({corpus.ids.nbytes / 1e6:,.1f} MB)")
