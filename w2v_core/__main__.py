"""Command line: ``python -m w2v_core train | neighbors | evaluate | export``.

Progress goes to stderr; the result goes to stdout (for ``train`` and ``evaluate`` the LAST stdout line is one JSON
object, so scripts and benchmarks can read it). A problem the user can fix ends with one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path

from w2v_core.errors import W2VError

EXIT_USER_ERROR = 2


_ONE_LINE = None  # distributed.OneLine of a rank of a distributed run: its one error line


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr, flush=True)


def _fail(msg: str, code: int) -> int:
    """Print the one error line (a rank of a distributed run: unless SIGTERM printed its own) and return ``code``."""
    if _ONE_LINE is None:
        _err(msg)
    else:
        _ONE_LINE.say(f"error: {msg}", code)
    return code


def _positive_int(name: str):
    def conv(s: str) -> int:
        try:
            return int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number (got '{s}')") from None
    return conv


def _float(name: str):
    def conv(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number (got '{s}')") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number (got '{s}')")
        return v
    return conv


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _err(f"{message} (see: python -m w2v_core {self.prog.split()[-1]} --help)")
        sys.exit(EXIT_USER_ERROR)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m w2v_core", description="Word2Vec Explorer: train and query word2vec models.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train CBOW or Skip-gram on a corpus and save a model folder")
    t.add_argument("--corpus", required=True,
                   help="sample | lee | wikitext-2 | wikitext-103 | a text file (one document a line) or dataset file")
    t.add_argument("--pretokenized", action="store_true", help="split on white space only (text already tokenized)")
    t.add_argument("--max-tokens", type=_positive_int("--max-tokens"), default=None,
                   help="corpus size: keep whole documents until this many tokens (default: all)")
    t.add_argument("--keep-numbers", action="store_true", help="keep numbers as tokens")
    t.add_argument("--keep-punct", action="store_true", help="keep punctuation marks as tokens")
    t.add_argument("--min-token-len", type=_positive_int("--min-token-len"), default=1, help="drop shorter tokens")
    t.add_argument("--no-lowercase", action="store_true", help="keep the original case")
    t.add_argument("--text-column", default=None, help="column holding the text (CSV/JSON/Parquet/datasets)")
    t.add_argument("--split", default="train", help="WikiText split: train | validation | test")
    t.add_argument("--normalize", default="NFC",
                   help="Unicode normal form before tokenizing: NFC (default: one spelling per accented word) | NFKC "
                        "(also folds compatibility forms: ﬁ -> fi, full-width letters) | none")
    t.add_argument("--phrases", type=_positive_int("--phrases"), default=0,
                   help="passes of phrase detection before the vocabulary: frequent pairs become one token "
                        "(new york -> new_york), as gensim's Phrases / word2phrase; 0 = off (default)")
    t.add_argument("--phrase-min-count", type=_positive_int("--phrase-min-count"), default=5,
                   help="pairs seen fewer times are never phrases (default 5, gensim's)")
    t.add_argument("--phrase-threshold", type=_float("--phrase-threshold"), default=None,
                   help="a pair scoring above this is a phrase (default 10 for default scoring, 0.5 for npmi)")
    t.add_argument("--phrase-scoring", default="default",
                   help="default (word2vec's: (n_ab - min_count) * vocab / (n_a * n_b)) | npmi (-1..1)")
    t.add_argument("--init", default=None, metavar="MODEL",
                   help="continue training this model folder (trained here or imported vectors) on --corpus; the "
                        "model settings default to the parent's, and the parent folder is never changed")
    # None below = the default shown (or, with --init, the parent's setting)
    t.add_argument("--arch", default=None, help="skipgram | cbow (default skipgram)")
    t.add_argument("--loss", default=None, help="negative (sampling, the default) | softmax (full softmax) | hs "
                   "(hierarchical softmax: a Huffman tree, about log2 V sigmoids per example; gensim hs=1)")
    t.add_argument("--dim", type=_positive_int("--dim"), default=None, help="default 100")
    t.add_argument("--window", type=_positive_int("--window"), default=None, help="default 5")
    t.add_argument("--negative", type=_positive_int("--negative"), default=None, help="default 5")
    t.add_argument("--min-count", type=_positive_int("--min-count"), default=None,
                   help="default 5; with --init, how often a new word must occur in --corpus to join")
    t.add_argument("--max-vocab", type=_positive_int("--max-vocab"), default=None)
    t.add_argument("--sample", type=_float("--sample"), default=None, help="default 1e-3")
    t.add_argument("--epochs", type=_positive_int("--epochs"), default=5)
    t.add_argument("--lr", type=_float("--lr"), default=None,
                   help="default 0.025 (skipgram) / 0.05 (cbow); with --init, the parent's starting rate on its own "
                        "corpus (more epochs), 3/4 of it on other text")
    t.add_argument("--batch-size", type=_positive_int("--batch-size"), default=None,
                   help="centre words per batch, used as given (default on a CPU: 512 skipgram / 1024 cbow per thread, "
                        "less with many threads, all together at most 4096 / 8192; on a GPU 16384 / 32768; "
                        "--loss hs cbow on a CPU: 4096 per thread on a corpus of 64 such batches or more; on a GPU at most "
                        "1/64 of the corpus's tokens with --loss hs, 1/256 for cbow)")
    t.add_argument("--update", default="bounded",
                   help="bounded (each word's step per batch is limited: stable with any batch or thread count) | "
                        "sum (word2vec's plain summed step: diverges with big batches or many threads)")
    t.add_argument("--threads", type=_positive_int("--threads"), default=0,
                   help="0 = one per core this process may use")
    t.add_argument("--seed", type=_positive_int("--seed"), default=1)
    t.add_argument("--device", default="auto", help="auto | cpu | cuda")
    t.add_argument("--name", default=None, help="display name of the model (default: the folder name)")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--quiet", action="store_true", help="no progress lines")
    _subword_args(t)
    _distributed_args(t)

    n = sub.add_parser("neighbors", help="nearest words by cosine similarity")
    n.add_argument("model", help="model folder")
    n.add_argument("word")
    n.add_argument("--topn", type=_positive_int("--topn"), default=10)

    e = sub.add_parser("evaluate", help="WordSim353, SimLex-999 and Google analogies")
    e.add_argument("model", help="model folder")
    e.add_argument("--no-save", action="store_true", help="do not store the scores in the model folder")

    x = sub.add_parser("export", help="export vectors for other tools")
    x.add_argument("model", help="model folder")
    x.add_argument("--format", required=True, help="projector | word2vec-binary | word2vec-text | vec (fastText's "
                   ".vec: word2vec text; a subword model's words as built from their pieces)")
    x.add_argument("--out", default=None, help="output folder (projector) or file (default: inside ./exports)")
    return p


def _subword_args(t: argparse.ArgumentParser) -> None:
    """``train``'s options for fastText's subword vectors."""
    s = t.add_argument_group("subword vectors (fastText)")
    s.add_argument("--subwords", action="store_true", default=None,
                   help="fastText's subword vectors: a word's vector is the mean of its own and its character "
                        "n-grams' vectors, so unseen words (misspellings, rare forms) get one too; negative sampling "
                        "only; the n-gram table costs buckets x dim x 4 bytes")
    s.add_argument("--min-n", type=_positive_int("--min-n"), default=None,
                   help="shortest character n-gram with --subwords (default 3, fastText's)")
    s.add_argument("--max-n", type=_positive_int("--max-n"), default=None,
                   help="longest character n-gram with --subwords (default 6, fastText's)")
    s.add_argument("--buckets", type=_positive_int("--buckets"), default=None,
                   help="hash buckets of the n-gram table with --subwords (default 2000000, fastText's: 800 MB at "
                        "dim 100; 200000: 80 MB)")


def _distributed_args(t: argparse.ArgumentParser) -> None:
    """``train``'s options for a run across processes (torchrun)."""
    d = t.add_argument_group("more than one process (start with torchrun; README: More than one machine)")
    d.add_argument("--distributed", action="store_true",
                   help="this process is one rank of a torchrun run: it trains its share of the corpus, rank 0 "
                        "writes the log and the model folder (gloo on CPUs, NCCL with --device cuda)")
    d.add_argument("--sync-every", type=_positive_int("--sync-every"), default=None,
                   help="words each rank trains between two syncs of the tables (default 50000)")
    d.add_argument("--sync-combine", default="auto", choices=("auto", "scaled", "sum", "mean"),
                   help="how the ranks' changes combine at a sync: auto (the default: sum for 2 ranks, scaled for "
                        "more) | scaled (each rank steps at N times the rate and the changes are averaged) | sum "
                        "(added, at one process's rate: 4 ranks diverge) | mean (averaged at one process's rate: "
                        "under-trains)")
    d.add_argument("--dist-timeout", type=_float("--dist-timeout"), default=None,
                   help="seconds a rank waits for the others before the run stops with an error (default 300)")


