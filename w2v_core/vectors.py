"""Trained word vectors and the questions people ask of them: neighbours, similarity, analogies, odd one out.

Shaped like gensim's ``KeyedVectors`` (``model.wv``): the vectors are a separate object from the training model,
with ``most_similar``, ``similarity``, ``doesnt_match``, ``word in wv``, so gensim users feel at home. It also
reads and writes the word2vec text/binary format that gensim and the original C tool use (and GloVe's text files,
which are the same without the header line).

Every query uses cosine similarity: rows are normalised to unit length once, so a query is one matrix-vector
product. An unknown word raises :class:`W2VError` naming close spellings that are in the vocabulary.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from w2v_core.errors import W2VError

log = logging.getLogger(__name__)

ANALOGY_METHODS = ("3cosadd", "3cosmul")
DIM_RANGE = (2, 1000)  # numbers per vector this app handles: the trainer's limits (ModelConfig.validate)
MAX_IMPORT_CELLS = 50_000_000  # numbers an imported vectors file may hold (200 MB as float32)
MAX_WORD_BYTES = 1000  # a longer "word" in a binary file means the file is not what its header says
NEIGHBOUR_METRICS = ("cosine", "euclidean")


def unit_rows(X: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so that dot products are cosines."""
    X = np.asarray(X, dtype=dtype)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


