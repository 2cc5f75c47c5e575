"""The Map page's panels around the chart: the projection's knobs, the inspector (a clicked word's neighbours in
the full space, a box or lasso selection), the caption, the downloads, the share link, and help when there is
nothing to map yet. Words and model names are user strings: they go into markdown escaped, or into tables."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from ui import exports, map_state, map_view, session
from ui.map_state import FOCUS, MODES, SELECTION, setter
from ui.widgets import PERSIST, clamp, md_escape
from w2v_core import explorer, map_unseen, projection


def method_knobs(method: str, dims: int, max_components: int) -> None:
    """The selected projection's own knobs."""
    if method == "PCA":
        for col, axis in zip(st.columns(dims), "xyz"):
            clamp(f"map_pc_{axis}", 1, max_components)
            col.number_input(f"PC on {axis}", 1, max_components, key=f"map_pc_{axis}", persist_state=PERSIST,
                             help="Which principal component to put on this axis (1 = the biggest direction).")
    elif method == "t-SNE":
        st.slider("Perplexity", 2, 100, key="map_perplexity", persist_state=PERSIST,
                  help="Roughly how many neighbours each word cares about (5 to 50 is usual).")
        st.slider("Iterations", 250, 2000, key="map_iter", persist_state=PERSIST, step=50,
                  help="More iterations settle the map further.")
    elif method == "UMAP":
        st.slider("Neighbours", 2, 100, key="map_neighbors", persist_state=PERSIST,
                  help="Small: fine local detail. Large: more of the global layout.")
        st.slider("Minimum distance", 0.0, 0.99, key="map_min_dist", persist_state=PERSIST, step=0.01,
                  help="How tightly UMAP may pack points together.")
    else:
        for axis in "xyz"[:dims]:
            st.text_input(f"{axis} axis", key=f"map_axis_{axis}", persist_state=PERSIST,
                          placeholder="bad -> good", help="A word ('good') or a pair ('bad -> good').")
        st.caption("Each word sits at its cosine with each axis's direction: past 0 on an axis 'bad -> good' (to "
                   "the right on x, above on y) a word leans to good, before 0 to bad.")


def empty_help(wv, stop: frozenset[str]) -> None:
    """No words yet: say what to type, with example words to click."""
    ex = map_state.examples(wv.words, stop, 8)
    if st.session_state["map_mode"] == MODES[1]:
        st.info("Type the words to map on the left, or start from these:", icon=":material/edit:")
        st.button(md_escape(" ".join(ex)), key="map_example_list", on_click=setter(map_words=" ".join(ex)),
                  icon=":material/add:")
    else:
        st.info("Type a word on the left to map it with its nearest neighbours, or pick one:", icon=":material/edit:")
        for col, w in zip(st.columns(4), ex[:4]):
            col.button(md_escape(w), key=f"map_example_{w}", on_click=setter(map_center=w, **{FOCUS: w}),
                       width="stretch")


def did_you_mean(search: explorer.MapSearch) -> None:
    """An unknown searched word: close spellings as buttons."""
    st.warning(f"'{md_escape(search.query.strip())}' is not in this model's vocabulary."
               + (" Did you mean:" if search.suggestions else ""), icon=":material/help:")
    if search.suggestions:
        for col, w in zip(st.columns(len(search.suggestions)), search.suggestions):
            col.button(md_escape(w), key=f"map_dym_{w}", on_click=setter(map_search=w, **{FOCUS: w}), width="stretch")


def caption(model, words: Sequence[str], proj: projection.MapProjection, labels: np.ndarray,
            hl: map_view.Highlights, search: explorer.MapSearch | None) -> None:
    k = proj.knobs
    parts = [f"{len(words):,} words", f"{projection.METHOD_NAMES[k.method]} {k.dims}-D", f"{len(labels)} named",
             f"model **{md_escape(model.name)}**"]
    if proj.explained is not None:
        parts.insert(2, f"the shown components keep {100 * sum(proj.explained):.1f} % of the variance")
    if search is not None and search.added:
        parts.append(f"added by the search: {md_escape(', '.join(search.added[:8]))}"
                     + (" ..." if len(search.added) > 8 else ""))
    st.caption(" · ".join(parts))
    if proj.pieces:
        shown = ", ".join(f"'{w}'" for w in proj.pieces[:8]) + (" ..." if len(proj.pieces) > 8 else "")
        how = ("placed by the same projection" if k.method in ("pca", "axes") else
               f"placed at the similarity-weighted position of its {map_unseen.PLACE_K} nearest words on the map "
               f"({projection.METHOD_NAMES[k.method]} cannot place a new point itself)")
        st.caption(md_escape(f"◇ Not in the vocabulary, built from its pieces (its character n-grams): {shown}; "
                             f"{how}."))


def _table(words: Sequence[str], proj: projection.MapProjection, colouring: map_view.Colouring, wv) -> pd.DataFrame:
    df = pd.DataFrame(proj.coords, columns=["x", "y", "z"][: proj.coords.shape[1]])
    df.insert(0, "word", list(words))
    if colouring.kind == "clusters" and colouring.clusters is not None:
        df["cluster"] = [colouring.clusters.names[c] for c in colouring.clusters.labels]
    rows = explorer.map_rows(wv, words)
    counts = explorer.map_counts(wv, words)
    if counts is not None:
        df["count"] = counts
    df["rank"] = np.where(rows >= 0, rows + 1, 0)  # 0: not in the vocabulary, built from its pieces
    return df


