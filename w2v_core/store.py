"""Model folders on disk: how a trained model is saved, listed, loaded, shared and imported.

:func:`read_record` reads what a folder says about itself (settings, training summary, scores, file stamps)
into a :class:`ModelRecord` without loading the weights; :func:`list_records` lists them; :func:`load_model`
loads the vectors.

A model folder holds only data formats that cannot run code when opened:

    config.json          how it was made (corpus, model and training configs, summary), its name, format version
    vocab.tsv            word <TAB> corpus count, one per line, in row order
    weights.safetensors  ``in`` (the word vectors, V x D), ``out`` (output table) and ``out_bias`` when trained
    vectors.txt          the word vectors in word2vec text format (gensim's ``load_word2vec_format`` reads it)
    history.json         the loss curve (per report and per epoch)
    scores.json          benchmark scores, once evaluated

No pickle anywhere: a folder that carries a pickle-based file (``.pkl``, ``.pt``, ...) or whose weights are not valid
safetensors is refused with a message. Every write goes to a temporary folder/file first and is renamed into
place, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from w2v_core.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.vectors import WordVectors

log = logging.getLogger(__name__)

FORMAT = "w2v-explorer-model"
FORMAT_VERSION = 1
CONFIG, VOCAB, WEIGHTS, VECTORS_TXT, HISTORY, SCORES = (
    "config.json", "vocab.tsv", "weights.safetensors", "vectors.txt", "history.json", "scores.json")
KNOWN_FILES = {CONFIG, VOCAB, WEIGHTS, VECTORS_TXT, HISTORY, SCORES}
PICKLE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz", ".model", ".sav"}
MAX_ZIP_BYTES = 2 * 1024**3  # uncompressed size accepted from an uploaded zip


def models_dir() -> Path:
    """Where the app keeps models: $W2V_MODELS_DIR, else ./models (created on first use)."""
    p = Path(os.environ.get("W2V_MODELS_DIR") or Path.cwd() / "models")
    p.mkdir(parents=True, exist_ok=True)
    return p


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return s[:80] or "model"


def new_model_path(root: str | os.PathLike, name: str) -> Path:
    """A folder name under ``root`` for ``name`` that is not taken yet."""
    root = Path(root)
    base = slug(name)
    p, i = root / base, 2
    while p.exists():
        p, i = root / f"{base}-{i}", i + 1
    return p


# ---------------------------------------------------------------------------------------------- atomic writes


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, json.dumps(obj, indent=2, default=_json_default).encode("utf-8"))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _fix_modes(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder; give the model folder the modes of any other new folder."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~umask)


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written folder into place, replacing an old one only after the new one is complete."""
    if final.exists():
        old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


# ---------------------------------------------------------------------------------------------- save


def save_model(path: str | os.PathLike, vectors: WordVectors, config: dict[str, Any],
               tensors: dict[str, np.ndarray] | None = None, history: dict[str, list] | None = None,
               scores: dict[str, Any] | None = None) -> Path:
    """Write a complete model folder at ``path`` (atomically). ``tensors`` defaults to ``{"in": vectors}``."""
    from safetensors.numpy import save_file

    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        cfg = dict(config)
        cfg.setdefault("name", final.name)
        cfg.setdefault("created", time.strftime("%Y-%m-%d %H:%M:%S"))
        cfg["format"], cfg["format_version"] = FORMAT, FORMAT_VERSION
        cfg["vocab_size"], cfg["dim"] = len(vectors), vectors.dim
        tensors = dict(tensors) if tensors else {"in": vectors.vectors}
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
        if tensors["in"].shape != vectors.vectors.shape:
            raise ValueError("tensors['in'] must be the word vectors")
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        counts = vectors.counts if vectors.counts is not None else np.zeros(len(vectors), dtype=np.int64)
        with open(tmp / VOCAB, "w", encoding="utf-8") as f:
            for w, c in zip(vectors.words, counts.tolist()):
                if "\t" in w or "\n" in w:
                    raise W2VError(f"The word {w!r} contains a tab or newline and cannot be saved.")
                f.write(f"{w}\t{c}\n")
        vectors.save_word2vec_format(tmp / VECTORS_TXT)
        (tmp / CONFIG).write_text(json.dumps(cfg, indent=2, default=_json_default), encoding="utf-8")
        (tmp / HISTORY).write_text(json.dumps(history or {"batch": [], "epoch": []}, default=_json_default),
                                   encoding="utf-8")
        if scores is not None:
            (tmp / SCORES).write_text(json.dumps(scores, indent=2, default=_json_default), encoding="utf-8")
        _fix_modes(tmp)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved model to %s", final)
    return final


