"""Sharing models: zip export and import, imported word2vec vectors, and export to other tools' formats.

An imported zip is untrusted: members are checked by name and kind, unpacked in bounded steps under per-file and
total caps (a zip bomb stops at the cap), into a marked temporary folder that only becomes a model once it loads.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.store.disk import (CONFIG, HISTORY, KNOWN_FILES, MAX_CONFIG_BYTES, PICKLE_SUFFIXES, SCORES,
                                 SNAPSHOTS, VECTORS_TXT, VOCAB, WEIGHTS, _json_default, _marked_name, _readable_dir,
                                 _remove_ours, check_export_destination, check_writable_folder,
                                 models_dir)
from w2v_core.store.format import (_check_folder, load_model, new_model_slot, read_config, read_tensors, save_model,
                                   validate_tensors)
from w2v_core.vectors import WordVectors

log = logging.getLogger(__name__)


def zip_model(path: str | os.PathLike) -> bytes:
    """The model folder as a zip (for download); its config.json names no server path (see public_config)."""
    p = Path(path)
    d = _readable_dir(p)
    _check_folder(d)
    cfg = public_config(read_config(p))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(d.iterdir()):
            if f.name == CONFIG:
                z.writestr(f"{p.name}/{CONFIG}", json.dumps(cfg, indent=2, default=_json_default))
            elif f.name in KNOWN_FILES:
                z.write(f, f"{p.name}/{f.name}")
    return buf.getvalue()


def public_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config.json fit to leave the server: a corpus read from a file is named by the file's name only.

    Why: the path of an upload or a server file says where the server keeps its data (on a shared server, a
    visitor's private workspace); a model shared with someone else must not carry it.
    """
    out = json.loads(json.dumps(cfg, default=_json_default))
    corpus = out.get("corpus")
    cc = corpus.get("config") if isinstance(corpus, dict) else None
    if isinstance(cc, dict) and isinstance(cc.get("source"), str) and re.search(r"[/\\]", cc["source"]):
        cc["source"] = re.split(r"[/\\]", cc["source"])[-1]
    return out


MAX_IMPORT_BYTES = 1024**3  # what an imported zip may unpack to, counted as the bytes actually written
MAX_ZIP_MEMBERS = 10_000
_MEMBER_CAPS = {CONFIG: MAX_CONFIG_BYTES, SCORES: 1024**2, HISTORY: 8 * 1024**2}  # others: the total cap
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # the decompressors that read in bounded steps
_TABLES = ("in", "out", "out_bias")  # the tables a model keeps; anything else in weights.safetensors is dropped
Reserve = Callable[[int], object]  # called with a model's size in bytes before it is written; raises to refuse


def model_size_bound(vectors: WordVectors, tensors: dict[str, np.ndarray], extra: int = 0) -> int:
    """At most how many bytes :func:`save_model` writes for these tables (vectors.txt: 13 characters a number)."""
    words = sum(len(w.encode("utf-8")) for w in vectors.words)
    V, D = vectors.vectors.shape
    return (sum(t.nbytes + 256 for t in tensors.values()) + 2 * words + V * (D * 13 + 24) + extra + 64 * 1024)


def import_zip(data: bytes | BinaryIO, root: str | os.PathLike | None = None, name: str | None = None,
               max_bytes: int = MAX_IMPORT_BYTES, reserve: Reserve | None = None) -> Path:
    """Unpack an uploaded model zip, validate every file, and store it as a new, compact model folder under ``root``.

    Members are streamed to a marked temporary folder in 1 MB steps, each stopped at the size the zip declares for
    it (and a per-file cap, and ``max_bytes`` in all), so a zip bomb stops at the cap. Only the known file names are
    unpacked, flat (no path can escape the folder); a pickle-style file refuses the zip. The model is then written
    afresh from what was read (the tables a model has, vocab.tsv and vectors.txt made here), so padding in the zip's
    files is not kept; ``reserve`` is called with its size before it is written.
    """
    root = Path(root) if root is not None else models_dir()
    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if isinstance(data, (bytes, bytearray, memoryview)) and not data:
        raise W2VError("The uploaded file is empty.")
    try:
        z = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        raise W2VError("That is not a zip file. Upload a model folder zipped by the Models page "
                       "(or import plain word2vec/GloVe text vectors instead).") from None
    with z:
        files = _model_members(z, max_bytes)
        check_writable_folder(root)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / _marked_name("import", "new")
        os.mkdir(tmp)
        try:
            written = 0
            for base, info in files.items():  # only known names, written flat: no path traversal possible
                cap = min(info.file_size, _MEMBER_CAPS.get(base, max_bytes), max_bytes - written)
                written += _unpack_member(z, info, tmp / base, cap, max_bytes)
            final = _store_compact(tmp, root, name, reserve)
        except W2VError as e:
            _remove_ours(tmp)
            raise type(e)(str(e).replace(tmp.name, "the zip")) from None
        except BaseException:
            _remove_ours(tmp)
            raise
    _remove_ours(tmp)
    log.info("imported a model zip to %s (%d bytes unpacked)", final, written)
    return final


