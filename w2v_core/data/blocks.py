"""Tokenizing text a block of many lines at a time, with exactly the tokens that ``corpus.Tokenizer`` gives line by line.

Why: calling the tokenizer once per line, and looking every token up in a dictionary from Python, costs far more than
the regular expression itself (~0.45M tokens/s on one core). A block of a few MB is normalised, cleaned, lowercased
and matched in one call each, with a newline alternative in the pattern, so the line breaks come back as ``"\\n"``
markers among the tokens; ids are then assigned at C speed (``dict.fromkeys``, ``map``, ``np.fromiter``).

Why the result is the same as line by line: every step is local to a line. The WikiText heading pattern is the
line's pattern with ``\\s`` that never crosses a newline; NFC/NFKC never compose or reorder across a newline (it is
a starter that combines with nothing); lowercasing (final sigma included) and the ``@-@`` / ``<unk>`` rules never
look past one; no token pattern matches a newline. Picking the pattern with combining marks for a whole block is the
same as picking it per line (it matches the same tokens where no mark is). Only scripts without spaces depend on
their line as a whole (``scripts.split_unspaced``: kana anywhere in a line makes it Japanese), so a block with such
letters is tokenized line by line by the tokenizer itself. ``tests/test_stream.py`` checks all of this on real text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from w2v_core.data.corpus import Tokenizer, _token_re, is_heading
from w2v_core.data.scripts import has_unspaced, mark_class, normalize

NL = "\n"
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_WT_JOIN = re.compile(r" @([-,.])@ ")


def _ascii_pattern(keep_numbers: bool, keep_punct: bool, keep_unk: bool) -> re.Pattern:
    """The token pattern for ASCII text: the same matches, with ASCII ranges that test faster than Unicode classes
    (on ASCII text ``[^\\W\\d_]`` is ``[A-Za-z]``; the punctuation class is kept as it is)."""
    pattern = _token_re(keep_numbers, keep_punct, keep_unk).pattern
    for unicode_class, ascii_class in ((r"[^\W\d_]", "[A-Za-z]"), (r"[^\W_]", "[A-Za-z0-9]"), (r"\d", "[0-9]")):
        pattern = pattern.replace(unicode_class, ascii_class)
    return re.compile(pattern + "|\n")


def has_marks(text: str) -> bool:
    """``scripts.has_mark().search(text)``, faster: the distinct characters of a text are few, and that big
    character class is slow to test character by character."""
    return any(c >= "\u0300" and unicodedata.category(c)[0] == "M" for c in set(text))


def drop_headings(raw: str) -> str:
    """``raw`` with its WikiText heading lines emptied (``corpus.is_heading`` on each line that has an ``=``)."""
    i = raw.find("=")
    if i < 0:
        return raw
    out, pos = [], 0
    while i >= 0:
        s = raw.rfind(NL, 0, i) + 1
        e = raw.find(NL, i)
        e = len(raw) if e < 0 else e + 1
        if is_heading(raw[s:e]):
            out.append(raw[pos:s])
            pos = e - 1 if raw.endswith(NL, 0, e) else e  # keep the newline: an empty line, no document
        i = raw.find("=", e)
    out.append(raw[pos:])
    return "".join(out)


def line_spans(raw: str) -> list[tuple[int, int, bool]]:
    """``raw`` cut at line ends into runs of ASCII lines and of lines with other characters: (start, end, ascii)."""
    spans: list[tuple[int, int, bool]] = []
    pos = 0
    for m in _NON_ASCII.finditer(raw):
        if m.start() < pos:
            continue
        s = raw.rfind(NL, 0, m.start()) + 1
        e = raw.find(NL, m.end())
        e = len(raw) if e < 0 else e + 1
        if s < pos:  # the same run of non-ASCII lines goes on
            spans[-1] = (spans[-1][0], e, False)
        else:
            if s > pos:
                spans.append((pos, s, True))
            if spans and not spans[-1][2] and spans[-1][1] == s:
                spans[-1] = (spans[-1][0], e, False)
            else:
                spans.append((s, e, False))
        pos = e
    if pos < len(raw):
        spans.append((pos, len(raw), True))
    return spans


@dataclass
class Encoded:
    """One block's tokens as ids local to the block: ``words`` in order of first appearance, ``ids`` int32,
    ``lengths`` int64, the token count of each non-empty document (line) in order."""

    words: list[str]
    ids: np.ndarray
    lengths: np.ndarray

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


class BlockTokenizer:
    """``tokens(text)`` / ``encode(text)`` for a block of whole lines (``\\n``-separated), as ``tok`` would give them."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self._opts = (tok.keep_numbers, tok.keep_punct, tok.keep_unk)
        self._ascii = _ascii_pattern(*self._opts)
        self._plain = re.compile(_token_re(*self._opts).pattern + "|\n")
        self._marks: re.Pattern | None = None  # built on first need (the mark class takes ~20 ms)

    def _marks_re(self) -> re.Pattern:
        if self._marks is None:
            self._marks = re.compile(_token_re(*self._opts, marks=mark_class()).pattern + "|\n")
        return self._marks

    def tokens(self, raw: str) -> list[str]:
        """The tokens of every line of ``raw``, each line followed by a ``"\\n"`` marker (the last one only when
        ``raw`` ends with a newline)."""
        tok = self.tok
        if tok.pretokenized:
            text = normalize(raw, tok.normalize)
            toks = []
            extend, mark = toks.extend, toks.append
            for line in (text.lower() if tok.lowercase else text).split(NL):  # str.split is faster than a pattern
                extend(line.split())
                mark(NL)
        else:
            raw = drop_headings(raw)
            if raw.isascii():
                toks = self._ascii.findall(self._clean(raw))
            else:
                toks = []
                for s, e, ascii_only in line_spans(raw):
                    toks.extend(self._ascii.findall(self._clean(raw[s:e])) if ascii_only else self._unicode(raw[s:e]))
        if tok.min_token_len > 1:
            m = tok.min_token_len
            toks = [t for t in toks if len(t) >= m or t == NL]
        return toks

    def _clean(self, text: str) -> str:
        """The tokenizer's steps between normalisation and matching, on a block."""
        if "@" in text:
            text = _WT_JOIN.sub(r"\1", text)
        if not self.tok.keep_unk and "<unk>" in text:
            text = text.replace("<unk>", " ")
        return text.lower() if self.tok.lowercase else text

    def _unicode(self, raw: str) -> list[str]:
        # the same tests on the same text as Tokenizer.__call__ (lowercasing may add a mark: "İ" -> "i̇")
        text = self._clean(normalize(raw, self.tok.normalize))
        if text.isascii():
            return self._ascii.findall(text)
        if has_unspaced(text):
            return self._line_by_line(raw)
        return (self._marks_re() if has_marks(text) else self._plain).findall(text)

    def _line_by_line(self, raw: str) -> list[str]:
        out: list[str] = []
        lines = raw.split(NL)
        for i, line in enumerate(lines):
            out.extend(self.tok(line))  # headings are gone already
            if i < len(lines) - 1:
                out.append(NL)
        return out

    def encode(self, raw: str) -> Encoded:
        """``raw``'s tokens as block-local ids, and the length of each non-empty line (a document)."""
        return encode_tokens(self.tokens(raw))


