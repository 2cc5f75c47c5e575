"""The Learn page's arithmetic for hierarchical softmax: a word's path down the Huffman tree, and one HS step.

As in ``learn.py`` nothing is re-implemented: the path is the model's own tree (``hsoftmax``'s buffers, built from the
saved counts), the scores use its own inner-node table, and the step is the model's own ``step`` on a copy.
Which row walks which path follows training (``hsoftmax``): CBOW's context mean walks the centre's path; in
Skip-gram each context word's row walks the centre's path (word2vec's reading of a (centre, context) pair).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from w2v_core import hsoftmax
from w2v_core.errors import W2VError
from w2v_core.models import Batch, Word2Vec

EXAMPLE_WORDS = 4  # the most frequent words shown under each inner node


@dataclass
class Turn:
    """One inner node on a word's path."""

    depth: int  # 0 = the root
    node: int  # the inner node (its row of W_out)
    code: int  # the turn taken: 0 (left) or 1 (right)
    words_below: int  # vocabulary words under this node
    examples: list[int]  # the most frequent of them (ids), on the side the path takes


def word_path(model: Word2Vec, word: int) -> list[Turn]:
    """The inner nodes from the root down to ``word``'s leaf, with its code bit at each and the words below."""
    if model.config.loss != "hs":
        raise W2VError("This model has no tree: it was not trained with hierarchical softmax.")
    points = model.hs_points.cpu().numpy()
    codes = model.hs_codes.cpu().numpy().astype(np.int64)
    lengths = model.hs_lengths.cpu().numpy()
    valid = np.arange(points.shape[1])[None, :] < lengths[:, None]
    n = int(lengths[word])
    turns = []
    for d in range(n):
        node, code = int(points[word, d]), int(codes[word, d])
        below = np.flatnonzero(((points == node) & valid).any(1))
        side = below[codes[below, d] == code]  # the depth of a node is the same on every path through it
        turns.append(Turn(d, node, code, len(below), [int(w) for w in side[:EXAMPLE_WORDS]]))
    return turns


def example_io(model: Word2Vec, batch: Batch) -> tuple[list[int], int]:
    """(the input rows, the word whose path they walk) of a one-example ``learn.example_batch``."""
    real = [int(c) for c, m in zip(batch.ctx[0].tolist(), batch.mask[0].tolist()) if m > 0]
    return real, int(batch.centres[0])


@dataclass
class PathScores:
    """The forward pass of one HS example: h, and at each inner node of the target's path its score and turn."""

    inputs: list[int]
    target: int
    hidden: np.ndarray  # (D,)
    turns: list[Turn]
    scores: np.ndarray  # h . v_node at each node
    p_turn: np.ndarray  # sigma(+-score): the probability of the turn the path takes
    terms: np.ndarray  # -log p_turn: each node's share of the loss
    loss: float  # from the model's own loss: the sum of the terms
    rank: int  # the target's rank among all V words by p(w | h)

    @property
    def prob(self) -> float:
        """p(target | h): the product of the turns' probabilities."""
        return float(np.prod(self.p_turn))


def path_scores(model: Word2Vec, batch: Batch) -> PathScores:
    """Scores, turn probabilities and loss terms along the target's path (and the loss from ``model.loss``)."""
    inputs, target = example_io(model, batch)
    with torch.no_grad():
        h = model.w_in[inputs].mean(0)
        turns = word_path(model, target)
        nodes = torch.tensor([t.node for t in turns], dtype=torch.long)
        signs = torch.tensor([1.0 - 2.0 * t.code for t in turns], dtype=torch.float64)
        s = (model.w_out[nodes] @ h).double()
        p = torch.sigmoid(signs * s)
        loss, n = model.loss(batch)
        logp = hsoftmax.log_probs(model, h)
        rank = int((logp > logp[target]).sum()) + 1
    return PathScores(inputs, target, h.cpu().numpy().copy(), turns, s.numpy(), p.numpy(), -np.log(p.numpy()),
                      float(loss) / max(float(n), 1.0), rank)


@dataclass
class HSStep:
    """One SGD step of an HS example on a copy of the model: the path before and after, and how far each row moved."""

    lr: float
    before: PathScores
    after: PathScores
    node_moves: np.ndarray  # |change| of each path node's row of W_out
    input_moves: np.ndarray  # |change| of each input row of W_in


def hs_step(model: Word2Vec, batch: Batch, lr: float) -> HSStep:
    """``model.step(batch, lr)`` on a deep copy, measured before and after."""
    if not lr > 0 or not math.isfinite(lr):
        raise W2VError(f"The learning rate must be a positive number (got {lr}).")
    before = path_scores(model, batch)
    nodes = [t.node for t in before.turns]
    copy_ = copy.deepcopy(model)
    copy_.step(batch, float(lr))
    after = path_scores(copy_, batch)
    with torch.no_grad():
        node_moves = (copy_.w_out[nodes] - model.w_out[nodes]).norm(dim=1).cpu().numpy()
        input_moves = (copy_.w_in[before.inputs] - model.w_in[before.inputs]).norm(dim=1).cpu().numpy()
    return HSStep(float(lr), before, after, node_moves, input_moves)
