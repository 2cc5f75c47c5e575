"""Many training workers at once, reproduced on a 2-core machine.

Hogwild workers each compute a batch update from the weights as they find them and add it in; with N workers
running truly at once, N updates computed from the same weights land together. ``Tuning.emulate_workers``
does exactly that, one batch after another, so the effect of 8, 16 or 64 cores shows on any machine (and
deterministically). word2vec's plain summed step blows up at N = 16 (at 8 it did on a real 16-core machine with
blocks of 256 centres sharing one pool of negatives; with today's smaller blocks 8 emulated workers survive); the
bounded step converges at N = 16 and 64 with vectors as good as one worker's, on real text (the bundled Wikipedia sample).
"""

from __future__ import annotations

import numpy as np
import pytest

from w2v_core.data.corpus import CorpusConfig
from w2v_core.data.loader import load_corpus
from w2v_core.errors import W2VError
from w2v_core.evaluation import evaluate_pairs
from w2v_core.models import ModelConfig
from w2v_core.training import Callback, TrainConfig, Trainer
from w2v_core.workers import Tuning

SEEDS = (1, 2, 3)  # WordSim353 on a 465k-token corpus moves by about +-0.03 between seeds: compare means
BATCH = 256  # each worker's batch: what 16 threads get by default (training.default_batch)


@pytest.fixture(scope="module")
def sample():
    return load_corpus(CorpusConfig(source="sample"))


class Retries(Callback):
    def __init__(self):
        self.seen: list[str] = []

    def on_epoch_retry(self, epoch, message):
        self.seen.append(message)


def test_the_plain_summed_step_blows_up_with_16_concurrent_workers(sample):
    # 16 workers is near the edge for one seed (seed 1 survives on the NFC-normalised sample, seeds 2 and 3 blow up):
    # the claim is about most runs, so it is checked on the seeds the other tests use
    blew = 0
    for seed in SEEDS:
        rec = Retries()
        try:
            Trainer(sample, ModelConfig(), TrainConfig(epochs=1, threads=1, update="sum", batch_size=BATCH,
                                                       seed=seed), [rec], tuning=Tuning(emulate_workers=16)).train()
        except W2VError:
            pass  # every retry blew up too: also a divergence
        blew += bool(rec.seen and "blew up" in rec.seen[0])
    assert blew >= 2


def _wordsim(sample, workers: int) -> tuple[float, list[int], list[float]]:
    scores, retries, losses = [], [], []
    for seed in SEEDS:
        r = Trainer(sample, ModelConfig(), TrainConfig(epochs=5, threads=1, seed=seed, batch_size=BATCH),
                    tuning=Tuning(emulate_workers=workers)).train()
        scores.append(evaluate_pairs(r.vectors, "wordsim353", table=False)["spearman"])
        retries.append(r.summary["lr_retries"])
        losses.append(r.summary["final_loss"])
    return float(np.mean(scores)), retries, losses


def test_the_bounded_step_converges_with_16_and_64_concurrent_workers(sample):
    one, retries1, _ = _wordsim(sample, 1)
    for n in (16, 64):
        ws, retries, losses = _wordsim(sample, n)
        assert retries == [0, 0, 0], (n, retries)  # no blow-up to recover from
        assert max(losses) < 3.0, (n, losses)  # an untrained model scores 4.16
        assert ws > one - 0.03, (n, ws, one)


def test_hierarchical_softmax_converges_with_16_concurrent_workers(sample):
    """Every example of a batch updates the tree's root (it is on every path), so 16 workers' batches computed from
    the same weights pile up on the top inner nodes; the bounded step still converges, with vectors as good as one
    worker's (two seeds, three epochs: each HS run costs more than a negative-sampling one)."""
    scores, losses = {}, {}
    for workers in (1, 16):
        ws = []
        for seed in SEEDS[:2]:
            r = Trainer(sample, ModelConfig(loss="hs"), TrainConfig(epochs=3, threads=1, seed=seed, batch_size=BATCH),
                        tuning=Tuning(emulate_workers=workers)).train()
            assert r.summary["lr_retries"] == 0, (workers, seed)
            # an untrained model pays ln 2 per turn (8.0 on the sample); one worker ends near 7.6 after 3 epochs
            assert r.summary["final_loss"] < 0.97 * r.summary["untrained_loss"], (workers, r.summary)
            ws.append(evaluate_pairs(r.vectors, "wordsim353", table=False)["spearman"])
            losses.setdefault(workers, []).append(r.summary["final_loss"])
        scores[workers] = float(np.mean(ws))
    assert np.mean(losses[16]) < 1.02 * np.mean(losses[1]), losses
    assert scores[16] > scores[1] - 0.03, scores
