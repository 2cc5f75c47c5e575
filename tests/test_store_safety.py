"""Model folders as an attacker or a careless user would try them: nothing of theirs is deleted, killed saves are
repaired, bad files are refused with one sentence (W2VError, never another exception), imports are bounded."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.conftest import returns_within
from w2v_core import store
from w2v_core.store import disk, format as store_format, share
from w2v_core.errors import W2VError
from w2v_core.vectors import WordVectors

DEAD_PID = 2**30  # above any pid_max: no such process


def _vectors(n: int = 6, d: int = 4, seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(n)]
    return WordVectors(words, rng.standard_normal((n, d)).astype(np.float32), np.arange(n, 0, -1))


def _save(path: Path, seed: int = 0, name: str | None = None) -> Path:
    return store.save_model(path, _vectors(seed=seed), {"name": name or path.name})


def _leftover(root: Path, name: str, kind: str, pid: int = DEAD_PID, age_s: float = 0.0) -> Path:
    """The marked name a save by ``pid`` started ``age_s`` seconds ago uses for ``kind``."""
    return root / disk._marked_name(name, kind, f"{pid}-{int(time.time() - age_s):08x}-abc123")


# ---------------------------------------------------------------------------------------------- destinations


def test_a_folder_holding_other_files_is_refused_and_left_alone(tmp_path):
    dest = tmp_path / "thesis"
    dest.mkdir()
    (dest / "chapter1.tex").write_text("my work")
    (dest / "vocab.tsv").write_text("mine\t1\n")  # a name a model uses, but not ours
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    with pytest.raises(W2VError, match="not a Word2Vec Explorer model.*chapter1.tex"):
        store.check_model_destination(dest)
    with pytest.raises(W2VError, match="not a Word2Vec Explorer model"):
        _save(dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    only_ours_names = tmp_path / "lookalike"  # only model file names, but no config.json of ours
    only_ours_names.mkdir()
    (only_ours_names / "vocab.tsv").write_text("x\t1\n")
    with pytest.raises(W2VError, match="vocab.tsv"):
        store.check_model_destination(only_ours_names)


def test_destinations_that_are_accepted(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert store.check_model_destination(empty) == empty
    model = _save(tmp_path / "m")
    assert store.check_model_destination(model) == model  # a model of ours is replaced
    deep = tmp_path / "a" / "b" / "c"
    assert store.check_model_destination(deep) == deep
    assert not (tmp_path / "a").exists()  # the probe leaves no folders behind


@pytest.mark.parametrize("case", ["file", "cwd", "parent of cwd", "proc", "symlink"])
def test_destinations_that_are_refused_at_once(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    dest = {"file": "f.txt", "cwd": ".", "parent of cwd": "..", "proc": "/proc/x", "symlink": "link"}[case]
    with pytest.raises(W2VError) as e:
        store.check_model_destination(dest)
    assert "\n" not in str(e.value)
    assert (tmp_path / "f.txt").read_text() == "x" and (tmp_path / "real").is_dir()


def test_delete_removes_only_what_we_wrote(tmp_path):
    m = _save(tmp_path / "m")
    (m / "notes.txt").write_text("mine")
    with pytest.raises(W2VError, match="notes.txt"):
        store.delete_model(m)
    assert (m / "notes.txt").read_text() == "mine" and (m / store.WEIGHTS).is_file()
    (m / "notes.txt").unlink()
    (m / store.CONFIG).write_text("{broken")  # a damaged model can still be deleted
    store.delete_model(m)
    assert not m.exists()


# ---------------------------------------------------------------------------------------------- replacing, killed saves


def test_replacing_a_model_keeps_it_listed_at_every_step(tmp_path, monkeypatch):
    root = tmp_path / "models"
    m = _save(root / "m", seed=1)
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):
        real_replace(src, dst)
        seen.append([i.path.name for i in store.list_records(root)])  # what a page would list right now
        if Path(dst).name == "m":
            seen.append(store.load_model(root / "m").vectors.vectors.copy())

    monkeypatch.setattr(os, "replace", watching_replace)
    _save(root / "m", seed=2)
    monkeypatch.setattr(os, "replace", real_replace)
    assert [s for s in seen if isinstance(s, list)] == [["m"], ["m"]]
    np.testing.assert_array_equal(store.load_model(m).vectors.vectors, _vectors(seed=2).vectors)
    assert sorted(p.name for p in root.iterdir()) == ["m"]


def test_killed_between_the_two_renames_finishes_the_replacement(tmp_path):
    root = tmp_path / "models"
    _save(root / "m", seed=1)
    new = _save(root / "new", seed=2)
    aside = _leftover(root, "m", "old")
    os.replace(root / "m", aside)  # the old copy moved aside ...
    os.replace(new, aside.with_name(aside.name.replace("w2v-old", "w2v-new")))  # ... the new one never renamed in
    assert [i.path.name for i in store.list_records(root)] == ["m"]
    np.testing.assert_array_equal(store.load_model(root / "m").vectors.vectors, _vectors(seed=2).vectors)
    assert sorted(p.name for p in root.iterdir()) == ["m"]


def test_killed_with_only_the_aside_copy_restores_the_old_model(tmp_path):
    root = tmp_path / "models"
    _save(root / "m", seed=1)
    os.replace(root / "m", _leftover(root, "m", "old", age_s=7 * 3600))  # any pid: older than any save
    half = _leftover(root, "other", "new")  # a first save killed while writing
    half.mkdir()
    (half / store.VOCAB).write_text("a\t1\n")
    done = store.repair_models_dir(root)
    assert any("restored" in line for line in done)
    assert sorted(p.name for p in root.iterdir()) == ["m"]
    np.testing.assert_array_equal(store.load_model(root / "m").vectors.vectors, _vectors(seed=1).vectors)


def test_a_save_still_running_is_read_through_its_aside_copy_and_left_alone(tmp_path):
    root = tmp_path / "models"
    _save(root / "m", seed=1)
    aside = _leftover(root, "m", "old", pid=os.getpid())  # this process, now: another thread mid-swap
    os.replace(root / "m", aside)
    assert store.repair_models_dir(root) == []
    assert [(i.name, i.path) for i in store.list_records(root)] == [("m", root / "m")]
    np.testing.assert_array_equal(store.load_model(root / "m").vectors.vectors, _vectors(seed=1).vectors)
    assert aside.is_dir()
    assert store.new_model_slot(root, "m")[0] == root / "m-2"  # the name is still taken


def test_leftovers_holding_foreign_files_and_unmarked_folders_are_never_removed(tmp_path):
    root = tmp_path / "models"
    _save(root / "m")
    stale = _leftover(root, "x", "new")
    stale.mkdir()
    (stale / "precious.docx").write_text("not ours")
    for name in (".hidden", ".m.1234.tmp", "mine"):
        (root / name).mkdir()
        (root / name / "f").write_text("keep")
    part = root / "m" / disk._marked_name(store.CONFIG, "part", f"{DEAD_PID}-{int(time.time()):08x}-abc123")
    part.write_text("{")
    store.list_records(root)
    assert (stale / "precious.docx").read_text() == "not ours"
    assert all((root / n / "f").read_text() == "keep" for n in (".hidden", ".m.1234.tmp", "mine"))
    assert not part.exists()  # a stale temporary file inside a model folder is ours: cleaned


def test_a_failed_save_leaves_no_leftovers(tmp_path, monkeypatch):
    root = tmp_path / "models"
    _save(root / "m", seed=1)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    vec = _vectors(seed=2)
    monkeypatch.setattr(vec, "save_word2vec_format", boom)
    with pytest.raises(RuntimeError):
        store.save_model(root / "m", vec, {})
    assert sorted(p.name for p in root.iterdir()) == ["m"]


# ---------------------------------------------------------------------------------------------- validation


def _write_weights(folder: Path, tensors: dict, torch_dtype=None) -> None:
    if torch_dtype is not None:
        import torch
        from safetensors.torch import save_file as save_torch

        save_torch({k: torch.from_numpy(v).to(torch_dtype) for k, v in tensors.items()}, str(folder / store.WEIGHTS))
    else:
        save_file(tensors, str(folder / store.WEIGHTS))


@pytest.mark.parametrize("case,expected", [
    ("nan", "NaN or infinite"), ("inf out", "NaN or infinite"), ("f64", "F64"), ("i64", "I64"),
    ("bool", "BOOL"), ("width 0", "empty"), ("dim 1001", "1001 numbers"), ("rows", "6 words but the weights"),
    ("out shape", "table 'out' has shape"), ("1-d", "instead of 2"),
])
def test_bad_tables_are_refused_with_one_sentence(case, expected, tmp_path):
    m = _save(tmp_path / "m")
    v = _vectors().vectors
    tensors = {
        "nan": {"in": np.where(np.arange(v.size).reshape(v.shape) == 5, np.nan, v).astype(np.float32)},
        "inf out": {"in": v, "out": np.full_like(v, np.inf)},
        "f64": {"in": v.astype(np.float64)},
        "i64": {"in": v.astype(np.int64)},
        "bool": {"in": v > 0},
        "width 0": {"in": np.zeros((6, 0), np.float32)},
        "dim 1001": {"in": np.zeros((6, 1001), np.float32)},
        "rows": {"in": v[:5]},
        "out shape": {"in": v, "out": v[:, :3].copy()},
        "1-d": {"in": v[:, 0].copy()},
    }[case]
    _write_weights(m, tensors)
    with pytest.raises(W2VError, match=expected) as e:
        store.load_model(m)
    assert "\n" not in str(e.value)
    if case != "rows":
        with pytest.raises(W2VError):
            store.read_tensors(m)


def test_half_precision_tables_are_read_as_exact_float32(tmp_path):
    import torch

    m = _save(tmp_path / "m")
    v = _vectors().vectors
    for dtype in (torch.bfloat16, torch.float16):
        _write_weights(m, {"in": v, "out": v}, torch_dtype=dtype)
        got = store.load_model(m).vectors.vectors
        want = torch.from_numpy(v).to(dtype).float().numpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
        assert store.read_tensors(m)["out"].dtype == np.float32


@pytest.mark.parametrize("patch,expected", [
    ({"summary": "fast"}, "'summary' must be an object, not a string"),
    ({"format_version": "x"}, "'format_version' must be a whole number, not a string"),
    ({"format_version": True}, "'format_version' must be a whole number"),
    ({"format_version": 0}, "format_version must be 1 or more"),
    ({"format_version": 99}, "newer version"),
    ({"name": 7}, "'name' must be a string"),
    ({"name": "x" * 500}, "longer than"),
    ({"model": {"dim": "16"}}, "'model.dim' must be a whole number"),
    ({"summary": {"final_loss": "low"}}, "'summary.final_loss' must be a number"),
    ({"format": "other"}, "not a Word2Vec Explorer model config"),
])
def test_malformed_config_is_refused_with_one_sentence(patch, expected, tmp_path):
    m = _save(tmp_path / "m")
    cfg = json.loads((m / store.CONFIG).read_text())
    cfg.update(patch)
    (m / store.CONFIG).write_text(json.dumps(cfg))
    with pytest.raises(W2VError, match=expected) as e:
        store.load_model(m)
    assert "\n" not in str(e.value)
    with pytest.raises(W2VError, match=expected):
        store.validate_config(cfg)
    assert store.list_records(tmp_path) == []  # skipped, not fatal


def test_validate_config_accepts_what_the_app_writes(tiny_model):
    cfg = json.loads((tiny_model / store.CONFIG).read_text())
    assert store.validate_config(cfg) is cfg
    cfg["future_field"] = {"anything": [1, "x"]}
    cfg["model"]["new_knob"] = "ok"
    store.validate_config(cfg)
    for bad in ([], "x", None, {"format": store.FORMAT}):
        with pytest.raises(W2VError):
            store.validate_config(bad)


@pytest.mark.parametrize("what", ["config fifo", "vocab fifo", "huge config", "deep json", "config folder",
                                  "unreadable weights"])
def test_special_and_oversized_files_in_a_model_folder_never_block_or_crash(what, tmp_path):
    m = _save(tmp_path / "m")
    if what == "config fifo":
        (m / store.CONFIG).unlink()
        os.mkfifo(m / store.CONFIG)
    elif what == "vocab fifo":
        (m / store.VOCAB).unlink()
        os.mkfifo(m / store.VOCAB)
    elif what == "huge config":
        with open(m / store.CONFIG, "a") as f:
            f.write(" " * (store.MAX_CONFIG_BYTES + 1))
    elif what == "deep json":
        (m / store.CONFIG).write_text("[" * 100_000 + "]" * 100_000)
    elif what == "config folder":
        (m / store.CONFIG).unlink()
        (m / store.CONFIG).mkdir()
    else:
        (m / store.WEIGHTS).unlink()
        (m / store.WEIGHTS).mkdir()
    with pytest.raises(W2VError):
        returns_within(lambda: store.load_model(m))
    listed = returns_within(lambda: store.list_records(tmp_path))  # the listing reads config.json only
    bad_config = what in ("config fifo", "huge config", "deep json", "config folder")
    assert [i.path for i in listed] == ([] if bad_config else [m])


def test_a_broken_folder_beside_a_good_one_never_breaks_the_listing(tmp_path):
    good = _save(tmp_path / "good")
    bad = _save(tmp_path / "bad")
    cfg = json.loads((bad / store.CONFIG).read_text())
    (bad / store.CONFIG).write_text(json.dumps({**cfg, "summary": "a string"}))
    (good / store.SCORES).write_text("[1, 2]")  # scores of the wrong shape are ignored, not shown
    (good / store.HISTORY).write_text(json.dumps({"batch": "oops"}))
    infos = store.list_records(tmp_path)
    assert [i.name for i in infos] == ["good"] and infos[0].scores is None
    shown = {r.path.name: r.error for r in store.list_records(tmp_path, broken=True)}
    assert shown["good"] is None and "'summary' must be an object" in shown["bad"]
    assert store.load_model(good).history == {"batch": [], "epoch": []}


def test_the_dimension_limits_are_the_trainers():
    from w2v_core.models import ModelConfig

    lo, hi = store_format.DIM_RANGE  # what a model folder's tables are checked against
    for dim in (lo, hi):
        ModelConfig(dim=dim).validate()
    for dim in (lo - 1, hi + 1):
        with pytest.raises(W2VError):
            ModelConfig(dim=dim).validate()


# ---------------------------------------------------------------------------------------------- bounded imports


def _model_zip(tiny_model: Path, extra: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
               method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for f in sorted(tiny_model.iterdir()):
            if f.name not in drop and f.name not in (extra or {}):
                z.write(f, f"m/{f.name}")
        for name, data in (extra or {}).items():
            z.writestr(f"m/{name}", data)
    return buf.getvalue()


@pytest.fixture
def written(monkeypatch):
    """Bytes in the import's temporary folder when it is removed (what a refused import had written)."""
    sizes: list[int] = []
    real = share._remove_ours

    def measuring(folder):
        if folder.is_dir():
            sizes.append(sum(f.stat().st_size for f in folder.iterdir()))
        return real(folder)

    monkeypatch.setattr(share, "_remove_ours", measuring)  # where the import calls it
    return sizes


