"""Phrases: ours (numpy, on token ids) against gensim's ``Phrases`` on the same tokens with the same knobs.

    python benchmarks/bench_phrases.py                         # sample + Lee + WikiText-2 validation (when cached)
    python benchmarks/bench_phrases.py --corpus sample         # one corpus
    python benchmarks/bench_phrases.py --scoring npmi --threshold 0.5 --json

The corpora are tokenized once by our tokenizer (``load_corpus``) and joined into one corpus; both sides read exactly
those documents. Printed: the phrases each side finds (``gensim.Phrases.export_phrases()`` vs ours), their Jaccard
index, the largest score difference, whether the joined corpus is token for token the same (``phrases[sentences]``),
and the seconds of one pass: ours = counting, scoring and joining on the ids; gensim = ``Phrases(sentences)`` (the
counting) plus ``list(phrases[sentences])`` (the joining), i.e. what a pipeline step costs with each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

DEFAULT_CORPORA = ["sample", "lee", "wikitext-2:validation"]


def load_docs(sources: list[str]) -> tuple[list[list[str]], list[str]]:
    """The documents of every source that loads, as lists of tokens, and the names of those that did not."""
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus
    from w2v_core.errors import W2VError

    docs, missing = [], []
    for src in sources:
        name, _, split = src.partition(":")
        try:
            c = load_corpus(CorpusConfig(source=name, split=split or "train"), any_path=True)
        except W2VError as e:
            missing.append(f"{src} ({str(e).splitlines()[0][:80]})")
            continue
        docs += [c.doc_tokens(i) for i in range(c.n_docs)]
    return docs, missing


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", help="sample | lee | wikitext-2:validation | a file (repeatable)")
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--threshold", type=float, default=10.0)
    ap.add_argument("--scoring", default="default", choices=["default", "npmi"])
    ap.add_argument("--repeats", type=int, default=3, help="best of this many passes, each side")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    a = ap.parse_args()

    import logging

    from gensim.models.phrases import Phrases

    from w2v_core.data.corpus import from_documents
    from w2v_core.data.phrases import phrase_pass

    logging.getLogger("gensim").setLevel(logging.ERROR)
    docs, missing = load_docs(a.corpus or DEFAULT_CORPORA)
    corpus = from_documents(docs, "bench")
    (out, table), t_ours = timed(lambda: phrase_pass(corpus, a.min_count, a.threshold, a.scoring), a.repeats)
    g, t_learn = timed(lambda: Phrases(docs, min_count=a.min_count, threshold=a.threshold, scoring=a.scoring),
                       a.repeats)
    joined, t_apply = timed(lambda: list(g[docs]), a.repeats)
    theirs, ours = g.export_phrases(), {p.text: p.score for p in table}
    both = ours.keys() & theirs.keys()
    res = {
        "tokens": corpus.n_tokens, "documents": corpus.n_docs, "missing": missing,
        "knobs": {"min_count": a.min_count, "threshold": a.threshold, "scoring": a.scoring},
        "phrases_ours": len(ours), "phrases_gensim": len(theirs),
        "jaccard": round(len(both) / max(len(ours.keys() | theirs.keys()), 1), 6),
        "only_ours": sorted(ours.keys() - theirs.keys())[:10], "only_gensim": sorted(theirs.keys() - ours.keys())[:10],
        "max_score_diff": max((abs(ours[k] - theirs[k]) for k in both), default=0.0),
        "same_tokens": [out.doc_tokens(i) for i in range(out.n_docs)] == joined,
        "seconds_ours": round(t_ours, 4), "seconds_gensim_learn": round(t_learn, 4),
        "seconds_gensim_apply": round(t_apply, 4),
        "speedup": round((t_learn + t_apply) / t_ours, 2),
        "examples": [(p.text, round(p.score, 2), p.count) for p in sorted(table, key=lambda p: -p.count)[:8]],
    }
    if a.json:
        print(json.dumps(res))
        return
    print(f"corpus: {res['tokens']:,} tokens, {res['documents']:,} documents"
          + (f" (not loaded: {'; '.join(missing)})" if missing else ""))
    print(f"knobs: min_count={a.min_count} threshold={a.threshold} scoring={a.scoring}")
    print(f"phrases: ours {res['phrases_ours']:,}, gensim {res['phrases_gensim']:,}, Jaccard {res['jaccard']:.4f}, "
          f"max score difference {res['max_score_diff']:.3g}, same joined tokens: {res['same_tokens']}")
    print(f"one pass: ours {t_ours:.3f} s; gensim {t_learn:.3f} s counting + {t_apply:.3f} s joining = "
          f"{t_learn + t_apply:.3f} s ({res['speedup']}x ours)")
    print("most frequent phrases:", ", ".join(f"{t} ({c})" for t, _s, c in res["examples"]))


if __name__ == "__main__":
    main()
