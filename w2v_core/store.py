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
safetensors is refused with a message. Every model that is opened, listed or imported is validated (config.json
against one schema, finite float tables of the right shapes), so a damaged or hostile folder raises W2VError with one
sentence and nothing else.

Nothing we did not write is ever deleted or overwritten: a save refuses a destination holding other files before any
work starts, deleting a model removes only the files a model is made of, and every temporary name carries a marker
(see "our own names") so the leftovers of a killed save are recognised and finished or cleaned on the next listing.
A save writes a new folder and renames it in, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import time
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from w2v_core.data.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.vectors import DIM_RANGE, WordVectors

log = logging.getLogger(__name__)

FORMAT = "w2v-explorer-model"
FORMAT_VERSION = 1
CONFIG, VOCAB, WEIGHTS, VECTORS_TXT, HISTORY, SCORES = (
    "config.json", "vocab.tsv", "weights.safetensors", "vectors.txt", "history.json", "scores.json")
SNAPSHOTS = "snapshots.safetensors"  # optional: the vectors while the model learnt (w2v_core.snapshots)
KNOWN_FILES = {CONFIG, VOCAB, WEIGHTS, VECTORS_TXT, HISTORY, SCORES, SNAPSHOTS}
PICKLE_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".npy", ".npz", ".model", ".sav"}


def models_dir() -> Path:
    """Where the app keeps models: $W2V_MODELS_DIR, else ./models (created on first use)."""
    p = Path(os.environ.get("W2V_MODELS_DIR") or Path.cwd() / "models")
    p.mkdir(parents=True, exist_ok=True)
    return p


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return s[:80] or "model"


def new_model_path(root: str | os.PathLike, name: str) -> Path:
    """A folder name under ``root`` for ``name`` that is not taken yet (see :func:`new_model_slot`)."""
    return new_model_slot(root, name)[0]


def new_model_slot(root: str | os.PathLike, name: str) -> tuple[Path, str]:
    """A free folder under ``root`` for a new model called ``name``, and the name it gets.

    Names are unique within a models folder: when ``name`` (or its folder) is taken, the model is called
    ``name-2``, ``name-3``, ... and its folder gets the same suffix, so two cards never show the same name.
    """
    root = Path(root)
    name = name.strip()[:MAX_NAME_CHARS - 10].strip() or "model"
    taken = _names_in_use(root, folders=True)
    base, i = slug(name), 1
    while True:
        suffix = "" if i == 1 else f"-{i}"
        folder, shown = root / (base if i == 1 else base[:72] + suffix), name + suffix
        if shown.casefold() not in taken and not os.path.lexists(folder) and _aside_copy(folder) is None:
            return folder, shown
        i += 1


def _names_in_use(root: Path, skip: Path | None = None, folders: bool = False) -> set[str]:
    """The display names (case-folded) of the models under ``root``, and with ``folders`` their folder names too.

    ``skip``: a model folder whose own name does not count (the one being renamed).
    """
    out: set[str] = set()
    try:
        entries = list(os.scandir(root))
    except OSError:
        return out
    for e in entries:
        m = _MARKED.match(e.name)
        if e.name.startswith(".") and not (m and m["kind"] == "old"):  # an aside copy is a model mid-replacement
            continue
        folder = m["name"] if m else e.name
        if skip is not None and folder == Path(skip).name and Path(e.path).parent == Path(skip).parent:
            continue
        if folders:
            out.add(folder.casefold())
        try:
            out.add(str(read_config(Path(e.path)).get("name") or folder).strip().casefold())
        except W2VError:
            pass
    return out


# ---------------------------------------------------------------------------------------------- our own names
#
# Everything this module writes on its way to a model folder carries a marker name,
#     .<name>.<pid>-<start time, hex>-<random>.w2v-<kind>
# kind "new" (a folder being written), "old" (the previous model moved aside while the new one is renamed in),
# "part" (a file being written inside a model folder). Leftovers of a killed process are recognised by that name
# (and the writer's pid no longer running it), and only they, plus the files a model folder is made of, are ever
# removed by repair_models_dir(): nothing we did not write is deleted.

_MARKED = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-(?P<t>[0-9a-f]{8,})-(?P<rand>[0-9a-f]{6})\.w2v-"
                     r"(?P<kind>new|old|part)$")
