"""Training that goes on from a saved or imported model: more epochs, more text, new words.

A *parent* is a model folder (trained here, from the gallery, or imported word2vec/GloVe vectors). A *child* run
starts from the parent's tables instead of random ones:

* **Vocabulary.** The parent's words all stay; a word of the new text that the parent lacks joins when the new text
  has it at least ``min_count`` times. The child's counts are the *combined* counts (parent + new text), and the
  rows are sorted by them (most frequent first, as every model's are), the tables permuted alike.
* **Sampling tables.** Subsampling and the negative-sampling table are built from the combined counts. Why: the
  parent's output table was fitted against negatives drawn from the parent's counts; combined counts keep that
  objective and move it only as far as the new text adds evidence, so old words keep their places. The new text
  alone would make every parent word the new text lacks (nearly) never a negative and re-weight the rest by one,
  often small, corpus. And continuing on the *same* corpus then changes nothing: doubled counts give the same
  keep probabilities and the same noise distribution, so "5 epochs, then 5 more" trains like 10.
* **Fresh rows** are initialised as ``Word2Vec.reset_parameters`` does for any new model (input rows uniform in
  +-0.5/D from the run's seed, output rows and biases zero); parent rows are copied over them.
* **Subword (fastText) parents** keep their subwords, n-gram lengths and buckets (other values are refused: the
  n-gram rows are those buckets' rows). The parent's own word rows (``in_words``, not the composed vectors) and the
  rows of every bucket its n-grams use (its saved ``ngrams`` table) carry over; a new word gets a fresh word row, its
  n-grams the parent's rows where the parent has them (fresh rows for buckets only new words use). The child is saved
  with the full n-gram table, as any subword model is. Subwords cannot be turned on for a parent without them.
* **Imported vectors** have no output table (and no counts): the output table starts at zeros, as word2vec starts
  one, and the result says so (:attr:`Continuation.note`, in the lineage).
* **Learning rate.** The run restarts at the rate the user sets and decays linearly to ~0 over the new run. By
  default (:meth:`Continuation.default_lr`): on the parent's own text (more epochs) the parent's starting rate, a
  warm restart, since anything lower under-trains (see SAME_TEXT_FRACTION); on other text three quarters of it (of
  word2vec's default for imported vectors; see LR_FRACTION), so that the old words keep their places.
* **Random draws.** The child's epochs go on with the parent's epoch count in the seeds of their subsampling, windows
  and negatives: with the parent's seed, "5 epochs, then 5 more" draws what epochs 6-10 of one 10-epoch run draw.

The parent folder is only read. The child's config.json gets a ``lineage`` object: the parent's name and folder,
the epochs and corpora so far (the parent's own lineage first), the new words and where the output table came from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from w2v_core import hsoftmax
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig, Word2Vec
from w2v_core.vocab import Vocabulary

log = logging.getLogger(__name__)

# A continued run on OTHER text starts at this share of the parent's starting rate: the old top-1,000 words keep a
# mean aligned cosine of 0.92 when the sample model goes on with WikiText-2 at 3/4 (0.95 at 1/2), and new words
# still get a rate to learn at.
LR_FRACTION = 0.75
# More epochs on the parent's OWN text restart at its full starting rate (a warm restart). Anything lower
# under-trains: on the whole sample (dim 100, 2 threads, 3-5 seeds) 5 epochs + 5 more at 3/4 ended a CBOW model's
# final loss 3.9% above one 10-epoch run's (WordSim353 -0.025); at 1/2, 7% (-0.08); only the full rate met the
# issue's bar for both architectures (benchmarks/bench_continue.py, benchmarks/README.md).
SAME_TEXT_FRACTION = 1.0
DEFAULT_LR = {"skipgram": 0.025, "cbow": 0.05}  # word2vec's, as training.DEFAULT_LR (kept equal by a test)
NO_OUTPUT_NOTE = ("The parent is imported vectors, which have no output table: it starts at zeros, as word2vec "
                  "starts one.")


@dataclass
class Parent:
    """A model folder read for continuing: its tables, vocabulary, counts and what it says about itself."""

    path: Path
    name: str
    words: list[str]
    counts: np.ndarray  # int64; zeros for imported vectors
    w_in: np.ndarray  # V x D
    w_out: np.ndarray | None  # None: imported vectors have none
    out_bias: np.ndarray | None  # the full softmax's biases, when it had them
    model: ModelConfig | None  # how it was trained; None for imported vectors
    imported: bool
    lr: float | None  # its starting learning rate, when recorded
    lineage: dict[str, Any] = field(default_factory=dict)  # its own lineage, when it is a child itself
    epochs: float = 0.0  # its own run's epochs
    corpus: str | None = None  # its own run's corpus name
    corpus_config: Any = None  # its own run's CorpusConfig, when recorded
    corpus_tokens: int | None = None
    w_words: np.ndarray | None = None  # a subword model's V word rows (its own rows, not the composed vectors)
    ngrams: np.ndarray | None = None  # a subword model's full buckets x D n-gram table

    @property
    def subwords(self) -> bool:
        return self.model is not None and self.model.subwords

    @property
    def epochs_total(self) -> float:
        """Epochs of its whole lineage (its own run's when it is not a child)."""
        return float((self.lineage or {}).get("epochs_total") or self.epochs)

    @property
    def dim(self) -> int:
        return int(self.w_in.shape[1])


def load_parent(path: str | Path) -> Parent:
    """Read a model folder to continue from; W2VError with one sentence when it is missing or damaged."""
    from w2v_core import store

    p = Path(path)
    if not p.exists():
        raise W2VError(f"Model folder not found: {p}")
    if not p.is_dir():
        raise W2VError(f"{p} is a file, not a model folder: give the folder a model was saved in.")
    m = store.load_model(p, tables=True)  # checks every file, reads the weights once
    rec = store.read_record(p)
    t = m.tables
    mc = None if rec.imported else rec.model
    if not rec.imported and mc is None:
        raise W2VError(f"{p.name}/config.json does not say how the model was trained; it cannot be continued.")
    lineage = m.config.get("lineage") if isinstance(m.config.get("lineage"), dict) else {}
    if mc is not None and mc.subwords and ("in_words" not in t or "ngrams" not in t):
        raise W2VError(f"{p.name} is a subword (fastText) model, but its weights lack the word rows or the n-gram "
                       "table ('in_words', 'ngrams'); it cannot be continued.")
    if mc is not None and mc.subwords and len(t["ngrams"]) != mc.buckets:
        raise W2VError(f"{p.name}: its n-gram table has {len(t['ngrams']):,} rows but config.json says "
                       f"{mc.buckets:,} buckets; the folder is damaged.")
    counts = m.vectors.counts if m.vectors.counts is not None else np.zeros(len(m.vectors), dtype=np.int64)
    return Parent(path=p, name=m.name, words=list(m.vectors.words), counts=np.asarray(counts, dtype=np.int64),
                  w_in=t["in"], w_out=t.get("out"), out_bias=t.get("out_bias"), model=mc, imported=rec.imported,
                  lr=rec.lr, lineage=lineage, epochs=float(rec.summary.get("epochs") or rec.epochs or 0),
                  corpus=rec.corpus_name, corpus_config=rec.corpus, corpus_tokens=rec.corpus_tokens,
                  w_words=t.get("in_words"), ngrams=t.get("ngrams"))


def child_model_config(parent: Parent, asked: dict[str, Any] | None = None) -> ModelConfig:
    """The child's ModelConfig: the parent's, with what ``asked`` sets (window, negatives, min count, ...).

    A dimension, architecture or output layer that differs from the parent's is refused with one sentence (the
    tables would not fit, or were learnt for another objective); imported vectors take any architecture and loss.
    """
    asked = {k: v for k, v in (asked or {}).items() if v is not None}
    base = parent.model or ModelConfig(dim=parent.dim)
    if asked.get("dim", parent.dim) != parent.dim:
        raise W2VError(f"'{parent.name}' has {parent.dim}-dimensional vectors, but {asked['dim']} were asked for: a "
                       f"continued run keeps the parent's dimension (leave it out or use {parent.dim}).")
    _check_subwords(parent, asked)
    if parent.model is not None:
        for key, label in (("arch", "architecture"), ("loss", "output layer")):
            if key in asked and asked[key] != getattr(base, key):
                raise W2VError(f"'{parent.name}' was trained with the {label} '{getattr(base, key)}', but "
                               f"'{asked[key]}' was asked for: a continued run keeps the parent's {label}.")
    mc = replace(base, **{k: v for k, v in asked.items() if k in ModelConfig.__dataclass_fields__})
    mc = replace(mc, dim=parent.dim, max_vocab=None)
    mc.validate()
    return mc


def _check_subwords(parent: Parent, asked: dict[str, Any]) -> None:
    """A subword parent keeps its subwords, n-gram lengths and buckets (its n-gram rows are those buckets' rows);
    subwords cannot be turned on for a parent without them (W2VError, one sentence)."""
    if not parent.subwords:
        if asked.get("subwords"):
            raise W2VError(f"'{parent.name}' has no subword vectors, and a continued run cannot turn them on: train a "
                           "new model with subwords instead.")
        return
    mc = parent.model
    if asked.get("subwords", True) is False:
        raise W2VError(f"'{parent.name}' is a subword (fastText) model: a continued run keeps its subword vectors.")
    for key, label in (("min_n", "shortest n-gram"), ("max_n", "longest n-gram"), ("buckets", "n-gram buckets")):
        if key in asked and asked[key] != getattr(mc, key):
            raise W2VError(f"'{parent.name}' was trained with {label} {getattr(mc, key)}, but {asked[key]} was asked "
                           f"for: a continued run keeps the parent's n-gram settings (its n-gram rows are those "
                           f"buckets').")


def same_text(parent: Parent, corpus) -> bool:
    """Whether ``corpus`` is the text the parent's own run was trained on (same corpus settings and size)."""
    cfg = getattr(corpus, "config", None)
    return (not parent.imported and cfg is not None and cfg == parent.corpus_config
            and (parent.corpus_tokens is None or parent.corpus_tokens == int(corpus.n_tokens)))


def child_lr(parent: Parent, arch: str, lr: float | None, same: bool = False) -> float:
    """The starting rate of a continued run: ``lr`` when given, else the parent's starting rate (word2vec's default
    for imported vectors) times SAME_TEXT_FRACTION on the parent's own text (``same``), LR_FRACTION on other text."""
    if lr is not None:
        return float(lr)
    start = parent.lr if parent.lr and not parent.imported else DEFAULT_LR[arch]
    return float(start) * (SAME_TEXT_FRACTION if same else LR_FRACTION)


class Continuation:
    """What a :class:`~w2v_core.training.Trainer` needs to start from ``parent`` (``Trainer(..., init=...)``)."""

    def __init__(self, parent: Parent):
        self.parent = parent
        self.order: np.ndarray | None = None  # child row i holds combined row order[i] (parent rows first)
        self.n_new = 0
        self.new_words: list[str] = []
        self.tree_note: str | None = None  # hierarchical softmax: why the inner-node table starts at zeros

    @property
    def first_epoch(self) -> int:
        """The lineage's epochs so far: the child's epoch e draws its random numbers as epoch first_epoch + e."""
        return int(round(self.parent.epochs_total))

    def default_lr(self, corpus, arch: str) -> float:
        """The starting rate when none is asked for (:func:`child_lr`; the Trainer calls it)."""
        return child_lr(self.parent, arch, None, same_text(self.parent, corpus))

    @property
    def note(self) -> str | None:
        """What the log and the result say about the start (imported vectors: no output table)."""
        return NO_OUTPUT_NOTE if self.parent.w_out is None else self.tree_note

    def vocabulary(self, corpus, min_count: int) -> tuple[Vocabulary, np.ndarray]:
        """The child's vocabulary (combined counts, sorted) and the map from corpus ids to its rows."""
        par = self.parent
        index = {w: i for i, w in enumerate(par.words)}
        c_counts = np.asarray(corpus.counts, dtype=np.int64)
        in_parent = np.array([index.get(w, -1) for w in corpus.words], dtype=np.int64)
        new_ids = np.flatnonzero((in_parent < 0) & (c_counts >= min_count))
        words = par.words + [corpus.words[i] for i in new_ids]
        counts = np.concatenate([par.counts, c_counts[new_ids]])
        old = in_parent >= 0
        np.add.at(counts, in_parent[old], c_counts[old])
        # most frequent first, as every model's rows are; ties keep the parent's order, then the new words'
        self.order = np.lexsort((np.arange(len(words)), -counts))
        rank = np.empty_like(self.order)
        rank[self.order] = np.arange(len(self.order))
        combined_of_corpus = np.full(len(c_counts), -1, dtype=np.int64)
        combined_of_corpus[old] = in_parent[old]
        combined_of_corpus[new_ids] = len(par.words) + np.arange(len(new_ids))
        remap = np.where(combined_of_corpus >= 0, rank[np.maximum(combined_of_corpus, 0)], -1)
        self.n_new = len(new_ids)
        self.new_words = [corpus.words[i] for i in new_ids[np.argsort(-c_counts[new_ids], kind="stable")]]
        vocab = Vocabulary([words[i] for i in self.order], counts[self.order].copy())
        return vocab, remap

    @torch.no_grad()
    def fill(self, model: Word2Vec) -> None:
        """Copy the parent's rows into a freshly initialised model (new words keep their fresh rows)."""
        par, order = self.parent, self.order
        if order is None:
            raise RuntimeError("vocabulary() first")
        rows = np.flatnonzero(order < len(par.words))  # child rows that are parent words
        src = torch.from_numpy(order[rows])
        dst = torch.from_numpy(rows)
        words = par.w_words if par.subwords else par.w_in  # a subword model's own word rows, not the composed ones
        model.w_in[dst] = torch.from_numpy(words).index_select(0, src).to(model.w_in)
        if par.subwords:
            self._fill_ngrams(model)
        if model.config.loss == "hs":  # the output rows are the tree's inner nodes, not words
            same = len(order) == len(par.words) and bool(np.all(order == np.arange(len(order))))
            self.tree_note = hsoftmax.carry_inner_nodes(model, par.counts, par.w_out, same)
        elif par.w_out is not None:
            model.w_out[dst] = torch.from_numpy(par.w_out).index_select(0, src).to(model.w_out)
        if model.out_bias is not None and par.out_bias is not None:
            model.out_bias[dst] = torch.from_numpy(par.out_bias).index_select(0, src).to(model.out_bias)
        if self.note:
            log.info(self.note)

    @torch.no_grad()
    def _fill_ngrams(self, model: Word2Vec) -> None:
        """A subword child's n-gram rows: the parent's row of each bucket the child trains, where the parent has one
        (a non-zero row: training saw that bucket); buckets only the new words use keep their fresh rows."""
        table = self.parent.ngrams
        used = np.asarray(model.sub_buckets, dtype=np.int64)
        rows = table[used]
        seen = np.flatnonzero(np.any(rows != 0, axis=1))
        dst = torch.from_numpy(seen + model.vocab_size)
        model.w_in[dst] = torch.from_numpy(np.ascontiguousarray(rows[seen])).to(model.w_in)

    def lineage(self, corpus_info: dict[str, Any], epochs_done: float) -> dict[str, Any]:
        """The child's ``lineage`` object for config.json."""
        par = self.parent
        before = par.lineage or {}
        runs = list(before.get("runs") or [])
        if not runs:  # the parent's own run (imported vectors: none)
            runs = [] if par.imported else [{"corpus": par.corpus, "epochs": par.epochs}]
        runs.append({"corpus": corpus_info.get("name"), "epochs": epochs_done})
        return {"parent": par.name, "parent_folder": par.path.name, "parent_imported": par.imported,
                "runs": runs, "epochs_total": round(sum(float(r.get("epochs") or 0) for r in runs), 3),
                "corpora": [r.get("corpus") for r in runs], "new_words": self.n_new,
                "new_words_top": self.new_words[:50],
                "output_table": ("zeros (imported vectors have none)" if par.w_out is None else
                                 "zeros (the tree changed)" if self.tree_note else "parent"),
                "note": self.note}


def describe(lineage: dict[str, Any]) -> str:
    """One line for a model card: "continued from X: 10 epochs in all on sample, wikitext (123 new words)"."""
    corpora = ", ".join(dict.fromkeys(str(c) for c in lineage.get("corpora") or [] if c))
    return (f"Continued from '{lineage.get('parent')}': {lineage.get('epochs_total', 0):g} epochs in all"
            + (f" on {corpora}" if corpora else "") + f"; {int(lineage.get('new_words') or 0):,} new words.")


def continue_trainer(parent_path: str | Path, corpus, asked: dict[str, Any] | None = None, train_config=None,
                     callbacks=(), stop_event=None):
    """A Trainer that continues ``parent_path`` on ``corpus`` (``asked``: ModelConfig fields to change)."""
    from w2v_core.training import TrainConfig, Trainer

    parent = load_parent(parent_path)
    mc = child_model_config(parent, asked)
    return Trainer(corpus, mc, train_config or TrainConfig(), callbacks, stop_event, init=Continuation(parent))


def make_trainer(parent_path: str | Path | None, corpus, model_config: ModelConfig, train_config, callbacks=(),
                 stop_event=None):
    """A fresh Trainer, or with ``parent_path`` one that continues it with ``model_config``'s settings (the app's
    training jobs call this; the parent's dimension, architecture and output layer must match, see
    :func:`child_model_config`)."""
    from dataclasses import asdict

    from w2v_core.training import Trainer

    if parent_path is None:
        return Trainer(corpus, model_config, train_config, callbacks, stop_event)
    return continue_trainer(parent_path, corpus, asdict(model_config), train_config, callbacks, stop_event)


__all__ = ["Continuation", "Parent", "load_parent", "child_model_config", "child_lr", "continue_trainer",
           "make_trainer", "describe", "same_text", "LR_FRACTION", "SAME_TEXT_FRACTION", "NO_OUTPUT_NOTE"]
