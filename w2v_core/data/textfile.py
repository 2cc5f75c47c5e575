"""Local text read safely: special files refused before they are opened, encodings decoded correctly or refused.

Why: opening a FIFO for reading blocks until someone writes to it (a corpus path could hang a run forever), a device
never ends, and a Latin-1 file read as UTF-8 turns "café" into "caf" + a replacement character. So a path is checked
with ``stat`` (which never blocks) first, and the encoding is found before the text is read:

1. a byte-order mark: UTF-8 (``utf-8-sig``), UTF-16 or UTF-32;
2. otherwise NUL bytes or many control characters: binary, refused;
3. otherwise valid UTF-8 from start to end (checked in 1 MB steps at C speed): ``utf-8``;
4. otherwise text with a few accented letters among ASCII ones: Windows-1252 (the superset of Latin-1 that
   Western European editors write), or Latin-1 where Windows-1252 leaves a byte undefined;
5. otherwise (mostly non-ASCII letters: Cyrillic, Greek, ...) ``charset_normalizer``'s best guess, or a refusal.

A file that is not UTF-8 is named in a warning with the encoding that was used.
"""

from __future__ import annotations

import codecs
import logging
import os
import stat
from pathlib import Path
from typing import Iterator

from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

SAMPLE_BYTES = 4 * 1024 * 1024  # what the guesses of steps 4 and 5 look at
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 LE starts like UTF-16 LE
_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_local_file(path: str | os.PathLike, what: str = "corpus") -> Path:
    """``path`` if it is a regular file or a folder; W2VError at once for anything else, without opening it."""
    p = Path(path).expanduser()
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise W2VError(f"{what.capitalize()} file not found: {p}. Check the path.") from None
    except OSError as e:
        raise W2VError(f"Cannot read {p} ({e.strerror or e}): give a file you can read.") from None
    for test, kind in _KINDS:
        if test(mode):
            raise W2VError(f"{p} is {kind}, not a file: give a text file (one document a line) as the {what}.")
    return p


def looks_binary(head: bytes) -> bool:
    """NUL bytes or mostly control characters in the first few KB: not text."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return ctrl / len(head) > 0.05


def _bom(head: bytes) -> str | None:
    return next((enc for bom, enc in _BOMS if head.startswith(bom)), None)


_NOT_HIGH = bytes(range(0x80))
_NOT_ASCII_LETTER = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))


def _guess_8bit(sample: bytes, name: str) -> str:
    """The single-byte encoding of text that is not UTF-8 (steps 4 and 5 of the module docstring)."""
    high = len(sample.translate(None, _NOT_HIGH))
    ascii_letters = len(sample.translate(None, _NOT_ASCII_LETTER))
    if high <= 0.3 * max(high + ascii_letters, 1):  # accents among mostly ASCII letters: Western European
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise W2VError(f"{name} is neither UTF-8 nor a text encoding that could be recognised: save it as UTF-8 "
                       "text and try again.")
    return best.encoding


def decode_bytes(data: bytes, name: str = "the text") -> tuple[str, str]:
    """``data`` as text and the encoding used (see the module docstring); W2VError for binary or unknown bytes."""
    enc = _bom(data[:4])
    if enc is None:
        if looks_binary(data[:8192]):
            raise W2VError(f"{name} looks like a binary file, not text: give plain text (UTF-8, one document a line).")
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            enc = _guess_8bit(data[:SAMPLE_BYTES], name)
            log.warning("%s is not UTF-8: read as %s", name, enc)
    return data.decode(enc, errors="replace"), enc


def _utf8_throughout(p: Path) -> bool:
    dec = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with open(p, "rb") as f:
            while chunk := f.read(1024 * 1024):
                dec.decode(chunk)
        dec.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _utf8_head(head: bytes) -> bool:
    """Whether ``head`` is UTF-8 (a character cut at its end allowed)."""
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head)
        return True
    except UnicodeDecodeError:
        return False


def text_encoding(path: str | os.PathLike, utf8_throughout: bool = True) -> str:
    """The encoding to read the text file ``path`` with; W2VError for a special, empty, binary or unknown file.

    ``utf8_throughout=False``: "utf-8" when the first bytes are, without reading the rest (for a reader that decodes
    strictly and asks again with the default when a later byte is not).
    """
    p = check_local_file(path)
    if p.is_dir():
        raise W2VError(f"{p} is a folder: give a text file (one document a line) or a saved `datasets` folder.")
    if p.stat().st_size == 0:
        raise W2VError(f"The corpus file {p} is empty: give a file with text in it.")
    with open(p, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    enc = _bom(head[:4])
    if enc is not None:
        return enc
    if looks_binary(head[:8192]):
        raise W2VError(f"{p} looks like a binary file, not text. Give a plain-text file (UTF-8, one document a line).")
    if (not utf8_throughout and _utf8_head(head)) or _utf8_throughout(p):
        return "utf-8"
    enc = _guess_8bit(head, p.name)
    log.warning("%s is not UTF-8: read as %s", p.name, enc)
    return enc


def read_lines(path: str | os.PathLike) -> Iterator[str]:
    """The lines of a text file in its own encoding (checked first: see :func:`text_encoding`)."""
    enc = text_encoding(path)
    with open(Path(path).expanduser(), encoding=enc, errors="replace", newline=None) as f:
        yield from f