_STARTED = time.time()  # leftovers from before this process began are not this process's unfinished saves
STALE_AFTER_S = 6 * 3600  # no save takes this long: older leftovers are stale even if their pid is in use again
MAX_CONFIG_BYTES = 1024 * 1024


def _new_stamp() -> str:
    """Unique to this process and moment: which process made a marked folder, and when."""
    return f"{os.getpid()}-{int(time.time()):08x}-{uuid.uuid4().hex[:6]}"


def _marked_name(name: str, kind: str, stamp: str | None = None) -> str:
    stamp = stamp or _new_stamp()
    return f".{name}.{stamp}.w2v-{kind}"


def _stamp_of(m: re.Match) -> str:
    return f"{m['pid']}-{m['t']}-{m['rand']}"


def _stale(m: re.Match) -> bool:
    """Whether the process that wrote this marked name can no longer finish it."""
    pid, t = int(m["pid"]), int(m["t"], 16)
    if time.time() - t > STALE_AFTER_S:
        return True
    if pid == os.getpid():
        return t < int(_STARTED)  # an earlier process with our pid; otherwise a save running in another thread
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def _ours(name: str) -> bool:
    """A file a model folder is made of, or one of our marked temporary files."""
    return name in KNOWN_FILES or bool(_MARKED.match(name))


def _foreign_entries(folder: Path) -> list[str]:
    """Names in ``folder`` that a model folder never holds (sub-folders, links, other files)."""
    out = []
    for e in os.scandir(folder):
        if not _ours(e.name) or e.is_symlink() or not e.is_file(follow_symlinks=False):
            out.append(e.name)
    return sorted(out)


def _has_our_config(folder: Path) -> bool:
    try:
        with open(folder / CONFIG, "rb") as f:
            cfg = json.loads(f.read(MAX_CONFIG_BYTES + 1))
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and cfg.get("format") == FORMAT


def is_model_folder(path: str | os.PathLike) -> bool:
    """True for a folder this app wrote: its config.json names our format and it holds nothing else of anyone's."""
    p = Path(path)
    try:
        return p.is_dir() and not p.is_symlink() and _has_our_config(p) and not _foreign_entries(p)
    except OSError:
        return False


