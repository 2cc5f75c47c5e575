"""How a training run's reports reach its job: the trainer's callbacks in the job's thread, or a training
process's messages (``trainproc.py``) relayed by the job's thread. Both end up in the same :class:`ProgressRecorder`,
so the page shows a run the same way wherever it trains."""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from w2v_core.progress import Callback, Progress
from w2v_core.serve import quota, trainproc

log = logging.getLogger(__name__)

MAX_POINTS = 4000  # loss reports kept for the chart (older ones thinned), so a long run stays cheap to draw


class ProgressRecorder(Callback):
    """Copies the trainer's progress into a job's state (called from the training thread, under the job's lock)."""

    def __init__(self, lock: threading.Lock, state):  # state: a jobs.JobState
        self._lock, self._state = lock, state

    def on_train_begin(self, info: dict[str, Any]) -> None:
        with self._lock:
            st = self._state
            st.info = {k: v for k, v in info.items() if k not in ("words", "copy_vectors")}  # figures only
            st.status = "running"
            st.epochs = int(info.get("epochs", st.epochs))
            st.message = f"training on {info.get('train_tokens', 0):,} tokens, {info.get('vocab_size', 0):,} words"

    def _update(self, p: Progress) -> None:
        st = self._state
        st.fraction = float(p.fraction)
        st.epoch, st.epochs = int(p.epoch), int(p.epochs)
        st.words_done, st.total_words = int(p.words_done), int(p.total_words)
        st.words_per_sec = float(p.words_per_sec)
        st.eta = float(p.eta) if math.isfinite(p.eta) else None
        st.elapsed = float(p.elapsed)
        st.lr = float(p.lr)

    def on_batch_end(self, p: Progress) -> None:
        with self._lock:
            self._update(p)
            st = self._state
            st.loss, st.smoothed_loss = float(p.loss), float(p.smoothed_loss)
            st.message = f"epoch {p.epoch}/{p.epochs}"
            st.batch_losses.append({"x": round(p.fraction * p.epochs, 5), "loss": float(p.loss),
                                    "smoothed": float(p.smoothed_loss)})
            if len(st.batch_losses) > MAX_POINTS:  # keep every other old point: the curve's shape survives
                half = len(st.batch_losses) // 2
                st.batch_losses = st.batch_losses[:half:2] + st.batch_losses[half:]

    def on_epoch_end(self, epoch: int, epoch_loss: float, p: Progress) -> None:
        with self._lock:
            self._update(p)
            self._state.epoch_losses.append({"epoch": int(epoch), "loss": float(epoch_loss)})

    def on_epoch_retry(self, epoch: int, message: str) -> None:
        """The epoch blew up and starts again: drop its points from the chart and say what happened."""
        with self._lock:
            st = self._state
            st.batch_losses = [b for b in st.batch_losses if b["x"] <= epoch - 1]
            st.epoch_losses = [e for e in st.epoch_losses if e["epoch"] < epoch]
            st.retries.append(message)
            st.message = message


class ChildRelay:
    """What a training process reports, copied into its job (in the job's thread), and the save handshake."""

    FIELDS = ("status", "message", "fraction")  # what a ``set`` message may change

    def __init__(self, job, child: trainproc.Child):
        self.job, self.child = job, child
        self.recorder = ProgressRecorder(job._lock, job._state)
        self.ready = self.ended = False
        self.target = None  # jobs._Target: where the model is being saved
        self.summary: dict[str, Any] = {}
        self._snap_begin: tuple[list[str], int] | None = None

    def handle(self, head: dict[str, Any], payload) -> None:
        kind, job = head.get("kind"), self.job
        if kind == "ready":
            self.ready = True
        elif kind == "set":
            job._set(**{k: v for k, v in head["fields"].items() if k in self.FIELDS})
        elif kind == "loaded":
            job._set(fraction=0.0, corpus=head["corpus"])  # the loading bar's; the run's own begins now
            quota.mark_corpus_used(job.corpus_config, job.uploads)  # the cache entry and upload it read go last
        elif kind == "begin":
            self.recorder.on_train_begin(head["info"])
        elif kind == "batch":
            self.recorder.on_batch_end(Progress(**head["progress"]))
        elif kind == "epoch":
            self.recorder.on_epoch_end(head["epoch"], head["loss"], Progress(**head["progress"]))
        elif kind == "retry":
            self.recorder.on_epoch_retry(head["epoch"], head["message"])
        elif kind == "snap_begin":
            self._snap_begin = (head["words"], head["epochs"])
        elif kind == "frame" and payload is not None:
            if self._snap_begin is not None:
                job.recorder.begin(*self._snap_begin, payload.nbytes)
                self._snap_begin = None
            job.recorder.add(payload, head["fraction"], head["epoch"], head["loss"], head["epoch_end"])
        elif kind == "trained":
            self._trained(head)
        elif kind == "saved" and self.target is not None:
            self.target.release()
            job._saved(Path(head["path"]), self.summary, self.target)
            self.ended = True
        elif kind == "end":
            job._set(status=head["status"], message=head["message"], finished=time.time())
            self.ended = True
        elif kind == "error":
            self.fail(head["message"], head.get("error_kind"))

    def _trained(self, head: dict[str, Any]) -> None:
        self.summary = dict(head["summary"])
        n = int(head["bytes"])
        self.target = self.job._save_target(self.summary, bool(head["learnt"]), head["corpus_name"], lambda: n)
        if self.target is None:  # nothing to save, or no room: the state says which
            self.child.send("discard")
            self.ended = True
        elif not self.child.send("save", path=str(self.target.path), name=self.target.name):
            self.target.release()  # it died meanwhile: died() says so

    def fail(self, message: str, kind: str | None = None) -> None:
        self.job._set(status="failed", error=self.job._public(message), error_kind=kind, message="failed",
                      finished=time.time())
        self.ended = True

    def release(self) -> None:
        if self.target is not None:
            self.target.release()

    def died(self, code: int | None) -> None:
        """The child ended without saying how: remove what it was writing; a model it had saved completely is kept."""
        from w2v_core import store

        root = Path(self.job.root) if self.job.root is not None else store.models_dir()
        store.repair_models_dir(root)
        t = self.target
        if t is not None and store.is_model_folder(t.path):  # killed after its model was in place
            self.job._saved(t.path, self.summary, t)
            return
        log.warning("the training process died (exit status %s)", code)
        self.fail(trainproc.describe_exit(code))
