"""Projections of word vectors to 2-D or 3-D: PCA, t-SNE, UMAP and custom axes.

Word vectors live in 50-300 dimensions; people look at them on a plane. PCA keeps the directions of
largest variance (fast, linear, stable); t-SNE (van der Maaten & Hinton, 2008) keeps neighbourhoods
(slow, non-linear, good for clusters); UMAP (McInnes, Healy & Melville, 2018) keeps neighbourhoods too,
faster than t-SNE and with more of the global layout; custom axes put chosen directions (man -> woman,
bad -> good) on the axes, as the TensorFlow Embedding Projector does. All work on *cosine* geometry:
rows are scaled to unit length first, because word2vec similarity is cosine and raw lengths mostly
track word frequency. "Spherize" also moves the mean word to the origin before that scaling, so the
direction every word shares (common in word2vec) stops dominating the first axis.

``project`` maps a matrix; ``project_map`` maps words of a model with every knob in one hashable
``MapKnobs``, so a page can cache a view per (model stamp, words, knobs).

Comparing two models needs them in one frame first: ``w2v_core.align`` rotates one onto the other.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import warnings
from dataclasses import dataclass, fields, replace
from typing import Any, Sequence, Union

import numpy as np

from w2v_core.data.corpus import ProgressFn
from w2v_core.errors import W2VError
from w2v_core.vectors import unit_rows

log = logging.getLogger(__name__)

METHODS = ("pca", "tsne", "umap")  # what ``project`` does to a matrix
MAP_METHODS = METHODS + ("axes",)  # ``project_map`` also puts word-defined directions on the axes
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "axes": "Custom axes"}
MAX_TSNE_POINTS = 3000  # Barnes-Hut t-SNE's time grows fast with the points; larger maps use PCA
MAX_UMAP_POINTS = 10_000  # UMAP's time grows with the points too; past this a page would wait too long
MIN_TSNE_ITER = 250  # scikit-learn refuses fewer iterations
# openTSNE runs on one thread: with torch loaded (as in the app) its second thread doubled the CPU time and
# slowed t-SNE of 3,000 words from 26 s to 50 s here, and a shared 2-core server has no core to spare anyway
TSNE_THREADS = 1


def one_thread():
    """A context in which scikit-learn's OpenMP/BLAS code runs on one thread.

    On our 2-core machines, with torch loaded and anything else running, their thread pools spin against each
    other: k-means (k=30) of 5,000 words took 2.3-7.3 s with the default pools and 0.3-0.5 s on one thread.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Unit-length rows in float64 (zero rows stay zero), so that dot products are cosines."""
    return unit_rows(X, np.float64)


def prepare_rows(X: np.ndarray, spherize: bool = False, fit_rows: int | None = None) -> np.ndarray:
    """The rows every projection sees: unit length; with ``spherize``, centred first and scaled again.

    Unit length comes first so that frequent words (long vectors) do not pull the mean toward themselves.
    ``fit_rows``: only the first so many rows make the mean (the rows after them are placed on that map).
    """
    Xn = normalize_rows(X)
    if spherize and len(Xn[:fit_rows]):
        Xn = normalize_rows(Xn - Xn[:fit_rows].mean(axis=0))
    return Xn


def check_matrix(X: Any, what: str = "The vectors") -> np.ndarray:
    """``X`` as a 2-D array of finite numbers (ValueError for a wrong shape, W2VError for NaN or inf)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (words x dimensions), got shape {X.shape}")
    if X.size and not np.isfinite(X).all():
        raise W2VError(f"{what} contain NaN or infinite values; retrain the model with a smaller learning rate.")
    return X


def min_points(method: str, dims: int) -> int:
    """The fewest words a projection can place meaningfully."""
    if method == "axes":
        return 1
    return dims + 1 if method == "pca" else max(dims + 2, 5)


def effective_perplexity(perplexity: float, n_points: int) -> float:
    """The perplexity t-SNE will really use: it must stay below the number of points.

    A perplexity is roughly the number of neighbours each point cares about; with few points we clip it
    to a third of them (the usual rule of thumb), so the app can say so instead of failing.
    """
    if perplexity <= 0:
        raise W2VError(f"The perplexity must be positive (got {perplexity}); 5 to 50 is usual.")
    return float(min(perplexity, max(1.0, (n_points - 1) / 3.0)))


