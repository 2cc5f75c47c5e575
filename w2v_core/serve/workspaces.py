"""Shared mode's workspace folders: made by the first thing a visitor saves, and never kept empty for long.

A workspace is ``<W2V_DATA_DIR>/workspaces/<id>/{models,uploads}`` (``settings.workspace``). The app creates those
folders only when it writes into them (a save makes its parents), so a visit that saves nothing leaves nothing on
disk. Workspaces that hold nothing at all (only empty ``models``/``uploads`` folders, e.g. made by an older version
for every visit) are removed by :func:`prune_unused` once they are :data:`UNUSED_AFTER_S` old: only empty folders are
removed (``rmdir``), never a file.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

UNUSED_AFTER_S = 24 * 3600
EVERY_S = 3600  # a prune walks every workspace's folder: at most once an hour per process
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_SUBFOLDERS = {"models", "uploads"}
_lock = threading.Lock()
_last = {"t": 0.0}


def prune_unused(root: str | os.PathLike, now: float | None = None, force: bool = False) -> list[Path]:
    """Remove the workspaces under ``root`` that hold nothing and are older than UNUSED_AFTER_S; returns them.

    Runs at most once every EVERY_S seconds in a process (``force``: now)."""
    now = time.time() if now is None else now
    with _lock:
        if not force and now - _last["t"] < EVERY_S:
            return []
        _last["t"] = now
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for e in entries:
        if _ID.match(e.name) and e.is_dir(follow_symlinks=False) and _unused(Path(e.path), now):
            removed.append(Path(e.path))
    if removed:
        log.info("removed %d workspace folders that were never used", len(removed))
    return removed


def _unused(ws: Path, now: float) -> bool:
    """Remove ``ws`` if it holds only empty models/uploads folders, untouched for UNUSED_AFTER_S (True if removed)."""
    try:
        if now - os.lstat(ws).st_mtime < UNUSED_AFTER_S:
            return False
        subs = os.listdir(ws)
        if not set(subs) <= _SUBFOLDERS:
            return False
        for name in subs:
            sub = ws / name
            if sub.is_symlink() or not sub.is_dir() or os.listdir(sub) or now - os.lstat(sub).st_mtime < UNUSED_AFTER_S:
                return False
        for name in subs:
            os.rmdir(ws / name)
        os.rmdir(ws)
        return True
    except OSError:
        return False