class WordVectors:
    """Words, their vectors (V x D float32) and, when known, their corpus counts."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise W2VError(f"{len(words)} words but a vectors table of shape {vectors.shape}: the files do not match.")
        self.words = list(words)
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        # imported vectors carry no counts (a saved model stores zeros for them)
        self.has_counts = self.counts is not None and bool(self.counts.any())
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise W2VError("The vocabulary lists the same word twice: the vectors file is malformed.")
        self._normed: np.ndarray | None = None
        self._sq: np.ndarray | None = None  # squared row lengths, for Euclidean neighbours

    # ----- basics ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def knows(self, word: str) -> bool:
        """Whether a vector can be given for ``word``: it is in the vocabulary (a subword model: or has pieces)."""
        return word in self.index

    def built_from_pieces(self, word: str) -> bool:
        """Whether ``word``'s vector is built from its n-grams (an unseen word of a subword model); never here."""
        return False

    def counts_at(self, rows) -> np.ndarray | None:
        """The corpus counts of the words at ``rows``, or None when these vectors carry no counts."""
        return self.counts[np.asarray(rows, dtype=np.int64)] if self.has_counts else None

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} words x {self.dim} dims)"

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def normed(self) -> np.ndarray:
        """Unit-length rows (zero rows stay zero), computed once."""
        if self._normed is None:
            self._normed = unit_rows(self.vectors)
        return self._normed

    def suggest(self, word: str, n: int = 5) -> list[str]:
        """Vocabulary words spelt like ``word``, for "did you mean": the word in lower case first, then the closest
        spellings (by tenths of difflib's ratio), and among equally close ones the more frequent first (people
        mostly mean a common word). Candidates come from the 60,000 most frequent words."""
        w = word.strip()
        low = w.lower()
        cands = [c for c in (low,) if c in self.index and c != w]
        pool = self.words if len(self.words) <= 60_000 else self.words[:60_000]
        cands += [c for c in difflib.get_close_matches(low, pool, n=3 * n, cutoff=0.7) if c not in cands]

        def key(c: str) -> tuple[float, int]:
            closeness = 1.0 if c == low else math.floor(10 * difflib.SequenceMatcher(None, low, c).ratio()) / 10
            return -closeness, self.index[c]

        return sorted(cands, key=key)[:n]

    def get_index(self, word: str) -> int:
        """Row of ``word``; an unknown word raises W2VError with close spellings."""
        i = self.index.get(word)
        if i is None:
            if not isinstance(word, str) or not word.strip():
                raise W2VError("Type a word first.")
            if len(word.split()) > 1:  # "new york": a spelling like "network" would only mislead
                raise W2VError(f"'{word.strip()}' is {len(word.split())} words: the model has a vector for each word, "
                               "not for phrases. Ask for one word at a time (or join the phrase, new_york, in the "
                               "text before training).")
            close = self.suggest(word)
            hint = f" Did you mean: {', '.join(close)}?" if close else " Try a more common word."
            raise W2VError(f"'{word}' is not in the vocabulary ({len(self):,} words).{hint}")
        return i

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        i = self.get_index(word)
        return (self.normed if norm else self.vectors)[i]

    __getitem__ = get_vector

    def count(self, word: str) -> int | None:
        return None if self.counts is None else int(self.counts[self.get_index(word)])

    # ----- queries -----------------------------------------------------------------------------------
    def _top(self, scores: np.ndarray, topn: int, exclude: Iterable[int] = ()) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        ex = list(exclude)
        if ex:
            scores[ex] = -np.inf
        k = min(topn, len(scores) - len(set(ex)))
        if k <= 0:
            return []
        idx = np.argpartition(-scores, k - 1)[:k]
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in idx]

    def most_similar(self, positive: str | Sequence[str] | None = None, negative: str | Sequence[str] | None = None,
                     topn: int = 10, method: str = "3cosadd") -> list[tuple[str, float]]:
        """Nearest words by cosine similarity; with several words, an analogy.

        ``most_similar("king")``: neighbours of king. ``most_similar(["king", "woman"], ["man"])``: king - man + woman.
        ``method="3cosadd"`` (Mikolov) ranks by cos(x, b - a + c) with unit vectors; ``"3cosmul"`` (Levy & Goldberg,
        2014) by cos'(x,b) cos'(x,c) / (cos'(x,a) + 1e-6) with cos' = (1 + cos) / 2. The query words are excluded.
        """
        pos, neg = _as_list(positive), _as_list(negative)
        if not pos and not neg:
            raise W2VError("Give at least one word.")
        if method not in ANALOGY_METHODS:
            raise W2VError(f"Unknown analogy method '{method}': choose 3cosadd or 3cosmul.")
        if topn < 1:
            raise W2VError(f"topn must be at least 1 (got {topn}).")
        vp = [self.get_vector(w, norm=True) for w in pos]  # a subword model builds unseen words from their pieces
        vn = [self.get_vector(w, norm=True) for w in neg]
        exclude = [self.index[w] for w in pos + neg if w in self.index]
        N = self.normed
        if method == "3cosadd" or not neg and len(pos) == 1:
            q = np.sum(vp, axis=0) - (np.sum(vn, axis=0) if vn else 0.0)
            qn = np.linalg.norm(q)
            scores = N @ (q / qn if qn > 0 else q)
        else:
            sims = lambda v: (1.0 + N @ v) / 2.0  # noqa: E731
            num = np.prod([sims(v) for v in vp], axis=0) if vp else 1.0
            den = np.prod([sims(v) for v in vn], axis=0) if vn else 1.0
            scores = num / (den + 1e-6)
        return self._top(scores, topn, exclude)

    def similar_by_vector(self, vector: np.ndarray, topn: int = 10, exclude: Sequence[str] = ()) -> list[tuple[str, float]]:
        """Words whose vectors point the same way as ``vector``."""
        v = np.asarray(vector, dtype=np.float32)
        n = np.linalg.norm(v)
        return self._top(self.normed @ (v / n if n > 0 else v), topn, [self.index[w] for w in exclude if w in self.index])

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return float(self.get_vector(w1, norm=True) @ self.get_vector(w2, norm=True))

    def neighbour_rank(self, word: str, other: str, limit: int = 1000) -> int | None:
        """Where ``other`` stands in ``word``'s list of nearest words (1 = nearest), None beyond ``limit``.

        Its position in :meth:`most_similar`'s own list, so the number matches the list the Neighbours tab and the
        CLI show (counting the words that score above :meth:`similarity` would be off by one whenever the two
        computations round differently).
        """
        self.get_index(other)
        for i, (w, _) in enumerate(self.most_similar(word, topn=min(max(limit, 1), len(self) - 1)), 1):
            if w == other:
                return i
        return None

    def similarities(self, word: str, others: Sequence[str]) -> list[float]:
        v = self.get_vector(word, norm=True)
        return [float(self.get_vector(o, norm=True) @ v) for o in others]

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word furthest from the mean of the others' directions (gensim's odd-one-out)."""
        words = [w for w in _as_list(words) if w.strip()]
        if len(words) < 3:
            raise W2VError("Give at least three words to find the odd one out.")
        rows = np.stack([self.get_vector(w, norm=True) for w in words])
        mean = rows.mean(0)
        mean /= np.linalg.norm(mean) or 1.0
        return words[int(np.argmin(rows @ mean))]

    def neighbours(self, query: str | int | np.ndarray, n: int = 10, metric: str = "cosine") -> list[tuple[str, float]]:
        """The ``n`` nearest words to a word, a row number or a vector, in the full space.

        ``metric="cosine"``: highest cosine similarity first (what word2vec means by similar);
        ``"euclidean"``: smallest distance between the raw vectors first, scored by that distance (long, frequent
        vectors sit far from short, rare ones even when they point the same way). A word or row is not its own
        neighbour.
        """
        if metric not in NEIGHBOUR_METRICS:
            raise W2VError(f"Unknown metric '{metric}': choose cosine or euclidean.")
        if n < 1:
            raise W2VError(f"The number of neighbours must be at least 1 (got {n}).")
        built = None
        if isinstance(query, str) and self.built_from_pieces(query):
            row: int | None = None
            built = self.get_vector(query)
        elif isinstance(query, str):
            row = self.get_index(query)
        elif isinstance(query, (int, np.integer)):
            row = int(query)
            if not 0 <= row < len(self):
                raise IndexError(f"row {row} is outside the vocabulary (0..{len(self) - 1})")
        else:
            row = None
        v = self.vectors[row] if row is not None else np.asarray(query if built is None else built,
                                                                 dtype=np.float32).reshape(-1)
        if metric == "cosine":
            return self.similar_by_vector(v, n, [] if row is None else [self.words[row]])
        exclude = [] if row is None else [row]
        dist = np.sqrt(np.maximum(self._sq_norms() - 2.0 * (self.vectors @ v) + float(v @ v), 0.0))
        return [(w, -s) for w, s in self._top(-dist, n, exclude)]

    def _sq_norms(self) -> np.ndarray:
        if self._sq is None:
            self._sq = np.einsum("ij,ij->i", self.vectors, self.vectors)
        return self._sq

    # ----- word2vec / GloVe formats ------------------------------------------------------------------
    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False) -> None:
        """word2vec's format ("V D" header, then a word and its numbers per line; binary: float32 bytes)."""
        path = Path(path)
        V, D = self.vectors.shape
        for w in self.words:
            if not w or any(c.isspace() for c in w):
                raise W2VError(f"The word {w!r} contains white space and cannot be written in word2vec format.")
        with open(path, "wb") as f:
            f.write(f"{V} {D}\n".encode())
            if binary:
                for w, v in zip(self.words, self.vectors):
                    f.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + b"\n")
            else:
                for w, v in zip(self.words, self.vectors):
                    f.write((w + " " + " ".join(f"{x:.6g}" for x in v.tolist()) + "\n").encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls, path: str | os.PathLike, binary: bool | None = None,
                             limit: int | None = None) -> "WordVectors":
        """Read word2vec text/binary or GloVe text vectors (no header). ``binary=None`` guesses from the bytes."""
        path = Path(path)
        if not path.is_file():
            raise W2VError(f"Vectors file not found: {path}")
        with open(path, "rb") as f:
            head = f.read(4096)
        if not head.strip():
            raise W2VError(f"The vectors file {path.name} is empty.")
        first = head.split(b"\n", 1)[0].split()
        has_header = len(first) == 2 and all(t.isdigit() for t in first)
        if binary is None:
            body = head.split(b"\n", 1)[1] if has_header and b"\n" in head else head
            binary = has_header and any(b < 9 or 13 < b < 32 or b > 126 for b in body[:2048]) and not _is_utf8_text(body)
        try:
            if binary:
                return cls._load_binary(path, limit)
            return cls._load_text(path, has_header, limit)
        except W2VError:
            raise
        except (ValueError, UnicodeDecodeError, IndexError) as e:
            raise W2VError(f"{path.name} is not a word2vec/GloVe vectors file ({e}).") from None

    @classmethod
    def _load_text(cls, path: Path, has_header: bool, limit: int | None) -> "WordVectors":
        """Streamed into one float32 table allocated up front (memory: the table and the words, not the lines).

        The rows are counted first (a header is checked against the count), so the table has its final size; a
        table over :data:`MAX_IMPORT_CELLS` numbers is refused before it is allocated.
        """
        with open(path, encoding="utf-8", errors="replace") as f:
            V = dim = None
            if has_header:
                V, dim = (int(t) for t in f.readline().split())
                _check_dim(path, dim)
            start = f.tell()
            first = next((ln for ln in f if ln.strip()), "")
            dim = dim or _check_dim(path, len(first.rstrip().split(" ")) - 1)
            f.seek(start)
            rows = _count_rows(f)
            n = min(rows, limit) if limit else rows
            if n * dim > MAX_IMPORT_CELLS:
                raise W2VError(f"{path.name} holds {n:,} vectors of {dim} numbers, more than the "
                               f"{MAX_IMPORT_CELLS:,} numbers this app imports: keep the first "
                               f"{max(1, MAX_IMPORT_CELLS // dim):,} words (the limit box) or fewer.")
            f.seek(start)
            words, vecs = _read_rows(f, path, dim, n, 2 if has_header else 1)
        if V is not None and V != rows:
            raise W2VError(f"{path.name} says it holds {V:,} vectors but has {rows:,} lines of them; it is damaged "
                           "or was cut short.")
        if not words:
            raise W2VError(f"{path.name} has no vectors in it.")
        return cls(words, vecs)

    @classmethod
    def _load_binary(cls, path: Path, limit: int | None) -> "WordVectors":
        with open(path, "rb") as f:
            V, D = (int(t) for t in f.readline(64).split())
            _check_dim(path, D)
            n = min(V, limit) if limit else V
            left = os.fstat(f.fileno()).st_size - f.tell()
            if n < 1 or n * (4 * D + 2) > left:  # each row: a word, a space, D float32s (and a newline)
                raise W2VError(f"{path.name} says it holds {V:,} vectors of {D} numbers, but the file is "
                               f"{left:,} bytes long; it is damaged or not a word2vec binary file.")
            if n * D > MAX_IMPORT_CELLS:
                raise W2VError(f"{path.name} holds {n:,} vectors of {D} numbers, more than the {MAX_IMPORT_CELLS:,} "
                               f"numbers this app imports: keep the first {max(1, MAX_IMPORT_CELLS // D):,} words.")
            words, vecs = [], np.empty((n, D), dtype=np.float32)
            for i in range(n):
                w = bytearray()
                while True:
                    c = f.read(1)
                    if not c:
                        raise W2VError(f"{path.name} ends early (after {i} of {V} vectors).")
                    if c == b" ":
                        break
                    if c != b"\n":
                        w += c
                    if len(w) > MAX_WORD_BYTES:
                        raise W2VError(f"{path.name}: vector {i + 1} has no word before its numbers; the file is "
                                       "damaged or not a word2vec binary file.")
                words.append(w.decode("utf-8", errors="replace"))
                buf = f.read(4 * D)
                if len(buf) < 4 * D:
                    raise W2VError(f"{path.name} ends early (after {i} of {V} vectors).")
                vecs[i] = np.frombuffer(buf, dtype="<f4")
        return cls(words, vecs)

    def save_projector(self, folder: str | os.PathLike) -> tuple[Path, Path]:
        """The TensorFlow Embedding Projector pair: vectors.tsv (numbers) and metadata.tsv (word, count)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vec_p, meta_p = folder / "vectors.tsv", folder / "metadata.tsv"
        with open(vec_p, "w", encoding="utf-8") as f:
            for v in self.vectors:
                f.write("\t".join(f"{x:.6g}" for x in v.tolist()) + "\n")
        with open(meta_p, "w", encoding="utf-8") as f:
            if self.counts is not None:
                f.write("word\tcount\n")
                for w, c in zip(self.words, self.counts.tolist()):
                    f.write(f"{_tsv_safe(w)}\t{c}\n")
            else:  # a single column has no header line in the projector's format
                for w in self.words:
                    f.write(_tsv_safe(w) + "\n")
        return vec_p, meta_p


def _count_rows(f) -> int:
    """The non-blank lines from here to the end of text file ``f``."""
    return sum(1 for line in f if line.strip())


def _read_rows(f, path: Path, dim: int, n: int, first_line: int) -> tuple[list[str], np.ndarray]:
    """Up to ``n`` rows of ``word x1 .. x_dim`` into a preallocated table; a word seen again keeps its first row."""
    words: list[str] = []
    seen: dict[str, int] = {}
    vecs = np.empty((n, dim), dtype=np.float32)
    for ln, line in enumerate(f, first_line):
        if len(words) >= n:
            break
        parts = line.rstrip("\n").rstrip().split(" ")
        if len(parts) < 2:
            if not line.strip():
                continue
            raise W2VError(f"{path.name}, line {ln}: expected a word followed by numbers.")
        if len(parts) - 1 != dim:
            raise W2VError(f"{path.name}, line {ln}: {len(parts) - 1} numbers where {dim} were expected.")
        if parts[0] in seen:  # GloVe files may repeat a word: keep the first
            continue
        vecs[len(words)] = np.asarray(parts[1:], dtype=np.float32)
        seen[parts[0]] = len(words)
        words.append(parts[0])
    return words, vecs[:len(words)]


def _check_dim(path: Path, dim: int) -> int:
    if not DIM_RANGE[0] <= dim <= DIM_RANGE[1]:
        raise W2VError(f"{path.name} has vectors of {dim} numbers; this app handles {DIM_RANGE[0]} to "
                       f"{DIM_RANGE[1]}.")
    return dim


def _tsv_safe(w: str) -> str:
    return w.replace("\t", " ").replace("\n", " ")


def _is_utf8_text(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError as e:  # a cut multi-byte character at the end is still text
        return e.start >= len(b) - 3
    return all(c >= 32 or c in (9, 10, 13) for c in b)


class SubwordVectors(WordVectors):
    """The vectors of a subword (fastText) model: the vocabulary words' vectors, composed from their pieces, plus
    the n-gram table, so that any word gets a vector: an unseen one is the mean of its n-grams' rows
    (``subwords.compose_unseen``), as fastText's and gensim's ``FastText`` do. Every query accepts unseen words."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None, *,
                 ngrams: np.ndarray, settings):
        super().__init__(words, vectors, counts)
        self.ngrams = np.asarray(ngrams, dtype=np.float32)
        if self.ngrams.ndim != 2 or self.ngrams.shape[1] != self.dim or len(self.ngrams) == 0:
            raise W2VError(f"The n-gram table has shape {self.ngrams.shape}, not buckets x {self.dim}.")
        self.min_n, self.max_n = int(settings.min_n), int(settings.max_n)

    def __repr__(self) -> str:
        return f"SubwordVectors({len(self):,} words x {self.dim} dims, {len(self.ngrams):,} n-gram buckets)"

    def pieces(self, word: str) -> list[str]:
        """The word's n-grams (with fastText's ``<`` ``>`` boundaries), as text."""
        from w2v_core.subwords import ngrams

        return [g.decode("utf-8") for g in ngrams(word, self.min_n, self.max_n)]

    def knows(self, word: str) -> bool:
        """In the vocabulary, or one word with at least one piece that training has seen."""
        from w2v_core.subwords import seen_pieces

        return word in self.index or (isinstance(word, str) and bool(word.strip()) and len(word.split()) == 1
                                      and len(seen_pieces(word, self.ngrams, self.min_n, self.max_n)) > 0)

    def built_from_pieces(self, word: str) -> bool:
        return word not in self.index and self.knows(word)

    def get_vector(self, word: str, norm: bool = False) -> np.ndarray:
        if word in self.index or not self.knows(word):
            return super().get_vector(word, norm)  # an empty or several-word query: the usual message
        from w2v_core.subwords import compose_unseen

        v = compose_unseen(word, self.ngrams, self.min_n, self.max_n)
        n = float(np.linalg.norm(v))
        return v / n if norm and n > 0 else v

    __getitem__ = get_vector
