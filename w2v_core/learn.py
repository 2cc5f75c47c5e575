"""The Learn page's arithmetic: word2vec step by step on a real model and its real corpus.

Nothing here re-implements training. A saved model folder is turned back into the same ``SkipGram``/``CBOW``
module the Trainer used (``load_training_model``); windows come from ``windows.subsample``/``draw_radii``/
``context_matrix``; keep probabilities and negatives from ``Vocabulary``; losses and the gradient step from the
model's own ``loss``/``step``. The functions below only gather those numbers into small records a page can show
(and tests can check): one-hot lookups, the training examples of a passage, one forward pass, one SGD step.
"""

from __future__ import annotations

import copy
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from w2v_core import store
from w2v_core.data.corpus import Corpus, CorpusConfig, tokenize
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.models import Batch, ModelConfig, Word2Vec, build_model
from w2v_core.training import DEFAULT_LR, TrainConfig, Trainer
from w2v_core.vectors import unit_rows
from w2v_core.vocab import Vocabulary
from w2v_core.windows import Stream, cbow_examples, context_matrix, draw_radii, skipgram_pairs, subsample

log = logging.getLogger(__name__)

TINY_CORPUS = "lee"


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class LearnModel:
    """A saved model rebuilt as the training module, with what the Learn page needs next to it."""

    path: Path
    name: str
    model: Word2Vec
    vocab: Vocabulary
    config: ModelConfig
    corpus_config: CorpusConfig | None  # None when the folder does not say how its corpus was made
    corpus_name: str
    lr: float  # the starting learning rate of the training run
    _neg_table: np.ndarray | None = field(default=None, repr=False)

    @property
    def words(self) -> list[str]:
        return self.vocab.words

    @property
    def V(self) -> int:
        return len(self.vocab)

    @property
    def D(self) -> int:
        return self.config.dim

    def negative_table(self) -> np.ndarray:
        """The same unigram^0.75 table the Trainer draws negatives from (built once)."""
        if self._neg_table is None:
            self._neg_table = self.vocab.negative_table()
        return self._neg_table


def load_training_model(path: str | Path) -> LearnModel:
    """Rebuild the trained ``SkipGram``/``CBOW`` module of a model folder from its saved tensors.

    Why: the Learn page must run the model's own ``hidden``/``loss``/``step`` code, not a copy of the maths.
    Imported vectors (no output layer, no model config) cannot be stepped and raise a W2VError.
    """
    rec = store.read_record(path)
    if rec.error is not None:
        raise W2VError(rec.error)
    if not rec.trained_here:
        raise W2VError(f"'{rec.name}' is a set of imported word vectors: it has no output layer or training settings, "
                       "so its training steps cannot be shown. Train a model here (or use the tiny model) for Learn.")
    mc = rec.model
    if mc is not None and mc.subwords:
        raise W2VError(f"'{rec.name}' is a subword (fastText) model; Learn steps through plain word2vec models. "
                       "Train one without subwords (or use the tiny model) for Learn.")
    m = store.load_model(path)
    t = m.tensors()
    if "out" not in t:
        raise W2VError(f"'{rec.name}' was saved without its output layer (weights 'out'); Learn needs a model trained "
                       "by this app.")
    model = build_model(len(m.vectors.words), mc, m.vectors.counts)  # the counts: hierarchical softmax's tree
    with torch.no_grad():
        model.in_embed.weight.copy_(torch.from_numpy(np.asarray(t["in"], dtype=np.float32)))
        model.out_embed.weight.copy_(torch.from_numpy(np.asarray(t["out"], dtype=np.float32)))
        if model.out_bias is not None:
            if "out_bias" in t:
                model.out_bias.copy_(torch.from_numpy(np.asarray(t["out_bias"], dtype=np.float32)))
            else:
                model.out_bias.zero_()
    model.eval()
    vocab = Vocabulary(list(m.vectors.words), np.asarray(m.vectors.counts, dtype=np.int64))
    lr = rec.lr or DEFAULT_LR[mc.arch]
    return LearnModel(Path(path), rec.name, model, vocab, mc, rec.corpus, rec.corpus_name or "unknown corpus", lr)