def encode_tokens(toks: list[str]) -> Encoded:
    """Tokens with ``"\\n"`` markers -> :class:`Encoded` (the markers become document boundaries)."""
    index = dict.fromkeys(toks)  # first appearance order, at C speed
    for i, w in enumerate(index):
        index[w] = i
    ids = np.fromiter(map(index.__getitem__, toks), dtype=np.int32, count=len(toks))
    words = list(index)
    nl = index.get(NL)
    if nl is None:
        lengths = np.asarray([len(ids)] if len(ids) else [], dtype=np.int64)
        return Encoded(words, ids, lengths)
    is_nl = ids == nl
    marks = np.flatnonzero(is_nl)
    before = marks - np.arange(len(marks))  # tokens before each marker
    n = len(ids) - len(marks)
    lengths = np.diff(np.concatenate([[0], before, [n]])).astype(np.int64)
    ids = ids[~is_nl]
    ids[ids > nl] -= 1
    del words[nl]
    return Encoded(words, ids, lengths[lengths > 0])


class Merger:
    """Block-local ids -> corpus ids in order of first appearance over all blocks, and the corpus's counts."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.words: list[str] = []
        self._total = np.zeros(1024, dtype=np.int64)

    def add(self, words: list[str], counts: np.ndarray) -> np.ndarray:
        """The map from this block's ids to corpus ids (int32); ``counts``: the block's count of each of its ids."""
        index = self.index
        new = [w for w in words if w not in index]
        index.update(zip(new, range(len(self.words), len(self.words) + len(new))))
        self.words.extend(new)
        lmap = np.fromiter(map(index.__getitem__, words), dtype=np.int32, count=len(words))
        if len(self.words) > len(self._total):
            grown = np.zeros(max(len(self.words), 2 * len(self._total)), dtype=np.int64)
            grown[:len(self._total)] = self._total
            self._total = grown
        self._total[lmap] += np.asarray(counts, dtype=np.int64)  # a block's ids map to distinct corpus ids
        return lmap

    def counts(self) -> np.ndarray:
        return self._total[:len(self.words)].copy()
