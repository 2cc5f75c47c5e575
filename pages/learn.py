"""Learn: word2vec step by step, on the current model and the corpus it was trained on.

Every number comes from ``w2v_core.learn``, which runs the training code itself (``models.py``'s hidden/loss/step,
``windows.py``'s subsampling and windows, ``vocab.py``'s keep probabilities and noise table); each step is drawn by
one function of ``ui/learn_steps.py``.
"""

from __future__ import annotations

import streamlit as st

from ui import learn_steps as steps
from ui import shell
from ui.session import current_path
from ui.widgets import md_escape, show_warning
from w2v_core import learn, store
from w2v_core.errors import W2VError

shell.require_app()

st.title("Learn: word2vec, step by step")

path = current_path()
if path is None:
    steps.offer_models(None)
stamp = store.mtime_stamp(path)
rec = store.read_record(path)
if rec.model is not None and rec.model.subwords and rec.error is None:  # fastText's model: its pieces
    from ui.learn_subwords import subword_vectors, word_pieces

    word_pieces(subword_vectors(path, stamp), rec.name)
    st.stop()
try:
    lm = steps.load_model(path, stamp)
except W2VError as e:
    rec = store.read_record(path)
    steps.offer_models(str(e), imported=rec.name if rec.imported else None)

mc = lm.config
st.markdown(
    f"Model **{md_escape(lm.name)}**: {steps.ARCH_NAME[mc.arch]}, {steps.output_description(mc)}, vocabulary "
    f"V = {lm.V:,} words, vectors of D = {lm.D}, window {mc.window}, trained on *{md_escape(lm.corpus_name)}*. "
    "Every number below is computed by the same code that trained it."
)

# the passage every step works on: one from the model's corpus, or the user's own sentence
corpus = steps.model_corpus(path, stamp)
ps = steps.passages(path, stamp)
c1, c2 = st.columns([3, 2])
if ps:
    pi = c1.selectbox("A passage from the corpus", range(len(ps)), key="learn_passage",
                      format_func=lambda i: " ".join(ps[i])[:110] + "…")
else:
    pi = None
    with c1:
        show_warning(corpus if isinstance(corpus, W2VError) else "The corpus has no passage long enough to show.", None)
own = c2.text_input("…or type your own sentence", key="learn_text", placeholder="e.g. the president said today")
passage = ps[pi] if pi is not None else []
tokens = learn.sentence_tokens(own, lm) if own.strip() else passage
ids = learn.encode(tokens, lm.vocab)
if own.strip() and all(i is None for i in ids):  # one message, and the steps go on with the passage
    st.warning(f"None of the words you typed is in the model's vocabulary ({lm.V:,} words), so the steps below use "
               "the passage from the corpus" + (". Try more common words." if passage else
                                                ": there is none here, so type more common words."),
               icon=":material/help:")
    tokens = passage
    ids = learn.encode(tokens, lm.vocab)

tab1, tab2, tab3, tab4, tab5 = st.tabs(["1 · Words → numbers", "2 · Context windows", "3 · Forward pass",
                                        "4 · One gradient step", "5 · Architecture"])
with tab1:
    steps.words_to_numbers(lm, tokens, ids, corpus, lambda: steps.word_spaces(path, stamp))
with tab2:
    demo, centre = steps.context_windows(lm, tokens)
with tab3:
    batch = steps.forward_pass(lm, tokens, demo, centre)
with tab4:
    steps.gradient_step(lm, tokens, demo, centre, batch)
with tab5:
    steps.architecture(lm)