def exports_row(model, words: Sequence[str], proj: projection.MapProjection, colouring: map_view.Colouring,
                fig, key: str) -> None:
    """The coordinates as CSV, and the picture as PNG or SVG (made on the server on request)."""
    ss = st.session_state
    c1, c2, c3 = st.columns(3)
    k = proj.knobs
    c1.download_button("Coordinates (CSV)", exports.coordinates_csv(_table(words, proj, colouring, model.vectors)),
                       file_name=exports.coordinates_file_name(model.path, k.method, k.dims), mime="text/csv",
                       icon=":material/download:", key="map_csv", on_click="ignore", width="stretch")
    view = f"{key}-{hash(k)}-{len(fig.data)}"
    made = ss.get("map_image")
    if made is None or made[0] != view:
        if c2.button("Picture (PNG, SVG)", key="map_make_image", icon=":material/image:", width="stretch",
                     help="Made on the server; the camera button on the map saves what you see as a PNG."):
            with st.spinner("Drawing the picture ..."):
                got = map_view.png_svg(fig)
            if isinstance(got, str):
                st.warning(got, icon=":material/image_not_supported:")
            else:
                ss["map_image"] = made = (view, *got)
    if made is not None and made[0] == view:
        stem = f"{model.path.name}-{k.method}-{k.dims}d"
        c2.download_button("PNG", made[1], file_name=f"{stem}.png", mime="image/png", key="map_png",
                           icon=":material/download:", on_click="ignore", width="stretch")
        c3.download_button("SVG", made[2], file_name=f"{stem}.svg", mime="image/svg+xml", key="map_svg",
                           icon=":material/download:", on_click="ignore", width="stretch")


def share(link: str, model_path: str) -> None:
    if session.shared() and not session.is_gallery(model_path):
        # the link carries no workspace key (whoever has that has the workspace): it reopens the view on a model
        # only for someone who has that model, i.e. this visitor in this tab, or anyone for a gallery model
        st.caption("The address bar's link reopens this view for you (it holds your workspace key: keep it to "
                   "yourself). The link below leaves the key out, and your models are private: it shows this view "
                   "to others only for a model in the gallery.")
    else:
        st.caption("Share this view: the link below opens this map as you see it (copy button on its right).")
    st.code(link, language=None, wrap_lines=True)


def inspector(wv, focus: str | None, nbrs: list[tuple[str, float]], on_map: set[str], selected: list[str],
              colouring: map_view.Colouring, words: Sequence[str], dims: int) -> None:
    """The right-hand panel: the focused word's nearest words, the selected words, or how to get either."""
    ss = st.session_state
    if dims == 3:
        st.caption("A 3-D map reports no clicks or selections: search a word above to see its neighbours, or "
                   "switch to 2-D to click and lasso.")
    if focus:
        st.markdown(f"##### :material/hub: Nearest to *{md_escape(focus)}*")
        st.radio("Measure", ["cosine", "euclidean"], key="map_metric", persist_state=PERSIST, horizontal=True,
                 help="In the full space. Cosine: how alike the directions are (what word2vec means by similar). "
                      "Euclidean: distance between the raw vectors (frequent words have longer ones).")
        if wv.built_from_pieces(focus):
            st.caption(md_escape(f"'{focus}' is not in the vocabulary: its vector is built from its pieces "
                                 "(character n-grams)."))
        metric = ss["map_metric"]
        df = pd.DataFrame({"word": [w for w, _ in nbrs], metric: [s for _, s in nbrs],
                           "shown": [w in on_map for w, _ in nbrs]})
        st.dataframe(df, hide_index=True, width="stretch", key="map_neighbours",
                     column_config={"word": st.column_config.TextColumn(width=95),
                                    metric: st.column_config.NumberColumn(format="%.3f", width=55),
                                    "shown": st.column_config.CheckboxColumn(width=45, help="On the map now")})
        st.slider("How many", 3, 50, key="map_search_n", persist_state=PERSIST)
        st.button("Put them all on the map", key="map_add_nbrs", on_click=setter(map_search=focus), width="stretch",
                  icon=":material/add_location:", disabled=all(w in on_map for w, _ in nbrs))
        st.button("Clear", key="map_clear_focus", on_click=setter(map_search="", **{FOCUS: None}), width="stretch",
                  icon=":material/close:")
    if selected:
        st.markdown(f"##### :material/select_all: {len(selected):,} words selected")
        table = pd.DataFrame({"word": selected})
        if colouring.kind == "clusters" and colouring.clusters is not None:
            idx = {w: i for i, w in enumerate(words)}
            table["cluster"] = [colouring.clusters.names[colouring.clusters.labels[idx[w]]] for w in selected]
        st.dataframe(table, hide_index=True, width="stretch", height=min(35 * len(selected) + 40, 280))
        st.button("Isolate these words", key="map_isolate", on_click=map_state.isolate, args=(selected,),
                  width="stretch", icon=":material/filter_center_focus:", disabled=len(selected) < 3,
                  help="Map only these words, projected again on their own.")
        st.button("Clear the selection", key="map_clear_selection", on_click=setter(**{SELECTION: []}),
                  width="stretch", icon=":material/close:")
        st.download_button("Download the words", "\n".join(selected) + "\n", file_name="selected-words.txt",
                           mime="text/plain", key="map_selection_txt", on_click="ignore", width="stretch",
                           icon=":material/download:")
    if not focus and not selected and dims == 2:
        st.markdown("##### :material/touch_app: Explore")
        st.caption("**Click** a point: its nearest words in the full space, with their scores, light up here and on "
                   "the map. **Box or lasso** (toolbar above the map): select words to list, isolate or download. "
                   "**Scroll** to zoom, drag to pan; hover any point for its word.")

