"""Unseen words of a subword model on a map: a word the vocabulary lacks has a vector built from its n-grams, and
``place_unseen`` adds it to a map already projected (PCA and custom axes: the same linear map; t-SNE and UMAP, which
cannot place a new point: the similarity-weighted position of its nearest mapped words)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.explorer import map_matrix
from w2v_core.projection import MapProjection, axis_directions, normalize_rows, pca, prepare_rows


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
    n = len(proj.words)
    both = np.vstack([map_matrix(vectors, proj.words), map_matrix(vectors, extra)]).astype(np.float64)
    if k.method == "axes":
        add = prepare_rows(both, k.spherize, fit_rows=n)[n:] @ axis_directions(vectors, k.axes).T
        coords = proj.coords
    elif k.method == "pca":  # fitted on the mapped words, as their map was; the new rows through the same fit
        placed, _ = pca(both, k.dims, k.components, k.spherize, fit_rows=n)
        coords, add = placed[:n], placed[n:]
    else:
        Xb, Xe = normalize_rows(both[:n]), normalize_rows(both[n:])
        sims = Xe @ Xb.T
        m = min(PLACE_K, len(Xb))
        top = np.argsort(-sims, axis=1)[:, :m]
        w = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0)
        w[w.sum(axis=1) == 0] = 1.0  # nothing similar: the plain mean of the nearest
        add = np.einsum("ij,ijk->ik", w / w.sum(axis=1, keepdims=True), proj.coords[top].astype(np.float64))
        coords = proj.coords
    coords = np.vstack([coords, add]).astype(np.float32)
    return MapProjection(proj.words + extra, coords, proj.axis_titles, proj.explained, k, proj.pieces + extra)

