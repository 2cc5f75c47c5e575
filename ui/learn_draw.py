"""What the Learn page draws: word chips, formulas' words, vectors, the architecture diagrams and the step's map.

Layout only, from numbers ``w2v_core.learn`` computed; ``ui/learn_steps.py`` puts them in the five steps.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui.cards import OUTPUT
from w2v_core import learn
from w2v_core.models import ModelConfig

C_CENTRE, C_CTX, C_DROP, C_OOV = "#e4572e", "#ffd166", "#d9d9d9", "#f2f2f2"  # word chips (assets/style.css)


def chips(tokens: list[str], styles: list[str], notes: list[str], titles: list[str] | None = None,
           strike: list[bool] | None = None) -> str:
    """Words as little boxes with a note under each (ids, roles, keep probabilities)."""
    parts = []
    for i, (t, s, n) in enumerate(zip(tokens, styles, notes)):
        title = html.escape(titles[i]) if titles else ""
        word = html.escape(t)
        if strike and strike[i]:
            word = f'<s>{word}</s>'
        parts.append(f'<span class="w2v-chip" style="{s}" title="{title}">{word}<small>{html.escape(n)}</small></span>')
    return '<div class="w2v-chips">' + "".join(parts) + "</div>"


def tex(word: str) -> str:
    """A word inside LaTeX's \\text{...}: its special characters escaped (or dropped), never commands."""
    return "".join("\\" + c if c in "{}$%#&_" else "" if c in "\\^~" else c for c in word)


def p_text(x: float) -> str:
    """A probability with enough digits that 0.998 does not read as 1.00."""
    return f"{x:.2f}" if x < 0.99 or x >= 1.0 else f"{x:.3f}"


def fmt_vec(v: np.ndarray, n: int = 6) -> str:
    v = np.asarray(v)
    head = ", ".join(f"{x:+.3f}" for x in v[:n])
    return f"[{head}{', …' if len(v) > n else ''}]"


def output_description(mc: ModelConfig) -> str:
    return f"{OUTPUT[mc.loss]} (k = {mc.negative})" if mc.loss == "negative" else OUTPUT[mc.loss]


def architecture_svg(template: str, mc: ModelConfig, vocab_size: int) -> str:
    """Fill an SVG template's ``{{V}}``, ``{{D}}``, ``{{W}}``, ``{{C}}`` (2 x window), ``{{K}}``, ``{{K1}}``,
    ``{{OUT}}``, ``{{LOSS}}`` and ``{{BIAS}}`` (" + b" with a softmax output layer) with a model's sizes."""
    V = int(vocab_size)
    negative = mc.loss == "negative"
    hs = mc.loss == "hs"
    out = (f"negative sampling: σ(h·u) for the true word + k={mc.negative} negatives" if negative
           else f"hierarchical softmax: one σ per inner node on the word's path (~log2 V = {math.log2(max(V, 2)):.0f})"
           if hs else f"softmax over all V={V:,} words")
    k1 = str(mc.negative + 1) if negative else f"~{math.ceil(math.log2(max(V, 2)))}" if hs else f"{V:,}"
    values = {"V": f"{V:,}", "D": str(mc.dim), "W": str(mc.window), "C": str(2 * mc.window),
              "K": str(mc.negative) if negative else "0", "K1": k1,
              "OUT": out, "BIAS": " + b" if mc.loss == "softmax" else "", "LOSS": OUTPUT[mc.loss]}
    for k, v in values.items():
        template = template.replace("{{" + k + "}}", html.escape(v, quote=False))
    return template


def label_positions(start: np.ndarray, tip: np.ndarray, labels: list[str]) -> list[str]:
    """Where each point's label goes: away from its own arrow, and clear of the labels placed before it.

    Greedy, in plot units scaled to the data's span: a label takes the first side (the one opposite its arrow
    first) whose rough box does not overlap a box already taken.
    """
    span = np.ptp(np.vstack([start, tip]), axis=0)
    span = np.where(span > 0, span, 1.0)
    p, d = start / span, (tip - start) / span
    sides = {"top center": (0.0, 0.06), "bottom center": (0.0, -0.06), "middle left": (-1, 0.0),
             "middle right": (1, 0.0)}
    taken: list[tuple[float, float, float]] = []  # centre x, centre y, half width of each placed label
    out = []
    for i, label in enumerate(labels):
        half = 0.009 * len(label) + 0.01  # about a character's width in these units
        away = ("middle left" if d[i, 0] > 0 else "middle right") if abs(d[i, 0]) >= abs(d[i, 1]) else \
            ("bottom center" if d[i, 1] > 0 else "top center")
        order = [away] + [k for k in sides if k != away]
        for side in order:
            dx, dy = sides[side]
            cx, cy = p[i, 0] + dx * (half + 0.02), p[i, 1] + dy
            if all(abs(cx - x) > half + h or abs(cy - y) > 0.05 for x, y, h in taken):
                break
        taken.append((cx, cy, half))
        out.append(side)
    return out


