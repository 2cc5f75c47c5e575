"""Tokenizing a big plain-text file, and one epoch over it: tokens/s, CPU seconds per million tokens, peak RSS.

Makes (once) a file of real text repeated: the bundled Wikipedia sample, the WikiText file(s) given with --text and
gensim's Lee corpus, until it holds --tokens tokens. Then, each in a fresh process so that peak RSS is its own:

1. ``old``: the line-by-line tokenizer (``corpus.Tokenizer`` + ``CorpusBuilder``) on the first --old-mb MB only
   (it is slow: the rate is what counts), in memory;
2. ``stream``: ``load_corpus`` of the whole file into an empty corpus cache (block tokenizer on every core, shards
   straight into the cache, ids memory-mapped back);
3. ``epoch``: one epoch of Skip-gram over the cached, memory-mapped corpus.

CPU seconds count the tokenizer processes too (their own clocks, as stream.py logs them): CPU time is what load on a
shared machine changes least. Peak RSS is this process's (a worker's is a few hundred MB at most, and is not in it).

    python benchmarks/bench_corpus.py --text /work/shared/data/wikitext-2-valid.tokens --tokens 100_000_000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_file(path: Path, texts: list[str], tokens: int) -> None:
    from w2v_core.data import bundled
    from w2v_core.data.corpus import tokenize

    parts = [a if a.endswith("\n") else a + "\n" for a in bundled.sample_texts()]
    parts += [Path(t).read_text(encoding="utf-8") for t in texts]
    parts += list(bundled.lee_texts())
    one = "".join(parts)
    n = len(tokenize(one.replace("\n", " ")))
    copies = -(-tokens // n)
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as f:
        for _ in range(copies):
            f.write(one)
    tmp.replace(path)


def _usage() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, max(me.ru_maxrss, kids.ru_maxrss) / 1024


def step(what: str, path: str, old_mb: int, cache: str) -> dict:
    """One measurement, in this (fresh) process."""
    os.environ["W2V_CACHE_DIR"] = cache
    from w2v_core.data.corpus import CorpusConfig

    cfg = CorpusConfig(source=path)
    t0, c0 = time.perf_counter(), _usage()[0]
    if what == "old":
        from w2v_core.data.corpus import CorpusBuilder, Tokenizer, iter_line_docs

        tok, b = Tokenizer(), CorpusBuilder()
        with open(path, encoding="utf-8") as f:
            lines = f.readlines(old_mb * 1024 * 1024)
        t0, c0 = time.perf_counter(), _usage()[0]
        for toks in iter_line_docs(lines, tok):
            b.add(toks)
        n = b.build("old").n_tokens
    elif what == "stream":
        from w2v_core.data.loader import load_corpus

        last = [0.0]

        def show(f: float, msg: str) -> None:
            if time.perf_counter() - last[0] > 5 or f >= 1:
                last[0] = time.perf_counter()
                print("   ", msg, file=sys.stderr, flush=True)

        import logging

        class Workers(logging.Handler):  # the tokenizer processes' CPU time (stream.py logs it)
            cpu = 0.0

            def emit(self, record: logging.LogRecord) -> None:
                Workers.cpu += getattr(record, "tokenizer_cpu_s", 0.0)

        logging.getLogger("w2v_core.data.stream").addHandler(Workers())
        logging.getLogger("w2v_core.data.stream").setLevel(logging.INFO)
        n = load_corpus(cfg, show, any_path=True).n_tokens
        c0 -= Workers.cpu  # RUSAGE_CHILDREN misses them: they are the forkserver's children, not ours
    else:
        from w2v_core.data.loader import load_corpus
        from w2v_core.models import ModelConfig
        from w2v_core.training import TrainConfig, Trainer

        corpus = load_corpus(cfg, any_path=True)
        t0, c0 = time.perf_counter(), _usage()[0]
        Trainer(corpus, ModelConfig(arch="skipgram", dim=100, window=5, min_count=5), TrainConfig(epochs=1)).train()
        n = corpus.n_tokens
    wall, (cpu, rss) = time.perf_counter() - t0, _usage()
    return {"what": what, "tokens": n, "wall_s": wall, "cpu_s": cpu - c0, "peak_rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text", action="append", default=[], help="more real text (e.g. WikiText .tokens files)")
    ap.add_argument("--tokens", type=int, default=100_000_000)
    ap.add_argument("--file", default="/tmp/w2v-bench-corpus/big.txt")
    ap.add_argument("--old-mb", type=int, default=60, help="MB of the file the old tokenizer reads")
    ap.add_argument("--steps", default="old,stream,epoch")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.step:
        print(json.dumps(step(a.step, a.file, a.old_mb, a.cache)))
        return
    f = Path(a.file)
    f.parent.mkdir(parents=True, exist_ok=True)
    if not f.exists():
        make_file(f, a.text, a.tokens)
    print(f"file {f}: {f.stat().st_size / 1e6:,.0f} MB; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    cache = tempfile.mkdtemp(prefix="w2v-bench-cache-")
    for what in a.steps.split(","):
        out = subprocess.run([sys.executable, __file__, "--step", what, "--file", str(f), "--old-mb", str(a.old_mb),
                              "--cache", cache], capture_output=False, stdout=subprocess.PIPE, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{what:7s} {r['tokens']:>12,} tokens  {r['wall_s']:7.1f} s  {r['tokens'] / r['wall_s'] / 1e6:5.2f}M "
              f"tokens/s  {r['cpu_s'] / (r['tokens'] / 1e6):5.2f} CPU s per M tokens  peak RSS "
              f"{r['peak_rss_mb']:,.0f} MB", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
