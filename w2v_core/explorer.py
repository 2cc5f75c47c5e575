"""What a word map shows besides coordinates: which words to name, named clusters, colours, density, search.

A map of 500 dots is unreadable; one with 40 well-chosen names is a picture. The choices here are plain
functions of the map's coordinates and the words' frequencies, so a page only draws them:

* ``choose_labels``: which words to write on the map, greedily by priority (frequent, not stop words),
  skipping any whose text box would overlap one already placed (boxes sized in pixels, converted to data
  units from the plot's size), plus the words the user picked, always.
* ``name_clusters``: k-means on the full vectors, each cluster named by its members nearest the centroid
  among its more frequent ones ("france · italy · spain" says more than "cluster 7").
* ``PALETTE``: 30 colours that stay apart (each pair at least 30 CIELAB units), so k up to 30 is readable.
* ``density_grid``: a smoothed 2-D histogram a page can draw as contours.
* ``search_map``: put any vocabulary word and its neighbours on the map, or suggest spellings (``WordVectors.suggest``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.projection import check_matrix, normalize_rows, one_thread

# ------------------------------------------------------------------------------------------------ labels

_WORDLIKE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
MIN_LABEL_CHARS = 3  # 1-2 letter tokens are nearly all stop words, initials or markup remains


def stop_words() -> frozenset[str]:
    """English stop words (scikit-learn's list): frequent, but they name nothing on a map."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def label_priorities(words: Sequence[str], counts: Sequence[int] | None = None,
                     stop: frozenset[str] | None = None) -> np.ndarray:
    """How worth naming each word is (higher first): log frequency, or rank when ``counts`` is None (words
    in frequency order, as a vocabulary keeps them); -inf for stop words, short tokens and non-words."""
    stop = stop_words() if stop is None else stop
    n = len(words)
    pr = np.log1p(np.asarray(counts, dtype=np.float64)) if counts is not None else -np.arange(n, dtype=np.float64)
    bad = [i for i, w in enumerate(words)
           if len(w) < MIN_LABEL_CHARS or w.lower() in stop or not _WORDLIKE.fullmatch(w)]
    pr[bad] = -np.inf
    return pr


SIDES = ("top", "bottom", "right", "left", "top right", "top left", "bottom right", "bottom left")  # where a name
# may sit around its point, in the order tried


LABEL_GAP_PX = 2.0  # kept free around each name
LABEL_CANDIDATES = 5000  # at most this many words (by priority) are tried for a name


def choose_labels(coords: np.ndarray, priorities: Sequence[float], texts: Sequence[str], max_labels: int = 40,
                  always: Sequence[int] = (), width_px: int = 800, height_px: int = 600,
                  font_px: float = 12.0) -> np.ndarray:
    """Indices of the points whose text to write above them on a 2-D map: ``always`` first, then up to
    ``max_labels`` more by decreasing priority, each only if its text box overlaps none placed so far.

    :func:`place_labels` with names above their points only (see there for the boxes).
    """
    placed = place_labels(coords, priorities, texts, max_labels, always, width_px, height_px, font_px, sides=("top",))
    return np.fromiter(placed, dtype=np.int64, count=len(placed))


