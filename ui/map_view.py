"""The Map page's picture: cached projections and clusters, which words to name, and the Plotly figure.

Everything expensive is computed once per (model version, words, knobs) with ``st.cache_data``; the words are
keyed by a digest, so a 50,000-word map is not hashed word by word on every rerun. t-SNE and UMAP report their
progress to a bar while they run (see :func:`projected`). The figure is drawn from plain arrays: one WebGL trace
per cluster for big maps, the chosen names in a separate text layer, the focused word and its neighbours on top.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ui.session import load_model
from ui.widgets import plot_text
from w2v_core import explorer, projection

log = logging.getLogger(__name__)

MAX_3D = 10_000  # words on a 3-D map (software WebGL turned 20,000 at 3 frames a second, 5,000 at 8)
WEBGL_FROM = 1000  # points from which the map draws with WebGL (as Plotly Express does): SVG slows down past that
CHART_HEIGHT = 560  # the plot; the legend adds its rows below
PLOT_PX = (720, 500)  # the plotting area's size in a wide layout, for placing names that do not overlap
NAME_FONT = dict(size=11, color="#222", shadow="0 0 3px #fff, 0 0 2px #fff")  # a white halo: names stay readable
SMALL_MAP = 150  # up to this many words, all are named where they fit (stop words too)
FOCUS, NEIGHBOUR, SELECTED = "#d62728", "#ff7f0e", "#111111"
PIECES = "#2ca02c"  # words built from their pieces (unseen words of a subword model)


@st.cache_resource(show_spinner=False)
def warm_up_umap() -> threading.Thread | None:
    """Compile UMAP's numba code in a background thread, once per server process (the Map page calls this on every
    run, so the work starts when someone first opens the Map, not with every server), so that picking UMAP then
    waits less. ``W2V_WARM_UMAP=0`` turns it off."""
    if os.environ.get("W2V_WARM_UMAP", "1") == "0":
        return None

    def run() -> None:
        try:
            _yield_to_training()
            projection.warm_up_umap()
        except Exception:  # noqa: BLE001 - umap-learn missing or broken: the Map says so when UMAP is picked
            log.warning("warming up UMAP failed", exc_info=True)

    thread = threading.Thread(target=run, name="w2v-umap-warm-up", daemon=True)
    thread.start()
    return thread


def _yield_to_training(max_wait_s: float = 900.0) -> None:
    """The warm-up is a bonus: it waits while a training run holds a slot (numba's compiling keeps a core busy for
    most of a minute, which the run, in its own process, would miss; in a thread of the server it would also wait
    for the GIL), then runs at the lowest CPU priority (Linux: per thread)."""
    from w2v_core.serve import jobs

    deadline = time.monotonic() + max_wait_s
    while jobs.QUEUE.running() and time.monotonic() < deadline:
        time.sleep(1.0)
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: the warm-up just runs as it is
        pass


def cap_points(n: int, knobs: projection.MapKnobs) -> tuple[int, str | None]:
    """How many words the map may show, and why when that is fewer than ``n``: t-SNE's and UMAP's own limits, and
    MAX_3D words in 3-D (turning a bigger cloud is slow in the browser: bench_map_browser.py)."""
    cap, msg = projection.cap_points(n, knobs.method)
    if knobs.dims == 3 and min(cap, n) > MAX_3D:
        return MAX_3D, (f"A 3-D map shows at most {MAX_3D:,} words (asked for {n:,}): a bigger cloud turns too "
                        "slowly in the browser. Use 2-D for more words.")
    return cap, msg


def words_key(words: Sequence[str]) -> str:
    """A short digest of a word list: the cache key for everything computed from it."""
    return hashlib.sha1("\x1f".join(words).encode("utf-8")).hexdigest()


@st.cache_data(max_entries=32, show_spinner=False)
def _projected(path: str, stamp: int, key: str, knobs: projection.MapKnobs, _words: tuple[str, ...],
               _progress=None) -> projection.MapProjection:
    return projection.project_map(load_model(path).vectors, _words, knobs, progress=_progress)


def projected(path: str, stamp: int, words: Sequence[str], knobs: projection.MapKnobs) -> projection.MapProjection:
    """The map's coordinates, computed once per (model version, words, knobs); a bar shows t-SNE's/UMAP's progress.

    ``st.cache_data`` records what a cached function draws, to draw it again on a hit. The bar is the page's, not
    the function's, so its updates run in the context the page had *before* the call (a copy taken here): then
    they are drawn live and are not recorded.
    """
    words = tuple(words)
    bar = st.empty()
    outside = contextvars.copy_context()

    def progress(fraction: float, message: str) -> None:
        outside.run(bar.progress, min(max(fraction, 0.0), 1.0), text=f"{message} (once: the map is cached after)")

    slow = knobs.method in ("tsne", "umap")
    try:
        return _projected(path, stamp, words_key(words), knobs, words, progress if slow else None)
    finally:
        bar.empty()


ON_MAP_CLUSTERS = ("tsne", "umap")  # projections that tear full-space clusters apart: these cluster on the map


@st.cache_data(max_entries=32, show_spinner="Finding clusters ...")
def clusters(path: str, stamp: int, key: str, k: int, _words: tuple[str, ...],
             on_map: projection.MapKnobs | None = None, _coords: np.ndarray | None = None) -> explorer.Clusters:
    """k-means clusters of the mapped words, named by their central frequent words: in the full space, or, with
    ``on_map`` (the knobs of a t-SNE or UMAP map, whose ``_coords`` are given), on the map itself, so that each
    colour is a region there (full-space clusters came out scattered across a UMAP plane)."""
    wv = load_model(path).vectors
    return explorer.name_clusters(explorer.map_matrix(wv, _words), _words, k, priorities(wv, _words),
                                  on_map=_coords if on_map is not None else None)


def priorities(wv, words: Sequence[str]) -> np.ndarray:
    """How worth naming each mapped word is (frequent, not a stop word)."""
    return explorer.label_priorities(words, explorer.map_counts(wv, words))


@dataclass
class Highlights:
    """What stands out on the map: the focused word (clicked or searched), its neighbours, a selection."""

    focus: str | None = None
    neighbours: list[str] = field(default_factory=list)  # the focus's nearest words that are on the map
    selected: list[str] = field(default_factory=list)

    def named(self, max_selected: int = 40) -> list[str]:
        """The words that are always written on the map (a big selection is named like any other words)."""
        sel = self.selected if len(self.selected) <= max_selected else []
        return list(dict.fromkeys(([self.focus] if self.focus else []) + self.neighbours + sel))


def label_indices(coords: np.ndarray, words: Sequence[str], prio: np.ndarray, hl: Highlights,
                  n_labels: int) -> dict[int, str]:
    """The points to name, each with the side of its point the name sits on: the focused word and its neighbours
    always, then up to ``n_labels`` useful words (a selection's first) where a side is free of other names.

    A 2-D map tries above, below, right and left of each point, so a short list or a selected group gets its
    names without overlaps; a 3-D map names above only (turning it moves names around anyway).
    """
    index = {w: i for i, w in enumerate(words)}
    always = [index[w] for w in ([hl.focus] if hl.focus else []) + hl.neighbours if w in index]
    pr = prio.copy()
    if len(words) <= SMALL_MAP:  # a short list: every word is worth its name where it fits, stop words last
        low = ~np.isfinite(pr)
        pr[low] = -1e9 - np.arange(low.sum())
        n_labels = max(n_labels, len(words))
    selected = [index[w] for w in hl.named() if w in index and index[w] not in always]
    for rank, i in enumerate(selected):  # a selection's words are named first, where they fit (stop words too)
        pr[i] = 2e9 - rank
    for w in hl.selected:  # a big selection (not in named()): its useful words before the others
        if w in index and np.isfinite(pr[index[w]]) and pr[index[w]] < 1e9:
            pr[index[w]] += 1e6
    n_labels = max(n_labels, len(selected))
    if coords.shape[1] == 2:
        return explorer.place_labels(coords, pr, words, max_labels=n_labels, always=always,
                                     width_px=PLOT_PX[0], height_px=PLOT_PX[1], font_px=11)
    # 3-D: the cloud fills about half the scene's width at the first view, and turning it moves names around
    return explorer.place_labels(screen_xy(coords), pr, words, max_labels=n_labels * 2 // 3, always=always,
                                 width_px=PLOT_PX[0] // 2, height_px=PLOT_PX[1] // 2, font_px=11, sides=("top",))


CAMERA = np.array([1.15, 1.15, 0.85])  # the 3-D camera's position ("eye"), closer than Plotly's default (1.25, ...)


def screen_xy(coords: np.ndarray) -> np.ndarray:
    """Where 3-D points appear on the screen under ``CAMERA`` (orthographic, axes scaled to a cube), so names can
    be chosen that do not overlap in the first view."""
    lo, hi = coords.min(0), coords.max(0)
    cube = (coords - (lo + hi) / 2) / np.where(hi > lo, (hi - lo) / 2, 1.0)
    forward = -CAMERA / np.linalg.norm(CAMERA)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return np.stack([cube @ right, cube @ up], axis=1)


@dataclass
class Colouring:
    """How points are coloured: by cluster (labels + names), by a number (log frequency), or one colour."""

    kind: str  # "clusters" | "value" | "none"
    clusters: explorer.Clusters | None = None
    values: np.ndarray | None = None
    value_title: str = ""


def _trace(xyz: np.ndarray, dims: int, webgl: bool, **kw) -> go.BaseTraceType:
    if dims == 3:
        return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], **kw)
    cls = go.Scattergl if webgl else go.Scatter
    return cls(x=xyz[:, 0], y=xyz[:, 1], **kw)


def map_figure(words: Sequence[str], coords: np.ndarray, axis_titles: Sequence[str], colouring: Colouring,
               labels, hl: Highlights, *, density: bool = False, show_ticks: bool = False,
               pieces: Sequence[str] = ()) -> go.Figure:
    """The map: points (hover names every word; ``customdata`` carries it for clicks), names, highlights; the
    ``pieces`` words (unseen, built from their n-grams) get a diamond outline and say so in their hover."""
    words = np.asarray(words, dtype=object)
    n, dims = coords.shape
    webgl = n >= WEBGL_FROM
    dim = bool(hl.focus or hl.selected)
    # 3-D markers are smaller (a cloud seen through), but at least 2 px: Plotly finds a 3-D hover by its pixels
    size = (2.5 if n > 20_000 else 4.0 if n >= WEBGL_FROM else 7.0) if dims == 2 else (
        2.0 if n > 20_000 else 3.0 if n >= WEBGL_FROM else 4.0)
    fig = go.Figure()
    if density and dims == 2 and n >= 20:
        gx, gy, gz = explorer.density_grid(coords)
        fig.add_trace(go.Contour(x=gx, y=gy, z=gz, showscale=False, hoverinfo="skip", name="density",
                                 contours=dict(coloring="lines", start=0.1, end=0.9, size=0.2), line=dict(width=1),
                                 colorscale=[[0, "rgba(70,100,160,0.35)"], [1, "rgba(70,100,160,0.8)"]],
                                 showlegend=False))  # isolines only: a fill would hide the points
    escaped = np.array([plot_text(w) for w in words], dtype=object)
    needs = bool((escaped != words).any())  # Plotly reads a little HTML in texts: "<unk>" must stay visible
    hover = "<b>%{hovertext}</b><extra>%{meta}</extra>" if needs else "<b>%{customdata}</b><extra>%{meta}</extra>"

    def points(m, **kw) -> go.BaseTraceType:  # customdata: the word a click or a lasso reports
        return _trace(coords[m], dims, webgl, mode="markers", customdata=words[m], hovertemplate=hover,
                      hovertext=escaped[m] if needs else None, **kw)

    opacity = 0.3 if dim else 0.8 if n < WEBGL_FROM else 0.6
    if colouring.kind == "clusters" and colouring.clusters is not None:
        c = colouring.clusters
        colours = explorer.cluster_colours(len(c.names))
        for j, name in enumerate(c.names):
            short = name if len(name) <= 32 else name[:31] + "…"  # legend entries stay short
            fig.add_trace(points(c.labels == j, meta=plot_text(name), name=f"{plot_text(short)} ({c.sizes[j]:,})",
                                 opacity=opacity, marker=dict(size=size, color=colours[j])))
    else:
        marker = dict(size=size, color="#1f77b4")
        if colouring.kind == "value" and colouring.values is not None:
            marker = dict(size=size, color=colouring.values, colorscale="Viridis", showscale=True,
                          colorbar=dict(title=dict(text=colouring.value_title), thickness=12, len=0.6))
        fig.add_trace(points(slice(None), meta="", name="words", opacity=opacity, marker=marker, showlegend=False))
    index = {w: i for i, w in enumerate(words)}
    sel = [index[w] for w in hl.selected if w in index]
    named = set(hl.named())
    top = [index[w] for w in ([hl.focus] if hl.focus else []) + hl.neighbours if w in index]
    if sel:  # rings around the selected words
        fig.add_trace(points(sel, meta="selected", name=f"selected ({len(sel):,})",
                             marker=dict(size=size + 4, color="rgba(0,0,0,0)", line=dict(width=1.5, color=SELECTED))))
    if top:  # the focused word and its neighbours, above the rest
        big = np.array([16.0 if words[i] == hl.focus else 11.0 for i in top]) / (2 if dims == 3 else 1)
        fig.add_trace(points(top, meta="highlighted", name="highlighted", showlegend=False,
                             marker=dict(size=big, line=dict(width=1.5, color="#111"),
                                         color=[FOCUS if words[i] == hl.focus else NEIGHBOUR for i in top])))
    built = [index[w] for w in pieces if w in index]
    if built:  # unseen words of a subword model: their own marker, and the hover says how they were placed
        fig.add_trace(points(built, meta="built from its pieces", name=f"built from its pieces ({len(built):,})",
                             marker=dict(size=size + 8, symbol="diamond-open", color=PIECES, line=dict(width=2))))
    _names(fig, coords, escaped, labels, {i: FOCUS if words[i] == hl.focus else NEIGHBOUR for i in top}
           | {i: SELECTED for i in sel if words[i] in named}, size)
    axis = dict(showticklabels=show_ticks, zeroline=show_ticks, showgrid=show_ticks, ticks="")
    titles = list(axis_titles)
    k = len(colouring.clusters.names) if colouring.kind == "clusters" and colouring.clusters is not None else 0
    fig.update_layout(height=CHART_HEIGHT + 19 * -(-k // 3),  # room for the legend below (wrapped by Plotly:
                      margin=dict(l=10, r=10, t=10, b=30),         # three or four clusters a row, one on a phone)
                      legend=dict(orientation="h", yanchor="top", y=-0.12 if show_ticks and dims == 2 else -0.07,
                                  x=0, itemsizing="constant",  # below the tick labels and title of custom axes
                                  font=dict(size=10)),
                      hoverlabel=dict(font_size=13), dragmode="pan" if dims == 2 else "orbit")
    if dims == 3:
        fig.update_layout(scene=dict(xaxis=dict(axis, title=dict(text=titles[0])),
                                     yaxis=dict(axis, title=dict(text=titles[1])),
                                     zaxis=dict(axis, title=dict(text=titles[2])),
                                     aspectmode="cube", camera=dict(eye=dict(zip("xyz", CAMERA)))))
    else:
        fig.update_xaxes(axis, title=dict(text=titles[0], font=dict(size=12)))
        fig.update_yaxes(axis, title=dict(text=titles[1], font=dict(size=12)))
    return fig


# where a 2-D name sits for each side place_labels may choose: its anchor, and which way it is pushed off the point
_ANCHORS = {"top": ("center", "bottom", 0, 1), "bottom": ("center", "top", 0, -1),
            "right": ("left", "middle", 1, 0), "left": ("right", "middle", -1, 0),
            "top right": ("left", "bottom", 1, 1), "top left": ("right", "bottom", -1, 1),
            "bottom right": ("left", "top", 1, -1), "bottom left": ("right", "top", -1, -1)}


def _names(fig: go.Figure, coords: np.ndarray, texts: np.ndarray, labels, coloured: dict[int, str],
           size: float) -> None:
    """Write the chosen names beside their points (``labels``: {index: side} from :func:`label_indices`, or indices
    to write above): highlighted ones bold and in their colour. On a 2-D map they are annotations, which Plotly
    draws above its WebGL layer (text traces of a big map would vanish under the points)."""
    sides = labels if isinstance(labels, dict) else {int(i): "top" for i in labels}
    fonts = {i: dict(NAME_FONT, size=13, color=coloured[i], weight="bold") if i in coloured else NAME_FONT
             for i in sides}
    if coords.shape[1] == 2:
        notes = []
        for i, f in fonts.items():
            xanchor, yanchor, sx, sy = _ANCHORS[sides[i]]
            lift = size / 2 + (6 if i in coloured else 1)  # off the marker (more if highlighted)
            side_lift = lift + (4 if not sy else -size / 2)  # beside the point: clear of it; diagonal: a corner
            notes.append(dict(x=float(coords[i, 0]), y=float(coords[i, 1]), text=texts[i], font=f, showarrow=False,
                              xanchor=xanchor, yanchor=yanchor, xshift=sx * side_lift, yshift=sy * lift))
        fig.update_layout(annotations=notes)
        return
    for group in ([i for i in fonts if i not in coloured], [i for i in fonts if i in coloured]):
        if group:
            fig.add_trace(go.Scatter3d(x=coords[group, 0], y=coords[group, 1], z=coords[group, 2], mode="text",
                                       text=texts[group], hoverinfo="skip", showlegend=False, textposition="top center",
                                       textfont=dict(size=[fonts[i]["size"] for i in group],
                                                     color=[fonts[i]["color"] for i in group])))


def png_svg(fig: go.Figure) -> tuple[bytes, bytes] | str:
    """The figure as PNG and SVG bytes (kaleido drives a headless Chromium), or why that failed, in a sentence."""
    try:
        return fig.to_image(format="png", scale=2, width=1100), fig.to_image(format="svg", width=1100)
    except Exception as e:  # noqa: BLE001 - kaleido or its browser missing: the camera button still works
        return (f"The image could not be made on the server ({type(e).__name__}); use the camera button on the map "
                "to save a PNG instead.")

