"""The Map page's view: its settings in session state and in the URL, and what clicks and buttons change.

A view is the model, the words, the projection and its knobs, the colouring and the highlights. Each setting is a
widget key (``map_*``) with a short URL name (``URL``); after the widgets have run, the page writes the settings
that differ from the defaults into the tab's URL (:func:`write_url`), so a copied link reproduces the view. A
session applies a URL once it differs from what the session wrote itself (:func:`apply_url`): a link opened in a
new tab, or pasted into this one.

The chart is a widget too (``st.plotly_chart(on_select=...)``): a click on a point focuses its word, a box or
lasso selects words (:func:`on_chart_select`). Its own state resets whenever the figure changes, so what it meant
is kept in ``map_focus`` and ``map_selection``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import streamlit as st

from ui import session
from w2v_core import projection, store
from w2v_core.errors import W2VError

MODES = ("Most frequent words", "My word list", "A word and its neighbours")
METHODS = {"PCA": "pca", "t-SNE": "tsne", "UMAP": "umap", "Custom axes": "axes"}
COLOURS = ("Clusters", "Word frequency", "One colour")
VIEWS = ("Map", "Watch it learn")
CHART = "map_chart"  # the chart's selection state (read-only, Streamlit's)
FOCUS, SELECTION, BEFORE_ISOLATE, WRITTEN = "map_focus", "map_selection", "map_before_isolate", "map_url"

_CHOICES = {"map_mode": dict(zip(("top", "list", "word"), MODES)),
            "map_method": {v: k for k, v in METHODS.items()},
            "map_dims": {"2": "2-D", "3": "3-D"},
            "map_colour": dict(zip(("clusters", "frequency", "none"), COLOURS)),
            "map_metric": {"cosine": "cosine", "euclidean": "euclidean"},
            "map_view": dict(zip(("map", "learn"), VIEWS)),
            "map_learn_method": {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}}
URL: dict[str, str] = {  # URL name -> session key
    "view": "map_view", "mode": "map_mode", "n": "map_n", "words": "map_words", "centre": "map_center",
    "around": "map_center_n", "method": "map_method", "dims": "map_dims", "pcx": "map_pc_x", "pcy": "map_pc_y",
    "pcz": "map_pc_z", "perplexity": "map_perplexity", "iter": "map_iter", "nn": "map_neighbors",
    "min_dist": "map_min_dist", "x": "map_axis_x", "y": "map_axis_y", "z": "map_axis_z", "sph": "map_spherize",
    "colour": "map_colour", "k": "map_k", "density": "map_density", "labels": "map_labels", "q": "map_search",
    "qn": "map_search_n", "metric": "map_metric", "focus": FOCUS, "follow": "map_learn_words",
    "replay_n": "map_learn_n", "replay": "map_learn_method"}
SHOWCASE = ("king", "queen", "paris", "france", "music", "war", "river", "science", "money", "city", "water")


def defaults(wv, stop: frozenset[str]) -> dict[str, Any]:
    """The first value of every setting for the model whose vectors are ``wv`` (words most frequent first)."""
    words, have = wv.words, wv.index.keys()  # the vocabulary's own index: no set of every word at each rerun
    # topics, not gender or sentiment: on 500 frequent words of a small model man -> woman by bad -> good was a
    # shapeless cloud (the sample's ends: 'algorithms'/'albania', 'middle'/'schopenhauer'), while these put
    # people/children/men against republic/province, and war/forces/civil against music/science/theory
    x = _first_axis(have, ("people", "country"), ("man", "woman")) or (
        f"{words[0]} -> {words[1]}" if len(words) > 1 else "")
    y = _first_axis(have, ("war", "music"), ("bad", "good")) or (f"{words[2]} -> {words[3]}" if len(words) > 3 else "")
    z = "old -> new" if {"old", "new"} <= have else f"{words[4]} -> {words[5]}" if len(words) > 5 else ""
    return {"map_view": VIEWS[0], "map_mode": MODES[0], "map_n": min(500, len(words)), "map_words": "",
            "map_center": "", "map_center_n": 50, "map_method": "PCA", "map_dims": "2-D", "map_pc_x": 1,
            "map_pc_y": 2, "map_pc_z": 3, "map_perplexity": 30, "map_iter": 1000, "map_neighbors": 15,
            "map_min_dist": 0.1, "map_axis_x": x, "map_axis_y": y, "map_axis_z": z, "map_spherize": False,
            "map_colour": COLOURS[0], "map_k": 12, "map_density": False, "map_labels": 40, "map_search": "",
            "map_search_n": 10, "map_metric": "cosine", FOCUS: None, "map_learn_n": min(500, len(words)),
            "map_learn_method": "PCA", "map_learn_words": " ".join(examples(words[:500], stop, 3))}


def _first_axis(have, *pairs: tuple[str, str]) -> str:
    """The first of ``pairs`` whose two words the model knows, as an axis ('war -> music'); '' when none."""
    return next((f"{a} -> {b}" for a, b in pairs if a in have and b in have), "")


def examples(words: list[str], stop: frozenset[str], n: int = 6) -> list[str]:
    """Words to offer as examples: showcase words this model knows, then frequent words that are not stop words."""
    have = set(words[:20_000])
    out = [w for w in SHOWCASE if w in have]
    out += [w for w in words[:2000] if len(w) > 3 and w.isalpha() and w not in stop and w not in out]
    return out[:n]


# ---------------------------------------------------------------------------------------------- the URL


def _to_url(key: str, value: Any) -> str:
    if key in _CHOICES:
        return {v: k for k, v in _CHOICES[key].items()}[value]
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _from_url(key: str, text: str, default: Any) -> Any:
    """A URL value as the setting's type; a value that does not parse keeps the default."""
    try:
        if key in _CHOICES:  # the link's short name, or the label as the page shows it ('3-D', 'UMAP')
            by_label = {v.lower(): v for v in _CHOICES[key].values()}
            return _CHOICES[key].get(text) or by_label[text.strip().lower()]
        if isinstance(default, bool):
            return text in ("1", "true", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        return text
    except (KeyError, ValueError):
        return default


def _url_view() -> dict[str, str]:
    return {k: v for k, v in st.query_params.to_dict().items() if k in URL or k == "model"}


def follow_url_model() -> str | None:
    """A link that names a model makes it the current one (before the page loads a model); a warning otherwise."""
    view = _url_view()
    name = view.get("model")
    if not name or view == st.session_state.get(WRITTEN):
        return None
    bad = "/" in name or "\\" in name or name.startswith(".")
    # the visitor's own models first (their workspace when shared), then the gallery everyone may open
    for folder in ([] if bad else [session.models_root(), session.gallery_dir()]):
        if folder is not None and (folder / name / store.CONFIG).is_file():
            session.set_current_model(folder / name)
            return None
    return f"This link's model '{name}' is not on this server; showing the current model instead."


def apply_url(first: dict[str, Any]) -> None:
    """Give every setting its first value, and take a link's view (once per link) before the widgets run."""
    ss = st.session_state
    for k, v in first.items():
        ss.setdefault(k, v)
    view = _url_view()
    if not (view.keys() & URL.keys()) or view == ss.get(WRITTEN):
        return
    for name, key in URL.items():
        ss[key] = _from_url(key, view[name], first[key]) if name in view else first[key]
    ss[SELECTION] = []
    ss[WRITTEN] = view


# settings that only mean something in one words mode / projection: a link leaves them out elsewhere, so going back
# to "Most frequent words" does not keep a stale words= list in the link
_ONLY_WITH = {"n": ("map_mode", MODES[0]), "words": ("map_mode", MODES[1]), "centre": ("map_mode", MODES[2]),
              "around": ("map_mode", MODES[2]), "pcx": ("map_method", "PCA"), "pcy": ("map_method", "PCA"),
              "pcz": ("map_method", "PCA"), "perplexity": ("map_method", "t-SNE"), "iter": ("map_method", "t-SNE"),
              "nn": ("map_method", "UMAP"), "min_dist": ("map_method", "UMAP"), "x": ("map_method", "Custom axes"),
              "y": ("map_method", "Custom axes"), "z": ("map_method", "Custom axes"), "k": ("map_colour", COLOURS[0])}


def view_params(model_path: str, first: dict[str, Any]) -> dict[str, str]:
    """The view as URL parameters: the model, then every setting that differs from its first value and means
    something in this view (the word list only with "My word list", t-SNE's knobs only with t-SNE, ...)."""
    ss = st.session_state
    out = {"model": Path(model_path).name}
    for name, key in URL.items():
        v = ss.get(key)
        only = _ONLY_WITH.get(name)
        if only is not None and ss.get(only[0], first.get(only[0])) != only[1]:
            continue
        if v is not None and v != first[key]:
            out[name] = _to_url(key, v)
    return out


def write_url(params: dict[str, str]) -> None:
    """Put the view into the tab's URL (other parameters, like a training job's id, stay)."""
    ss = st.session_state
    if params == ss.get(WRITTEN):
        return
    keep = {k: v for k, v in st.query_params.to_dict().items() if k not in URL and k != "model"}
    st.query_params.from_dict({**keep, **params})
    ss[WRITTEN] = params


def share_link(params: dict[str, str]) -> str:
    """The link to this view (absolute when the browser told Streamlit its URL)."""
    base = st.context.url or "/map"
    return f"{base}?{urlencode(params)}"


# ---------------------------------------------------------------------------------------------- events


def points_words(selection: dict[str, Any]) -> list[str]:
    """The words of the selected points (each point carries its word as ``customdata``), in order, once each."""
    out: dict[str, None] = {}
    for p in selection.get("points") or []:
        cd = p.get("customdata")
        w = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        if isinstance(w, str) and w:
            out.setdefault(w, None)
    return list(out)


def apply_selection(state: Any, selection: dict[str, Any]) -> None:
    """What a chart event means: a click focuses the clicked word; a box or lasso selects its words. An empty event
    (a click beside the points, a cleared selection) changes nothing: the panel keeps what it shows."""
    words = points_words(selection)
    if not words:
        return
    if selection.get("box") or selection.get("lasso"):
        state[SELECTION] = words
    else:
        state[FOCUS] = words[-1]


def on_chart_select() -> None:
    """The chart's ``on_select`` callback (it runs before the page, with the chart's new state)."""
    event = st.session_state.get(CHART) or {}
    apply_selection(st.session_state, event.get("selection") or {})


def setter(**values: Any) -> Callable[[], None]:
    """A button callback that sets session keys (e.g. a suggested word into the search box)."""
    def set_values() -> None:
        st.session_state.update(values)
    return set_values


def isolate(words: list[str]) -> None:
    """Map only ``words`` (projected again on their own); :func:`back` returns to the map before."""
    ss = st.session_state
    ss[BEFORE_ISOLATE] = {k: ss.get(k) for k in ("map_mode", "map_words", "map_search")}
    ss.update({"map_mode": MODES[1], "map_words": " ".join(words), "map_search": "", SELECTION: []})


def back() -> None:
    st.session_state.update(st.session_state.pop(BEFORE_ISOLATE, {}))


def knobs(method_label: str, dims: int) -> projection.MapKnobs:
    """The projection's knobs from the settings (W2VError for a custom axis that is not a word or a pair)."""
    ss = st.session_state
    m = METHODS[method_label]
    kw: dict[str, Any] = {"spherize": ss["map_spherize"]}
    if m == "pca":
        kw["components"] = [ss["map_pc_x"], ss["map_pc_y"], ss["map_pc_z"]][:dims]
    elif m == "tsne":
        kw.update(perplexity=ss["map_perplexity"], n_iter=ss["map_iter"])
    elif m == "umap":
        kw.update(n_neighbors=ss["map_neighbors"], min_dist=ss["map_min_dist"])
    else:
        typed = [ss["map_axis_x"], ss["map_axis_y"]] + ([ss["map_axis_z"]] if dims == 3 else [])
        if not all(t.strip() for t in typed):
            raise W2VError("Type a word or a pair of words ('bad -> good') for each axis.")
        kw["axes"] = [projection.parse_axis(t) for t in typed]
    return projection.map_knobs(m, dims, **kw)
