"""A/B of the CPU's hierarchical-softmax step (``hsoftmax.cbow_tree_step``) between two revisions, on real batches.

Whole training runs on a shared 2-core machine move +-10% from run to run (and gensim's with them), which hides a
change worth 2-5%. This script instead captures a few real batches of one training run (the sample corpus, or a
token file), then times the scripted step of revision A and of revision B on the very same batches, alternately,
in one process, and prints the minimum and median of each and whether both made the same tables::

    python benchmarks/ab_step.py --a HEAD~1                      # HEAD~1 against the working tree
    python benchmarks/ab_step.py --a 09775d1 --b HEAD --arch cbow --batch-size 4096 --tokens tokens.txt

Revision A (and B, when given) is unpacked with ``git archive`` into a temporary folder; the working tree is used
as it is. Both revisions' steps must take the same arguments (the captured ones).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fail(msg: str) -> None:
    print(f"ab_step: {msg}", file=sys.stderr)
    raise SystemExit(2)


def _unpack(rev: str, into: str) -> str:
    dest = os.path.join(into, rev.replace("/", "_").replace("~", "-"))
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "w2v_core"], capture_output=True)
    if archive.returncode != 0:
        _fail(f"cannot read revision {rev!r}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", dest], input=archive.stdout, check=True)
    return dest


def _load_step(root: str):
    """The scripted ``cbow_tree_step`` of the w2v_core under ``root`` (imported afresh)."""
    import torch

    for name in [m for m in sys.modules if m == "w2v_core" or m.startswith("w2v_core.")]:
        del sys.modules[name]
    sys.path.insert(0, root)
    try:
        import w2v_core.hsoftmax as hs
    finally:
        sys.path.pop(0)
    if not hasattr(hs, "cbow_tree_step"):
        _fail(f"{root} has no hsoftmax.cbow_tree_step")
    return torch.jit.script(hs.cbow_tree_step)


def _capture(args) -> list:
    """Deep copies of the arguments of a few of the step's calls in one epoch of real training (eager, so that the
    Python-level function is the one called)."""
    os.environ["W2V_TORCHSCRIPT"] = "0"
    sys.path.insert(0, ROOT)
    import w2v_core.hsoftmax as hs
    from w2v_core.data.corpus import CorpusConfig, from_documents
    from w2v_core.data.loader import load_corpus
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    if args.tokens:
        if not os.path.isfile(args.tokens):
            _fail(f"no token file {args.tokens!r}")
        with open(args.tokens, encoding="utf-8") as f:
            corpus = from_documents((line.split() for line in f), name="ab")
    else:
        corpus = load_corpus(CorpusConfig(source="sample"))
    real = hs.cbow_tree_step
    calls = []
    every = max(1, args.every)

    def spy(*a):
        centres = a[1].starts.shape[0]  # the batch's centres (Skip-gram's examples are its pairs)
        spy.full = spy.full or centres
        if centres == spy.full:  # a full batch, not a chunk's last
            if len(calls) < args.batches and spy.n % every == every - 1:
                calls.append(copy.deepcopy(a))
            spy.n += 1
        return real(*a)

    spy.n, spy.full = 0, 0
    hs.cbow_tree_step = spy
    Trainer(corpus, ModelConfig(arch=args.arch, loss="hs"),
            TrainConfig(epochs=1, threads=1, batch_size=args.batch_size, seed=1)).train()
    hs.cbow_tree_step = real
    sys.path.pop(0)
    if not calls:
        _fail("the run made no sparse hierarchical-softmax step (too small a corpus?)")
    return calls


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, help="revision A (git)")
    p.add_argument("--b", default=None, help="revision B (default: the working tree)")
    p.add_argument("--arch", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--batch-size", type=int, default=None, help="default: the trainer's for one thread")
    p.add_argument("--tokens", default=None, help="a token file, one document a line (default: the sample corpus)")
    p.add_argument("--batches", type=int, default=3, help="real batches to time")
    p.add_argument("--every", type=int, default=50, help="capture every n-th full batch")
    p.add_argument("--reps", type=int, default=40, help="alternations per batch")
    args = p.parse_args(argv)
    if args.reps < 1 or args.batches < 1:
        _fail("--reps and --batches must be at least 1")
    import torch

    torch.set_num_threads(1)
    calls = _capture(args)
    with tempfile.TemporaryDirectory() as tmp:
        roots = {"A": _unpack(args.a, tmp), "B": _unpack(args.b, tmp) if args.b else ROOT}
        steps = {k: _load_step(r) for k, r in roots.items()}
        print(f"A = {args.a}, B = {args.b or 'working tree'}; {args.arch}, {len(calls)} real batches, "
              f"{args.reps} alternations each, one thread")
        for i, call in enumerate(calls):
            times: dict[str, list[float]] = {"A": [], "B": []}
            tables = {}
            for _ in range(args.reps):
                for k, step in steps.items():
                    a = copy.deepcopy(call)
                    step(*a)  # warm (and the first call's tables, below)
                    tables[k] = a[0]
                    a = copy.deepcopy(call)
                    t = time.perf_counter()
                    step(*a)
                    times[k].append(time.perf_counter() - t)
            same = all(torch.allclose(x, y, rtol=1e-4, atol=1e-5) for x, y in zip(tables["A"], tables["B"]))
            cells = []
            for k in ("A", "B"):
                ts = sorted(times[k])
                cells.append(f"{k} {1e3 * ts[0]:.3f} ms min, {1e3 * ts[len(ts) // 2]:.3f} median")
            ratio = min(times["B"]) / min(times["A"])
            examples, centres = call[1].centres.shape[0], call[1].starts.shape[0]
            print(f"batch {i + 1} ({centres} centres, {examples} examples): {'; '.join(cells)}; B/A {ratio:.3f} (min); "
                  f"same tables: {same}")


if __name__ == "__main__":
    main()