def cmd_train(a: argparse.Namespace) -> int:
    from w2v_core.data.corpus import BUILTIN, WIKITEXT, CorpusConfig
    from w2v_core.data.loader import load_corpus
    from w2v_core.models import ModelConfig
    from w2v_core.store import check_model_destination
    from w2v_core.training import LogCallback, TrainConfig, Trainer

    out = Path(a.out)
    ctx = _join_run(a) if a.distributed else None
    try:  # before the corpus is read: a destination we may not use must not cost a whole training run
        check_model_destination(out)
    except W2VError as e:
        raise W2VError(f"--out: {e}") from None
    if a.corpus not in BUILTIN + WIKITEXT:
        _check_local_corpus(a.corpus)
    cc = CorpusConfig(source=a.corpus, max_tokens=a.max_tokens, pretokenized=a.pretokenized,
                      lowercase=not a.no_lowercase, keep_numbers=a.keep_numbers, keep_punct=a.keep_punct,
                      min_token_len=a.min_token_len, text_column=a.text_column, split=a.split,
                      normalize=a.normalize, phrases=a.phrases, phrase_min_count=a.phrase_min_count,
                      phrase_scoring=a.phrase_scoring,
                      phrase_threshold=a.phrase_threshold if a.phrase_threshold is not None else
                      (0.5 if a.phrase_scoring == "npmi" else 10.0))
    cc.validate()
    threads = a.threads or (_rank_threads(ctx) if ctx is not None else 0)
    tc = TrainConfig(epochs=a.epochs, lr=a.lr, batch_size=a.batch_size, threads=threads, seed=a.seed,
                     device=a.device, update=a.update)
    asked = {k: getattr(a, k) for k in _MODEL_ARGS if getattr(a, k) is not None}
    mc, tc, init = _continued(a.init, out, asked, tc) if a.init else (ModelConfig(**asked), tc, None)
    mc.validate()
    tc.validate()
    quiet = a.quiet or (ctx is not None and ctx.rank != 0)  # one run's log: rank 0's
    if ctx is not None and ctx.rank != 0:  # the trainer's warnings too (a retry's "blew up" once, not once a rank)
        logging.getLogger("w2v_core").setLevel(logging.ERROR)
    say = (lambda s: None) if quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    say(f"loading corpus '{a.corpus}' ...")
    # whoever runs the CLI is at this machine, not a web visitor; a big file reports its tokenizing as it goes; in
    # a distributed run a node's first rank fills the corpus cache and the others then read it
    corpus = _first_local(ctx, lambda: load_corpus(cc, None if quiet else lambda f, msg: say(f"  {msg}"),
                                                   any_path=True))
    say(f"corpus: {corpus.n_tokens:,} tokens, {corpus.n_docs:,} documents, {corpus.n_words:,} distinct words")
    if init is not None:
        lr = tc.lr or init.default_lr(corpus, mc.arch)
        say(f"continuing '{init.parent.name}' at learning rate {lr:g}" + (f"; {init.note}" if init.note else ""))
    stop = threading.Event()

    def on_sigint(signum, frame):  # first Ctrl-C: stop after the current batch and save what was learnt
        if stop.is_set():
            raise KeyboardInterrupt
        say("stopping after the current batch (Ctrl-C again to abort without saving) ...")
        stop.set()

    old = signal.signal(signal.SIGINT, on_sigint) if threading.current_thread() is threading.main_thread() else None
    try:
        result = Trainer(corpus, mc, tc, [LogCallback(say)], stop, init=init, dist=ctx).train()
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if ctx is not None and ctx.rank != 0:  # rank 0 writes the model folder
        ctx.close()
        return 0
    path = result.save(out, name=a.name or out.name)
    say(f"saved model to {path}")
    print(json.dumps({**result.summary, "out": str(path)}))
    return 0


