"""Model folders on disk: where they live, and how this package writes them without ever leaving half a model.

The file names a model folder is made of, crash-safe marker names for everything written on the way to one
("our own names" below), the repair of a killed save's leftovers, the checks on a destination, atomic writes of one
file, and the swap that renames a finished folder in. Nothing here knows what the files hold (see ``format``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from w2v_core.errors import W2VError

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


# safetensors writes a table to a temporary ".tmpXXXXXX" file beside it, then renames it (Rust's tempfile crate):
# a save killed meanwhile leaves one in the folder being written
_SAFETENSORS_TMP = re.compile(r"\.tmp[A-Za-z0-9]{6}")


def _ours(name: str) -> bool:
    """A file a model folder is made of, or one of our (or safetensors') temporary files."""
    return name in KNOWN_FILES or bool(_MARKED.match(name)) or bool(_SAFETENSORS_TMP.fullmatch(name))


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


def _check_destination(p: Path, want: str) -> Path:
    """What every destination must pass (``want`` says what to give instead): not a link, not the current folder or
    one above it, not inside a model folder (it would hide that model from deleting and from the disk quota)."""
    ap = p.absolute()
    if p.is_symlink():
        raise W2VError(f"{p} is a symbolic link: give {want}.")
    here = Path.cwd().resolve()
    if ap.resolve() == here or here.is_relative_to(ap.resolve()):
        raise W2VError(f"{p} is the current folder or contains it: give {want}.")
    for parent in ap.resolve().parents:
        if _has_our_config(parent):
            raise W2VError(f"{p} is inside the model folder {parent.name}, whose files it would mix with: give {want}.")
    return ap


def check_export_destination(path: str | os.PathLike, folder: bool = False) -> Path:
    """Refuse an export destination that would overwrite anything: an existing file of any kind (a FIFO, a device,
    a model's own config.json), a link, a place inside a model folder; a ``folder`` must be new or empty.

    The same checks as a model's destination (``_check_destination``); returns the absolute path.
    """
    p = Path(path).expanduser()
    want = "a new folder for the export" if folder else "a new file name for the export"
    ap = _check_destination(p, want)
    if os.path.lexists(ap):
        if not folder or not ap.is_dir():
            raise W2VError(f"{p} already exists; nothing was overwritten. Give {want}.")
        try:
            names = sorted(os.listdir(ap))
        except OSError as e:
            raise W2VError(f"Cannot read {p} ({e.strerror or e}): give {want}.") from None
        if names:
            raise W2VError(f"{p} already holds files ({', '.join(names[:3])}); nothing was overwritten. Give {want}.")
    check_writable_folder(ap.parent)
    return ap


def check_model_destination(path: str | os.PathLike) -> Path:
    """Refuse, before any training starts, a model destination whose files would be lost or that cannot be written.

    Accepted: a new name in a writable folder, an empty folder, or a model folder this app wrote (it is replaced).
    Refused with W2VError: a file, a link, a folder holding anything else, the current folder or one above it.
    Returns the absolute path.
    """
    p = Path(path).expanduser()
    ap = _check_destination(p, "a new folder path for the model, such as models/my-model")
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
