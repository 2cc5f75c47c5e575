"""``python -m w2v_core train --init MODEL``: a continued run from the command line, its one-line errors, and what
Ctrl-C and kill -9 leave behind (the parent intact; a complete child or none)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_texts
from w2v_core import store

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "w2v_core", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(folder).iterdir())}


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-continue")
    (d / "a.txt").write_text("\n".join(make_texts(120)) + "\n")
    (d / "b.txt").write_text("\n".join(make_texts(40, seed=4) + ["the zebra eats the grass"] * 30) + "\n")
    r = cli("train", "--corpus", str(d / "a.txt"), "--dim", "12", "--window", "3", "--min-count", "1",
            "--sample", "0", "--epochs", "2", "--threads", "1", "--quiet", "--out", str(d / "parent"))
    assert r.returncode == 0, r.stderr
    return d


def test_train_init_continues_with_the_parents_settings_and_records_the_lineage(parent):
    before = _digest(parent / "parent")
    r = cli("train", "--init", str(parent / "parent"), "--corpus", str(parent / "b.txt"), "--epochs", "2",
            "--min-count", "20", "--threads", "1", "--out", str(parent / "child"))
    assert r.returncode == 0, r.stderr
    assert "continuing 'parent' at learning rate 0.01875" in r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["vocab_size"] == 30 and not summary["stopped"]  # 29 words of the parent + "zebra"
    cfg = json.loads((parent / "child" / "config.json").read_text())
    assert cfg["model"]["dim"] == 12 and cfg["model"]["window"] == 3 and cfg["model"]["min_count"] == 20
    assert cfg["lineage"]["parent"] == "parent" and cfg["lineage"]["corpora"] == ["a.txt", "b.txt"]
    assert cfg["lineage"]["epochs_total"] == 4 and cfg["lineage"]["new_words_top"] == ["zebra"]
    assert "zebra" in store.load_model(parent / "child").vectors.index
    assert _digest(parent / "parent") == before


@pytest.mark.parametrize("args, words", [
    (["--dim", "20"], "12-dimensional vectors, but 20"),
    (["--arch", "cbow"], "architecture 'skipgram', but 'cbow'"),
    (["--loss", "softmax"], "output layer 'negative', but 'softmax'"),
    (["--init", "MISSING"], "--init: Model folder not found"),
    (["--init", "CORRUPT"], "--init: corrupt/weights.safetensors is not a valid safetensors file"),
    (["--init", "BADCONFIG"], "--init: badconfig/config.json is not valid JSON"),
    (["--init", "EMPTY"], "empty is not a model folder (no config.json)"),
    (["--init", "AFILE"], "a.txt is a file, not a model folder"),
    (["--out", "PARENT"], "--out is the --init model's folder"),
])
def test_bad_continuations_end_with_one_line_and_exit_2(parent, tmp_path, args, words):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for f in (parent / "parent").iterdir():
        (corrupt / f.name).write_bytes(f.read_bytes())
    (corrupt / "weights.safetensors").write_bytes(b"\x00" * 40)
    badconfig = tmp_path / "badconfig"
    badconfig.mkdir()
    for f in (parent / "parent").iterdir():
        (badconfig / f.name).write_bytes(f.read_bytes())
    (badconfig / "config.json").write_text('{"name": "half-written')
    (tmp_path / "empty").mkdir()
    names = {"MISSING": str(tmp_path / "missing"), "CORRUPT": str(corrupt), "PARENT": str(parent / "parent"),
             "BADCONFIG": str(badconfig), "EMPTY": str(tmp_path / "empty"), "AFILE": str(parent / "a.txt")}
    args = [names.get(a, a) for a in args]
    base = {"--init": str(parent / "parent"), "--out": str(tmp_path / "child")}
    for flag in ("--init", "--out"):
        if flag not in args:
            args += [flag, base[flag]]
    before = _digest(parent / "parent")
    r = cli("train", "--corpus", str(parent / "b.txt"), "--threads", "1", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "child").exists() and _digest(parent / "parent") == before


def _start_and_wait(parent: Path, out: Path) -> subprocess.Popen:
    """A continued run on a bigger corpus, returned once it trains (its first progress line)."""
    big = parent / "big.txt"
    if not big.exists():
        big.write_text("\n".join(make_texts(6000, seed=11)) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "w2v_core", "train", "--init", str(parent / "parent"), "--corpus",
                             str(big), "--epochs", "50", "--threads", "1", "--out", str(out)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        line = proc.stderr.readline()
        if line.startswith("epoch") or not line:
            break
    return proc


def test_ctrl_c_saves_a_complete_stopped_child_and_kill_9_leaves_none(parent, tmp_path):
    before = _digest(parent / "parent")
    proc = _start_and_wait(parent, tmp_path / "stopped")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0
    assert json.loads(out.strip().splitlines()[-1])["stopped"]
    child = store.load_model(tmp_path / "stopped")  # complete: it loads
    assert child.config["lineage"]["parent"] == "parent" and child.config["summary"]["stopped"]

    proc = _start_and_wait(parent, tmp_path / "killed")
    proc.kill()
    proc.communicate(timeout=30)
    store.repair_models_dir(tmp_path)
    assert not (tmp_path / "killed").exists()  # killed while training: no child at all, not half of one
    assert [p.name for p in tmp_path.iterdir() if "killed" in p.name] == []
    assert _digest(parent / "parent") == before


def _trained_parent(folder: Path, arch: str, loss: str) -> Path:
    """A tiny parent trained in this process (a CLI run per combination would cost a torch start each)."""
    from w2v_core.data.corpus import CorpusConfig, from_texts
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig, Trainer

    corpus = from_texts(make_texts(80), name="a.txt", config=CorpusConfig(source="a.txt"))
    r = Trainer(corpus, ModelConfig(arch=arch, loss=loss, dim=8, window=3, min_count=1, sample=0),
                TrainConfig(epochs=2, threads=1)).train()
    return r.save(folder / f"{arch}-{loss}")


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
@pytest.mark.parametrize("loss", ["negative", "softmax", "hs"])
def test_train_init_continues_every_architecture_and_output_layer(parent, tmp_path, arch, loss):
    """One epoch on new text for each architecture x output layer: the child keeps the parent's settings, "zebra"
    joins, the tables carried over (the first epoch starts far below an untrained model), the parent is untouched."""
    path = _trained_parent(tmp_path, arch, loss)
    before = _digest(path)
    r = cli("train", "--init", str(path), "--corpus", str(parent / "b.txt"), "--epochs", "1", "--min-count", "20",
            "--threads", "1", "--quiet", "--out", str(tmp_path / "child"))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    m = store.load_model(tmp_path / "child")
    assert m.config["model"]["arch"] == arch and m.config["model"]["loss"] == loss and m.config["model"]["dim"] == 8
    assert "zebra" in m.vectors.index and m.config["lineage"]["new_words_top"] == ["zebra"]
    # a new word changes hierarchical softmax's Huffman tree: its inner-node table restarts (and says so)
    assert m.config["lineage"]["output_table"] == ("zeros (the tree changed)" if loss == "hs" else "parent")
    # the word vectors carried over: each shared word's row still points where the parent's did (a fresh run's
    # rows would be unrelated to them, cosine ~0)
    p = store.load_model(path).vectors
    shared = [w for w in p.words if w in m.vectors.index]
    cos = [float(np.dot(a := p.get_vector(w), b := m.vectors.get_vector(w)) / np.linalg.norm(a) / np.linalg.norm(b))
           for w in shared]
    assert len(shared) == len(p.words) and np.mean(cos) > 0.5, np.mean(cos)
    assert summary["final_loss"] < summary["untrained_loss"] and not summary["stopped"]
    assert _digest(path) == before


def test_a_hierarchical_softmax_parent_refuses_another_output_layer_in_one_line(parent, tmp_path):
    path = _trained_parent(tmp_path, "cbow", "hs")
    r = cli("train", "--init", str(path), "--corpus", str(parent / "b.txt"), "--loss", "negative", "--threads", "1",
            "--out", str(tmp_path / "child"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "output layer 'hs', but 'negative'" in lines[0] and not (tmp_path / "child").exists()


KILL_AT_SAVE = """
import os, signal, sys
from w2v_core.store import format as fmt
swap = fmt._swap_in
def killed(new, final, stamp):
    if sys.argv[1] == "after":
        swap(new, final, stamp)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 at the worst moment: the child's files written, renamed in or not
