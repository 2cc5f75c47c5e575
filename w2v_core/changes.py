"""What a continued run changed: the words that moved, the new words, the similarities that changed most.

A child model (``continuation.py``) and its parent share most of their words. Their tables agree only up to a
rotation once the child has trained on, so the child is first rotated onto the parent by orthogonal Procrustes
(``align.align_to``, as Compare aligns two models) over their most frequent shared words. Then, with the corpus
counts behind each (the parent's, the child's combined ones and the difference, which is the new text's):

* **moved words**: shared words by aligned cosine with their parent vector, lowest first, with their neighbours
  before and after;
* **new words**: the child's words the parent lacks, most frequent first, with their neighbours;
* **similarity changes**: pairs of frequent shared words whose cosine changed most (rotations do not change a
  cosine, so no alignment is needed for these).

Everything is computed on unit-length rows; nothing here imports Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from w2v_core.align import align_to
from w2v_core.errors import W2VError
from w2v_core.vectors import unit_rows

TOP_WORDS = 1000  # the "old top words" whose mean aligned cosine says how much the child kept
ALIGN_WORDS = 10_000
PAIR_WORDS = 300  # frequent shared words whose pairwise similarities are compared


@dataclass
class Changes:
    """What changed from ``parent`` to ``child`` (each list: one dict per row, ready for a table)."""

    shared: int  # words both models have
    aligned_on: int  # words the rotation was fitted on
    top_mean_cosine: float  # mean aligned cosine over the parent's top TOP_WORDS shared words
    moved: list[dict[str, Any]] = field(default_factory=list)
    new_words: list[dict[str, Any]] = field(default_factory=list)
    similarity: list[dict[str, Any]] = field(default_factory=list)


def _counts(vectors) -> np.ndarray:
    c = getattr(vectors, "counts", None)
    return np.zeros(len(vectors.words), dtype=np.int64) if c is None else np.asarray(c, dtype=np.int64)


def _neighbours(unit: np.ndarray, words: list[str], row: int, k: int, allowed: np.ndarray | None = None) -> str:
    sims = unit @ unit[row]
    sims[row] = -np.inf
    if allowed is not None:
        sims[~allowed] = -np.inf
    top = np.argpartition(-sims, min(k, len(sims) - 1))[:k]
    top = top[np.argsort(-sims[top])]
    return ", ".join(words[i] for i in top if np.isfinite(sims[i]))


def what_changed(parent, child, n: int = 25, k: int = 8, top_words: int = TOP_WORDS, min_new: int = 5) -> Changes:
    """The changes from WordVectors ``parent`` to ``child`` (``n`` rows per list, ``k`` neighbours per word).

    A moved word must occur at least ``min_new`` times in the new text (when the counts say so): a rare word that
    the new text hardly mentions drifts by noise, not by anything it says."""
    p_index = {w: i for i, w in enumerate(parent.words)}
    c_words = list(child.words)
    shared_c = np.array([i for i, w in enumerate(c_words) if w in p_index], dtype=np.int64)
    if len(shared_c) < 2:
        raise W2VError("The two models share fewer than 2 words, so there is nothing to compare: pick a model and "
                       "the model it was continued from.")
    al = align_to(child, parent, max_words=ALIGN_WORDS)
    pu, cu = unit_rows(np.asarray(parent.vectors)), unit_rows(np.asarray(child.vectors))
    rotated = al.apply(np.asarray(child.vectors))[:, :pu.shape[1]]
    shared_p = np.array([p_index[c_words[i]] for i in shared_c], dtype=np.int64)
    cos = np.einsum("ij,ij->i", rotated[shared_c], al.reference(pu)[shared_p][:, :rotated.shape[1]])
    pc, cc = _counts(parent), _counts(child)
    by_parent_rank = np.argsort(shared_p, kind="stable")  # the parent's rows are most frequent first
    top = by_parent_rank[:top_words]
    out = Changes(shared=len(shared_c), aligned_on=len(al.shared), top_mean_cosine=float(cos[top].mean()))
    gained = cc[shared_c] - pc[shared_p]
    evidence = gained >= min_new if gained.any() else np.ones(len(shared_c), dtype=bool)
    for j in [j for j in np.argsort(cos, kind="stable") if evidence[j]][:n]:
        ci, pi = int(shared_c[j]), int(shared_p[j])
        out.moved.append({"word": c_words[ci], "aligned cosine": round(float(cos[j]), 3),
                          "parent count": int(pc[pi]), "count now": int(cc[ci]),
                          "new text count": max(0, int(cc[ci]) - int(pc[pi])),
                          "neighbours before": _neighbours(pu, list(parent.words), pi, k),
                          "neighbours now": _neighbours(cu, c_words, ci, k)})
    is_new = np.ones(len(c_words), dtype=bool)
    is_new[shared_c] = False
    for ci in np.flatnonzero(is_new)[np.argsort(-cc[is_new], kind="stable")][:n]:
        out.new_words.append({"word": c_words[ci], "count": int(cc[ci]),
                              "neighbours": _neighbours(cu, c_words, int(ci), k),
                              "old neighbours": _neighbours(cu, c_words, int(ci), k, ~is_new)})
    out.similarity = _similarity_changes(pu, cu, shared_p[by_parent_rank[:PAIR_WORDS]],
                                         shared_c[by_parent_rank[:PAIR_WORDS]], c_words, pc, cc, n)
    return out


def _similarity_changes(pu, cu, rows_p, rows_c, words, pc, cc, n) -> list[dict[str, Any]]:
    before = pu[rows_p] @ pu[rows_p].T
    now = cu[rows_c] @ cu[rows_c].T
    delta = np.triu(now - before, 1)
    flat = np.argsort(-np.abs(delta), axis=None, kind="stable")[:n]
    rows = []
    for a, b in zip(*np.unravel_index(flat, delta.shape)):
        if a >= b:
            continue
        rows.append({"word 1": words[rows_c[a]], "word 2": words[rows_c[b]],
                     "cosine before": round(float(before[a, b]), 3), "cosine now": round(float(now[a, b]), 3),
                     "change": round(float(delta[a, b]), 3),
                     "counts before": f"{int(pc[rows_p[a]]):,} / {int(pc[rows_p[b]]):,}",
                     "counts now": f"{int(cc[rows_c[a]]):,} / {int(cc[rows_c[b]]):,}"})
    return rows
