"""What the map shows besides coordinates: labels that do not collide, named clusters, colours, density, search."""

import numpy as np
import pytest

from w2v_core.errors import W2VError
from w2v_core.explorer import (PALETTE, SIDES, choose_labels, place_labels, cluster_colours, density_grid, label_priorities, name_clusters,
                               search_map)
from w2v_core.vectors import WordVectors


def _boxes(coords, texts, idx, width_px=800, height_px=600, font_px=12.0):
    """The label boxes as choose_labels documents them, in pixels (x right, y up)."""
    span = np.ptp(coords, axis=0) * 1.1
    px = (coords - coords.min(0)) / span * np.array([width_px, height_px])
    return [(px[i, 0] - 0.3 * font_px * len(texts[i]), px[i, 0] + 0.3 * font_px * len(texts[i]),
             px[i, 1] + 3, px[i, 1] + 3 + 1.2 * font_px) for i in idx]


def _overlap(a, b):
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def test_labels_do_not_overlap_and_prefer_frequent_words():
    rng = np.random.default_rng(0)
    n = 2000
    coords = rng.normal(size=(n, 2))
    texts = [f"word{i}" for i in range(n)]
    pr = -np.arange(n, dtype=float)  # word0 is the most frequent
    idx = choose_labels(coords, pr, texts, max_labels=40)
    assert len(idx) == 40 and idx[0] == 0  # the most frequent word is always named first
    boxes = _boxes(coords, texts, idx)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    # the greedy pass skipped colliding words, but not so many that it only names rare ones
    assert np.median(idx) < 400
    np.testing.assert_array_equal(idx, choose_labels(coords, pr, texts, max_labels=40))


def test_always_labelled_words_come_first_even_if_they_collide():
    coords = np.array([[0.0, 0.0], [0.001, 0.0], [5.0, 5.0], [10.0, 0.0]])
    texts = ["apple", "apples", "zebra", "stone"]
    pr = np.array([3.0, 2.0, -np.inf, 1.0])
    idx = choose_labels(coords, pr, texts, max_labels=10)
    assert list(idx) == [0, 3]  # "apples" collides with "apple"; "zebra" has priority -inf
    idx = choose_labels(coords, pr, texts, max_labels=10, always=[2, 1])
    assert list(idx[:2]) == [2, 1] and 0 not in idx  # searched words are named; they block the others
    assert list(choose_labels(coords, pr, texts, max_labels=0, always=[2])) == [2]
    with pytest.raises(ValueError, match="2-D"):
        choose_labels(np.zeros((4, 3)), pr, texts)


def _side_box(coords, texts, i, side, width_px=800, height_px=600, font_px=12.0):
    """A placed name's box in pixels as place_labels documents it (x right, y up)."""
    span = np.ptp(coords, axis=0) * 1.1
    x, y = (coords[i] - coords.min(0)) / span * np.array([width_px, height_px])
    hw, lift = 0.3 * font_px * len(texts[i]), 0.6 * font_px + 3
    dx = (hw + (6 if side in ("right", "left") else 2)) * (("right" in side) - ("left" in side))
    dy = lift * (("top" in side) - ("bottom" in side))
    return x + dx - hw, x + dx + hw, y + dy - 0.6 * font_px, y + dy + 0.6 * font_px


def test_names_that_collide_above_their_points_go_below_or_beside_them():
    """A short list whose points crowd together (the issue: 21 words, 'Names on the map 40', 14 named): names
    move to a free side instead of being dropped, and no two of them overlap."""
    coords = np.array([[i * 0.04, 0.0] for i in range(6)] + [[1.0, 1.0]])  # six points along a short line
    texts = [f"word{i}" for i in range(7)]
    pr = -np.arange(7, dtype=float)
    above = choose_labels(coords, pr, texts, max_labels=40)
    placed = place_labels(coords, pr, texts, max_labels=40)
    assert len(above) < 7 and len(placed) == 7
    assert set(placed.values()) - {"top"} and set(placed.values()) <= set(SIDES)
    boxes = [_side_box(coords, texts, i, side) for i, side in placed.items()]
    assert not any(_overlap(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1:])
    assert list(place_labels(coords, pr, texts, max_labels=40, sides=("top",))) == list(above)


