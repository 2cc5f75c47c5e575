"""The Learn page's five steps, one function each, drawn from ``w2v_core.learn``'s numbers.

Each step takes what it needs (the model, the passage's tokens, what the step before chose) and returns what the
next step needs, so ``pages/learn.py`` reads as the list of steps. Every number comes from ``w2v_core.learn``,
which runs the training code itself; this module only lays it out (tables, word chips, charts, diagrams).
"""

from __future__ import annotations

import functools
import html
from typing import Callable, NoReturn

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import session
from ui.shell import ROOT
from ui.cards import ARCH, OUTPUT
from ui.session import CURRENT, set_current_model
from ui.widgets import md_escape, show_error, show_warning
from w2v_core import learn
from w2v_core.data.corpus import Corpus
from w2v_core.errors import W2VError
from w2v_core.models import Batch, ModelConfig
from w2v_core.serve import jobs

ARCH_NAME = ARCH
LR_CHOICES = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0]
ASSETS = ROOT / "assets"
C_CENTRE, C_CTX, C_DROP, C_OOV = "#e4572e", "#ffd166", "#d9d9d9", "#f2f2f2"  # word chips (assets/style.css)


# ---------------------------------------------------------------------------------------------- loading


@st.cache_resource(max_entries=4, show_spinner="Rebuilding the model from its saved weights…")
def load_model(path: str, stamp: int) -> learn.LearnModel:
    """Read-only: the page never changes it (the gradient step works on a copy)."""
    return learn.load_training_model(path)


@st.cache_resource(max_entries=2, show_spinner="Re-reading the model's corpus…")
def model_corpus(path: str, stamp: int) -> Corpus | W2VError:
    """The model's corpus (read-only), or the W2VError that says why it cannot be re-read."""
    try:
        return learn.load_model_corpus(load_model(path, stamp), uploads=session.uploads_for(path))
    except W2VError as e:
        return e


@st.cache_resource(max_entries=2, show_spinner="Counting words per document (bag of words, TF-IDF)…")
def word_spaces(path: str, stamp: int) -> learn.WordSpaces:
    return learn.word_spaces(model_corpus(path, stamp), load_model(path, stamp))


@st.cache_data(max_entries=4, show_spinner=False)
def passages(path: str, stamp: int) -> list[list[str]]:
    corpus = model_corpus(path, stamp)
    if isinstance(corpus, W2VError):
        return []
    return learn.passages(corpus, load_model(path, stamp).vocab)


def offer_models(problem: str | None, imported: str | None = None) -> NoReturn:
    """Explain the page and offer a saved trainable model or a one-click tiny one; then stop the run.

    ``problem``: why the current model cannot be used (a red box); ``imported``: the current model's name when it
    is a set of imported vectors, which is no problem at all, just not something Learn can step through.
    """
    st.markdown(
        "This page takes one real sentence through word2vec, using a trained model and the code that trained it:  \n"
        "1. **Words → numbers**: tokens, vocabulary ids, one-hot vectors and the embedding matrix.  \n"
        "2. **Context windows**: which training examples a sentence gives (with subsampling and the dynamic "
        "window).  \n"
        "3. **Forward pass**: hidden vector, scores, softmax or negative sampling, the loss.  \n"
        "4. **One gradient step**: what one SGD update changes.  \n"
        "5. **Architecture**: CBOW and Skip-gram with this model's sizes.")
    models = [m for m in session.visible_records() if m.trained_here and str(m.path) != st.session_state.get(CURRENT)]
    todo = ("pick a saved one or train a tiny one." if models else
            "train a tiny one here (a few seconds to a minute), or a real one on the Train page.")
    if imported:
        st.info(f"The current model, **{md_escape(imported)}**, is a set of imported word vectors: it has the "
                "vectors but not the output layer and settings that training used, so its training steps cannot "
                "be shown. Learn works on a model trained by this app: " + todo, icon=":material/info:")
    elif problem:
        show_error(problem)
        st.info("Learn needs a model trained by this app: " + todo)
    else:
        st.info("There is no current model yet: " + todo)
    left, _ = st.columns([3, 2])
    with left:
        if models:
            names = {str(m.path): m.name for m in models}
            pick = st.selectbox("Learn from a saved model", list(names), format_func=names.get, key="learn_pick")
            if st.button("Use this model", key="learn_use"):
                set_current_model(pick)
                st.rerun()
            st.caption("…or train a tiny one:")
        tiny = st.button("Train a tiny model", type="primary", key="learn_tiny", icon=":material/model_training:",
                         width="stretch")
        st.caption(f"Skip-gram on the small '{learn.TINY_CORPUS}' news corpus, in under a minute.")
        if tiny:
            bar = st.progress(0.0, text="Training a tiny model…")
            try:  # a run in the server's queue and within the disk quota, like any other
                p = learn.train_tiny_model(session.models_root(), run=functools.partial(
                    jobs.run_to_end, uploads=session.uploads_folder(),
                    progress=lambda s: bar.progress(min(1.0, s.fraction), text=f"Tiny model: {s.message}")))
            except W2VError as e:
                show_error(e)
                st.stop()
            set_current_model(p)
            st.rerun()
    st.stop()