def place_labels(coords: np.ndarray, priorities: Sequence[float], texts: Sequence[str], max_labels: int = 40,
                 always: Sequence[int] = (), width_px: int = 800, height_px: int = 600, font_px: float = 12.0,
                 sides: Sequence[str] = SIDES) -> dict[int, str]:
    """The points whose text to write on a 2-D map, each with the side of its point it sits on (``sides``, tried
    in order): ``always`` first, then up to ``max_labels`` more by decreasing priority, each on the first side
    where its text box overlaps none placed so far (skipped when no side is free).

    A text box is about 0.6 x font_px wide per character and 1.2 x font_px high: above its point (plotly's "top
    center") its centre is 0.6 x font_px + 3 px up, below as far down, right or left of it 6 px beyond the point
    plus half its width, on a diagonal both up or down and 2 px beyond the point plus half its width. Pixels become data units through the coordinates' extent and the plot's size. An
    ``always`` point takes its first free side, or the first side when none is free. Points with priority -inf are
    never chosen unless in ``always``. Pure and deterministic; the dict keeps the order of placing.
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"choose_labels needs 2-D coordinates (n x 2), got shape {xy.shape}")
    n = len(xy)
    pr = np.asarray(priorities, dtype=np.float64)
    if len(pr) != n or len(texts) != n:
        raise ValueError("coords, priorities and texts must have one entry per point")
    if n == 0:
        return {}
    span = np.ptp(xy, axis=0) * 1.1  # plotly pads the axis ranges a little
    span[span <= 0] = 1.0
    per_px = span / np.array([width_px, height_px], dtype=np.float64)
    gap_px = LABEL_GAP_PX
    half_w = np.array([len(t) for t in texts], dtype=np.float64) * 0.3 * font_px * per_px[0] + gap_px * per_px[0]
    half_h = 0.6 * font_px * per_px[1] + gap_px * per_px[1]
    lift = (0.6 * font_px + 3.0) * per_px[1]
    def offsets(i: int, side: str) -> tuple[float, float]:
        beside = half_w[i] + (6.0 if side in ("right", "left") else 2.0) * per_px[0]
        return (beside * (("right" in side) - ("left" in side)), lift * (("top" in side) - ("bottom" in side)))

    px: list[float] = []
    py: list[float] = []
    pw: list[float] = []

    def free_side(i: int) -> str | None:
        for side in sides:
            dx, dy = offsets(i, side)
            cx, cy = xy[i, 0] + dx, xy[i, 1] + dy
            if not px or not np.any((np.abs(np.asarray(px) - cx) < np.asarray(pw) + half_w[i])
                                    & (np.abs(np.asarray(py) - cy) < 2 * half_h)):
                return side
        return None

    def put(i: int, side: str) -> None:
        dx, dy = offsets(i, side)
        px.append(xy[i, 0] + dx), py.append(xy[i, 1] + dy), pw.append(half_w[i])
        placed[i] = side

    placed: dict[int, str] = {}
    for i in dict.fromkeys(int(i) for i in always if 0 <= int(i) < n):
        put(i, free_side(i) or sides[0])
    order = [int(i) for i in np.argsort(-pr, kind="stable")[:LABEL_CANDIDATES] if np.isfinite(pr[i]) and i not in placed]
    chosen = 0
    for i in order:
        if chosen >= max_labels:
            break
        side = free_side(i)
        if side is not None:
            put(i, side)
            chosen += 1
    return placed


# ------------------------------------------------------------------------------------------------ clusters

# 30 colours picked by farthest-point sampling in CIELAB over sRGB (lightness 35-82, chroma > 30, so all show
# on white): every pair is at least 30 CIE76 units apart, the first ones the farthest (small k look best).
PALETTE: tuple[str, ...] = (
    "#1878b8", "#00e800", "#f80000", "#f800f8", "#686000", "#00e0b8", "#a01058", "#0058f8", "#f8b0a0", "#f8c000",
    "#e898f8", "#a8d860", "#006858", "#983010", "#48d8f8", "#9018a0", "#007818", "#5800f8", "#f07800", "#f80058",
    "#f800a8", "#18e878", "#704878", "#90b888", "#e8c870", "#b8b8f0", "#7080f0", "#f880a8", "#a05858", "#40b000",
)
MAX_CLUSTERS = 50  # past len(PALETTE) colours repeat: a page should write the cluster names instead


def cluster_colours(k: int) -> list[str]:
    """One colour per cluster; distinct up to ``len(PALETTE)`` (30), repeating after that."""
    return [PALETTE[i % len(PALETTE)] for i in range(k)]


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not objects
class Clusters:
    """k-means clusters of a map's words, largest first, each with a name made of its most central words."""

    labels: np.ndarray  # (n,) cluster of each word, 0 = the largest cluster
    names: tuple[str, ...]  # "france · italy · spain"
    central: tuple[tuple[str, ...], ...]  # the words each name is made of
    sizes: tuple[int, ...]


MINIBATCH_FROM = 20_000  # k-means of this many rows or more runs on mini-batches


