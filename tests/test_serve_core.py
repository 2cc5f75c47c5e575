"""The library half of serving a class that the app relies on: per-visitor uploads, no server paths in shared
mode (through the loader, the training job and the Learn page's corpus), unique model names, zips without paths."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from w2v_core import learn, store
from w2v_core.data import loader, sources
from w2v_core.data.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.serve.jobs import TrainingJob
from w2v_core.settings import get_settings
from w2v_core.training import TrainConfig

SECRET = "zebra-secret-token horse-secret-token\n" * 50  # a server file no visitor may read


@pytest.fixture
def server_file(tmp_path) -> Path:
    p = tmp_path / "server" / "secret.txt"
    p.parent.mkdir()
    p.write_text(SECRET, encoding="utf-8")
    return p


@pytest.fixture
def shared(monkeypatch, tmp_path):
    monkeypatch.setenv("W2V_MODE", "shared")
    monkeypatch.setenv("W2V_DATA_DIR", str(tmp_path / "data"))
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    (corpora / "class.txt").write_text("the cat sat on the mat\nthe dog ate the bone\n", encoding="utf-8")
    monkeypatch.setenv("W2V_CORPUS_DIR", str(corpora))
    return corpora


def test_uploads_go_to_the_folder_asked_for(tmp_path):
    a = sources.save_upload(b"hello world\n", "notes.txt", folder=tmp_path / "ws-a" / "uploads")
    b = sources.save_pasted_text("pasted words\n", folder=tmp_path / "ws-b" / "uploads")
    assert a.parent == tmp_path / "ws-a" / "uploads" and b.parent == tmp_path / "ws-b" / "uploads"
    assert sources.save_upload(b"hello world\n", "notes.txt").parent == sources.uploads_dir()


def test_personal_mode_reads_local_files(server_file):
    assert loader.load_corpus(CorpusConfig(source=str(server_file))).n_tokens > 0  # the user's own machine


def test_shared_mode_reads_no_server_file_however_it_is_spelt(shared, server_file, tmp_path):
    (shared / "link.txt").symlink_to(server_file)
    spellings = [str(server_file), "/etc/passwd", "/etc/../etc/passwd", "~/.bashrc", "../server/secret.txt",
                 str(shared / ".." / "server" / "secret.txt"), "link.txt"]
    for source in spellings:  # refused, or (~ is not expanded) a file of that name in the corpus folder: none
        with pytest.raises(W2VError, match="corpus folder|not found") as e:
            loader.load_corpus(CorpusConfig(source=source))
        assert "zebra" not in str(e.value) and "root:" not in str(e.value)
    # a file in the operator's corpus folder is fine, by name or by path
    assert loader.load_corpus(CorpusConfig(source="class.txt")).n_tokens == 11
    assert loader.load_corpus(CorpusConfig(source=str(shared / "class.txt"))).n_tokens == 11


def test_a_file_cached_in_personal_mode_is_not_served_in_shared_mode(server_file, monkeypatch, tmp_path):
    loader.load_corpus(CorpusConfig(source=str(server_file)))  # now in the corpus cache
    monkeypatch.setenv("W2V_MODE", "shared")
    monkeypatch.setenv("W2V_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(W2VError):
        loader.load_corpus(CorpusConfig(source=str(server_file)))


def test_shared_mode_reads_only_the_visitors_own_uploads(shared, tmp_path):
    mine, theirs = tmp_path / "data" / "a" / "uploads", tmp_path / "data" / "b" / "uploads"
    own = sources.save_upload(b"my own words here\n", "mine.txt", folder=mine)
    other = sources.save_upload(SECRET.encode(), "theirs.txt", folder=theirs)
    assert loader.load_corpus(CorpusConfig(source=str(own)), uploads=mine).n_tokens == 4
    with pytest.raises(W2VError):
        loader.load_corpus(CorpusConfig(source=str(other)), uploads=mine)
    with pytest.raises(W2VError):
        loader.load_corpus(CorpusConfig(source=str(mine / ".." / ".." / "b" / "uploads" / other.name)), uploads=mine)
    with pytest.raises(W2VError):
        loader.load_corpus(CorpusConfig(source=str(own)))  # no uploads folder given: none is allowed
    corpus = loader.load_upload(b"uploaded words\n", "up.txt", folder=mine)
    assert corpus.n_tokens == 2


def test_a_training_run_in_shared_mode_cannot_read_a_server_file(shared, server_file, tmp_path):
    root = tmp_path / "data" / "a" / "models"
    job = TrainingJob(CorpusConfig(source=str(server_file)), ModelConfig(dim=8, min_count=1),
                      TrainConfig(epochs=1, threads=1), root=root, uploads=tmp_path / "data" / "a" / "uploads")
    job.start().join(60)
    s = job.state()
    assert s.status == "failed" and "corpus folder" in s.error and "zebra" not in s.error
    assert not store.list_records(root, broken=True)


def _train(root, tiny_corpus, name=None) -> str:
    job = TrainingJob(CorpusConfig(source="tiny"), ModelConfig(dim=8, window=2, min_count=1, sample=0),
                      TrainConfig(epochs=1, threads=1), name=name, root=root, loader=lambda c: tiny_corpus)
    job.start().join(120)
    assert job.state().status == "done", job.state().error
    return job.path


def test_the_same_settings_twice_give_two_names(tiny_corpus, tmp_path):
    root = tmp_path / "models"
    first, second, third = (_train(root, tiny_corpus) for _ in range(3))
    names = [store.read_record(p).name for p in (first, second, third)]
    assert len(set(names)) == 3
    assert names[1] == names[0] + "-2" and names[2] == names[0] + "-3"
    assert [Path(p).name for p in (first, second, third)] == [store.slug(n) for n in names]  # same suffix as the folder


def test_names_unique_against_renamed_models_and_imports(tiny_model, tmp_path):
    root = tmp_path / "models"
    a = store.import_zip(store.zip_model(tiny_model), root)
    b = store.import_zip(store.zip_model(tiny_model), root)
    assert store.read_record(a).name == "tiny-model" and store.read_record(b).name == "tiny-model-2"
    store.rename_model(a, "Favourite")
    path, name = store.new_model_slot(root, "favourite")  # the name is taken, though no folder is called that
    assert name == "favourite-2" and path == root / "favourite-2"
    src = tmp_path / "glove.txt"
    src.write_text("the 0.1 0.2 0.3\ncat 0.5 0.1 0.0\n", encoding="utf-8")
    first, second = store.import_vectors(src, root), store.import_vectors(src, root)
    assert {store.read_record(first).name, store.read_record(second).name} == {"glove", "glove-2"}


def test_rename_refuses_a_name_in_use(tiny_model, tmp_path):
    root = tmp_path / "models"
    a = store.import_zip(store.zip_model(tiny_model), root, name="alpha")
    b = store.import_zip(store.zip_model(tiny_model), root, name="beta")
    with pytest.raises(W2VError, match="already called 'Alpha'"):
        store.rename_model(b, "Alpha")
    assert store.read_record(b).name == "beta"
    store.rename_model(a, "alpha")  # its own name: nothing to do
    store.rename_model(a, "ALPHA")  # a new spelling of its own name is fine
    assert store.read_record(a).name == "ALPHA"


def test_a_downloaded_zip_names_no_server_path(tiny_model, tmp_path):
    cfg = store.read_config(tiny_model)
    secret_dir = "/srv/w2v/data/workspaces/0123456789abcdef0123/uploads"
    cfg["corpus"]["config"] = {"source": f"{secret_dir}/notes-0123456789abcdef.txt"}
    (Path(tiny_model) / store.CONFIG).write_text(json.dumps(cfg), encoding="utf-8")
    data = store.zip_model(tiny_model)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        zipped = json.loads(z.read(next(n for n in names if n.endswith(store.CONFIG))))
        assert all("workspaces" not in z.read(n).decode("utf-8", "replace") for n in names)
    assert zipped["corpus"]["config"]["source"] == "notes-0123456789abcdef.txt"
    assert store.read_config(tiny_model)["corpus"]["config"]["source"].startswith(secret_dir)  # the folder keeps it
    back = store.load_model(store.import_zip(data, tmp_path / "again"))
    assert back.vectors.words == store.load_model(tiny_model).vectors.words


def test_learn_names_a_corpus_it_cannot_reread_by_its_file_only(shared, tiny_model, server_file):
    cfg = store.read_config(tiny_model)
    cfg["corpus"]["config"] = {"source": str(server_file)}
    (Path(tiny_model) / store.CONFIG).write_text(json.dumps(cfg), encoding="utf-8")
    lm = learn.load_training_model(tiny_model)
    with pytest.raises(W2VError) as e:
        learn.load_model_corpus(lm)
    assert "secret.txt" in str(e.value) and str(server_file.parent) not in str(e.value)
    assert "zebra" not in str(e.value)
    assert get_settings().shared and os.path.isfile(server_file)


def test_the_command_line_is_not_a_visitor(shared, server_file, tmp_path):
    """The operator trains a gallery model from a server file with the CLI, in the same shared-mode environment."""
    import subprocess
    import sys

    out = tmp_path / "gallery" / "from-cli"
    r = subprocess.run([sys.executable, "-m", "w2v_core", "train", "--corpus", str(server_file), "--min-count", "1",
                        "--dim", "8", "--epochs", "1", "--threads", "1", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert "zebra" in store.load_model(out).vectors.words
