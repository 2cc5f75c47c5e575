"""Server settings from the environment: one switch between a personal app and a server a whole class shares.

The app and the library read the same variables here, so the UI and the core always agree on the mode:

``W2V_MODE``          ``personal`` (the default: one person on their own machine; local files may be corpora) or
                      ``shared`` (served to others: no server paths except inside ``W2V_CORPUS_DIR``, and every
                      visitor works in a private workspace).
``W2V_DATA_DIR``      shared mode: where the private workspaces live, ``<data>/workspaces/<id>/{models,uploads}``
                      (default ``./data``).
``W2V_GALLERY_DIR``   a folder of models everyone may open but nobody can change from the app (optional).
``W2V_CORPUS_DIR``    shared mode: the one server folder whose files visitors may train on (unset: none).
``W2V_MAX_JOBS``      training runs at once on this server (default ``min(2, cores)``); more wait in a FIFO queue.
``W2V_QUOTA_MODELS_MB``, ``W2V_QUOTA_UPLOADS_MB``, ``W2V_QUOTA_CACHE_MB``
                      disk limits for the models folder, the uploads and the corpus cache (0 = no limit); when one
                      is exceeded, the least recently used things this app wrote go first (``w2v_core.serve.quota``).
                      Personal defaults: models unlimited, uploads 1000, cache 4000. Shared defaults (models and
                      uploads per workspace): models 500, uploads 200, cache 4000.

The listening address is Streamlit's own setting: ``.streamlit/config.toml`` binds to ``localhost``; a class server
starts ``W2V_MODE=shared streamlit run app.py --server.address 0.0.0.0``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from w2v_core.errors import W2VError

MODES = ("personal", "shared")
MB = 1024 * 1024
_DEFAULT_QUOTA_MB = {"personal": {"models": 0, "uploads": 1000, "cache": 4000},
                     "shared": {"models": 500, "uploads": 200, "cache": 4000}}
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class Settings:
    """The server's settings (see the module docstring for the variables behind each field)."""

    mode: str = "personal"
    data_dir: Path = Path("data")
    gallery_dir: Path | None = None
    corpus_dir: Path | None = None
    max_jobs: int = 1
    quota_bytes: Mapping[str, int | None] | None = None  # area -> limit in bytes; None = no limit

    @property
    def shared(self) -> bool:
        return self.mode == "shared"

    def quota(self, area: str) -> int | None:
        """The disk limit in bytes of ``models``, ``uploads`` or ``cache`` (None: no limit)."""
        return (self.quota_bytes or {}).get(area)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise W2VError(f"{name} must be a whole number (got '{raw}'); fix it in the server's environment.") from None
    if v < 0:
        raise W2VError(f"{name} cannot be negative (got {v}); use 0 for no limit.")
    return v


def _folder(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser().absolute() if raw else None


def get_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The settings in ``env`` (default: ``os.environ``, read afresh on every call, so tests can change it).

    A value that makes no sense raises W2VError naming the variable, so a misconfigured server says so at once.
    """
    env = os.environ if env is None else env
    mode = (env.get("W2V_MODE") or "personal").strip().lower()
    if mode not in MODES:
        raise W2VError(f"W2V_MODE must be 'personal' or 'shared' (got '{env.get('W2V_MODE')}').")
    max_jobs = _positive(env, "W2V_MAX_JOBS", min(2, os.cpu_count() or 1))
    if max_jobs < 1:
        raise W2VError("W2V_MAX_JOBS must be at least 1: with 0, no training run could ever start.")
    quotas = {area: _positive(env, f"W2V_QUOTA_{area.upper()}_MB", mb) * MB or None
              for area, mb in _DEFAULT_QUOTA_MB[mode].items()}
    return Settings(mode=mode, data_dir=_folder(env, "W2V_DATA_DIR") or Path.cwd() / "data",
                    gallery_dir=_folder(env, "W2V_GALLERY_DIR"), corpus_dir=_folder(env, "W2V_CORPUS_DIR"),
                    max_jobs=max_jobs, quota_bytes=quotas)


@dataclass(frozen=True)
class Workspace:
    """One visitor's private folders in shared mode."""

    models: Path
    uploads: Path


def workspace(workspace_id: str, settings: Settings | None = None) -> Workspace:
    """The private folders of the visitor holding ``workspace_id`` (a random token the UI keeps for them).

    The id becomes a folder name, so only URL-safe tokens of 16 to 64 characters are accepted (ValueError
    otherwise: the UI makes the id, a visitor never types it).
    """
    if not isinstance(workspace_id, str) or not _WORKSPACE_ID.match(workspace_id):
        raise ValueError("a workspace id is a URL-safe random token of 16 to 64 characters")
    s = settings or get_settings()
    base = s.data_dir / "workspaces" / workspace_id
    return Workspace(models=base / "models", uploads=base / "uploads")


def allowed_corpus_path(path: str | os.PathLike, settings: Settings | None = None) -> Path:
    """``path`` as a file the server may read as a corpus, or W2VError saying why not.

    Personal mode: any path (it is the user's own machine). Shared mode: only files inside ``W2V_CORPUS_DIR``,
    taken relative to that folder and checked after resolving ``..`` and symbolic links; with no such folder, no
    server path at all.
    """
    s = settings or get_settings()
    if not s.shared:
        return Path(path).expanduser()
    if s.corpus_dir is None:
        raise W2VError("This server does not open its own files as corpora: upload a file or paste text instead.")
    try:
        root = s.corpus_dir.resolve()
        real = (root / path).resolve()  # a relative path is taken inside the corpus folder
    except (OSError, RuntimeError):
        real, root = None, None
    if real is None or not (real == root or real.is_relative_to(root)):
        raise W2VError("Only files in the server's corpus folder can be used here: give the name of a file in it, "
                       "or upload a file instead.")
    return real


_ABS_PATH = re.compile(r"(?<![\w.:/~])(?:/[^\s/'\"()]+)+/?")


def public_message(message: str, settings: Settings | None = None) -> str:
    """``message`` fit for a visitor: on a shared server every absolute path in it becomes its last part (a file's
    name), so no message shows where the server keeps anything (a workspace's folder, the corpus folder).

    Personal mode: unchanged (the paths are the user's own).
    """
    try:
        s = settings or get_settings()
    except W2VError:
        return message
    if not s.shared:
        return message
    return _ABS_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "the server's folder", message)
