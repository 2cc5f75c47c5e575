"""Disk quotas: the models folder, the uploads and the corpus cache stay under their limits, least recently used first.

Why: every training run adds a model folder, every upload and pasted text is kept, every tokenized corpus is cached;
on a server a class shares, nothing would ever be cleaned up. The limits come from ``w2v_core.settings``
(``W2V_QUOTA_*_MB``); the UI shows :func:`usage` and calls :func:`enforce` (the training job does after each save).

Only things this app wrote are counted, and only they are ever removed:

* ``models``: folders whose config.json names our format and that hold nothing but model files
  (:func:`w2v_core.store.is_model_folder`); removed with :func:`w2v_core.store.delete_model`;
* ``uploads``: files named ``<name>-<16 hex digits>.<ext>``, as ``sources.save_upload`` names them;
* ``cache``: folders named by a 32-hex cache key that hold only the corpus cache's files.

Anything else in those folders is neither counted nor touched.

A write first asks for room (:func:`reserve`): it is refused with a message when even removing every thing that
may go would not make enough, else the least recently used things go until it fits, so an area never exceeds its
limit by more than what concurrent writers add at once. What work in progress needs is never removed: a queued or
running job's corpus (:func:`pin` / :func:`unpin`) and every session's current model (:func:`lease`). "Used" means: a folder's modification time (which
:func:`mark_used` sets to now), a file's later access or modification time (:func:`mark_used` sets the access time
only, because an upload's modification time is part of its corpus-cache key).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from w2v_core.data import corpus_cache
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

AREAS = ("models", "uploads", "cache")
_UPLOAD_NAME = re.compile(r"^[A-Za-z0-9._-]+-[0-9a-f]{16}\.[a-z0-9]{1,10}$")
_CACHE_NAME = re.compile(r"^[0-9a-f]{32}$")
_NOUNS = {"models": ("model", "models"), "uploads": ("upload", "uploads"), "cache": ("cached corpus", "cached corpora")}


@dataclass(frozen=True)
class Item:
    """One thing we wrote in an area: a model folder, an upload or a cache entry."""

    path: Path
    bytes: int
    last_used: float  # seconds since the epoch


@dataclass(frozen=True)
class Usage:
    """How much of an area's limit our own things take."""

    area: str
    folder: Path
    used: int  # bytes
    limit: int | None  # bytes; None: no limit
    items: int

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit

    @property
    def fraction(self) -> float | None:
        """Used / limit (for a progress bar), or None without a limit."""
        return None if not self.limit else self.used / self.limit

    def describe(self) -> str:
        """E.g. ``"38.2 MB of 500 MB (3 models)"``."""
        noun = _NOUNS[self.area][self.items != 1]
        cap = f" of {_mb(self.limit)}" if self.limit else ", no limit"
        return f"{_mb(self.used)}{cap} ({self.items} {noun})"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 10e6 else f"{n / 1e6:,.0f} MB"


def default_folder(area: str) -> Path:
    """Where ``area`` lives when the caller names no folder (personal mode: the app-wide folders)."""
    _check_area(area)
    if area == "models":
        from w2v_core.store import models_dir

        return models_dir()
    if area == "uploads":
        from w2v_core.data.sources import uploads_dir

        return uploads_dir()
    from w2v_core.data.corpus_cache import cache_dir

    return cache_dir()


def _check_area(area: str) -> None:
    if area not in AREAS:
        raise ValueError(f"unknown quota area {area!r}; one of {AREAS}")


def _folder_bytes(p: Path) -> int:
    return sum(e.stat(follow_symlinks=False).st_size for e in os.scandir(p))


def _cache_files() -> tuple[str, ...]:
    from w2v_core.data import corpus_cache

    return corpus_cache._FILES