def _join_run(a: argparse.Namespace):
    """This process's place in the torchrun run (``distributed.DistContext``); SIGTERM (torchrun stopping the
    ranks that are left when one dies) ends it with one line, and one line only (``distributed.OneLine``)."""
    global _ONE_LINE
    from w2v_core import distributed

    ctx = distributed.start(a.device, a.sync_every or distributed.DEFAULT_SYNC_EVERY, a.sync_combine,
                            a.dist_timeout or distributed.DEFAULT_TIMEOUT)
    if threading.current_thread() is threading.main_thread():
        _ONE_LINE = distributed.OneLine(ctx.rank, ctx.world)
        signal.signal(signal.SIGTERM, _ONE_LINE.on_terminate)
    return ctx


def _rank_threads(ctx) -> int:
    """A rank's default worker threads: its share of the node's cores."""
    from w2v_core.training import default_threads

    return 1 if ctx.device == "cuda" else max(1, default_threads() // max(ctx.local_world, 1))


def _first_local(ctx, load):
    """``load()``; in a distributed run the node's local rank 0 first, the other ranks after it."""
    if ctx is None:
        return load()
    from w2v_core import distributed

    return distributed.first_local(ctx, load)


_MODEL_ARGS = ("arch", "loss", "dim", "window", "negative", "min_count", "sample", "max_vocab", "subwords", "min_n",
               "max_n", "buckets")


def _continued(init: str, out: Path, asked: dict, tc):
    """With --init: the child's model and train configs and the Continuation (every problem one W2VError)."""
    from w2v_core.continuation import Continuation, child_model_config, load_parent

    if Path(init).resolve() == out.resolve():
        raise W2VError("--out is the --init model's folder: a continued run never changes its parent; give another "
                       "--out.")
    try:
        parent = load_parent(init)
    except W2VError as e:
        raise W2VError(f"--init: {e}") from None
    return child_model_config(parent, asked), tc, Continuation(parent)  # the Trainer resolves its default rate


def _check_local_corpus(source: str) -> None:
    """A FIFO, device or socket (which would block or never end) or a folder that is not a saved dataset (which
    would be walked file by file for its cache key) is refused at once."""
    from w2v_core.data.sources import is_saved_dataset
    from w2v_core.data.textfile import check_local_file

    p = check_local_file(source)
    if p.is_dir() and not is_saved_dataset(p):
        raise W2VError(f"{p} is a folder but not one saved with `Dataset.save_to_disk`: give a text file (one document "
                       "a line), a CSV/JSON-lines/Parquet file or a saved dataset folder.")


def cmd_neighbors(a: argparse.Namespace) -> int:
    from w2v_core.store import load_model

    wv = load_model(a.model).vectors
    if wv.built_from_pieces(a.word):
        print(f"'{a.word}' is not in the vocabulary: its vector is built from its pieces (character n-grams).",
              file=sys.stderr, flush=True)
    for w, s in wv.most_similar(a.word, topn=a.topn):
        print(f"{w}\t{s:.6f}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from w2v_core import evaluation
    from w2v_core.store import load_model, save_scores

    m = load_model(a.model)
    print(f"evaluating {m.name} ({len(m.vectors):,} words) ...", file=sys.stderr, flush=True)
    scores = evaluation.evaluate(m.vectors)
    if not a.no_save:
        save_scores(m.path, scores)
    brief = {k: scores.get(k) for k in ("wordsim353", "simlex999", "analogy")}
    for k, v in brief.items():
        print(f"{k}\t{'n/a' if v is None else f'{v:.4f}'}")
    print(json.dumps({**brief, **{k: v for k, v in scores.items() if k not in brief and _small(v)}}))
    return 0


def _small(v) -> bool:
    return isinstance(v, (int, float, str, type(None))) or (isinstance(v, dict) and len(json.dumps(v)) < 4000)


def cmd_export(a: argparse.Namespace) -> int:
    from w2v_core.store import export_model, load_model

    name = load_model(a.model).path.name
    default = {"projector": Path("exports") / f"{name}-projector", "word2vec-binary": Path("exports") / f"{name}.bin",
               "word2vec-text": Path("exports") / f"{name}.txt", "vec": Path("exports") / f"{name}.vec"}
    if a.format not in default:
        raise W2VError(f"Unknown export format '{a.format}': choose projector, word2vec-binary, word2vec-text or "
                       "vec.")
    files = export_model(a.model, a.format, a.out or default[a.format])
    for f in files:
        print(f)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("W2V_LOGLEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "neighbors": cmd_neighbors, "evaluate": cmd_evaluate,
                "export": cmd_export}[args.cmd](args)
    except W2VError as e:
        return _fail(str(e).replace("\n", " "), EXIT_USER_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted; nothing was saved.", 130)
    except MemoryError:
        return _fail("out of memory: use a smaller corpus (--max-tokens), a smaller --dim or a larger --min-count.",
                     EXIT_USER_ERROR)
    except OSError as e:  # a full disk, a folder that became read-only: say which, in one line
        where = f" ({e.filename})" if e.filename else ""
        return _fail(f"{e.strerror or e}{where}: free some space or choose another folder.", EXIT_USER_ERROR)


if __name__ == "__main__":
    sys.exit(main())
