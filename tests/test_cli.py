"""The command line: the JSON summary scripts rely on, and one-line errors with a non-zero exit for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gensim.models import KeyedVectors

from tests.conftest import make_texts

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "w2v_core", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    corpus = d / "corpus.txt"
    corpus.write_text("\n".join(make_texts(150)) + "\n")
    out = d / "model"
    r = cli("train", "--corpus", str(corpus), "--dim", "12", "--window", "3", "--min-count", "1",
            "--sample", "0", "--epochs", "2", "--threads", "1", "--batch-size", "16", "--out", str(out))
    return r, out


def test_train_prints_json_summary_last_and_saves(trained):
    r, out = trained
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("vocab_size", "tokens", "epochs", "seconds", "words_per_sec", "final_loss"):
        assert key in summary
    assert summary["epochs"] == 2 and summary["vocab_size"] == 29
    assert summary["words_per_sec"] == pytest.approx(summary["tokens"] * 2 / summary["seconds"], rel=0.05)
    assert "epoch 2/2 done" in r.stderr  # progress goes to stderr
    assert (out / "weights.safetensors").is_file() and (out / "vectors.txt").is_file()


def test_neighbors_agree_with_gensim(trained):
    _, out = trained
    r = cli("neighbors", str(out), "cat", "--topn", "5")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.strip().splitlines()]
    assert len(rows) == 5 and "cat" not in [w for w, _ in rows]
    kv = KeyedVectors.load_word2vec_format(str(out / "vectors.txt"))
    ref = kv.most_similar("cat", topn=5)
    assert [w for w, _ in rows] == [w for w, _ in ref]
    assert [float(s) for _, s in rows] == pytest.approx([s for _, s in ref], abs=1e-4)
    scores = [float(s) for _, s in rows]
    assert scores == sorted(scores, reverse=True)


def test_unknown_word_is_one_line(trained):
    _, out = trained
    r = cli("neighbors", str(out), "caat")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "cat" in r.stderr and "Traceback" not in r.stderr


def test_evaluate_and_export(trained, tmp_path):
    _, out = trained
    r = cli("evaluate", str(out))
    assert r.returncode == 0, r.stderr
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"wordsim353", "simlex999", "analogy"} <= set(last)
    assert (out / "scores.json").is_file()
    r = cli("export", str(out), "--format", "projector", "--out", str(tmp_path / "proj"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "proj" / "vectors.tsv").is_file() and (tmp_path / "proj" / "metadata.tsv").is_file()
    r = cli("export", str(out), "--format", "word2vec-binary", "--out", str(tmp_path / "v.bin"))
    assert r.returncode == 0, r.stderr
    assert len(KeyedVectors.load_word2vec_format(str(tmp_path / "v.bin"), binary=True)) == 29


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = tmp / "good.txt"
    good.write_text("\n".join(make_texts(20)) + "\n")
    empty = tmp / "empty.txt"
    empty.write_text("")
    binary = tmp / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    rare = tmp / "rare.txt"
    rare.write_text("every word here is different from all others\n")
    out = str(tmp / "o")
    return {
        "missing": (["--corpus", str(tmp / "nope.txt")], "not found"),
        "empty": (["--corpus", str(empty)], "empty"),
        "binary": (["--corpus", str(binary)], "binary"),
        "empty vocabulary": (["--corpus", str(rare), "--min-count", "5"], "vocabulary is empty"),
        "dim": (["--corpus", str(good), "--dim", "0"], "dimension"),
        "window": (["--corpus", str(good), "--window", "500"], "window"),
        "epochs": (["--corpus", str(good), "--epochs", "0"], "epochs"),
        "arch": (["--corpus", str(good), "--arch", "glove"], "architecture"),
        "not a number": (["--corpus", str(good), "--lr", "fast"], "must be a number"),
        # word2vec's plain summed step at a rate far too high: every retry at a lower rate blows up too
        "divergence": (["--corpus", str(good), "--min-count", "1", "--lr", "10", "--sample", "0", "--update", "sum",
                        "--threads", "1", "--epochs", "3"], "diverged"),
        "out": (["--corpus", str(good)], "--out"),
    } | {"_out": ([out], "")}


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "empty vocabulary", "dim", "window", "epochs",
                                  "arch", "not a number", "divergence", "out"])
def test_user_errors_are_one_line_with_exit_2(case, tmp_path):
    cases = _bad_inputs(tmp_path)
    args, expected = cases[case]
    extra = [] if case == "out" else ["--out", cases["_out"][0][0]]
    r = cli("train", *args, *extra)
    assert r.returncode == 2, (r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and expected.lower() in last.lower(), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_non_utf8_text_is_read_with_replacement(tmp_path):
    p = tmp_path / "latin1.txt"
    text = "\n".join(make_texts(30)) + "\ncaf\xe9 na\xefve r\xe9sum\xe9 caf\xe9 na\xefve\n"
    p.write_bytes(text.encode("latin-1"))
    r = cli("train", "--corpus", str(p), "--min-count", "1", "--epochs", "1", "--dim", "8", "--threads", "1",
            "--out", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["tokens"] > 0


def test_a_blow_up_is_retried_at_a_lower_rate_and_said_on_stderr(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(make_texts(200)) + "\n")
    r = cli("train", "--corpus", str(corpus), "--dim", "16", "--window", "3", "--min-count", "1", "--sample", "0",
            "--epochs", "3", "--threads", "1", "--batch-size", "16", "--update", "sum", "--lr", "0.2",
            "--out", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["lr_retries"] == 1 and summary["final_loss"] < summary["untrained_loss"]
    assert "Epoch 1 blew up" in r.stderr and "learning rate 0.1" in r.stderr
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["train"]["batch_size"] == 16 and saved["summary"]["lr_retries"] == 1


def test_the_batch_size_is_used_as_given(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(make_texts(100)) + "\n")
    r = cli("train", "--corpus", str(corpus), "--dim", "12", "--min-count", "1", "--sample", "0", "--epochs", "3",
            "--threads", "1", "--batch-size", "16384", "--out", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["batch_size"] == 16384 and summary["final_loss"] < summary["untrained_loss"]


def test_train_help_states_the_trainers_real_default_batches():
    """The --batch-size help is written out (no torch import for --help); it must follow the trainer's constants."""
    import re

    from w2v_core import training

    text = " ".join(cli("train", "--help").stdout.split())
    m = re.search(r"default on a CPU: (\d+) skipgram / (\d+) cbow per thread, less with many threads, all together at "
                  r"most (\d+) / (\d+); on a GPU (\d+) / (\d+)", text)
    assert m, text
    got = [int(x) for x in m.groups()]
    want = [training.DEFAULT_BATCH[("cpu", "skipgram")], training.DEFAULT_BATCH[("cpu", "cbow")],
            training.CPU_EFFECTIVE_BATCH["skipgram"], training.CPU_EFFECTIVE_BATCH["cbow"],
            training.DEFAULT_BATCH[("cuda", "skipgram")], training.DEFAULT_BATCH[("cuda", "cbow")]]
    assert got == want
    hs = re.search(r"--loss hs cbow on a CPU: (\d+) per thread", text)
    assert hs and int(hs.group(1)) == training.HS_CPU_CBOW_BATCH, text


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_hierarchical_softmax_trains_saves_its_tree_table_and_answers(tmp_path, arch):
    """``--loss hs``: config.json records it, the inner-node table is the safetensors "out" table (V rows, as
    word2vec's syn1: V - 1 inner nodes and one unused row), the folder opens and answers neighbour queries, and the
    loss falls below an untrained model's (ln 2 per turn along the paths)."""
    from safetensors.numpy import load_file

    from w2v_core import store

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(make_texts(150)) + "\n")
    out = tmp_path / "hs"
    r = cli("train", "--corpus", str(corpus), "--arch", arch, "--loss", "hs", "--dim", "12", "--window", "3",
            "--min-count", "1", "--sample", "0", "--epochs", "3", "--threads", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["final_loss"] < 0.95 * summary["untrained_loss"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["loss"] == "hs"
    t = load_file(str(out / "weights.safetensors"))
    assert t["out"].shape == t["in"].shape and not t["out"][-1].any() and t["out"][:-1].any()
    assert store.load_model(out).vectors.dim == 12
    n = cli("neighbors", str(out), "the", "--topn", "3")
    assert n.returncode == 0 and len(n.stdout.strip().splitlines()) == 3


def test_train_help_lists_hierarchical_softmax():
    r = cli("train", "--help")
    assert "hs" in r.stdout and "hierarchical softmax" in r.stdout
