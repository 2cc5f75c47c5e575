"""The command line as a careless user or an attacker would use it: one line, exit 2, nothing of theirs touched,
nothing trained before the problem is found, and no hang on a special file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import make_texts
from tests.test_cli import cli

TRAIN = ["--dim", "8", "--window", "2", "--min-count", "1", "--epochs", "1", "--threads", "1"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(make_texts(40)) + "\n")
    return p


def _one_line_exit_2(r, expected: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_out_on_a_folder_holding_other_files_leaves_them_all_and_trains_nothing(corpus, tmp_path):
    out = tmp_path / "work"
    (out / "sub").mkdir(parents=True)
    files = {"thesis.tex": b"\\section{mine}", "data.csv": b"a,b\n", "sub/photo.jpg": b"\xff\xd8\xff"}
    for name, data in files.items():
        (out / name).write_bytes(data)
    r = cli("train", "--corpus", str(corpus), *TRAIN, "--out", str(out), timeout=60)
    _one_line_exit_2(r, "not a Word2Vec Explorer model")
    assert "loading corpus" not in r.stderr  # refused before any work
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == set(files)
    assert all((out / n).read_bytes() == d for n, d in files.items())


@pytest.mark.parametrize("out", [".", "..", "/proc/x", "file"])
def test_out_that_cannot_hold_a_model_is_refused_at_once(out, corpus, tmp_path):
    if out == "file":
        out = str(tmp_path / "notes.txt")
        Path(out).write_text("keep")
    r = cli("train", "--corpus", str(corpus), *TRAIN, "--out", out, timeout=60)
    _one_line_exit_2(r, "--out")
    assert "loading corpus" not in r.stderr
    if out.endswith("notes.txt"):
        assert Path(out).read_text() == "keep"


def test_out_on_a_model_of_ours_replaces_it(corpus, tmp_path):
    out = tmp_path / "m"
    for seed in ("1", "2"):
        r = cli("train", "--corpus", str(corpus), *TRAIN, "--seed", seed, "--out", str(out), "--quiet", timeout=120)
        assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "m"]  # no leftovers beside it


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_special_corpus_paths_exit_2_at_once(kind, tmp_path):
    path = {"fifo": tmp_path / "pipe", "device": Path("/dev/zero"), "folder": Path("/")}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    # the timeout turns a regression (a blocking open, a walk of the whole disk) into a failure, not a hang
    r = cli("train", "--corpus", str(path), *TRAIN, "--out", str(tmp_path / "m"), timeout=60)
    _one_line_exit_2(r, {"fifo": "named pipe", "device": "character device", "folder": "folder"}[kind])
    assert not (tmp_path / "m").exists()


def test_latin1_corpus_keeps_its_accented_words(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(("\n".join(make_texts(30)) + "\ncafé naïve résumé café naïve\n").encode("latin-1"))
    r = cli("train", "--corpus", str(p), *TRAIN, "--out", str(tmp_path / "m"), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "read as cp1252" in r.stderr  # says which encoding it used
    words = {line.split("\t")[0] for line in (tmp_path / "m" / "vocab.tsv").read_text(encoding="utf-8").splitlines()}
    assert {"café", "naïve", "résumé"} <= words and "caf" not in words


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("export")
    (d / "corpus.txt").write_text("\n".join(make_texts(40)) + "\n")
    r = cli("train", "--corpus", str(d / "corpus.txt"), *TRAIN, "--out", str(d / "m"), "--quiet", timeout=120)
    assert r.returncode == 0, r.stderr
    return d / "m"


@pytest.mark.parametrize("target", ["file", "fifo", "device", "config", "inside model", "full folder"])
def test_export_never_overwrites_anything(model, tmp_path, target):
    """Issue 25: export --out EXISTING replaced it (a model's config.json, a FIFO, /dev/null when root)."""
    before = {p.name: p.read_bytes() for p in model.iterdir()}
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep me")
    out = {"file": keep / "mine.txt", "fifo": tmp_path / "fifo", "device": Path("/dev/null"),
           "config": model / "config.json", "inside model": model / "export", "full folder": keep}[target]
    if target == "fifo":
        os.mkfifo(out)
    # a folder is where a file format writes a new vectors.txt/.bin: only the projector needs it new or empty
    for fmt in ["projector"] if target == "full folder" else ["word2vec-text", "word2vec-binary", "projector"]:
        r = cli("export", str(model), "--format", fmt, "--out", str(out), timeout=60)
        _one_line_exit_2(r, str(out.name))
        assert {p.name: p.read_bytes() for p in model.iterdir()} == before
        assert (keep / "mine.txt").read_text() == "keep me" and sorted(os.listdir(keep)) == ["mine.txt"]
    if target == "fifo":
        assert Path(out).is_fifo()


def test_export_to_a_new_place_still_works(model, tmp_path):
    r = cli("export", str(model), "--format", "word2vec-text", "--out", str(tmp_path / "new" / "v.txt"))
    assert r.returncode == 0 and (tmp_path / "new" / "v.txt").read_text().startswith(
        (model / "vectors.txt").read_text().splitlines()[0])
    r = cli("export", str(model), "--format", "projector", "--out", str(tmp_path / "empty"))
    assert r.returncode == 0 and sorted(os.listdir(tmp_path / "empty")) == ["metadata.tsv", "vectors.tsv"]


def test_train_out_inside_another_model_folder_is_refused(model, corpus):
    before = sorted(os.listdir(model))
    r = cli("train", "--corpus", str(corpus), *TRAIN, "--out", str(model / "inner"), timeout=60)
    _one_line_exit_2(r, "inside the model folder")
    assert sorted(os.listdir(model)) == before
