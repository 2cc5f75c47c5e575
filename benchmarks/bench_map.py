"""How long the Map page's computations take on real vectors: PCA, UMAP, t-SNE, a cached view, the animation.

    python benchmarks/bench_map.py                 # trains a model on the bundled `sample` corpus first (~10 s)
    python benchmarks/bench_map.py --model models/my-model --repeat 3

Targets (issue 13, 2-core machines): PCA map of 5,000 words < 2 s, UMAP of 5,000 < 20 s, t-SNE of 3,000 < 30 s
with progress shown, a cached view back < 0.5 s; and what a 50,000-word map costs before the browser draws it
(benchmarks/bench_map_browser.py measures the browser's side). Each figure is the median of --repeat runs (wall clock), except the "first call"
rows, which run once in a fresh Python process (imports and numba compilation included, as a new server pays;
for UMAP once with an empty numba cache, as on a new machine, and once with the cache that run left).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402,F401  (loaded as in the app: it changes how threaded libraries behave)

from w2v_core import explorer, projection  # noqa: E402
from w2v_core.store import load_model  # noqa: E402


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def train_sample(folder: Path) -> tuple[Path, dict]:
    """A skip-gram model of the bundled corpus, with a snapshot recorder (its cost is measured too)."""
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus
    from w2v_core.models import ModelConfig
    from w2v_core.snapshots import SnapshotRecorder, save_snapshots
    from w2v_core.training import TrainConfig, Trainer

    corpus = load_corpus(CorpusConfig(source="sample"))
    rec = SnapshotRecorder()
    spent = [0.0]

    def clocked(method):
        def call(*a):
            t = time.perf_counter()
            method(*a)
            spent[0] += time.perf_counter() - t
        return call

    for name in ("on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end"):
        setattr(rec, name, clocked(getattr(rec, name)))

    r = Trainer(corpus, ModelConfig(dim=100, window=5, min_count=5), TrainConfig(epochs=5, threads=2, seed=1),
                [rec]).train()
    path = r.save(folder / "bench-map-model", name="bench-map")
    snaps = rec.snapshots()
    save_snapshots(path, snaps)
    return path, {"train_s": r.summary["seconds"], "recorder_s": spent[0], "snapshots": len(snaps),
                  "snapshot_words": len(snaps.words)}


FIRST_CALL = """
import sys, time, json
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import torch
from w2v_core import projection
from w2v_core.store import load_model
wv = load_model({model!r}).vectors
t = time.perf_counter()
projection.project_map(wv, wv.words[:{n}], {method!r}, 2)
print(json.dumps({{"seconds": time.perf_counter() - t}}))
"""


def first_call(model: Path, method: str, n: int, numba_cache: str | None = None) -> float:
    """Seconds of the first ``project_map`` in a new process (``numba_cache``: a folder for numba's cache)."""
    code = FIRST_CALL.format(root=str(ROOT), model=str(model), method=method, n=n)
    env = dict(os.environ, **({"NUMBA_CACHE_DIR": numba_cache} if numba_cache else {}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def big_map(folder: Path, R: int) -> list[tuple[str, float, str]]:
    """A 50,000-word map end to end, on made-up vectors (the bundled corpus has ~9,000 words): what the page
    computes before the browser gets the figure, and how big that figure is."""
    import plotly.io

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import make_model

    from ui import map_view

    wv = load_model(make_model(folder, n=60_000, k=40, dim=100, name="big")).vectors
    words = wv.words[:50_000]
    out = []
    s, pmap = timed(lambda: projection.project_map(wv, words, "pca", 2), R)
    out.append(("PCA 50,000 words, 2-D", s, ""))
    s, _ = timed(lambda: projection.project_map(wv, words, "pca", 3), R)
    out.append(("PCA 50,000 words, 3-D", s, ""))
    pr = explorer.label_priorities(words, wv.counts[:50_000])
    s, labels = timed(lambda: map_view.label_indices(pmap.coords, words, pr, map_view.Highlights(), 40), R)
    out.append(("  + labels (40 of 50,000)", s, ""))
    s, cl = timed(lambda: explorer.name_clusters(wv.vectors[:50_000], words, 12, pr), R)
    out.append(("  + k-means k=12 (mini-batch), named", s, ""))
    colouring = map_view.Colouring("clusters", cl)
    s, fig = timed(lambda: map_view.map_figure(words, pmap.coords, pmap.axis_titles, colouring, labels,
                                               map_view.Highlights()), R)
    out.append(("  + the Plotly figure (12 WebGL traces, 40 names)", s, ""))
    s, spec = timed(lambda: plotly.io.to_json(fig, validate=False), R)
    out.append((f"  + its JSON for the browser ({len(spec) / 1e6:.2f} MB)", s, ""))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="a model folder (default: train one on the bundled sample corpus)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-sklearn", action="store_true", help="do not time scikit-learn's t-SNE (slow)")
    ap.add_argument("--no-big", dest="big", action="store_false", help="skip the 50,000-word map (made-up vectors)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    tmp = tempfile.TemporaryDirectory()
    extra = {}
    if args.model:
        model = Path(args.model)
    else:
        model, extra = train_sample(Path(tmp.name))
    wv = load_model(model).vectors
    print(f"model: {model.name}, {len(wv):,} words x {wv.dim} dims")
    rows: list[tuple[str, float, str]] = []
    R = args.repeat
    w5k, w3k = wv.words[:5000], wv.words[:3000]

    rows.append(("PCA 5,000 words: first call, fresh process", first_call(model, "pca", 5000), "< 2 s"))
    s, pmap = timed(lambda: projection.project_map(wv, w5k, "pca", 2), R)
    rows.append(("PCA 5,000 words: project_map", s, "< 2 s"))
    pr = explorer.label_priorities(w5k, wv.counts[:5000])
    s, _ = timed(lambda: explorer.choose_labels(pmap.coords, pr, w5k, 40), R)
    rows.append(("  + labels (40 of 5,000)", s, ""))
    X5 = wv.vectors[:5000]
    s, _ = timed(lambda: explorer.name_clusters(X5, w5k, 12, pr), R)
    rows.append(("  + k-means k=12, named", s, ""))
    s, _ = timed(lambda: explorer.name_clusters(X5, w5k, 30, pr), R)
    rows.append(("  + k-means k=30, named", s, ""))
    s, _ = timed(lambda: explorer.density_grid(pmap.coords), R)
    rows.append(("  + density grid 80x80", s, ""))
    s, _ = timed(lambda: projection.project_map(wv, wv.words[:50_000], "pca", 3), R)
    rows.append((f"PCA {min(len(wv), 50_000):,} words, 3-D", s, ""))

    cache = str(Path(tmp.name) / "numba-cache")  # empty: as on a new machine
    rows.append(("UMAP 5,000 words: first call, fresh process, no numba cache", first_call(model, "umap", 5000, cache),
                 "< 20 s"))
    rows.append(("UMAP 5,000 words: first call, fresh process, numba cache filled",
                 first_call(model, "umap", 5000, cache), "< 20 s"))
    s, _ = timed(lambda: projection.project_map(wv, w5k, "umap", 2), R)
    rows.append(("UMAP 5,000 words: later calls", s, "< 20 s"))

    rows.append(("t-SNE 3,000 words: first call, fresh process", first_call(model, "tsne", 3000), "< 30 s"))
    reports: list[float] = []
    t0 = time.perf_counter()
    s, _ = timed(lambda: projection.project_map(wv, w3k, "tsne", 2,
                                                progress=lambda f, m: reports.append(time.perf_counter() - t0)), R)
    rows.append((f"t-SNE 3,000 words: later calls ({projection.tsne_backend()})", s, "< 30 s"))
    gaps = np.diff([0.0] + reports[: len(reports) // R])
    rows.append((f"  progress reports per run: {len(reports) // R}, longest gap between two", float(gaps.max()), ""))
    if not args.skip_sklearn:
        from sklearn.manifold import TSNE

        Xn = projection.prepare_rows(wv.vectors[:3000])
        s, _ = timed(lambda: TSNE(2, perplexity=30, max_iter=1000, init="pca", learning_rate="auto", random_state=0,
                                  n_jobs=1).fit_transform(Xn), 1)
        rows.append(("t-SNE 3,000 words: scikit-learn (the fallback), once", s, ""))

    # a cached view: the Map page's own st.cache_data functions (keyed by the model's stamp, a digest of the words
    # and the MapKnobs), called bare: a hit costs the key, a cache lookup and unpickling the result
    import logging

    from ui import map_view
    from w2v_core import store

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("streamlit")] + ["streamlit"]:
        logging.getLogger(name).setLevel(logging.ERROR)  # "no runtime" warnings: we call the page's functions bare
    stamp = store.mtime_stamp(model)
    for name, n, method in (("UMAP", 5000, "umap"), ("PCA", min(len(wv), 50_000), "pca")):
        knobs, words = projection.map_knobs(method, 2), wv.words[:n]
        map_view.projected(str(model), stamp, words, knobs)
        s, _ = timed(lambda: map_view.projected(str(model), stamp, words, knobs), max(R, 5))
        rows.append((f"cached {name} view of {n:,} words (the page's st.cache_data hit)", s, "< 0.5 s"))
    map_view.clusters(str(model), stamp, map_view.words_key(w5k), 12, tuple(w5k))
    s, _ = timed(lambda: map_view.clusters(str(model), stamp, map_view.words_key(w5k), 12, tuple(w5k)), max(R, 5))
    rows.append(("  + its clusters, cached (k=12 of 5,000)", s, ""))

    if args.big:
        rows += big_map(Path(tmp.name), R)

    from w2v_core.snapshots import frame_coords, frame_neighbours, load_snapshots

    snaps = load_snapshots(model)
    if snaps is not None:
        s, _ = timed(lambda: frame_coords(snaps, "pca", 2), R)
        rows.append((f"animation: {len(snaps)} frames x {len(snaps.words):,} words, PCA", s, ""))
        s, _ = timed(lambda: frame_coords(snaps, "umap", 2), 1)
        rows.append((f"animation: {len(snaps)} frames x {len(snaps.words):,} words, UMAP, once", s, ""))
        s, _ = timed(lambda: frame_neighbours(snaps, list(snaps.words[100:105]), 10), R)
        rows.append(("animation: neighbours of 5 words in every frame", s, ""))
    if extra:
        rows.append((f"training the sample model ({extra['snapshots']} snapshots of {extra['snapshot_words']:,} words "
                     f"kept)", extra["train_s"], ""))
        rows.append(("  of which the snapshot recorder", extra["recorder_s"], ""))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{width}}  {'seconds':>8}  target")
    for what, sec, target in rows:
        print(f"{what:<{width}}  {sec:8.3f}  {target}")
    la = os.getloadavg()
    print(f"\nload average after: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
