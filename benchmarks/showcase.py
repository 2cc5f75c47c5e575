"""The first model a newcomer trains, and its answers to the app's own examples.

Trains on the bundled sample with the Train page's first values (``w2v_core.showcase.FIRST_RUN``), the way the app
does (all cores), and prints the training time, the neighbours of the example words, and every analogy with the
rank of its expected answer (1 = the model's answer). Also the classic examples (king, queen, paris), which a
465k-token corpus is too small to answer well: the reason the app shows others.

    python benchmarks/showcase.py                       # the app's first values
    python benchmarks/showcase.py '{"epochs": 10}'      # the same with some values changed (for tuning)
    python benchmarks/showcase.py --seeds 1,2,3         # several seeds: is an example stable?

Rerun it when the trainer or the first values change; the examples must stay answered sensibly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from w2v_core import showcase  # noqa: E402
from w2v_core.data.corpus import CorpusConfig  # noqa: E402
from w2v_core.data.loader import load_corpus  # noqa: E402
from w2v_core.models import ModelConfig  # noqa: E402
from w2v_core.training import TrainConfig, Trainer  # noqa: E402

CLASSIC_WORDS = ("king", "queen", "paris", "france")
CLASSIC_ANALOGIES = (("man", "king", "woman", "queen"), ("france", "paris", "germany", "berlin"),
                     ("paris", "france", "london", "england"))
MODEL_KEYS = ("arch", "loss", "dim", "window", "negative", "min_count", "sample")
TRAIN_KEYS = ("epochs", "lr", "batch_size", "threads")


def train(values: dict, seed: int):
    corpus = load_corpus(CorpusConfig(source="sample"))
    mc = ModelConfig(**{k: v for k, v in values.items() if k in MODEL_KEYS})
    tc = TrainConfig(seed=seed, **{k: v for k, v in values.items() if k in TRAIN_KEYS})
    start = time.perf_counter()
    result = Trainer(corpus, mc, tc).train()
    return result, time.perf_counter() - start


def report(wv, seconds: float, summary: dict) -> dict:
    print(f"trained in {seconds:.1f} s ({summary.get('words_per_sec', 0):,.0f} words/s, {summary.get('threads')} "
          f"threads), vocabulary {len(wv):,}, final loss {summary.get('final_loss')}")
    ranks = {}
    for title, words in (("showcase", showcase.NEIGHBOUR_WORDS), ("classic", CLASSIC_WORDS)):
        print(f"\nneighbours ({title})")
        for w in showcase.known(words, wv):
            print(f"  {w} (seen {wv.count(w):,}×): " + ", ".join(f"{x} {s:.2f}" for x, s in wv.most_similar(w, topn=6)))
    for title, quads in (("showcase", showcase.ANALOGIES), ("classic", CLASSIC_ANALOGIES)):
        print(f"\nanalogies ({title}): a : b :: c : ?  [rank of the expected answer]")
        for a, b, c, d in quads:
            if not all(x in wv for x in (a, b, c, d)):
                print(f"  {a} : {b} :: {c} : ?  (not in the vocabulary)")
                continue
            order = [x for x, _ in wv.most_similar(positive=[b, c], negative=[a], topn=len(wv))]
            ranks[f"{a}:{b}::{c}:{d}"] = rank = order.index(d) + 1
            print(f"  {a} : {b} :: {c} : {order[0]}  ({', '.join(order[1:4])})  [{d}: {rank}]")
    print("\nsimilar pairs")
    for a, b in showcase.SIMILAR_PAIRS:
        if a in wv and b in wv:
            print(f"  cos({a}, {b}) = {wv.similarity(a, b):.3f}")
    print("\nodd one out")
    for q in showcase.ODD_ONE_OUT:
        if all(w in wv for w in q):
            print(f"  {', '.join(q)} -> {wv.doesnt_match(list(q))}")
    return ranks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("changes", nargs="?", default="{}", help="JSON: first values to change, e.g. '{\"epochs\": 10}'")
    ap.add_argument("--seeds", default="1", help="comma-separated seeds (the app's is 1)")
    args = ap.parse_args()
    values = {**showcase.FIRST_RUN, **json.loads(args.changes)}
    print("settings:", values)
    for seed in (int(s) for s in args.seeds.split(",")):
        print(f"\n===== seed {seed}")
        result, seconds = train(values, seed)
        report(result.vectors, seconds, result.summary)


if __name__ == "__main__":
    main()