def _remove_ours(folder: Path) -> bool:
    """Delete a model folder or marked leftover, file by file; anything we did not write stays (False then)."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        foreign = _foreign_entries(folder)
        if foreign:
            log.warning("left %s in place: it holds %s, which this app did not write", folder, ", ".join(foreign[:5]))
            return False
        for name in os.listdir(folder):
            os.unlink(folder / name)
        os.rmdir(folder)
        return True
    except OSError as e:
        log.warning("could not remove %s (%s)", folder, e)
        return False


def repair_models_dir(root: str | os.PathLike | None = None) -> list[str]:
    """Finish or clean up what killed saves left under ``root``; returns one line per thing done.

    A save writes the new folder, moves the old one aside, renames the new one in, then deletes the old one.
    Killed between the two renames, the new folder is complete, so it is renamed in; anything else unfinished is
    removed (the model it would have replaced is still in place). Saves still running elsewhere are left alone.
    """
    root = Path(root) if root is not None else models_dir()
    done: list[str] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return done
    saves: dict[tuple[str, str], dict[str, Path]] = {}
    for e in entries:
        m = _MARKED.match(e.name)
        if m and _stale(m):
            saves.setdefault((m["name"], _stamp_of(m)), {})[m["kind"]] = Path(e.path)
        elif not m and not e.name.startswith(".") and e.is_dir(follow_symlinks=False):
            done += _repair_parts(Path(e.path))
    for (name, _), kinds in saves.items():
        final, new, old = root / name, kinds.get("new"), kinds.get("old")
        try:
            if old is not None and not os.path.lexists(final):
                src = new if new is not None and (new / CONFIG).is_file() else old
                os.replace(src, final)
                done.append(f"{name}: {'finished the interrupted replacement' if src is new else 'restored'}")
                new, old = (None, old) if src is new else (new, None)
        except OSError as e:
            log.warning("could not repair %s (%s)", final, e)
            continue
        for leftover in (new, old, kinds.get("part")):
            if leftover is not None and (leftover.is_file() and not leftover.is_symlink()):
                leftover.unlink(missing_ok=True)
                done.append(f"removed {leftover.name}")
            elif leftover is not None and _remove_ours(leftover):
                done.append(f"removed {leftover.name}")
    for line in done:
        log.info("models folder %s: %s", root, line)
    return done


def _repair_parts(folder: Path) -> list[str]:
    done = []
    try:
        for e in os.scandir(folder):
            m = _MARKED.match(e.name)
            if m and m["kind"] == "part" and _stale(m) and e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                done.append(f"removed {folder.name}/{e.name}")
    except OSError as e:
        log.warning("could not clean %s (%s)", folder, e)
    return done


def _aside_copy(final: Path) -> Path | None:
    """The previous copy of ``final`` moved aside by a save that has not renamed the new one in (yet)."""
    best = None
    try:
        for e in os.scandir(final.parent):
            m = _MARKED.match(e.name)
            if m and m["kind"] == "old" and m["name"] == final.name and (best is None or m["t"] > best[0]):
                best = (m["t"], Path(e.path))
    except OSError:
        return None
    return best[1] if best else None


def _readable_dir(p: Path) -> Path:
    """The folder to read model ``p`` from: itself, or during (or after a kill in) a replacement, its aside copy."""
    if not os.path.lexists(p):
        aside = _aside_copy(p)
        if aside is not None:
            return aside
    return p


# ---------------------------------------------------------------------------------------------- destinations


def check_writable_folder(folder: str | os.PathLike) -> Path:
    """Make sure ``folder`` can be created or written to before any long work starts; returns it (absolute).

    Probes by creating and removing a marked folder in ``folder``, or in its nearest existing parent when it does
    not exist yet; nothing else is created, so concurrent checks and saves never race over a folder.
    """
    folder = Path(folder).expanduser().absolute()
    q = folder
    while not os.path.lexists(q) and q != q.parent:
        q = q.parent
    if not q.is_dir():
        raise W2VError(f"{q} is not a folder, so {folder} cannot be created: choose another place.")
    try:
        probe = q / _marked_name("probe", "new")
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as e:
        raise W2VError(f"Cannot write to {q} ({e.strerror or e}): choose a folder you can write to.") from None
    return folder


def check_model_destination(path: str | os.PathLike) -> Path:
    """Refuse, before any training starts, a model destination whose files would be lost or that cannot be written.

    Accepted: a new name in a writable folder, an empty folder, or a model folder this app wrote (it is replaced).
    Refused with W2VError: a file, a link, a folder holding anything else, the current folder or one above it.
    Returns the absolute path.
    """
    p = Path(path).expanduser()
    ap = p.absolute()
    if p.is_symlink():
        raise W2VError(f"{p} is a symbolic link: give a new folder path for the model.")
    here = Path.cwd().resolve()
    if ap.resolve() == here or here.is_relative_to(ap.resolve()):
        raise W2VError(f"{p} is the current folder or contains it: give a new folder path for the model, "
                       "such as models/my-model.")
    if os.path.lexists(ap):
        if not ap.is_dir():
            raise W2VError(f"{p} exists and is not a folder: give a new folder path for the model.")
        try:
            names = _foreign_entries(ap) or (sorted(os.listdir(ap)) if not _has_our_config(ap) else [])
        except OSError as e:
            raise W2VError(f"Cannot read {p} ({e.strerror or e}): give a folder you can write to.") from None
        if names:
            shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
            raise W2VError(f"{p} already holds files that are not a Word2Vec Explorer model ({shown}); nothing was "
                           "changed. Give a new folder name for the model.")
        if not os.access(ap, os.W_OK | os.X_OK):
            raise W2VError(f"Cannot replace the model in {p}: the folder is read-only.")
    check_writable_folder(ap.parent)
    return ap


# ---------------------------------------------------------------------------------------------- atomic writes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``path`` so that a reader sees the old file or the whole new one, never a part (a marked temporary
    file, flushed to disk, then renamed over it)."""
    tmp = path.with_name(_marked_name(path.name, "part"))
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=_json_default).encode("utf-8"))


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


