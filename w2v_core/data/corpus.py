"""Corpora: the types, the tokenizer and the builder. Text in, one int32 array of token ids plus offsets out.

A corpus is never held as lists of strings: ``ids`` is an int32 array over the whole corpus, ``offsets``
(n_docs + 1, int64) says where each document starts, and ``words``/``counts`` name the ids. Word ids here
are in order of first appearance; the training vocabulary (``vocab.py``) re-ranks them by count.

This module is a leaf: it reads no files and knows no source. ``loader.load_corpus`` turns a
:class:`CorpusConfig` into a :class:`Corpus` (bundled corpora in ``bundled.py``, WikiText in ``hub.py``,
local files and uploads in ``sources.py``, the on-disk cache in ``corpus_cache.py``). ``corpus_stats``
summarises a corpus for the app (sizes, words kept after ``min_count``, top words, rank/frequency for a Zipf plot).

Tokenization (``tokenize``): Unicode NFC first, then lowercase, words only (letters with their combining marks,
with inner apostrophes), WikiText artefacts (`` @-@ ``, `` @,@ ``, `` @.@ ``, `` = Heading = `` lines, ``<unk>``)
cleaned; Chinese, Japanese, Thai (scripts without spaces) split into words or characters (``scripts.py``).
``pretokenized`` normalises, splits on whitespace and does nothing else.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from w2v_core.data.scripts import NORMAL_FORMS, has_mark, has_unspaced, mark_class, split_unspaced
from w2v_core.data.scripts import normalize as normalize_text
from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

BUILTIN = ("sample", "lee")  # bundled with gensim (bundled.py)
WIKITEXT = ("wikitext-2", "wikitext-103")  # through Hugging Face datasets (hub.py)
SPLITS = ("train", "validation", "test")

ProgressFn = Callable[[float, str], None]  # (fraction 0..1, message)


@dataclass(frozen=True)
class CorpusConfig:
    """Where the text comes from and how it becomes tokens. Saved with every model."""

    source: str = "sample"  # sample | lee | wikitext-2 | wikitext-103 | path to a file or dataset folder
    max_tokens: int | None = None  # keep whole documents, in order, until this many tokens; None = all
    pretokenized: bool = False  # split on whitespace only (the text is already tokenized)
    lowercase: bool = True
    keep_numbers: bool = False  # keep tokens made of digits (e.g. 1984)
    keep_punct: bool = False  # keep punctuation marks as tokens
    min_token_len: int = 1  # drop shorter tokens
    keep_unk: bool = False  # keep WikiText's <unk> as a token
    text_column: str | None = None  # for CSV/JSON/Parquet/datasets sources with several text columns
    split: str = "train"  # WikiText split: train | validation | test
    normalize: str = "NFC"  # Unicode normal form before tokenizing: NFC | NFKC | none (scripts.py)
    phrases: int = 0  # passes of phrase detection ("new york" -> "new_york"; phrases.py); 0 = none
    phrase_min_count: int = 5  # gensim Phrases' min_count
    phrase_threshold: float = 10.0  # gensim Phrases' threshold (default scoring; -1..1 for npmi)
    phrase_scoring: str = "default"  # default (word2vec's) | npmi

    def __post_init__(self) -> None:
        # a pathlib.Path is a file name like any other (and must stay JSON-writable in the cache and config.json)
        if isinstance(self.source, os.PathLike):
            object.__setattr__(self, "source", os.fspath(self.source))

    def validate(self) -> None:
        if not self.source or not str(self.source).strip():
            raise W2VError("No corpus given: name a built-in corpus (sample, lee, wikitext-2, wikitext-103) or a file.")
        if self.split not in SPLITS:
            raise W2VError(f"Unknown split '{self.split}': choose one of {', '.join(SPLITS)}.")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise W2VError(f"The corpus size must be at least 1 token (got {self.max_tokens}).")
        if not 1 <= self.min_token_len <= 50:
            raise W2VError(f"The minimum token length must be between 1 and 50 (got {self.min_token_len}).")
        if self.normalize not in NORMAL_FORMS:
            raise W2VError(f"Unknown Unicode normalisation '{self.normalize}': choose one of "
                           f"{', '.join(NORMAL_FORMS)}.")
        check_phrase_options(self.phrases, self.phrase_min_count, self.phrase_threshold, self.phrase_scoring)


PHRASE_SCORINGS = ("default", "npmi")  # gensim Phrases' built-in scorers (phrases.py)
MAX_PHRASE_PASSES = 4


def check_phrase_options(passes: int, min_count: int, threshold: float, scoring: str) -> None:
    """W2VError for phrase options that gensim's Phrases would refuse (or that make no sense)."""
    if not 0 <= passes <= MAX_PHRASE_PASSES:
        raise W2VError(f"Phrase passes must be between 0 and {MAX_PHRASE_PASSES} (got {passes}).")
    if scoring not in PHRASE_SCORINGS:
        raise W2VError(f"Unknown phrase scoring '{scoring}': choose default or npmi.")
    if min_count < 1:
        raise W2VError(f"The phrase min count must be at least 1 (got {min_count}).")
    if not math.isfinite(threshold):
        raise W2VError(f"The phrase threshold must be a finite number (got {threshold}).")
    if scoring == "default" and threshold <= 0:
        raise W2VError(f"The phrase threshold must be above 0 with the default scoring (got {threshold}).")
    if scoring == "npmi" and not -1 <= threshold <= 1:
        raise W2VError(f"The phrase threshold must be between -1 and 1 with npmi scoring (got {threshold}).")