# ---------------------------------------------------------------------------------------------- display helpers


def _chips(tokens: list[str], styles: list[str], notes: list[str], titles: list[str] | None = None,
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


def _tex(word: str) -> str:
    """A word inside LaTeX's \\text{...}: its special characters escaped (or dropped), never commands."""
    return "".join("\\" + c if c in "{}$%#&_" else "" if c in "\\^~" else c for c in word)


def _p(x: float) -> str:
    """A probability with enough digits that 0.998 does not read as 1.00."""
    return f"{x:.2f}" if x < 0.99 or x >= 1.0 else f"{x:.3f}"


def _fmt_vec(v: np.ndarray, n: int = 6) -> str:
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
    out = (f"negative sampling: σ(h·u) for the true word + k={mc.negative} negatives" if negative
           else f"softmax over all V={V:,} words")
    values = {"V": f"{V:,}", "D": str(mc.dim), "W": str(mc.window), "C": str(2 * mc.window),
              "K": str(mc.negative) if negative else "0", "K1": str(mc.negative + 1) if negative else f"{V:,}",
              "OUT": out, "BIAS": "" if negative else " + b", "LOSS": OUTPUT[mc.loss]}
    for k, v in values.items():
        template = template.replace("{{" + k + "}}", html.escape(v, quote=False))
    return template


def _label_positions(start: np.ndarray, tip: np.ndarray, labels: list[str]) -> list[str]:
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


def _moves_figure(lm: learn.LearnModel, res: learn.StepResult) -> tuple[go.Figure, np.ndarray, int]:
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
    positions = _label_positions(pb, tip, labels)
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


# ---------------------------------------------------------------------------------------------- the steps


def words_to_numbers(lm: learn.LearnModel, tokens: list[str], ids: list[int | None], corpus: Corpus | W2VError,
                     spaces: Callable[[], learn.WordSpaces]) -> None:
    """Step 1: tokens, vocabulary ids, a one-hot vector times W_in, and why not one-hot (or counts) vectors."""
    st.subheader("Words become numbers")
    if not tokens:
        st.info("Pick a passage or type a sentence above.")
    else:
        st.markdown("The text is split into **tokens**; each token is looked up in the vocabulary and "
                    "becomes its **id** (its rank by frequency). Words rarer than `min_count` have no id and "
                    "are simply removed before training.")
        st.markdown(_chips(tokens, ["" if i is not None else f"background:{C_OOV};color:#999" for i in ids],
                           [str(i) if i is not None else "no id" for i in ids]), unsafe_allow_html=True)
        # one below the other: the comparison table needs the full width for its four kinds of vectors
        main_col, side_col = st.container(), st.container()
        with main_col:
            known = [t for t, i in zip(tokens, ids) if i is not None]
            word = st.selectbox("Look at one word", list(dict.fromkeys(known)), key="learn_word")
            wid = lm.vocab.index[word]
            x, prod, row = learn.one_hot_product(lm.model, wid)
            st.markdown(f"**{md_escape(word)}** has id **{wid}**, so its one-hot vector **x** has V = {lm.V:,} entries, all 0 "
                        f"except a 1 at position {wid}. Multiplying it by the embedding matrix "
                        f"W_in (V × D = {lm.V:,} × {lm.D}) picks out row {wid}: the matrix product *is* a row lookup.")
            st.latex(r"x_{\text{" + word.replace("_", r"\_") + r"}}^{\top}\,W_{in} = W_{in}[" + str(wid) + r",:]"
                     r"\qquad x \in \{0,1\}^{" + str(lm.V) + r"},\; W_{in} \in \mathbb{R}^{" + f"{lm.V}\\times {lm.D}" + "}")
            lo, hi = max(0, wid - 3), min(lm.V, wid + 4)
            xs = x[0, lo:hi].int().tolist()
            w_rows = lm.model.w_in[lo:hi].numpy()
            show_d = min(lm.D, 6)
            left, right = st.columns([1, 3])
            with left:
                st.caption(f"x, entries {lo}–{hi - 1} of {lm.V:,}")
                st.dataframe(pd.DataFrame({"word": lm.words[lo:hi], "x": xs}, index=range(lo, hi)),
                             hide_index=True, width="stretch")
            with right:
                st.caption(f"W_in, the same rows (first {show_d} of {lm.D} columns)")
                df = pd.DataFrame(w_rows[:, :show_d], index=[f"row {i}" for i in range(lo, hi)],
                                  columns=[f"d{j}" for j in range(show_d)])
                st.dataframe(df.style.format("{:+.3f}").apply(
                    lambda r: ["background-color: #ffe8a3" if r.name == f"row {wid}" else "" for _ in r],
                    axis=1), width="stretch")
            diff = float((prod - row).abs().max())
            st.markdown(f"x · W_in = `{_fmt_vec(prod.numpy(), show_d)}`  \nW_in[{wid}] = `{_fmt_vec(row.numpy(), show_d)}`  \n"
                        f"largest difference: **{diff:.1e}** (identical), so a real implementation never builds x: "
                        "it reads the row (`nn.Embedding`).")
        with side_col:
            st.markdown("##### Why not just use one-hot vectors?")
            if isinstance(corpus, W2VError):
                st.info("The model's corpus is not available here, so the count-based vectors cannot be built.")
            else:
                st.markdown(
                    f"Each word as a vector, cosine similarity between two words:  \n"
                    f"- **one-hot**: V entries, one 1: two different words always score 0.  \n"
                    f"- **bag of words**: the word's count in each of the {corpus.n_docs:,} documents of the corpus.  \n"
                    f"- **TF-IDF**: the same counts weighted by term frequency × inverse document frequency "
                    f"(scikit-learn's `TfidfTransformer`).  \n"
                    f"- **embedding**: the word's row of W_in ({lm.D} numbers, learnt from context windows).")
                pair_text = st.text_input("Add a pair (two words)", key="learn_pair", placeholder="e.g. police officers")
                pairs = learn.suggest_pairs(lm)
                extra = learn.sentence_tokens(pair_text, lm) if pair_text.strip() else []
                if len(extra) >= 2:
                    missing = [w for w in extra[:2] if w not in lm.vocab.index]
                    if missing:
                        show_warning(f"Not in the vocabulary: {', '.join(missing)}", icon=None)
                    else:
                        pairs = [(extra[0], extra[1])] + pairs
                rows = learn.similarity_rows(spaces(), lm.vocab, pairs)
                sim = pd.DataFrame(rows)
                if len(sim):
                    sim.insert(0, "pair", sim.pop("word 1") + " · " + sim.pop("word 2"))
                    sim = sim.rename(columns={"bag of words": "BoW"})
                    st.dataframe(sim.style.format({c: "{:.2f}" for c in ("one-hot", "BoW", "TF-IDF", "embedding")}),
                                 hide_index=True, width="stretch")
                st.caption("Suggested pairs: textbook pairs found in this vocabulary, a few mid-frequency words "
                           "with their nearest embedding neighbour, and one unrelated pair. Count vectors only see words that share documents; the "
                           "embedding sees words that share contexts.")


def context_windows(lm: learn.LearnModel, tokens: list[str]) -> tuple[learn.WindowDemo | None, int | None]:
    """Step 2: subsampling and the dynamic window on the passage; returns the draw and the chosen centre."""
    mc = lm.config
    demo = centre = None
    st.subheader("Context windows: where the training examples come from")
    if not tokens:
        st.info("Pick a passage or type a sentence above.")
    else:
        st.markdown(
            "Each word in turn is the **centre**; the words around it are its **context**. Before that, an "
            "epoch first **subsamples**: a frequent word is kept only with probability")
        st.latex(r"P_{\text{keep}}(w) = \min\!\Big(1,\ \big(\sqrt{f_w / t} + 1\big)\, \tfrac{t}{f_w}\Big),"
                 r"\qquad t = \text{sample} \times \text{tokens}")
        st.markdown("and the **dynamic window** draws each centre's radius *r* uniformly from 1…window, so near "
                    "words count more often than far ones. Press *Draw again* to see other random draws.")
        a, b, c, d = st.columns([3, 2, 2, 2])
        window = a.slider("Window (maximum radius)", 1, 10, int(min(mc.window, 10)), key="learn_window",
                          help=f"The model was trained with window {mc.window}.")
        dynamic = b.toggle("Dynamic window", True, key="learn_dynamic",
                           help="On: each centre's radius is drawn from 1…window, as in training. Off: always the full window.")
        subs = c.toggle("Subsampling", mc.sample > 0, key="learn_subsample", disabled=mc.sample <= 0,
                        help=f"The model was trained with sample = {mc.sample:g}" + (" (off)." if mc.sample <= 0 else "."))
        if d.button("Draw again", icon=":material/casino:", key="learn_draw"):
            st.session_state["learn_seed"] = st.session_state.get("learn_seed", 0) + 1
        seed = st.session_state.get("learn_seed", 0)
        demo = learn.window_demo(tokens, lm.vocab, window, mc.sample, seed=seed, dynamic=dynamic,
                                 subsampling=subs and mc.sample > 0)
        if demo.n == 0:
            st.warning("Subsampling dropped every word of this passage this time: press *Draw again*.")
        else:
            labels = [f"{p}: {tokens[demo.token_of[p]]}" for p in range(demo.n)]
            default = min(demo.n - 1, max(0, demo.n // 3))
            if st.session_state.get("learn_centre") not in labels:
                st.session_state.pop("learn_centre", None)
            lab = st.select_slider("Centre word (step through the passage)", labels, value=labels[default],
                                   key="learn_centre")
            centre = labels.index(lab)
            ctx_pos = demo.context_of(centre)
            ctx_tok = {demo.token_of[q] for q in ctx_pos}
            r = int(demo.radii[centre])
            styles, notes, titles = [], [], []
            for i, t in enumerate(tokens):
                kp = demo.keep_prob[i]
                if demo.ids[i] is None:
                    styles.append(f"background:{C_OOV};color:#aaa;font-style:italic")
                    notes.append("not in vocab")
                    titles.append("rarer than min_count: removed before training")
                elif not demo.kept[i]:
                    styles.append(f"background:{C_DROP};color:#777")
                    notes.append(f"dropped (keep {_p(kp)})")
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
                    notes.append(f"keep {_p(kp)}" if kp is not None and kp < 1 else "")
                    titles.append("")
            strike = [demo.ids[i] is not None and not demo.kept[i] for i in range(len(tokens))]
            st.markdown(_chips(tokens, styles, notes, titles, strike), unsafe_allow_html=True)
            st.markdown(
                f'<div class="w2v-legend"><span style="background:{C_CENTRE};color:white">centre</span>'
                f'<span style="background:{C_CTX}">context</span>'
                f'<span style="background:{C_DROP};text-decoration:line-through">dropped by subsampling</span>'
                f'<span style="background:{C_OOV};font-style:italic">not in vocabulary</span></div>',
                unsafe_allow_html=True)
            cw = tokens[demo.token_of[centre]]
            ctx_words = [tokens[demo.token_of[q]] for q in ctx_pos]
            st.markdown(f"Drawn radius for **{md_escape(cw)}**: r = {r} (of at most {window}), so its context is "
                        f"{', '.join(f'**{md_escape(w)}**' for w in ctx_words) or '*empty*'}. Windows skip dropped words, "
                        "so they reach further in the original text.")
            k1, k2 = st.columns(2)
            with k1:
                st.markdown("**CBOW** learns: context → centre")
                st.code(f"[{', '.join(ctx_words)}] → {cw}" if ctx_words else "(no example: empty context)",
                        language=None)
            with k2:
                st.markdown("**Skip-gram** learns: centre → each context word")
                st.code("\n".join(f"{cw} → {w}" for w in ctx_words) or "(no example)", language=None)
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
    return demo, centre


def forward_pass(lm: learn.LearnModel, tokens: list[str], demo: learn.WindowDemo | None,
                 centre: int | None) -> Batch | None:
    """Step 3: one training example through the model, up to its loss; returns that example."""
    mc, arch = lm.config, lm.config.arch
    batch = None
    st.subheader(f"Forward pass: one {ARCH_NAME[arch]} example through the model")
    if demo is None or centre is None:
        st.info("Pick a passage and a centre word in step 2 first.")
    elif not demo.context_of(centre):
        st.info("This centre word has no context words; pick another one in step 2.")
    else:
        cw = tokens[demo.token_of[centre]]
        target = None
        if arch == "skipgram":
            opts = demo.context_of(centre)
            target = st.selectbox("Context word to predict", opts, key="learn_target",
                                  format_func=lambda q: tokens[demo.token_of[q]])
        negs = (learn.draw_negatives(lm, mc.negative, seed=st.session_state.get("learn_seed", 0) * 7919 + centre)
                if mc.loss == "negative" else None)
        batch = learn.example_batch(demo, centre, arch, target, negs)
        fw = learn.forward(lm.model, batch)
        in_words = [lm.words[i] for i in fw.inputs]
        tw = lm.words[fw.target]
        if arch == "cbow":
            st.markdown(f"Example: **[{md_escape(', '.join(in_words))}] → {md_escape(tw)}**. The input rows of the context words are "
                        "looked up and **averaged** into the hidden vector *h*:")
            st.latex(r"h = \frac{1}{|C|}\sum_{c \in C} W_{in}[c] \in \mathbb{R}^{" + str(lm.D) + "}")
        else:
            st.markdown(f"Example: **{md_escape(cw)} → {md_escape(tw)}**. The centre word's input row *is* the hidden vector *h*:")
            st.latex(r"h = W_{in}[\text{" + cw + r"}] \in \mathbb{R}^{" + str(lm.D) + "}")
        show_d = min(lm.D, 8)
        vec = pd.DataFrame(np.vstack([fw.input_vectors, fw.hidden[None]])[:, :show_d],
                           index=[f"W_in[{w}]" for w in in_words] + ["h"], columns=[f"d{j}" for j in range(show_d)])
        st.dataframe(vec.style.format("{:+.4f}"), width="stretch")
        if lm.D > show_d:
            st.caption(f"First {show_d} of {lm.D} dimensions.")
        st.markdown("Every vocabulary word *w* gets a **score** against the output layer, and softmax turns "
                    "the scores into probabilities:")
        bias = r" + b_w" if mc.loss == "softmax" else ""
        st.latex(r"s_w = h \cdot W_{out}[w]" + bias + r",\qquad p(w \mid \text{input}) = "
                 r"\frac{e^{s_w}}{\sum_{v=1}^{" + str(lm.V) + r"} e^{s_v}}")
        top = fw.top(10)
        names = [lm.words[i] for i, _ in top]
        if fw.target not in [i for i, _ in top]:
            names.append(tw)
            top.append((fw.target, fw.target_prob))
        colors = ["#e4572e" if i == fw.target else "#4c78a8" for i, _ in top]
        fig = go.Figure(go.Bar(x=[p for _, p in top][::-1], y=[f"{n} ✓" if i == fw.target else n
                                                              for n, (i, _) in zip(names, top)][::-1],
                               orientation="h", marker_color=colors[::-1],
                               text=[f"{p:.2%}" for _, p in top][::-1], textposition="outside"))
        fig.update_xaxes(tickformat=".2~%")  # the same unit as the bars' labels (not 200µ next to 0.02%)
        fig.update_layout(height=340, margin=dict(l=10, r=40, t=30, b=10), xaxis_title="probability",
                          title=f"Top 10 predictions (true word '{tw}' in red: rank {fw.target_rank:,} of {lm.V:,})")
        st.plotly_chart(fig, key="learn_top10")
        if mc.loss == "softmax":
            m1, m2 = st.columns(2)
            m1.metric(f"p({md_escape(tw)})", f"{fw.target_prob:.4f}")
            m2.metric("Loss = −log p(true word)", f"{fw.loss:.4f}")
            st.latex(r"L = -\log p(\text{" + _tex(tw) + r"}\mid\text{input}) = " + f"{fw.loss:.4f}")
        else:
            st.markdown(
                "This model was trained with **negative sampling**, so training never computes that softmax over "
                f"all {lm.V:,} words (it is shown above because the scores still rank the words). Instead the "
                f"true word and k = {mc.negative} **negatives** drawn from the noise distribution "
                "(unigram counts^0.75) are each scored with a sigmoid: is this a real (input, word) pair?")
            st.latex(r"L = -\log\sigma(h\cdot u_{\text{true}}) - \sum_{j=1}^{k}\log\sigma(-h\cdot u_{j}),"
                     r"\qquad \sigma(x)=\frac{1}{1+e^{-x}}")
            roles = ["true word"] + ["negative"] * (len(fw.ns_ids) - 1)
            ns = pd.DataFrame({"word": [lm.words[i] for i in fw.ns_ids], "role": roles,
                               "score h·u": fw.ns_scores, "σ(score)": fw.ns_sigmoid, "loss term": fw.ns_terms})
            st.dataframe(ns.style.format({"score h·u": "{:+.4f}", "σ(score)": "{:.4f}", "loss term": "{:.4f}"}),
                         hide_index=True, width="stretch")
            if any(i == fw.target for i in fw.ns_ids[1:]):
                st.caption("A negative that equals the true word is skipped (loss term 0), as word2vec does.")
            st.caption("This is the textbook form: k negatives for this one example (the model's own `step`, "
                       "checked against autograd in the tests). For speed the trainer draws one pool of negatives per batch "
                       "and shares it among the batch's examples, each pool word weighted so that the expected "
                       "gradient is the same.")
            m1, m2 = st.columns(2)
            m1.metric(f"σ(h·u_{md_escape(tw)}): 'real pair' probability", f"{fw.ns_sigmoid[0]:.4f}")
            m2.metric("Loss of this example", f"{fw.loss:.4f}")
    return batch


def gradient_step(lm: learn.LearnModel, tokens: list[str], demo: learn.WindowDemo | None, centre: int | None,
                  batch: Batch | None) -> None:
    """Step 4: one SGD step on a copy of the model: the loss, the probabilities and the vectors, before and after."""
    mc, arch = lm.config, lm.config.arch
    st.subheader("One gradient step")
    if batch is None or demo is None or centre is None:
        st.info("Set up an example in steps 2 and 3 first.")
    else:
        cw = tokens[demo.token_of[centre]]
        st.markdown("Stochastic gradient descent moves every vector involved a little against its gradient. "
                    "Here the step runs on a **copy** of the model (the saved model does not change), "
                    "with the model's own `step` function.")
        st.latex(r"\theta \leftarrow \theta - \eta\,\nabla_\theta L")
        err = r"\big(\sigma(h\cdot u_w) - y_w\big)" if mc.loss == "negative" else r"(p_w - y_w)"
        over = (r"w \in \{\text{true}\} \cup \text{negatives}" if mc.loss == "negative" else r"w = 1 \ldots V")
        st.latex(r"u_w \leftarrow u_w - \eta\," + err + r"\,h \qquad (" + over + r")")
        if arch == "cbow":
            st.latex(r"W_{in}[c] \leftarrow W_{in}[c] - \eta \sum_w " + err + r"\,u_w \qquad \text{for every context word } c")
        else:
            st.latex(r"W_{in}[\text{centre}] \leftarrow W_{in}[\text{centre}] - \eta \sum_w " + err + r"\,u_w")
        st.caption("u_w = W_out[w], the output vector of word w; y_w = 1 for the true word, 0 otherwise"
                   + ("; p_w its softmax probability" if mc.loss == "softmax" else "") + ".")
        default_lr = min(LR_CHOICES, key=lambda v: abs(v - lm.lr))
        lr = st.select_slider("Learning rate η", LR_CHOICES, value=default_lr, key="learn_lr",
                              help=f"Training started at η = {lm.lr:g}. Raise it to see the vectors move more.")
        res = learn.sgd_step(lm.model, batch, lr)
        tw = lm.words[res.before.target]
        m1, m2, m3 = st.columns(3)
        m1.metric("Loss", f"{res.loss_after:.4f}", f"{res.loss_after - res.loss_before:+.4f}", delta_color="inverse",
                  help=f"before: {res.loss_before:.4f}")
        m1.caption(f"before {res.loss_before:.4f} → after {res.loss_after:.4f}")
        m2.metric(f"p({md_escape(tw)}) (softmax)", f"{res.after.target_prob:.5f}",
                  f"{res.after.target_prob - res.before.target_prob:+.5f}")
        m2.caption(f"before {res.before.target_prob:.5f} → after {res.after.target_prob:.5f}")
        if mc.loss == "negative":
            m3.metric(f"σ(h·u_{md_escape(tw)})", f"{res.after.ns_sigmoid[0]:.4f}",
                      f"{res.after.ns_sigmoid[0] - res.before.ns_sigmoid[0]:+.4f}")
            m3.caption(f"before {res.before.ns_sigmoid[0]:.4f} → after {res.after.ns_sigmoid[0]:.4f}")
        else:
            m3.metric(f"rank of {md_escape(tw)}", f"{res.after.target_rank:,}", f"{res.after.target_rank - res.before.target_rank:+d}",
                      delta_color="inverse")
        rows = res.cosine_rows()
        for r_ in rows:
            r_["word"] = lm.words[r_.pop("word id")]
        cdf = pd.DataFrame(rows).rename(columns={
            "cos(h, out) before": "cos(h, u_w) before", "cos(h, out) after": "cos(h, u_w) after",
            "cos(in, in) before": f"cos({cw}, w) in W_in before" if arch == "skipgram" else "",
            "cos(in, in) after": f"cos({cw}, w) in W_in after" if arch == "skipgram" else ""})
        cdf = cdf[["word"] + [c for c in cdf.columns if c != "word"]]
        st.markdown("**What moved.** The step pulls *h* and the true word's output vector together and pushes "
                    "the " + ("negatives'" if mc.loss == "negative" else "wrongly predicted words'") +
                    " output vectors away: the cosine of *h* with each output vector u_w"
                    + (f", and the embedding similarity of **{md_escape(cw)}** with each word (its W_in row: what the "
                       "neighbour pages use)" if arch == "skipgram" else "") + ":")
        st.dataframe(cdf.style.format({c: "{:+.4f}" for c in cdf.columns if c.startswith("cos")}),
                     hide_index=True, width="stretch")

        fig, moves, mag = _moves_figure(lm, res)
        st.plotly_chart(fig, key="learn_step_map")
        st.caption("'in:' points are rows of W_in, 'out:' points rows of W_out, h the hidden vector; dots are the "
                   f"vectors before the step, arrows point where they go. At η = {lr:g} the largest move on the map "
                   f"is {moves.max():.4f}" + (f" (drawn ×{mag})" if mag > 1 else "") +
                   ": a real run makes millions of such small steps.")


def architecture(lm: learn.LearnModel) -> None:
    """Step 5: both architectures as diagrams with this model's sizes."""
    mc, arch = lm.config, lm.config.arch
    out_desc = output_description(mc)
    st.subheader("The architecture, with this model's sizes")
    st.markdown(
        f"V = {lm.V:,} words in the vocabulary, D = {lm.D} numbers per vector, window = {mc.window} "
        f"(up to C = {2 * mc.window} context words), output layer: {out_desc}.")
    order = [arch] + [a for a in ("cbow", "skipgram") if a != arch]
    for a in order:
        svg_path = ASSETS / f"{a}.svg"
        title = f"{ARCH_NAME[a]}" + (" (this model)" if a == arch else " (the other architecture, same sizes)")
        st.markdown(f"**{title}**")
        try:
            svg = architecture_svg(svg_path.read_text(encoding="utf-8"), lm.config, lm.V)
        except OSError:
            st.warning(f"The diagram {svg_path.name} is missing from assets/.")
            continue
        st.image(svg, width="stretch")
    st.markdown(
        "Both networks have **one hidden layer with no nonlinearity**: the input table W_in and the output table "
        "W_out. After training we keep W_in: its rows are the word vectors the other pages explore.")
