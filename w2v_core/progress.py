"""What a training run tells whoever watches it: :class:`Progress` reports through :class:`Callback` s.

The trainer knows nothing about who is watching: the app's live loss chart, the replay's snapshots and the command
line's log line (:class:`LogCallback`) are all callbacks (as in minGPT's trainer). :class:`Reporter` turns the
workers' summed losses into reports: the mean loss since the last one, its moving average, speed and ETA.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch


@dataclass
class Progress:
    """What a callback is told while training runs."""

    epoch: int  # 1-based epoch in progress
    epochs: int
    fraction: float  # of the whole run, 0..1
    words_done: int  # raw corpus tokens processed so far (all epochs)
    total_words: int  # raw corpus tokens x epochs
    loss: float  # mean loss per example since the previous report
    smoothed_loss: float  # exponential moving average of `loss`
    lr: float
    words_per_sec: float
    elapsed: float  # seconds
    eta: float  # seconds left (estimate)


class Callback:
    """Override what you need. Called from the training thread: never touch UI state here directly."""

    def on_train_begin(self, info: dict[str, Any]) -> None: ...
    def on_batch_end(self, progress: Progress) -> None: ...
    def on_epoch_end(self, epoch: int, epoch_loss: float, progress: Progress) -> None: ...
    def on_epoch_retry(self, epoch: int, message: str) -> None:
        """The epoch blew up and starts again from its first weights at a lower learning rate; the batch reports
        since its start are void."""
    def on_train_end(self, result: Any) -> None: ...  # a training.TrainResult


class LogCallback(Callback):
    """Progress lines through a function (the CLI passes one that writes to stderr)."""

    def __init__(self, write: Callable[[str], None], every: float = 2.0):
        self.write, self.every, self._last = write, every, 0.0

    def on_batch_end(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.write(f"epoch {p.epoch}/{p.epochs}  {p.fraction * 100:5.1f}%  loss {p.smoothed_loss:.4f}  "
                       f"lr {p.lr:.5f}  {p.words_per_sec:,.0f} words/s  ETA {p.eta:.0f}s")

    def on_epoch_end(self, epoch: int, epoch_loss: float, p: Progress) -> None:
        self.write(f"epoch {epoch}/{p.epochs} done: loss {epoch_loss:.4f}, {p.words_per_sec:,.0f} words/s")

    def on_epoch_retry(self, epoch: int, message: str) -> None:
        self.write(message)


class Reporter:
    """The run's reports: the batch history (``history["batch"]``), the moving average, and the callbacks.

    ``lr_at(done, total)`` is the rate at a point of the run; ``blew_up(loss)`` says whether a report's loss stops
    the epoch (``divergence.DivergenceWatch``). A ``run`` is the epoch's ``workers.EpochRun``.
    """

    def __init__(self, callbacks: Sequence[Callback], epochs: int, history: dict[str, list],
                 lr_at: Callable[[float, int], float], blew_up: Callable[[float], bool]):
        self.callbacks = list(callbacks)
        self.epochs = epochs
        self.history = history
        self.lr_at = lr_at
        self.blew_up = blew_up
        self.ema: float | None = None  # the smoothed loss, restarted by each train()

    def report(self, run: Any, loss_acc: torch.Tensor, n_acc: torch.Tensor, call: bool = True) -> None:
        """Add a worker's summed loss to its epoch and, with ``call``, tell the callbacks (from the worker's
        thread). The one read of the device's numbers between reports happens here."""
        ls, n = float(loss_acc.item()), float(n_acc.item())
        with run.lock:
            run.loss_sum += ls
            run.loss_n += n
            if n <= 0:
                return
            loss = ls / n
            run.reports += 1
            if run.blowup is None and self.blew_up(loss):
                run.blowup = loss  # the epoch stops here and is retried (Trainer.train)
                run.abort.set()
            if not call or run.blowup is not None:
                return
            prog = self.progress(run, run.epoch + 1, loss)
            self.history["batch"].append({"fraction": round(prog.fraction, 5), "words": prog.words_done,
                                          "loss": loss, "smoothed": prog.smoothed_loss, "epoch": run.epoch + 1})
            for cb in self.callbacks:
                cb.on_batch_end(prog)

    def progress(self, run: Any, epoch: int, loss: float) -> Progress:
        elapsed = time.perf_counter() - run.start
        frac = min(1.0, run.done / max(run.total, 1))
        if math.isfinite(loss):
            self.ema = loss if self.ema is None else 0.9 * self.ema + 0.1 * loss
        words = run.done * run.scale
        wps = words / max(elapsed, 1e-9)
        eta = (run.total - run.done) * run.scale / wps if wps > 0 else float("inf")
        return Progress(epoch=epoch, epochs=self.epochs, fraction=frac, words_done=int(words),
                        total_words=int(run.total * run.scale), loss=loss,
                        smoothed_loss=self.ema if self.ema is not None else loss, lr=self.lr_at(run.done, run.total),
                        words_per_sec=wps, elapsed=elapsed, eta=eta)

    def epoch_end(self, run: Any, epoch: int, epoch_loss: float) -> None:
        """Record a finished epoch (1-based) and tell the callbacks."""
        self.history["epoch"].append({"epoch": epoch, "loss": epoch_loss})
        prog = self.progress(run, epoch, epoch_loss)
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, epoch_loss, prog)

    def epoch_retry(self, epoch: int, message: str) -> None:
        for cb in self.callbacks:
            cb.on_epoch_retry(epoch, message)

    def train_begin(self, info: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(info)

    def train_end(self, result: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_end(result)
