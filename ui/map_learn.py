"""Watch it learn: the Map page's replay of a training run, and the Train page's small live map.

A training job keeps snapshots of the top words' vectors (``w2v_core.snapshots``) and saves them beside the
model. The replay puts every snapshot into one frame fitted on the final vectors and lets Plotly animate them
(Play, or drag the slider): words start as a random cloud and move into their clusters, while the nearest words
of a few followed words change with them, written on the chart for each frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ui import map_state
from ui.map_view import FOCUS, NAME_FONT, NEIGHBOUR
from ui.widgets import PERSIST, clamp, md_escape, parse_words, plot_text
from w2v_core import explorer, projection, store
from w2v_core.errors import W2VError
from w2v_core.snapshots import Snapshots, align, frame_coords, frame_neighbours, load_snapshots

METHODS = {k: v for k, v in map_state.METHODS.items() if v != "axes"}  # the replay has no custom axes
FOLLOW_N = 5  # neighbours written per followed word


@st.cache_resource(max_entries=4, show_spinner="Reading the training snapshots ...")
def _snapshots(path: str, stamp: int) -> Snapshots | None:
    """Shared and never changed (``stamp``: the model folder's version)."""
    return load_snapshots(path)


def snapshots(model) -> Snapshots | None:
    return _snapshots(str(model.path), store.mtime_stamp(model.path))


@st.cache_data(max_entries=8, show_spinner=False)
def _distances(path: str, stamp: int) -> np.ndarray:
    """How far each snapshot is from the final vectors once rotated onto them (once per model)."""
    return align(_snapshots(path, stamp))[1]


@st.cache_data(max_entries=16, show_spinner=False)
def _hood(path: str, stamp: int, follow: tuple[str, ...]) -> dict[str, list[list[tuple[str, float]]]]:
    """The followed words' nearest words in every snapshot (once per model and words)."""
    return frame_neighbours(_snapshots(path, stamp), list(follow), FOLLOW_N)


@st.cache_data(max_entries=8, show_spinner="Placing every snapshot in one frame (once per model and settings) ...")
def _replay(path: str, stamp: int, method: str, n: int) -> tuple[np.ndarray, explorer.Clusters]:
    """Coordinates (K, n, 2) of the top ``n`` words in every snapshot, and their clusters in the final vectors."""
    snaps = _snapshots(path, stamp)
    words = list(snaps.words[:n])
    return frame_coords(snaps, method, 2, words), explorer.name_clusters(snaps.vectors[-1][:n], words, min(8, n))


def controls(model) -> None:
    """The replay's settings (left column)."""
    snaps = snapshots(model)
    if snaps is None:
        return
    hi = len(snaps.words)
    clamp("map_learn_n", min(50, hi), hi)
    if hi > 50:
        st.slider("Words", 50, hi, key="map_learn_n", persist_state=PERSIST, step=50 if hi >= 200 else 1,
                  help="The most frequent words, as the run kept them.")
    st.selectbox("Projection", list(METHODS), key="map_learn_method", persist_state=PERSIST,
                 help="Fitted on the final vectors; every earlier snapshot is rotated onto them and placed in the "
                      "same frame, so the words move and the picture does not spin.")
    st.text_input("Follow these words", key="map_learn_words", persist_state=PERSIST,
                  help="Their nearest words are written on the chart for every frame.")
    st.slider("Names on the map", 0, 100, key="map_labels", persist_state=PERSIST, step=5)


def learn_view(model, centre, right) -> None:
    """The replay (centre) and how the followed words' neighbours changed (right)."""
    ss = st.session_state
    try:
        snaps = snapshots(model)
    except W2VError as e:
        centre.error(str(e), icon=":material/error:")
        return
    if snaps is None:
        centre.info("This model has no record of its training (it was imported, or trained before the app kept "
                    "one). Train a model on the Train page and come back: the replay is saved with it.",
                    icon=":material/history:")
        return
    n = min(int(ss.get("map_learn_n") or len(snaps.words)), len(snaps.words))
    words = list(snaps.words[:n])
    replayed, typed = set(words), parse_words(ss["map_learn_words"])
    follow = [w for w in typed if w in replayed]
    missing = [w for w in typed if w not in replayed]
    path, stamp = str(model.path), store.mtime_stamp(model.path)
    coords, clusters = _replay(path, stamp, METHODS[ss["map_learn_method"]], n)
    hood = _hood(path, stamp, tuple(follow)) if follow else {}
    with centre:
        if missing:
            st.warning(f"Not among the {n:,} words replayed: {md_escape(', '.join(missing[:8]))}. Pick more frequent "
                       "words, or more words.", icon=":material/help:")
        st.plotly_chart(animation_figure(snaps, words, coords, clusters, follow, hood, int(ss["map_labels"])),
                        key="map_learn_chart", config={"displaylogo": False})
        st.caption(f"{len(snaps)} snapshots of {n:,} words from the start (random vectors) to the end of "
                   f"{snaps.epochs} epochs. Press **Play**, or drag the slider.")
        if follow:
            st.markdown("##### :material/timeline: How the nearest words changed")
            st.table(neighbour_table(snaps, hood))
    with right:
        st.markdown("##### :material/route: Distance from the final map")
        st.plotly_chart(distance_figure(snaps, _distances(path, stamp)), key="map_learn_distance",
                        config={"displayModeBar": False})
        st.caption("How far each snapshot's geometry is from the end (0: the final map; about 1.4: unrelated "
                   "random vectors), after rotating it onto the final vectors. Most of the map forms early.")


def neighbour_table(snaps: Snapshots, hood: dict[str, list[list[tuple[str, float]]]]) -> pd.DataFrame:
    """Each followed word's nearest words at the start, at each epoch's end and at the end of the run (a table
    that renders markdown: the words are escaped)."""
    keep = [i for i in range(len(snaps)) if i == 0 or snaps.epoch_end[i] or i == len(snaps) - 1]
    cols = {md_escape(w): [md_escape(", ".join(v for v, _ in lists[i])) for i in keep] for w, lists in hood.items()}
    return pd.DataFrame(cols, index=[snaps.label(i) for i in keep])


def distance_figure(snaps: Snapshots, errors: np.ndarray) -> go.Figure:
    fig = go.Figure(go.Scatter(x=100 * snaps.fraction, y=errors, mode="lines+markers", marker=dict(size=5),
                               hovertemplate="%{x:.0f} % of the run: %{y:.3f}<extra></extra>"))
    fig.update_layout(height=220, margin=dict(l=0, r=0, t=5, b=0), xaxis_title="% of the run",
                      yaxis=dict(title="distance", rangemode="tozero"))
    return fig


def animation_figure(snaps: Snapshots, words: list[str], coords: np.ndarray, clusters: explorer.Clusters,
                     follow: list[str], hood: dict[str, list[list[tuple[str, float]]]], n_labels: int) -> go.Figure:
    """One Plotly frame per snapshot: points coloured by their final cluster, the final map's names, the followed
    words in red, and their neighbours of that moment in a box. Axis ranges are fixed over all frames."""
    K = len(coords)
    index = {w: i for i, w in enumerate(words)}
    final = coords[-1]
    prio = explorer.label_priorities(words)
    names = explorer.choose_labels(final, prio, words, max_labels=n_labels, always=[index[w] for w in follow],
                                   width_px=720, height_px=520, font_px=11)
    followed = set(follow)
    names = [i for i in names if words[i] not in followed]
    fol = [index[w] for w in follow]
    colours = explorer.cluster_colours(len(clusters.names))
    members = [np.flatnonzero(clusters.labels == j) for j in range(len(clusters.names))]
    w_arr = np.asarray(words, dtype=object)
    shown = np.asarray([plot_text(w) for w in words], dtype=object)  # Plotly reads a little HTML in texts

    def traces(f: int) -> list[go.Scatter]:
        xy = coords[f]
        out = [go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", customdata=w_arr[m], name=clusters.names[j],
                          hovertext=shown[m], hovertemplate="<b>%{hovertext}</b><extra></extra>",
                          marker=dict(size=6, color=colours[j], opacity=0.75)) for j, m in enumerate(members)]
        out.append(go.Scatter(x=xy[names, 0], y=xy[names, 1], mode="text", text=shown[names], hoverinfo="skip",
                              textposition="top center", textfont=NAME_FONT, showlegend=False))
        out.append(go.Scatter(x=xy[fol, 0], y=xy[fol, 1], mode="markers+text", text=shown[fol], showlegend=False,
                              textposition="top center", textfont=dict(size=14, color=FOCUS), hoverinfo="skip",
                              marker=dict(size=13, color=FOCUS, line=dict(width=1.5, color="#111"))))
        return out

    def note(f: int) -> list[dict]:
        loss = "" if not np.isfinite(snaps.loss[f]) else f" · loss {snaps.loss[f]:.3f}"
        lines = [f"<b>{snaps.label(f)}</b>{loss}"] + [
            f"<span style='color:{FOCUS}'><b>{plot_text(w)}</b></span>: "
            + ", ".join(plot_text(v) for v, _ in hood[w][f]) for w in follow]
        return [dict(text="<br>".join(lines), xref="paper", yref="paper", x=0.01, y=0.99, xanchor="left",
                     yanchor="top", align="left", showarrow=False, bgcolor="rgba(255,255,255,0.85)",
                     bordercolor=NEIGHBOUR, borderwidth=1, font=dict(size=12))]

    lo, hi = coords.reshape(-1, 2).min(0), coords.reshape(-1, 2).max(0)
    pad = 0.05 * (hi - lo)
    fig = go.Figure(data=traces(K - 1), frames=[go.Frame(data=traces(f), name=str(f), layout=dict(annotations=note(f)))
                                                for f in range(K)])
    play = dict(frame=dict(duration=450, redraw=True), transition=dict(duration=350, easing="cubic-in-out"),
                fromcurrent=False, mode="immediate")
    fig.update_layout(
        height=620, margin=dict(l=10, r=10, t=10, b=10), annotations=note(K - 1),
        xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], showticklabels=False, zeroline=False, showgrid=False),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], showticklabels=False, zeroline=False, showgrid=False),
        legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, font=dict(size=10)),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.02, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=10), showactive=False,
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="❚❚ Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=K - 1, x=0.18, len=0.82, y=-0.02, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(visible=False),
                      steps=[dict(label=_short(snaps, f), method="animate",
                                  args=[[str(f)], dict(mode="immediate", frame=dict(duration=300, redraw=True),
                                                       transition=dict(duration=200))]) for f in range(K)])])
    return fig


