"""The Learn page's forward pass and gradient step for a hierarchical-softmax model: the centre word's path down the
Huffman tree (its inner nodes and code bits), the sigmoid at each node, and one HS step. Numbers come from
``w2v_core.learn_hs``, which runs the model's own tree, scores and step."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.widgets import md_escape
from w2v_core import learn, learn_hs
from w2v_core.models import Batch

LR_CHOICES = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0]


def _path_table(lm: learn.LearnModel, ps: learn_hs.PathScores) -> pd.DataFrame:
    return pd.DataFrame({
        "depth": [t.depth for t in ps.turns], "inner node": [t.node for t in ps.turns],
        "code": [t.code for t in ps.turns], "turn": ["right (1)" if t.code else "left (0)" for t in ps.turns],
        "words below": [t.words_below for t in ps.turns],
        "on this side, e.g.": [", ".join(lm.words[w] for w in t.examples) for t in ps.turns],
        "score h·v": ps.scores, "P(turn)": ps.p_turn, "loss term": ps.terms})


def forward_pass(lm: learn.LearnModel, tokens: list[str], demo: learn.WindowDemo, centre: int) -> Batch:
    """Step 3 with hierarchical softmax: the centre word's path, one sigmoid per inner node; returns the example."""
    arch = lm.config.arch
    cw = tokens[demo.token_of[centre]]
    target = None
    if arch == "skipgram":
        target = st.selectbox("Context word whose row walks the path", demo.context_of(centre), key="learn_target",
                              format_func=lambda q: tokens[demo.token_of[q]])
    batch = learn.example_batch(demo, centre, arch, target)
    ps = learn_hs.path_scores(lm.model, batch)
    ins = [lm.words[i] for i in ps.inputs]
    if arch == "cbow":
        st.markdown(f"Example: **[{md_escape(', '.join(ins))}] → {md_escape(cw)}**. The context rows are averaged "
                    "into *h*, which walks down the tree to the centre word's leaf.")
    else:
        st.markdown(f"Example: the pair **{md_escape(cw)} – {md_escape(ins[0])}**. With hierarchical softmax "
                    f"word2vec reads a Skip-gram pair the other way round: the context word's row "
                    f"*h* = W_in[{md_escape(ins[0])}] walks down the tree to the **centre** word's leaf (the same "
                    "pairs, so the same model; each centre's path is then shared by all its context words).")
    st.markdown(
        f"This model's output layer is **hierarchical softmax**: the {lm.V:,} words are the leaves of a Huffman tree "
        f"built from their counts, with {lm.V - 1:,} inner nodes, each with its own vector *v* (a row of W_out). "
        f"Frequent words sit near the root. **{md_escape(cw)}** is {len(ps.turns)} turns down: its *code* is "
        f"`{''.join(str(t.code) for t in ps.turns)}` (0 = left, 1 = right), and at each node a sigmoid gives the "
        "probability of turning the right way:")
    st.latex(r"P(\text{left at } n) = \sigma(h\cdot v_n),\quad P(\text{right}) = 1-\sigma(h\cdot v_n) = "
             r"\sigma(-h\cdot v_n),\qquad p(w\mid h) = \prod_{n \in \text{path}(w)} P(\text{turn at } n)")
    st.dataframe(_path_table(lm, ps).style.format({"score h·v": "{:+.4f}", "P(turn)": "{:.4f}",
                                                   "loss term": "{:.4f}"}), hide_index=True, width="stretch")
    st.latex(r"L = -\log p(w\mid h) = -\sum_{n} \log P(\text{turn at } n) = " + f"{ps.loss:.4f}")
    m1, m2, m3 = st.columns(3)
    m1.metric(f"p({md_escape(cw)} | h)", f"{ps.prob:.5f}")
    m2.metric("Loss of this example", f"{ps.loss:.4f}")
    m3.metric(f"rank of {md_escape(cw)}", f"{ps.rank:,} of {lm.V:,}")
    st.caption(f"{len(ps.turns)} sigmoids instead of a softmax over all {lm.V:,} words (the probabilities of all "
               "leaves still sum to 1, which is how the rank is found). Negative sampling would score 1 + k words.")
    return batch


def gradient_step(lm: learn.LearnModel, batch: Batch, cw: str) -> None:
    """Step 4 with hierarchical softmax: one SGD step on a copy; every node on the path and the input rows move."""
    st.markdown("Each inner node on the path is a small logistic regression: its label is 1 − code (1 for a left "
                "turn). The step moves each node's vector and the input rows against the gradient, with the "
                "model's own `step` on a **copy** of the model:")
    st.latex(r"v_n \leftarrow v_n - \eta\,\big(\sigma(h\cdot v_n) - (1 - c_n)\big)\,h,\qquad "
             r"W_{in}[x] \leftarrow W_{in}[x] - \eta \sum_{n \in \text{path}} \big(\sigma(h\cdot v_n) - (1 - c_n)\big)"
             r"\,v_n")
    lr = st.select_slider("Learning rate η", LR_CHOICES, value=min(LR_CHOICES, key=lambda v: abs(v - lm.lr)),
                          key="learn_lr", help=f"Training started at η = {lm.lr:g}.")
    res = learn_hs.hs_step(lm.model, batch, lr)
    b, a = res.before, res.after
    m1, m2, m3 = st.columns(3)
    m1.metric("Loss", f"{a.loss:.4f}", f"{a.loss - b.loss:+.4f}", delta_color="inverse")
    m1.caption(f"before {b.loss:.4f} → after {a.loss:.4f}")
    m2.metric(f"p({md_escape(cw)} | h)", f"{a.prob:.5f}", f"{a.prob - b.prob:+.5f}")
    m3.metric(f"rank of {md_escape(cw)}", f"{a.rank:,}", f"{a.rank - b.rank:+d}", delta_color="inverse")
    df = pd.DataFrame({"depth": [t.depth for t in b.turns], "inner node": [t.node for t in b.turns],
                       "code": [t.code for t in b.turns], "P(turn) before": b.p_turn, "P(turn) after": a.p_turn,
                       "|Δ v_n|": res.node_moves})
    st.dataframe(df.style.format({"P(turn) before": "{:.4f}", "P(turn) after": "{:.4f}", "|Δ v_n|": "{:.5f}"}),
                 hide_index=True, width="stretch")
    moved = ", ".join(f"{md_escape(lm.words[w])} {m:.5f}" for w, m in zip(b.inputs, res.input_moves))
    st.caption(f"Every node on the path gets more likely to send h the right way. Input rows moved: {moved}. "
               "Only the path's nodes and the input rows change: a step touches about log2 V rows of W_out, not V.")