def _cap_message(method: str, n_points: int) -> str | None:
    cap = MAX_POINTS.get(method)
    if cap is None or n_points <= cap:
        return None
    return (f"{METHOD_NAMES[method]} is slow on many points, so it maps at most {cap:,} words "
            f"(asked for {n_points:,}). Use PCA for more words, or lower the number of words.")


MAX_POINTS = {"tsne": MAX_TSNE_POINTS, "umap": MAX_UMAP_POINTS}


def _method(method: str, allowed: Sequence[str] = METHODS) -> str:
    """'PCA', 't-SNE', 'tsne', 'UMAP' ... -> 'pca' | 'tsne' | 'umap' (| 'axes'); W2VError for anything else."""
    m = str(method).lower().replace("-", "").replace("_", "").replace(" ", "")
    m = {"customaxes": "axes", "custom": "axes"}.get(m, m)
    if m not in allowed:
        raise W2VError(f"Unknown projection method {method!r}; choose one of "
                       f"{', '.join(repr(a) for a in allowed)}.")
    return m


def cap_points(n_points: int, method: str) -> tuple[int, str | None]:
    """How many points ``method`` may take, with a message when ``n_points`` had to be cut."""
    m = _method(method, MAP_METHODS)
    msg = _cap_message(m, n_points)
    return (MAX_POINTS[m], msg) if msg else (n_points, None)


@dataclass(frozen=True)
class ProjectionOptions:
    """How :func:`project` tunes its method; each method reads only its own fields, the others are ignored."""

    perplexity: float = 30.0  # t-SNE: about how many neighbours each point keeps close
    n_iter: int = 1000  # t-SNE's iterations (at least MIN_TSNE_ITER)
    seed: int = 0  # t-SNE and UMAP: the same seed gives the same map
    components: Sequence[int] | None = None  # PCA's axes, 1-based (e.g. (2, 3)); None: the first ``dims``
    n_neighbors: int = 15  # UMAP: the neighbourhood it keeps, 2..200
    min_dist: float = 0.1  # UMAP: how tightly points may pack, 0..1
    spherize: bool = False  # every method: centre the unit rows first (see prepare_rows)


def project(X: np.ndarray, method: str = "pca", dims: int = 2, *, progress: ProgressFn | None = None,
            **options: Any) -> np.ndarray:
    """Project the rows of ``X`` to ``dims`` (2 or 3) coordinates by PCA, t-SNE or UMAP on unit-length rows.

    ``options`` are :class:`ProjectionOptions` fields as keywords (``perplexity``/``n_iter`` tune t-SNE,
    ``n_neighbors``/``min_dist`` UMAP, ``components`` picks PCA's axes; an unknown one is a TypeError);
    ``progress(fraction, message)`` hears about t-SNE iterations and UMAP epochs while they run. Deterministic for
    a given seed. Raises W2VError when there are too few rows, or more than t-SNE's or UMAP's cap (cut the input
    with ``cap_points`` first).
    """
    o = ProjectionOptions(**options)
    method = _method(method)
    Xn = _checked_input(X, method, dims, o.spherize)
    if method == "pca":
        return pca(Xn, dims, o.components, prepared=True)[0]
    if method == "tsne":
        return _tsne(Xn, dims, o.perplexity, o.n_iter, o.seed, progress)
    return _umap(Xn, dims, o.n_neighbors, o.min_dist, o.seed, progress)


def pad_columns(X: np.ndarray, width: int) -> np.ndarray:
    """``X`` with zero columns added up to ``width`` (a narrower model next to a wider one, or a 1-D model on a plane)."""
    if X.shape[1] >= width:
        return X
    return np.hstack([X, np.zeros((X.shape[0], width - X.shape[1]), dtype=X.dtype)])


def _checked_input(X: Any, method: str, dims: int, spherize: bool, fit_rows: int | None = None) -> np.ndarray:
    """Prepared rows (see ``prepare_rows``), padded to ``dims`` columns, after every check a user can fail."""
    if dims not in (2, 3):
        raise W2VError(f"A map has 2 or 3 dimensions (got {dims}).")
    X = check_matrix(X)
    n = X.shape[0]
    need = min_points(method, dims)
    if n < need:
        raise W2VError(f"{METHOD_NAMES[method]} in {dims}-D needs at least {need} words (got {n}); add more words.")
    msg = _cap_message(method, n)
    if msg:
        raise W2VError(msg)
    Xn = prepare_rows(X, spherize, fit_rows)
    if Xn.shape[1] < dims:  # tiny models (dimension 1 or 2): pad with zero columns so the shapes still work
        Xn = pad_columns(Xn, dims)
    return Xn


