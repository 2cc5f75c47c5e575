"""The corpus picker's text options (Unicode normalisation, phrases) and what the Corpus page says about them.

    extra = text_options(key)        # inside the picker's "Tokenization options": CorpusConfig keyword arguments
    script_notes(corpus)             # Chinese/Japanese/Thai: split into words with jieba, or into characters
    phrases_found(corpus)            # the phrases joined, with their scores and counts (a dataframe)

Everything taken from the corpus is shown as plain data (a dataframe, ``st.text``), never as markdown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ui.widgets import PERSIST, default
from w2v_core.data import scripts
from w2v_core.data.corpus import Corpus
from w2v_core.data.phrases import MAX_PASSES

NORMAL_FORMS = {"NFC": "NFC (composed: é is one character)", "NFKC": "NFKC (also folds ﬁ → fi, Ｔｏｋｙｏ → Tokyo)",
                "none": "None (keep the text as it is)"}
SCORINGS = {"default": "word2vec (count-based)", "npmi": "NPMI (-1 to 1)"}
THRESHOLDS = {"default": 10.0, "npmi": 0.5}


def text_options(key: str) -> dict:
    """Normalisation and phrase widgets; returns their values as ``CorpusConfig`` keyword arguments."""
    for name, value in (("normalize", "NFC"), ("phrases", 0), ("phrase_min_count", 5), ("phrase_scoring", "default"),
                        ("phrase_threshold", 10.0)):
        default(f"{key}_{name}", value)
    normalize = st.selectbox("Unicode normalisation", list(NORMAL_FORMS), format_func=NORMAL_FORMS.get,
                             key=f"{key}_normalize", persist_state=PERSIST,
                             help="Text can spell the same word with different code points (é as one character, or "
                                  "e plus an accent). NFC makes them one word; NFKC also folds look-alike forms.")
    passes = st.number_input("Phrase passes", min_value=0, max_value=MAX_PASSES, step=1, key=f"{key}_phrases",
                             persist_state=PERSIST,
                             help="Join frequent word pairs into one token before training (new york → new_york), "
                                  "as word2vec's word2phrase and gensim's Phrases do. Each pass can join a pair "
                                  "with a phrase (new_york times → new_york_times). Costs well under a second per "
                                  "pass on the bundled sample; 0 = off.")
    out = {"normalize": normalize, "phrases": int(passes)}
    if passes:
        c1, c2, c3 = st.columns(3)
        scoring = c1.selectbox("Phrase scoring", list(SCORINGS), format_func=SCORINGS.get, key=f"{key}_phrase_scoring",
                               persist_state=PERSIST,
                               help="word2vec's score, (count(a b) - min count) × vocabulary / (count(a) × count(b)), "
                                    "or normalised PMI, which is between -1 and 1.")
        lo, hi = (1e-3, 1e6) if scoring == "default" else (-1.0, 1.0)
        tk = f"{key}_phrase_threshold"
        if not lo <= st.session_state.get(tk, 0.0) <= hi:  # switching scoring: that scoring's usual threshold
            st.session_state[tk] = THRESHOLDS[scoring]
        threshold = c2.number_input("Phrase threshold", min_value=lo, max_value=hi, key=tk, persist_state=PERSIST,
                                    help="A pair scoring above this is a phrase: higher means fewer phrases "
                                         "(gensim's defaults: 10, or 0.5 for NPMI).")
        min_count = c3.number_input("Phrase min count", min_value=1, max_value=1000, step=1,
                                    key=f"{key}_phrase_min_count", persist_state=PERSIST,
                                    help="Pairs seen fewer times than this are never phrases.")
        out |= {"phrase_scoring": scoring, "phrase_threshold": float(threshold), "phrase_min_count": int(min_count)}
    return out


TRACE = 0.001  # a share of the tokens under which text in such scripts is a trace (a caption, not boxes)


def script_notes(corpus: Corpus) -> None:
    """Say how text in scripts without spaces (Chinese, Japanese, Thai) was split, when the corpus has some: in
    boxes when there is a real share of it, in one caption when it is a trace (the English Wikipedia sample has a
    few hundred such tokens, and two blue boxes about Chinese and Thai on it read as if something were wrong)."""
    pretokenized = bool(corpus.config and corpus.config.pretokenized)
    notes = scripts.script_notes(corpus.words, pretokenized)
    if not notes:
        return
    rows = [i for i, w in enumerate(corpus.words) if not w.isascii() and scripts.has_unspaced(w)]
    tokens = int(np.asarray(corpus.counts)[rows].sum()) if rows else 0
    if tokens < TRACE * max(corpus.n_tokens, 1):
        st.caption(f":material/translate: {tokens:,} of the {corpus.n_tokens:,} tokens are in scripts written "
                   "without spaces: " + " ".join(notes))
        return
    for note in notes:
        st.info(note, icon=":material/translate:")


def phrases_found(corpus: Corpus) -> None:
    """The phrases joined in this corpus: a sortable table of phrase, score, count and times joined."""
    if not corpus.config or not corpus.config.phrases:
        st.caption("Phrases are off: set Phrase passes in the tokenization options to join pairs like new york.")
        return
    if not corpus.phrases:
        st.caption("No word pair scored above the phrase threshold.")
        return
    df = pd.DataFrame([p.to_list() for p in corpus.phrases], columns=["phrase", "score", "pair count", "joined", "pass"])
    df = df.sort_values("pair count", ascending=False, kind="stable")
    st.caption(f"{len(df):,} phrases scored above the threshold (gensim Phrases' scores); 'joined' counts the times "
               "the pair became one token (a pair right after a joined one keeps its words).")
    st.dataframe(df, hide_index=True, width="stretch", height=360,
                 column_config={"score": st.column_config.NumberColumn(format="%.3f")})
