"""Disk quotas: the models folder, the uploads and the corpus cache stay under their limits, least recently used first.

Why: every training run adds a model folder, every upload and pasted text is kept, every tokenized corpus is cached;
on a server a class shares, nothing would ever be cleaned up. The limits come from ``w2v_core.settings``
(``W2V_QUOTA_*_MB``); the UI shows :func:`usage` and calls :func:`enforce` (the training job does after each save).

Only things this app wrote are counted, and only they are ever removed:

* ``models``: folders whose config.json names our format and that hold nothing but model files
  (:func:`w2v_core.store.is_model_folder`); removed with :func:`w2v_core.store.delete_model`;
* ``uploads``: files named ``<name>-<16 hex digits>.<ext>``, as ``sources.save_upload`` names them;
* ``cache``: folders named by a 32-hex cache key that hold only the corpus cache's files.

Anything else in those folders is neither counted nor touched. "Used" means: a folder's modification time (which
:func:`mark_used` sets to now), a file's later access or modification time (:func:`mark_used` sets the access time
only, because an upload's modification time is part of its corpus-cache key).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

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
            if not (stat.S_ISREG(st.st_mode) and _UPLOAD_NAME.match(p.name)):
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

    ``keep``: paths never removed (the current model, the corpus a run is reading). Without a limit, nothing goes.
    """
    cap = _limit(area, limit)
    if cap is None:
        return []
    found = items(area, folder)
    used = sum(it.bytes for it in found)
    kept = {_real(k) for k in keep}
    removed = []
    for it in found:
        if used <= cap:
            break
        if _real(it.path) in kept or not _remove(area, it.path):
            continue
        used -= it.bytes
        removed.append(it.path)
        log.info("quota: removed %s (%s, %d bytes) to stay under %d bytes", it.path, area, it.bytes, cap)
    return removed


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