def pca(X: np.ndarray, dims: int = 2, components: Sequence[int] | None = None, spherize: bool = False,
        prepared: bool = False, fit_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PCA coordinates on the chosen components, and the share of the variance each of them explains.

    ``components`` are 1-based (PC1 = 1), ``dims`` of them; default PC1..PC``dims``. The shares tell how
    much of the picture a map shows: two components with 3 % each hide most of the space.
    ``prepared=True`` means ``X`` already went through ``prepare_rows`` (and any padding). ``fit_rows``: the
    components (and the spherize mean) come from the first so many rows only; the rows after them are placed by the
    same projection (words added to a map afterwards).
    """
    Xn = X if prepared else _checked_input(X, "pca", dims, spherize, fit_rows)
    comps = tuple(range(1, dims + 1)) if components is None else tuple(int(c) for c in components)
    if len(comps) != dims:
        raise W2VError(f"Pick {dims} principal components for a {dims}-D map (got {len(comps)}).")
    most = min(Xn.shape)
    if len(set(comps)) != len(comps) or min(comps) < 1 or max(comps) > most:
        raise W2VError(f"Principal components must be different numbers from 1 to {most} here "
                       f"(got {', '.join(map(str, comps))}); a map of n words in d dimensions has min(n, d) of them.")
    from sklearn.decomposition import PCA

    cols = [c - 1 for c in comps]
    with one_thread():
        fit = PCA(n_components=max(comps), svd_solver="full").fit(Xn[:fit_rows])
        out = fit.transform(Xn)[:, cols]
    return np.asarray(out, dtype=np.float32), np.asarray(fit.explained_variance_ratio_[cols], dtype=np.float64)


def tsne_backend() -> str:
    """'openTSNE' when it is installed (about 2.5x faster here, and it reports progress), else 'scikit-learn'."""
    import importlib.util

    return "openTSNE" if importlib.util.find_spec("openTSNE") is not None else "scikit-learn"


def _tsne(Xn: np.ndarray, dims: int, perplexity: float, n_iter: int, seed: int,
          progress: ProgressFn | None) -> np.ndarray:
    n = Xn.shape[0]
    perp = effective_perplexity(perplexity, n)
    if perp != perplexity:
        log.info("t-SNE perplexity lowered from %s to %.1f because there are only %d points", perplexity, perp, n)
    iters = max(int(n_iter), MIN_TSNE_ITER)
    if iters != n_iter:
        log.info("t-SNE iterations raised from %s to %d (the least scikit-learn accepts)", n_iter, iters)
    if tsne_backend() == "openTSNE":
        out = _open_tsne(Xn, dims, perp, iters, seed, progress)
    else:
        from sklearn.manifold import TSNE

        _report(progress, 0.0, f"t-SNE: finding each word's {int(3 * perp)} nearest neighbours")
        with one_thread():
            out = TSNE(n_components=dims, perplexity=perp, max_iter=iters, init="pca", learning_rate="auto",
                       random_state=seed, n_jobs=1).fit_transform(Xn)
    _report(progress, 1.0, "t-SNE: done")
    return np.asarray(out, dtype=np.float32)


def _open_tsne(Xn: np.ndarray, dims: int, perp: float, iters: int, seed: int, progress: ProgressFn | None):
    _report(progress, 0.0, "t-SNE: starting")  # a new server's first import of openTSNE (and scikit-learn) takes a while
    import openTSNE

    # the same schedule as scikit-learn's: an early-exaggeration phase (at most 250 steps), then the rest
    early = min(250, max(50, iters // 4))
    every = 25
    done = [0]

    def tick(iteration: int, error: float, embedding: Any) -> bool:
        done[0] += every  # openTSNE counts from 0 again in each phase, so count the calls instead
        _report(progress, min(done[0] / iters, 0.999), f"t-SNE: iteration {min(done[0], iters)} of {iters}")
        return False

    affinities = _tsne_affinities(Xn, perp, progress)
    return openTSNE.TSNE(n_components=dims, perplexity=perp, early_exaggeration_iter=early, n_iter=iters - early,
                         initialization="pca", random_state=seed, n_jobs=TSNE_THREADS, verbose=False,
                         callbacks=tick if progress else None, callbacks_every_iters=every).fit(Xn, affinities)


def _tsne_affinities(Xn: np.ndarray, perp: float, progress: ProgressFn | None) -> Any:
    """openTSNE's perplexity affinities from our own exact neighbours (:func:`knn`, blocks of dot products).

    Left to itself, openTSNE looks for pynndescent on every fit (it imports it just to see whether it is there),
    and a first import compiles pynndescent's numba code: on a new server the first t-SNE sat for 53 s at "finding
    each word's 90 nearest neighbours" (500 words; 5 s later on), and longer while the UMAP warm-up compiled the
    same code. Our exact search on unit rows takes milliseconds for the words a t-SNE map may have, and reports
    its blocks; the neighbours are the ones scikit-learn's exact search (openTSNE's choice under 1,000 points)
    finds, with the same Euclidean distances.
    """
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = Xn.shape[0]
    k = min(n - 1, int(3 * perp))
    X = np.asarray(Xn, dtype=np.float32)
    sq = np.einsum("ij,ij->i", X, X).astype(np.float64)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float64)
    block = 1024
    for s in range(0, n, block):
        _report(progress, 0.0, f"t-SNE: each word's {k} nearest neighbours ({min(s + block, n):,} of {n:,} words)")
        d2 = sq[s:s + block, None] + sq[None, :] - 2.0 * (X[s:s + block] @ X.T)
        d2[np.arange(len(d2)), np.arange(s, s + len(d2))] = np.inf  # not its own neighbour
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        pd2 = np.take_along_axis(d2, part, 1)
        order = np.argsort(pd2, axis=1, kind="stable")
        idx[s:s + block] = np.take_along_axis(part, order, 1)
        dist[s:s + block] = np.sqrt(np.maximum(np.take_along_axis(pd2, order, 1), 0.0))
    _report(progress, 0.0, "t-SNE: how strongly each word holds its neighbours (perplexity)")
    return PerplexityBasedNN(knn_index=PrecomputedNeighbors(idx, dist), perplexity=perp, n_jobs=TSNE_THREADS)


def knn(Xn: np.ndarray, k: int, queries: np.ndarray | None = None, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar rows of ``Xn`` for each query row (default: every row, itself included first).

    Exact, by blocks of dot products on unit rows (cosines), so memory stays at ``block x n``. Returns indices
    (m, k) int64 and cosines (m, k), best first.
    """
    Q = Xn if queries is None else queries
    k = min(int(k), Xn.shape[0])
    idx = np.empty((Q.shape[0], k), dtype=np.int64)
    sim = np.empty((Q.shape[0], k), dtype=np.float64)
    for s in range(0, Q.shape[0], block):
        S = Q[s:s + block] @ Xn.T
        part = np.argpartition(-S, k - 1, axis=1)[:, :k] if k < S.shape[1] else np.tile(np.arange(k), (len(S), 1))
        ps = np.take_along_axis(S, part, 1)
        order = np.argsort(-ps, axis=1, kind="stable")
        idx[s:s + block] = np.take_along_axis(part, order, 1)
        sim[s:s + block] = np.take_along_axis(ps, order, 1)
    return idx, sim


