"""What a model folder says about itself, without loading the weights: :class:`ModelRecord`, and the listing.

:func:`read_record` reads and checks a folder's config.json (and scores.json) into a :class:`ModelRecord`;
:func:`list_records` lists a models folder (repairing a killed save's leftovers first); :func:`mtime_stamp` is the
folder's version, the key for anything cached from it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from w2v_core.data.corpus import CorpusConfig
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.store.disk import _MARKED, CONFIG, SCORES, WEIGHTS, _readable_dir, models_dir, repair_models_dir
from w2v_core.store.format import _read_extra, read_config

log = logging.getLogger(__name__)


def mtime_stamp(path: str | os.PathLike) -> int:
    """The folder's version: the newer modification time (ns) of its weights and config.json, 0 when unreadable.

    A save rewrites both and a rename rewrites config.json, so it changes whenever the folder does: the key for
    anything cached from it. It is a time, not a digest of the contents (cheap enough to read on every rerun).
    """
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
    mtime_stamp: int = 0  # see mtime_stamp(): changes when the weights or config.json are rewritten
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
        scores=_read_extra(_readable_dir(p), SCORES), mtime_stamp=mtime_stamp(p), scores_stamp=scores_stamp)


def list_records(root: str | os.PathLike | None = None, *, broken: bool = False,
                 repair: bool = True) -> list[ModelRecord]:
    """The model folders under ``root`` (default: models_dir()), newest first.

    Folders that cannot be read are left out with a log line, or kept (with ``error`` set) when ``broken``.
    Leftovers of killed saves are repaired first (repair_models_dir; not with ``repair=False``, for a folder the app
    must never write to, such as the gallery); a model whose replacement is being renamed in right now is listed
    from its aside copy, so it never disappears from the list.
    """
    root = Path(root) if root is not None else models_dir()
    out: list[ModelRecord] = []
    if not root.is_dir():
        return out
    if repair:
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
