"""A training run in the background, with progress the app can poll.

The app cannot block a page while a model trains, and a worker thread must never touch Streamlit. So a
:class:`TrainingJob` owns a thread that waits for a training slot, then runs the training in a process of its own
(``trainproc.py``: its own GIL, so page runs in the server no longer slow it down; ``W2V_TRAIN_PROCESS=0`` trains in
the thread instead). The child loads the corpus, runs a :class:`~w2v_core.training.Trainer` and reports its
progress over a pipe; the job's thread copies each report into the job (behind a lock) and decides where the model
is saved (the disk quotas live in the server), and the child saves it there. A job given an already loaded corpus
or its own loader (tests) trains in the thread, as does any job when no process can be started. The page reads
:meth:`TrainingJob.state` (a copy of the job's :class:`JobState`) as often as it likes
(``@st.fragment(run_every=...)``). Stopping sets the trainer's stop event (in the child: a message); whatever was
learnt up to then is still saved ("keeps what was learnt"). A child that dies fails the job with one sentence, and
what it was writing is removed (``store.repair_models_dir``).

Each browser session keeps its own job objects, so two people training at once never see each other's losses.
A browser refresh starts a new session, though, so started jobs are also kept in a small process-wide registry
under a random, unguessable id (:data:`REGISTRY`, a :class:`JobRegistry`); the app puts that id in the tab's URL
and a refreshed tab finds its run again. There is deliberately no way to list the registry: only someone holding
the id (the tab that started the run) can reach a job. Finished jobs leave it after :data:`KEEP_FINISHED_S`.

A server trains at most :func:`max_concurrent_jobs` runs at once (``W2V_MAX_JOBS``, default ``min(2, cores)``): a
started job beyond that waits, status "pending", in a first-come-first-served queue (:data:`QUEUE`, a
:class:`JobQueue`), and its
:attr:`JobState.queue_position` (1 = next) says where it stands; stopping a waiting job takes it out of the queue.
After a run is saved, the disk quotas are enforced (``w2v_core.serve.quota``), never touching the new model.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from w2v_core.continuation import make_trainer
from w2v_core.errors import W2VError
from w2v_core.models import ModelConfig
from w2v_core.serve import quota  # noqa: F401 - also installs the corpus cache's quota (corpus_cache.set_reserve)
from w2v_core.serve import trainproc
from w2v_core.serve.relay import MAX_POINTS, ChildRelay, ProgressRecorder  # noqa: F401 - MAX_POINTS was here
from w2v_core.serve.slots import JobQueue, max_concurrent_jobs  # noqa: F401 - they were defined here: still found here
from w2v_core.snapshots import SnapshotRecorder
from w2v_core.training import TrainConfig, TrainResult

log = logging.getLogger(__name__)

STATUSES = ("pending", "loading", "running", "saving", "done", "stopped", "failed")
ACTIVE = ("pending", "loading", "running", "saving")
# "watch it learn": the top words' vectors at points of the run, saved beside the model (about 10 MB at dim 100)
SNAPSHOT_WORDS, SNAPSHOT_FRAMES, SNAPSHOT_BYTES = 1000, 24, 16 * 2**20
KEEP_FINISHED_S = 30 * 60  # a finished job stays reachable by its id this long (a refresh shows its result)
MAX_FINISHED = 32  # and at most this many finished jobs are kept at all (bounded memory on a busy server)


@dataclass
class JobState:
    """What the page shows; :meth:`TrainingJob.state` returns a copy, so reading it needs no lock."""

    status: str = "pending"
    message: str = ""  # what is happening now ("loading corpus ...", "epoch 2/5")
    error: str | None = None  # the W2VError message when status == "failed"
    error_kind: str | None = None  # its class name ("HubUnavailable": the app offers the bundled corpus instead)
    fraction: float = 0.0  # of the whole run, 0..1
    epoch: int = 0
    epochs: int = 0
    words_done: int = 0
    total_words: int = 0
    words_per_sec: float = 0.0
    eta: float | None = None  # seconds left
    elapsed: float = 0.0  # seconds since training (not loading) began
    lr: float = 0.0
    loss: float | None = None  # last reported loss
    smoothed_loss: float | None = None
    batch_losses: list[dict[str, float]] = field(default_factory=list)  # {x (epochs), loss, smoothed}
    epoch_losses: list[dict[str, float]] = field(default_factory=list)  # {epoch, loss}
    retries: list[str] = field(default_factory=list)  # what the trainer said when an epoch blew up and restarted
    info: dict[str, Any] = field(default_factory=dict)  # vocab size, tokens, device, ... (from the trainer)
    corpus: dict[str, Any] = field(default_factory=dict)  # tokens, documents, distinct words of the loaded corpus
    summary: dict[str, Any] = field(default_factory=dict)  # the trainer's summary once finished
    path: str | None = None  # the saved model folder
    queue_position: int | None = None  # while waiting for a training slot: 1 = next; None once it has one
    evicted: list[str] = field(default_factory=list)  # what the disk quotas removed after this run was saved
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


_UPLOAD_DIGEST = re.compile(r"-[0-9a-f]{16}$")  # what data.sources.save_upload appends to an upload's name


def default_name(corpus_source: str, mc: ModelConfig, epochs: int) -> str:
    """A readable model name that says how it was made, e.g. ``skipgram-sample-d100-w5-e5``."""
    src = Path(str(corpus_source)).stem if ("/" in str(corpus_source) or "\\" in str(corpus_source)) else corpus_source
    src = _UPLOAD_DIGEST.sub("", str(src)) or str(src)  # an upload is stored as name-<16 hex>: the name is enough
    loss = "" if mc.loss == "negative" else "-softmax"
    return f"{mc.arch}{loss}-{src}-d{mc.dim}-w{mc.window}-e{epochs}"


def train_in_process() -> bool:
    """Whether jobs train in a process of their own (the default) or in the server's thread (``W2V_TRAIN_PROCESS=0``)."""
    return os.environ.get("W2V_TRAIN_PROCESS", "1").strip() not in ("0", "false", "no", "off")


