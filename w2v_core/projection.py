"""Projections of word vectors to 2-D or 3-D, clusters, and Procrustes alignment of two models.

Word vectors live in 50-300 dimensions; people look at them on a plane. PCA keeps the directions of
largest variance (fast, linear, stable); t-SNE (van der Maaten & Hinton, 2008) keeps neighbourhoods
(slow, non-linear, good for clusters). Both work on *cosine* geometry here: rows are scaled to unit
length first, because word2vec similarity is cosine and raw lengths mostly track word frequency.

Two models trained separately agree only up to a rotation (their dimensions are arbitrary). Before two
maps can be compared, one model is rotated onto the other by orthogonal Procrustes on the words they
share (Hamilton, Leskovec & Jurafsky, 2016, "Diachronic word embeddings"): the rotation R minimising
||A R - B|| is U V^T where U S V^T is the SVD of A^T B.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.vectors import unit_rows

log = logging.getLogger(__name__)

METHODS = ("pca", "tsne")
MAX_TSNE_POINTS = 3000  # Barnes-Hut t-SNE's time grows fast with the points; larger maps use PCA
MIN_TSNE_ITER = 250  # scikit-learn refuses fewer iterations


def normalize_rows(X: np.ndarray) -> np.ndarray:
    """Unit-length rows in float64 (zero rows stay zero), so that dot products are cosines."""
    return unit_rows(X, np.float64)


def _check_matrix(X: Any, what: str = "The vectors") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (words x dimensions), got shape {X.shape}")
    if X.size and not np.isfinite(X).all():
        raise W2VError(f"{what} contain NaN or infinite values; retrain the model with a smaller learning rate.")
    return X


def min_points(method: str, dims: int) -> int:
    """The fewest words a projection can place meaningfully."""
    return dims + 1 if method == "pca" else max(dims + 2, 5)


def effective_perplexity(perplexity: float, n_points: int) -> float:
    """The perplexity t-SNE will really use: it must stay below the number of points.

    A perplexity is roughly the number of neighbours each point cares about; with few points we clip it
    to a third of them (the usual rule of thumb), so the app can say so instead of failing.
    """
    if perplexity <= 0:
        raise W2VError(f"The perplexity must be positive (got {perplexity}); 5 to 50 is usual.")
    return float(min(perplexity, max(1.0, (n_points - 1) / 3.0)))


def tsne_cap_message(n_points: int) -> str | None:
    """A sentence for the user when t-SNE input would be capped, or None when it fits."""
    if n_points <= MAX_TSNE_POINTS:
        return None
    return (f"t-SNE is slow on many points, so it maps at most {MAX_TSNE_POINTS:,} words "
            f"(asked for {n_points:,}). Use PCA for more words, or lower the number of words.")


def _method(method: str) -> str:
    """'PCA', 't-SNE', 'tsne' ... -> 'pca' | 'tsne' (W2VError for anything else)."""
    m = str(method).lower().replace("-", "").replace("_", "")
    if m not in METHODS:
        raise W2VError(f"Unknown projection method {method!r}; choose 'pca' or 'tsne'.")
    return m


def cap_points(n_points: int, method: str) -> tuple[int, str | None]:
    """How many points ``method`` may take, with a message when ``n_points`` had to be cut."""
    if _method(method) == "tsne" and n_points > MAX_TSNE_POINTS:
        return MAX_TSNE_POINTS, tsne_cap_message(n_points)
    return n_points, None


def project(X: np.ndarray, method: str = "pca", dims: int = 2, perplexity: float = 30.0,
            n_iter: int = 1000, seed: int = 0) -> np.ndarray:
    """Project the rows of ``X`` to ``dims`` (2 or 3) coordinates by PCA or t-SNE on unit-length rows.

    Deterministic for a given seed. Raises W2VError when there are too few rows, or more than
    ``MAX_TSNE_POINTS`` for t-SNE (cut the input with ``cap_points`` first).
    """
    method = _method(method)
    if dims not in (2, 3):
        raise W2VError(f"A map has 2 or 3 dimensions (got {dims}).")
    X = _check_matrix(X)
    n = X.shape[0]
    need = min_points(method, dims)
    if n < need:
        raise W2VError(f"{method.upper()} in {dims}-D needs at least {need} words (got {n}); add more words.")
    Xn = normalize_rows(X)
    if Xn.shape[1] < dims:  # tiny models (dimension 1 or 2): pad with zero columns so the shapes still work
        Xn = np.hstack([Xn, np.zeros((n, dims - Xn.shape[1]))])

    if method == "pca":
        from sklearn.decomposition import PCA

        out = PCA(n_components=dims, svd_solver="full").fit_transform(Xn)
    else:
        msg = tsne_cap_message(n)
        if msg:
            raise W2VError(msg)
        from sklearn.manifold import TSNE

        perp = effective_perplexity(perplexity, n)
        if perp != perplexity:
            log.info("t-SNE perplexity lowered from %s to %.1f because there are only %d points", perplexity, perp, n)
        iters = max(int(n_iter), MIN_TSNE_ITER)
        if iters != n_iter:
            log.info("t-SNE iterations raised from %s to %d (the least scikit-learn accepts)", n_iter, iters)
        out = TSNE(n_components=dims, perplexity=perp, max_iter=iters, init="pca", learning_rate="auto",
                   random_state=seed, n_jobs=1).fit_transform(Xn)
    return np.asarray(out, dtype=np.float32)


def project_together(matrices: Sequence[np.ndarray], method: str = "pca", dims: int = 2, perplexity: float = 30.0,
                     n_iter: int = 1000, seed: int = 0) -> list[np.ndarray]:
    """Project several (already aligned) matrices into ONE coordinate system, so maps can be compared.

    PCA is fitted on all rows together and applied to each matrix; t-SNE embeds the stacked rows at once
    (its total is what ``MAX_TSNE_POINTS`` limits). Returns one coordinate array per input matrix.
    """
    mats = [_check_matrix(m) for m in matrices]
    if not mats:
        return []
    width = {m.shape[1] for m in mats}
    if len(width) != 1:
        raise ValueError(f"matrices to project together must have the same width, got {sorted(width)}")
    sizes = [m.shape[0] for m in mats]
    stacked = project(np.vstack(mats), method=method, dims=dims, perplexity=perplexity, n_iter=n_iter, seed=seed)
    return np.split(stacked, np.cumsum(sizes)[:-1])


def kmeans_labels(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster labels (0..k-1) of the rows of ``X`` by k-means on unit-length rows (cosine geometry).

    ``k`` larger than the number of rows is lowered to it, so a short word list still gets colours.
    """
    X = _check_matrix(X)
    if k < 1:
        raise W2VError(f"The number of clusters must be at least 1 (got {k}).")
    n = X.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    k = min(int(k), n)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(normalize_rows(X))
    return np.asarray(labels, dtype=np.int64)