def _item(area: str, p: Path) -> Item | None:
    """``p`` as an Item of ``area`` if this app wrote it, else None."""
    try:
        st = os.lstat(p)
        if area == "models":
            from w2v_core.store import is_model_folder

            if p.name.startswith(".") or not is_model_folder(p):
                return None
            return Item(p, _folder_bytes(p), st.st_mtime)
        if area == "uploads":
            if not (stat.S_ISREG(st.st_mode) and _UPLOAD_NAME.match(p.name) and _named_by_content(p, st)):
                return None
            return Item(p, st.st_size, max(st.st_atime, st.st_mtime))
        if not (stat.S_ISDIR(st.st_mode) and _CACHE_NAME.match(p.name)):
            return None
        names = os.listdir(p)
        if "meta.json" not in names or not set(names) <= set(_cache_files()):
            return None
        return Item(p, _folder_bytes(p), st.st_mtime)
    except OSError:
        return None


_DIGESTS: dict[tuple[str, int, int], bool] = {}  # (path, size, mtime_ns) -> its name carries its content's hash


def _named_by_content(p: Path, st: os.stat_result) -> bool:
    """Whether ``p`` is an upload we wrote: its name ends with the first 16 hex digits of its SHA-256 (as
    ``sources.save_upload`` names them), so a hand-placed file that merely looks like one is never counted or
    removed. Checked once per version of the file."""
    import hashlib

    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
        try:  # reading set its access time (relatime), which is when it was last used: put that back
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass
        if len(_DIGESTS) > 10_000:
            _DIGESTS.clear()
        _DIGESTS[key] = p.name.rsplit("-", 1)[-1].split(".", 1)[0] == h.hexdigest()[:16]
    return _DIGESTS[key]


def items(area: str, folder: str | os.PathLike | None = None) -> list[Item]:
    """The things this app wrote in ``area`` (its folder, or ``folder``), least recently used first."""
    _check_area(area)
    root = Path(folder) if folder is not None else default_folder(area)
    try:
        entries = [Path(e.path) for e in os.scandir(root)]
    except OSError:
        return []
    found = [it for it in (_item(area, p) for p in entries) if it is not None]
    return sorted(found, key=lambda it: (it.last_used, it.path.name))


def _limit(area: str, limit: int | None) -> int | None:
    if limit is not None:
        return limit or None
    from w2v_core.settings import get_settings

    return get_settings().quota(area)


def usage(area: str, folder: str | os.PathLike | None = None, limit: int | None = None) -> Usage:
    """Bytes our things take in ``area`` against its limit (``limit`` in bytes: None takes the setting, 0 none)."""
    found = items(area, folder)
    root = Path(folder) if folder is not None else default_folder(area)
    return Usage(area, root, sum(it.bytes for it in found), _limit(area, limit), len(found))