def _fsync_folder(folder: Path) -> None:
    """Flush a written folder's files (so a power cut cannot leave a renamed-in model with empty files)."""
    for name in os.listdir(folder):
        fd = os.open(folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap_in(new: Path, final: Path, stamp: str) -> None:
    """Rename the complete folder ``new`` to ``final``; an existing ``final`` is moved aside first and deleted last.

    At every moment one copy is readable: ``final`` itself, or between the two renames its aside copy (which the
    readers and the listing fall back to, and repair_models_dir renames back or replaces after a kill).
    """
    if not os.path.lexists(final):
        os.replace(new, final)
        return
    old = final.with_name(_marked_name(final.name, "old", stamp))
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise
    _remove_ours(old)


# ---------------------------------------------------------------------------------------------- save


def save_model(path: str | os.PathLike, vectors: WordVectors, config: dict[str, Any],
               tensors: dict[str, np.ndarray] | None = None, history: dict[str, list] | None = None,
               scores: dict[str, Any] | None = None) -> Path:
    """Write a complete model folder at ``path``. ``tensors`` defaults to ``{"in": vectors}``.

    Refused before anything is written if ``path`` holds anything but a model of ours (check_model_destination). The
    folder is written under a marked name, flushed, then renamed in (see _swap_in): a crash never leaves a
    half-written model, and replacing a model never leaves a moment with neither copy readable.
    """
    from safetensors.numpy import save_file

    final = check_model_destination(path)
    stamp = _new_stamp()
    tmp = final.with_name(_marked_name(final.name, "new", stamp))
    final.parent.mkdir(parents=True, exist_ok=True)
    os.mkdir(tmp)
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
        (tmp / HISTORY).write_text(json.dumps(history or {"batch": [], "epoch": []}, default=_json_default),
                                   encoding="utf-8")
        if scores is not None:
            (tmp / SCORES).write_text(json.dumps(scores, indent=2, default=_json_default), encoding="utf-8")
        (tmp / CONFIG).write_text(json.dumps(cfg, indent=2, default=_json_default), encoding="utf-8")  # last
        _fsync_folder(tmp)
        _swap_in(tmp, final, stamp)
    except BaseException:
        _remove_ours(tmp)
        raise
    log.info("saved model to %s", final)
    return Path(path)


def save_scores(path: str | os.PathLike, scores: dict[str, Any]) -> None:
    """Store benchmark scores in a model folder (shown on its model card)."""
    p = Path(path)
    _check_folder(p)
    _write_json(p / SCORES, scores)


def rename_model(path: str | os.PathLike, new_name: str) -> None:
    """Change the display name in config.json (the folder keeps its name, so links stay valid).

    A name another model in the same folder already has (ignoring case) is refused: names tell models apart.
    """
    new_name = new_name.strip()
    if not new_name:
        raise W2VError("A model name cannot be empty.")
    if len(new_name) > MAX_NAME_CHARS:
        raise W2VError(f"A model name can have at most {MAX_NAME_CHARS} characters.")
    p = Path(path)
    cfg = read_config(p)
    if new_name == cfg.get("name"):
        return
    if new_name.casefold() in _names_in_use(p.parent, skip=p):
        raise W2VError(f"Another model is already called '{new_name}': choose another name.")
    cfg["name"] = new_name
    _write_json(p / CONFIG, cfg)


def delete_model(path: str | os.PathLike) -> None:
    """Delete a model folder (damaged ones too), file by file: a folder holding anything else is refused."""
    p = Path(path)
    if p.is_symlink() or not (p / CONFIG).is_file():
        raise W2VError(f"{p} is not a model folder; nothing was deleted.")
    foreign = _foreign_entries(p)
    if foreign:
        raise W2VError(f"{p.name} also holds files this app did not write ({', '.join(foreign[:3])}); nothing was "
                       "deleted. Move them out first.")
    if not _remove_ours(p):
        raise W2VError(f"{p.name} could not be deleted completely; check the folder's permissions.")


# ---------------------------------------------------------------------------------------------- validation
#
# Every model that is listed, opened or imported passes these checks, so a damaged or hostile folder is refused
# with one sentence (W2VError) instead of breaking a page later.

MAX_NAME_CHARS = 200
_NUM, _INT, _NULL = "number", "whole number", None
_CONFIG_FIELDS: dict[str, tuple] = {
    "format": (str,), "format_version": (_INT,), "name": (str,), "created": (str,), "imported": (bool,),
    "source_file": (str,), "vocab_size": (_INT,), "dim": (_INT,), "summary": (dict,), "corpus": (dict,),
    "model": (dict,), "train": (dict,),
}
_SECTION_FIELDS: dict[str, dict[str, tuple]] = {  # the fields pages read; other fields may hold any JSON value
    "model": {"arch": (str,), "loss": (str,), "dim": (_INT,), "window": (_INT,), "negative": (_INT,),
              "min_count": (_INT,), "sample": (_NUM,), "max_vocab": (_INT, _NULL)},
    "train": {"epochs": (_INT,), "lr": (_NUM, _NULL), "batch_size": (_INT, _NULL), "threads": (_INT,),
              "seed": (_INT,), "device": (str,)},
    "summary": {"vocab_size": (_INT,), "tokens": (_INT,), "epochs": (_NUM,), "seconds": (_NUM,),
                "words_per_sec": (_NUM,), "final_loss": (_NUM, _NULL), "stopped": (bool,), "dim": (_INT,)},
    "corpus": {"name": (str,), "tokens": (_INT,), "documents": (_INT,), "distinct_words": (_INT,),
               "config": (dict, _NULL)},
}
_KIND_WORDS = {str: "a string", _INT: "a whole number", _NUM: "a number", bool: "true or false", dict: "an object",
               list: "a list", _NULL: "null"}


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true or false"
    for t in (str, dict, list):
        if isinstance(v, t):
            return _KIND_WORDS[t]
    return "a whole number" if isinstance(v, int) else "a number"


def _fits(v: Any, kinds: tuple) -> bool:
    for k in kinds:
        if k is _NULL and v is None or k is bool and isinstance(v, bool):
            return True
        if k is _INT and isinstance(v, int) and not isinstance(v, bool):
            return True
        if k is _NUM and isinstance(v, (int, float)) and not isinstance(v, bool):
            return True
        if k in (str, dict, list) and isinstance(v, k):
            return True
    return False


def validate_config(cfg: Any, where: str = CONFIG) -> dict[str, Any]:
    """``cfg`` checked against the one config.json schema; W2VError with one sentence naming the first problem.

    Required: ``format`` (ours) and a whole-number ``format_version`` this app can read. Optional fields, when present,
    must have the types pages rely on (``summary`` an object, ``model.dim`` a whole number, ...); unknown fields
    are allowed, so newer configs with extra facts still open.
    """
    if not isinstance(cfg, dict):
        raise W2VError(f"{where} is not a Word2Vec Explorer model config (it is {_json_kind(cfg)}, not an object).")
    if cfg.get("format") != FORMAT:
        raise W2VError(f"{where} is not a Word2Vec Explorer model config (its format is not '{FORMAT}').")
    if "format_version" not in cfg:
        raise W2VError(f"{where} has no format_version; the folder is damaged.")
    for key, kinds in _CONFIG_FIELDS.items():
        if key in cfg and not _fits(cfg[key], kinds):
            raise W2VError(f"{where}: '{key}' must be {_KIND_WORDS[kinds[0]]}, not {_json_kind(cfg[key])}; the "
                           "folder is damaged (delete it or fix the file).")
    for section, fields in _SECTION_FIELDS.items():
        for key, kinds in fields.items():
            sec = cfg.get(section) or {}
            if key in sec and not _fits(sec[key], kinds):
                raise W2VError(f"{where}: '{section}.{key}' must be {_KIND_WORDS[kinds[0]]}, not "
                               f"{_json_kind(sec[key])}; the folder is damaged (delete it or fix the file).")
    if cfg["format_version"] < 1:
        raise W2VError(f"{where}: format_version must be 1 or more (got {cfg['format_version']}).")
    if cfg["format_version"] > FORMAT_VERSION:
        raise W2VError(f"{where} was saved by a newer version of Word2Vec Explorer; update the app to open it.")
    if len(cfg.get("name", "")) > MAX_NAME_CHARS:
        raise W2VError(f"{where}: the model name is longer than {MAX_NAME_CHARS} characters.")
    return cfg


def validate_tensors(tensors: dict[str, np.ndarray], n_words: int | None = None,
                     where: str = WEIGHTS) -> dict[str, np.ndarray]:
    """The tables of a model checked and as float32; W2VError with one sentence naming the first problem.

    ``in`` (the word vectors) must be V x D with V = ``n_words`` when given and D within the trainer's range;
    ``out`` (when present) the same shape, ``out_bias`` V numbers; every number finite; float32 or float16 only.
    """
    if "in" not in tensors:
        raise W2VError(f"{where} has no word-vector table 'in'; the folder is damaged.")
    out: dict[str, np.ndarray] = {}
    for k, a in tensors.items():
        a = np.asarray(a)
        if a.dtype not in (np.float32, np.float16):
            raise W2VError(f"{where} stores '{k}' as {a.dtype}; model tables hold float32, float16 or bfloat16 "
                           "numbers, so it was not opened.")
        out[k] = np.ascontiguousarray(a, dtype=np.float32)
    vec = out["in"]
    if vec.ndim != 2:
        raise W2VError(f"{where}: the word-vector table 'in' has {vec.ndim} dimensions instead of 2 (words x numbers).")
    V, D = vec.shape
    if D == 0 or V == 0:
        raise W2VError(f"{where}: the word-vector table is empty ({V} words x {D} numbers).")
    if not DIM_RANGE[0] <= D <= DIM_RANGE[1]:
        raise W2VError(f"{where}: the vectors have {D} numbers each; this app handles {DIM_RANGE[0]} to "
                       f"{DIM_RANGE[1]}.")
    if n_words is not None and V != n_words:
        raise W2VError(f"{where}: the vocabulary lists {n_words} words but the weights have {V} rows; the folder is "
                       "damaged.")
    expected = {"out": (V, D), "out_bias": (V,)}
    for k, a in out.items():
        if k in expected and a.shape != expected[k]:
            raise W2VError(f"{where}: table '{k}' has shape {a.shape}, expected {expected[k]}; the folder is damaged.")
        if not np.isfinite(a).all():
            raise W2VError(f"{where}: table '{k}' holds NaN or infinite numbers, so the vectors are unusable; "
                           "train or export the model again.")
    return out


# ---------------------------------------------------------------------------------------------- load


def _check_folder(p: Path) -> None:
    if not p.is_dir():
        raise W2VError(f"Model folder not found: {p}")
    if not (p / CONFIG).is_file():
        raise W2VError(f"{p} is not a model folder (no {CONFIG}). Train a model or import one first.")
    try:
        bad = sorted(f.name for f in p.iterdir() if f.suffix.lower() in PICKLE_SUFFIXES)
    except OSError as e:
        raise W2VError(f"{p.name} cannot be read ({e.strerror or e}).") from None
    if bad:
        raise W2VError(f"Refusing to open {p.name}: it contains {', '.join(bad)}, a pickle-style file that could run "
                       "code when loaded. Model folders hold only JSON, TSV, text and .safetensors files.")


def _read_small(path: Path, max_bytes: int) -> bytes:
    """A small regular file's bytes (never a FIFO or device, which could block or never end); W2VError otherwise."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise W2VError(f"{path.parent.name}/{path.name} is not a regular file; the folder is damaged.")
        if st.st_size > max_bytes:
            raise W2VError(f"{path.parent.name}/{path.name} is {st.st_size:,} bytes, more than the {max_bytes:,} such "
                           "a file can need; the folder is damaged.")
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except OSError as e:
        raise W2VError(f"{path.parent.name}/{path.name} cannot be read ({e.strerror or e}).") from None


def _parse_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise W2VError(f"{where} is not valid JSON ({str(e)[:80]}); the folder is damaged.") from None


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """config.json of a model folder (validated against the schema: see validate_config)."""
    p = _readable_dir(Path(path))
    _check_folder(p)
    where = f"{p.name}/{CONFIG}"
    return validate_config(_parse_json(_read_small(p / CONFIG, MAX_CONFIG_BYTES), where), where)


def _read_vocab(p: Path) -> tuple[list[str], np.ndarray]:
    words, counts = [], []
    if os.path.exists(p / VOCAB) and not (p / VOCAB).is_file():
        raise W2VError(f"{p.name}/{VOCAB} is not a regular file; the folder is damaged.")
    try:
        with open(p / VOCAB, encoding="utf-8") as f:
            for ln, line in enumerate(f, 1):
                w, _, c = line.rstrip("\n").rpartition("\t")
                if not _:
                    raise W2VError(f"{p.name}/{VOCAB}, line {ln}: expected 'word<TAB>count'.")
                words.append(w)
                counts.append(int(c))
                if counts[-1] < 0:
                    raise W2VError(f"{p.name}/{VOCAB}, line {ln}: a negative count; the folder is damaged.")
    except FileNotFoundError:
        raise W2VError(f"{p.name} has no {VOCAB}; the folder is incomplete.") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise W2VError(f"{p.name}/{VOCAB} is damaged ({e}).") from None
    except OSError as e:
        raise W2VError(f"{p.name}/{VOCAB} cannot be read ({e.strerror or e}).") from None
    return words, np.asarray(counts, dtype=np.int64)


SAFETENSORS_DTYPES = ("F32", "F16", "BF16")


def read_tensors(path: str | os.PathLike, n_words: int | None = None) -> dict[str, np.ndarray]:
    """The tables in weights.safetensors as float32, validated (see validate_tensors; ``n_words``: rows expected).

    No code runs: safetensors is a JSON header plus raw numbers, and the library refuses a header that lies about
    where the numbers are. Each table's type and shape are checked from the header before its numbers are read.
    """
    from safetensors import SafetensorError, safe_open

    d = _readable_dir(Path(path))
    p, where = d / WEIGHTS, f"{Path(path).name}/{WEIGHTS}"
    if not p.is_file():
        raise W2VError(f"{Path(path).name} has no {WEIGHTS}; the folder is incomplete.")
    try:
        with safe_open(str(p), framework="numpy") as f:
            specs = {k: (f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()}
            for k, (dtype, _) in specs.items():
                if dtype not in SAFETENSORS_DTYPES:
                    raise W2VError(f"{where} stores '{k}' as {dtype}; model tables hold float32, float16 or "
                                   "bfloat16 numbers, so it was not opened.")
            t = {k: f.get_tensor(k) for k, (dtype, _) in specs.items() if dtype != "BF16"}
        t |= {k: _read_bf16(p, k, shape) for k, (dtype, shape) in specs.items() if dtype == "BF16"}
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise W2VError(f"{where} is not a valid safetensors file ({str(e)[:120]}); it may be damaged or "
                       "tampered with, so it was not opened.") from None
    return validate_tensors(t, n_words, where)


def _read_bf16(p: Path, key: str, shape: list[int]) -> np.ndarray:
    """A bfloat16 table (numpy has no such type) widened exactly to float32: its 16 bits are float32's upper half."""
    with open(p, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        start, end = json.loads(f.read(n))[key]["data_offsets"]  # already checked by safe_open
        f.seek(8 + n + start)
        raw = np.frombuffer(f.read(end - start), dtype="<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)


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
    d = _readable_dir(p)
    words, counts = _read_vocab(d)
    t = read_tensors(p, len(words))
    history = _read_extra(d, HISTORY) or {"batch": [], "epoch": []}
    return Model(p, cfg, WordVectors(words, t["in"], counts), history, _read_extra(d, SCORES))


SCORE_KEYS = ("wordsim353", "simlex999", "analogy")


def _read_extra(d: Path, name: str) -> dict[str, Any] | None:
    """history.json or scores.json when present and well-formed; a damaged one is ignored (logged), never fatal."""
    if not os.path.lexists(d / name):
        return None
    try:
        obj = _parse_json(_read_small(d / name, 64 * 1024 * 1024), f"{d.name}/{name}")
    except W2VError as e:
        log.warning("%s; ignored", e)
        return None
    ok = isinstance(obj, dict)
    if ok and name == HISTORY:
        ok = all(isinstance(obj.get(k, []), list) and all(
            isinstance(row, dict) and all(_fits(v, (_NUM, _NULL)) for v in row.values()) for row in obj.get(k, []))
            for k in ("batch", "epoch"))
    elif ok and name == SCORES:
        ok = all(_fits(obj.get(k), (_NUM, _NULL)) for k in SCORE_KEYS)
    if not ok:
        log.warning("%s/%s does not have the expected layout; ignored", d.name, name)
        return None
    return obj


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
        scores=_read_extra(_readable_dir(p), SCORES), stamp=stamp(p), scores_stamp=scores_stamp)


def list_records(root: str | os.PathLike | None = None, *, broken: bool = False) -> list[ModelRecord]:
    """The model folders under ``root`` (default: models_dir()), newest first.

    Folders that cannot be read are left out with a log line, or kept (with ``error`` set) when ``broken``.
    Leftovers of killed saves are repaired first (repair_models_dir); a model whose replacement is being renamed in
    right now is listed from its aside copy, so it never disappears from the list.
    """
    root = Path(root) if root is not None else models_dir()
    out: list[ModelRecord] = []
    if not root.is_dir():
        return out
    repair_models_dir(root)
    try:
        names = {e.name for e in os.scandir(root)}
    except OSError as e:
        raise W2VError(f"The models folder {root} cannot be read ({e.strerror or e}).") from None
    asides = {m["name"] for n in names if (m := _MARKED.match(n)) and m["kind"] == "old"}  # mid-replacement
    for n in sorted(names | asides):
        p = root / n
        if n.startswith(".") or not (p.is_dir() or n in asides):
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
_MEMBER_CAPS = {CONFIG: MAX_CONFIG_BYTES, SCORES: 16 * 1024**2, HISTORY: 64 * 1024**2}  # others: the total cap
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # the decompressors that read in bounded steps


def import_zip(data: bytes | BinaryIO, root: str | os.PathLike | None = None, name: str | None = None,
               max_bytes: int = MAX_IMPORT_BYTES) -> Path:
    """Unpack an uploaded model zip into a new folder under ``root`` after validating every file.

    Members are streamed to disk in 1 MB steps and the bytes actually written are counted against a per-file cap
    and ``max_bytes`` in all (the sizes in the zip's header are not trusted), so a zip bomb stops at the cap. Only
    the known file names are unpacked, flat (no path can escape the folder); a pickle-style file refuses the zip.
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
                written += _unpack_member(z, info, tmp / base, min(_MEMBER_CAPS.get(base, max_bytes),
                                                                   max_bytes - written), max_bytes)
            m = load_model(tmp)  # validates everything
            V, D = m.vectors.vectors.shape
            if VECTORS_TXT in files:
                _check_vectors_txt(tmp / VECTORS_TXT, V, D)
            else:
                m.vectors.save_word2vec_format(tmp / VECTORS_TXT)
            final, unique = new_model_slot(root, name or str(m.config.get("name") or "model"))
            if unique != m.name:
                rename_model(tmp, unique)
            os.replace(tmp, final)
        except W2VError as e:
            _remove_ours(tmp)
            raise W2VError(str(e).replace(tmp.name, "the zip")) from None
        except BaseException:
            _remove_ours(tmp)
            raise
    log.info("imported a model zip to %s (%d bytes unpacked)", final, written)
    return final


def _model_members(z: zipfile.ZipFile, max_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """The zip's model files by name, refusing (before anything is written) what cannot be one of our models."""
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
    if sum(i.file_size for i in files.values()) > max_bytes:
        raise W2VError(f"The zip unpacks to more than {max_bytes / 1e6:,.0f} MB; that is more than a model folder "
                       "imported here may take.")
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
                                   f"{min(cap, max_bytes) / 1e6:,.1f} MB, more than a model folder imported here "
                                   "may take; it was not imported.")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, NotImplementedError) as e:
        raise W2VError(f"The zip is damaged or encrypted ({dest.name}: {str(e)[:80]}); zip the model folder "
                       "again.") from None
    return n