def moves_figure(lm: learn.LearnModel, res: learn.StepResult) -> tuple[go.Figure, np.ndarray, int]:
    """h, the input rows and the targets' output rows, before -> after the step, in one PCA basis.

    Returns the figure, each point's move on the map and how much longer than the move the arrows are drawn.
    """
    n_in = res.roles.count("input")
    labels, before, after, kinds = [], [], [], []
    labels.append("h")
    before.append(res.before.hidden)
    after.append(res.after.hidden)
    kinds.append("h")
    if lm.config.arch == "cbow":
        for j in range(n_in):
            labels.append(f"in: {lm.words[res.words[j]]}")
            before.append(res.in_before[j])
            after.append(res.in_after[j])
            kinds.append("input")
    for j in range(n_in, len(res.words)):
        labels.append(f"out: {lm.words[res.words[j]]}")
        before.append(res.out_before[j])
        after.append(res.out_after[j])
        kinds.append(res.roles[j])
    pb, pa = learn.pca_2d(np.array(before), np.array(after))
    moves = np.linalg.norm(pa - pb, axis=1)
    span = float(np.ptp(np.vstack([pb, pa]), axis=0).max()) or 1.0
    mag = 1
    if moves.max() > 0:  # draw small moves longer so that they can be seen; the table has the exact numbers
        for m in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000):
            mag = m
            if moves.max() * m >= 0.12 * span:
                break
    tip = pb + mag * (pa - pb)
    colour = {"h": "#e4572e", "input": "#f4a259", "true word": "#2a9d8f", "negative": "#6c757d",
              "predicted": "#6c757d"}
    positions = label_positions(pb, tip, labels)
    fig = go.Figure()
    for kind in dict.fromkeys(kinds):
        ix = [i for i, k in enumerate(kinds) if k == kind]
        fig.add_trace(go.Scatter(x=pb[ix, 0], y=pb[ix, 1], mode="markers+text", name=kind,
                                 marker=dict(color=colour[kind], size=11), text=[labels[i] for i in ix],
                                 textposition=[positions[i] for i in ix], hoverinfo="text",
                                 hovertext=[f"{labels[i]}: moved {moves[i]:.5f}" for i in ix]))
    for i in range(len(labels)):
        if moves[i] > 0:
            fig.add_annotation(x=tip[i, 0], y=tip[i, 1], ax=pb[i, 0], ay=pb[i, 1], xref="x", yref="y",
                               axref="x", ayref="y", showarrow=True, arrowhead=3, arrowsize=1.3,
                               arrowwidth=2.2, arrowcolor=colour[kinds[i]], text="")
    title = "Where each vector moves (PCA of these vectors before and after the step)"
    if mag > 1:
        title += f": arrows drawn {mag}× longer than the move"
    fig.update_layout(height=480, margin=dict(l=10, r=10, t=40, b=10), title=title, legend_title_text="")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig, moves, mag


def window_chips(tokens: list[str], demo: learn.WindowDemo, centre: int, ctx_tok: set[int], r: int) -> str:
    """Step 2's passage as chips: the centre, its drawn context, what subsampling dropped, what has no id."""
    styles, notes, titles = [], [], []
    for i, t in enumerate(tokens):
        kp = demo.keep_prob[i]
        if demo.ids[i] is None:
            styles.append(f"background:{C_OOV};color:#aaa;font-style:italic")
            notes.append("not in vocab")
            titles.append("rarer than min_count: removed before training")
        elif not demo.kept[i]:
            styles.append(f"background:{C_DROP};color:#777")
            notes.append(f"dropped (keep {p_text(kp)})")
            titles.append(f"subsampled away this time; kept with probability {kp:.3f}")
        elif i == demo.token_of[centre]:
            styles.append(f"background:{C_CENTRE};color:white;font-weight:bold")
            notes.append(f"centre, r={r}")
            titles.append("centre word")
        elif i in ctx_tok:
            styles.append(f"background:{C_CTX}")
            notes.append("context")
            titles.append("inside the drawn window")
        else:
            styles.append("")
            notes.append(f"keep {p_text(kp)}" if kp is not None and kp < 1 else "")
            titles.append("")
    strike = [demo.ids[i] is not None and not demo.kept[i] for i in range(len(tokens))]
    return chips(tokens, styles, notes, titles, strike)


def window_examples(lm: learn.LearnModel, tokens: list[str], demo: learn.WindowDemo, subs: bool) -> None:
    """Step 2's expanders: every training example of the passage, and the keep probabilities of its frequent words."""
    with st.expander(f"All training examples of this passage ({len(demo.cbow)} CBOW, "
                     f"{len(demo.skipgram)} Skip-gram), as the trainer produces them"):
        w = lm.words
        e1, e2 = st.columns(2)
        e1.dataframe(pd.DataFrame({"context": [" ".join(w[i] for i in ctx) for ctx, _ in demo.cbow],
                                   "→ centre": [w[c] for _, c in demo.cbow]}),
                     hide_index=True, width="stretch", key="learn_cbow_table")
        e2.dataframe(pd.DataFrame({"centre": [w[a] for a, _ in demo.skipgram],
                                   "→ context": [w[b] for _, b in demo.skipgram]}),
                     hide_index=True, width="stretch", key="learn_sg_table")
    drops = [(t, p) for t, p, k, i in zip(tokens, demo.keep_prob, demo.kept, demo.ids)
             if i is not None and p is not None and p < 1]
    if drops and subs:
        with st.expander("Subsampling: keep probability of this passage's frequent words"):
            st.dataframe(pd.DataFrame(
                {"word": [t for t, _ in drops], "count": [int(lm.vocab.counts[lm.vocab.index[t]]) for t, _ in drops],
                 "keep probability": [p for _, p in drops],
                 "kept this time": [demo.kept[i] for i, (t, p) in enumerate(zip(tokens, demo.keep_prob))
                                    if demo.ids[i] is not None and p is not None and p < 1]}
            ).style.format({"keep probability": "{:.3f}"}), hide_index=True, width="stretch")
