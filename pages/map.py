"""Map: the current model's words in 2-D or 3-D, named, clustered, searchable, clickable, shareable, and replayed
as the model learnt them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cards, map_learn, map_panels, map_state, map_view, shell
from ui.map_state import COLOURS, FOCUS, METHODS, MODES, SELECTION, VIEWS
from ui.session import require_model
from ui.widgets import PERSIST, clamp, parse_words, resolve_word, show_error, show_warning
from w2v_core import explorer, map_unseen, projection, store
from w2v_core.errors import W2VError

shell.require_app()
map_view.warm_up_umap()  # once per server process, in the background: UMAP is compiled before it is asked for

ss = st.session_state
st.title(":material/scatter_plot: Map")
st.caption("Words whose vectors point the same way land close together. **Click** a point for its nearest words; "
           "drag a **box or lasso** (toolbar above the map) to select words; **search** any word to put it on the map.")

link_problem = map_state.follow_url_model()
model = require_model()
wv = model.vectors
V = len(wv)
path, stamp = str(model.path), store.mtime_stamp(model.path)
stop = explorer.stop_words()
first = map_state.defaults(wv, stop)
map_state.apply_url(first)
if link_problem:
    show_warning(link_problem, icon=":material/link_off:")
cards.health_note(path, quiet=True)

st.segmented_control("View", VIEWS, key="map_view", persist_state=PERSIST, label_visibility="collapsed",
                     required=True)
centre, right = st.columns([3.3, 1.1], gap="medium")  # the settings live in the sidebar: the map gets the width

# ---------------------------------------------------------------------------------------------- controls
with st.sidebar:
    if ss["map_view"] == VIEWS[1]:
        map_learn.controls(model)
    else:
        st.radio("Words", MODES, key="map_mode", persist_state=PERSIST, help="Which words to put on the map.")
        if ss["map_mode"] == MODES[0]:
            hi = min(50_000, V)
            clamp("map_n", min(100, hi), hi)
            if V > 100:
                st.slider("How many", 100, hi, key="map_n", persist_state=PERSIST, step=50 if hi >= 1000 else 1,
                          help="The N most frequent words of the vocabulary. Big maps draw with WebGL.")
        elif ss["map_mode"] == MODES[1]:
            st.text_area("Words", key="map_words", persist_state=PERSIST, placeholder="king queen man woman paris",
                         help="Separated by spaces, commas or new lines.")
        else:
            st.text_input("Word", key="map_center", persist_state=PERSIST, placeholder="e.g. music",
                          help="A word and its nearest neighbours in the full space.")
            clamp("map_center_n", 5, min(500, max(V - 1, 6)))
            st.slider("Neighbours", 5, min(500, max(V - 1, 6)), key="map_center_n", persist_state=PERSIST)
        st.selectbox("Projection", list(METHODS), key="map_method", persist_state=PERSIST,
                     help="PCA: fast, keeps the big directions. t-SNE and UMAP: keep each word's neighbours close "
                          "(clusters; distances between clusters mean little). Custom axes: directions you name.")
        method = ss["map_method"]
        st.radio("Dimensions", ["2-D", "3-D"], key="map_dims", persist_state=PERSIST, horizontal=True)
        dims = 3 if ss["map_dims"] == "3-D" else 2
        with st.expander(f"{method} settings", expanded=method == "Custom axes"):
            map_panels.method_knobs(method, dims, min(wv.dim, V))
            st.toggle("Spherize", key="map_spherize", persist_state=PERSIST,
                      help="Centre the words before scaling them to unit length: the direction every word shares "
                           "stops dominating the picture.")
        st.selectbox("Colour by", COLOURS, key="map_colour", persist_state=PERSIST)
        if ss["map_colour"] == COLOURS[0]:
            st.slider("Clusters (k)", 2, 30, key="map_k", persist_state=PERSIST,
                      help="k-means on the full vectors (cosine), or on the map itself for t-SNE and UMAP (which "
                           "tear clusters of the full space apart): each cluster is named by its central words.")
        st.slider("Names on the map", 0, 100, key="map_labels", persist_state=PERSIST, step=5,
                  help="The most useful words (frequent, not stop words) that fit without overlapping.")
        if dims == 2:
            st.toggle("Density contours", key="map_density", persist_state=PERSIST)
        with right:
            st.text_input("Search a word", key="map_search", persist_state=PERSIST, icon=":material/search:",
                          on_change=lambda: ss.update({FOCUS: ss["map_search"].strip() or None}),
                          placeholder="any word of the model",
                          help="A word on the map lights up in place, with its nearest neighbours; a word that is not on "
                               "it is added, with its neighbours.")

params = map_state.view_params(path, first)
map_state.write_url(params)

if ss["map_view"] == VIEWS[1]:
    map_learn.learn_view(model, centre, right)
    st.stop()


# ---------------------------------------------------------------------------------------------- words
def choose_words() -> tuple[list[str], list[str]]:
    """The words to map, and sentences about typed words that could not be used."""
    mode, notes = ss["map_mode"], []
    if mode == MODES[0]:
        return wv.words[: int(ss["map_n"])], notes
    if mode == MODES[1]:
        words = []
        for w in parse_words(ss["map_words"]):
            try:
                words.append(resolve_word(wv, w))
            except W2VError as e:
                notes.append(str(e))
        return list(dict.fromkeys(words)), notes
    try:
        c = resolve_word(wv, ss["map_center"]) if ss["map_center"].strip() else None
    except W2VError as e:
        return [], [str(e)]
    if c is not None and ss[FOCUS] is None:
        ss[FOCUS] = c  # the centre word is marked
    return ([c] + [w for w, _ in wv.neighbours(c, int(ss["map_center_n"]))] if c else []), notes


words, notes = choose_words()
with centre:
    for n in notes:
        show_warning(n)
    if ss.get(map_state.BEFORE_ISOLATE):
        st.button("Back to the whole map", icon=":material/arrow_back:", key="map_back", on_click=map_state.back)
    if not words:
        map_panels.empty_help(wv, stop)
        st.stop()
    search = None
    if ss["map_search"].strip():
        search = explorer.search_map(wv, ss["map_search"], words, int(ss["map_search_n"]), ss["map_metric"])
        if search.word is None:
            map_panels.did_you_mean(search)
        else:
            words = list(search.words)
    try:
        knobs = map_state.knobs(method, dims)
        n_cap, cap_msg = map_view.cap_points(len(words), knobs)
        if cap_msg:
            st.info(cap_msg, icon=":material/speed:")
            keep = set(search.added) if search and search.word else set()
            words = [w for w in words if w in keep] + [w for w in words if w not in keep][: n_cap - len(keep)]
        unseen = [w for w in words if w not in wv.index]  # a subword model's unseen words, built from their pieces
        proj = map_view.projected(path, stamp, [w for w in words if w in wv.index], knobs)
        proj = map_unseen.place_unseen(wv, proj, unseen)
        words = list(proj.words)
    except W2VError as e:
        show_error(e)
        st.stop()

# ---------------------------------------------------------------------------------------------- what stands out
key = map_view.words_key(words)
rows = explorer.map_rows(wv, words)  # -1: built from its pieces
on_map = set(words)
try:
    focus = resolve_word(wv, ss[FOCUS]) if ss[FOCUS] is not None else None
except W2VError:  # a link's word this model does not know
    focus = None
ss[FOCUS] = focus
nbrs = wv.neighbours(focus, int(ss["map_search_n"]), ss["map_metric"]) if focus else []
hl = map_view.Highlights(focus if focus in on_map else None, [w for w, _ in nbrs if w in on_map],
                         [w for w in ss.get(SELECTION, []) if w in on_map])
prio = map_view.priorities(wv, words)
labels = map_view.label_indices(proj.coords, words, prio, hl, int(ss["map_labels"]))
colouring = map_view.Colouring("none")
if ss["map_colour"] == COLOURS[0]:
    plane = knobs if knobs.method in map_view.ON_MAP_CLUSTERS else None
    colouring = map_view.Colouring("clusters", map_view.clusters(path, stamp, key, int(ss["map_k"]), tuple(words),
                                                                 plane, proj.coords if plane else None))
elif ss["map_colour"] == COLOURS[1]:
    counts = explorer.map_counts(wv, words)
    ranks = np.where(rows >= 0, rows + 1.0, float(V))  # a word built from its pieces: as rare as the rarest
    colouring = map_view.Colouring("value", values=np.log10(np.maximum(counts, 1)) if counts is not None
                                   else np.log10(ranks), value_title="log10 count" if counts is not None
                                   else "log10 rank")
fig = map_view.map_figure(words, proj.coords, proj.axis_titles, colouring, labels, hl,
                          density=bool(ss["map_density"]) and dims == 2, show_ticks=knobs.method == "axes",
                          pieces=proj.pieces)

# ---------------------------------------------------------------------------------------------- draw
with centre:
    st.plotly_chart(fig, key=map_state.CHART, on_select=map_state.on_chart_select,
                    selection_mode=("points", "box", "lasso"),
                    config={"scrollZoom": True, "displaylogo": False,
                            "toImageButtonOptions": {"format": "png", "scale": 2, "filename": model.path.name}})
    map_panels.caption(model, words, proj, labels, hl, search)
    map_panels.exports_row(model, words, proj, colouring, fig, key)
    map_panels.share(map_state.share_link(params), path)
with right:
    map_panels.inspector(wv, focus, nbrs, on_map, hl.selected, colouring, words, dims)