def kmeans_labels(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster labels (0..k-1) of the rows of ``X`` by k-means on unit-length rows (cosine geometry).

    ``k`` larger than the number of rows is lowered to it, so a short word list still gets colours.
    """
    X = check_matrix(X)
    if k < 1:
        raise W2VError(f"The number of clusters must be at least 1 (got {k}).")
    n = X.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(int(k), n)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    # past MINIBATCH_FROM rows, mini-batch k-means: 50,000 words in 0.4 s instead of 7.8 s, 0.6 % more inertia
    km = (KMeans(n_clusters=k, n_init=4, random_state=seed) if n < MINIBATCH_FROM
          else MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed))
    with one_thread():
        labels = km.fit_predict(normalize_rows(X))
    return np.asarray(labels, dtype=np.int64)


def plane_kmeans_labels(coords: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster labels (0..k-1) of map coordinates by plain (Euclidean) k-means on the map itself.

    For t-SNE and UMAP maps: k-means in the full space finds clusters that those projections may tear apart and
    scatter over the plane (colours then read as confetti); clustered on the map, each colour is a region.
    """
    Y = check_matrix(coords, "The map's coordinates")
    n = Y.shape[0]
    k = min(int(k), n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    km = (KMeans(n_clusters=k, n_init=4, random_state=seed) if n < MINIBATCH_FROM
          else MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed))
    with one_thread():
        return np.asarray(km.fit_predict(Y.astype(np.float64)), dtype=np.int64)


def name_clusters(X: np.ndarray, words: Sequence[str], k: int, priorities: Sequence[float] | None = None,
                  n_names: int = 3, seed: int = 0, on_map: np.ndarray | None = None) -> Clusters:
    """Cluster the rows of ``X`` (cosine k-means) and name each cluster by up to ``n_names`` of its words.

    ``on_map``: cluster these map coordinates instead (:func:`plane_kmeans_labels`); names still come from ``X``.

    A name's words are those nearest the cluster's mean direction among its more frequent members (the top
    30 % by ``priorities``, default ``label_priorities(words)``): the most central word is often a rare one
    nobody knows, the most frequent a function word. Stop words are used only when a cluster has nothing else.
    """
    if not 1 <= k <= MAX_CLUSTERS:
        raise W2VError(f"The number of clusters must be between 1 and {MAX_CLUSTERS} (got {k}).")
    X = np.asarray(X)
    if len(words) != len(X):
        raise ValueError("one word per row of X")
    raw = kmeans_labels(X, k, seed=seed) if on_map is None else plane_kmeans_labels(on_map, k, seed=seed)
    # renumber by size (ties: first appearance), so colours and names do not depend on k-means' arbitrary order
    ids, first, sizes = np.unique(raw, return_index=True, return_counts=True)
    order = ids[np.lexsort((first, -sizes))]
    remap = np.empty(len(ids), dtype=np.int64)
    remap[order] = np.arange(len(ids))
    labels = remap[raw] if len(raw) else raw
    pr = label_priorities(words) if priorities is None else np.asarray(priorities, dtype=np.float64)
    Xn = normalize_rows(X)
    central, names = [], []
    for c in range(len(ids)):
        members = np.flatnonzero(labels == c)
        usable = members[np.isfinite(pr[members])]
        pool = usable if len(usable) else members
        pool = pool[np.argsort(-pr[pool], kind="stable")][:max(n_names, math.ceil(0.3 * len(pool)))]
        centre = Xn[members].mean(axis=0)
        best = pool[np.argsort(-(Xn[pool] @ centre), kind="stable")][:n_names]
        central.append(tuple(words[i] for i in best))
        names.append(" · ".join(central[-1]))
    sizes_by_label = np.bincount(labels, minlength=len(ids))
    return Clusters(labels, tuple(names), tuple(central), tuple(int(s) for s in sizes_by_label))


# ------------------------------------------------------------------------------------------------ density


def density_grid(coords: np.ndarray, bins: int = 80, bandwidth: float | None = None,
                 pad: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A smoothed density of 2-D points on a grid: (x centres, y centres, z) with z[row = y, column = x] in
    0..1, as plotly's ``go.Contour(x=, y=, z=)`` takes it. A Gaussian-smoothed histogram (a KDE at grid
    resolution, O(n + bins^2)); ``bandwidth`` in data units, default Scott's rule on each axis."""
    from scipy.ndimage import gaussian_filter

    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"density_grid needs 2-D coordinates (n x 2), got shape {xy.shape}")
    if len(xy) == 0:
        raise W2VError("A density needs at least one point on the map.")
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    lo, hi = lo - pad * span, hi + pad * span
    H, ex, ey = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[[lo[0], hi[0]], [lo[1], hi[1]]])
    if bandwidth is None:
        sd = np.where(xy.std(axis=0) > 0, xy.std(axis=0), span / 10)
        bw = sd * len(xy) ** (-1 / 6)  # Scott's rule in 2-D
    else:
        bw = np.array([bandwidth, bandwidth], dtype=np.float64)
    sigma = bw / ((hi - lo) / bins)
    Z = gaussian_filter(H.T, sigma=(sigma[1], sigma[0]), mode="constant")
    top = Z.max()
    return (ex[:-1] + ex[1:]) / 2, (ey[:-1] + ey[1:]) / 2, Z / top if top > 0 else Z


# ------------------------------------------------------------------------------------------------ search


