"""Map: the current model's words in 2-D or 3-D (PCA or t-SNE), coloured by cluster or frequency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from ui import exports, shell
from ui.session import load_model, require_model
from ui.widgets import PERSIST, clamp, default, md_escape, parse_words, resolve_word, show_error, show_warning
from w2v_core import projection, store
from w2v_core.errors import W2VError

shell.require_app()

ss = st.session_state
MODES = ["Most frequent words", "My word list", "A word and its neighbours"]
COLOURS = ["k-means clusters", "Word frequency", "One colour"]

st.title(":material/scatter_plot: Map")
st.caption("Words whose vectors point the same way land close together. PCA keeps the big directions of the "
           "whole space; t-SNE keeps each word's neighbours close (better clusters, distances between clusters "
           "mean little).")

model = require_model()
wv = model.vectors
V = len(wv)
path, stamp = str(model.path), store.stamp(model.path)

for k, v in {"map_mode": MODES[0], "map_n": min(500, V), "map_words": "", "map_center": "",
             "map_center_n": 100, "map_method": "PCA", "map_dims": "2-D", "map_perplexity": 30,
             "map_iter": 500, "map_colour": COLOURS[0], "map_k": 8, "map_search": "",
             "map_search_n": 10}.items():
    default(k, v)


@st.cache_data(max_entries=32, show_spinner=False)
def project_words(path: str, stamp: int, words: tuple[str, ...], method: str, dims: int, perplexity: float,
                  n_iter: int) -> np.ndarray:
    """Coordinates of ``words`` (cached: the same words and settings never project twice)."""
    m = load_model(path)
    X = m.vectors.vectors[[m.vectors.index[w] for w in words]]
    return projection.project(X, method, dims, perplexity=perplexity, n_iter=n_iter, seed=0)


@st.cache_data(max_entries=32, show_spinner=False)
def clusters(path: str, stamp: int, words: tuple[str, ...], k: int) -> np.ndarray:
    m = load_model(path)
    return projection.kmeans_labels(m.vectors.vectors[[m.vectors.index[w] for w in words]], k, seed=0)


def choose_words() -> tuple[list[str], list[str]]:
    """The words to map (and messages about words that could not be used)."""
    notes: list[str] = []
    mode = ss["map_mode"]
    if mode == MODES[0]:
        return wv.words[: int(ss["map_n"])], notes
    if mode == MODES[1]:
        typed = parse_words(ss["map_words"])
        words = []
        for w in typed:
            try:
                words.append(resolve_word(wv, w))
            except W2VError as e:
                notes.append(str(e))
        return list(dict.fromkeys(words)), notes
    centre = ss["map_center"].strip()
    if not centre:
        return [], notes
    try:
        c = resolve_word(wv, centre)
    except W2VError as e:
        return [], [str(e)]
    return [c] + [w for w, _ in wv.most_similar(c, topn=int(ss["map_center_n"]))], notes


left, right = st.columns([1, 3], gap="large")
with left:
    st.radio("Words", MODES, key="map_mode", persist_state=PERSIST, help="Which words to put on the map.")
    if ss["map_mode"] == MODES[0]:
        if V > 100:
            hi = min(5000, V)
            clamp("map_n", 100, hi)
            st.slider("How many", 100, hi, key="map_n", persist_state=PERSIST, step=50 if hi >= 200 else 1,
                      help="The N most frequent words of the vocabulary.")
        else:
            ss["map_n"] = V
            st.caption(f"The vocabulary has only {V} words: all are shown.")
    elif ss["map_mode"] == MODES[1]:
        st.text_area("Words", key="map_words", persist_state=PERSIST, placeholder="king queen man woman paris france berlin germany",
                     help="Separated by spaces, commas or new lines.")
    else:
        st.text_input("Word", key="map_center", persist_state=PERSIST, placeholder="e.g. music", help="A word and its nearest neighbours.")
        hi = min(500, max(V - 1, 6))
        clamp("map_center_n", 5, hi)
        st.slider("Neighbours", 5, hi, key="map_center_n", persist_state=PERSIST)
    st.radio("Projection", ["PCA", "t-SNE"], key="map_method", persist_state=PERSIST, horizontal=True,
             help="PCA: fast, keeps global directions. t-SNE: slower, keeps local neighbourhoods.")
    st.radio("Dimensions", ["2-D", "3-D"], key="map_dims", persist_state=PERSIST, horizontal=True)
    if ss["map_method"] == "t-SNE":
        st.slider("Perplexity", 2, 100, key="map_perplexity", persist_state=PERSIST,
                  help="Roughly how many neighbours each word cares about (5 to 50 is usual).")
        st.slider("Iterations", 250, 2000, key="map_iter", persist_state=PERSIST, step=50, help="More iterations settle the map further.")
    st.radio("Colour by", COLOURS, key="map_colour", persist_state=PERSIST)
    if ss["map_colour"] == COLOURS[0]:
        st.slider("Clusters (k)", 2, 30, key="map_k", persist_state=PERSIST, help="k-means on the word vectors (cosine geometry).")
    st.text_input("Highlight a word", key="map_search", persist_state=PERSIST, placeholder="search ...",
                  help="Lights up the word and its nearest neighbours among the mapped words.")
    st.slider("Neighbours to highlight", 1, 50, key="map_search_n", persist_state=PERSIST)

words, notes = choose_words()
method = "tsne" if ss["map_method"] == "t-SNE" else "pca"
dims = 3 if ss["map_dims"] == "3-D" else 2

with right:
    for n in notes:
        show_warning(n)
    if not words:
        st.info("Type some words (or a word) on the left to put them on the map.", icon=":material/edit:")
        st.stop()
    n_cap, cap_msg = projection.cap_points(len(words), method)
    if cap_msg:
        st.info(cap_msg, icon=":material/speed:")
        words = words[:n_cap]
    key = tuple(words)
    try:
        if method == "tsne":
            with st.spinner(f"Running t-SNE on {len(words):,} words (cached afterwards) ..."):
                coords = project_words(path, stamp, key, method, dims, float(ss["map_perplexity"]),
                                       int(ss["map_iter"]))
        else:
            coords = project_words(path, stamp, key, method, dims, 30.0, 1000)
    except W2VError as e:
        show_error(e)
        st.stop()

    df = pd.DataFrame(coords, columns=["x", "y", "z"][:dims])
    df.insert(0, "word", words)
    idx = np.array([wv.index[w] for w in words])
    if wv.counts is not None and wv.counts.any():
        df["count"] = wv.counts[idx]
    df["rank"] = idx + 1
    colour = ss["map_colour"]
    color_col = None
    if colour == COLOURS[0]:
        df["cluster"] = [f"cluster {c + 1}" for c in clusters(path, stamp, key, int(ss["map_k"]))]
        color_col = "cluster"
    elif colour == COLOURS[1]:
        if "count" in df:
            df["log10 count"] = np.log10(np.maximum(df["count"], 1))
            color_col = "log10 count"
        else:
            df["log10 rank"] = np.log10(df["rank"])
            color_col = "log10 rank"
            st.caption("These vectors carry no word counts; coloured by rank in the file instead.")

    # highlight: the searched word and its nearest neighbours among the mapped words
    hl: list[str] = []
    search = ss["map_search"].strip()
    if search:
        try:
            s_word = resolve_word(wv, search)
            if s_word not in set(words):
                show_warning(f"'{s_word}' is in the vocabulary but not on this map: add it to a word list, "
                             "or map it with its neighbours.", icon=":material/visibility_off:")
            else:
                sims = wv.normed[idx] @ wv.normed[wv.index[s_word]]
                order = [i for i in np.argsort(-sims) if words[i] != s_word][: int(ss["map_search_n"])]
                hl = [s_word] + [words[i] for i in order]
        except W2VError as e:
            show_warning(e)
    df["highlight"] = df["word"].isin(hl)

    show_labels = len(df) <= 150
    hover = {c: True for c in ("count", "rank") if c in df} | {"x": False, "y": False}
    orders = {"cluster": [f"cluster {i + 1}" for i in range(int(ss["map_k"]))]}
    if dims == 3:
        hover["z"] = False
        fig = px.scatter_3d(df, x="x", y="y", z="z", color=color_col, hover_name="word", hover_data=hover,
                            category_orders=orders,
                            text="word" if show_labels else None, opacity=0.35 if hl else 0.85,
                            color_continuous_scale="Viridis")
        fig.update_traces(marker=dict(size=3.5))
    else:
        fig = px.scatter(df, x="x", y="y", color=color_col, hover_name="word", hover_data=hover,
                         category_orders=orders,
                         text="word" if show_labels else None, opacity=0.3 if hl else 0.85,
                         color_continuous_scale="Viridis")
        fig.update_traces(marker=dict(size=7 if len(df) < 1000 else 5), textposition="top center",
                          textfont=dict(size=10))
    if hl:
        sub = df[df["highlight"]].set_index("word").loc[hl].reset_index()
        sizes = [16] + [11] * (len(sub) - 1)
        kw = dict(mode="markers+text", text=sub["word"], textposition="top center", name="highlighted",
                  hovertext=sub["word"], hoverinfo="text", textfont=dict(size=13, color="#111"),
                  marker=dict(size=sizes, color=["#d62728"] + ["#ff7f0e"] * (len(sub) - 1),
                              line=dict(width=1.5, color="#111")))
        if dims == 3:
            kw["marker"]["size"] = [s / 2 for s in sizes]
            fig.add_trace(go.Scatter3d(x=sub["x"], y=sub["y"], z=sub["z"], **kw))
        else:
            fig.add_trace(go.Scatter(x=sub["x"], y=sub["y"], **kw))
    fig.update_layout(height=680, margin=dict(l=0, r=0, t=10, b=0), legend=dict(itemsizing="constant"),
                      xaxis=dict(showticklabels=False, title=None), yaxis=dict(showticklabels=False, title=None))
    if dims == 3:
        fig.update_layout(scene=dict(xaxis=dict(showticklabels=False, title=""),
                                     yaxis=dict(showticklabels=False, title=""),
                                     zaxis=dict(showticklabels=False, title="")))
    st.plotly_chart(fig, key="map_chart")
    st.caption(f"{len(df):,} words · {ss['map_method']} {ss['map_dims']} · model **{md_escape(model.name)}**"
               + (f" · highlighted: {md_escape(', '.join(hl))}" if hl else ""))
    st.download_button("Download coordinates (CSV)", exports.coordinates_csv(df),
                       file_name=exports.coordinates_file_name(model.path, method, dims), mime="text/csv",
                       icon=":material/download:", key="map_csv", on_click="ignore")