def save_scores(path: str | os.PathLike, scores: dict[str, Any]) -> None:
    """Store benchmark scores in a model folder (shown on its model card)."""
    p = Path(path)
    _check_folder(p)
    _write_json(p / SCORES, scores)


def rename_model(path: str | os.PathLike, new_name: str) -> None:
    """Change the display name in config.json (the folder keeps its name, so links stay valid)."""
    new_name = new_name.strip()
    if not new_name:
        raise W2VError("A model name cannot be empty.")
    p = Path(path)
    cfg = read_config(p)
    cfg["name"] = new_name
    _write_json(p / CONFIG, cfg)


def delete_model(path: str | os.PathLike) -> None:
    p = Path(path)
    if not (p / CONFIG).is_file():
        raise W2VError(f"{p} is not a model folder; nothing was deleted.")
    shutil.rmtree(p)


# ---------------------------------------------------------------------------------------------- load


def _check_folder(p: Path) -> None:
    if not p.is_dir():
        raise W2VError(f"Model folder not found: {p}")
    if not (p / CONFIG).is_file():
        raise W2VError(f"{p} is not a model folder (no {CONFIG}). Train a model or import one first.")
    bad = sorted(f.name for f in p.iterdir() if f.suffix.lower() in PICKLE_SUFFIXES)
    if bad:
        raise W2VError(f"Refusing to open {p.name}: it contains {', '.join(bad)}, a pickle-style file that could run "
                       "code when loaded. Model folders hold only JSON, TSV, text and .safetensors files.")


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """config.json of a model folder (validated)."""
    p = Path(path)
    _check_folder(p)
    try:
        cfg = json.loads((p / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise W2VError(f"{p.name}/{CONFIG} is not valid JSON ({e}); the folder is damaged.") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise W2VError(f"{p.name}/{CONFIG} is not a Word2Vec Explorer model config.")
    if int(cfg.get("format_version", 0)) > FORMAT_VERSION:
        raise W2VError(f"{p.name} was saved by a newer version of Word2Vec Explorer; update the app to open it.")
    return cfg


def _read_vocab(p: Path) -> tuple[list[str], np.ndarray]:
    words, counts = [], []
    try:
        with open(p / VOCAB, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                w, _, c = line.rstrip("\n").rpartition("\t")
                if not _:
                    raise W2VError(f"{p.name}/{VOCAB}, line {ln}: expected 'word<TAB>count'.")
                words.append(w)
                counts.append(int(c))
    except FileNotFoundError:
        raise W2VError(f"{p.name} has no {VOCAB}; the folder is incomplete.") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise W2VError(f"{p.name}/{VOCAB} is damaged ({e}).") from None
    return words, np.asarray(counts, dtype=np.int64)


def read_tensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays in weights.safetensors (no code runs: safetensors is a plain header + raw numbers)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    p = Path(path) / WEIGHTS
    if not p.is_file():
        raise W2VError(f"{Path(path).name} has no {WEIGHTS}; the folder is incomplete.")
    try:
        t = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as e:
        raise W2VError(f"{Path(path).name}/{WEIGHTS} is not a valid safetensors file ({e}); it may be damaged or "
                       "tampered with, so it was not opened.") from None
    if "in" not in t or t["in"].ndim != 2:
        raise W2VError(f"{Path(path).name}/{WEIGHTS} has no word-vector table 'in'.")
    return t


@dataclass
class Model:
    """A loaded model folder."""

    path: Path
    config: dict[str, Any]
    vectors: WordVectors
    history: dict[str, list] = field(default_factory=lambda: {"batch": [], "epoch": []})
    scores: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)

    @property
    def imported(self) -> bool:
        return bool(self.config.get("imported"))

    def tensors(self) -> dict[str, np.ndarray]:
        return read_tensors(self.path)


def load_model(path: str | os.PathLike) -> Model:
    """Open a model folder, checking every file; W2VError explains what is wrong with a bad one."""
    p = Path(path)
    cfg = read_config(p)
    words, counts = _read_vocab(p)
    t = read_tensors(p)
    vec = t["in"]
    if vec.shape[0] != len(words):
        raise W2VError(f"{p.name}: {VOCAB} lists {len(words)} words but the weights have {vec.shape[0]} rows; "
                       "the folder is damaged.")
    history, scores = {"batch": [], "epoch": []}, None
    for name in (HISTORY, SCORES):
        if (p / name).is_file():
            try:
                obj = json.loads((p / name).read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                log.warning("%s/%s is damaged; ignored", p.name, name)
                continue
            if name == HISTORY and isinstance(obj, dict):
                history = obj
            elif name == SCORES and isinstance(obj, dict):
                scores = obj
    return Model(p, cfg, WordVectors(words, vec, counts), history, scores)


def stamp(path: str | os.PathLike) -> int:
    """Changes whenever a model folder is rewritten (new weights, a rename): the key for anything cached from it."""
    p = Path(path)
    try:
        return max(os.stat(p / WEIGHTS).st_mtime_ns, os.stat(p / CONFIG).st_mtime_ns)
    except OSError:
        return 0


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@dataclass(frozen=True)
class ModelRecord:
    """What a model folder says about itself, read and checked in one place, without loading the weights.

    Every page and tool that shows a model's name, settings, training summary or scores reads them here instead
    of digging into config.json. A folder that cannot be read is still a record, with ``error`` saying why, so a
    list can show it as broken instead of failing.
    """

    path: Path
    name: str
    error: str | None = None  # why the folder cannot be used; None for a good one
    config: dict[str, Any] = field(default_factory=dict, repr=False)  # config.json as saved
    imported: bool = False  # word vectors imported from a file: no training settings, no output layer
    source_file: str | None = None  # the imported file's name
    created: str = ""
    vocab_size: int | None = None
    dim: int | None = None
    model: ModelConfig | None = None  # how it was trained; None for imported vectors
    corpus: CorpusConfig | None = None  # how its corpus was loaded; None when the folder does not say
    corpus_name: str | None = None
    corpus_tokens: int | None = None
    train: dict[str, Any] = field(default_factory=dict)  # the training settings as run (epochs, lr, batch_size, seed)
    summary: dict[str, Any] = field(default_factory=dict)  # what training reported (final_loss, seconds, stopped)
    scores: dict[str, Any] | None = None  # scores.json; None until the model is evaluated
    stamp: int = 0  # see stamp(): changes when the weights or config.json are rewritten
    scores_stamp: int = 0  # scores.json's mtime; 0 while there is none

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def trained_here(self) -> bool:
        """Trained by this app (so it has an output layer and training settings), not imported vectors."""
        return self.ok and not self.imported and self.model is not None

    @property
    def epochs(self) -> int | None:
        return _number(self.train.get("epochs"), int)

    @property
    def lr(self) -> float | None:
        """The starting learning rate of the run (the trainer writes the default it used)."""
        return _number(self.train.get("lr"), float)

    @property
    def batch_size(self) -> int | None:
        return _number(self.train.get("batch_size"), int)

    @property
    def seed(self) -> int | None:
        return _number(self.train.get("seed"), int)

    @property
    def final_loss(self) -> float | None:
        return _number(self.summary.get("final_loss"), float)

    @property
    def seconds(self) -> float | None:
        return _number(self.summary.get("seconds"), float)

    @property
    def stopped(self) -> bool:
        return bool(self.summary.get("stopped"))


def _number(v: Any, kind: type) -> Any:
    return kind(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _typed(cls: type, d: Any) -> Any:
    """A config dataclass from its saved dict (unknown keys ignored); None when it does not fit."""
    if not isinstance(d, dict):
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in d.items() if k in names})
    except TypeError:
        return None


def _read_scores(p: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads((p / SCORES).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        log.warning("%s/%s is damaged; ignored", p.name, SCORES)
        return None
    return obj if isinstance(obj, dict) else None


def read_record(path: str | os.PathLike) -> ModelRecord:
    """The record of one model folder (never raises for a damaged folder: see ``ModelRecord.error``)."""
    p = Path(path)
    scores_stamp = _mtime(p / SCORES)  # before reading: scores written meanwhile are read again next time
    try:
        cfg = read_config(p)
    except W2VError as e:
        return ModelRecord(p, p.name, error=str(e))
    summary, corpus, mc = _dict(cfg.get("summary")), _dict(cfg.get("corpus")), _dict(cfg.get("model"))
    return ModelRecord(
        path=p, name=str(cfg.get("name") or p.name), config=cfg, imported=bool(cfg.get("imported")),
        source_file=cfg.get("source_file") if isinstance(cfg.get("source_file"), str) else None,
        created=str(cfg.get("created", "")),
        vocab_size=_number(cfg.get("vocab_size") or summary.get("vocab_size"), int),
        dim=_number(cfg.get("dim") or mc.get("dim"), int),
        model=_typed(ModelConfig, cfg.get("model")), corpus=_typed(CorpusConfig, corpus.get("config")),
        corpus_name=str(corpus["name"]) if corpus.get("name") is not None else None,
        corpus_tokens=_number(corpus.get("tokens"), int), train=_dict(cfg.get("train")), summary=summary,
        scores=_read_scores(p), stamp=stamp(p), scores_stamp=scores_stamp)


def list_records(root: str | os.PathLike | None = None, *, broken: bool = False) -> list[ModelRecord]:
    """The model folders under ``root`` (default: models_dir()), newest first.

    Folders that cannot be read are left out with a log line, or kept (with ``error`` set) when ``broken``.
    """
    root = Path(root) if root is not None else models_dir()
    out: list[ModelRecord] = []
    if not root.is_dir():
        return out
    for p in root.iterdir():
        if not p.is_dir() or p.name.startswith("."):
            continue
        r = read_record(p)
        if r.error is not None and not broken:
            log.warning("skipping %s: %s", p, r.error)
            continue
        out.append(r)
    out.sort(key=lambda r: (r.created, r.path.name), reverse=True)
    return out


# ---------------------------------------------------------------------------------------------- share


def zip_model(path: str | os.PathLike) -> bytes:
    """The model folder as a zip (for download)."""
    p = Path(path)
    _check_folder(p)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(p.iterdir()):
            if f.name in KNOWN_FILES:
                z.write(f, f"{p.name}/{f.name}")
    return buf.getvalue()


def import_zip(data: bytes, root: str | os.PathLike | None = None, name: str | None = None) -> Path:
    """Unpack an uploaded model zip into a new folder under ``root`` after validating every file."""
    root = Path(root) if root is not None else models_dir()
    if not data:
        raise W2VError("The uploaded file is empty.")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise W2VError("That is not a zip file. Upload a model folder zipped by the Models page "
                       "(or import plain word2vec/GloVe text vectors instead).") from None
    with z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise W2VError("The zip unpacks to more than 2 GB; that is not a model folder from this app.")
        files: dict[str, zipfile.ZipInfo] = {}
        for i in infos:
            base = i.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if Path(base).suffix.lower() in PICKLE_SUFFIXES:
                raise W2VError(f"Refusing the zip: it contains {base}, a pickle-style file that could run code. "
                               "Model folders hold only JSON, TSV, text and .safetensors files.")
            if base in KNOWN_FILES:
                files[base] = i
        if CONFIG not in files or WEIGHTS not in files or VOCAB not in files:
            raise W2VError(f"The zip is not a model folder: it needs {CONFIG}, {VOCAB} and {WEIGHTS}.")
        tmp = Path(tempfile.mkdtemp(prefix=".import.", dir=root))
        try:
            for base, info in files.items():  # only known names, written flat: no path traversal possible
                (tmp / base).write_bytes(z.read(info))
            _fix_modes(tmp)
            m = load_model(tmp)  # validates everything
            final = new_model_path(root, name or m.name)
            if name:
                rename_model(tmp, name)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def import_vectors(src: str | os.PathLike, root: str | os.PathLike | None = None, name: str | None = None,
                   limit: int | None = None) -> Path:
    """Import plain word2vec (text/binary) or GloVe text vectors as a model folder so they can be explored."""
    src = Path(src)
    wv = WordVectors.load_word2vec_format(src, limit=limit)
    root = Path(root) if root is not None else models_dir()
    name = name or src.stem
    cfg = {"name": name, "imported": True, "source_file": src.name,
           "summary": {"vocab_size": len(wv), "dim": wv.dim}}
    return save_model(new_model_path(root, name), wv, cfg)


def export_model(path: str | os.PathLike, fmt: str, out: str | os.PathLike) -> list[Path]:
    """Write a model in another format: ``projector`` (vectors.tsv + metadata.tsv into folder ``out``),
    ``word2vec-binary`` or ``word2vec-text`` (file ``out``). Returns the written files."""
    m = load_model(path)
    out = Path(out)
    if fmt == "projector":
        return list(m.vectors.save_projector(out))
    if fmt in ("word2vec-binary", "word2vec-text"):
        if out.is_dir():
            out = out / ("vectors.bin" if fmt == "word2vec-binary" else "vectors.txt")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        m.vectors.save_word2vec_format(tmp, binary=fmt == "word2vec-binary")
        os.replace(tmp, out)
        return [out]
    raise W2VError(f"Unknown export format '{fmt}': choose projector, word2vec-binary or word2vec-text.")