class _TqdmSink:
    """A file for umap-learn's tqdm bar (formatted as 'n/total'): turns each update into a progress call."""

    _N = re.compile(r"(\d+)/(\d+)\s*$")

    def __init__(self, progress: ProgressFn, start: float, span: float):
        self.progress, self.start, self.span = progress, start, span

    def write(self, text: str) -> None:
        m = self._N.search(text.strip("\r\n "))
        if m and int(m.group(2)) > 0:
            done, total = int(m.group(1)), int(m.group(2))
            self.progress(self.start + self.span * done / total, f"UMAP: epoch {done} of {total}")

    def flush(self) -> None:
        pass


_UMAP_IMPORT = threading.Lock()
_UMAP_DONE: list[Any] = []  # umap-learn once an import of it has finished (see _import_umap)


_CACHED_PACKAGES = ("umap", "pynndescent")  # whose numba functions are compiled once per install, not per process


def _import_umap() -> Any:
    """umap-learn, imported so that numba keeps its compiled functions on disk.

    umap-learn declares ~120 numba functions without numba's ``cache=True``, so every new process compiled them
    again on its first UMAP (8-17 s here); with the cache only the first process after an install pays (first UMAP
    of a later process: ~2.2 s, import included). numba keeps the cache beside umap's sources, or in the user's
    cache folder when those are read-only.

    numba offers no setting for "cache by default", and turning the cache on after the import (each dispatcher's
    ``enable_caching``) misses the functions compiled at import and costs ~0.3 s more per process, so the decorator
    is wrapped for the import only, under a lock, and restored in ``finally``. The wrapper adds ``cache=True`` only
    for decorations made by umap's and pynndescent's own modules (:data:`_CACHED_PACKAGES`): another thread that
    defines a numba function meanwhile gets numba's decorator unchanged.
    """
    if _UMAP_DONE:  # not sys.modules: a module there may be half imported by the warm-up thread (issue 24's
        return _UMAP_DONE[0]  # screenshots: "partially initialized module 'umap' has no attribute 'UMAP'")
    with _UMAP_IMPORT:
        if _UMAP_DONE:
            return _UMAP_DONE[0]
        try:
            import numba
        except ImportError:
            numba = None
        plain = getattr(numba, "njit", None)

        def njit_cached(*args: Any, **kw: Any) -> Any:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.split(".")[0] not in _CACHED_PACKAGES:
                return plain(*args, **kw)
            if len(args) == 1 and callable(args[0]) and not kw:  # bare @numba.njit
                return plain(cache=True)(args[0])
            kw.setdefault("cache", True)
            return plain(*args, **kw)

        if plain is not None:
            numba.njit = njit_cached
        try:
            import umap
        except ImportError:
            raise W2VError("UMAP needs the umap-learn package: pip install umap-learn "
                           "(or pick PCA or t-SNE).") from None
        finally:
            if plain is not None:
                numba.njit = plain
        _UMAP_DONE.append(umap)
    return umap


