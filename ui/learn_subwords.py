"""The Learn page for a subword (fastText) model: how a word is cut into pieces and its vector built from them.

The numbers come from ``w2v_core.subwords`` (the same n-grams and hash the model was trained with) and the model's
own vectors (``vectors.SubwordVectors``)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.widgets import md_escape
from w2v_core import store
from w2v_core.vectors import SubwordVectors


@st.cache_resource(max_entries=2, show_spinner="Reading the model's vectors and n-gram table…")
def subword_vectors(path: str, stamp: int) -> SubwordVectors:
    """Read-only: the page never changes them."""
    return store.load_model(path).vectors


def word_pieces(wv: SubwordVectors, name: str) -> None:
    """A typed word's n-grams, buckets and rows, and the vector built from them."""
    from w2v_core.subwords import piece_table

    st.markdown(
        f"**{md_escape(name)}** is a subword (fastText) model: a word's vector is the mean of its own row and the rows "
        f"of its {wv.min_n}- to {wv.max_n}-character pieces, each hashed into one of {len(wv.ngrams):,} buckets. A word "
        "the corpus never had is the mean of its pieces that training has seen. (The step-by-step tabs are for "
        "plain word2vec models.)")
    default = next((w for w in wv.words if len(w) >= 5), wv.words[0])
    word = st.text_input("A word, seen or not", value=default, key="learn_pieces_word",
                         help="Any word: try a misspelling of a common one.").strip().lower()
    if not word or len(word.split()) > 1:
        st.info("Type one word to see its pieces.", icon=":material/lightbulb:")
        return
    rows = piece_table(word, wv.ngrams, wv.min_n, wv.max_n)
    seen = sum(r["seen"] for r in rows)
    known = word in wv
    st.caption(f"'{md_escape(word)}' {'is in the vocabulary' if known else 'is not in the vocabulary'}: "
               f"{len(rows)} pieces, {seen} of them seen in training." +
               (" Its vector is its own row and these, averaged." if known else
                " Its vector is built from its pieces: the seen ones, averaged." if seen else
                " None was seen, so the model has no vector for it."))
    st.dataframe(pd.DataFrame(rows), hide_index=True, width=520,
                 column_config={"length": st.column_config.NumberColumn("row length", format="%.3f"),
                                "seen": st.column_config.CheckboxColumn("seen in training")})
    if wv.knows(word):
        near = wv.most_similar(word, topn=8)
        st.caption("Nearest words: " + md_escape(", ".join(f"{w} ({s:.2f})" for w, s in near)))
