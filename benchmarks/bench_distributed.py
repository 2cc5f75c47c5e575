"""Distributed training on one machine: 1, 2, 4 ... torchrun ranks (gloo) on the same total tokens.

    python benchmarks/bench_distributed.py                                  # sample, 1,2,4 ranks x 1 thread, 5 epochs
    python benchmarks/bench_distributed.py --procs 1,2 --epochs 5 --threads-per-proc 1 --json out.json
    python benchmarks/bench_distributed.py --corpus FILE --sync-every 200000 --plain-threads ""

Every row is one run as a user starts it: ``torchrun --nproc_per_node N -m w2v_core train --distributed ...``
(``w2v_core/distributed.py``; here torchrun runs this file's ``--worker``, which calls the same CLI ``main``),
plus "plain" rows: one ordinary process without ``--distributed`` at ``--plain-threads`` threads. ``--epochs``
counts passes by all ranks together, so every row trains the same total tokens. Per row: words/s (all ranks'
words / seconds of the training loop, rank 0's summary), WordSim353 Spearman of rank 0's model folder
(``w2v_core.evaluation.evaluate_pairs``), the final loss, and the sync volume.

The sync volume is counted two ways:

* **computed**: what ``DistributedPool._sync`` hands to ``all_reduce`` each sync is the whole of every table
  (``w_in``, ``w_out`` and ``out_bias`` if any): ``SyncStats.payload_bytes``, in the model folder's summary. A ring
  all-reduce (gloo's algorithm) sends 2 (N - 1) / N times that from every rank (``sync_sent_bytes_ring``).
* **measured**: the worker wraps ``distributed.collective`` and reads the kernel's count of bytes this process
  passed to write calls (``wchar`` in ``/proc/self/io``; gloo writes its TCP sockets with ``writev``) before and after
  each collective, so it counts what each rank actually wrote to its sockets for the table all-reduces, apart from
  the 4-number all-reduce of losses and flags each sync, the start's broadcast and the barriers (Linux only;
  elsewhere the measured columns are empty).

Bytes per second per rank = the measured table bytes of a rank / the run's training seconds. Syncs happen every
``--sync-every`` words per rank (default 50,000), so the sync count grows with the ranks' share of the corpus.

Time: on 2 shared cores with the defaults (the bundled sample, 465k tokens x 5 epochs, dim 100, 1 thread a rank)
about 2-4 minutes in all, most of it starting Python and torch in every rank. ``--procs 4`` on a 2-core machine
runs 4 ranks on 2 cores: oversubscribed, so its words/s show the cost of the ranks sharing cores, not scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def wchar() -> int | None:
    """Bytes this process (all its threads) passed to write calls, sockets included; None off Linux."""
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def op_name(fn, args: tuple) -> str:
    """A collective's row in the counts: the table all-reduces apart from the small one of losses and flags."""
    name = getattr(fn, "__name__", str(fn))
    if name == "all_reduce" and args:
        return "all_reduce_tables" if args[0].numel() > 4 else "all_reduce_flags"
    return name


def worker(rank_dir: str, argv: list[str]) -> int:
    """One rank under torchrun: the CLI's ``main`` with every collective counted; writes ``rank<R>.json``."""
    from w2v_core import distributed
    from w2v_core.__main__ import main

    ops: dict[str, dict] = {}
    seen: dict = {}
    plain = distributed.collective

    def counted(ctx, fn, *args, **kw):
        before, t0 = wchar(), time.perf_counter()
        try:
            return plain(ctx, fn, *args, **kw)
        finally:
            after = wchar()
            row = ops.setdefault(op_name(fn, args), {"calls": 0, "input_bytes": 0, "written_bytes": 0, "seconds": 0.0})
            row["calls"] += 1
            if args and hasattr(args[0], "numel"):
                row["input_bytes"] += args[0].numel() * args[0].element_size()
            if before is not None and after is not None:
                row["written_bytes"] += after - before
            row["seconds"] += time.perf_counter() - t0
            seen["ctx"] = ctx

    distributed.collective = counted  # DistributedPool and DistContext look it up in the module at each call
    rc = main(argv)
    ctx = seen.get("ctx")
    out = {"rank": int(os.environ.get("RANK", "0")), "rc": rc, "ops": ops, "measured": wchar() is not None,
           "stats": ctx.stats.as_dict(ctx.world) if ctx is not None else None}
    with open(os.path.join(rank_dir, f"rank{out['rank']}.json"), "w") as f:
        json.dump(out, f)
    return rc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary_line(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError("no summary line in the run's output")
    return json.loads(lines[-1])


def ws353(model_dir: str) -> float | None:
    from w2v_core.evaluation import evaluate_pairs
    from w2v_core.store import load_model

    sp = evaluate_pairs(load_model(model_dir).vectors, "wordsim353", table=False)["spearman"]
    return None if sp is None else round(float(sp), 4)


def run_row(procs: int, threads: int, train: list[str], work: str, timeout: float) -> dict:
    """One run: ``procs`` torchrun ranks (0 = one plain process without --distributed) of ``threads`` each."""
    tag = f"n{procs}t{threads}"
    out, rank_dir = os.path.join(work, tag), os.path.join(work, tag + "-ranks")
    os.makedirs(rank_dir)
    args = ["train", *train, "--threads", str(threads), "--out", out, "--quiet"]
    if procs:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(procs),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), os.path.abspath(__file__),
               "--worker", rank_dir, "--", *args, "--distributed"]
    else:
        cmd = [sys.executable, "-m", "w2v_core", *args]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if r.returncode != 0:  # the ranks' own one-line errors (torchrun's report after them says only which died)
        errors = sorted({"error: " + part.strip() for line in r.stderr.splitlines() if "error:" in line
                         for part in line.split("error:")[1:] if part.strip()})  # ranks' lines can interleave
        return {"procs": procs, "threads_per_proc": threads, "wall_seconds": round(wall, 1), "failed":
                " / ".join(errors) or f"exit {r.returncode}: {r.stderr.strip()[-300:]}"}
    s = summary_line(r.stdout)
    row = {"procs": procs, "threads_per_proc": threads, "tokens": s["tokens"], "epochs": s["epochs"],
           "words": s["tokens"] * s["epochs"], "seconds": s["seconds"], "wall_seconds": round(wall, 1),
           "words_per_sec": s["words_per_sec"], "final_loss": s["final_loss"], "ws353": ws353(out),
           "vocab_size": s["vocab_size"], "lr_retries": s["lr_retries"]}
    if procs:
        row.update(sync_row(s["distributed"], rank_dir, procs, s["seconds"], row["words"]))
    return row


