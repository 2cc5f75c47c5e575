"""A newcomer's first model and the examples the app shows with it, chosen together.

The Train page starts from :data:`FIRST_RUN`: settings for a small corpus (the bundled ~465k-token sample) that
train in well under a minute on two cores. The example words, pairs and analogies below are ones that model
knows well (each word seen many times in the sample), so the first answers a newcomer sees make sense.
``benchmarks/showcase.py`` trains that model and prints its answers with the rank of every expected one: rerun it
whenever the trainer or these values change. The library's own defaults (``ModelConfig``, ``TrainConfig``, the
CLI) stay word2vec's; these are the app's.
"""

from __future__ import annotations

from typing import Iterable, Sequence

# The Train page's first values (ModelConfig / TrainConfig field names), for a small corpus: 20 passes over it
# instead of word2vec's 5, 50 numbers per word instead of 100 (less text fills fewer dimensions), and subsampling at
# 1e-4 instead of 1e-3, which thins the frequent words harder and leaves the passes to the content words the
# examples ask about. Measured with benchmarks/showcase.py over several seeds.
FIRST_RUN: dict[str, object] = {
    "arch": "skipgram", "loss": "negative", "dim": 50, "window": 5, "negative": 5, "min_count": 5,
    "sample": 1e-4, "epochs": 20,
}

# Words for "try these" and the first neighbours query, the best known first.
NEIGHBOUR_WORDS: tuple[str, ...] = ("university", "football", "music", "church", "war", "film", "river", "january")
# (a, b, c, expected): a is to b as c is to expected; the ones that model answers first time after time.
ANALOGIES: tuple[tuple[str, str, str, str], ...] = (
    ("france", "french", "spain", "spanish"),
    ("he", "his", "she", "her"),
    ("father", "mother", "son", "daughter"),
    ("is", "was", "are", "were"),
    ("germany", "german", "italy", "italian"),
)
SIMILAR_PAIRS: tuple[tuple[str, str], ...] = (("football", "basketball"), ("january", "july"), ("music", "poetry"))
ODD_ONE_OUT: tuple[tuple[str, ...], ...] = (("january", "march", "july", "football"),
                                            ("football", "basketball", "hockey", "church"))


def known(words: Iterable[str], vocab) -> list[str]:
    """The words that ``vocab`` (anything with ``in``) contains, in order."""
    return [w for w in words if w in vocab]


def content_words(words: Sequence[str], n: int = 6) -> list[str]:
    """Words to show when none of the examples are known (a model of other text): frequent, but past the very
    most frequent ("the", "of"), and alphabetic."""
    start = min(50, len(words) // 10)
    return [w for w in words[start:] if w.isalpha() and len(w) > 3][:n]
