"""Local datasets and uploads: text, CSV, JSON lines, Parquet files and saved ``datasets`` folders.

* ``.txt`` (and any other text file): one document a line (:func:`load_text_file`).
* ``.csv`` / ``.tsv`` / ``.json`` / ``.jsonl`` / ``.parquet``: read with ``datasets.load_dataset(<format>,
  data_files=...)``; each row of the text column is a document (inner newlines split it into paragraphs).
* a folder written by ``Dataset.save_to_disk`` (or ``DatasetDict.save_to_disk``): ``datasets.load_from_disk``.

The text column: ``CorpusConfig.text_column`` if given, else a column named ``text``, else the only string
column; with several, the error lists them. A column of lists of strings counts as pre-split tokens.

Text is read in its own encoding (UTF-8, a byte-order mark, Windows-1252/Latin-1, ...: ``w2v_core.data.textfile``), and
a FIFO, device or socket given as a path is refused before anything opens it.

Uploads (the app): ``save_upload(data, filename, folder=...)`` checks size, type, emptiness and binary junk, decodes
the text in its own encoding, and stores it as UTF-8 by content hash (under the cache folder, or a visitor's own
uploads folder on a shared server), so a training run can load the same file again by path.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from w2v_core.data.corpus import BUILTIN, WIKITEXT, Corpus, CorpusConfig, ProgressFn, from_texts
from w2v_core.data.corpus_cache import cache_dir
from w2v_core.data.textfile import check_local_file, decode_bytes, read_lines, text_encoding
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

DATASET_FORMATS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
UPLOAD_TYPES = ("txt", "csv", "jsonl", "json", "parquet")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


@contextlib.contextmanager
def _hf_cache() -> Iterator[str]:
    """A fresh folder for the Arrow files ``datasets`` converts a file to, removed once it has been read.

    Why: the corpus cache keeps the tokens, so the Arrow copy is needed only while reading; kept, it would grow the
    disk with every CSV/JSON upload outside any quota. Its name starts with a dot (not a cache entry).
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    d = tempfile.mkdtemp(prefix=".datasets-", dir=root)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- text files


def read_text_lines(path) -> Iterator[str]:
    """Lines of a text file in its own encoding; special files, binary files and unknown encodings are refused."""
    p = Path(path)
    if not p.exists():
        raise W2VError(f"Corpus file not found: {p}. Give a path to a text file or a built-in corpus "
                       f"({', '.join(BUILTIN + WIKITEXT)}).")
    yield from read_lines(p)  # see w2v_core.data.textfile


