"""Two models in one frame: orthogonal Procrustes alignment (used by Compare and the "watch it learn" replay).

Two models trained separately agree only up to a rotation (their dimensions are arbitrary). Before two
maps can be compared, one model is rotated onto the other by orthogonal Procrustes on the words they
share (Hamilton, Leskovec & Jurafsky, 2016, "Diachronic word embeddings"): the rotation R minimising
||A R - B|| is U V^T where U S V^T is the SVD of A^T B.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.projection import check_matrix, normalize_rows, pad_columns

log = logging.getLogger(__name__)


def procrustes_align(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, float]:
    """Orthogonal map ``R`` taking the rows of A onto the rows of B, and the mean residual after it.

    Rows are the shared vocabulary in the same order. Both sides are unit-normalised first, so the error
    (mean over words of ||a R - b||) lies in [0, 2]: 0 means the two models are rotations of each other.
    When widths differ, the narrower side is padded with zero columns (R is square, of the larger width).
    """
    A, B = check_matrix(A, "The first matrix"), check_matrix(B, "The second matrix")
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"procrustes_align needs the same rows on both sides, got {A.shape[0]} and {B.shape[0]}")
    if A.shape[0] < 2:
        raise W2VError(f"Aligning two models needs at least 2 shared words (got {A.shape[0]}).")
    An, Bn = pad_columns(normalize_rows(A), B.shape[1]), pad_columns(normalize_rows(B), A.shape[1])
    U, _, Vt = np.linalg.svd(An.T @ Bn)
    R = U @ Vt
    error = float(np.linalg.norm(An @ R - Bn, axis=1).mean())
    return R, error


@dataclass(frozen=True)
class Alignment:
    """The rotation that maps model A onto model B, found on the words they share."""

    rotation: np.ndarray  # (D, D) orthogonal, D = the larger of the two widths
    error: float  # mean residual norm of unit vectors on the shared words, 0..2
    shared: tuple[str, ...]  # the words the rotation was fitted on, in A's order

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Rotate rows of model A (unit-normalised first) into model B's space."""
        return pad_columns(normalize_rows(X), self.rotation.shape[0]) @ self.rotation

    def reference(self, X: np.ndarray) -> np.ndarray:
        """Rows of model B prepared the same way (unit length, padded), ready to project with ``apply``'s output."""
        return pad_columns(normalize_rows(X), self.rotation.shape[0])


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
