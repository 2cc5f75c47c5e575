"""Unseen words of a subword model on a map: a word the vocabulary lacks has a vector built from its n-grams, and
``place_unseen`` adds it to a map already projected (PCA and custom axes: the same linear map; t-SNE and UMAP, which
cannot place a new point: the similarity-weighted position of its nearest mapped words)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.projection import MapKnobs, MapProjection, axis_directions, normalize_rows, one_thread, pad_columns


PLACE_K = 10  # t-SNE/UMAP: an unseen word sits at the similarity-weighted mean of this many nearest mapped words


def place_unseen(vectors: Any, proj: MapProjection, extra: Sequence[str]) -> MapProjection:
    """``proj`` with ``extra`` words (not in the vocabulary; a subword model builds their vectors from their
    n-grams) added at the end, listed in ``pieces``. PCA and custom axes are linear: the new points go through the
    same fitted projection. t-SNE and UMAP have no such map: a new point is put at the cosine-weighted mean of the
    positions of its ``PLACE_K`` most similar mapped words (an approximation, to be said on the page)."""
    extra = tuple(w for w in dict.fromkeys(extra) if w not in proj.words)
    if not extra:
        return proj
    if not proj.words:
        raise W2VError("Put at least one vocabulary word on the map to place words built from their pieces.")
    k = proj.knobs
    base = vectors.vectors[[vectors.index[w] for w in proj.words]]
    new = np.stack([np.asarray(vectors.get_vector(w), dtype=np.float64) for w in extra])
    if k.method == "axes":
        Xb = normalize_rows(base)
        mean = Xb.mean(axis=0) if k.spherize else None
        Xe = normalize_rows(new)
        Xe = normalize_rows(Xe - mean) if mean is not None else Xe
        add = Xe @ axis_directions(vectors, k.axes).T
        coords = proj.coords
    elif k.method == "pca":
        coords, add = _pca_with(base, new, k)
    else:
        Xb, Xe = normalize_rows(base), normalize_rows(new)
        sims = Xe @ Xb.T
        m = min(PLACE_K, len(Xb))
        top = np.argsort(-sims, axis=1)[:, :m]
        w = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0)
        w[w.sum(axis=1) == 0] = 1.0  # nothing similar: the plain mean of the nearest
        add = np.einsum("ij,ijk->ik", w / w.sum(axis=1, keepdims=True), proj.coords[top].astype(np.float64))
        coords = proj.coords
    coords = np.vstack([coords, add]).astype(np.float32)
    return MapProjection(proj.words + extra, coords, proj.axis_titles, proj.explained, k, proj.pieces + extra)


def _pca_with(base: np.ndarray, new: np.ndarray, k: MapKnobs) -> tuple[np.ndarray, np.ndarray]:
    """PCA fitted on the mapped words (as ``pca`` does), then applied to the new rows too."""
    from sklearn.decomposition import PCA

    Xb = normalize_rows(base)
    Xe = normalize_rows(new)
    if k.spherize:
        mu = Xb.mean(axis=0)
        Xb, Xe = normalize_rows(Xb - mu), normalize_rows(Xe - mu)
    width = max(Xb.shape[1], k.dims)
    Xb, Xe = pad_columns(Xb, width), pad_columns(Xe, width)
    comps = k.components or tuple(range(1, k.dims + 1))
    cols = [c - 1 for c in comps]
    with one_thread():
        fit = PCA(n_components=max(comps), svd_solver="full").fit(Xb)
        return fit.transform(Xb)[:, cols], fit.transform(Xe)[:, cols]