def sync_row(d: dict, rank_dir: str, procs: int, seconds: float, words: int) -> dict:
    """The sync columns: rank 0's SyncStats (computed) and every rank's written bytes (measured)."""
    ranks = [json.load(open(os.path.join(rank_dir, f"rank{r}.json"))) for r in range(procs)]
    syncs = d["syncs"]
    tables = [rk["ops"].get("all_reduce_tables", {}) for rk in ranks]
    measured = all(rk["measured"] for rk in ranks)
    written = [t.get("written_bytes", 0) for t in tables]
    flags = [rk["ops"].get("all_reduce_flags", {}).get("written_bytes", 0) for rk in ranks]
    per_sync = sum(written) / procs / max(syncs, 1) if measured else None
    return {"syncs": syncs, "sync_every": d["sync_every"],
            "words_per_rank_per_sync": round(words / procs / max(syncs, 1)),
            "payload_bytes_per_sync": d["sync_payload_bytes"],
            "sent_bytes_per_sync_computed": d["sync_sent_bytes_ring"],
            "sent_bytes_per_sync_measured": None if per_sync is None else round(per_sync),
            "sent_bytes_per_sec_per_rank": None if per_sync is None else round(per_sync * syncs / max(seconds, 1e-9)),
            "flag_bytes_per_sync_measured": round(sum(flags) / procs / max(syncs, 1)) if measured else None,
            "table_calls_per_rank": [t.get("calls", 0) for t in tables],
            "sync_seconds": d["sync_seconds"], "sync_share": round(d["sync_seconds"] / max(seconds, 1e-9), 3)}


def mb(x) -> str:
    return "-" if x is None else f"{x / 1e6:,.2f}"


