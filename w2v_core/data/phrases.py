"""Phrases: frequent word pairs ("new york") joined into one token ("new_york") before the vocabulary is built.

Mikolov et al. 2013, "Distributed Representations of Words and Phrases and their Compositionality", section 4:
a bigram ``a b`` becomes a phrase when

    default:  (count(a b) - min_count) / (count(a) * count(b)) * len_vocab  >  threshold
    npmi:     ln(p(a b) / (p(a) p(b))) / -ln(p(a b))  >  threshold,   only if count(a b) >= min_count

with the counts, ``len_vocab`` and the decisions of gensim 4's ``Phrases`` with no connector words (its default):
``len_vocab`` is the number of distinct unigrams plus distinct adjacent pairs, ``p(x) = count(x) / n_tokens``, pairs
never cross a document boundary, and a document is read left to right, so in "a b c" with both pairs phrases only
``a_b`` is joined (the token ``b`` is used once). Each pass runs on the previous pass's output, so two passes can
make ``new_york_times``. (gensim counts a pair by its joined string; once words contain ``_``, two different pairs can
spell the same string, which gensim adds up and we keep apart. On a first pass over our tokens this never happens.)

Everything works on the corpus's int32 ids with numpy: a pair is ``a * n_words + b`` in one int64 array, counted by
``np.unique``; no Python loop runs per token. ``CorpusConfig.phrases`` asks for it, ``loader.load_corpus`` applies it
to the tokenized corpus and the corpus cache keeps the result (and the table of phrases, ``Corpus.phrases``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from w2v_core.data.corpus import MAX_PHRASE_PASSES as MAX_PASSES
from w2v_core.data.corpus import PHRASE_SCORINGS as SCORINGS
from w2v_core.data.corpus import Corpus, CorpusConfig, check_phrase_options

log = logging.getLogger(__name__)

DELIMITER = "_"
__all__ = ["DELIMITER", "MAX_PASSES", "SCORINGS", "Phrase", "apply_phrases", "check_phrase_options", "phrase_pass"]


@dataclass(frozen=True)
class Phrase:
    """One phrase found: its token, score, how often the pair occurs, how often it was joined, in which pass."""

    text: str
    score: float
    count: int
    joined: int
    pass_no: int = 1

    def to_list(self) -> list:
        return [self.text, self.score, self.count, self.joined, self.pass_no]

    @classmethod
    def from_list(cls, v: list) -> "Phrase":
        return cls(str(v[0]), float(v[1]), int(v[2]), int(v[3]), int(v[4]))


def pair_counts(corpus: Corpus) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Adjacent pairs within documents: (positions i of pairs (i, i+1), unique pair keys, their counts, inverse)."""
    ids = corpus.ids.astype(np.int64)
    n = ids.size
    valid = np.ones(max(n - 1, 0), dtype=bool)
    last = np.asarray(corpus.offsets[1:], dtype=np.int64) - 1  # the last token of each document starts no pair
    valid[last[(last >= 0) & (last < n - 1)]] = False
    pos = np.flatnonzero(valid)
    keys = ids[pos] * np.int64(max(corpus.n_words, 1)) + ids[pos + 1]
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return pos, uniq, counts.astype(np.int64), inverse


def score(count_a: np.ndarray, count_b: np.ndarray, count_ab: np.ndarray, len_vocab: int, min_count: int,
          n_tokens: int, scoring: str = "default") -> np.ndarray:
    """Scores of pairs, as gensim's ``original_scorer`` / ``npmi_scorer`` compute them (float64, -inf = never)."""
    a, b, ab = (np.asarray(x, dtype=np.float64) for x in (count_a, count_b, count_ab))
    if scoring == "default":
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (ab - min_count) / (a * b) * float(len_vocab)
        return np.where(a * b > 0, s, -np.inf)
    n = float(n_tokens)
    pa, pb, pab = a / n, b / n, ab / n
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.log(pab / (pa * pb)) / -np.log(pab)
    return np.where((ab >= min_count) & np.isfinite(s), s, -np.inf)


def joined_positions(is_phrase: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Which phrase pairs are joined, reading left to right: a pair right after a joined one has lost its first token.

    In a run of consecutive phrase pairs the 1st, 3rd, 5th, ... are joined (gensim's ``analyze_sentence``).
    """
    at = pos[is_phrase]  # token positions i of phrase pairs (i, i+1), ascending
    if at.size == 0:
        return at
    start = np.ones(at.size, dtype=bool)
    start[1:] = at[1:] != at[:-1] + 1
    run_start = np.maximum.accumulate(np.where(start, at, 0))
    return at[(at - run_start) % 2 == 0]


def phrase_pass(corpus: Corpus, min_count: int = 5, threshold: float = 10.0, scoring: str = "default",
                pass_no: int = 1) -> tuple[Corpus, list[Phrase]]:
    """One pass: the corpus with its phrase pairs joined, and the phrases found (all pairs scoring above threshold)."""
    pos, uniq, pair_n, inverse = pair_counts(corpus)
    counts = np.asarray(corpus.counts, dtype=np.int64)
    v = max(corpus.n_words, 1)
    a, b = uniq // v, uniq % v
    len_vocab = int(np.count_nonzero(counts)) + int(uniq.size)
    s = score(counts[a], counts[b], pair_n, len_vocab, min_count, corpus.n_tokens, scoring)
    good = s > threshold
    found = np.flatnonzero(good)  # indices into uniq of the phrase pairs
    at = joined_positions(good[inverse], pos)
    if found.size == 0:
        return corpus, []
    # each phrase pair gets a word id after the existing ones (or the id of a word already spelled that way)
    texts = [f"{corpus.words[i]}{DELIMITER}{corpus.words[j]}" for i, j in zip(a[found].tolist(), b[found].tolist())]
    known = _existing_ids(corpus.words, texts)
    phrase_of_pair = np.full(uniq.size, -1, dtype=np.int64)
    phrase_of_pair[found] = np.arange(found.size)
    new_id = np.asarray([known.get(t, corpus.n_words + k) for k, t in enumerate(texts)], dtype=np.int64)
    pair_at = inverse[np.searchsorted(pos, at)]  # the unique pair at each joined position
    ids = corpus.ids.astype(np.int64)
    ids[at] = new_id[phrase_of_pair[pair_at]]
    keep = np.ones(ids.size, dtype=bool)
    keep[at + 1] = False
    offsets = np.asarray(corpus.offsets, dtype=np.int64)
    offsets = offsets - np.searchsorted(at + 1, offsets, side="left")  # tokens dropped before each document start
    joined = np.bincount(phrase_of_pair[pair_at], minlength=found.size)
    table = [Phrase(t, float(s[k]), int(pair_n[k]), int(joined[n]), pass_no)
             for n, (t, k) in enumerate(zip(texts, found.tolist()))]
    out = _renumbered(ids[keep], offsets, corpus.words + texts, corpus)
    return out, sorted(table, key=lambda p: (-p.score, p.text))


def _existing_ids(words: list[str], texts: list[str]) -> dict[str, int]:
    """Phrase texts that are already words (pre-tokenized text with underscores, a later pass): their ids."""
    if not any(DELIMITER in w for w in words):
        return {}
    want = set(texts)
    return {w: i for i, w in enumerate(words) if w in want}


def _renumbered(ids: np.ndarray, offsets: np.ndarray, words: list[str], like: Corpus) -> Corpus:
    """A corpus whose ids are in order of first appearance again (words no longer used are dropped)."""
    uniq, first = np.unique(ids, return_index=True)
    order = uniq[np.argsort(first, kind="stable")]
    remap = np.zeros(int(uniq[-1]) + 1 if uniq.size else 0, dtype=np.int32)
    remap[order] = np.arange(order.size, dtype=np.int32)
    new_ids = remap[ids]
    counts = np.bincount(new_ids, minlength=order.size).astype(np.int64)
    return Corpus(new_ids, offsets, [words[i] for i in order.tolist()], counts, like.name, like.config,
                  like.truncated)


def apply_phrases(corpus: Corpus, config: CorpusConfig) -> Corpus:
    """``corpus`` after ``config.phrases`` passes of phrase detection, with ``phrases`` listing what was found."""
    table: list[Phrase] = []
    for k in range(1, config.phrases + 1):
        corpus, found = phrase_pass(corpus, config.phrase_min_count, config.phrase_threshold, config.phrase_scoring,
                                    pass_no=k)
        log.info("phrases: pass %d found %d phrases, %s tokens left", k, len(found), f"{corpus.n_tokens:,}")
        table += found
        if not found:
            break
    return replace(corpus, config=config, phrases=table)
