"""How good are these vectors? Word-similarity and analogy benchmarks, scored exactly as gensim does.

* **WordSim353** (Finkelstein et al., 2002) and **SimLex-999** (Hill et al., 2015): pairs of words with a
  human similarity score. The model's score is the Spearman rank correlation between the humans' scores
  and the cosine of the two vectors, over the pairs whose words the model knows. WordSim353 rewards
  relatedness (cup / coffee), SimLex-999 strict similarity (cup / mug), so the two often disagree.
* **Google analogies** (Mikolov et al., 2013): 19,544 questions "a is to b as c is to ?" in 14 sections
  (capital-common-countries, ..., gram9-plural-verbs). A question is right when the nearest word to
  b - a + c (3CosAdd on unit vectors, the three question words excluded) is the expected one.

The files ship in gensim's wheel. The rules follow gensim's ``KeyedVectors.evaluate_word_pairs`` and
``evaluate_word_analogies`` with their defaults (case-insensitive, only the first ``restrict_vocab=300000``
words, questions with unknown words skipped), so the figures match gensim's; the code here is vectorised
(one matrix product per batch of questions), reports progress, and keeps the per-pair table so the app
can show where the model and people disagree most.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from w2v_core.data import bundled
from w2v_core.errors import W2VError
from w2v_core.vectors import unit_rows

log = logging.getLogger(__name__)

PAIR_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGY_FILE = "questions-words.txt"
BENCHMARKS = ("wordsim353", "simlex999", "analogy")
TITLES = {"wordsim353": "WordSim353", "simlex999": "SimLex-999", "analogy": "Google analogies"}
RESTRICT_VOCAB = 300_000  # gensim's default: only the most frequent words may answer or be asked
MIN_PAIRS = 3  # a rank correlation over fewer pairs means nothing
ANALOGY_BATCH = 256  # questions per matrix product (memory: batch x vocabulary floats)

Progress = Callable[[float, str], None]  # (fraction done 0..1, what is happening)


# ----- the benchmark files -----------------------------------------------------------------------------

def _datapath(fname: str) -> str:
    path = bundled.data_path(fname)
    if not path.exists():
        raise W2VError(f"The benchmark file {fname} is missing from gensim's install; reinstall it: "
                       "pip install --force-reinstall gensim")
    return str(path)


@functools.lru_cache(maxsize=None)
def load_pairs(name: str) -> tuple[tuple[str, str, float], ...]:
    """(word1, word2, human score) triples of a word-pair benchmark, parsed like gensim does."""
    if name not in PAIR_SETS:
        raise W2VError(f"Unknown word-pair benchmark {name!r}; choose one of {', '.join(PAIR_SETS)}.")
    out = []
    with open(_datapath(PAIR_SETS[name]), encoding="utf8") as f:
        for line in f:
            if not line or line.startswith("#"):
                continue
            try:
                a, b, sim = line.split("\t")
                out.append((a, b, float(sim)))
            except (ValueError, TypeError):
                continue
    return tuple(out)


@functools.lru_cache(maxsize=None)
def load_analogies() -> tuple[tuple[str, tuple[tuple[str, str, str, str], ...]], ...]:
    """The Google analogy questions as (section name, questions) in file order."""
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    with open(_datapath(ANALOGY_FILE), encoding="utf8") as f:
        for line in f:
            if line.startswith(": "):
                sections.append((line.lstrip(": ").strip(), []))
                continue
            parts = line.split()
            if len(parts) == 4 and sections:
                sections[-1][1].append(tuple(parts))
    return tuple((name, tuple(qs)) for name, qs in sections)


SECTION_TITLES = {  # the Google analogy sections, in words
    "capital-common-countries": "capital → country (common)", "capital-world": "capital → country (world)",
    "currency": "country → currency", "city-in-state": "US city → state", "family": "family (male → female)",
    "gram1-adjective-to-adverb": "adjective → adverb", "gram2-opposite": "opposite (un-, in-)",
    "gram3-comparative": "comparative (-er)", "gram4-superlative": "superlative (-est)",
    "gram5-present-participle": "present participle (-ing)", "gram6-nationality-adjective": "country → nationality",
    "gram7-past-tense": "past tense", "gram8-plural": "plural noun", "gram9-plural-verbs": "verb: 3rd person (-s)",
}


def section_title(section: str) -> str:
    """A readable name for an analogy section ("gram1-adjective-to-adverb" -> "adjective → adverb")."""
    return SECTION_TITLES.get(section, section.split("-", 1)[-1].replace("-", " ") if section.startswith("gram")
                              else section.replace("-", " "))


def is_syntactic(section: str) -> bool:
    """Google's split: gram* sections test grammar (plurals, tenses), the rest test facts (capitals, family)."""
    return section.startswith("gram")


# ----- helpers -------------------------------------------------------------------------------------------