@dataclass(frozen=True)
class MapSearch:
    """A searched word and its neighbours added to a map's words (or spellings to offer when it is unknown)."""

    query: str
    word: str | None  # the vocabulary's spelling (or an unseen word built from its pieces), None when unknown
    neighbours: tuple[tuple[str, float], ...]  # (word, cosine or Euclidean distance), nearest first
    words: tuple[str, ...]  # the map's words, then the added ones: what to project now
    added: tuple[str, ...]  # the words that were not on the map
    suggestions: tuple[str, ...]  # "did you mean" when ``word`` is None


def search_map(vectors: Any, query: str, shown: Sequence[str], n: int = 10, metric: str = "cosine") -> MapSearch:
    """Find ``query`` in the whole vocabulary (as typed, then in lower case). A word already in ``shown`` is found
    in place: nothing is added, so the map keeps its words, layout and names and only lights it up (as the
    Embedding Projector does). A word not shown is added with its ``n`` nearest neighbours (those missing), so any
    word can be put on the map with its company."""
    q = query.strip()
    if not q:
        raise W2VError("Type a word to search for.")
    shown = tuple(dict.fromkeys(shown))
    word = q if q in vectors.index else q.lower() if q.lower() in vectors.index else None
    if word is None:  # a subword model builds an unseen word from its pieces: it is put on the map too
        word = next((x for x in (q.lower(), q) if vectors.built_from_pieces(x)), None)
    if word is None:
        return MapSearch(query, None, (), shown, (), tuple(vectors.suggest(q)))
    nb = tuple(vectors.neighbours(word, n, metric))
    on_map = set(shown)
    if word in on_map:
        return MapSearch(query, word, nb, shown, (), ())
    added = tuple(w for w in dict.fromkeys([word] + [w for w, _ in nb]) if w not in on_map)
    return MapSearch(query, word, nb, shown + added, added, ())


def map_rows(vectors: Any, words: Sequence[str]) -> np.ndarray:
    """The vocabulary rows of a map's words; -1 for a word built from its pieces (not in the vocabulary)."""
    return np.array([vectors.index.get(w, -1) for w in words], dtype=np.int64)


def map_matrix(vectors: Any, words: Sequence[str]) -> np.ndarray:
    """The vectors of a map's words, an unseen word's built from its n-grams (a subword model)."""
    if not words:
        return np.zeros((0, vectors.dim), np.float32)
    return np.stack([vectors.vectors[vectors.index[w]] if w in vectors.index
                     else np.asarray(vectors.get_vector(w), np.float32) for w in words])


def map_counts(vectors: Any, words: Sequence[str]) -> np.ndarray | None:
    """The corpus counts of a map's words (0 for a word built from its pieces), or None without counts."""
    rows = map_rows(vectors, words)
    counts = vectors.counts_at(np.maximum(rows, 0))
    if counts is None:
        return None
    return np.where(rows >= 0, counts, 0)


# ---------------------------------------------------------------------------------------------- a model's health

WELL_SEEN = 10  # a word seen fewer times than this gets a rough vector
CROWDED = 0.8  # a mean cosine of random word pairs above this: the vectors all point much the same way


@dataclass(frozen=True)
class Health:
    """What tells an undertrained model from a trained one at a glance (issue 24: they looked alike)."""

    mean_cosine: float  # of random pairs of distinct frequent words: near 0 spread out, near 1 all alike
    rare_share: float | None  # share of the vocabulary seen fewer than WELL_SEEN times (None: no counts)
    advice: str | None  # what to change, when something looks wrong

    @property
    def ok(self) -> bool:
        return self.advice is None


def health(vectors: Any, pairs: int = 4000, top: int = 10_000, seed: int = 0) -> Health:
    """The mean cosine of ``pairs`` random pairs of distinct words among the ``top`` most frequent, and the share
    of rare words, with advice when the vectors are crowded together (too few passes over too little text)."""
    n = min(len(vectors), top)
    if n < 3:
        return Health(float("nan"), None, None)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = (a + rng.integers(1, n, pairs)) % n  # never the same word
    N = vectors.normed
    mean = float(np.einsum("ij,ij->i", N[a], N[b]).mean())
    counts = getattr(vectors, "counts", None)
    rare = float(np.mean(np.asarray(counts) < WELL_SEEN)) if getattr(vectors, "has_counts", False) else None
    advice = None
    if mean > CROWDED:
        advice = (f"Random word pairs have a mean cosine of {mean:.2f}: the vectors still point much the same way, "
                  "so every word looks close to every other and the neighbours' scores say little. The model saw "
                  "too little text: train more epochs, on more text, or with a higher learning rate.")
    return Health(mean, rare, advice)