fmt._swap_in = killed
from w2v_core.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_while_the_child_is_saved_leaves_a_complete_child_or_none(parent, tmp_path, when):
    before = _digest(parent / "parent")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = tmp_path / "models" / "child"
    r = subprocess.run([sys.executable, "-c", KILL_AT_SAVE, when, "train", "--init", str(parent / "parent"),
                        "--corpus", str(parent / "b.txt"), "--epochs", "1", "--threads", "1", "--quiet", "--out",
                        str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, r.stderr
    store.repair_models_dir(out.parent)  # what the app and the listing do on start
    left = sorted(p.name for p in out.parent.iterdir())
    if when == "before":  # killed before the rename: no child, and no half-written folder either
        assert left == []
    else:  # killed after it: the child is complete
        assert left == ["child"]
        assert store.load_model(out).config["lineage"]["parent"] == "parent"
    assert _digest(parent / "parent") == before


@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_train_init_continues_a_subword_model(parent, tmp_path, arch):
    """A subword (fastText) parent: the child keeps its n-gram settings and its full n-gram table's rows, "zebra"
    joins, an unseen word is still built from its pieces, the parent is untouched; other n-gram settings = one line."""
    r = cli("train", "--corpus", str(parent / "a.txt"), "--arch", arch, "--dim", "8", "--window", "3", "--min-count",
            "1", "--sample", "0", "--epochs", "2", "--threads", "1", "--quiet", "--subwords", "--min-n", "3",
            "--max-n", "5", "--buckets", "4000", "--out", str(tmp_path / "sub"))
    assert r.returncode == 0, r.stderr
    path = tmp_path / "sub"
    before = _digest(path)
    r = cli("train", "--init", str(path), "--corpus", str(parent / "b.txt"), "--epochs", "1", "--min-count", "20",
            "--threads", "1", "--quiet", "--out", str(tmp_path / "child"))
    assert r.returncode == 0, r.stderr
    m = store.load_model(tmp_path / "child", tables=True)
    assert {k: m.config["model"][k] for k in ("arch", "subwords", "min_n", "max_n", "buckets")} == {
        "arch": arch, "subwords": True, "min_n": 3, "max_n": 5, "buckets": 4000}
    assert "zebra" in m.vectors.index and m.config["lineage"]["new_words_top"] == ["zebra"]
    p = store.load_model(path, tables=True)
    seen = np.any(p.tables["ngrams"] != 0, axis=1)
    assert m.tables["ngrams"].shape == (4000, 8) and np.all(np.any(m.tables["ngrams"][seen] != 0, axis=1))
    # one epoch moved the carried rows a little, not to unrelated ones (a fresh table's cosine would be ~0)
    a, b = p.tables["ngrams"][seen], m.tables["ngrams"][seen]
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.mean(cos) > 0.5, np.mean(cos)
    assert m.vectors.built_from_pieces("horses")
    r = cli("neighbors", str(tmp_path / "child"), "horses")
    assert r.returncode == 0 and "built from its pieces" in r.stderr, r.stderr
    assert _digest(path) == before
    r = cli("train", "--init", str(path), "--corpus", str(parent / "b.txt"), "--buckets", "5000", "--threads", "1",
            "--out", str(tmp_path / "child2"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "n-gram buckets 4000, but 5000" in lines[0], r.stderr
    assert not (tmp_path / "child2").exists()
