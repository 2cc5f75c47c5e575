"""On-disk cache of tokenized corpora: the second run with the same source and options does not re-tokenize.

An entry is a folder named by a hash of (source identity, tokenization options, corpus size)::

    <cache dir>/<key>/ids.npy  offsets.npy  counts.npy  words.json  meta.json

No pickle: arrays are ``.npy`` read with ``allow_pickle=False`` and the word list is JSON. ``meta.json``
is written last and the folder is renamed into place, so a half-written entry is never read. An entry
that fails its checks is deleted and rebuilt, never fatal.

Source identity: a built-in name (plus the size and time of the bundled file), a WikiText name and split,
or a local file's absolute path, size, modification time and inode (a folder: the same for every file in it),
so an edited or replaced file is re-tokenized. The identity is taken before and after reading (``loader``): a file
changed while it was read is not cached, so its new identity never points at its old tokens.

The cache folder is ``$W2V_CACHE_DIR`` or ``~/.cache/w2v-explorer/corpora``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np

from w2v_core.data import bundled, scripts
from w2v_core.data.corpus import BUILTIN, WIKITEXT, Corpus, CorpusConfig, cut
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # bump when tokenization changes, so old entries are not reused (2: NFC, marks, CJK, phrases;
# 3: a split-off clitic is the token "'s", not "s")
_FILES = ("ids.npy", "offsets.npy", "counts.npy", "words.json", "meta.json")


def cache_dir() -> Path:
    """Where tokenized corpora (and uploaded files) are kept; ``W2V_CACHE_DIR`` overrides the default."""
    env = os.environ.get("W2V_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "w2v-explorer" / "corpora"


def _file_identity(p: Path) -> dict:
    st = p.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}  # os.replace changes the inode


def source_identity(source: str) -> dict | None:
    """What makes this source's text what it is; None when it cannot be identified (not cached then)."""
    if source in BUILTIN:
        f = bundled.corpus_file(source)
        return {"builtin": source, **(_file_identity(f) if f.exists() else {})}
    if source in WIKITEXT:
        return {"hub": source}  # WikiText is a fixed release; the split is in the options
    p = Path(source).expanduser()
    try:
        p = p.resolve()
        if p.is_file():
            return {"path": str(p), **_file_identity(p)}
        if p.is_dir() and ((p / "state.json").is_file() or (p / "dataset_dict.json").is_file()):
            # only a saved dataset is read as a folder: any other folder (/usr, a home) is refused by the reader,
            # so it is not walked file by file for an identity either
            files = sorted(q for q in p.rglob("*") if q.is_file())
            return {"path": str(p), "files": [[str(q.relative_to(p)), *_file_identity(q).values()] for q in files]}
    except OSError:
        pass
    return None


