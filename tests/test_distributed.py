"""Training across processes with torch.distributed, as a user starts it: torchrun, two ranks, gloo on the CPU.

Two ranks trained on the bundled sample make one model (rank 0's folder, one loss curve) as good on WordSim353 as
one process on the same total tokens; a rank killed mid-run ends the run with one clear line and no model folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.distributed import DistContext, round_tokens, shard
from w2v_core.evaluation import evaluate_pairs
from w2v_core.models import ModelConfig
from w2v_core.store import load_model
from w2v_core.training import TrainConfig, Trainer
from w2v_core.workers import chunk_bounds

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ["--corpus", "sample", "--dim", "50", "--epochs", "5", "--threads", "1", "--seed", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, ranks: int = 2) -> list[str]:
    """torchrun (the script next to this Python when there is one, else the module it runs), ``ranks`` ranks."""
    script = Path(sys.executable).with_name("torchrun")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "torch.distributed.run"]
    return head + ["--nproc_per_node", str(ranks), "--master_port", str(_free_port()), "-m", "w2v_core", "train",
                   "--distributed", *args]


def test_every_chunk_is_trained_by_exactly_one_rank_and_the_rounds_count_them_all():
    import numpy as np

    offsets = np.arange(0, 100_001, 700)
    chunks = chunk_bounds(offsets, 100_000, 6_000)
    for world in (1, 2, 3):
        ctxs = [DistContext(rank=r, world=world, local_rank=r, local_world=world, backend="gloo", device="cpu")
                for r in range(world)]
        seen = sorted(i for c in ctxs for i in shard(chunks, c)[1])
        assert seen == list(range(len(chunks)))
        assert sum(round_tokens(chunks, ctxs[0], 2)) == 100_000


def test_train_without_torchrun_says_how_to_start_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    r = subprocess.run([sys.executable, "-m", "w2v_core", "train", "--distributed", "--corpus", "sample",
                        "--out", str(tmp_path / "m")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "torchrun" in r.stderr
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def one_process():
    """WordSim353 and final loss of one process trained with SETTINGS (the ranks' yardstick)."""
    sample = load_corpus(CorpusConfig(source="sample"))
    one = Trainer(sample, ModelConfig(dim=50), TrainConfig(epochs=5, threads=1, seed=1)).train()
    return evaluate_pairs(one.vectors, "wordsim353", table=False)["spearman"], one.summary["final_loss"]


@pytest.mark.parametrize("ranks", [2, 4])
def test_ranks_make_one_model_as_good_as_one_process(tmp_path, one_process, ranks):
    out = tmp_path / "ranks"
    r = subprocess.run(_torchrun(*SETTINGS, "--out", str(out), ranks=ranks), cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    # one run's output: rank 0's log and summary only
    assert r.stdout.strip().count("\n") == 0
    summary = json.loads(r.stdout)
    assert summary["distributed"]["world_size"] == ranks and summary["distributed"]["syncs"] >= 5
    assert summary["distributed"]["combine"] == ("sum" if ranks == 2 else "scaled")  # the default, auto
    assert r.stderr.count("saved model to") == 1 and r.stderr.count("epoch 5/5 done") == 1
    model = load_model(out)
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epoch"]] == [1, 2, 3, 4, 5]
    words = [b["words"] for b in history["batch"]]
    assert words == sorted(words) and words[-1] == summary["tokens"] * 5  # one curve over all ranks' words
    assert [p.name for p in tmp_path.iterdir()] == ["ranks"]  # no leftover temporary folder

    ws_one, loss_one = one_process
    ws = evaluate_pairs(model.vectors, "wordsim353", table=False)["spearman"]
    assert abs(ws - ws_one) <= 0.03, (ws, ws_one)
    assert abs(summary["final_loss"] - loss_one) < 0.15


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        out += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return out


def _rank(pid: int) -> int | None:
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if entry.startswith(b"RANK="):
            return int(entry[5:])
    return None


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the rank's process through /proc (Linux)")
def test_killing_a_rank_mid_run_stops_the_others_with_one_line_and_no_model(tmp_path):
    # generous limits: on a loaded machine a rank may wait long for the other; the kill is seen at once regardless
    # (the dead rank's sockets close, and torchrun stops the survivor)
    out = tmp_path / "killed"
    p = subprocess.Popen(_torchrun("--corpus", "sample", "--dim", "16", "--epochs", "200", "--threads", "1",
                                   "--dist-timeout", "120", "--out", str(out)),
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
    reader.start()
    try:
        start = time.monotonic()
        # rank 0 reports an epoch only after syncs with rank 1: both ranks are training
        while not any(line.startswith("epoch 1/200") for line in lines):
            assert p.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() - start < 600, "no epoch in 600 s:\n" + "".join(lines)[-3000:]
            time.sleep(0.2)
        victim = [c for c in _children(p.pid) if _rank(c) == 1]
        assert victim, "rank 1's process not found"
        os.kill(victim[0], signal.SIGKILL)
        p.wait(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    reader.join(timeout=30)
    assert p.returncode != 0
    errors = [line for line in lines if line.lower().startswith("error:")]
    assert len(errors) == 1, "".join(lines)[-3000:]  # the killed rank says nothing; the survivor one line
    assert errors[0].lower().startswith("error: rank 0 of 2") and "nothing was saved" in errors[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []
    shutil.rmtree(tmp_path, ignore_errors=True)


_ONE_LINE = """
import os, signal, sys, time
from w2v_core.distributed import OneLine

one = OneLine(0, 2)
signal.signal(signal.SIGTERM, one.on_terminate)
when = sys.argv[1]


class Terminated:  # torchrun's SIGTERM arriving while the error line is being written
    def __init__(self, f):
        self.f = f

    def write(self, s):
        os.kill(os.getpid(), signal.SIGTERM)
        return self.f.write(s)

    def flush(self):
        self.f.flush()


if when == "before":
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
if when == "during":
    sys.stderr = Terminated(sys.stderr)
one.say("error: Rank 0 of 2 lost the other ranks: nothing was saved.", 2)
os.kill(os.getpid(), signal.SIGTERM)  # after the line, as the process ends
time.sleep(30)
"""


@pytest.mark.parametrize("when, code, says", [("before", 3, "was stopped"), ("during", 2, "lost the other ranks"),
                                              ("after", 2, "lost the other ranks")])
def test_a_rank_says_one_error_line_whenever_torchruns_sigterm_comes(when, code, says):
    r = subprocess.run([sys.executable, "-c", _ONE_LINE, when], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == code, r.stderr[-2000:]
    assert r.stderr.count("error:") == 1 and says in r.stderr, r.stderr[-2000:]


_SLOW_LOAD = """
import sys, time
from pathlib import Path
from w2v_core import distributed
from w2v_core.errors import W2VError

ctx = distributed.start("cpu", timeout=3)
said = []  # each rank writes its own file: the ranks' stdout lines would interleave
# the first rank reads for 8 s; the others then read what it cached (at once)
said.append(f"loaded {distributed.first_local(ctx, lambda: time.sleep(8 if ctx.rank == 0 else 0) or ctx.rank)}")


def bad():
    if ctx.rank == 0:
        raise W2VError("no such corpus")
    return ctx.rank


try:
    distributed.first_local(ctx, bad)
except W2VError as e:
    said.append(f"error: {e}")
Path(sys.argv[1], f"rank{ctx.rank}.txt").write_text("\\n".join(said))
ctx.close()
"""


def test_a_corpus_read_longer_than_the_timeout_does_not_stop_the_waiting_ranks(tmp_path):
    """Rank 0 reads the corpus for 8 s while rank 1 waits, with a 3 s timeout: they keep meeting, so both go on; a
    read that fails on rank 0 stops rank 1 with one message."""
    script = tmp_path / "slow_load.py"
    script.write_text(_SLOW_LOAD)
    head = _torchrun()[:_torchrun().index("-m")]
    r = subprocess.run(head + [str(script), str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr[-2000:]
    said = [(tmp_path / f"rank{r}.txt").read_text().splitlines() for r in (0, 1)]
    assert said[0] == ["loaded 0", "error: no such corpus"]
    assert said[1][0] == "loaded 1" and said[1][1].startswith("error: Another rank could not read the corpus")
    assert len(said[1]) == 2


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="the bench reads the bytes written from /proc (Linux)")
def test_the_distributed_bench_counts_the_bytes_the_ranks_really_write(tmp_path):
    """benchmarks/bench_distributed.py: what it computes from the tables all-reduced each sync is what the two
    ranks' processes wrote to their sockets (the kernel's count), and the tables are the whole model."""
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "benchmarks/bench_distributed.py", "--procs", "2", "--plain-threads", "",
                        "--epochs", "1", "--dim", "16", "--json", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    row = json.loads(out.read_text())["rows"][0]
    assert row["procs"] == 2 and row["syncs"] >= 2
    assert row["payload_bytes_per_sync"] == row["vocab_size"] * 16 * 4 * 2  # w_in and w_out, float32
    assert row["sent_bytes_per_sync_computed"] == row["payload_bytes_per_sync"]  # a ring of 2: 2 (N - 1) / N = 1
    measured, computed = row["sent_bytes_per_sync_measured"], row["sent_bytes_per_sync_computed"]
    assert computed <= measured <= computed * 1.01, (measured, computed)  # gloo's headers: a few hundred bytes
    assert row["table_calls_per_rank"] == [2 * row["syncs"]] * 2