def evict(area: str, folder: str | os.PathLike | None = None, limit: int | None = None,
          keep: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Remove the least recently used things we wrote in ``area`` until it is within its limit; returns them.

    ``keep``: paths never removed (the current model, the corpus a run is reading), besides every pinned or leased
    path. Without a limit, nothing goes.
    """
    cap = _limit(area, limit)
    if cap is None:
        return []
    return _evict_to(area, items(area, folder), cap, keep)


def _evict_to(area: str, found: list[Item], target: int, keep: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove the removable ones of ``found`` (least recently used first) until they take at most ``target``."""
    used = sum(it.bytes for it in found)
    kept = {_real(k) for k in keep} | pinned()
    removed = []
    for it in found:
        if used <= target:
            break
        if _real(it.path) in kept or not _remove(area, it.path):
            continue
        used -= it.bytes
        removed.append(it.path)
        log.info("quota: removed %s (%s, %d bytes) to stay under %d bytes", it.path, area, it.bytes, target)
    return removed


class QuotaFull(W2VError):
    """A write that would not fit in its area's limit even after removing everything that may go."""


def room(area: str, folder: str | os.PathLike | None = None, limit: int | None = None,
         keep: Iterable[str | os.PathLike] = ()) -> int | None:
    """The most bytes a new thing in ``area`` may take: the limit less what may not be removed (None: no limit)."""
    cap = _limit(area, limit)
    if cap is None:
        return None
    kept = {_real(k) for k in keep} | pinned()
    return max(0, cap - sum(it.bytes for it in items(area, folder) if _real(it.path) in kept))


def reserve(area: str, folder: str | os.PathLike | None, nbytes: int, keep: Iterable[str | os.PathLike] = (),
            limit: int | None = None, what: str = "It") -> list[Path]:
    """Make room for ``nbytes`` more in ``area`` BEFORE they are written; returns what was removed for it.

    Refused with :class:`QuotaFull` (and nothing removed) when the limit minus what must stay (``keep``, pinned and
    leased paths) is less than ``nbytes``; otherwise the least recently used things go until it fits.
    """
    cap = _limit(area, limit)
    if cap is None:
        return []
    keep = list(keep)
    found = items(area, folder)
    if sum(it.bytes for it in found) + nbytes <= cap:
        return []
    free = room(area, folder, cap, keep) or 0
    if nbytes > free:
        noun = _NOUNS[area][1]
        raise QuotaFull(f"{what} needs {_mb(nbytes)}, but the space for {noun} here is {_mb(cap)} and "
                        f"{_mb(cap - free)} of it is in use (by what you are using now, or a run that is waiting or "
                        "running), so nothing was saved. Delete something you no longer need, or make it smaller.")
    return _evict_to(area, found, cap - nbytes, keep)


# ---------------------------------------------------------------------------------------------- work in progress
#
# A pin is held by a job from the moment it is queued until it ends (counted: two jobs may read one upload); a
# lease is one per owner (a browser session's current model), replaced by its next lease and forgotten after
# LEASE_S without renewal (a session that went away holds nothing for long). Both live in this process only: they
# protect work in progress, which does not outlive the server process either.

LEASE_S = 2 * 3600
_PIN_LOCK = threading.Lock()
_PINS: dict[str, int] = {}
_LEASES: dict[str, tuple[str, float]] = {}


def pin(path: str | os.PathLike) -> None:
    """Keep ``path`` from being removed by any quota until :func:`unpin` (once per pin)."""
    with _PIN_LOCK:
        r = _real(path)
        _PINS[r] = _PINS.get(r, 0) + 1


def unpin(path: str | os.PathLike) -> None:
    with _PIN_LOCK:
        r = _real(path)
        n = _PINS.get(r, 0) - 1
        if n > 0:
            _PINS[r] = n
        else:
            _PINS.pop(r, None)


def lease(owner: str, path: str | os.PathLike | None) -> None:
    """``owner`` (e.g. a browser session) uses ``path`` now (None: nothing): it stays while the lease is fresh."""
    with _PIN_LOCK:
        if path is None:
            _LEASES.pop(owner, None)
        else:
            _LEASES[owner] = (_real(path), time.time())


def pinned() -> set[str]:
    """The real paths no quota may remove now: pinned ones and fresh leases."""
    now = time.time()
    with _PIN_LOCK:
        for owner in [o for o, (_, t) in _LEASES.items() if now - t > LEASE_S]:
            del _LEASES[owner]
        return set(_PINS) | {p for p, _ in _LEASES.values()}


def _real(p: str | os.PathLike) -> str:
    return os.path.realpath(p)


def _remove(area: str, p: Path) -> bool:
    try:
        if area == "models":
            from w2v_core.store import delete_model

            delete_model(p)
        elif area == "uploads":
            os.unlink(p)
        else:
            for name in os.listdir(p):
                if name not in _cache_files():  # written meanwhile by someone else: leave the entry
                    return False
            for name in os.listdir(p):
                os.unlink(p / name)
            os.rmdir(p)
        return True
    except (OSError, W2VError) as e:
        log.warning("quota: could not remove %s (%s)", p, e)
        return False


def enforce(models_folder: str | os.PathLike | None = None, uploads_folder: str | os.PathLike | None = None,
            cache_folder: str | os.PathLike | None = None,
            keep: Iterable[str | os.PathLike] = ()) -> dict[str, list[Path]]:
    """Bring every area within its limit from the settings; returns what was removed, by area."""
    keep = list(keep)
    folders = {"models": models_folder, "uploads": uploads_folder, "cache": cache_folder}
    return {area: evict(area, folder, keep=keep) for area, folder in folders.items()}


def mark_used(path: str | os.PathLike) -> None:
    """Record that ``path`` (a model folder, an upload, a cache entry) was just used, so it is evicted last."""
    try:
        st = os.stat(path)
        now = time.time_ns()
        os.utime(path, ns=(now, now) if stat.S_ISDIR(st.st_mode) else (now, st.st_mtime_ns))
    except OSError:
        pass  # a read-only gallery, a file removed meanwhile: nothing to record


def mark_corpus_used(corpus_config, uploads_folder: str | os.PathLike | None = None) -> None:
    """Mark what a run read: its corpus-cache entry and, for an uploaded corpus, the upload (never a user's file).

    ``uploads_folder``: where this visitor's uploads are (default: the app-wide uploads folder).
    """
    from w2v_core.data import corpus_cache

    try:
        key = corpus_cache.cache_key(corpus_config)
        if key:
            mark_used(corpus_cache.cache_dir() / key)
        src = Path(str(corpus_config.source))
        folder = uploads_folder if uploads_folder is not None else default_folder("uploads")
        if _real(src.parent) == _real(folder) and _item("uploads", src) is not None:
            mark_used(src)
    except Exception as e:  # noqa: BLE001 - bookkeeping only: never a reason for a run to fail
        log.debug("could not mark the corpus of %r as used (%s)", corpus_config, e)


def save_upload(data: bytes, filename: str, folder: str | os.PathLike, keep: Iterable[str | os.PathLike] = ()) -> Path:
    """``sources.save_upload`` into ``folder`` with room made first within the uploads quota (QuotaFull if none)."""
    from w2v_core.data import sources

    path = sources.save_upload(data, filename, folder=folder,
                               reserve=lambda n: reserve("uploads", folder, n, keep, what=f"The file {filename}"))
    mark_used(path)
    return path


def save_pasted_text(text: str, folder: str | os.PathLike, keep: Iterable[str | os.PathLike] = ()) -> Path:
    """``sources.save_pasted_text`` into ``folder``, counted against the uploads quota before it is written."""
    from w2v_core.data import sources

    path = sources.save_pasted_text(text, folder=folder,
                                    reserve=lambda n: reserve("uploads", folder, n, keep, what="The pasted text"))
    mark_used(path)
    return path


def import_zip(data, root: str | os.PathLike, keep: Iterable[str | os.PathLike] = ()) -> tuple[Path, list[Path]]:
    """``store.import_zip`` into ``root`` within the models quota: unpacking is capped at the room there is, and
    the compact model's size is reserved (evicting the least recently used models) before it is written.

    Returns the new model and what was removed to make room for it."""
    from w2v_core import store

    keep, removed = list(keep), []
    free = room("models", root, keep=keep)
    cap = store.MAX_IMPORT_BYTES if free is None else min(store.MAX_IMPORT_BYTES, free)
    path = store.import_zip(data, root, max_bytes=cap, reserve=lambda n: removed.extend(
        reserve("models", root, n, keep, what="The imported model")))
    return path, removed


def import_vectors(src: str | os.PathLike, root: str | os.PathLike, keep: Iterable[str | os.PathLike] = (),
                   name: str | None = None, limit: int | None = None) -> tuple[Path, list[Path]]:
    """``store.import_vectors`` into ``root``, its model's size reserved within the models quota before it is
    written; returns the new model and what was removed to make room for it."""
    from w2v_core import store

    keep, removed = list(keep), []
    path = store.import_vectors(src, root, name=name, limit=limit, reserve=lambda n: removed.extend(
        reserve("models", root, n, keep, what="The imported model")))
    return path, removed


# every new corpus-cache entry asks the cache quota for room first, whoever loads the corpus (a page, a run)
corpus_cache.set_reserve(lambda n: reserve("cache", corpus_cache.cache_dir(), n, what="The tokenized corpus"))
