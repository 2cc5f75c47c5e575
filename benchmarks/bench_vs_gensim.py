"""Side by side with gensim: speed, peak memory and quality on the same tokens with the same knobs.

    python benchmarks/bench_vs_gensim.py                          # the bundled `sample` corpus
    python benchmarks/bench_vs_gensim.py --corpus FILE            # a text file, our tokenizer (WikiText is fine)
    python benchmarks/bench_vs_gensim.py --corpus FILE --pretokenized
    python benchmarks/bench_vs_gensim.py --corpus A --corpus B    # several files, concatenated
    python benchmarks/bench_vs_gensim.py --loss hs                # hierarchical softmax: gensim hs=1 negative=0
    W2V_HS_LOOP=0 python benchmarks/bench_vs_gensim.py --loss hs  # ours through the TorchScript step, not hs_loop
    python benchmarks/bench_vs_gensim.py --fasttext               # subword vectors: gensim FastText, ours --subwords

The corpus is tokenized once (``w2v_core.data.loader.load_corpus``) and written as one document a line, split into
pieces of at most 10,000 tokens (gensim silently truncates longer sentences), so both trainers read exactly the
same documents. Every training run is its own subprocess, so the peak RSS (``ru_maxrss``) printed is that
run's own. Words/s = raw tokens x epochs / seconds of the training loop (vocabulary building excluded for both).
Scores use gensim's evaluators (``evaluate_word_pairs`` / ``evaluate_word_analogies``) on both sets of vectors.

``--fasttext`` (with ``--min-n``, ``--max-n``, ``--buckets``): gensim's ``FastText`` against our subword model. The
scores above are then on the vocabulary words (composed from their pieces, both sides); ``ws353_all`` and
``simlex_all`` also score the pairs with an unseen word, each side building that word from its n-grams
(``FastText.wv[word]``, our ``SubwordVectors.get_vector``), with the pairs each covers.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

MAX_DOC = 10_000  # gensim's MAX_WORDS_IN_BATCH: longer sentences are cut by gensim, so cut them for both


def write_tokens(sources: list[str], pretokenized: bool, path: str) -> dict:
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.data.loader import load_corpus

    n_tok = n_doc = 0
    with open(path, "w", encoding="utf-8") as f:
        for src in sources:
            c = load_corpus(CorpusConfig(source=src, pretokenized=pretokenized))
            for i in range(c.n_docs):
                toks = c.doc_tokens(i)
                for a in range(0, len(toks), MAX_DOC):
                    piece = toks[a:a + MAX_DOC]
                    if piece:
                        f.write(" ".join(piece) + "\n")
                        n_tok += len(piece)
                        n_doc += 1
    return {"tokens": n_tok, "documents": n_doc}


def evaluate(words: list[str], vectors) -> dict:
    """WordSim353 / SimLex-999 Spearman and Google-analogy accuracy through gensim's evaluators."""
    import logging

    from gensim.models import KeyedVectors

    from w2v_core.data.bundled import data_path

    logging.getLogger("gensim").setLevel(logging.ERROR)
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(words, vectors)
    out = {}
    for name, fname in (("ws353", "wordsim353.tsv"), ("simlex", "simlex999.txt")):
        _p, sp, oov = kv.evaluate_word_pairs(data_path(fname))
        out[name] = round(float(sp.statistic if hasattr(sp, "statistic") else sp[0]), 4)
        out[name + "_oov"] = round(float(oov), 1)
    acc, _sections = kv.evaluate_word_analogies(data_path("questions-words.txt"))
    out["analogy"] = round(float(acc), 4)
    return out


def _documents(path: str) -> list[list[str]]:
    """The corpus file as gensim reads it: one document a line, tokens split on whitespace."""
    with open(path, encoding="utf-8") as f:
        return [line.split() for line in f]


def _train_gensim(m, docs, epochs: int):
    """Build a gensim model's vocabulary, train it; (training seconds, raw words, its words, its vectors)."""
    import numpy as np

    m.build_vocab(docs)
    t = time.perf_counter()
    m.train(docs, total_examples=m.corpus_count, epochs=epochs)
    secs = time.perf_counter() - t
    return secs, m.corpus_total_words, list(m.wv.index_to_key), np.asarray(m.wv.vectors, dtype=np.float32)