# ---------------------------------------------------------------------------------------------- tokenizer

_HEADING = re.compile(r"^\s*(=+)\s.*\s\1\s*$")
_WT_JOIN = re.compile(r" @([-,.])@ ")
_PUNCT = r"[^\w\s]"


def _token_re(keep_numbers: bool, keep_punct: bool, keep_unk: bool, marks: str = "") -> re.Pattern:
    """The token pattern; with ``marks`` (a character class), letters may carry combining marks."""
    letter, alnum = (rf"(?:[^\W\d_][{marks}]*)", rf"(?:[^\W_][{marks}]*)") if marks else (r"[^\W\d_]", r"[^\W_]")
    parts = []
    if keep_unk:
        parts.append(r"<unk>")
    if keep_numbers:  # letters glued to digits ("mp3") become one token with the digits
        parts.append(rf"{alnum}*\d{alnum}*(?:[.,]\d+)*")
    parts.append(rf"{letter}+(?:'{letter}+)*")
    # a clitic split off its word, as WikiText and the Penn Treebank write it ("john 's", "they 're", "don 't"): one
    # token "'s", not a stray "s" (issue 24: "s" was the sample's 9th most frequent word); "john's" stays one word above
    parts.append(r"'(?:[sSdDmMtT]|re|RE|ve|VE|ll|LL)\b")
    if keep_punct:
        parts.append(_PUNCT if not marks else rf"[^\w\s{marks}]")
    return re.compile("|".join(parts))


def is_heading(line: str) -> bool:
    """WikiText section headings look like `` = Title = `` or `` = = Section = = ``."""
    return bool(_HEADING.match(line))


@dataclass(frozen=True)
class Tokenizer:
    """Turns a line of text into tokens according to a :class:`CorpusConfig`."""

    pretokenized: bool = False
    lowercase: bool = True
    keep_numbers: bool = False
    keep_punct: bool = False
    min_token_len: int = 1
    keep_unk: bool = False
    normalize: str = "NFC"
    _re: re.Pattern = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]
    _re_marks: re.Pattern = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        opts = (self.keep_numbers, self.keep_punct, self.keep_unk)
        object.__setattr__(self, "_re", _token_re(*opts))
        object.__setattr__(self, "_re_marks", _token_re(*opts, marks=mark_class()))

    @classmethod
    def from_config(cls, c: CorpusConfig) -> "Tokenizer":
        return cls(c.pretokenized, c.lowercase, c.keep_numbers, c.keep_punct, c.min_token_len, c.keep_unk,
                   c.normalize)

    def __call__(self, text: str) -> list[str]:
        text = normalize_text(text, self.normalize)
        if self.pretokenized:
            toks = text.split()
            if self.lowercase:
                toks = [t.lower() for t in toks]
        else:
            if "@" in text:
                text = _WT_JOIN.sub(r"\1", text)  # "well @-@ known" -> "well-known", "1 @,@ 000" -> "1,000"
            if not self.keep_unk and "<unk>" in text:
                text = text.replace("<unk>", " ")
            if self.lowercase:
                text = text.lower()
            if text.isascii():
                toks = self._re.findall(text)
            else:  # the slower pattern only where a combining mark may be
                toks = (self._re_marks if has_mark().search(text) else self._re).findall(text)
                if has_unspaced(text):
                    toks = split_unspaced(toks, text)
        if self.min_token_len > 1:
            toks = [t for t in toks if len(t) >= self.min_token_len]
        return toks


