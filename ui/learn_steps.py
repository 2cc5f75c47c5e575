"""The Learn page's five steps, one function each, drawn from ``w2v_core.learn``'s numbers (``ui/learn_draw.py``
draws the chips, diagrams and the step's map).

Each step takes what it needs (the model, the passage's tokens, what the step before chose) and returns what the
next step needs, so ``pages/learn.py`` reads as the list of steps. Every number comes from ``w2v_core.learn``,
which runs the training code itself; this module only lays it out (tables, word chips, charts, diagrams).
"""

from __future__ import annotations

import functools
from typing import Callable, NoReturn

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import learn_draw as draw
from ui import learn_hs
from ui import session
from ui.shell import ROOT
from ui.cards import ARCH
from ui.session import CURRENT, set_current_model
from ui.widgets import md_escape, show_error, show_warning
from w2v_core import learn
from w2v_core.data.corpus import Corpus
from w2v_core.errors import W2VError
from w2v_core.models import Batch
from w2v_core.serve import jobs

ARCH_NAME = ARCH
LR_CHOICES = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0]
ASSETS = ROOT / "assets"
C_CENTRE, C_CTX, C_DROP, C_OOV = draw.C_CENTRE, draw.C_CTX, draw.C_DROP, draw.C_OOV
architecture_svg, output_description = draw.architecture_svg, draw.output_description


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
        "3. **Forward pass**: hidden vector, scores, softmax, negative sampling or the tree of hierarchical softmax, "
        "the loss.  \n"
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
        st.markdown(draw.chips(tokens, ["" if i is not None else f"background:{C_OOV};color:#999" for i in ids],
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
            st.markdown(f"x · W_in = `{draw.fmt_vec(prod.numpy(), show_d)}`  \nW_in[{wid}] = `{draw.fmt_vec(row.numpy(), show_d)}`  \n"
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
            st.markdown(draw.window_chips(tokens, demo, centre, ctx_tok, r), unsafe_allow_html=True)
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
                        language=None, wrap_lines=True)  # a long context wraps instead of being cut off
            with k2:
                st.markdown("**Skip-gram** learns: centre → each context word")
                st.code("\n".join(f"{cw} → {w}" for w in ctx_words) or "(no example)", language=None, wrap_lines=True)
            draw.window_examples(lm, tokens, demo, subs)
    return demo, centre


def _negative_sampling(lm: learn.LearnModel, fw: learn.Forward, tw: str) -> None:
    """Step 3 with negative sampling: the true word and k negatives, each scored with a sigmoid."""
    mc = lm.config
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
        if mc.loss == "hs":  # the centre's path down the tree instead of scores over the words
            return learn_hs.forward_pass(lm, tokens, demo, centre)
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
            st.latex(r"L = -\log p(\text{" + draw.tex(tw) + r"}\mid\text{input}) = " + f"{fw.loss:.4f}")
        else:
            _negative_sampling(lm, fw, tw)
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
        if mc.loss == "hs":
            learn_hs.gradient_step(lm, batch, cw)
            return
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
        _when_the_true_word_falls(res, tw, mc.loss)

        fig, moves, mag = draw.moves_figure(lm, res)
        st.plotly_chart(fig, key="learn_step_map")
        st.caption("'in:' points are rows of W_in, 'out:' points rows of W_out, h the hidden vector; dots are the "
                   f"vectors before the step, arrows point where they go. At η = {lr:g} the largest move on the map "
                   f"is {moves.max():.4f}" + (f" (drawn ×{mag})" if mag > 1 else "") +
                   ": a real run makes millions of such small steps.")


def _when_the_true_word_falls(res: learn.StepResult, tw: str, loss: str) -> None:
    """A step can lower the true word's score while the loss falls: say why, where the numbers above show it."""
    if loss != "negative" or res.after.ns_sigmoid[0] >= res.before.ns_sigmoid[0] or res.loss_after > res.loss_before:
        return
    st.info(f"Here σ(h·u_{tw}) **fell** although the loss fell. That is no mistake: *h* moves by the sum of "
            "every word's pull, towards the true word's output vector and away from each negative's. When the "
            "negatives point roughly where the true word does, pushing *h* away from them turns it a little away "
            "from the true word too; the loss still falls, because the negatives' terms gain more than the true "
            "word's term loses. Over millions of examples the true pairs win. A smaller learning rate, or another "
            "context word, shows the usual case.", icon=":material/info:")


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
            svg = draw.architecture_svg(svg_path.read_text(encoding="utf-8"), lm.config, lm.V)
        except OSError:
            st.warning(f"The diagram {svg_path.name} is missing from assets/.")
            continue
        st.image(svg, width="stretch")
    st.markdown(
        "Both networks have **one hidden layer with no nonlinearity**: the input table W_in and the output table "
        "W_out. After training we keep W_in: its rows are the word vectors the other pages explore.")
