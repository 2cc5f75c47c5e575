"""Memory at scale and the cost of the app's live progress.

    python benchmarks/bench_memory.py                      # both parts
    python benchmarks/bench_memory.py --part memory --seconds 60
    python benchmarks/bench_memory.py --part callback

Part "memory": a synthetic corpus of 20M tokens over a 200k-word vocabulary (Zipf-Mandelbrot frequencies, drawn
with numpy, documents of 1,000 tokens, min_count 1 so every drawn word is kept), trained with skip-gram (``--arch
cbow``: CBOW) for one epoch (or until ``--seconds``, stated in the output) on 2 threads, in its own process; prints
the peak RSS (``ru_maxrss``) of the whole run, corpus and vocabulary included. Target: under 2.5 GB.

Part "callback": the same trainer with and without the app's kind of progress callback (every report appended
to a list under a lock, as ``jobs.py`` does), alternated several times on one corpus in one process; prints
the median words/s of each and the overhead (on a busy machine the run-to-run noise is larger than the
effect, so the time spent inside the callback is printed too: a hard upper bound). Target: under 5%.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_corpus(n_tokens: int, n_words: int, doc_len: int = 1000, seed: int = 0):
    """Zipf-Mandelbrot word frequencies (p_r ~ 1 / (r + 2.7)), as in natural text; ids in int32 from the start."""
    import numpy as np

    from w2v_core.data.corpus import Corpus

    rng = np.random.default_rng(seed)
    p = 1.0 / (np.arange(n_words) + 2.7)
    cdf = np.cumsum(p / p.sum())
    ids = np.empty(n_tokens, dtype=np.int32)
    step = 1 << 22
    for a in range(0, n_tokens, step):  # in pieces, so the float64 draws never exist for all tokens at once
        b = min(a + step, n_tokens)
        ids[a:b] = np.minimum(np.searchsorted(cdf, rng.random(b - a)), n_words - 1)
    counts = np.bincount(ids, minlength=n_words).astype(np.int64)
    offsets = np.arange(0, n_tokens + doc_len, doc_len, dtype=np.int64)
    offsets[-1] = n_tokens
    words = [f"w{i}" for i in range(n_words)]
    return Corpus(ids, offsets, words, counts, name=f"synthetic {n_tokens:,} tokens")


def part_memory(args) -> dict:
    from w2v_core.models import ModelConfig
    from w2v_core.training import Trainer, TrainConfig

    t = time.perf_counter()
    corpus = synthetic_corpus(args.tokens, args.vocab)
    build_s = time.perf_counter() - t
    rss_corpus = rss_mb()
    stop = threading.Event()
    if args.seconds:
        class Cap:  # stops the run once it has trained for --seconds
            def on_train_begin(self, info):
                threading.Timer(args.seconds, stop.set).start()

            def on_batch_end(self, p): ...
            def on_epoch_end(self, *a): ...
            def on_train_end(self, r): ...
        cbs = [Cap()]
    else:
        cbs = []
    mc = ModelConfig(arch=args.arch, dim=100, window=5, negative=5, min_count=1, sample=1e-3)
    r = Trainer(corpus, mc, TrainConfig(epochs=1, threads=args.threads, device="cpu"), cbs, stop).train()
    s = r.summary
    return {"tokens": corpus.n_tokens, "vocab": s["vocab_size"], "epochs_done": s["epochs"],
            "stopped_by_time_cap": s["stopped"], "train_seconds": s["seconds"],
            "words_per_sec": s["words_per_sec"], "corpus_build_seconds": round(build_s, 1),
            "rss_after_corpus_mb": round(rss_corpus), "peak_rss_mb": round(rss_mb())}


def part_callback(args) -> dict:
    from w2v_core.models import ModelConfig
    from w2v_core.training import Callback, Trainer, TrainConfig

    class AppLike(Callback):
        """What the app's training job does with every report."""

        def __init__(self):
            self.lock, self.points, self.seconds = threading.Lock(), [], 0.0

        def on_batch_end(self, p):
            t = time.perf_counter()
            with self.lock:
                self.points.append({"fraction": p.fraction, "loss": p.loss, "smoothed": p.smoothed_loss,
                                    "words_per_sec": p.words_per_sec, "eta": p.eta, "lr": p.lr})
            self.seconds += time.perf_counter() - t

        def on_epoch_end(self, epoch, loss, p):
            with self.lock:
                self.points.append({"epoch": epoch, "loss": loss})

    corpus = synthetic_corpus(args.cb_tokens, args.cb_vocab, seed=1)
    mc = ModelConfig(arch=args.cb_arch, min_count=1)
    tc = TrainConfig(epochs=1, threads=args.threads, device="cpu")
    speeds: dict[str, list[float]] = {"plain": [], "app": []}
    reports, in_cb = 0, []
    for i in range(args.repeat):  # ABBA order, so that a drift in the machine's load cancels out
        for kind in (("plain", "app") if i % 2 == 0 else ("app", "plain")):
            cb = AppLike()
            r = Trainer(corpus, mc, tc, [cb] if kind == "app" else []).train()
            speeds[kind].append(r.summary["words_per_sec"])
            if kind == "app":
                reports = len(cb.points)
                in_cb.append(cb.seconds / r.summary["seconds"])
    # pairwise ratios (each pair ran back to back under the same load), then the median
    ratios = sorted(a / p for p, a in zip(speeds["plain"], speeds["app"]))
    med = ratios[len(ratios) // 2]
    return {"tokens": corpus.n_tokens, "arch": args.cb_arch, "runs_each": args.repeat,
            "plain_words_per_sec": [round(x) for x in speeds["plain"]],
            "app_words_per_sec": [round(x) for x in speeds["app"]], "reports_per_run": reports,
            "median_ratio_app_to_plain": round(med, 4), "overhead_pct": round((1 - med) * 100, 2),
            "time_in_callback_pct": round(max(in_cb) * 100, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["memory", "callback", "both"], default="both")
    ap.add_argument("--tokens", type=int, default=20_000_000)
    ap.add_argument("--vocab", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=0, help="stop the memory run after this long (0 = one epoch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--arch", choices=["skipgram", "cbow"], default="skipgram", help="the memory part's architecture")
    ap.add_argument("--cb-tokens", type=int, default=2_000_000)
    ap.add_argument("--cb-vocab", type=int, default=50_000)
    ap.add_argument("--cb-arch", choices=["skipgram", "cbow"], default="skipgram")
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--child", choices=["memory", "callback"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = part_memory(args) if args.child == "memory" else part_callback(args)
        print(json.dumps(out))
        return
    parts = ["memory", "callback"] if args.part == "both" else [args.part]
    for part in parts:  # each in its own process, so the peak RSS is that part's own
        cmd = [sys.executable, os.path.abspath(__file__), "--child", part] + sys.argv[1:]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            raise SystemExit(f"{part} failed")
        res = json.loads(p.stdout.strip().splitlines()[-1])
        if part == "memory":
            cap = (f"stopped after {res['train_seconds']:.0f}s ({res['epochs_done']} of the epoch)"
                   if res["stopped_by_time_cap"] else f"one full epoch in {res['train_seconds']:.0f}s")
            print(f"memory: {res['tokens']:,} tokens, {res['vocab']:,} words, {args.arch}, {cap}, "
                  f"{res['words_per_sec']:,.0f} words/s; RSS after building the corpus {res['rss_after_corpus_mb']:,} MB, "
                  f"peak RSS {res['peak_rss_mb']:,} MB (target < 2,500 MB)")
        else:
            print(f"callback: {res['tokens']:,} tokens {res['arch']}, {res['runs_each']} runs each, "
                  f"{res['reports_per_run']} reports per run; words/s plain {res['plain_words_per_sec']} vs app-style "
                  f"{res['app_words_per_sec']}; median ratio {res['median_ratio_app_to_plain']:.3f} "
                  f"(overhead {res['overhead_pct']:.1f}%, target < 5%); time inside the callback "
                  f"{res['time_in_callback_pct']:.3f}% of training")
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
