"""How fast does a WikiText-style corpus tokenize, and how fast does the corpus cache read it back?

Builds a ``datasets.Dataset`` of text lines (a WikiText file repeated, or synthetic text), runs the same
path as WikiText from the Hub (Arrow batches -> tokenizer -> int32 ids), saves it to the corpus cache and
loads it back; prints tokens/s and the extrapolation to WikiText-103 (~103M tokens).

    python benchmarks/corpus_speed.py --text /path/to/wikitext-2-valid.tokens --repeat 20
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WT103_TOKENS = 103_000_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", help="a text file of lines (e.g. WikiText); default: synthetic text")
    ap.add_argument("--repeat", type=int, default=10, help="how many times to repeat the lines")
    a = ap.parse_args()

    import os

    import datasets

    os.environ.setdefault("W2V_CACHE_DIR", tempfile.mkdtemp(prefix="w2v-bench-"))
    from w2v_core.data import corpus_cache, hub
    from w2v_core.data.corpus import CorpusConfig, from_texts

    if a.text:
        lines = Path(a.text).read_text(encoding="utf-8").splitlines(keepends=True)
    else:
        import random

        rng = random.Random(0)
        vocab = [f"w{chr(97 + i % 26)}{chr(97 + (i // 26) % 26)}{chr(97 + (i // 676) % 26)}" for i in range(20_000)]
        lines = [" " + " ".join(rng.choice(vocab) for _ in range(rng.randint(20, 200))) + " .\n" for _ in range(5000)]
    ds = datasets.Dataset.from_dict({"text": lines * a.repeat})
    cfg = CorpusConfig(source="wikitext-103")

    t = time.perf_counter()
    c = from_texts(hub.iter_texts(ds), "bench", cfg, total=len(ds))
    dt = time.perf_counter() - t
    rate = c.n_tokens / dt
    print(f"rows {len(ds):,}  tokens {c.n_tokens:,}  words {c.n_words:,}  ids {c.ids.dtype} {c.ids.nbytes / 1e6:.0f} MB")
    print(f"tokenize: {dt:.2f}s = {rate / 1e6:.2f}M tokens/s -> WikiText-103 (~103M tokens) in ~{WT103_TOKENS / rate:.0f}s")

    t = time.perf_counter()
    corpus_cache.save(cfg, c)
    ds_save = time.perf_counter() - t
    t = time.perf_counter()
    back = corpus_cache.load(cfg)
    dl = time.perf_counter() - t
    assert back is not None and back.n_tokens == c.n_tokens
    print(f"cache: save {ds_save:.2f}s, load {dl:.2f}s ({c.n_tokens / max(dl, 1e-9) / 1e6:.0f}M tokens/s)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