def _lookup(words: Sequence[str], restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    """Key -> row among the first ``restrict_vocab`` words; with case folding the most frequent variant wins."""
    keys = list(words[:restrict_vocab])
    if case_insensitive:
        out: dict[str, int] = {}
        for i, w in enumerate(keys):
            out.setdefault(w.upper(), i)
        return out
    return {w: i for i, w in enumerate(keys)}


def _normed(vectors: Any) -> np.ndarray:
    normed = getattr(vectors, "normed", None)
    if isinstance(normed, np.ndarray):
        return normed
    return unit_rows(vectors.vectors)


def _pair_vector(vectors: Any, normed: np.ndarray, lookup: dict[str, int], fold, word: str):
    """(unit vector, built from pieces?) of a benchmark word: its row, or for a subword model an unseen word's
    vector built from its n-grams (so every pair is covered); None when the model has no vector for it."""
    i = lookup.get(fold(word))
    if i is not None:
        return normed[i], False
    knows = getattr(vectors, "built_from_pieces", None)
    for w in dict.fromkeys((word.lower(), word) if fold is str.upper else (word,)):
        if knows is not None and knows(w):
            return np.asarray(vectors.get_vector(w, norm=True), dtype=normed.dtype), True
    return None


def _finite_or_none(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)


# ----- word pairs --------------------------------------------------------------------------------------

def evaluate_pairs(vectors: Any, name: str = "wordsim353", restrict_vocab: int = RESTRICT_VOCAB,
                   case_insensitive: bool = True, pairs: Iterable[tuple[str, str, float]] | None = None,
                   table: bool = True) -> dict[str, Any]:
    """Spearman (and Pearson) correlation of cosine similarity with human scores on a word-pair set.

    Returns ``spearman``/``pearson`` (None with fewer than ``MIN_PAIRS`` known pairs), ``pairs`` (covered),
    ``total``, ``oov_ratio`` (0..1) and, with ``table=True``, ``table``: one dict per covered pair with
    ``w1``, ``w2``, ``human`` (0..10) and ``cosine``.
    """
    from scipy import stats

    triples = list(load_pairs(name) if pairs is None else pairs)
    lookup = _lookup(vectors.words, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)
    normed = _normed(vectors)
    vec_a, vec_b, kept, built = [], [], [], []
    for a, b, sim in triples:
        va, vb = _pair_vector(vectors, normed, lookup, fold, a), _pair_vector(vectors, normed, lookup, fold, b)
        if va is None or vb is None:
            continue
        vec_a.append(va[0])
        vec_b.append(vb[0])
        kept.append((a, b, sim))
        built.append(va[1] or vb[1])
    cos = np.einsum("ij,ij->i", np.stack(vec_a), np.stack(vec_b)) if kept else np.zeros(0)
    human = np.array([s for _, _, s in kept], dtype=np.float64)
    spearman = pearson = None
    if len(kept) >= MIN_PAIRS:
        spearman = _finite_or_none(stats.spearmanr(human, cos).statistic)
        pearson = _finite_or_none(stats.pearsonr(human, cos.astype(np.float64)).statistic)
    total = len(triples)
    out: dict[str, Any] = {
        "name": name, "title": TITLES.get(name, name), "spearman": spearman, "pearson": pearson,
        "pairs": len(kept), "total": total, "oov_ratio": (total - len(kept)) / total if total else 0.0,
        "built_from_pieces": int(sum(built)),  # pairs with a word a subword model built from its n-grams
    }
    if table:
        out["table"] = [{"w1": a, "w2": b, "human": s, "cosine": float(c), **({"built_from_pieces": True} if p else {})}
                        for (a, b, s), c, p in zip(kept, cos, built)]
    log.info("%s: spearman %s over %d/%d pairs", name, spearman, len(kept), total)
    return out


def merge_symmetric(table: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per pair of words: WordSim353 lists a few pairs twice, in both orders ("bank money", "money bank"),
    with two human scores; shown once, with their mean. (The correlation itself uses the benchmark as published.)"""
    merged: dict[frozenset, dict[str, Any]] = {}
    seen: dict[frozenset, int] = {}
    for r in table:
        key = frozenset((r["w1"].lower(), r["w2"].lower()))
        if key in merged:
            m = merged[key]
            m["human"] = (m["human"] * seen[key] + r["human"]) / (seen[key] + 1)
            seen[key] += 1
        else:
            merged[key], seen[key] = dict(r), 1
    return list(merged.values())


def disagreements(table: Sequence[dict[str, Any]], n: int = 15) -> list[dict[str, Any]]:
    """The pairs where the model and people disagree most: largest gap between rank positions.

    Ranks, not raw values, because human scores (0..10) and cosines (-1..1) live on different scales and
    Spearman itself compares ranks. Each row gains ``human_rank``/``model_rank`` (0..1) and ``gap``.
    """
    if not table:
        return []
    human = np.array([r["human"] for r in table], dtype=np.float64)
    model = np.array([r["cosine"] for r in table], dtype=np.float64)

    def pct(x: np.ndarray) -> np.ndarray:
        from scipy.stats import rankdata

        return (rankdata(x) - 1) / max(len(x) - 1, 1)

    hr, mr = pct(human), pct(model)
    gap = mr - hr  # > 0: the model thinks the words are closer than people do
    order = np.argsort(-np.abs(gap), kind="stable")[:n]
    return [{**table[i], "human_rank": float(hr[i]), "model_rank": float(mr[i]), "gap": float(gap[i])} for i in order]


# ----- analogies -----------------------------------------------------------------------------------------

def evaluate_analogies(vectors: Any, restrict_vocab: int = RESTRICT_VOCAB, case_insensitive: bool = True,
                       progress: Progress | None = None,
                       sections: Sequence[tuple[str, Sequence[tuple[str, str, str, str]]]] | None = None,
                       batch: int = ANALOGY_BATCH, examples: int = 0) -> dict[str, Any]:
    """Accuracy on the Google analogy questions, overall, per section and for semantic/syntactic halves.

    A question counts only when all four words are among the first ``restrict_vocab`` words; ``accuracy``
    is None when no question is covered. ``sections`` maps each section name to ``accuracy``,
    ``correct``, ``covered`` and ``questions`` (in the file). With ``examples=n`` each section also gets
    ``examples``: up to n questions the model got wrong and n/2 it got right, each with the model's answer
    (seeing *what* it answers teaches more than the percentage).
    """
    sections = load_analogies() if sections is None else sections
    words = vectors.words
    lookup = _lookup(words, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)
    limit = min(len(words), restrict_vocab)
    keys = [fold(w) for w in words[:limit]]
    quads_arr, owner_arr, n_questions = _covered_questions(sections, lookup, fold)
    _report(progress, 0.0, f"analogies: {len(quads_arr):,} of {n_questions:,} questions use known words")
    correct, answer = _answer(quads_arr, _normed(vectors)[:limit], keys, batch, progress)

    out_sections: dict[str, dict[str, Any]] = {}
    for s, (name, qs) in enumerate(sections):
        mine = owner_arr == s
        covered, right = int(mine.sum()), int(correct[mine].sum())
        out_sections[name] = {"accuracy": right / covered if covered else None, "correct": right, "covered": covered,
                              "questions": len(qs)}
        if examples > 0:
            out_sections[name]["examples"] = _examples(np.flatnonzero(mine), correct, answer, quads_arr, words, examples)

    def part(pred: Callable[[str], bool]) -> dict[str, Any]:
        chosen = [v for n, v in out_sections.items() if pred(n)]
        cov, cor = sum(v["covered"] for v in chosen), sum(v["correct"] for v in chosen)
        return {"accuracy": cor / cov if cov else None, "correct": cor, "covered": cov,
                "questions": sum(v["questions"] for v in chosen)}

    n_cov = len(quads_arr)
    n_cor = int(correct.sum())
    result = {
        "name": "analogy", "title": TITLES["analogy"], "accuracy": n_cor / n_cov if n_cov else None,
        "correct": n_cor, "covered": n_cov, "questions": n_questions,
        "oov_ratio": (n_questions - n_cov) / n_questions if n_questions else 0.0,
        "semantic": part(lambda n: not is_syntactic(n)), "syntactic": part(is_syntactic),
        "sections": out_sections,
    }
    log.info("analogies: accuracy %s over %d/%d questions", result["accuracy"], n_cov, n_questions)
    return result


def _covered_questions(sections: Sequence[tuple[str, Sequence[tuple[str, str, str, str]]]], lookup: dict[str, int],
                       fold: Callable[[str], str]) -> tuple[np.ndarray, np.ndarray, int]:
    """The questions whose four words are all known, as rows (a, b, c, expected); each one's section number; and
    how many questions there are in all."""
    quads, owner, n_questions = [], [], 0
    for s, (_name, qs) in enumerate(sections):
        n_questions += len(qs)
        for q in qs:
            idx = [lookup.get(fold(w)) for w in q]
            if None in idx:
                continue
            quads.append(idx)
            owner.append(s)
    return np.asarray(quads, dtype=np.int64).reshape(-1, 4), np.asarray(owner, dtype=np.int64), n_questions


def _answer(quads: np.ndarray, normed: np.ndarray, keys: Sequence[str], batch: int,
            progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """Whether the model answers each question right (3CosAdd, as gensim does), and the row of its answer (-1: none).

    ``normed``: the unit rows of the words that may answer; ``keys``: those words as compared (case-folded or not).
    """
    limit = len(normed)
    correct = np.zeros(len(quads), dtype=bool)
    answer = np.full(len(quads), -1, dtype=np.int64)
    for start in range(0, len(quads), batch):
        q = quads[start:start + batch]
        query = normed[q[:, 1]] + normed[q[:, 2]] - normed[q[:, 0]]
        scores = query @ normed.T  # (batch, limit)
        rows = np.arange(len(q))[:, None]
        scores[rows, q[:, :3]] = -np.inf  # the question words never answer
        k = min(8, limit)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k] if limit > k else np.tile(np.arange(limit), (len(q), 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        top = np.take_along_axis(top, np.argsort(-top_scores, axis=1, kind="stable"), axis=1)
        for j, (a, b, c, expected) in enumerate(q):
            ignore = {keys[a], keys[b], keys[c]}
            predicted = None
            # gensim looks at the five best; a case variant of a question word is skipped, not an answer
            for cand in top[j, :5]:
                if not np.isfinite(scores[j, cand]):
                    break
                predicted = keys[cand]
                answer[start + j] = cand
                if predicted not in ignore:
                    break
            correct[start + j] = predicted == keys[expected]
        done = min(start + batch, len(quads))
        _report(progress, done / max(len(quads), 1), f"analogies: {done:,} / {len(quads):,} questions")
    return correct, answer


def _examples(idx: np.ndarray, correct: np.ndarray, answer: np.ndarray, quads: np.ndarray, words: Sequence[str],
              n: int) -> list[dict[str, Any]]:
    """Up to n wrong and n/2 right questions of one section, spread over it (not just its first lines)."""
    def spread(sel: np.ndarray, k: int) -> np.ndarray:
        return sel[np.linspace(0, len(sel) - 1, num=min(k, len(sel))).round().astype(int)] if len(sel) else sel

    chosen = np.concatenate([spread(idx[~correct[idx]], n), spread(idx[correct[idx]], max(1, n // 2))])
    return [{"a": words[quads[i, 0]], "b": words[quads[i, 1]], "c": words[quads[i, 2]],
             "expected": words[quads[i, 3]], "answer": words[answer[i]] if answer[i] >= 0 else None,
             "correct": bool(correct[i])} for i in sorted(set(chosen.tolist()))]


# ----- everything at once ---------------------------------------------------------------------------------

def evaluate(vectors: Any, progress: Progress | None = None, which: Sequence[str] = BENCHMARKS,
             restrict_vocab: int = RESTRICT_VOCAB, tables: bool = False) -> dict[str, Any]:
    """Run the benchmarks on a WordVectors; JSON-ready.

    Top level: ``wordsim353``, ``simlex999`` (Spearman) and ``analogy`` (accuracy), floats or None when the
    vocabulary covers too little (or the benchmark was not asked for), plus ``details`` with coverage,
    per-section analogy accuracy and, with ``tables=True``, the per-pair tables and a few analogy questions
    per section with the model's answers (for the app; ``without_tables`` drops them before storing/printing).
    """
    unknown = [w for w in which if w not in BENCHMARKS]
    if unknown:
        raise W2VError(f"Unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}.")
    if len(vectors.words) == 0:
        raise W2VError("The model has no words; train it on more text before evaluating.")
    weights = {"wordsim353": 0.05, "simlex999": 0.1, "analogy": 0.85}  # rough share of the running time
    total_w = sum(weights[w] for w in which) or 1.0
    done = 0.0
    out: dict[str, Any] = {name: None for name in BENCHMARKS}
    details: dict[str, Any] = {}
    for name in which:
        share = weights[name] / total_w

        def sub(f: float, msg: str, _base: float = done, _share: float = share) -> None:
            _report(progress, _base + f * _share, msg)

        sub(0.0, f"{TITLES[name]}…")
        if name == "analogy":
            res = evaluate_analogies(vectors, restrict_vocab=restrict_vocab, progress=sub, examples=8 if tables else 0)
            out[name] = res["accuracy"]
        else:
            res = evaluate_pairs(vectors, name, restrict_vocab=restrict_vocab, table=tables)
            out[name] = res["spearman"]
        details[name] = res
        done += share
    _report(progress, 1.0, "done")
    out["details"] = details
    out["vocab_size"] = len(vectors.words)
    out["restrict_vocab"] = restrict_vocab
    return out


def without_tables(result: dict[str, Any]) -> dict[str, Any]:
    """A copy of an ``evaluate`` result without the per-pair tables and analogy examples, to store or print."""
    details = {}
    for k, v in result.get("details", {}).items():
        v = {kk: vv for kk, vv in v.items() if kk != "table"}
        if isinstance(v.get("sections"), dict):
            v["sections"] = {n: {kk: vv for kk, vv in sec.items() if kk != "examples"} for n, sec in v["sections"].items()}
        details[k] = v
    return {**result, "details": details}