def test_label_priorities_skip_stop_words_and_non_words():
    words = ["the", "king", "of", "x", "1984", "queen", "don't", "<unk>", "paris"]
    pr = label_priorities(words)
    named = [w for w, p in zip(words, pr) if np.isfinite(p)]
    assert named == ["king", "queen", "don't", "paris"]
    assert pr[1] > pr[5] > pr[8]  # frequency order without counts
    pr = label_priorities(words, counts=[100, 5, 90, 1, 1, 50, 1, 1, 7])
    assert pr[5] > pr[8] > pr[1]


def _srgb_to_lab(hex_colours):
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in hex_colours], dtype=float) / 255
    lin = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def test_palette_has_30_clearly_different_colours_that_show_on_white():
    assert len(PALETTE) == 30 and len(set(PALETTE)) == 30
    lab = _srgb_to_lab(PALETTE)
    d = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert d.min() > 25  # CIE76: ~2.3 is just noticeable; 25+ reads as a different colour
    assert (np.linalg.norm(lab - _srgb_to_lab(["#ffffff"]), axis=1) > 20).all()
    assert cluster_colours(30) == list(PALETTE) and cluster_colours(32)[30:] == list(PALETTE[:2])


def _themed_vectors(seed=0):
    """Three themes; in each, a frequent word near the theme's centre, a rare word nearer still, and noise."""
    rng = np.random.default_rng(seed)
    themes = {"countries": ["france", "italy", "spain", "germany", "poland", "norway"],
              "animals": ["horse", "cow", "sheep", "goat", "pig", "duck"],
              "metals": ["iron", "copper", "silver", "gold", "zinc", "nickel"]}
    centres = {t: rng.normal(size=16) * 3 for t in themes}
    words, rows = [], []
    for t, ws in themes.items():
        for j, w in enumerate(ws):  # the first of each theme sits closest to the centre
            words.append(w)
            rows.append(centres[t] + rng.normal(size=16) * (0.2 + 0.15 * j))
    for t in themes:  # rare words right on the centre, and a stop word: neither should name a cluster
        words.append(f"rare{t}")
        rows.append(centres[t] + rng.normal(size=16) * 0.01)
    words.append("the")
    rows.append(centres["animals"] + rng.normal(size=16) * 0.01)
    order = [words.index(w) for w in ["the"] + [w for w in words if w != "the"]]  # "the" is the most frequent
    return [words[i] for i in order], np.array([rows[i] for i in order], dtype=np.float32)


def test_clusters_are_named_by_frequent_central_words():
    words, X = _themed_vectors()
    cl = name_clusters(X, words, 3, n_names=2)
    assert sorted(cl.sizes, reverse=True) == list(cl.sizes) and sum(cl.sizes) == len(words)
    assert cl.labels.max() == 2 and len(cl.names) == 3
    by_word = dict(zip(words, cl.labels))
    # each theme's frequent, central word names its cluster
    assert {c[0] for c in cl.central} == {"france", "horse", "iron"}
    for central in cl.central:
        assert len({by_word[w] for w in central}) == 1  # a name's words belong to its cluster
        assert not any(w.startswith("rare") or w == "the" for w in central)
    assert cl.names[cl.labels[words.index("horse")]].startswith("horse · ")
    np.testing.assert_array_equal(cl.labels, name_clusters(X, words, 3, n_names=2).labels)
    with pytest.raises(W2VError, match="between 1 and 50"):
        name_clusters(X, words, 51)


def test_k_as_large_as_30_gets_30_named_clusters():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=24) * 4 + rng.normal(size=(10, 24)) * 0.3 for _ in range(30)])
    words = [f"w{i:03d}" for i in range(len(X))]
    cl = name_clusters(X, words, 30)
    assert len(set(cl.labels)) == 30 and all(cl.names) and len(set(cl.names)) == 30


