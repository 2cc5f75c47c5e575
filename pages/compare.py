"""Compare: two or more saved models side by side: knobs, loss curves, scores, neighbours, aligned maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ui import charts, compare_tables, session, shell
from ui.session import CURRENT, load_model
from ui.widgets import md_escape, plot_text, resolve_word, show_error, show_warning
from w2v_core import showcase, store
from w2v_core.align import align_to
from w2v_core.errors import W2VError
from w2v_core.projection import MAX_TSNE_POINTS, normalize_rows, project_together

shell.require_app()

PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]
PROBE_WORDS = [*showcase.NEIGHBOUR_WORDS, "city", "water", "france", "school", "game", "cat", "paris"]


def _labels(models: list[store.ModelRecord]) -> list[str]:
    """Column names: model names, made unique when two models share a name."""
    out: list[str] = []
    for m in models:
        name = m.name
        while name in out:
            name += "′"
        out.append(name)
    return out


def _default_pair(records: list[store.ModelRecord], current: str | None) -> list[str]:
    """The current model and the newest other one trained on the same corpus (else the newest other one)."""
    first = next((r for r in records if str(r.path) == str(current)), records[0])
    others = [r for r in records if r.path != first.path]
    same = [r for r in others if r.corpus_name and r.corpus_name == first.corpus_name]
    return [str(first.path), str((same or others)[0].path)]


def _wrap(label: str, width: int = 16) -> str:
    """A long model name over several lines, as Plotly text (map panel titles sit two to a row even on a phone)."""
    lines = []
    while len(label) > width:
        cut = max((i for i, ch in enumerate(label[:width + 1]) if ch in "-_ "), default=width - 1)
        lines.append(label[:cut + 1])
        label = label[cut + 1:]
    return "<br>".join(plot_text(line) for line in lines + [label])


# ----------------------------------------------------------------------------------------------- sections

def loss_section(models: list[store.Model], recs: list[store.ModelRecord], labels: list[str]) -> None:
    st.subheader("Loss curves")
    fig, missing = charts.compare_loss_figure([m.history for m in models], [r.epochs or 1 for r in recs], labels,
                                              PALETTE)
    if fig.data:
        st.plotly_chart(fig, width="stretch", key="cmp_loss_chart")
        st.caption("Solid: the loss as training went; dotted with dots: each epoch's mean. Loss is only comparable "
                   "between models with the same output layer and negatives: full softmax and negative sampling "
                   "measure different things.")
    if missing:
        st.caption(f"No loss history for {md_escape(', '.join(missing))} (imported vectors, or trained elsewhere).")


def neighbours_section(models: list[store.Model], labels: list[str], shared: list[str]) -> None:
    st.subheader("Neighbours of the same word")
    shared_set = set(shared)
    probes = [w for w in PROBE_WORDS if w in shared_set]
    # a familiar content word when there is one; else a mid-frequency word (the most frequent are "the", "of")
    default = (probes or showcase.content_words(shared, 1) or shared[:1] or [""])[0]
    c1, c2 = st.columns([3, 1])
    word = c1.text_input("Word", value=default, key="cmp_word",
                         help="The nearest words by cosine similarity in each model.").strip()
    topn = c2.slider("Neighbours", 5, 30, 10, key="cmp_topn")
    if not word:
        st.info("Type a word to see its neighbours in each model.")
        return
    lists: dict[str, list[tuple[str, float]]] = {}
    errors: dict[str, str] = {}
    built: set[str] = set()  # the models that build the word from its pieces (subword models, unseen word)
    for m, label in zip(models, labels):
        try:
            w = resolve_word(m.vectors, word)
            lists[label] = m.vectors.most_similar(w, topn=topn)
            if m.vectors.built_from_pieces(w):
                built.add(label)
        except W2VError as e:
            errors[label] = str(e)
    if not lists:
        show_warning(f"No model knows '{word}'. " + next(iter(errors.values()), ""))
        return
    seen: dict[str, int] = {}
    for res in lists.values():
        for w, _ in res:
            seen[w] = seen.get(w, 0) + 1
    per_row = 2  # tables side by side two at a time, so every one keeps room for its cosines
    cols = [c for i in range(0, len(models), per_row) for c in st.columns(per_row)]
    for col, label in zip(cols, labels):
        with col:
            st.markdown(f"**{md_escape(label)}**")
            if label in errors:
                show_warning(errors[label])
                continue
            if label in built:
                st.caption(md_escape(f"'{word}' is not in this model's vocabulary: its vector is built from its "
                                     "pieces (character n-grams)."))
            df = pd.DataFrame([{"shared": "★" if seen[w] > 1 else "", "word": w, "cosine": s} for w, s in lists[label]])
            st.dataframe(df, hide_index=True, width="stretch",
                         column_config={"shared": st.column_config.TextColumn(width="small"),
                                        "cosine": st.column_config.ProgressColumn(format="%.3f", min_value=0.0,
                                                                                  max_value=1.0)})
    if len(lists) > 1:
        sets = [set(w for w, _ in r) for r in lists.values()]
        common = set.intersection(*sets)
        st.caption(f"★ = also a neighbour in another model. {len(common)} of {topn} neighbours are shared by all "
                   f"{len(lists)} models that know '{md_escape(word)}'.")


@st.cache_data(max_entries=16, show_spinner=False)
def _aligned_map(paths: tuple[str, ...], stamps: tuple[int, ...], words: tuple[str, ...], method: str,
                 seed: int) -> tuple[list[np.ndarray], list[float], np.ndarray]:
    """Align every model onto the first on their shared words, then project all of them into one plane.

    Also returns, per word, the cosine distance between the first two models' aligned vectors (how much its
    meaning differs between them), measured in the full space rather than on the flattened map.
    """
    models = [load_model(p) for p in paths]
    ref = models[0]

    def rows(m: store.Model) -> np.ndarray:
        return m.vectors.vectors[[m.vectors.index[w] for w in words]]

    mats, errors = [normalize_rows(rows(ref))], [0.0]
    for m in models[1:]:
        al = align_to(m.vectors, ref.vectors)
        mats.append(al.apply(rows(m)))
        errors.append(al.error)
    width = max(x.shape[1] for x in mats)  # models of different dimension: pad with zero columns
    mats = [np.hstack([x, np.zeros((x.shape[0], width - x.shape[1]))]) for x in mats]
    coords = project_together(mats, method=method, dims=2, perplexity=30, n_iter=750, seed=seed)
    moved = 1.0 - np.einsum("ij,ij->i", mats[0], mats[1]) if len(mats) > 1 else np.zeros(len(words))
    return coords, errors, moved


def map_section(models: list[store.Model], labels: list[str], shared: list[str]) -> None:
    st.subheader("Maps, aligned")
    st.write("Two separately trained models agree at best up to a rotation, so each model is first rotated onto "
             f"**{md_escape(labels[0])}** (orthogonal Procrustes on the words they share), then all are projected together: "
             "the same word sits in a comparable place in every panel.")
    if len(shared) < 5:
        st.warning(f"The models share only {len(shared)} word{'' if len(shared) == 1 else 's'}, too few to align "
                   "and map. Compare models trained "
                   "on the same or similar text.")
        return
    c1, c2, c3 = st.columns([2, 1, 2])
    n_max = min(len(shared), 2000)
    n = c1.slider("Words (most frequent shared)", min(5, n_max), n_max, min(200, n_max), key="cmp_map_n")
    method = c2.radio("Projection", ["pca", "tsne"], format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
                      key="cmp_map_method", horizontal=True)
    mark = c3.text_input("Highlight a word", key="cmp_map_word", placeholder="e.g. city").strip()
    if method == "tsne" and n * len(models) > MAX_TSNE_POINTS:
        n = MAX_TSNE_POINTS // len(models)
        st.caption(f"t-SNE maps at most {MAX_TSNE_POINTS:,} points in all, so {n:,} words per model are shown. "
                   "Use PCA for more.")
    words = tuple(shared[:n])
    paths = tuple(str(m.path) for m in models)
    try:
        with st.spinner("Aligning and projecting…"):
            coords, errors, moved = _aligned_map(paths, tuple(store.mtime_stamp(p) for p in paths), words, method, 0)
    except W2VError as e:
        show_error(e)
        return
    n_cols = min(len(models), 2)  # 3 or 4 models: two rows, so titles and points keep their room
    n_rows = -(-len(models) // n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[_wrap(lab) for lab in labels],
                        horizontal_spacing=0.04, vertical_spacing=0.12)
    marked = mark if mark in words else None
    if mark and not marked:
        show_warning(f"'{mark}' is not among the {n:,} words on the map; raise the number of words or pick another.")
    mode = "markers+text" if len(words) <= 40 else "markers"  # few words: label them all
    for i, xy in enumerate(coords):
        fig.add_trace(go.Scattergl(x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode=mode, text=list(words), name=labels[i],
                                   textposition="top center", textfont=dict(size=10),
                                   marker=dict(size=6, color=PALETTE[i % len(PALETTE)], opacity=0.7),
                                   hovertemplate="<b>%{text}</b><extra>" + plot_text(labels[i]) + "</extra>",
                                   showlegend=False),
                      row=i // n_cols + 1, col=i % n_cols + 1)
        if marked:
            j = words.index(marked)
            fig.add_trace(go.Scatter(x=[float(xy[j, 0])], y=[float(xy[j, 1])], mode="markers+text", text=[marked],
                                     textposition="top center", marker=dict(size=14, color="black", symbol="star"),
                                     showlegend=False, hoverinfo="text"), row=i // n_cols + 1, col=i % n_cols + 1)
    fig.update_xaxes(matches="x")  # one coordinate system: the same scale in every panel
    fig.update_yaxes(matches="y")
    fig.update_annotations(font_size=12)  # the panel titles
    fig.update_layout(height=440 * n_rows, margin=dict(t=60, b=10))
    st.plotly_chart(fig, width="stretch", key="cmp_map_chart")
    st.caption("Alignment error (mean distance between a word's unit vectors after rotation; 0 = identical "
               "geometry, about 1.4 = unrelated): " +
               " · ".join(f"{md_escape(lab)}: {err:.3f}" for lab, err in zip(labels[1:], errors[1:])))
    n_fit = min(len(shared), 10_000)
    widest = max(m.vectors.dim for m in models)
    if n_fit < 2 * widest:
        st.warning(f"The rotation was fitted on only {n_fit} shared words for {widest} dimensions, so it can bend "
                   "almost any model onto another: treat the alignment error and the maps with caution.")
    order = np.argsort(-moved, kind="stable")[:10]
    st.caption(f"Words whose vectors differ most between {md_escape(labels[0])} and {md_escape(labels[1])} after "
               "alignment (cosine distance): " + ", ".join(f"{md_escape(words[i])} ({moved[i]:.2f})" for i in order))


# ----------------------------------------------------------------------------------------------- page

st.title(":material/compare_arrows: Compare models")
st.write("Pick two or more saved models, say CBOW against Skip-gram on the same corpus, or two window sizes, and "
         "see how their settings, training, scores, neighbours and maps differ. Imported vectors can be compared too.")

records = session.visible_records()  # this visitor's own models and the gallery's, never another visitor's
if len(records) < 2:
    st.info(f"Comparing needs at least two saved models (there {'is' if len(records) == 1 else 'are'} "
            f"{len(records)}). Train another one on the **Train** page, or import word vectors on the **Models** page.")
    st.stop()

by_path = {str(r.path): r for r in records}
chosen = st.multiselect("Models", list(by_path), default=_default_pair(records, st.session_state.get(CURRENT)),
                        format_func=lambda p: by_path[p].name if p in by_path else p, key="cmp_models",
                        max_selections=len(PALETTE),
                        help="First the current model and the newest other one trained on the same corpus.")
if len(chosen) < 2:
    st.info("Choose at least two models to compare.")
    st.stop()

models: list[store.Model] = []
recs: list[store.ModelRecord] = []
for p in chosen:
    try:
        models.append(load_model(p))
        recs.append(by_path[p])
    except W2VError as e:
        show_error(f"{by_path[p].name} could not be opened: {e}")
if len(models) < 2:
    st.stop()
labels = _labels(recs)
# shared vocabulary, in the first model's (frequency) order
shared = [w for w in models[0].vectors.words if all(w in m.vectors.index for m in models[1:])]
st.caption(f"The models share {len(shared):,} words.")

compare_tables.settings_table(recs, labels)
loss_section(models, recs, labels)
compare_tables.scores_table(recs, labels)
neighbours_section(models, labels, shared)
map_section(models, labels, shared)