def _store_compact(tmp: Path, root: Path, name: str | None, reserve: Reserve | None) -> Path:
    """The unpacked folder ``tmp``, validated, written as a new model folder under ``root`` from what it holds."""
    m = load_model(tmp)  # validates everything
    tensors = {k: v for k, v in read_tensors(tmp, len(m.vectors)).items() if k in _TABLES}
    snaps = tmp / SNAPSHOTS
    if snaps.is_file():
        check_snapshots_file(snaps)
    extra = sum(len(json.dumps(x, indent=2, default=_json_default)) for x in (m.history, m.scores, m.config))
    extra += snaps.stat().st_size if snaps.is_file() else 0
    if reserve is not None:
        reserve(model_size_bound(m.vectors, tensors, extra))
    final, unique = new_model_slot(root, name or str(m.config.get("name") or "model"))
    save_model(final, m.vectors, {**m.config, "name": unique}, tensors, m.history, m.scores)
    if snaps.is_file():
        os.replace(snaps, final / SNAPSHOTS)
    return final


# what a snapshots file may hold (a training run here writes at most 24 frames of 1000 words, 16 MB): checked from
# the header before any number is read, so an imported file cannot make a replay take minutes and gigabytes
MAX_FRAMES, MAX_WORDS, MAX_FILE_BYTES, MAX_HEADER_BYTES = 100, 5000, 32 * 2**20, 4 * 2**20


def check_snapshots_file(path: str | os.PathLike) -> None:
    """Refuse (W2VError) a snapshots file whose header names more frames, words or bytes than a replay may take."""
    path = Path(path)
    damaged = W2VError(f"{path.parent.name}/{path.name} is damaged or too large to replay (at most {MAX_FRAMES} "
                       f"frames of {MAX_WORDS:,} words, {MAX_FILE_BYTES // 2**20} MB). Delete it (the model itself is "
                       "fine) or train the model again.")
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if size > MAX_FILE_BYTES or not 0 < n <= min(MAX_HEADER_BYTES, size - 8):
                raise damaged
            header = json.loads(f.read(n))
        shape = header["vectors"]["shape"]
        K, N, D = (int(x) for x in shape)
    except (OSError, ValueError, KeyError, TypeError):
        raise damaged from None
    if len(shape) != 3 or not (1 <= K <= MAX_FRAMES and 1 <= N <= MAX_WORDS and 1 <= D <= 1000) \
            or K * N * D * 4 > MAX_FILE_BYTES:
        raise damaged