def _umap(Xn: np.ndarray, dims: int, n_neighbors: int, min_dist: float, seed: int,
          progress: ProgressFn | None) -> np.ndarray:
    if not 2 <= n_neighbors <= 200:
        raise W2VError(f"UMAP's number of neighbours must be between 2 and 200 (got {n_neighbors}); 15 is usual.")
    if not 0.0 <= min_dist <= 1.0:
        raise W2VError(f"UMAP's minimum distance must be between 0 and 1 (got {min_dist}); 0.1 is usual.")
    umap = _import_umap()
    # umap-learn warns that a model fitted on our own neighbours cannot .transform() new points: we never do
    warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
    n = Xn.shape[0]
    k = min(int(n_neighbors), n - 1)
    _report(progress, 0.0, f"UMAP: finding each word's {k} nearest neighbours")
    # exact neighbours by dot products (seconds for 10,000 words) instead of pynndescent, whose numba
    # compilation costs ~30 s on the first call in a process; distances are Euclidean between unit rows
    idx, cos = knn(Xn, k)
    dist = np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)).astype(np.float32)
    _report(progress, 0.15, "UMAP: building the neighbour graph")
    sink = {"tqdm_kwds": {"disable": False, "file": _TqdmSink(progress, 0.2, 0.79), "bar_format": "{n}/{total}",
                          "mininterval": 0.2, "desc": ""}} if progress else {}
    out = umap.UMAP(n_components=dims, n_neighbors=k, min_dist=min_dist, random_state=seed, n_jobs=1,
                    precomputed_knn=(idx.astype(np.int32), dist, None), **sink).fit_transform(Xn.astype(np.float32))
    _report(progress, 1.0, "UMAP: done")
    return np.asarray(out, dtype=np.float32)


def warm_up_umap() -> None:
    """Run UMAP once on a few random points, so numba's compilation (several seconds, once per process) is
    not paid by the first person who asks for a UMAP map. A page can call it in a background thread."""
    X = np.random.default_rng(0).normal(size=(60, 8))
    project(X, "umap", 2, n_neighbors=5)


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(fraction), message)