def test_density_peaks_where_points_crowd():
    rng = np.random.default_rng(2)
    xy = np.vstack([rng.normal(size=(400, 2)) * 0.3 + [2, 2], rng.uniform(-5, 5, size=(100, 2))])
    xs, ys, z = density_grid(xy, bins=60)
    assert z.shape == (60, 60) and len(xs) == len(ys) == 60 and z.max() == pytest.approx(1.0)
    r, c = np.unravel_index(np.argmax(z), z.shape)
    assert abs(xs[c] - 2) < 0.5 and abs(ys[r] - 2) < 0.5  # rows are y, columns x
    assert z[np.argmin(np.abs(ys + 4)), np.argmin(np.abs(xs + 4))] < 0.2
    _, _, z1 = density_grid(xy[:1])  # a single point still gives a grid
    assert np.isfinite(z1).all()


def _wv():
    words = ["the", "king", "queen", "prince", "paris", "france", "kings", "kong", "apple"]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(words), 8))
    X[[2, 3, 6]] = X[1] + rng.normal(size=(3, 8)) * 0.1  # queen, prince, kings sit next to king
    return WordVectors(words, X.astype(np.float32))


def test_search_adds_a_word_and_its_neighbours_to_the_map():
    wv = _wv()
    shown = ["the", "queen", "apple"]
    s = search_map(wv, " King ", shown, n=3)
    assert s.word == "king" and {w for w, _ in s.neighbours} == {"kings", "queen", "prince"}
    assert s.added == ("king",) + tuple(w for w, _ in s.neighbours if w != "queen")
    assert s.words == tuple(shown) + s.added and not s.suggestions
    on_map = search_map(wv, "queen", shown, n=2)  # already shown: found in place, the map keeps its words
    assert on_map.word == "queen" and on_map.added == () and on_map.words == tuple(shown)


def test_unknown_search_offers_spellings_closest_then_frequent():
    wv = _wv()
    s = search_map(wv, "kng", ["the"])
    assert s.word is None and s.words == ("the",) and s.added == ()
    assert s.suggestions[:2] == ("king", "kong")  # equally close: the more frequent first
    assert wv.suggest("KINGS")[:2] == ["kings", "king"]  # the word itself in lower case comes first
    with pytest.raises(W2VError, match="Type a word"):
        search_map(wv, "  ", [])


def test_health_tells_crowded_vectors_from_spread_out_ones():
    from w2v_core.explorer import health

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(500)]
    counts = np.arange(500)[::-1] + 1
    spread = health(WordVectors(words, rng.normal(size=(500, 20)).astype(np.float32), counts))
    assert abs(spread.mean_cosine) < 0.1 and spread.ok
    assert spread.rare_share == pytest.approx(9 / 500)
    crowded = health(WordVectors(words, (5 + rng.normal(size=(500, 20)) * 0.3).astype(np.float32), counts))
    assert crowded.mean_cosine > 0.9 and not crowded.ok and "more epochs" in crowded.advice


def test_clusters_on_the_map_are_regions_of_it():
    """On t-SNE/UMAP maps the page clusters the map's own coordinates: every word is nearer its cluster's centre
    on the plane than any other centre (a colour is a region), which full-space clusters are not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 16))
    coords = rng.normal(size=(300, 2))
    words = [f"w{i}" for i in range(300)]

    def regions(labels):
        centres = np.stack([coords[labels == c].mean(0) for c in range(labels.max() + 1)])
        return bool((np.argmin(((coords[:, None] - centres[None]) ** 2).sum(-1), axis=1) == labels).all())

    on_map = name_clusters(X, words, 6, on_map=coords)
    assert len(on_map.names) == 6 and regions(on_map.labels)
    assert not regions(name_clusters(X, words, 6).labels)
    assert on_map.sizes == tuple(sorted(on_map.sizes, reverse=True))  # still largest first, named from X