def tokenize(text: str, config: CorpusConfig | None = None) -> list[str]:
    """Tokens of one piece of text (headings are not special here; see :func:`iter_lines_docs`)."""
    return Tokenizer.from_config(config or CorpusConfig())(text)


# ---------------------------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """A tokenized corpus: int32 ids over all documents, document offsets, and the id -> word table."""

    ids: np.ndarray  # int32 (n_tokens,)
    offsets: np.ndarray  # int64 (n_docs + 1,)
    words: list[str]  # id -> word (order of first appearance)
    counts: np.ndarray  # int64 (n_words,): occurrences of each id
    name: str = "corpus"
    config: CorpusConfig | None = None
    truncated: bool = False  # True when max_tokens cut the source short
    phrases: list = field(default_factory=list)  # phrases.Phrase: what phrase detection joined (CorpusConfig.phrases)

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_docs(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_words(self) -> int:
        return len(self.words)

    def doc_ids(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]

    def doc_tokens(self, i: int) -> list[str]:
        """The tokens of document ``i`` as strings (for display)."""
        return [self.words[j] for j in self.doc_ids(i).tolist()]

    def __repr__(self) -> str:
        return f"Corpus({self.name!r}, {self.n_tokens:,} tokens, {self.n_docs:,} documents, {self.n_words:,} words)"


class CorpusBuilder:
    """Accumulates documents of tokens into the int32 representation, block by block (bounded memory)."""

    def __init__(self, max_tokens: int | None = None):
        self.index: dict[str, int] = {}
        self.words: list[str] = []
        self._blocks: list[np.ndarray] = []
        self._block: list[int] = []
        self._lengths: list[int] = []
        self.n_tokens = 0
        self.max_tokens = max_tokens
        self.truncated = False

    @property
    def full(self) -> bool:
        return self.max_tokens is not None and self.n_tokens >= self.max_tokens

    def add(self, tokens: list[str]) -> bool:
        """Add one document (skipped when empty). Returns False once ``max_tokens`` is reached."""
        if self.full:
            self.truncated = True
            return False
        if not tokens:
            return True
        index, words = self.index, self.words
        get = index.get
        block = self._block
        for t in tokens:
            i = get(t)
            if i is None:
                i = index[t] = len(words)
                words.append(t)
            block.append(i)
        self._lengths.append(len(tokens))
        self.n_tokens += len(tokens)
        if len(block) >= 1_000_000:
            self._flush()
        return True

    def _flush(self) -> None:
        if self._block:
            self._blocks.append(np.asarray(self._block, dtype=np.int32))
            self._block = []

    def build(self, name: str, config: CorpusConfig | None = None) -> Corpus:
        self._flush()
        ids = np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.int32)
        offsets = np.zeros(len(self._lengths) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self._lengths, dtype=np.int64), out=offsets[1:])
        counts = np.bincount(ids, minlength=len(self.words)).astype(np.int64)
        return Corpus(ids, offsets, list(self.words), counts, name, config, self.truncated)


def from_documents(docs: Iterable[list[str]], name: str = "corpus", config: CorpusConfig | None = None,
                   max_tokens: int | None = None) -> Corpus:
    """A corpus from already-tokenized documents (lists of strings)."""
    b = CorpusBuilder(max_tokens)
    for d in docs:
        if not b.add(list(d)):
            break
    return b.build(name, config)


def iter_line_docs(lines: Iterable[str], tok: Tokenizer) -> Iterator[list[str]]:
    """One document per non-empty line; WikiText heading lines are skipped (unless pre-tokenized)."""
    for line in lines:
        if not tok.pretokenized and "=" in line and is_heading(line):
            continue
        toks = tok(line)
        if toks:
            yield toks


def from_texts(texts: Iterable[str], name: str = "text", config: CorpusConfig | None = None,
               progress: ProgressFn | None = None, total: int | None = None) -> Corpus:
    """Tokenize texts (each one a document; inner newlines split it into paragraph documents)."""
    config = config or CorpusConfig(source=name)
    tok = Tokenizer.from_config(config)
    b = CorpusBuilder(config.max_tokens)
    for n, text in enumerate(texts):
        for toks in iter_line_docs(text.splitlines() if "\n" in text else (text,), tok):
            if not b.add(toks):
                break
        if b.full:
            b.truncated = True
            break
        if progress is not None and total and n % 2000 == 0:
            progress(min(1.0, n / total), f"tokenizing {n:,}/{total:,}")
    corpus = b.build(name, config)
    if corpus.n_tokens == 0:
        raise W2VError(f"The corpus '{name}' has no tokens after tokenization: is it empty, or all numbers and "
                       "punctuation? Check the file, or keep numbers/punctuation in the tokenization options.")
    return corpus


