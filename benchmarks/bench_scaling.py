"""Does training scale with the hardware? Ours against gensim at 1, 2, 4, 8, 16 threads, and a GPU row.

    python benchmarks/bench_scaling.py                                   # bundled sample, threads up to the cores
    python benchmarks/bench_scaling.py --corpus sample --corpus lee --corpus FILE --min-tokens 10000000
    python benchmarks/bench_scaling.py --threads 2,4,8,16 --gpu-batch 16384,65536 --json out.json

One table: for each thread count, gensim (``workers``) and ours (``threads``) on exactly the same tokens and knobs
(``bench_vs_gensim.py``'s corpus writer and child runs: every run is its own process), words/s, our speed as a
ratio of gensim's, WordSim353 and SimLex-999 of both (gensim's evaluators), our final loss (an untrained model
scores about 4.16 with k = 5) and our batch size. When CUDA is present, GPU rows follow (ours only: gensim has
no GPU), one per ``--gpu-batch``. ``--min-tokens`` repeats the corpus until it holds that many tokens (the real
text we can ship is under a million tokens; a repeat is a pass over the same text, like another epoch).
Thread counts above the cores this process may use are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_vs_gensim as bvg  # noqa: E402  (the same corpus writer and child runs)

from w2v_core.training import default_threads  # noqa: E402  (the cores this process may use)


def repeat_tokens(path: str, min_tokens: int, info: dict) -> dict:
    """Append the file to itself until it holds at least ``min_tokens`` tokens."""
    if min_tokens <= info["tokens"]:
        return info
    times = -(-min_tokens // max(info["tokens"], 1))
    tmp = path + ".rep"
    with open(tmp, "w", encoding="utf-8") as out:
        for _ in range(times):
            with open(path, encoding="utf-8") as f:
                shutil.copyfileobj(f, out)
    os.replace(tmp, path)
    return {"tokens": info["tokens"] * times, "documents": info["documents"] * times, "repeats": times}


def run(base: list[str], who: str, arch: str, extra: list[str]) -> dict | None:
    try:
        return bvg.run_child(base + extra, who, arch)
    except SystemExit as e:  # a failed run is a row that says so, not the end of the table
        print(f"  {arch} {who} {' '.join(extra)}: FAILED ({e})", flush=True)
        return None


def fmt(r: dict | None, key: str, spec: str) -> str:
    return "-" if r is None or r.get(key) is None else format(r[key], spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help="built-in name or text file (repeat to concatenate)")
    ap.add_argument("--min-tokens", type=int, default=0, help="repeat the corpus up to at least this many tokens")
    ap.add_argument("--threads", default="1,2,4,8,16", help="comma-separated thread counts (capped at the cores)")
    ap.add_argument("--arch", action="append", choices=["skipgram", "cbow"], help="default: both")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--gpu-batch", default="", help="GPU rows: comma-separated batch sizes (default: ours)")
    ap.add_argument("--no-gpu", action="store_true")
    ap.add_argument("--no-gensim", action="store_true")
    ap.add_argument("--gensim-threads", default="", help="run gensim only at these thread counts (default: all)")
    ap.add_argument("--gpu-first", action="store_true", help="each architecture's GPU rows before its CPU rows")
    ap.add_argument("--update", default="bounded", help="ours: bounded | sum (word2vec's plain step)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()

    import torch

    n_cores = default_threads()
    threads = [t for t in (int(x) for x in args.threads.split(",") if x.strip()) if t <= n_cores]
    gpu = torch.cuda.is_available() and not args.no_gpu
    gpu_batches = [int(x) for x in args.gpu_batch.split(",") if x.strip()] or [0]
    sources = args.corpus or ["sample"]
    archs = args.arch or ["skipgram", "cbow"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tok = os.path.join(tmp, "tokens.txt")
        t0 = time.perf_counter()
        info = repeat_tokens(tok, args.min_tokens, bvg.write_tokens(sources, False, tok))
        device = torch.cuda.get_device_name(0) if gpu else "no GPU"
        print(f"corpus {'+'.join(sources)}: {info['tokens']:,} tokens ({info.get('repeats', 1)}x), "
              f"{time.perf_counter() - t0:.1f}s to write; {n_cores} cores; {device}; epochs {args.epochs}",
              flush=True)
        base = ["--tokens", tok, "--epochs", str(args.epochs)]
        with_gensim = {int(x) for x in args.gensim_threads.split(",") if x.strip()} or set(threads)

        def cpu_rows(arch):
            for t in threads:
                g = None if args.no_gensim or t not in with_gensim else run(base + ["--threads", str(t)], "gensim", arch, [])
                o = run(base + ["--threads", str(t)], "ours", arch, ["--device", "cpu", "--update", args.update])
                rows.append({"arch": arch, "where": f"cpu x{t}", "threads": t, "gensim": g, "ours": o})
                print(f"  {arch} {t} threads: gensim {fmt(g, 'words_per_sec', ',')} ours {fmt(o, 'words_per_sec', ',')}"
                      f" words/s", flush=True)

        def gpu_rows(arch):
            for b in gpu_batches if gpu else []:
                extra = ["--device", "cuda", "--update", args.update] + (["--batch-size", str(b)] if b else [])
                o = run(base + ["--threads", "1"], "ours", arch, extra)
                rows.append({"arch": arch, "where": "gpu", "threads": None, "gensim": None, "ours": o})
                print(f"  {arch} GPU batch {fmt(o, 'batch_size', ',')}: {fmt(o, 'words_per_sec', ',')} words/s",
                      flush=True)

        for arch in archs:
            for part in ((gpu_rows, cpu_rows) if args.gpu_first else (cpu_rows, gpu_rows)):
                part(arch)
    best_gensim = {a: max((r["gensim"]["words_per_sec"] for r in rows if r["arch"] == a and r["gensim"]),
                          default=None) for a in archs}
    print()
    print(f"{'arch':9s} {'where':10s} {'gensim w/s':>11s} {'ours w/s':>11s} {'ratio':>7s} {'WS353 g/o':>13s} "
          f"{'SimLex g/o':>13s} {'loss':>7s} {'batch':>7s}")
    for r in rows:
        g, o = r["gensim"], r["ours"]
        ref = g["words_per_sec"] if g else best_gensim.get(r["arch"])  # a GPU row: against gensim's best CPU row
        ratio = o["words_per_sec"] / ref if o and ref else None
        r["ratio"] = ratio
        note = "" if g or not ref else " (vs gensim's best)"
        print(f"{r['arch']:9s} {r['where']:10s} {fmt(g, 'words_per_sec', ','):>11s} {fmt(o, 'words_per_sec', ','):>11s} "
              f"{(f'{ratio:.2f}x' if ratio else '-'):>7s} {fmt(g, 'ws353', '.3f'):>6s}/{fmt(o, 'ws353', '.3f'):<6s} "
              f"{fmt(g, 'simlex', '.3f'):>6s}/{fmt(o, 'simlex', '.3f'):<6s} {fmt(o, 'final_loss', '.3f'):>7s} "
              f"{fmt(o, 'batch_size', ''):>7s}{note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"corpus": sources, "info": info, "cores": n_cores, "device": device, "args": vars(args),
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
