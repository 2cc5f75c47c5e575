"""The model folder format: validation, load and save.

:func:`validate_config` and :func:`validate_tensors` are the one schema every listed, opened or imported folder
passes; :func:`load_model` reads a folder into a :class:`Model` (vectors, config, history, scores);
:func:`save_model` writes a complete folder through ``disk``'s crash-safe swap; rename, delete and a new model's
free name (:func:`new_model_slot`) live here too, because they read config.json.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from w2v_core.errors import W2VError
from w2v_core.store.disk import (_MARKED, CONFIG, FORMAT, FORMAT_VERSION, HISTORY, MAX_CONFIG_BYTES, PICKLE_SUFFIXES,
                                 SCORES, VECTORS_TXT, VOCAB, WEIGHTS, _aside_copy, _foreign_entries, _fsync_folder,
                                 _json_default, _marked_name, _new_stamp, _readable_dir, _remove_ours, _swap_in,
                                 _write_json, check_model_destination, slug)
from w2v_core.vectors import DIM_RANGE, SubwordVectors, WordVectors

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- validation
#
# Every model that is listed, opened or imported passes these checks, so a damaged or hostile folder is refused
# with one sentence (W2VError) instead of breaking a page later.

MAX_NAME_CHARS = 200
MAX_ABS_VALUE = 1e6  # no trained vector comes near; near 1e19 a squared norm overflows float32 and every cosine is 0
_NUM, _INT, _NULL = "number", "whole number", None
_CONFIG_FIELDS: dict[str, tuple] = {
    "format": (str,), "format_version": (_INT,), "name": (str,), "created": (str,), "imported": (bool,),
    "source_file": (str,), "vocab_size": (_INT,), "dim": (_INT,), "summary": (dict,), "corpus": (dict,),
    "model": (dict,), "train": (dict,),
}
_SECTION_FIELDS: dict[str, dict[str, tuple]] = {  # the fields pages read; other fields may hold any JSON value
    "model": {"arch": (str,), "loss": (str,), "dim": (_INT,), "window": (_INT,), "negative": (_INT,),
              "min_count": (_INT,), "sample": (_NUM,), "max_vocab": (_INT, _NULL), "subwords": (bool,),
              "min_n": (_INT,), "max_n": (_INT,), "buckets": (_INT,)},
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
    expected = {"out": (V, D), "out_bias": (V,), "in_words": (V, D)}
    if "ngrams" in out:  # a subword model's n-gram table: buckets x D
        expected["ngrams"] = (max(1, len(out["ngrams"])), D)
    for k, a in out.items():
        if k in expected and a.shape != expected[k]:
            raise W2VError(f"{where}: table '{k}' has shape {a.shape}, expected {expected[k]}; the folder is damaged.")
        if not np.isfinite(a).all():
            raise W2VError(f"{where}: table '{k}' holds NaN or infinite numbers, so the vectors are unusable; "
                           "train or export the model again.")
        big = float(np.abs(a).max()) if a.size else 0.0
        if big > MAX_ABS_VALUE:
            raise W2VError(f"{where}: table '{k}' holds numbers as large as {big:.3g}; word vectors hold small "
                           f"numbers (at most {MAX_ABS_VALUE:g} here), so these would make every similarity "
                           "meaningless. Export the vectors again.")
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
    tables: dict[str, np.ndarray] | None = None  # every table of weights.safetensors, when asked for (load_model)

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.path.name)

    @property
    def imported(self) -> bool:
        return bool(self.config.get("imported"))

    def tensors(self) -> dict[str, np.ndarray]:
        return read_tensors(self.path)


def load_model(path: str | os.PathLike, tables: bool = False) -> Model:
    """Open a model folder, checking every file; W2VError explains what is wrong with a bad one.

    ``tables``: keep all of weights.safetensors' tables (the output table too, for training on), not only the
    input vectors."""
    p = Path(path)
    cfg = read_config(p)
    d = _readable_dir(p)
    words, counts = _read_vocab(d)
    t = read_tensors(p, len(words))
    history = _read_extra(d, HISTORY) or {"batch": [], "epoch": []}
    return Model(p, cfg, _vectors(cfg, words, t, counts), history, _read_extra(d, SCORES), t if tables else None)


def _vectors(cfg: dict[str, Any], words: list[str], t: dict[str, np.ndarray], counts) -> WordVectors:
    """The folder's vectors: a subword model (config.json's model.subwords and an ``ngrams`` table) gets
    :class:`SubwordVectors`, which build unseen words from their pieces; every other folder plain ones."""
    mc = cfg.get("model") or {}
    if mc.get("subwords") is True and "ngrams" in t:
        from types import SimpleNamespace

        from w2v_core.subwords import validate_settings

        try:
            settings = SimpleNamespace(min_n=int(mc.get("min_n", 3)), max_n=int(mc.get("max_n", 6)))
            validate_settings(settings.min_n, settings.max_n, len(t["ngrams"]))
        except (TypeError, ValueError, W2VError):
            raise W2VError(f"{CONFIG}: the subword settings (min_n, max_n) are not valid; the folder is damaged.") \
                from None
        return SubwordVectors(words, t["in"], counts, ngrams=t["ngrams"], settings=settings)
    return WordVectors(words, t["in"], counts)


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
