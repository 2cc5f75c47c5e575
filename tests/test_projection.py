"""Projection, clustering and Procrustes alignment (w2v_core.projection)."""

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from w2v_core.align import align_to, procrustes_align
from w2v_core.errors import W2VError
from w2v_core.explorer import MINIBATCH_FROM, kmeans_labels
from w2v_core.projection import MAX_TSNE_POINTS, cap_points, effective_perplexity, project, project_together


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
        project(np.ones((10, 5)), "isomap")
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


# ---------------------------------------------------------------------------------------------- new projections

from w2v_core.projection import (MAX_UMAP_POINTS, MapKnobs, axis_directions, knn, map_knobs, parse_axis,  # noqa: E402
                                 pca, prepare_rows, project_map)
from w2v_core.vectors import WordVectors  # noqa: E402


def test_umap_keeps_clusters_apart_and_repeats_with_a_seed():
    X, y = _clusters(n_per=30, k=3)
    seen = []
    a = project(X, "umap", 2, seed=1, progress=lambda f, m: seen.append((f, m)))
    b = project(X, "UMAP", 2, seed=1)
    assert a.shape == (90, 2) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b)
    # every point is nearer its own cluster's centre than any other cluster's
    centres = np.stack([a[y == c].mean(0) for c in range(3)])
    nearest = np.argmin(((a[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == y).all()
    fr = [f for f, _ in seen]
    assert fr == sorted(fr) and fr[0] == 0.0 and fr[-1] == 1.0
    assert any("epoch" in m for _, m in seen)  # real progress from the layout's epochs, not only start and end
    assert project(X[:12], "umap", 3, n_neighbors=30).shape == (12, 3)  # neighbours cut to the points there are


def test_tsne_reports_its_iterations():
    X, _ = _clusters(n_per=10)
    seen = []
    project(X, "tsne", 2, perplexity=5, n_iter=300, progress=lambda f, m: seen.append((f, m)))
    its = [m for _, m in seen if "iteration" in m]
    assert len(its) >= 10 and its[-1] == "t-SNE: iteration 300 of 300"
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_tsne_neighbours_are_the_exact_ones_and_need_no_pynndescent():
    """The first t-SNE of a new server waited ~50 s for pynndescent's numba compile (openTSNE imports it to see
    whether it is installed): our own exact neighbours give the same affinities, and pynndescent is never loaded."""
    import subprocess
    import sys

    from openTSNE.affinity import PerplexityBasedNN

    from w2v_core.projection import _tsne_affinities, prepare_rows

    X, _ = _clusters(n_per=40)
    Xn = prepare_rows(X)
    seen = []
    ours = _tsne_affinities(Xn, 10.0, lambda f, m: seen.append(m)).P
    theirs = PerplexityBasedNN(Xn, perplexity=10.0, method="exact").P  # scikit-learn's exact search
    assert abs(ours - theirs).max() < 1e-5
    assert any("nearest neighbours (120 of 120 words)" in m for m in seen)
    code = ("import sys, numpy as np; from w2v_core.projection import project; "
            "project(np.random.default_rng(0).normal(size=(60, 8)), 'tsne', 2, perplexity=5, n_iter=250); "
            "print('pynndescent' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_umap_cap_and_bad_knobs():
    n, msg = cap_points(MAX_UMAP_POINTS + 1, "umap")
    assert n == MAX_UMAP_POINTS and "UMAP" in msg
    X, _ = _clusters()
    with pytest.raises(W2VError, match="neighbours"):
        project(X, "umap", n_neighbors=1)
    with pytest.raises(W2VError, match="minimum distance"):
        project(X, "umap", min_dist=2)


def test_pca_components_and_variance_explained():
    rng = np.random.default_rng(0)
    # three independent directions with decreasing spread, then noise
    X = np.hstack([rng.normal(size=(300, 1)) * s for s in (5, 3, 2)] + [rng.normal(size=(300, 5)) * 0.1]) + 10
    xy, ratio = pca(X, 2)
    xyz, ratio3 = pca(X, 3)
    assert ratio[0] > ratio[1] > 0 and ratio3.sum() < 1
    np.testing.assert_allclose(ratio, ratio3[:2])
    yz, ratio23 = pca(X, 2, components=(2, 3))
    np.testing.assert_allclose(yz, xyz[:, 1:], atol=1e-5)  # PC2/PC3 are the 2nd and 3rd columns of the 3-D map
    np.testing.assert_allclose(ratio23, ratio3[1:])
    np.testing.assert_allclose(project(X, "pca", 2, components=(1, 3)), xyz[:, [0, 2]], atol=1e-5)
    with pytest.raises(W2VError, match="Pick 2"):
        pca(X, 2, components=(1,))
    with pytest.raises(W2VError, match="different"):
        pca(X, 2, components=(2, 2))
    with pytest.raises(W2VError, match="from 1 to 8"):
        pca(X, 2, components=(1, 9))


def test_spherize_centres_and_scales_rows():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 6)) + np.array([5, 0, 0, 0, 0, 0])  # every word shares one big direction
    plain, sph = prepare_rows(X), prepare_rows(X, spherize=True)
    np.testing.assert_allclose(np.linalg.norm(sph, axis=1), 1.0)
    assert np.abs(sph.mean(0)).max() < np.abs(plain.mean(0)).max() / 5
    # cosine neighbours change once the shared direction is gone
    assert not np.allclose(project(X, "pca"), project(X, "pca", spherize=True), atol=1e-3)


def test_knn_is_exact_and_blockwise():
    Xn = prepare_rows(np.random.default_rng(5).normal(size=(70, 8)))
    idx, sim = knn(Xn, 6, block=16)
    S = Xn @ Xn.T
    np.testing.assert_array_equal(idx[:, 0], np.arange(70))  # a row is its own nearest
    np.testing.assert_allclose(sim, -np.sort(-S, axis=1)[:, :6], atol=1e-12)


def _toy_vectors():
    """Words on a plane of meaning: x = gender (man -> woman), y = sentiment (bad -> good), plus noise dims."""
    rng = np.random.default_rng(0)
    spec = {"man": (-1, 0), "woman": (1, 0), "king": (-1, 0.3), "queen": (1, 0.3), "bad": (0, -1), "good": (0, 1),
            "hero": (-0.5, 0.8), "heroine": (0.5, 0.8), "villain": (-0.5, -0.8), "witch": (0.6, -0.7)}
    words = list(spec)
    base = np.array([spec[w] for w in words], dtype=np.float64)
    X = np.hstack([base, np.full((len(words), 1), 2.0), rng.normal(size=(len(words), 5)) * 0.05])
    return WordVectors(words, X.astype(np.float32))


def test_custom_axes_place_words_along_word_directions():
    wv = _toy_vectors()
    m = project_map(wv, wv.words, "axes", axes=["man -> woman", ("bad", "good")])
    xy = dict(zip(m.words, m.coords))
    assert m.axis_titles == ("man → woman", "bad → good") and m.coords.shape == (10, 2)
    assert xy["queen"][0] > 0 > xy["king"][0] and xy["heroine"][0] > 0 > xy["hero"][0]
    assert xy["hero"][1] > 0 > xy["villain"][1] and xy["witch"][1] < 0 < xy["heroine"][1]
    assert np.abs(m.coords).max() <= 1 + 1e-6  # cosines
    # a single word is an axis too; three axes make a 3-D map
    m3 = project_map(wv, wv.words, "axes", axes=["man->woman", "bad>good", "king"])
    assert m3.coords.shape == (10, 3) and m3.knobs.dims == 3
    assert dict(zip(m3.words, m3.coords[:, 2]))["king"] == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(W2VError, match="Did you mean: queen"):
        project_map(wv, wv.words, "axes", axes=["man->woman", "qeen"])
    with pytest.raises(W2VError, match="no direction"):
        axis_directions(wv, [("good", "good")])
    with pytest.raises(W2VError, match="2 or 3 axes"):
        project_map(wv, wv.words, "axes", axes=["good"])


def test_parse_axis():
    assert parse_axis(" man → woman ") == ("man", "woman")
    assert parse_axis("bad -> good") == parse_axis("bad>good") == ("bad", "good")
    assert parse_axis("paris") == "paris"
    for bad in ("", "a -> ", "a > b > c"):
        with pytest.raises(W2VError, match="arrow"):
            parse_axis(bad)


def test_map_knobs_are_a_cache_key():
    a = map_knobs("PCA", 2, perplexity=10, n_neighbors=5)
    b = map_knobs("pca", 2, perplexity=40)
    assert a == b and hash(a) == hash(b)  # knobs PCA ignores do not split the cache
    assert map_knobs("t-SNE", 2, perplexity=10) != map_knobs("tsne", 2, perplexity=40)
    assert map_knobs("pca", 2, components=[2, 3]).components == (2, 3)
    k = map_knobs("axes", axes=[["man", "woman"], "good"], spherize=1)
    assert k.spherize is True and k.dims == 2
    assert map_knobs("umap", 3, perplexity=5) == MapKnobs(method="umap", dims=3)
    with pytest.raises(W2VError, match="'umap'"):
        map_knobs("mds")
    with pytest.raises(W2VError, match="2 or 3"):
        map_knobs("pca", 4)
    with pytest.raises(TypeError):
        map_knobs("pca", 2, colour="red")


def test_project_map_titles_and_words():
    wv = _toy_vectors()
    m = project_map(wv, wv.words[:8], "pca", 2)
    assert m.words == tuple(wv.words[:8]) and m.coords.shape == (8, 2)
    assert m.axis_titles[0].startswith("PC1 (") and m.explained[0] >= m.explained[1]
    np.testing.assert_allclose(m.coords, project(wv.vectors[:8], "pca"), atol=1e-6)
    same = project_map(wv, wv.words[:8], map_knobs("pca", 2))
    np.testing.assert_array_equal(same.coords, m.coords)
    u = project_map(wv, wv.words, "umap", 2, n_neighbors=4)
    assert u.axis_titles == ("UMAP 1", "UMAP 2") and u.explained is None
    with pytest.raises(W2VError, match="not in the vocabulary"):
        project_map(wv, ["king", "zebra"], "pca")


def test_tsne_falls_back_to_scikit_learn(monkeypatch):
    import w2v_core.projection as P

    X, y = _clusters(n_per=15, k=2)
    monkeypatch.setattr(P, "tsne_backend", lambda: "scikit-learn")
    seen = []
    xy = project(X, "tsne", 2, perplexity=5, n_iter=250, progress=lambda f, m: seen.append(f))
    assert xy.shape == (30, 2) and seen[0] == 0.0 and seen[-1] == 1.0  # only start and end: sklearn has no hook
    gap = np.linalg.norm(xy[y == 0].mean(0) - xy[y == 1].mean(0))
    assert gap > 3 * max(xy[y == c].std(0).max() for c in (0, 1))  # the two clusters lie apart


def test_umap_missing_says_what_to_install(monkeypatch):
    import sys

    from w2v_core import projection as P

    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were not installed
    monkeypatch.setattr(P, "_UMAP_DONE", [])  # and no earlier import had finished
    X, _ = _clusters()
    with pytest.raises(W2VError, match="pip install umap-learn"):
        project(X, "umap")


def test_kmeans_of_many_rows_runs_on_mini_batches_and_still_finds_the_clusters():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, MINIBATCH_FROM + 1000)
    X = rng.normal(size=(5, 8))[truth] * 4 + rng.normal(size=(len(truth), 8)) * 0.3
    labels = kmeans_labels(X, 5)
    assert adjusted_rand_score(truth, labels) > 0.99
    assert (labels == kmeans_labels(X, 5)).all()  # seeded


def test_a_umap_map_waits_for_the_warm_up_thread_instead_of_taking_its_half_imported_module(monkeypatch):
    """While the Map's warm-up thread imported umap, a page asking for UMAP found the half-imported module in
    sys.modules and failed ("partially initialized module 'umap' has no attribute 'UMAP'"): it waits now."""
    import sys
    import threading
    import types

    from w2v_core import projection as P

    half = types.ModuleType("umap")  # what sys.modules holds while another thread is still importing umap
    monkeypatch.setitem(sys.modules, "umap", half)
    monkeypatch.setattr(P, "_UMAP_DONE", [])
    got = []
    with P._UMAP_IMPORT:  # the warm-up thread is importing
        t = threading.Thread(target=lambda: got.append(P._import_umap()), daemon=True)
        t.start()
        t.join(0.5)
        assert t.is_alive() and not got  # waiting, not handed the half module
        half.UMAP = object()  # the import finishes
    t.join(10)
    assert got == [half] and hasattr(got[0], "UMAP")
