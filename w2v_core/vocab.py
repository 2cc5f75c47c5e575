"""Vocabulary: word counts, the ``min_count`` cut, frequent-word subsampling and the negative-sampling table.

The maths follows Mikolov et al. (2013), "Distributed Representations of Words and Phrases and their
Compositionality", and the reference C tool ``word2vec.c``, as gensim does:

* subsampling keeps a word with probability ``(sqrt(f / t) + 1) * t / f`` (capped at 1), where ``f`` is the
  word's count and ``t = sample * total`` with ``total`` the number of in-vocabulary tokens;
* negatives are drawn from the unigram distribution raised to the 3/4 power, through a precomputed table so
  that drawing ``k`` negatives is one ``randint`` and one gather.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

NEG_POWER = 0.75


@dataclass
class Vocabulary:
    """Words sorted by count, most frequent first; a word's id is its rank."""

    words: list[str]
    counts: np.ndarray  # int64, same order as words
    _index: dict[str, int] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    @classmethod
    def build(
        cls, words: list[str], counts: np.ndarray, min_count: int = 5, max_size: int | None = None
    ) -> tuple["Vocabulary", np.ndarray]:
        """Keep words seen at least ``min_count`` times (at most ``max_size`` of the most frequent).

        Returns the vocabulary and ``remap``: for each input id, its vocabulary id or -1 if dropped.
        """
        if min_count < 1:
            raise W2VError(f"min_count must be at least 1 (got {min_count}).")
        counts = np.asarray(counts, dtype=np.int64)
        order = np.lexsort((np.arange(len(counts)), -counts))  # count desc, stable
        keep = order[counts[order] >= min_count]
        if max_size is not None:
            if max_size < 1:
                raise W2VError(f"The maximum vocabulary size must be at least 1 (got {max_size}).")
            keep = keep[:max_size]
        if len(keep) == 0:
            top = int(counts.max()) if len(counts) else 0
            raise W2VError(
                f"The vocabulary is empty: no word occurs at least min_count={min_count} times "
                f"(the most frequent word occurs {top} times). Lower min_count or use a bigger corpus."
            )
        remap = np.full(len(counts), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        vocab = cls([words[i] for i in keep], counts[keep].copy())
        return vocab, remap

    @classmethod
    def from_corpus(cls, corpus, min_count: int = 5, max_size: int | None = None) -> tuple["Vocabulary", np.ndarray]:
        return cls.build(corpus.words, corpus.counts, min_count, max_size)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    @property
    def total(self) -> int:
        """In-vocabulary tokens in the corpus."""
        return int(self.counts.sum())

    def keep_probs(self, sample: float) -> np.ndarray:
        """Probability of keeping each word under frequent-word subsampling (1.0 when ``sample`` is 0)."""
        if sample < 0:
            raise W2VError(f"sample must be 0 (off) or positive, e.g. 1e-3 (got {sample}).")
        if sample == 0:
            return np.ones(len(self), dtype=np.float32)
        threshold = sample * self.total
        f = np.maximum(self.counts.astype(np.float64), 1.0)  # a continued imported model's unseen words: 0
        p = (np.sqrt(f / threshold) + 1.0) * threshold / f
        return np.minimum(p, 1.0).astype(np.float32)

    def noise_distribution(self, power: float = NEG_POWER) -> np.ndarray:
        """Unigram^power distribution that negatives are drawn from."""
        w = self.counts.astype(np.float64) ** power
        return w / w.sum()

    def negative_table(self, size: int | None = None, power: float = NEG_POWER) -> np.ndarray:
        """A table of word ids in which each word fills a share of slots equal to its noise probability.

        Drawing a uniform slot gives a word with (nearly) the noise probability: one ``randint`` and one gather,
        much cheaper than ``torch.multinomial``. Every word gets at least one slot.
        """
        if size is None:
            size = int(min(1e8, max(1e6, 100 * len(self))))
        size = max(size, len(self))
        p = self.noise_distribution(power)
        slots = np.maximum(np.floor(p * size).astype(np.int64), 1)
        # distribute the remaining slots to the largest fractional parts so the table is exactly `size` long
        short = size - int(slots.sum())
        if short > 0:
            frac = p * size - np.floor(p * size)
            slots[np.argsort(-frac, kind="stable")[:short]] += 1
        elif short < 0:  # the one-slot minimum overshot: take the excess from the biggest words, keeping >= 1
            for i in np.argsort(-slots, kind="stable"):
                take = min(-short, int(slots[i]) - 1)
                slots[i] -= take
                short += take
                if short == 0:
                    break
        table = np.repeat(np.arange(len(self), dtype=np.int32), slots)
        return table