def _short(snaps: Snapshots, f: int) -> str:
    """A slider tick, in one unit: how far into the run ('0%', '37%', '100%'); the frame's note names the epoch."""
    return f"{100 * max(0.0, float(snaps.fraction[f])):.0f}%"


# ---------------------------------------------------------------------------------------------- the Train page


def live_map(job, n_words: int = 300, n_labels: int = 20) -> None:
    """A small map of the top words as they are right now in a running job (the Train page polls it)."""
    latest = job.recorder.latest()
    if latest is None:
        return
    words, vectors, fraction = latest
    prio = explorer.label_priorities(words[:n_words])
    keep = np.flatnonzero(np.isfinite(prio))[:n_words]
    if len(keep) < 10:
        return
    X = projection.normalize_rows(vectors[keep])
    X -= X.mean(0)
    xy = X @ np.linalg.svd(X, full_matrices=False)[2][:2].T
    xy *= np.sign(np.sum(xy**3, axis=0) + 1e-30)  # a fixed sign per axis, so the picture does not flip between polls
    w = np.asarray([plot_text(words[i]) for i in keep], dtype=object)
    names = explorer.choose_labels(xy, prio[keep], list(w), max_labels=n_labels, width_px=520, height_px=260)
    fig = go.Figure([go.Scatter(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=w, showlegend=False,
                                hovertemplate="%{customdata}<extra></extra>", marker=dict(size=5, opacity=0.6)),
                     go.Scatter(x=xy[names, 0], y=xy[names, 1], mode="text", text=w[names], hoverinfo="skip",
                                textposition="top center", textfont=dict(size=10), showlegend=False)])
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=0, b=0),
                      xaxis=dict(visible=False), yaxis=dict(visible=False))
    st.plotly_chart(fig, key="train_live_map", config={"displayModeBar": False, "staticPlot": True})
    st.caption(f"The {len(keep)} most frequent words as they are now ({fraction:.0%} of the run). "
               "The Map page's *Watch it learn* replays the whole run.")

