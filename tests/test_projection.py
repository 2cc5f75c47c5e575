"""Projection, clustering and Procrustes alignment (w2v_core.projection)."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from w2v_core.errors import W2VError
from w2v_core.projection import (MAX_TSNE_POINTS, align_to, cap_points, effective_perplexity, kmeans_labels,
                                 procrustes_align, project, project_together)


def _clusters(n_per=20, dim=16, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 5
    X = np.vstack([c + rng.normal(size=(n_per, dim)) * 0.3 for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(k), n_per)


def _random_rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("method", ["pca", "tsne"])
@pytest.mark.parametrize("dims", [2, 3])
def test_project_shapes_and_determinism(method, dims):
    X, _ = _clusters()
    a = project(X, method=method, dims=dims, perplexity=10, n_iter=250, seed=3)
    b = project(X, method=method, dims=dims, perplexity=10, n_iter=250, seed=3)
    assert a.shape == (len(X), dims)
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, b)


def test_pca_separates_clusters():
    X, y = _clusters(k=2)
    xy = project(X, "pca", 2)
    # the first principal axis splits two well-separated clusters
    side = xy[:, 0] > 0
    assert (side == (y == 0)).all() or (side == (y == 1)).all()


def test_projection_uses_cosine_geometry():
    # scaling a row (a frequent word has a longer vector) must not move it on the map
    X, _ = _clusters()
    Y = X.copy()
    Y[::2] *= 10
    np.testing.assert_allclose(project(X, "pca"), project(Y, "pca"), atol=1e-5)


def test_too_few_points_and_bad_arguments():
    with pytest.raises(W2VError, match="at least"):
        project(np.ones((2, 5)), "pca", 3)
    with pytest.raises(W2VError, match="at least"):
        project(np.random.default_rng(0).normal(size=(3, 5)), "tsne", 2)
    with pytest.raises(W2VError, match="pca"):
        project(np.ones((10, 5)), "umap")
    with pytest.raises(W2VError, match="2 or 3"):
        project(np.ones((10, 5)), "pca", dims=4)
    bad = np.ones((10, 5))
    bad[3, 2] = np.nan
    with pytest.raises(W2VError, match="NaN"):
        project(bad)


def test_tsne_input_cap_says_so():
    n, msg = cap_points(MAX_TSNE_POINTS + 500, "tsne")
    assert n == MAX_TSNE_POINTS and str(MAX_TSNE_POINTS) in msg.replace(",", "") and "PCA" in msg
    assert cap_points(MAX_TSNE_POINTS + 500, "pca") == (MAX_TSNE_POINTS + 500, None)
    assert cap_points(100, "tsne") == (100, None)
    assert cap_points(MAX_TSNE_POINTS + 1, "t-SNE")[0] == MAX_TSNE_POINTS  # the label a page shows works too
    with pytest.raises(W2VError, match="at most"):
        project(np.random.default_rng(0).normal(size=(MAX_TSNE_POINTS + 1, 4)), "tsne")


def test_tsne_perplexity_clipped_with_note(caplog):
    assert effective_perplexity(30, 10) == 3.0
    assert effective_perplexity(5, 1000) == 5
    X, _ = _clusters(n_per=4)  # 12 points, perplexity 30 is impossible
    with caplog.at_level(logging.INFO, logger="w2v_core.projection"):
        xy = project(X, "tsne", perplexity=30, n_iter=250)
    assert xy.shape == (12, 2)
    assert "perplexity lowered" in caplog.text


def test_tiny_dimension_is_padded():
    X = np.random.default_rng(1).normal(size=(10, 2))
    assert project(X, "pca", 3).shape == (10, 3)


def test_kmeans_labels_find_clusters():
    X, y = _clusters(k=3)
    labels = kmeans_labels(X, 3, seed=0)
    assert labels.shape == (len(X),)
    # each true cluster gets exactly one label, and labels differ between clusters
    groups = [set(labels[y == c]) for c in range(3)]
    assert all(len(g) == 1 for g in groups) and len(set.union(*groups)) == 3
    np.testing.assert_array_equal(labels, kmeans_labels(X, 3, seed=0))
    assert set(kmeans_labels(X[:2], 10)) <= {0, 1}  # k lowered to the number of rows
    with pytest.raises(W2VError):
        kmeans_labels(X, 0)


def test_procrustes_recovers_a_rotation():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 20))
    Q = _random_rotation(20, seed=1)
    B = A @ Q
    R, err = procrustes_align(A, B)
    assert err < 1e-6
    np.testing.assert_allclose(R @ R.T, np.eye(20), atol=1e-8)
    # a noisy copy that was never rotated still aligns, but with a clearly larger residual
    _, noisy_err = procrustes_align(A, A + rng.normal(size=A.shape) * 0.5)
    assert noisy_err > 0.1
    # and unrelated matrices align badly
    _, unrelated = procrustes_align(A, rng.normal(size=A.shape))
    assert unrelated > noisy_err


def _wv(words, vectors):
    return SimpleNamespace(words=list(words), vectors=np.asarray(vectors, dtype=np.float32),
                           index={w: i for i, w in enumerate(words)})


def test_align_to_uses_shared_vocabulary():
    rng = np.random.default_rng(2)
    words = [f"w{i}" for i in range(100)]
    A = rng.normal(size=(100, 8))
    Q = _random_rotation(8, seed=5)
    a = _wv(words, A)
    # model B knows only some of A's words, in another order, plus words of its own
    keep = words[10:90][::-1] + ["extra1", "extra2"]
    B = np.vstack([A[[int(w[1:]) for w in keep[:-2]]] @ Q, rng.normal(size=(2, 8))])
    b = _wv(keep, B)
    al = align_to(a, b)
    assert set(al.shared) == set(words[10:90]) and al.error < 1e-5
    # after alignment the same word sits in the same place in both models
    row_a = al.apply(A[[a.index["w42"]]])
    row_b = al.reference(B[[b.index["w42"]]])
    np.testing.assert_allclose(row_a, row_b, atol=1e-6)
    assert len(align_to(a, b, max_words=20).shared) == 20


def test_align_to_needs_shared_words():
    a = _wv(["a", "b", "c"], np.eye(3))
    b = _wv(["x", "y", "c"], np.eye(3))
    with pytest.raises(W2VError, match="share 1 words"):
        align_to(a, b)


def test_align_different_widths():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(50, 6))
    B = np.hstack([A, np.zeros((50, 4))])  # same geometry, embedded in 10 dimensions
    R, err = procrustes_align(A, B)
    assert R.shape == (10, 10) and err < 1e-6


def test_project_together_shares_one_coordinate_system():
    X, _ = _clusters()
    a, b = project_together([X, X], "pca")
    np.testing.assert_allclose(a, b, atol=1e-6)
    a, b = project_together([X[:30], X[30:]], "pca")
    np.testing.assert_allclose(np.vstack([a, b]), project(X, "pca"), atol=1e-5)