def load_model_corpus(lm: LearnModel, progress: Callable[[float, str], None] | None = None,
                      uploads: str | Path | None = None) -> Corpus:
    """The corpus the model was trained on, re-read through its saved CorpusConfig (so sentences are real).

    ``uploads``: the uploads folder the model's corpus may come from on a shared server (``loader.check_source``).
    The message of a corpus that cannot be re-read names its file, never the folder it was in.
    """
    if lm.corpus_config is None:
        raise W2VError(f"'{lm.name}' does not record how its corpus was loaded, so its sentences cannot be shown; "
                       "type a sentence instead.")
    try:
        return load_corpus(lm.corpus_config, progress, uploads=uploads)
    except W2VError as e:
        source = re.split(r"[/\\]", str(lm.corpus_config.source))[-1]
        raise W2VError(f"The corpus of '{lm.name}' ({source}) cannot be re-read here ({e}). "
                       "Type a sentence instead.") from None


def train_tiny_model(root: str | Path | None = None, source: str = TINY_CORPUS, epochs: int = 12,
                     callbacks=(), run: Callable[..., Path] | None = None) -> Path:
    """Train and save a small Skip-gram model on a small bundled corpus, so the Learn page works before any real
    training.

    ``run(corpus_config, model_config, train_config, name, root)`` carries the run out and returns the saved model:
    a server passes its job queue (``serve.jobs.run_to_end``: a slot in the line and the disk quota, like any
    other run). Without it, the model is trained here, in this thread, with ``callbacks``.
    """
    cc = CorpusConfig(source=source)
    mc = ModelConfig(arch="skipgram", loss="negative", dim=32, window=4, negative=5, min_count=5, sample=1e-3)
    tc = TrainConfig(epochs=epochs, threads=1, seed=1, batch_size=256)
    name = f"tiny {source} skip-gram"  # a second one is "... skip-gram-2"
    if run is not None:
        return run(cc, mc, tc, name, root)
    root = Path(root) if root is not None else store.models_dir()
    result = Trainer(load_corpus(cc), mc, tc, callbacks=callbacks).train()
    path, name = store.new_model_slot(root, name)
    return result.save(path, name=name)


# ---------------------------------------------------------------------------------------------- step 1


def passages(corpus: Corpus, vocab: Vocabulary, n: int = 40, length: int = 24, min_len: int = 8) -> list[list[str]]:
    """Up to ``n`` short passages (the first ``length`` tokens of documents spread over the corpus).

    Why: documents can be long paragraphs; a passage of a couple of dozen words fits on screen. Passages with
    many out-of-vocabulary words are skipped so most tokens have a vector.
    """
    out: list[list[str]] = []
    idx = vocab.index
    docs = np.linspace(0, corpus.n_docs - 1, num=min(corpus.n_docs, 4 * n), dtype=np.int64) if corpus.n_docs else []
    seen = set()
    for d in docs:
        d = int(d)
        if d in seen:
            continue
        seen.add(d)
        toks = corpus.doc_tokens(d)[:length]
        if len(toks) < min_len:
            continue
        known = sum(t in idx for t in toks)
        if known / len(toks) < 0.75:
            continue
        out.append(toks)
        if len(out) >= n:
            break
    return out


def sentence_tokens(text: str, lm: LearnModel) -> list[str]:
    """Tokenize typed text exactly as the model's corpus was tokenized."""
    return tokenize(text, lm.corpus_config or CorpusConfig())


def encode(tokens: list[str], vocab: Vocabulary) -> list[int | None]:
    """Vocabulary ids of tokens; None for words the vocabulary dropped (rare words under min_count)."""
    idx = vocab.index
    return [idx.get(t) for t in tokens]


def one_hot(i: int, V: int) -> torch.Tensor:
    """The one-hot row vector of word ``i`` (1 x V)."""
    x = torch.zeros(1, V)
    x[0, i] = 1.0
    return x