def _check_vectors_txt(path: Path, V: int, D: int) -> None:
    """vectors.txt must say it holds the same V x D table, and have its V lines (it is not read otherwise)."""
    with open(path, "rb") as f:
        header = f.readline(64).split()
        lines = 1
        while chunk := f.read(1024 * 1024):
            lines += chunk.count(b"\n")
    if header != [str(V).encode(), str(D).encode()] or lines != V + 1:
        raise W2VError(f"The zip's {VECTORS_TXT} does not match its weights ({V} words x {D} numbers); zip the "
                       "model folder again.")


def import_vectors(src: str | os.PathLike, root: str | os.PathLike | None = None, name: str | None = None,
                   limit: int | None = None) -> Path:
    """Import plain word2vec (text/binary) or GloVe text vectors as a model folder so they can be explored.

    The table is validated like a model's (finite numbers, a dimension the app handles) before anything is written.
    """
    src = Path(src)
    root = Path(root) if root is not None else models_dir()
    check_writable_folder(root)
    wv = WordVectors.load_word2vec_format(src, limit=limit)
    validate_tensors({"in": wv.vectors}, len(wv), src.name)
    path, name = new_model_slot(root, name or src.stem)
    cfg = {"name": name, "imported": True, "source_file": src.name,
           "summary": {"vocab_size": len(wv), "dim": wv.dim}}
    return save_model(path, wv, cfg)


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
        tmp = out.with_name(_marked_name(out.name, "part"))
        try:
            m.vectors.save_word2vec_format(tmp, binary=fmt == "word2vec-binary")
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return [out]
    raise W2VError(f"Unknown export format '{fmt}': choose projector, word2vec-binary or word2vec-text.")
