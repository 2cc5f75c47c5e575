"""The trainer's divergence watch: when a run has gone wrong, and where to roll it back to.

A run whose loss climbs far above an untrained model's, or rises over a whole epoch, is rolled back to the epoch's
start and retried at half the learning rate (``Trainer``); if that keeps happening it stops with one ``W2VError``
that says what to change. A run that ends normally always has a final loss below an untrained model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from w2v_core.errors import W2VError

BLOWUP_FACTOR = 1.5  # a report's loss above this x an untrained model's is a blow-up
RISE_SHARE = 0.25  # an epoch that undoes this share of the progress the previous epochs made is a blow-up
# an epoch's loss above an untrained model's is a blow-up (the margin is rounding: a one-batch epoch reports
# the loss of the weights it started from, which is exactly the untrained loss in the first epoch)
WORSE = 1.0001
# hierarchical softmax's untrained loss is ln 2 x the corpus's mean path length; a batch's own centres can have
# longer paths (a tiny corpus's first epoch, measured on its first batch before any step: 3.352 against 3.335)
WORSE_HS = 1.05
MAX_RETRIES = 3  # epochs retried at half the learning rate before giving up


def untrained_loss(loss: str, negative: int, vocab_size: int) -> float:
    """The loss per example of a model that has learnt nothing (every score 0: output rows start at zero).

    (1 + k) ln 2 with negative sampling (k = 5: 4.16), ln V with the full softmax (``loss`` = "softmax"). A loss
    above this means the run made the model worse than untrained: it diverged.
    """
    if loss == "softmax":
        return math.log(max(int(vocab_size), 2))
    return (negative + 1) * math.log(2)


@dataclass
class Mark:
    """The start of an epoch, to roll back to."""

    epoch: int  # 0-based
    tables: list[torch.Tensor]  # copies of the weights
    n_reports: int  # batch reports in the history so far
    done: float  # in-vocabulary tokens done so far


class DivergenceWatch:
    """Judges the losses of one run against an untrained model's and keeps the last two epochs' starts."""

    def __init__(self, untrained: float, worse: float = WORSE):
        self.untrained = untrained
        self.worse = worse  # an epoch's loss above this x an untrained model's is a blow-up
        self.marks: list[Mark] = []  # the start of the last two epochs

    def blew_up(self, loss: float) -> bool:
        """A progress report's loss that stops the epoch at once."""
        return not math.isfinite(loss) or loss > BLOWUP_FACTOR * self.untrained

    def epoch_problem(self, eloss: float, prev: float | None) -> float | None:
        """The loss that says this epoch went wrong: not finite, above an untrained model's, or well above the
        previous epoch's ``prev`` (with a decaying learning rate the loss only rises when steps overshoot)."""
        rose = prev is not None and eloss - prev > RISE_SHARE * (self.untrained - prev)
        if not math.isfinite(eloss) or eloss > self.untrained * self.worse or rose:
            return eloss
        return None

    def mark(self, epoch: int, tables: list[torch.Tensor], n_reports: int, done: float) -> None:
        """Remember the start of ``epoch`` (once: a retried epoch keeps its first mark)."""
        if not self.marks or self.marks[-1].epoch != epoch:
            self.marks = self.marks[-1:] + [Mark(epoch, [t.clone() for t in tables], n_reports, done)]

    def rollback(self, reports: int) -> Mark:
        """Where to start again after a blow-up in an attempt that made ``reports`` progress reports. A loss that
        is already wrong at the epoch's first report was made by the previous epoch's last batches (it is measured
        before each update): then go back to that epoch's start."""
        if reports <= 1 and len(self.marks) == 2:
            self.marks = self.marks[:1]
        return self.marks[-1]

    def diverged(self, loss: float, epoch: int, lr: float, lr_scale: float) -> W2VError:
        """The error that stops the run and says what to change (epoch is 1-based)."""
        tried = f" (it was {lr:g}, and {lr * lr_scale:.3g} on the last retry)" if lr_scale < 1 else (
            f" (it was {lr:g})")
        return W2VError(f"Training diverged in epoch {epoch} (the loss became {loss:.4g}, an untrained model scores "
                        f"{self.untrained:.2f}). Lower the learning rate{tried}.")