def test_zip_bomb_stops_at_the_cap(tiny_model, tmp_path, written):
    dest = tmp_path / "dest"
    dest.mkdir()
    # config.json of 40 MB of spaces (valid JSON once parsed!) packs into ~40 kB: the 1 MB cap for config.json stops it
    cfg = (tiny_model / store.CONFIG).read_bytes()
    bomb = _model_zip(tiny_model, {store.CONFIG: cfg[:-1] + b" " * 40_000_000 + b"}"})
    assert len(bomb) < 200_000
    with pytest.raises(W2VError, match="unpacks to more than") as e:
        store.import_zip(bomb, dest)
    assert "\n" not in str(e.value)
    others = sum(f.stat().st_size for f in tiny_model.iterdir() if f.name != store.CONFIG)
    assert written and max(written) <= store.MAX_CONFIG_BYTES + others  # config.json stopped at its 1 MB cap
    assert list(dest.iterdir()) == []
    # a whole model past the total cap: refused from the header before anything is written
    with pytest.raises(W2VError, match="unpacks to more than"):
        store.import_zip(_model_zip(tiny_model, {store.HISTORY: b" " * 3_000_000}), dest, max_bytes=2_000_000)
    assert list(dest.iterdir()) == []


def test_zip_whose_header_lies_about_sizes_writes_no_more_than_it_claims(tiny_model, tmp_path, written):
    dest = tmp_path / "dest"
    dest.mkdir()
    big = b"{" + b" " * 7_000_000 + b"}"  # 7 MB, compresses to ~7 kB
    data = _model_zip(tiny_model, {store.HISTORY: big})
    lie = data.replace(struct.pack("<L", len(big)), struct.pack("<L", 1000))  # local and central headers
    with pytest.raises(W2VError, match="damaged") as e:
        store.import_zip(lie, dest)
    assert "\n" not in str(e.value)
    assert written and all(n < 5_000_000 for n in written)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("case,expected", [
    ("two models", "more than one"),
    ("bzip2", "method"),
    ("nan weights", "NaN"),
    ("bad config", "'summary' must be an object"),
])
def test_bad_zips_are_refused_with_one_sentence(case, expected, tiny_model, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    if case == "two models":
        buf = io.BytesIO(_model_zip(tiny_model))
        with zipfile.ZipFile(buf, "a") as z:
            z.writestr("other/config.json", (tiny_model / store.CONFIG).read_bytes())
        data = buf.getvalue()
    elif case == "bzip2":
        data = _model_zip(tiny_model, method=zipfile.ZIP_BZIP2)
    elif case == "nan weights":
        t = store.read_tensors(tiny_model)
        t["in"][0, 0] = np.nan
        f = tmp_path / "w.safetensors"
        save_file(t, str(f))
        data = _model_zip(tiny_model, {store.WEIGHTS: f.read_bytes()})
    else:
        cfg = json.loads((tiny_model / store.CONFIG).read_text())
        data = _model_zip(tiny_model, {store.CONFIG: json.dumps({**cfg, "summary": "x"}).encode()})
    with pytest.raises(W2VError, match=expected) as e:
        store.import_zip(data, dest)
    assert "\n" not in str(e.value) and ".w2v-" not in str(e.value)  # no temporary names in the message
    assert list(dest.iterdir()) == []


def test_zip_without_vectors_txt_gets_one_and_file_objects_work(tiny_model, tmp_path):
    dest = tmp_path / "new" / "dest"  # created on import
    p = store.import_zip(io.BytesIO(_model_zip(tiny_model, drop=(store.VECTORS_TXT,))), dest, name="Renamed")
    m = store.load_model(p)
    assert m.name == "Renamed"
    assert (p / store.VECTORS_TXT).read_text().splitlines()[0] == f"{len(m.vectors)} 16"


@pytest.mark.parametrize("case,expected", [
    ("nan text", "NaN or infinite"),
    ("inf binary", "NaN or infinite"),
    ("huge binary header", "says it holds 100,000,000,000 vectors"),
    ("dim 0 header", "0 numbers"),
    ("dim 5000", "5000 numbers"),
    ("width 1", "1 numbers"),
])
def test_bad_vectors_files_are_refused_before_anything_is_allocated(case, expected, tmp_path):
    src = tmp_path / "vecs.txt"
    if case == "nan text":
        src.write_text("a 0.1 0.2\nb nan 0.3\n")
    elif case == "inf binary":
        src.write_bytes(b"1 2\na " + np.array([np.inf, 1], "<f4").tobytes() + b"\n")
    elif case == "huge binary header":
        src.write_bytes(b"100000000000 300\n" + b"w\x00\x01\x02" * 100)
    elif case == "dim 0 header":
        src.write_text("2 0\na\nb\n")
    elif case == "dim 5000":
        src.write_text("a " + " ".join(["0.1"] * 5000) + "\n")
    else:
        src.write_text("a 0.1\nb 0.2\n")
    with pytest.raises(W2VError, match=expected) as e:
        returns_within(lambda: store.import_vectors(src, tmp_path / "models"))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []
