"""Subword vectors (fastText's model): a word is the sum of its character n-grams, so every word has a vector.

Bojanowski et al. (2017), "Enriching Word Vectors with Subword Information". A word w is written with boundary marks,
``<where>``, and cut into its character n-grams of ``min_n`` to ``max_n`` characters (fastText's defaults 3 to 6):
``<wh``, ``whe``, ..., ``<whe``, ..., ``ere>``. There are far too many distinct n-grams to give each its own row, so
each is *hashed* into one of ``buckets`` rows (fastText's FNV-1a hash, :func:`ft_hash`): two n-grams may share a row.

The input table then has V + buckets rows: row w is the word's own vector, row V + b is bucket b. A vocabulary word's
input vector is the **mean** of its own row and its n-grams' rows; an unseen word's vector is the mean of the rows of
its n-grams (it has no row of its own), which is how "goverment" lands next to "government": most of its pieces are
the same. The output table is unchanged (one row per vocabulary word).

Training is word2vec's with h built from the pieces (``subword_steps.py``): Skip-gram's centre vector and CBOW's
context vectors are means over their rows, and the error on h is added, undivided, to every one of those rows, as
fastText and gensim do (``Model::update``: ``wi_->addVectorToRow(grad_, *it, 1.0)``), so that h moves as far per step
as a plain word vector would.

Memory: the n-gram table is buckets x dim x 4 bytes: fastText's 2,000,000 buckets at dim 100 are 800 MB; the app's
default, :data:`APP_BUCKETS` (200,000), is 80 MB (:func:`table_bytes`).

Training keeps a row only for the buckets the vocabulary's n-grams use (:class:`SubwordIndex`): the same training,
in a fraction of the memory; the saved table is the full one.

This module: the hash and the n-grams (bytes, checked against gensim's ``ft_hash_bytes`` and
``compute_ngrams_bytes`` in tests/test_subwords.py), every vocabulary word's rows in one CSR table (:class:`SubwordIndex`,
computed once per vocabulary, vectorised over all n-grams of one length), and composing vectors from the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from w2v_core.errors import W2VError

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
DEFAULT_BUCKETS = 2_000_000  # fastText's and gensim's
APP_BUCKETS = 200_000  # the Train page's default: 80 MB at dim 100
MAX_BUCKETS = 10_000_000
MAX_N = 20  # longest n-gram accepted as a setting


def table_bytes(buckets: int, dim: int) -> int:
    """Bytes the n-gram table takes (float32), buckets x dim x 4, as the Train page shows it."""
    return int(buckets) * int(dim) * 4


def ft_hash(data: bytes) -> int:
    """fastText's FNV-1a hash of a byte string, 32 bits, as fastText computes it: each byte is read as a *signed*
    char and widened to 32 bits before the xor (so a byte >= 128 flips the top 24 bits too)."""
    h = FNV_OFFSET
    for b in data:
        h ^= b if b < 128 else (b | 0xFFFFFF00)
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def ngrams(word: str, min_n: int, max_n: int) -> list[bytes]:
    """The character n-grams of ``<word>`` (UTF-8 bytes), fastText's ``computeSubwords`` order: by start, then length.

    A character is one UTF-8 sequence (never cut); the one-character n-grams ``<`` and ``>`` alone are skipped; the
    whole ``<word>`` is one of them when it is short enough."""
    b = ("<" + word + ">").encode("utf-8")
    starts = [i for i in range(len(b)) if b[i] & 0xC0 != 0x80]  # where each character starts
    ends = starts[1:] + [len(b)]
    out = []
    for a in range(len(starts)):
        for n in range(min_n, max_n + 1):
            last = a + n - 1
            if last >= len(starts):
                break
            if n == 1 and (a == 0 or last == len(starts) - 1):
                continue
            out.append(b[starts[a]:ends[last]])
    return out


def hash_many(grams: Sequence[bytes]) -> np.ndarray:
    """:func:`ft_hash` of many byte strings at once (uint32), vectorised over all strings of one length."""
    out = np.zeros(len(grams), dtype=np.uint32)
    if not grams:
        return out
    lengths = np.fromiter((len(g) for g in grams), dtype=np.int64, count=len(grams))
    for L in np.unique(lengths):
        sel = np.flatnonzero(lengths == L)
        raw = np.frombuffer(b"".join(grams[i] for i in sel), dtype=np.uint8).reshape(len(sel), int(L))
        signed = raw.astype(np.int8).astype(np.int32).astype(np.uint32)  # fastText's uint32(int8_t(c))
        h = np.full(len(sel), FNV_OFFSET, dtype=np.uint32)
        for j in range(int(L)):
            h ^= signed[:, j]
            h *= np.uint32(FNV_PRIME)  # wraps modulo 2^32, as uint32 arithmetic does in C
        out[sel] = h
    return out


def bucket_rows(word: str, min_n: int, max_n: int, buckets: int) -> np.ndarray:
    """The buckets (0..buckets-1) of a word's n-grams, one per n-gram (repeats kept, as fastText keeps them)."""
    return (hash_many(ngrams(word, min_n, max_n)) % np.uint32(buckets)).astype(np.int64)


@dataclass(frozen=True)
class SubwordIndex:
    """Every vocabulary word's input rows in CSR form: word w's rows are ``rows[starts[w]:starts[w + 1]]``, its own
    row w first, then one row per n-gram: V + j for the j-th of the buckets the vocabulary's n-grams use
    (``buckets[j]``, sorted).

    Only those buckets get a training row: a bucket no vocabulary n-gram hashes to is never read or written in
    training, so leaving it out changes nothing but the memory (fastText's 2,000,000 buckets at dim 100 take 800 MB;
    a 30,000-word vocabulary uses a few hundred thousand). The saved n-gram table is the full buckets x D one, with
    zeros in the unused buckets (:func:`full_table`), so an unseen word's vector is the mean of the pieces training
    has seen (:func:`compose_unseen`)."""

    rows: np.ndarray  # int64 (R,)
    starts: np.ndarray  # int64 (V + 1,)
    buckets: np.ndarray  # int64 (U,): the bucket behind training row V + j

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def of(self, w: int) -> np.ndarray:
        return self.rows[self.starts[w]:self.starts[w + 1]]


def build_index(words: Sequence[str], min_n: int, max_n: int, buckets: int) -> SubwordIndex:
    """The :class:`SubwordIndex` of a vocabulary (once per training run: every word's n-grams hashed together)."""
    V = len(words)
    per_word = [ngrams(w, min_n, max_n) for w in words]
    n_grams = np.fromiter((len(g) for g in per_word), dtype=np.int64, count=V)
    flat = [g for gs in per_word for g in gs]
    used, hashed = np.unique((hash_many(flat) % np.uint32(buckets)).astype(np.int64), return_inverse=True)
    hashed = hashed.reshape(-1) + V
    lengths = n_grams + 1
    starts = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    rows = np.empty(int(starts[-1]), dtype=np.int64)
    own = starts[:-1]
    rows[own] = np.arange(V, dtype=np.int64)
    gram_slots = np.ones(len(rows), dtype=bool)
    gram_slots[own] = False
    rows[gram_slots] = hashed
    return SubwordIndex(rows, starts, used)


def full_table(trained: np.ndarray, used: np.ndarray, buckets: int) -> np.ndarray:
    """The buckets x D n-gram table as saved: the trained rows (U x D) in their buckets, zeros elsewhere."""
    out = np.zeros((int(buckets), trained.shape[1]), dtype=np.float32)
    out[np.asarray(used, dtype=np.int64)] = trained
    return out


def compose_vocab(table: np.ndarray, index: SubwordIndex) -> np.ndarray:
    """Every vocabulary word's vector, the mean of its rows of the (V + buckets) x D input ``table``."""
    V = len(index.starts) - 1
    sums = np.add.reduceat(table[index.rows], index.starts[:-1], axis=0) if V else table[:0]
    return (sums / index.lengths[:, None]).astype(np.float32)


def seen_pieces(word: str, ngram_table: np.ndarray, min_n: int, max_n: int) -> np.ndarray:
    """The rows of ``ngram_table`` (buckets x D) of the word's n-grams that training has seen (non-zero rows)."""
    rows = ngram_table[bucket_rows(word, min_n, max_n, ngram_table.shape[0])]
    return rows[np.any(rows != 0, axis=1)]


def compose_unseen(word: str, ngram_table: np.ndarray, min_n: int, max_n: int) -> np.ndarray:
    """An unseen word's vector: the mean of the rows of its n-grams that exist (that training has seen) in the
    buckets x D ``ngram_table``; W2VError when there are none."""
    rows = seen_pieces(word, ngram_table, min_n, max_n)
    if len(rows) == 0:
        raise W2VError(f"'{word}' is not in the vocabulary, and none of its {min_n}- to {max_n}-character pieces "
                       "occurs in the training text, so no vector can be built for it.")
    return rows.mean(0).astype(np.float32)


def validate_settings(min_n: int, max_n: int, buckets: int) -> None:
    """The subword settings' ranges (ModelConfig.validate calls it when subwords are on)."""
    if not 1 <= min_n <= max_n <= MAX_N:
        raise W2VError(f"The n-gram lengths must satisfy 1 <= min_n <= max_n <= {MAX_N} (got {min_n} and {max_n}).")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise W2VError(f"buckets must be between 1 and {MAX_BUCKETS:,} (got {buckets:,}).")


def piece_table(word: str, ngram_table: np.ndarray, min_n: int, max_n: int) -> list[dict]:
    """What the Learn page shows of a word's pieces: each n-gram, its bucket (fastText's hash modulo the buckets),
    whether training has seen that bucket, and the length of its row."""
    grams = ngrams(word, min_n, max_n)
    b = (hash_many(grams) % np.uint32(ngram_table.shape[0])).astype(np.int64)
    rows = ngram_table[b]
    norms = np.linalg.norm(rows, axis=1)
    return [{"piece": g.decode("utf-8"), "bucket": int(i), "seen": bool(n > 0), "length": float(n)}
            for g, i, n in zip(grams, b, norms)]