def child(args) -> None:
    """One training run; prints one JSON line."""
    import numpy as np

    args.arch = args.arch[-1]
    knobs = dict(dim=args.dim, window=args.window, negative=args.negative, min_count=args.min_count,
                 sample=args.sample)
    all_pairs = None  # --fasttext: (vector of any word, whether it has one)
    if args.child == "gensim" and args.fasttext:
        from gensim.models import FastText

        docs = _documents(args.tokens)
        alpha = args.lr or {"skipgram": 0.025, "cbow": 0.05}[args.arch]
        m = FastText(vector_size=args.dim, window=args.window, negative=args.negative, min_count=args.min_count,
                     sample=args.sample, sg=int(args.arch == "skipgram"), workers=args.threads, seed=args.seed,
                     alpha=alpha, min_alpha=alpha * 1e-4, min_n=args.min_n, max_n=args.max_n, bucket=args.buckets)
        secs, raw, words, vecs = _train_gensim(m, docs, args.epochs)
        vocab = len(words)
        all_pairs = (m.wv.get_vector, lambda w: w in m.wv.key_to_index or len(m.wv.get_vector(w)) > 0)
    elif args.child == "gensim":
        from gensim.models import Word2Vec

        docs = _documents(args.tokens)
        # the same starting rate for both: word2vec.c's (and our) default per architecture, 0.025 skip-gram and
        # 0.05 CBOW (gensim's own default is 0.025 for both); both decay linearly to 1e-4 of it
        alpha = args.lr or {"skipgram": 0.025, "cbow": 0.05}[args.arch]  # not imported: keeps torch out of RSS
        hs = args.loss == "hs"  # hierarchical softmax: gensim hs=1 with negative=0
        m = Word2Vec(vector_size=args.dim, window=args.window, negative=0 if hs else args.negative, hs=int(hs),
                     min_count=args.min_count, sample=args.sample, sg=int(args.arch == "skipgram"),
                     workers=args.threads, seed=args.seed, alpha=alpha, min_alpha=alpha * 1e-4)
        secs, raw, words, vecs = _train_gensim(m, docs, args.epochs)
        vocab = len(words)
    else:
        from w2v_core.data.corpus import from_documents
        from w2v_core.models import ModelConfig
        from w2v_core.training import Callback, Trainer, TrainConfig

        with open(args.tokens, encoding="utf-8") as f:  # the very documents gensim reads
            corpus = from_documents((line.split() for line in f), name="bench")
        callbacks = []
        if args.app_callback:  # what the app does: every report appended to a list under a lock
            import threading

            class AppLike(Callback):
                def __init__(self):
                    self.lock, self.points = threading.Lock(), []

                def on_batch_end(self, p):
                    with self.lock:
                        self.points.append((p.fraction, p.loss, p.smoothed_loss, p.words_per_sec))

            callbacks.append(AppLike())
        tc = TrainConfig(epochs=args.epochs, threads=args.threads, seed=args.seed, device=args.device,
                         batch_size=args.batch_size, lr=args.lr, update=args.update)
        sub = dict(subwords=True, min_n=args.min_n, max_n=args.max_n, buckets=args.buckets) if args.fasttext else {}
        res = Trainer(corpus, ModelConfig(arch=args.arch, loss=args.loss, **knobs, **sub), tc, callbacks).train()
        secs = res.summary["seconds"]
        raw = res.summary["tokens"]
        wv = res.vectors  # with subwords: each word's vector built from its rows
        words, vecs = list(wv.words), wv.vectors
        if args.fasttext:
            all_pairs = (wv.get_vector, wv.knows)
        vocab = len(words)
        extra = {k: res.summary[k] for k in ("final_loss", "untrained_loss", "batch_size", "lr_retries",
                                            "lr_batch_boost", "device", "threads")}
    wps = raw * args.epochs / secs
    out = {"who": args.child, "arch": args.arch, "loss": args.loss, "seconds": round(secs, 3), "words_per_sec": round(wps),
           "vocab": vocab, "tokens": raw, **(extra if args.child == "ours" else {})}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if not args.no_eval:
        out.update(evaluate(words, vecs))
        if all_pairs is not None:
            out.update(evaluate_all_pairs(*all_pairs))
    print(json.dumps(out))