def _model_members(z: zipfile.ZipFile, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """The zip's model files by name, refusing (before anything is written) what cannot be one of our models.

    vectors.txt is not unpacked: it is written afresh from the weights (a padded one would take any size)."""
    infos = z.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise W2VError(f"The zip holds {len(infos):,} entries; a model folder has at most {len(KNOWN_FILES)}.")
    files: dict[str, zipfile.ZipInfo] = {}
    for i in infos:
        if i.is_dir():
            continue
        base = i.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if Path(base).suffix.lower() in PICKLE_SUFFIXES:
            raise W2VError(f"Refusing the zip: it contains {base}, a pickle-style file that could run code. "
                           "Model folders hold only JSON, TSV, text and .safetensors files.")
        if base not in KNOWN_FILES:
            continue
        if base in files:
            raise W2VError(f"The zip holds more than one {base}: upload one model folder per zip.")
        if i.compress_type not in _ZIP_METHODS:
            raise W2VError(f"The zip compresses {base} with a method this app does not unpack; zip the folder again "
                           "with the usual (deflate) compression.")
        files[base] = i
    if CONFIG not in files or WEIGHTS not in files or VOCAB not in files:
        raise W2VError(f"The zip is not a model folder: it needs {CONFIG}, {VOCAB} and {WEIGHTS}.")
    files.pop(VECTORS_TXT, None)
    if sum(i.file_size for i in files.values()) > max_bytes:
        raise W2VError(f"The zip unpacks to more than the {max_bytes / 1e6:,.1f} MB a model imported here may take "
                       f"now ({sum(i.file_size for i in files.values()) / 1e6:,.1f} MB); nothing was imported.")
    return files


def _unpack_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, cap: int, max_bytes: int) -> int:
    """Stream one member to ``dest``, stopping before more than ``cap`` bytes are written; returns bytes written."""
    n = 0
    try:
        with z.open(info) as src, open(dest, "xb") as out:
            while chunk := src.read(1024 * 1024):
                n += len(chunk)
                if n > cap:
                    raise W2VError(f"The zip's {dest.name} unpacks to more than "
                                   f"{min(cap, max_bytes) / 1e6:,.1f} MB (more than it says, or than a model "
                                   "folder imported here may take); it was not imported.")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, NotImplementedError) as e:
        raise W2VError(f"The zip is damaged or encrypted ({dest.name}: {str(e)[:80]}); zip the model folder "
                       "again.") from None
    return n


def import_vectors(src: str | os.PathLike, root: str | os.PathLike | None = None, name: str | None = None,
                   limit: int | None = None, reserve: Reserve | None = None) -> Path:
    """Import plain word2vec (text/binary) or GloVe text vectors as a model folder so they can be explored.

    The table is validated like a model's (finite, not absurdly large numbers, a dimension the app handles) before
    anything is written; ``reserve`` is called with the model's size before it is written.
    """
    src = Path(src)
    root = Path(root) if root is not None else models_dir()
    check_writable_folder(root)
    wv = WordVectors.load_word2vec_format(src, limit=limit)
    validate_tensors({"in": wv.vectors}, len(wv), src.name)
    if reserve is not None:
        reserve(model_size_bound(wv, {"in": wv.vectors}))
    path, name = new_model_slot(root, name or src.stem)
    cfg = {"name": name, "imported": True, "source_file": src.name,
           "summary": {"vocab_size": len(wv), "dim": wv.dim}}
    return save_model(path, wv, cfg)


def export_model(path: str | os.PathLike, fmt: str, out: str | os.PathLike) -> list[Path]:
    """Write a model in another format: ``projector`` (vectors.tsv + metadata.tsv into folder ``out``),
    ``word2vec-binary``, ``word2vec-text`` or ``vec`` (fastText's .vec: the same text format; for a subword model the
    vocabulary words' vectors built from their pieces, as fastText writes them) into file ``out``. Returns the
    written files."""
    m = load_model(path)
    out = Path(out)
    if fmt == "projector":
        check_export_destination(out, folder=True)  # nothing is overwritten
        return list(m.vectors.save_projector(out))
    if fmt in ("word2vec-binary", "word2vec-text", "vec"):  # vec: fastText's .vec, word2vec's text format
        if out.is_dir() and not out.is_symlink():
            out = out / {"word2vec-binary": "vectors.bin", "word2vec-text": "vectors.txt", "vec": "vectors.vec"}[fmt]
        check_export_destination(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(_marked_name(out.name, "part"))
        try:
            m.vectors.save_word2vec_format(tmp, binary=fmt == "word2vec-binary")
            _place_new(tmp, out)
        except FileExistsError:
            raise W2VError(f"{out} appeared while the export was written; nothing was overwritten.") from None
        finally:
            tmp.unlink(missing_ok=True)
        return [out]
    raise W2VError(f"Unknown export format '{fmt}': choose projector, word2vec-binary, word2vec-text or vec.")


def _place_new(tmp: Path, out: Path) -> None:
    """Give the finished file ``tmp`` the name ``out``, which must not exist (FileExistsError if it appeared)."""
    try:
        os.link(tmp, out)  # unlike a rename, never replaces a file that appeared meanwhile
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: copy into a file created exclusively
        with open(tmp, "rb") as src, open(out, "xb") as dst:
            while chunk := src.read(1024 * 1024):
                dst.write(chunk)