def one_hot_product(model: Word2Vec, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(one-hot x, x @ W_in, W_in[i]): the matrix product and the row lookup give the same vector."""
    x = one_hot(i, model.vocab_size)
    return x, (x @ model.w_in)[0], model.w_in[i].clone()


def doc_term_counts(corpus: Corpus, vocab: Vocabulary):
    """Sparse (n_docs x V) counts of each vocabulary word in each corpus document (bag of words)."""
    from scipy import sparse

    remap = np.full(corpus.n_words, -1, dtype=np.int64)
    idx = vocab.index
    for j, w in enumerate(corpus.words):
        i = idx.get(w)
        if i is not None:
            remap[j] = i
    ids = remap[corpus.ids]
    doc = np.repeat(np.arange(corpus.n_docs), np.diff(corpus.offsets))
    keep = ids >= 0
    m = sparse.csr_matrix((np.ones(int(keep.sum()), dtype=np.float64), (doc[keep], ids[keep])),
                          shape=(corpus.n_docs, len(vocab)))
    m.sum_duplicates()
    return m


@dataclass
class WordSpaces:
    """Each vocabulary word as a bag-of-words column, a TF-IDF column and an embedding row."""

    bow: Any  # scipy sparse (V x n_docs), rows L2-normalised
    tfidf: Any  # scipy sparse (V x n_docs), rows L2-normalised
    emb: np.ndarray  # (V x D) rows L2-normalised
    n_docs: int


def _rownorm(m):
    from scipy import sparse

    norms = np.sqrt(np.asarray(m.multiply(m).sum(1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ m


def word_spaces(corpus: Corpus, lm: LearnModel) -> WordSpaces:
    """Build the three word representations compared on the page, over the same corpus documents.

    Bag of words: word w is the vector of its counts in each document. TF-IDF: the same counts weighted by
    scikit-learn's ``TfidfTransformer`` (smooth idf, l2 per document), read column-wise.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    counts = doc_term_counts(corpus, lm.vocab)
    tfidf = TfidfTransformer().fit_transform(counts)
    emb = unit_rows(lm.model.w_in.detach().cpu().numpy(), np.float64)
    return WordSpaces(_rownorm(counts.T.tocsr()), _rownorm(tfidf.T.tocsr()), emb, corpus.n_docs)


def similarity_rows(spaces: WordSpaces, vocab: Vocabulary, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Cosine of each word pair under one-hot, bag-of-words, TF-IDF and the embedding."""
    idx = vocab.index
    rows = []
    for a, b in pairs:
        if a not in idx or b not in idx:
            continue
        i, j = idx[a], idx[b]
        rows.append({
            "word 1": a, "word 2": b,
            "one-hot": 1.0 if i == j else 0.0,
            "bag of words": float(spaces.bow[i].multiply(spaces.bow[j]).sum()),
            "TF-IDF": float(spaces.tfidf[i].multiply(spaces.tfidf[j]).sum()),
            "embedding": float(spaces.emb[i] @ spaces.emb[j]),
        })
    return rows


# pairs a lecture would use; those in the vocabulary come first
CLASSIC_PAIRS = [("police", "officers"), ("man", "woman"), ("king", "queen"), ("monday", "tuesday"),
                 ("city", "town"), ("government", "minister"), ("good", "bad"), ("war", "peace"),
                 ("france", "germany"), ("cat", "dog")]


def suggest_pairs(lm: LearnModel, n: int = 3, start_rank: int = 40, classic: int = 3) -> list[tuple[str, str]]:
    """A few word pairs worth comparing: textbook pairs found in the vocabulary, mid-frequency words with their
    nearest embedding neighbour, and one unrelated pair, so the table shows where representations differ."""
    V = lm.V
    if V < 4:
        return []
    idx = lm.vocab.index
    pairs: list[tuple[str, str]] = [p for p in CLASSIC_PAIRS if p[0] in idx and p[1] in idx][:classic]
    w = unit_rows(lm.model.w_in.detach().cpu().numpy(), np.float64)
    lo = min(start_rank, V // 4)
    ranks = np.unique(np.linspace(lo, min(V - 1, lo + 400), num=n).astype(int))
    for r in ranks:
        sims = w @ w[r]
        sims[r] = -np.inf
        pair = (lm.words[r], lm.words[int(np.argmax(sims))])
        if not any(set(pair) == set(q) for q in pairs):
            pairs.append(pair)
    far = min(V - 1, int(ranks[0]) + V // 2)
    if far != ranks[0]:
        pairs.append((lm.words[int(ranks[0])], lm.words[far]))
    return pairs


# ---------------------------------------------------------------------------------------------- step 2


@dataclass
class WindowDemo:
    """A passage run through subsampling and the dynamic window exactly as a training epoch does."""

    tokens: list[str]
    ids: list[int | None]  # vocabulary id per token; None = not in the vocabulary (removed before training)
    keep_prob: list[float | None]  # subsampling keep probability per token (None when out of vocabulary)
    kept: list[bool]  # survived subsampling this time (False for out-of-vocabulary tokens)
    token_of: list[int]  # stream position -> token index in the passage
    stream_ids: torch.Tensor  # int64 (n,), the ids that reach the window builder
    radii: torch.Tensor  # int64 (n,), the radius drawn for each centre
    ctx: torch.Tensor  # int64 (n, 2w)
    valid: torch.Tensor  # bool (n, 2w)
    window: int
    skipgram: list[tuple[int, int]]  # (centre id, context id) in text order, from windows.skipgram_pairs
    cbow: list[tuple[list[int], int]]  # (context ids, centre id), from windows.cbow_examples

    @property
    def n(self) -> int:
        return len(self.token_of)

    def context_of(self, p: int) -> list[int]:
        """Stream positions in the window of stream position ``p`` (in text order)."""
        rel = list(range(-self.window, 0)) + list(range(1, self.window + 1))
        return [p + r for r, ok in zip(rel, self.valid[p].tolist()) if ok]


def window_demo(tokens: list[str], vocab: Vocabulary, window: int, sample: float, seed: int = 0,
                dynamic: bool = True, subsampling: bool = True) -> WindowDemo:
    """Subsample a passage, draw each centre's radius and build its context windows with ``windows.py``.

    The passage is treated as one document (windows never cross a document boundary). The random draws
    happen in the Trainer's order (subsampling, then radii) from one seeded generator.
    """
    if window < 1:
        raise W2VError(f"The window must be at least 1 (got {window}).")
    ids = encode(tokens, vocab)
    known = [i for i, t in enumerate(ids) if t is not None]
    kp_all = vocab.keep_probs(sample) if sample > 0 else np.ones(len(vocab), dtype=np.float32)
    keep_prob = [None if t is None else float(kp_all[t]) for t in ids]
    g = torch.Generator().manual_seed(int(seed))
    t_ids = torch.tensor([ids[i] for i in known], dtype=torch.int64)
    offs = torch.tensor([0, len(known)], dtype=torch.int64)
    kp = torch.from_numpy(kp_all) if (subsampling and sample > 0) else None
    kept_ids, koffs, mask = subsample(t_ids, offs, kp, g)
    stream = Stream.from_offsets(kept_ids, koffs)
    n = len(stream)
    radii = draw_radii(n, window, g) if dynamic else torch.full((n,), window, dtype=torch.int64)
    ctx, valid = context_matrix(stream, torch.arange(n), radii, window)
    sc, sx = skipgram_pairs(stream, radii, window)
    kept = [False] * len(tokens)
    token_of = []
    for i, m in zip(known, mask.tolist()):
        if m:
            kept[i] = True
            token_of.append(i)
    return WindowDemo(tokens, ids, keep_prob, kept, token_of, stream.ids, radii, ctx, valid, window,
                      list(zip(sc.tolist(), sx.tolist())), cbow_examples(stream, radii, window))


# ---------------------------------------------------------------------------------------------- step 3


def draw_negatives(lm: LearnModel, k: int, seed: int = 0) -> torch.Tensor:
    """k negatives (1 x k) from the model's noise table, one set for this example (word2vec's textbook form; the
    Trainer draws one pool per batch and shares it, which has the same expected gradient)."""
    table = torch.from_numpy(lm.negative_table())
    g = torch.Generator().manual_seed(int(seed))
    return table[torch.randint(len(table), (1, k), generator=g)].long()


def example_batch(demo: WindowDemo, p: int, arch: str, target: int | None = None,
                  negatives: torch.Tensor | None = None) -> Batch:
    """One training example as a Batch of one row.

    CBOW: all context words of stream position ``p`` -> its centre word (the Trainer's example for ``p``).
    Skip-gram: the centre word -> the single context word at stream position ``target`` (the Trainer's row
    holds all context words of the centre at once; one of them is one (centre, context) example).
    """
    if not 0 <= p < demo.n:
        raise W2VError("Pick a centre word that survived subsampling.")
    centre = demo.stream_ids[p:p + 1].clone()
    if arch == "cbow":
        ctx, mask = demo.ctx[p:p + 1].clone(), demo.valid[p:p + 1].to(torch.float32)
    else:
        if target is None or target not in demo.context_of(p):
            raise W2VError("Pick one of the centre word's context words.")
        ctx = demo.stream_ids[target:target + 1].view(1, 1).clone()
        mask = torch.ones(1, 1)
    return Batch(centre, ctx, mask, negatives)


def input_ids(batch: Batch, arch: str) -> list[int]:
    """The rows of W_in the example reads: the context words (CBOW) or the centre word (Skip-gram)."""
    if arch == "cbow":
        return [int(c) for c, m in zip(batch.ctx[0].tolist(), batch.mask[0].tolist()) if m > 0]
    return [int(batch.centres[0])]


def true_id(batch: Batch, arch: str) -> int:
    """The word the example predicts: the centre (CBOW) or the one context word (Skip-gram)."""
    return int(batch.centres[0]) if arch == "cbow" else int(batch.ctx[0, 0])


@dataclass
class Forward:
    """Every intermediate number of one example's forward pass."""

    inputs: list[int]
    input_vectors: np.ndarray  # (n_in, D) rows of W_in
    hidden: np.ndarray  # (D,) from model.hidden
    scores: np.ndarray  # (V,) h . W_out[w] (+ bias with a softmax output layer)
    probs: np.ndarray  # (V,) softmax of scores
    target: int
    loss: float  # from model.loss: the training loss of this example
    # negative sampling only: the true word first, then the k negatives
    ns_ids: list[int] = field(default_factory=list)
    ns_scores: np.ndarray | None = None
    ns_sigmoid: np.ndarray | None = None  # sigma(score): the model's "this pair is real" probability
    ns_terms: np.ndarray | None = None  # each target's loss term (0 for a negative equal to the true word)

    @property
    def target_prob(self) -> float:
        return float(self.probs[self.target])

    @property
    def target_rank(self) -> int:
        """1-based rank of the true word among all V words."""
        return int((self.scores > self.scores[self.target]).sum()) + 1

    def top(self, n: int = 10) -> list[tuple[int, float]]:
        order = np.argsort(-self.probs, kind="stable")[:n]
        return [(int(i), float(self.probs[i])) for i in order]


def forward(model: Word2Vec, batch: Batch) -> Forward:
    """Run one example through the model: looked-up rows, hidden vector, scores, softmax and the loss."""
    arch = model.arch
    with torch.no_grad():
        ins = input_ids(batch, arch)
        h = model.hidden(batch)[0]
        if model.out_bias is not None:
            scores = model._softmax_logits(h.unsqueeze(0))[0]
        else:
            scores = model.w_out @ h
        probs = torch.softmax(scores.double(), 0)
        loss, n = model.loss(batch)
        f = Forward(ins, model.w_in[ins].cpu().numpy().copy(), h.cpu().numpy().copy(), scores.cpu().numpy().copy(),
                    probs.cpu().numpy(), true_id(batch, arch), float(loss) / max(float(n), 1.0))
        if model.config.loss == "negative" and batch.negatives is not None:
            t = f.target
            negs = batch.negatives[0].tolist()
            ids = [t] + negs
            s = (model.w_out[ids] @ h).double()
            sig = torch.sigmoid(s)
            terms = torch.cat([-torch.log(sig[:1]), -torch.log(1 - sig[1:])])
            terms[1:][torch.tensor(negs) == t] = 0.0  # word2vec skips a negative that is the true word
            f.ns_ids, f.ns_scores, f.ns_sigmoid, f.ns_terms = ids, s.numpy(), sig.numpy(), terms.numpy()
    return f


# ---------------------------------------------------------------------------------------------- step 4


@dataclass
class StepResult:
    """What one SGD step on one example changed (the model itself is untouched; a copy was stepped)."""

    lr: float
    before: Forward
    after: Forward
    words: list[int]  # involved word ids: inputs first, then targets
    roles: list[str]  # "input", "true word", "negative" or "predicted"
    in_before: np.ndarray  # (len(words), D) W_in rows
    in_after: np.ndarray
    out_before: np.ndarray  # (len(words), D) W_out rows
    out_after: np.ndarray
    model_after: Word2Vec = field(repr=False)

    @property
    def loss_before(self) -> float:
        return self.before.loss

    @property
    def loss_after(self) -> float:
        return self.after.loss

    def cosine_rows(self) -> list[dict[str, Any]]:
        """For each target word: cos(h, its output vector) and cos(input word, it) in W_in, before and after."""
        def cos(a, b):
            d = float(np.linalg.norm(a) * np.linalg.norm(b))
            return float(a @ b) / d if d > 0 else 0.0

        n_in = self.roles.count("input")
        rows = []
        for j in range(n_in, len(self.words)):
            row = {"word id": self.words[j], "role": self.roles[j],
                   "cos(h, out) before": cos(self.before.hidden, self.out_before[j]),
                   "cos(h, out) after": cos(self.after.hidden, self.out_after[j])}
            if n_in == 1:
                row["cos(in, in) before"] = cos(self.in_before[0], self.in_before[j])
                row["cos(in, in) after"] = cos(self.in_after[0], self.in_after[j])
            rows.append(row)
        return rows


def sgd_step(model: Word2Vec, batch: Batch, lr: float, n_predicted: int = 5) -> StepResult:
    """Apply ``model.step(batch, lr)`` to a deep copy of the model and measure before and after."""
    if not lr > 0 or not math.isfinite(lr):
        raise W2VError(f"The learning rate must be a positive number (got {lr}).")
    arch = model.arch
    before = forward(model, batch)
    ins = input_ids(batch, arch)
    words, roles = list(ins), ["input"] * len(ins)
    targets = [before.target]
    troles = ["true word"]
    if model.config.loss == "negative" and batch.negatives is not None:
        for w in batch.negatives[0].tolist():
            if w not in targets:
                targets.append(w)
                troles.append("negative")
    else:
        for w, _ in before.top(n_predicted + 1):
            if w not in targets and len(targets) <= n_predicted:
                targets.append(w)
                troles.append("predicted")
    words += targets
    roles += troles
    copy_ = copy.deepcopy(model)
    in_b, out_b = model.w_in[words].cpu().numpy().copy(), model.w_out[words].cpu().numpy().copy()
    copy_.step(batch, float(lr))
    after = forward(copy_, batch)
    in_a, out_a = copy_.w_in[words].cpu().numpy().copy(), copy_.w_out[words].cpu().numpy().copy()
    return StepResult(float(lr), before, after, words, roles, in_b, in_a, out_b, out_a, copy_)


def pca_2d(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project two sets of raw vectors (not unit length: a move's length matters) into one 2-D PCA basis fitted
    on both, so that how far each vector moved between them can be seen on a plane."""
    both = np.concatenate([before, after]).astype(np.float64)
    mean = both.mean(0)
    x = both - mean
    if x.shape[0] < 2 or not np.any(x):
        z = np.zeros((len(before), 2))
        return z, z.copy()
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    basis = vt[:2].T
    if basis.shape[1] < 2:
        basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
    return (before - mean) @ basis, (after - mean) @ basis