class TrainingJob:
    """One training run: corpus -> Trainer -> saved model folder, in a daemon thread (and a child process).

    ``corpus`` may be given already loaded (tests, or a page that has it cached); otherwise the run loads
    ``corpus_config`` itself, so tokenising a large corpus never blocks a page either. ``process``: train in a
    process of its own (None: :func:`train_in_process`, unless ``corpus`` or ``loader`` is given: those live in
    this process, so the run stays in the thread).
    """

    def __init__(self, corpus_config=None, model_config: ModelConfig = ModelConfig(),
                 train_config: TrainConfig = TrainConfig(), *, corpus=None, name: str | None = None,
                 root: str | Path | None = None, uploads: str | Path | None = None,
                 loader: Callable[[Any], Any] | None = None, parent: str | Path | None = None,
                 process: bool | None = None):
        if corpus is None and corpus_config is None:
            raise ValueError("give a corpus or a corpus_config")
        if process and (corpus is not None or loader is not None):
            raise ValueError("a loaded corpus or a loader cannot go to another process")
        self.process = (train_in_process() and corpus is None and loader is None) if process is None else process
        self._child: trainproc.Child | None = None  # the training process, while it runs
        self.corpus_config = corpus_config
        self.model_config = model_config
        self.train_config = train_config
        self.name = name
        self.parent = parent  # a model folder this run continues (continuation.py); None: random vectors
        self.root = root
        self.uploads = uploads  # the visitor's own uploads folder on a shared server (loader.check_source, quotas)
        self._corpus = corpus
        self._loader = loader
        self._lock = threading.Lock()
        self._state = JobState(epochs=train_config.epochs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.job_id: str | None = None  # set by JobRegistry.register()
        # the vectors of the top words while they learn: a page may read recorder.snapshots() during the run
        self.recorder = SnapshotRecorder(SNAPSHOT_WORDS, SNAPSHOT_FRAMES, max_bytes=SNAPSHOT_BYTES)
        self._pinned: str | None = None  # the corpus file pinned against the disk quotas while this job is active

    # ------------------------------------------------------------------ control
    def start(self) -> "TrainingJob":
        """Start the worker thread (once)."""
        if self._thread is not None:
            raise RuntimeError("a job starts only once")
        _check_visitor_share(self)
        self._thread = threading.Thread(target=self._run, name="w2v-training", daemon=True)
        self._pinned = self._corpus_file()
        if self._pinned is not None:  # no disk quota may remove the file this run will read, until it ends
            quota.pin(self._pinned)
        QUEUE.enqueue(self)  # the queue's order is the order of start() calls, not of the threads' first steps
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to stop soon; what was learnt so far is still saved. A job still queued leaves the queue."""
        self._stop.set()
        with self._lock:
            if self._state.active:
                self._state.message = "stopping ..."
            child = self._child
        if child is not None:
            child.send("stop")  # it stops at the next batch and reports what it kept
        QUEUE.wake()  # a queued job wakes up and leaves the queue

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def worker_pid(self) -> int | None:
        """The id of the process this run trains in, while it runs there; None otherwise."""
        with self._lock:
            return self._child.proc.pid if self._child is not None else None

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def state(self) -> JobState:
        """A consistent copy of the progress (safe to read while the thread runs)."""
        with self._lock:
            return copy.deepcopy(self._state)

    @property
    def status(self) -> str:
        with self._lock:
            return self._state.status

    @property
    def queue_position(self) -> int | None:
        """1 when this job is next to start, 2 after that, ...; None when it is not waiting for a slot."""
        with self._lock:
            return self._state.queue_position

    @property
    def path(self) -> str | None:
        with self._lock:
            return self._state.path

    @property
    def done(self) -> bool:
        return not self.state().active

    @property
    def finished_at(self) -> float | None:
        """When the run ended; None while it is still active (cheaper than :meth:`state`: no copy of the curves)."""
        with self._lock:
            st = self._state
            return None if st.active else (st.finished if st.finished is not None else time.time())

    def set_queue_position(self, position: int | None) -> None:
        """The queue says where this job waits (1 = next) or, with None, that it has left the queue."""
        with self._lock:
            if position is None:
                self._state.queue_position = None
            elif self._state.queue_position != position and not self._stop.is_set():
                self._state.queue_position = position
                ahead = "next in line" if position == 1 else f"{position - 1} runs ahead of this one"
                self._state.message = f"waiting for a free training slot ({ahead})"

    # ------------------------------------------------------------------ the thread
    def _set(self, **kw: Any) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self._state, k, v)

    def _corpus_file(self) -> str | None:
        """The local file (an upload, a corpus-folder file) this run will read, if it reads one."""
        src = getattr(self.corpus_config, "source", None) if self._corpus is None else None
        return str(src) if src and Path(str(src)).is_absolute() and Path(str(src)).is_file() else None

    def _run(self) -> None:
        try:
            self._run_queued()
        finally:
            if self._pinned is not None:
                quota.unpin(self._pinned)

    def _run_queued(self) -> None:
        from w2v_core import store

        try:
            store.check_writable_folder(self.root if self.root is not None else store.models_dir())
            got_slot = QUEUE.wait_for_slot(self)  # the folder is checked first: no waiting in line to learn it is useless
        except (W2VError, OSError) as e:
            QUEUE.leave(self)
            msg = str(e) if isinstance(e, W2VError) else f"The models folder cannot be used ({e}); check its place."
            self._set(status="failed", error=self._public(msg), message="failed", queue_position=None, finished=time.time())
            return
        if not got_slot:
            self._set(status="stopped", message="stopped while waiting for a training slot; nothing to save",
                      queue_position=None, finished=time.time())
            return
        try:
            self._run_in_slot()
        finally:
            QUEUE.release(self)

    def _run_in_slot(self) -> None:
        if self.process and self._run_in_child():
            return
        self.process = False  # no process could be started: this thread trains
        self._train_here()

    def _run_in_child(self) -> bool:
        """Train in a process of its own, relaying its reports into the job; False if it could not be started."""
        self._set(status="loading", message="starting the training process ...")
        try:
            child = trainproc.Child.start(trainproc.job_spec(self))
        except OSError as e:
            log.warning("no training process could be started (%s): training in the server's thread", e)
            return False
        with self._lock:
            self._child = child
        if self._stop.is_set():  # stopped before the child was there to be told
            child.send("stop")
        relay = ChildRelay(self, child)
        try:
            for head, payload in child.messages():
                relay.handle(head, payload)
        except Exception as e:  # noqa: BLE001 - a bug here: the run must still end, and say so
            log.exception("relaying the training process's reports failed")
            relay.fail(f"Training crashed unexpectedly: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._child = None
            code = child.close()
            relay.release()
        if not relay.ready:
            log.warning("the training process ended before it started (exit status %s): training in the server's "
                        "thread", code)
            return False
        if not relay.ended:
            relay.died(code)
        return True

    def _train_here(self) -> None:
        try:
            corpus = self._corpus
            if corpus is None:
                self._set(status="loading", message="loading and tokenizing the corpus ...")
                corpus = self._load(self.corpus_config)
                from w2v_core.serve.quota import mark_corpus_used

                mark_corpus_used(self.corpus_config, self.uploads)  # the cache entry and upload this run read go last
            self._set(fraction=0.0,  # the loading bar's; the run's own begins now
                      corpus={"name": getattr(corpus, "name", "corpus"), "tokens": int(corpus.n_tokens),
                              "documents": int(corpus.n_docs), "distinct_words": int(corpus.n_words)})
            if self._stop.is_set():
                self._set(status="stopped", message="stopped before training began; nothing to save",
                          finished=time.time())
                return
            self._set(status="running", message="building the vocabulary ...")
            trainer = make_trainer(self.parent, corpus, self.model_config, self.train_config,
                                   [ProgressRecorder(self._lock, self._state), self.recorder], self._stop)
            result = trainer.train()
            self._finish(result)
        except W2VError as e:
            log.info("training failed: %s", e)
            self._set(status="failed", error=self._public(str(e)), error_kind=type(e).__name__, message="failed",
                      finished=time.time())
        except MemoryError:
            self._set(status="failed", error=trainproc.OUT_OF_MEMORY, message="failed", finished=time.time())
        except Exception as e:  # a bug: still tell the user instead of spinning forever
            log.exception("training crashed")
            self._set(status="failed", error=self._public(f"Training crashed unexpectedly: {type(e).__name__}: {e}"),
                      message="failed", finished=time.time())

    def _public(self, message: str) -> str:
        """``message`` without the server's folders (a visitor's workspace, the models and data folders): only the
        file names stay."""
        from w2v_core.settings import get_settings, public_message

        try:
            s = get_settings()
            server = (s.data_dir, s.corpus_dir)
        except W2VError:  # a misconfigured server: the message says which setting
            server = (None, None)
        folders = {str(f) for f in (self.uploads, self.root, *server) if f is not None}
        for f in sorted(folders | {os.path.realpath(f) for f in folders}, key=len, reverse=True):
            message = re.sub(re.escape(f.rstrip("/")) + r"(/[^\s/]+)*", _last_part, message)
        return public_message(message)

    def _load(self, config):
        src = Path(str(config.source))
        if self._pinned is not None and not src.is_file():
            raise W2VError(f"The corpus file {src.name} is no longer on this server (it was removed meanwhile); "
                           "upload it again and start the run once more.")
        if self._loader is not None:
            return self._loader(config)
        from w2v_core.data.loader import load_corpus

        def progress(frac: float, msg: str) -> None:  # the Train page's bar shows it until training begins
            self._set(message=f"loading corpus: {msg}", fraction=min(max(frac, 0.0), 1.0))

        return load_corpus(config, progress, uploads=self.uploads)

    def _finish(self, result: TrainResult) -> None:
        from w2v_core import store

        summary = dict(result.summary)
        target = self._save_target(summary, bool(result.history.get("batch")), result.corpus_info.get("name", "corpus"),
                                   lambda: store.model_size_bound(result.vectors, result.tensors(), self.recorder.nbytes()))
        if target is None:
            return
        try:
            path = result.save(target.path, name=target.name)
            trainproc.save_replay(path, self.recorder)
        finally:
            target.release()
        self._saved(path, summary, target)

    def _save_target(self, summary: dict[str, Any], batches: bool, corpus_name: str,
                     size: Callable[[], int]) -> "_Target | None":
        """Where the finished run's model goes, with room made for its ``size()`` bytes under the models quota
        BEFORE it is written; None when nothing is to be saved (the job's state then says why)."""
        from w2v_core import store

        stopped = bool(summary.get("stopped"))
        with self._lock:
            learnt = self._state.words_done > 0 or batches
        if stopped and not learnt:
            self._set(status="stopped", summary=summary, message="stopped before the first batch; nothing to save",
                      finished=time.time())
            return None
        self._set(status="saving", message="saving the model ...", summary=summary)
        root = Path(self.root) if self.root is not None else store.models_dir()
        name = self.name or default_name(getattr(self.corpus_config, "source", None) or corpus_name,
                                         self.model_config, self.train_config.epochs)
        if stopped:
            name += "-stopped"
        keep = [k for k in (self.corpus_config and self.corpus_config.source, self.parent) if k]  # parent: ours
        try:  # QuotaFull: nothing is saved
            evicted = [str(p) for p in quota.reserve("models", root, size(), keep, what="The trained model")]
        except quota.QuotaFull as e:
            self._set(status="failed", error=str(e), message="failed", finished=time.time())
            return None
        _SAVING.acquire()  # until it is written, no other run may be given the same free folder
        try:
            path, name = store.new_model_slot(root, name)  # unique: a second run with the same settings is name-2
        except BaseException:
            _SAVING.release()
            raise
        return _Target(Path(path), name, root, keep, evicted)

    def _saved(self, path: Path, summary: dict[str, Any], target: "_Target") -> None:
        """The model is in its folder: enforce the disk quotas (never removing it) and say it is saved."""
        evicted = list(target.evicted)
        try:
            evicted += [str(p) for ps in quota.enforce(models_folder=target.root, uploads_folder=self.uploads,
                                                       keep=target.keep + [path]).values() for p in ps]
        except Exception:  # noqa: BLE001 - the model is saved; a quota problem must not turn that into a failure
            log.exception("enforcing the disk quotas failed")
        stopped = bool(summary.get("stopped"))
        with self._lock:
            st = self._state
            st.path = str(path)
            st.evicted = evicted
            st.summary = summary
            st.status = "stopped" if stopped else "done"
            st.fraction = st.fraction if stopped else 1.0
            st.eta = 0.0 if not stopped else None
            ep = summary.get("epochs")
            ep_txt = f"{ep:.1f}" if isinstance(ep, (int, float)) else str(ep)
            st.message = (f"stopped after {ep_txt} of {self.train_config.epochs} epochs; what was learnt is saved"
                          if stopped
                          else "finished and saved")
            st.finished = time.time()


_SAVING = threading.Lock()  # held from choosing a new model's folder until it is written


@dataclass
class _Target:
    """Where a finished run's model is being saved (``_SAVING`` is held until :meth:`release`)."""

    path: Path
    name: str
    root: Path
    keep: list
    evicted: list[str]
    held: bool = True

    def release(self) -> None:
        if self.held:
            self.held = False
            _SAVING.release()


MAX_ACTIVE_PER_WORKSPACE = 2  # shared mode: runs one visitor may have waiting or training at once


def _check_visitor_share(job: "TrainingJob") -> None:
    """Shared mode: refuse a visitor's run beyond MAX_ACTIVE_PER_WORKSPACE active ones (one tab cannot fill the line)."""
    from w2v_core.settings import get_settings

    try:
        shared = get_settings().shared
    except W2VError:  # a misconfigured server: the run itself fails saying which setting
        return
    if job.root is None or not shared:
        return
    if QUEUE.active_in(job.root) >= MAX_ACTIVE_PER_WORKSPACE:
        raise W2VError(f"You already have {MAX_ACTIVE_PER_WORKSPACE} training runs waiting or running (in this or "
                       "another tab): wait for one to finish, or stop one, before starting another.")


def _last_part(m: re.Match) -> str:
    """A server path in a message, as the name of its last part (a file's name)."""
    parts = [x for x in m.group(0).split("/") if x]
    return parts[-1] if parts else "the server's folder"


def run_to_end(corpus_config, model_config: ModelConfig, train_config: TrainConfig, name: str | None = None,
               root: str | Path | None = None, *, uploads: str | Path | None = None,
               progress: Callable[[JobState], None] | None = None) -> Path:
    """Start a TrainingJob (in the server's queue, within the disk quota) and wait for it in this thread; returns the
    saved model, W2VError if the run failed. ``progress(state)`` is called here a few times a second."""
    job = TrainingJob(corpus_config, model_config, train_config, name=name, root=root, uploads=uploads).start()
    while not job.join(0.25):
        if progress is not None:
            progress(job.state())
    s = job.state()
    if s.status != "done" or s.path is None:
        raise W2VError(s.error or f"The run did not finish ({s.message}).")
    return Path(s.path)


# ---------------------------------------------------------------------------------------------- registry


class JobRegistry:
    """Started jobs by a random id, so that a refreshed tab (a new session) finds its run again.

    There is deliberately no way to list it: only someone holding the id can reach a job. A running job is never
    dropped; finished ones go after :data:`KEEP_FINISHED_S`, and beyond the newest :data:`MAX_FINISHED`.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def register(self, job: TrainingJob) -> str:
        """Keep ``job`` reachable for a while under a new random id (returned, and set as ``job.job_id``).

        Why: a browser refresh loses the session that held the job; the id (kept in the tab's URL) finds it again.
        The id is 128 random bits, so nobody else's tab can guess it.
        """
        job_id = secrets.token_urlsafe(16)
        with self._lock:
            self._prune(time.time())
            self._jobs[job_id] = job
        job.job_id = job_id
        return job_id

    def find(self, job_id: str | None) -> TrainingJob | None:
        """The registered job with this id, or None (unknown, malformed or already dropped)."""
        if not job_id or not isinstance(job_id, str):
            return None
        with self._lock:
            self._prune(time.time())
            return self._jobs.get(job_id)

    def forget(self, job_id: str | None) -> None:
        """Drop a job from the registry (its thread, if still running, goes on)."""
        with self._lock:
            self._jobs.pop(job_id or "", None)

    def _prune(self, now: float) -> None:
        """Drop finished jobs older than KEEP_FINISHED_S, then the oldest finished beyond MAX_FINISHED (lock held)."""
        finished = []
        for job_id, job in list(self._jobs.items()):
            ended = job.finished_at
            if ended is None:
                continue  # a running job is never dropped: its tab must be able to come back to it
            if now - ended > KEEP_FINISHED_S:
                del self._jobs[job_id]
            else:
                finished.append((ended, job_id))
        for _, job_id in sorted(finished)[:max(0, len(finished) - MAX_FINISHED)]:
            del self._jobs[job_id]


QUEUE = JobQueue()  # the server's training slots: every session's jobs wait in this one line
REGISTRY = JobRegistry()  # the server's started jobs by id