def cache_key(config: CorpusConfig) -> str | None:
    """A stable hash of the source identity and every option that changes the tokens."""
    ident = source_identity(config.source)
    if ident is None:
        return None
    opts = asdict(config)
    opts.pop("source")
    if config.source not in WIKITEXT:
        opts.pop("split")  # only WikiText has splits
    if not config.phrases:  # the phrase knobs change nothing without phrases
        for k in ("phrase_min_count", "phrase_threshold", "phrase_scoring"):
            opts.pop(k)
    rules = {"scripts": scripts.RULES, "segmenters": scripts.segmenters()}  # installing jieba changes Chinese tokens
    blob = json.dumps({"v": FORMAT_VERSION, "source": ident, "options": opts, "rules": rules}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


MMAP_MIN_BYTES = 64 * 1024 * 1024  # an ids.npy at least this big is memory-mapped, not read into memory


def _read_ids(path: Path) -> np.ndarray:
    """The ids of an entry; a big corpus's are memory-mapped (read-only), so one larger than RAM can train."""
    if path.stat().st_size >= MMAP_MIN_BYTES:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    return np.load(path, allow_pickle=False)


def _read(entry: Path, config: CorpusConfig) -> Corpus:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    ids = _read_ids(entry / "ids.npy")
    offsets = np.load(entry / "offsets.npy", allow_pickle=False)
    counts = np.load(entry / "counts.npy", allow_pickle=False)
    words = json.loads((entry / "words.json").read_text(encoding="utf-8"))
    ok = (ids.dtype == np.int32 and offsets.dtype == np.int64 and counts.dtype == np.int64 and ids.ndim == 1
          and offsets.ndim == 1 and offsets.size >= 1 and int(offsets[0]) == 0 and int(offsets[-1]) == ids.size
          and isinstance(words, list) and len(words) == counts.size and meta.get("n_tokens") == ids.size
          and (ids.size == 0 or (int(ids.min()) >= 0 and int(ids.max()) < len(words))))
    if not ok:
        raise ValueError("inconsistent arrays")
    return Corpus(ids, offsets, words, counts, meta["name"], config, bool(meta["truncated"]), _read_phrases(entry))


def _read_phrases(entry: Path) -> list:
    """The phrases table of an entry made with ``CorpusConfig.phrases`` ([] for the others)."""
    f = entry / "phrases.json"
    if not f.exists():
        return []
    from w2v_core.data.phrases import Phrase

    return [Phrase.from_list(v) for v in json.loads(f.read_text(encoding="utf-8"))]


def load(config: CorpusConfig) -> Corpus | None:
    """The cached corpus for ``config``, cut from a cached full corpus when only that exists; else None."""
    key = cache_key(config)
    if key is None:
        return None
    corpus = _load_entry(key, config)
    if corpus is not None:
        return corpus
    # the full corpus cut to size is the same corpus (whole documents, in order); not so once phrases are joined
    if config.max_tokens is not None and not config.phrases:
        full_key = cache_key(replace(config, max_tokens=None))
        full = _load_entry(full_key, replace(config, max_tokens=None)) if full_key else None
        if full is not None:
            log.info("corpus cache: cutting %s to %s tokens", full.name, config.max_tokens)
            return cut(full, config.max_tokens, config)
    return None


def _load_entry(key: str, config: CorpusConfig) -> Corpus | None:
    entry = cache_dir() / key
    if not (entry / "meta.json").exists():
        return None
    try:
        t = time.perf_counter()
        corpus = _read(entry, config)
        log.info("corpus cache: loaded %s from %s in %.2fs", corpus.name, entry, time.perf_counter() - t)
        return corpus
    except Exception as e:  # noqa: BLE001 - a broken entry is rebuilt, whatever broke it
        log.warning("corpus cache: entry %s is unreadable (%s); rebuilding it", entry, e)
        shutil.rmtree(entry, ignore_errors=True)
        return None


_RESERVE: dict[str, Callable[[int], object]] = {}  # "cache": the disk quota's room-maker, see set_reserve


def set_reserve(fn: Callable[[int], object] | None) -> None:
    """Have every new entry ask ``fn(nbytes)`` for room before it is written (``serve.quota`` installs the cache
    quota here when it is imported: the data layer does not import the serving layer); None: no more asking."""
    if fn is None:
        _RESERVE.pop("cache", None)
    else:
        _RESERVE["cache"] = fn


def save(config: CorpusConfig, corpus: Corpus, key: str | None = None,
         reserve: Callable[[int], object] | None = None) -> Path | None:
    """Store ``corpus`` for ``config`` (under ``key``: the cache key taken before the source was read; default now).

    ``reserve(n)`` (default: the one :func:`set_reserve` installed) is called with the entry's size before anything
    is written (a disk quota makes room, or raises W2VError: then nothing is cached). Failures (read-only disk, full
    disk) are logged, never raised.
    """
    reserve = reserve or _RESERVE.get("cache")
    key = key or cache_key(config)
    if key is None:
        return None
    root = cache_dir()
    entry = root / key
    tmp = None
    try:
        words = json.dumps(corpus.words, ensure_ascii=False).encode("utf-8")
        phrases = (json.dumps([p.to_list() for p in corpus.phrases], ensure_ascii=False).encode("utf-8")
                   if corpus.phrases else None)
        if reserve is not None:
            reserve(4 * corpus.n_tokens + 8 * (len(corpus.offsets) + len(corpus.counts)) + len(words)
                    + len(phrases or b"") + 4096)
        tmp = new_entry_folder(key)
        np.save(tmp / "ids.npy", np.ascontiguousarray(corpus.ids, dtype=np.int32), allow_pickle=False)
        commit(tmp, key, config, corpus.name, corpus.truncated, corpus.offsets, corpus.counts, words, phrases)
        tmp = None
        log.info("corpus cache: saved %s to %s", corpus.name, entry)
        return entry
    except W2VError as e:
        log.info("corpus cache: %s not cached (%s)", corpus.name, e)
        return None
    except OSError as e:
        log.warning("corpus cache: could not save to %s (%s); the corpus will be tokenized again next time", entry, e)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def new_entry_folder(key: str) -> Path:
    """A fresh hidden folder in the cache to write the entry ``key`` into (:func:`commit` renames it into place;
    :func:`clean_leftovers` removes it if the process dies first)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    clean_leftovers(root)
    return Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))


def commit(tmp: Path, key: str, config: CorpusConfig, name: str, truncated: bool, offsets: np.ndarray,
           counts: np.ndarray, words: bytes, phrases: bytes | None = None) -> Path:
    """Finish the entry in ``tmp`` (its ``ids.npy`` written already): the other arrays, the words, ``meta.json``
    last, then the folder renamed to the entry ``key`` (replacing an older one)."""
    entry = cache_dir() / key
    np.save(tmp / "offsets.npy", np.ascontiguousarray(offsets, dtype=np.int64), allow_pickle=False)
    np.save(tmp / "counts.npy", np.ascontiguousarray(counts, dtype=np.int64), allow_pickle=False)
    (tmp / "words.json").write_bytes(words)
    if phrases is not None:
        (tmp / "phrases.json").write_bytes(phrases)
    n_tokens = int(offsets[-1]) if len(offsets) else 0
    meta = {"format": FORMAT_VERSION, "name": name, "truncated": bool(truncated), "n_tokens": n_tokens,
            "n_docs": len(offsets) - 1, "n_words": len(counts), "config": asdict(config),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    if entry.exists():
        shutil.rmtree(entry, ignore_errors=True)
    os.replace(tmp, entry)
    return entry


_LEFTOVER = re.compile(r"^\.(?:[0-9a-f]{32}|datasets)-[A-Za-z0-9_]{6,}$")  # tempfile.mkdtemp names we make here
LEFTOVER_AFTER_S = 6 * 3600  # no save or dataset read takes this long


def clean_leftovers(root: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove what killed saves and dataset reads left in the cache folder (our own temporary names only, once
    they are LEFTOVER_AFTER_S old); returns them."""
    root = root or cache_dir()
    now = time.time() if now is None else now
    gone = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return gone
    for e in entries:
        try:
            if _LEFTOVER.match(e.name) and e.is_dir(follow_symlinks=False) and \
                    now - e.stat(follow_symlinks=False).st_mtime > LEFTOVER_AFTER_S:
                shutil.rmtree(e.path, ignore_errors=True)
                gone.append(Path(e.path))
        except OSError:
            continue
    return gone


def clear() -> int:
    """Delete every cached corpus (not the uploaded files); returns how many entries were removed."""
    root = cache_dir()
    n = 0
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and (entry / "meta.json").exists():
                shutil.rmtree(entry, ignore_errors=True)
                n += 1
    return n
