"""Issue 22's bar on the whole sample: 5 epochs then 5 more (two runs) against one 10-epoch run.

For each architecture and seed s: one 10-epoch run (seed s), one 5-epoch run (seed s, saved), then that model
continued for 5 more epochs at each asked starting rate (a share of the parent's starting rate, or ``default``: what
``continuation.child_lr`` picks). The continued run uses the parent's seed by default, so its draws are those of
epochs 6-10 of the 10-epoch run (``--child-seed other`` uses s + 1000). Printed: WordSim353 (Spearman) and the final
epoch's loss of each run, and per rate the mean over the seeds against the 10-epoch mean (the issue's bar: within
0.02 and within 2%).

    python benchmarks/bench_continue.py                                   # both archs, 3 seeds, default + 1/2 + 3/4
    python benchmarks/bench_continue.py --arch cbow --seeds 5 --rates default,0.5,0.75,0.9
    python benchmarks/bench_continue.py --corpus lee --dim 50 --json out.json

About 5 minutes on two quiet cores for the defaults (Skip-gram ~3 s an epoch on the sample, CBOW ~0.7 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from w2v_core.continuation import continue_trainer  # noqa: E402
from w2v_core.data.corpus import CorpusConfig  # noqa: E402
from w2v_core.data.loader import load_corpus  # noqa: E402
from w2v_core.evaluation import evaluate_pairs  # noqa: E402
from w2v_core.models import ModelConfig  # noqa: E402
from w2v_core.training import DEFAULT_LR, TrainConfig, Trainer  # noqa: E402

WS_BAR, LOSS_BAR = 0.02, 0.02


def _row(kind: str, seed: int, result, started: float) -> dict:
    return {"kind": kind, "seed": seed, "ws353": evaluate_pairs(result.vectors, table=False)["spearman"],
            "loss": result.summary["final_loss"], "lr": result.train_config.lr, "seconds": time.time() - started,
            "retries": result.summary["lr_retries"]}


def run_arch(corpus, arch: str, args, folder: Path) -> list[dict]:
    """The runs of one architecture: per seed, ten, five, and five more at each rate."""
    mc = ModelConfig(arch=arch, dim=args.dim)
    rows = []
    for s in range(1, args.seeds + 1):
        t0 = time.time()
        rows.append(_row("10 epochs", s, Trainer(corpus, mc, TrainConfig(epochs=10, threads=args.threads,
                                                                          seed=s)).train(), t0))
        t0 = time.time()
        five = Trainer(corpus, mc, TrainConfig(epochs=5, threads=args.threads, seed=s)).train()
        rows.append(_row("5 epochs", s, five, t0))
        path = five.save(folder / f"{arch}-{s}")
        child_seed = s if args.child_seed == "same" else s + 1000
        for rate in args.rates:
            lr = None if rate == "default" else float(rate) * DEFAULT_LR[arch]
            t0 = time.time()
            tc = TrainConfig(epochs=5, threads=args.threads, seed=child_seed, lr=lr)
            more = continue_trainer(path, corpus, None, tc).train()
            rows.append(_row(f"5 + 5 at {rate}", s, more, t0))
            r = rows[-1]
            print(f"  {arch} seed {s}, {r['kind']}: WS353 {r['ws353']:.4f}, loss {r['loss']:.4f}", file=sys.stderr,
                  flush=True)
    return rows


def table(arch: str, rows: list[dict]) -> str:
    """One markdown table: per kind of run, WordSim353 and loss per seed, their means, the gaps to 10 epochs."""
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    mean = {k: {m: sum(r[m] for r in rows if r["kind"] == k) / len(seeds) for m in ("ws353", "loss")}
            for k in kinds}
    ref = mean["10 epochs"]
    head = ("| " + arch + " | start rate | " + " | ".join(f"WS353 seed {s}" for s in seeds)
            + " | WS353 mean | gap | final loss mean | gap | bar |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for k in kinds:
        by = {r["seed"]: r for r in rows if r["kind"] == k}
        dws, dloss = mean[k]["ws353"] - ref["ws353"], mean[k]["loss"] / ref["loss"] - 1
        bar = "" if not k.startswith("5 + 5") else (
            "met" if abs(dws) <= WS_BAR and abs(dloss) <= LOSS_BAR else "missed")
        out.append(f"| {k} | {by[seeds[0]]['lr']:g} | " + " | ".join(f"{by[s]['ws353']:.4f}" for s in seeds)
                   + f" | {mean[k]['ws353']:.4f} | {dws:+.4f} | {mean[k]['loss']:.4f} | {dloss:+.2%} | {bar} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=["skipgram", "cbow", "both"], default="both")
    ap.add_argument("--corpus", default="sample")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rates", default="default,0.5,0.75",
                    help="starting rates of the continued run, as shares of a fresh run's, or 'default'")
    ap.add_argument("--child-seed", choices=["same", "other"], default="same")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    args.rates = [r.strip() for r in args.rates.split(",") if r.strip()]
    corpus = load_corpus(CorpusConfig(source=args.corpus))
    print(f"{args.corpus}: {corpus.n_tokens:,} tokens; dim {args.dim}, {args.threads} threads, {args.seeds} seeds, "
          f"continued runs seeded {'as their parent' if args.child_seed == 'same' else 'seed + 1000'}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for arch in (["skipgram", "cbow"] if args.arch == "both" else [args.arch]):
            results[arch] = run_arch(corpus, arch, args, Path(tmp))
            print("\n" + table(arch, results[arch]) + "\n", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