def procrustes_align(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float]:
    """Orthogonal map ``R`` taking the rows of A onto the rows of B, and the mean residual after it.

    Rows are the shared vocabulary in the same order. Both sides are unit-normalised first, so the error
    (mean over words of ||a R - b||) lies in [0, 2]: 0 means the two models are rotations of each other.
    When widths differ, the narrower side is padded with zero columns (R is square, of the larger width).
    """
    A, B = _check_matrix(A, "The first matrix"), _check_matrix(B, "The second matrix")
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"procrustes_align needs the same rows on both sides, got {A.shape[0]} and {B.shape[0]}")
    if A.shape[0] < 2:
        raise W2VError(f"Aligning two models needs at least 2 shared words (got {A.shape[0]}).")
    An, Bn = _pad(normalize_rows(A), B.shape[1]), _pad(normalize_rows(B), A.shape[1])
    U, _, Vt = np.linalg.svd(An.T @ Bn)
    R = U @ Vt
    error = float(np.linalg.norm(An @ R - Bn, axis=1).mean())
    return R, error


def _pad(X: np.ndarray, width: int) -> np.ndarray:
    if X.shape[1] >= width:
        return X
    return np.hstack([X, np.zeros((X.shape[0], width - X.shape[1]), dtype=X.dtype)])


@dataclass(frozen=True)
class Alignment:
    """The rotation that maps model A onto model B, found on the words they share."""

    rotation: np.ndarray  # (D, D) orthogonal, D = the larger of the two widths
    error: float  # mean residual norm of unit vectors on the shared words, 0..2
    shared: tuple[str, ...]  # the words the rotation was fitted on, in A's order

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Rotate rows of model A (unit-normalised first) into model B's space."""
        return _pad(normalize_rows(X), self.rotation.shape[0]) @ self.rotation

    def reference(self, X: np.ndarray) -> np.ndarray:
        """Rows of model B prepared the same way (unit length, padded), ready to project with ``apply``'s output."""
        return _pad(normalize_rows(X), self.rotation.shape[0])


def align_to(vectors_a: Any, vectors_b: Any, max_words: int | None = 10_000) -> Alignment:
    """Align WordVectors ``vectors_a`` onto ``vectors_b`` over their shared vocabulary.

    Uses the most frequent shared words first (rows are in frequency order), at most ``max_words`` of
    them: rare words are noisy and would only blur the rotation.
    """
    index_b = _index(vectors_b)
    shared = [w for w in vectors_a.words if w in index_b]
    if max_words is not None:
        shared = shared[:max_words]
    if len(shared) < 2:
        raise W2VError(f"The two models share {len(shared)} words; aligning them needs at least 2. "
                       "Compare models trained on the same or similar text.")
    index_a = _index(vectors_a)
    A = np.asarray(vectors_a.vectors)[[index_a[w] for w in shared]]
    B = np.asarray(vectors_b.vectors)[[index_b[w] for w in shared]]
    R, error = procrustes_align(A, B)
    log.info("aligned %d shared words, mean residual %.4f", len(shared), error)
    return Alignment(rotation=R, error=error, shared=tuple(shared))


def _index(vectors: Any) -> dict[str, int]:
    index = getattr(vectors, "index", None)
    if isinstance(index, dict):
        return index
    return {w: i for i, w in enumerate(vectors.words)}


def pca_2d(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project two sets of raw vectors (not unit length: a move's length matters) into one 2-D PCA basis fitted
    on both, so that how far each vector moved between them can be seen on a plane."""
    both = np.concatenate([before, after]).astype(np.float64)
    mean = both.mean(0)
    x = both - mean
    if x.shape[0] < 2 or not np.any(x):
        z = np.zeros((len(before), 2))
        return z, z.copy()
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    basis = vt[:2].T
    if basis.shape[1] < 2:
        basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
    return (before - mean) @ basis, (after - mean) @ basis