def project_together(matrices: Sequence[np.ndarray], method: str = "pca", dims: int = 2, perplexity: float = 30.0,
                     n_iter: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """Project several (already aligned) matrices into ONE coordinate system, so maps can be compared.

    PCA is fitted on all rows together and applied to each matrix; t-SNE embeds the stacked rows at once
    (its total is what ``MAX_TSNE_POINTS`` limits). Returns one coordinate array per input matrix.
    """
    mats = [check_matrix(m) for m in matrices]
    if not mats:
        return []
    width = {m.shape[1] for m in mats}
    if len(width) != 1:
        raise ValueError(f"matrices to project together must have the same width, got {sorted(width)}")
    sizes = [m.shape[0] for m in mats]
    stacked = project(np.vstack(mats), method=method, dims=dims, perplexity=perplexity, n_iter=n_iter, seed=seed)
    return np.split(stacked, np.cumsum(sizes)[:-1])


# ---------------------------------------------------------------------------------------------- custom axes

Axis = Union[str, tuple[str, str]]  # a word (its own direction) or (from, to): the direction from -> to
_ARROW = re.compile(r"\s*(?:→|->|=>|>)\s*")


def parse_axis(text: str) -> Axis:
    """'man -> woman', 'man→woman', 'man > woman' -> ('man', 'woman'); 'good' -> 'good'."""
    parts = [p.strip() for p in _ARROW.split(str(text).strip())]
    if len(parts) == 1 and parts[0]:
        return parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise W2VError(f"An axis is a word ('good') or two words with an arrow ('bad -> good'); got {text!r}.")


def axis_title(axis: Axis) -> str:
    """How an axis is named on the map: 'man → woman' or 'good'."""
    return axis if isinstance(axis, str) else f"{axis[0]} → {axis[1]}"


def axis_directions(vectors: Any, axes: Sequence[Axis]) -> np.ndarray:
    """One unit direction per axis (rows): a word's unit vector, or unit(to) - unit(from) for a pair.

    Unit vectors first, so that a frequent word's long vector does not swamp a rare one's in a pair.
    Unknown words raise W2VError with close spellings (from ``WordVectors.get_index``).
    """
    rows = []
    for axis in axes:
        if isinstance(axis, str):
            d = vectors.get_vector(axis, norm=True).astype(np.float64)
        else:
            a, b = axis
            d = (vectors.get_vector(b, norm=True) - vectors.get_vector(a, norm=True)).astype(np.float64)
        norm = np.linalg.norm(d)
        if norm < 1e-9:
            raise W2VError(f"The axis {axis_title(axis)!r} has no direction (the same word twice, or a zero vector); "
                           "pick two different words.")
        rows.append(d / norm)
    return np.vstack(rows) if rows else np.zeros((0, vectors.dim))


# ---------------------------------------------------------------------------------------------- maps of words


@dataclass(frozen=True)
class MapKnobs:
    """Everything that decides a map's coordinates. Frozen and hashable: a page caches on (stamp, words, knobs).

    Build it with ``map_knobs``, which resets the knobs the method ignores, so a PCA map is not recomputed
    because the t-SNE perplexity slider moved.
    """

    method: str = "pca"  # pca | tsne | umap | axes
    dims: int = 2
    components: tuple[int, ...] | None = None  # PCA: 1-based components, None = PC1..PC<dims>
    perplexity: float = 30.0  # t-SNE
    n_iter: int = 1000  # t-SNE: iterations in all
    n_neighbors: int = 15  # UMAP
    min_dist: float = 0.1  # UMAP
    axes: tuple[Axis, ...] = ()  # custom axes, one per dimension
    spherize: bool = False  # centre the (unit) rows, then scale them to unit length again
    seed: int = 0


_USES = {"pca": {"components"}, "tsne": {"perplexity", "n_iter", "seed"}, "umap": {"n_neighbors", "min_dist", "seed"},
         "axes": {"axes"}}


def map_knobs(method: str = "pca", dims: int = 2, **knobs: Any) -> MapKnobs:
    """Checked, canonical knobs: the method's name normalised, lists made tuples, unused knobs at defaults.

    Unknown knob names are a programming error (TypeError); bad values a user chose raise W2VError.
    """
    m = _method(method, MAP_METHODS)
    if "axes" in knobs:
        knobs["axes"] = tuple(_as_axis(a) for a in knobs["axes"] or ())
    if knobs.get("components") is not None:
        knobs["components"] = tuple(int(c) for c in knobs["components"])
    for name, kind in (("perplexity", float), ("n_iter", int), ("n_neighbors", int), ("min_dist", float),
                       ("seed", int), ("spherize", bool)):
        if name in knobs:
            knobs[name] = kind(knobs[name])
    k = MapKnobs(method=m, dims=int(dims), **knobs)
    if m == "axes":
        k = replace(k, dims=len(k.axes))
        if k.dims not in (2, 3):
            raise W2VError(f"Custom axes need 2 or 3 axes, one per dimension of the map (got {k.dims}).")
    elif k.dims not in (2, 3):
        raise W2VError(f"A map has 2 or 3 dimensions (got {k.dims}).")
    default = MapKnobs()
    unused = {f.name: getattr(default, f.name) for f in fields(k)
              if f.name not in ("method", "dims", "spherize") and f.name not in _USES[m]}
    return replace(k, **unused)


def _as_axis(a: Any) -> Axis:
    if isinstance(a, str):
        return parse_axis(a)
    if isinstance(a, (list, tuple)) and len(a) in (1, 2) and all(isinstance(w, str) and w.strip() for w in a):
        return a[0].strip() if len(a) == 1 else (a[0].strip(), a[1].strip())
    raise W2VError(f"An axis is a word or a (from, to) pair of words; got {a!r}.")


@dataclass(frozen=True, eq=False)  # holds an array: compare fields, not objects
class MapProjection:
    """Coordinates of words on a map, with what a page needs to title the axes and explain the view."""

    words: tuple[str, ...]
    coords: np.ndarray  # (len(words), dims) float32
    axis_titles: tuple[str, ...]  # "PC1 (12.3 %)", "man → woman", "UMAP 1"
    explained: tuple[float, ...] | None  # PCA: share of the variance on each shown axis
    knobs: MapKnobs
    pieces: tuple[str, ...] = ()  # words placed afterwards from their n-gram vectors (unseen words of a subword model)


def project_map(vectors: Any, words: Sequence[str], method: str | MapKnobs = "pca", dims: int = 2, *,
                progress: ProgressFn | None = None, **knobs: Any) -> MapProjection:
    """The one entry point for a map: ``words`` of ``vectors`` (WordVectors) placed by ``method`` with ``knobs``.

    ``method`` is a name ('pca', 'tsne', 'umap', 'axes') with knobs as keywords (see ``MapKnobs``), or a
    ``MapKnobs`` already built with ``map_knobs``. Custom axes give one coordinate per axis: the dot product
    of each word's unit vector with the axis's unit direction (a cosine, -1..1).
    """
    k = method if isinstance(method, MapKnobs) else map_knobs(method, dims, **knobs)
    words = tuple(words)
    missing = [w for w in words if w not in vectors.index]
    if missing:
        raise W2VError(f"{len(missing)} word(s) are not in the vocabulary ({', '.join(missing[:5])}); "
                       "pick words of this model.")
    X = vectors.vectors[[vectors.index[w] for w in words]] if words else np.zeros((0, vectors.dim), np.float32)
    explained = None
    if k.method == "axes":
        if not words:
            raise W2VError("Custom axes need at least 1 word on the map; add words.")
        D = axis_directions(vectors, k.axes)
        coords = (prepare_rows(check_matrix(X), k.spherize) @ D.T).astype(np.float32)
        titles = tuple(axis_title(a) for a in k.axes)
    elif k.method == "pca":
        coords, ratio = pca(X, k.dims, k.components, k.spherize)
        explained = tuple(float(r) for r in ratio)
        comps = k.components or tuple(range(1, k.dims + 1))
        titles = tuple(f"PC{c} ({100 * r:.1f} %)" for c, r in zip(comps, explained))
    else:
        coords = project(X, k.method, k.dims, progress=progress, perplexity=k.perplexity, n_iter=k.n_iter,
                         seed=k.seed, n_neighbors=k.n_neighbors, min_dist=k.min_dist, spherize=k.spherize)
        titles = tuple(f"{METHOD_NAMES[k.method]} {i + 1}" for i in range(k.dims))
    return MapProjection(words, coords, titles, explained, k)