def cut(corpus: Corpus, max_tokens: int | None, config: CorpusConfig | None = None) -> Corpus:
    """The corpus that ``max_tokens`` would have given: whole documents, in order, until the limit is reached.

    Word ids are in order of first appearance, so the words of a prefix of documents are a prefix of ``words``.
    """
    config = config if config is not None else corpus.config
    if max_tokens is None or max_tokens >= corpus.n_tokens:
        return Corpus(corpus.ids, corpus.offsets, corpus.words, corpus.counts, corpus.name, config, corpus.truncated)
    # the builder adds a document while fewer than max_tokens tokens are in: keep docs 0..k-1 where
    # k is the first document boundary at or past max_tokens
    k = int(np.searchsorted(corpus.offsets, max_tokens, side="left"))
    k = max(1, min(k, corpus.n_docs))
    ids = corpus.ids[:int(corpus.offsets[k])]
    n_words = int(ids.max()) + 1 if ids.size else 0
    counts = np.bincount(ids, minlength=n_words).astype(np.int64)
    return Corpus(ids, corpus.offsets[:k + 1].copy(), corpus.words[:n_words], counts, corpus.name, config,
                  truncated=k < corpus.n_docs or corpus.truncated)


# ---------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class CorpusStats:
    """What the corpus page shows: sizes, the vocabulary that ``min_count`` keeps, top words, Zipf curve."""

    name: str
    n_tokens: int
    n_docs: int
    n_words: int
    truncated: bool
    min_count: int
    n_kept: int  # distinct words with count >= min_count
    kept_tokens: int  # tokens of those words
    top_words: list[tuple[str, int]]
    ranks: np.ndarray  # int64, 1-based ranks (log-spaced when the vocabulary is large)
    freqs: np.ndarray  # int64, the count of the word at each rank
    sorted_counts: np.ndarray  # int64, all counts, descending (for words_kept at any min_count)
    samples: list[str]  # a few documents as text (tokens joined by spaces)

    def words_kept(self, min_count: int) -> int:
        """Distinct words with at least ``min_count`` occurrences (what the vocabulary would keep)."""
        # sorted_counts is descending: count the entries >= min_count
        return int(np.searchsorted(-self.sorted_counts, -min_count, side="right"))

    def tokens_kept(self, min_count: int) -> int:
        """Corpus tokens whose word has at least ``min_count`` occurrences (what training will read)."""
        return int(self.sorted_counts[:self.words_kept(min_count)].sum())


def corpus_stats(corpus: Corpus, min_count: int = 5, top_n: int = 30, n_samples: int = 3,
                 sample_tokens: int = 60, max_points: int = 2000) -> CorpusStats:
    """Summary statistics of a corpus, small enough to cache and plot (no per-token data is returned)."""
    counts = np.asarray(corpus.counts, dtype=np.int64)
    order = np.argsort(-counts, kind="stable")
    sorted_counts = counts[order]
    top = [(corpus.words[int(i)], int(counts[i])) for i in order[:top_n]]
    kept = counts >= min_count
    v = len(sorted_counts)
    if v <= max_points:
        ranks = np.arange(1, v + 1, dtype=np.int64)
    else:  # log-spaced ranks: the Zipf plot is log-log, so this loses nothing visible
        ranks = np.unique(np.geomspace(1, v, max_points).round().astype(np.int64))
    freqs = sorted_counts[ranks - 1] if v else np.zeros(0, dtype=np.int64)
    samples = []
    if corpus.n_docs:
        lengths = np.diff(np.asarray(corpus.offsets, dtype=np.int64))
        # whole paragraphs, spread over the corpus: headings and one-line documents say little about the text
        full = np.flatnonzero(lengths >= min(40, int(lengths.max())))
        picks = np.unique(full[np.linspace(0, len(full) - 1, min(n_samples, len(full))).round().astype(int)])
        for i in picks.tolist():
            toks = corpus.doc_tokens(i) if corpus.offsets[i + 1] - corpus.offsets[i] <= sample_tokens else \
                [corpus.words[j] for j in corpus.ids[corpus.offsets[i]:corpus.offsets[i] + sample_tokens].tolist()] + ["…"]
            samples.append(" ".join(toks))
    return CorpusStats(corpus.name, corpus.n_tokens, corpus.n_docs, corpus.n_words, bool(corpus.truncated), min_count,
                       int(kept.sum()), int(counts[kept].sum()), top, ranks, freqs, sorted_counts, samples)