def load_text_file(path, config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """A text file, one document per line, in memory (tokenized in blocks, on every core for a big file:
    ``stream.py``; ``loader.load_corpus`` streams a big one into the corpus cache instead)."""
    from w2v_core.data import stream

    if not Path(path).exists():
        raise W2VError(f"Corpus file not found: {path}. Give a path to a text file or a built-in corpus "
                       f"({', '.join(BUILTIN + WIKITEXT)}).")
    return stream.in_memory(stream.tokenize_file(path, config, progress), config)


# ---------------------------------------------------------------------------------------------- datasets


def is_saved_dataset(path: Path) -> bool:
    """A folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists())


def open_dataset(path: str | Path, hf_cache: str | None = None):
    """A local file or saved folder as a ``datasets.Dataset`` (the ``train`` split, or the only one).

    ``hf_cache``: where ``datasets`` may write its Arrow copy of a file (see :func:`_hf_cache`; required for a file).
    """
    import datasets

    p = Path(path).expanduser()
    if not p.exists():
        raise W2VError(f"Corpus file not found: {p}. Give a path to a text/CSV/JSON-lines/Parquet file or a saved "
                       "`datasets` folder, or a built-in corpus (sample, lee, wikitext-2, wikitext-103).")
    try:
        if p.is_dir():
            if not is_saved_dataset(p):
                raise W2VError(f"{p} is a folder but not one saved with `Dataset.save_to_disk`: give a file, "
                               "or a folder that has state.json/dataset_dict.json in it.")
            ds = datasets.load_from_disk(str(p))
        else:
            fmt = DATASET_FORMATS.get(p.suffix.lower()) or ("parquet" if _is_parquet(p) else None)
            if fmt is None:
                raise W2VError(f"{p.name}: not a dataset file (use .csv, .tsv, .json, .jsonl or .parquet).")
            if p.stat().st_size == 0:
                raise W2VError(f"The file {p} is empty: give a file with text in it.")
            kwargs: dict = {}
            if fmt == "csv":
                kwargs = {"encoding": text_encoding(p), "encoding_errors": "replace",
                          **({"sep": "\t"} if p.suffix.lower() == ".tsv" else {})}
            elif fmt == "json":
                kwargs = {"encoding": text_encoding(p), "encoding_errors": "replace"}
            if hf_cache is None:
                raise ValueError("open_dataset needs an hf_cache folder for a file (see sources._hf_cache)")
            ds = datasets.load_dataset(fmt, data_files=str(p), split="train", cache_dir=hf_cache, **kwargs)
    except W2VError:
        raise
    except Exception as e:  # noqa: BLE001 - parsers raise many types; the user needs the file name and the reason
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise W2VError(f"Could not read {p.name} as a dataset: {first[:300]}. Check that it is valid "
                       f"{p.suffix.lstrip('.').upper() or 'data'} (UTF-8 text, one record per row).") from e
    if isinstance(ds, datasets.DatasetDict):
        if "train" in ds:
            ds = ds["train"]
        elif len(ds) == 1:
            ds = next(iter(ds.values()))
        else:
            raise W2VError(f"{p} holds several splits ({', '.join(ds)}) and none is called 'train': save one split.")
    return ds


def _is_string(feature) -> bool:
    return getattr(feature, "dtype", None) in ("string", "large_string")


def _is_string_list(feature) -> bool:
    inner = getattr(feature, "feature", None)  # List / Sequence / LargeList
    return inner is not None and _is_string(inner)


def text_columns(ds) -> list[str]:
    """Columns that can hold text: strings, or lists of strings (pre-split tokens)."""
    return [c for c, f in ds.features.items() if _is_string(f) or _is_string_list(f)]


def pick_text_column(ds, text_column: str | None = None, where: str = "the dataset") -> str:
    """The column to read: the one asked for, else ``text``, else the only text column."""
    cols = text_columns(ds)
    if text_column:
        if text_column not in ds.column_names:
            raise W2VError(f"{where} has no column '{text_column}': its columns are {', '.join(ds.column_names)}.")
        if text_column not in cols:
            raise W2VError(f"Column '{text_column}' of {where} does not hold text; text columns: "
                           f"{', '.join(cols) or 'none'}.")
        return text_column
    if "text" in cols:
        return "text"
    if len(cols) == 1:
        return cols[0]
    if not cols:
        raise W2VError(f"{where} has no text column (columns: {', '.join(ds.column_names) or 'none'}): "
                       "give a file with a column of strings.")
    raise W2VError(f"{where} has several text columns ({', '.join(cols)}): choose one with the text column "
                   "option (--text-column).")


def _decode(col) -> list:
    """An Arrow column as Python values; invalid UTF-8 (which the JSON reader lets through) becomes U+FFFD."""
    try:
        return col.to_pylist()
    except UnicodeDecodeError:
        import pyarrow as pa

        t = col.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            vals = col.cast(pa.large_list(pa.large_binary())).to_pylist()
            return [None if v is None else [b.decode("utf-8", "replace") for b in v if b is not None] for v in vals]
        return [None if b is None else b.decode("utf-8", "replace") for b in col.cast(pa.large_binary()).to_pylist()]


def iter_column_texts(ds, column: str, batch_size: int = 10_000) -> Iterator[str]:
    """Rows of ``column`` as strings, in Arrow batches; lists of tokens are joined with spaces; nulls skipped."""
    for batch in ds.with_format("arrow").iter(batch_size=batch_size):
        for v in _decode(batch.column(column)):
            if v is None:
                continue
            if isinstance(v, list):
                v = " ".join(x for x in v if x)
            if v:
                yield v


def load_local(path: str | Path, config: CorpusConfig, progress: ProgressFn | None = None) -> Corpus:
    """A corpus from a local file or saved dataset folder (see the module docstring for the formats)."""
    p = check_local_file(path)  # a FIFO or device is refused before anything opens it (opening a FIFO blocks)
    if p.is_file() and p.suffix.lower() not in DATASET_FORMATS and not _is_parquet(p):
        return load_text_file(p, config, progress)
    with _hf_cache() as hf:
        ds = open_dataset(p, hf)
        col = pick_text_column(ds, config.text_column, where=p.name)
        log.info("reading column '%s' of %s (%d rows)", col, p, len(ds))
        corpus = from_texts(iter_column_texts(ds, col), p.name, config, progress, total=len(ds))
        del ds
    return corpus


def dataset_text_columns(path: str | Path) -> list[str]:
    """The text columns of a dataset file or saved folder (its Arrow copy is removed afterwards)."""
    with _hf_cache() as hf:
        ds = open_dataset(path, hf)
        cols = text_columns(ds)
        del ds
    return cols


def _is_parquet(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"PAR1"
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- uploads


def uploads_dir() -> Path:
    return cache_dir() / "uploads"


def _safe_name(filename: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name).strip("._") or "upload"
    return stem[-80:]


def check_upload(data: bytes, filename: str, max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    """Refuse what cannot be a corpus, with a message; returns the (lower-case) extension without the dot."""
    ext = Path(filename).suffix.lower().lstrip(".")
    if ext not in UPLOAD_TYPES:
        raise W2VError(f"{filename}: upload a .txt, .csv, .jsonl, .json or .parquet file.")
    if len(data) > max_bytes:
        raise W2VError(f"{filename} is {len(data) / 1e6:,.0f} MB; the limit is {max_bytes / 1e6:,.0f} MB. Use a "
                       "smaller file, or give a local path instead of an upload.")
    if not data or (ext != "parquet" and not data.strip()):
        raise W2VError(f"{filename} is empty: upload a file with text in it.")
    if ext == "parquet":
        if data[:4] != b"PAR1" or data[-4:] != b"PAR1":
            raise W2VError(f"{filename} is not a Parquet file (it lacks the PAR1 markers): upload a real .parquet "
                           "file, or the text as .txt/.csv/.jsonl.")
        _check_parquet(data, filename)
    return ext  # text is checked for binary bytes as it is decoded (after its byte-order mark: UTF-16 has NULs)


def _check_parquet(data: bytes, filename: str) -> None:
    """A Parquet upload must have a readable footer with at least one column (a fake is not kept)."""
    import io

    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        ok = meta.num_columns > 0
    except Exception:  # noqa: BLE001 - pyarrow raises several types for a damaged footer
        ok = False
    if not ok:
        raise W2VError(f"{filename} is not a readable Parquet file (its footer is damaged or it holds no columns): "
                       "upload a real .parquet file, or the text as .txt/.csv/.jsonl.")


def save_upload(data: bytes, filename: str, max_bytes: int = MAX_UPLOAD_BYTES,
                folder: str | Path | None = None, reserve: Callable[[int], object] | None = None) -> Path:
    """Check an uploaded file and store it by content in ``folder`` (default :func:`uploads_dir`); returns its path.

    Why store it: a training run (and the corpus cache) refers to a corpus by path, so the upload must
    outlive the browser session's memory. Text formats are stored as UTF-8, decoded from their own encoding.
    A server shared by a class gives every visitor their own ``folder`` (``settings.workspace(...).uploads``).
    ``reserve(n)`` is called with the exact number of bytes before a new file is written (a disk quota makes room
    there, or raises to refuse it); the same content uploaded again writes nothing.
    """
    ext = check_upload(data, filename, max_bytes)
    if ext != "parquet":
        data = decode_bytes(data, filename)[0].encode("utf-8")  # stored as UTF-8 whatever it came in
    digest = hashlib.sha256(data).hexdigest()[:16]
    d = Path(folder) if folder is not None else uploads_dir()
    stem = _safe_name(Path(filename).stem)
    path = d / f"{stem}-{digest}.{ext}"
    if not path.exists():
        if reserve is not None:
            reserve(len(data))
        d.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def save_pasted_text(text: str, name: str = "pasted", folder: str | Path | None = None,
                     reserve: Callable[[int], object] | None = None) -> Path:
    """Pasted text (one document a line) stored like an upload (in ``folder``); empty text is refused."""
    if not text or not text.strip():
        raise W2VError("The pasted text is empty: paste some text (one document a line).")
    return save_upload(text.encode("utf-8"), f"{name}.txt", folder=folder, reserve=reserve)