def table(rows: list[dict]) -> str:
    head = ("| ranks x threads | words/s | train s | WS353 | final loss | syncs (words per rank between) | "
            "all-reduced per sync (MB) | sent per sync per rank, computed / measured (MB) | "
            "sent per s per rank (MB/s) | time in table all-reduce |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    out = [head]
    for r in rows:
        who = f"plain x {r['threads_per_proc']}" if not r["procs"] else f"{r['procs']} x {r['threads_per_proc']}"
        if "failed" in r:
            out.append(f"| {who} | FAILED: {r['failed']} |" + " |" * 8)
            continue
        ws = "-" if r["ws353"] is None else f"{r['ws353']:.3f}"
        base = f"| {who} | {r['words_per_sec']:,.0f} | {r['seconds']:.2f} | {ws} | {r['final_loss']:.3f} |"
        if not r["procs"]:
            out.append(base + " - | - | - | - | - |")
            continue
        out.append(base + f" {r['syncs']} ({r['words_per_rank_per_sync']:,}) | {mb(r['payload_bytes_per_sync'])} | "
                   f"{mb(r['sent_bytes_per_sync_computed'])} / {mb(r['sent_bytes_per_sync_measured'])} | "
                   f"{mb(r['sent_bytes_per_sec_per_rank'])} | {r['sync_share']:.0%} |")
    return "\n".join(out)


# The scaling model (benchmarks/README.md "Distributed"): assumptions, each one stated there.
GPU_WORDS_PER_SEC = 25.7e6  # one H200, Skip-gram, default batch, warm process (bench_scaling.py, 2026-11-26)
NVLINK = 450e9  # bytes/s per direction per GPU (NVLink 4, H100/H200)
NVLINK_STEP = 10e-6  # seconds of latency per ring step inside a node
ETHERNET = 12.5e9  # bytes/s per direction per node: one 100 Gb/s NIC shared by the node's 8 GPUs
ETHERNET_STEP = 25e-6  # seconds of latency per step between nodes
HBM = 4e12  # bytes/s of GPU memory: a sync reads and writes the tables about 8 times (sub, reduce, add, copy)


def predict(payload: float, sync_every: float, nodes: int, gpus: int) -> dict:
    """Words/s of ``nodes`` x ``gpus`` GPUs that each train ``sync_every`` words at GPU_WORDS_PER_SEC, then stop
    for one all-reduce of ``payload`` bytes: ring inside a node, and between nodes over each node's one NIC
    (reduce-scatter in the node, all-reduce of the shards across nodes, all-gather in the node)."""
    compute = sync_every / GPU_WORDS_PER_SEC
    sync = 2 * (gpus - 1) / gpus * payload / NVLINK + 2 * (gpus - 1) * NVLINK_STEP
    if nodes > 1:
        sync += 2 * (nodes - 1) / nodes * payload / ETHERNET + 2 * (nodes - 1) * ETHERNET_STEP
    local = 8 * payload / HBM if nodes * gpus > 1 else 0.0
    total = compute + sync + local
    return {"words_per_sec": nodes * gpus * sync_every / total, "sync_share": (sync + local) / total,
            "compute_ms": compute * 1e3, "sync_ms": (sync + local) * 1e3}


def prediction_table() -> str:
    out = ["| model (tables all-reduced per sync) | words per GPU between syncs | GPUs | compute ms | sync ms | "
           "words/s | time in sync |", "|---|---:|---|---:|---:|---:|---:|"]
    for name, payload in (("sample: 9,052 words x 100 x 2 tables, fp32 (7.24 MB, measured)", 7.24e6),
                          ("1M words x 100 x 2 tables, fp32 (800 MB)", 800e6),
                          ("1M words x 100 x 2 tables, bf16 deltas (400 MB)", 400e6)):
        for every in (50_000, 1_000_000):
            for nodes, gpus in ((1, 1), (1, 8), (4, 8)):
                p = predict(payload, every, nodes, gpus)
                out.append(f"| {name} | {every:,} | {nodes} x {gpus} | {p['compute_ms']:.2f} | {p['sync_ms']:.2f} | "
                           f"{p['words_per_sec'] / 1e6:,.1f}M | {p['sync_share']:.0%} |")
    return "\n".join(out)


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "")
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "load": [round(x, 2) for x in os.getloadavg()]}


def int_list(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":  # a rank, under torchrun: --worker DIR -- CLI ARGS
        sys.exit(worker(sys.argv[2], sys.argv[4:]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int_list, default=[1, 2, 4], help="torchrun ranks per row (default 1,2,4)")
    ap.add_argument("--threads-per-proc", type=int, default=1, help="worker threads of each rank (default 1)")
    ap.add_argument("--plain-threads", type=int_list, default=[1, 2],
                    help="threads of the plain one-process rows, without --distributed ('' for none; default 1,2)")
    ap.add_argument("--corpus", default="sample")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--arch", default="skipgram")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sync-every", type=int, default=None, help="words per rank between syncs (default 50000)")
    ap.add_argument("--sync-combine", default=None, choices=("auto", "scaled", "sum", "mean"),
                    help="how the ranks' changes combine (default the CLI's: auto, sum for 2 ranks and scaled for more)")
    ap.add_argument("--lr", type=float, default=None, help="starting learning rate (default the CLI's)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds one run may take")
    ap.add_argument("--json", help="also write the rows and the machine to this file")
    ap.add_argument("--predict", action="store_true", help="print the scaling model's table (no runs) and stop")
    a = ap.parse_args()
    if a.predict:
        print(prediction_table())
        return
    train = ["--corpus", a.corpus, "--epochs", str(a.epochs), "--dim", str(a.dim), "--arch", a.arch,
             "--seed", str(a.seed)] + (["--lr", str(a.lr)] if a.lr else [])
    sync = ((["--sync-combine", a.sync_combine] if a.sync_combine else [])
            + (["--sync-every", str(a.sync_every)] if a.sync_every else []))
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load']}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="w2v-bench-dist-") as work:
        for procs, threads in [(0, t) for t in a.plain_threads] + [(n, a.threads_per_proc) for n in a.procs]:
            row = run_row(procs, threads, train + (sync if procs else []), work, a.timeout)
            rows.append(row)
            print(f"  {procs or 'plain'} x {threads}: " + (f"FAILED: {row['failed']}" if "failed" in row else
                  f"{row['words_per_sec']:,.0f} words/s, WS353 {row['ws353']}, loss {row['final_loss']}, "
                  f"wall {row['wall_seconds']} s"), flush=True)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    print(table(rows))
    print(f"load average after: {info['load_after']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "train_args": train, "sync_args": sync, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