def evaluate_all_pairs(vector_of, knows) -> dict:
    """Spearman over every WordSim353 / SimLex-999 pair a model has vectors for, unseen words built from pieces."""
    import numpy as np
    from scipy import stats

    from w2v_core.evaluation import load_pairs

    out = {}
    for name, key in (("wordsim353", "ws353_all"), ("simlex999", "simlex_all")):
        triples = load_pairs(name)
        cos, human = [], []
        for a, b, sim in triples:
            a, b = a.lower(), b.lower()
            if not (knows(a) and knows(b)):
                continue
            va, vb = np.asarray(vector_of(a), dtype=np.float64), np.asarray(vector_of(b), dtype=np.float64)
            cos.append(float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb) or 1.0)))
            human.append(sim)
        out[key] = round(float(stats.spearmanr(human, cos).statistic), 4)
        out[key + "_pairs"] = f"{len(cos)}/{len(triples)}"
    return out


def run_child(base: list[str], who: str, arch: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", who, "--arch", arch] + base
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"{who} {arch} failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", help="built-in name or text file (repeat to concatenate)")
    ap.add_argument("--pretokenized", action="store_true")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--arch", action="append", choices=["skipgram", "cbow"], help="default: both")
    ap.add_argument("--loss", default="negative", choices=["negative", "hs"],
                    help="output layer of both: negative sampling (default) or hierarchical softmax (gensim hs=1, "
                         "negative=0; --negative is then unused)")
    ap.add_argument("--fasttext", action="store_true",
                    help="subword vectors: gensim FastText against ours --subwords (negative sampling)")
    ap.add_argument("--min-n", type=int, default=3, help="--fasttext: shortest n-gram (default 3)")
    ap.add_argument("--max-n", type=int, default=6, help="--fasttext: longest n-gram (default 6)")
    ap.add_argument("--buckets", type=int, default=2_000_000, help="--fasttext: hash buckets (default 2,000,000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (the best speed is kept)")
    ap.add_argument("--only", choices=["gensim", "ours"], help="run one side only")
    ap.add_argument("--batch-size", type=int, default=None, help="ours only; default: the trainer's")
    ap.add_argument("--lr", type=float, default=None,
                    help="starting learning rate of both; default: 0.025 skip-gram, 0.05 CBOW (word2vec.c's)")
    ap.add_argument("--app-callback", action="store_true", help="ours with the app-style progress callback")
    ap.add_argument("--device", default="cpu", help="ours only: cpu | cuda | auto")
    ap.add_argument("--update", default="bounded", help="ours only: bounded | sum")
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--tokens", help=argparse.SUPPRESS)
    ap.add_argument("--child", choices=["gensim", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("--json", help="also write all results to this file")
    args = ap.parse_args()

    if args.child:
        child(args)
        return
    sources = args.corpus or ["sample"]
    archs = args.arch or ["skipgram", "cbow"]
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = os.path.join(tmp, "tokens.txt")
        t = time.perf_counter()
        info = write_tokens(sources, args.pretokenized, tok_path)
        print(f"corpus {'+'.join(sources)}: {info['tokens']:,} tokens, {info['documents']:,} documents "
              f"(tokenized in {time.perf_counter() - t:.1f}s); epochs {args.epochs}, threads {args.threads}, "
              f"output layer {args.loss}" + (" (gensim hs=1 negative=0)" if args.loss == "hs" else "")
              + (f"; subwords: gensim FastText vs ours, min_n {args.min_n}, max_n {args.max_n}, buckets "
                 f"{args.buckets:,}" if args.fasttext else ""),
              flush=True)
        base = ["--tokens", tok_path, "--epochs", str(args.epochs), "--threads", str(args.threads),
                "--dim", str(args.dim), "--window", str(args.window), "--negative", str(args.negative),
                "--min-count", str(args.min_count), "--sample", str(args.sample), "--seed", str(args.seed),
                "--loss", args.loss]
        if args.fasttext:
            base += ["--fasttext", "--min-n", str(args.min_n), "--max-n", str(args.max_n), "--buckets",
                     str(args.buckets)]
        if args.no_eval:
            base.append("--no-eval")
        ours_extra = []
        if args.batch_size:
            ours_extra += ["--batch-size", str(args.batch_size)]
        if args.lr:
            base += ["--lr", str(args.lr)]
        if args.app_callback:
            ours_extra.append("--app-callback")
        ours_extra += ["--device", args.device, "--update", args.update]
        results = []
        for arch in archs:
            runs: dict[str, list[dict]] = {"gensim": [], "ours": []}
            for _ in range(args.repeat):  # interleaved, so load from others hits both sides alike
                for who in ("gensim", "ours"):
                    if args.only and who != args.only:
                        continue
                    r = run_child(base + (ours_extra if who == "ours" else []), who, arch)
                    runs[who].append(r)
                    print(f"  {arch:8s} {who:6s} {r['words_per_sec']:>10,} words/s  {r['seconds']:7.2f}s  "
                          f"RSS {r['peak_rss_mb']:7.1f} MB" + ("" if args.no_eval else
                          f"  ws353 {r['ws353']:.4f}  simlex {r['simlex']:.4f}  analogy {r['analogy']:.4f}")
                          + (f"  ws353_all {r['ws353_all']:.4f} ({r['ws353_all_pairs']})  simlex_all "
                             f"{r['simlex_all']:.4f} ({r['simlex_all_pairs']})" if "ws353_all" in r else ""),
                          flush=True)
            results.append({"arch": arch, "runs": runs})
        print()
        hdr = f"{'arch':9s} {'gensim w/s':>11s} {'ours w/s':>11s} {'ratio':>6s} {'RSS g/o MB':>13s}"
        if not args.no_eval:
            hdr += f" {'WS353 g/o':>15s} {'SimLex g/o':>15s} {'analogy g/o':>15s}"
        print(hdr + "   (best words/s of each; ratio = median of back-to-back pairs; scores = mean of the runs)")
        for r in results:
            g = max(r["runs"]["gensim"], key=lambda x: x["words_per_sec"], default=None)
            o = max(r["runs"]["ours"], key=lambda x: x["words_per_sec"], default=None)
            if g is None or o is None:
                continue
            # ratio per repeat pair, then the median: both sides of a pair ran under the same load
            ratios = sorted(b["words_per_sec"] / a["words_per_sec"] for a, b in zip(r["runs"]["gensim"], r["runs"]["ours"]))
            ratio = ratios[len(ratios) // 2]
            r["ratio"] = ratio
            line = (f"{r['arch']:9s} {g['words_per_sec']:>11,} {o['words_per_sec']:>11,} {ratio:>5.2f}x "
                    f"{g['peak_rss_mb']:>6.0f}/{o['peak_rss_mb']:<6.0f}")
            if not args.no_eval:  # quality: the mean over the repeats (hogwild runs differ a little)
                metrics = ("ws353", "simlex", "analogy") + (("ws353_all", "simlex_all") if args.fasttext else ())
                mean = {who: {m: sum(x[m] for x in r["runs"][who]) / len(r["runs"][who])
                              for m in metrics} for who in ("gensim", "ours")}
                r["mean_scores"] = mean
                mg, mo = mean["gensim"], mean["ours"]
                line += (f" {mg['ws353']:.3f}/{mo['ws353']:.3f}     {mg['simlex']:.3f}/{mo['simlex']:.3f}     "
                         f"{mg['analogy']:.3f}/{mo['analogy']:.3f}")
                if args.fasttext:
                    line += (f"   all pairs: WS353 {mg['ws353_all']:.3f} ({g['ws353_all_pairs']}) / "
                             f"{mo['ws353_all']:.3f} ({o['ws353_all_pairs']}), SimLex {mg['simlex_all']:.3f} "
                             f"({g['simlex_all_pairs']}) / {mo['simlex_all']:.3f} ({o['simlex_all_pairs']})")
            print(line)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"corpus": sources, "info": info, "args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
