"""A training run in a process of its own: the child's side, and the channel the server and the child talk over.

Why: a run trained in a thread of the Streamlit server shares that process's GIL with every page run. The trainer
gives the GIL up and takes it back around each of its many small steps, and every page computing a map meanwhile
made it wait: the app trained 2-3x slower than ``python -m w2v_core train`` (issue 24). In a process of its own, the
run has its own GIL and trains as the command line does (the same worker threads: ``training.default_threads``).

The server (``jobs.TrainingJob``) starts ``python -m w2v_core.serve.trainproc FD`` with :meth:`Child.start`, and keeps
everything it shares with other runs: the queue's slots, the disk quotas and pins, where a model is saved. The child
loads the corpus, trains, and saves the model into the folder the server names (``store.save_model``: written
aside, then renamed in, so a killed child leaves no half model folder; the server cleans up what it left).

Messages are JSON headers with an optional binary payload (a snapshot's vectors), length-prefixed, never pickled:

* server -> child (its stdin): ``run`` {spec}, then ``stop``, ``save`` {path, name} or ``discard``;
* child -> server (the pipe ``FD``): ``ready``, ``set`` {fields of the job's state}, ``loaded`` {corpus},
  ``begin`` {info}, ``batch`` / ``epoch`` / ``retry`` (the trainer's callbacks), ``snap_begin`` {words, epochs} and
  ``frame`` (a snapshot of the top words' vectors), ``trained`` {summary, learnt, bytes, corpus_name}, ``saved``
  {path}, and the last one: ``end`` {status, message} or ``error`` {message, kind}.

A child whose stdin closes (the server went away) stops at the next batch and saves nothing.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger(__name__)

_HEAD = struct.Struct("<II")  # header bytes, payload bytes
MAX_HEADER = 64 * 2**20  # a longer header means the stream is out of step (or not ours): give up on it
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding w2v_core, for the child's sys.path
OUT_OF_MEMORY = ("Out of memory: use a smaller corpus, a smaller dimension, a larger min count or negative sampling "
                 "instead of the full softmax.")


# ---------------------------------------------------------------------------------------------- the channel


def write_message(f: BinaryIO, header: dict[str, Any], payload: np.ndarray | None = None) -> None:
    """One message: ``header`` as JSON (NaN allowed), and an array as raw bytes (its dtype and shape in the header)."""
    data = b""
    if payload is not None:
        arr = np.ascontiguousarray(payload)
        header = {**header, "dtype": arr.dtype.str, "shape": list(arr.shape)}
        data = arr.tobytes()
    head = json.dumps(header, default=_plain).encode("utf-8")
    f.write(_HEAD.pack(len(head), len(data)) + head + data)
    f.flush()


def _plain(x: Any) -> Any:
    """A numpy number (or anything else JSON does not know) as a plain value."""
    return x.item() if hasattr(x, "item") else str(x)


def read_message(f: BinaryIO) -> tuple[dict[str, Any], np.ndarray | None] | None:
    """The next message, or None at the end of the stream (the other side closed it, or died)."""
    lengths = _read_exactly(f, _HEAD.size)
    if lengths is None:
        return None
    n_head, n_data = _HEAD.unpack(lengths)
    if n_head > MAX_HEADER:
        raise ValueError("a message header of %d bytes: the stream is out of step" % n_head)
    head = _read_exactly(f, n_head)
    data = _read_exactly(f, n_data) if n_data else b""
    if head is None or data is None:
        return None
    header = json.loads(head.decode("utf-8"))
    payload = None
    if "dtype" in header:
        payload = np.frombuffer(data, dtype=np.dtype(header["dtype"])).reshape(header["shape"]).copy()
    return header, payload


def _read_exactly(f: BinaryIO, n: int) -> bytes | None:
    parts, left = [], n
    while left > 0:
        chunk = f.read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


class Child:
    """The server's handle on one training process: send it commands, read what it reports, see how it ended."""

    def __init__(self, proc: subprocess.Popen, inbox: BinaryIO):
        self.proc = proc
        self._inbox = inbox  # what the child writes
        self._lock = threading.Lock()  # commands come from the job's thread and from Stop (a page's thread)

    @classmethod
    def start(cls, spec: dict[str, Any]) -> "Child":
        """Start ``python -m w2v_core.serve.trainproc`` with this Python and environment, and send it ``spec``.

        OSError when no process can be started (the job then trains in its own thread instead)."""
        r, w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "w2v_core.serve.trainproc", str(w)]
        try:
            # a process group of its own, in the server's session: a Ctrl-C meant for the server does not interrupt
            # it (it stops when the server has gone), and where the kernel shares the CPU between sessions (Linux's
            # autogroup) it shares the server's, inside which the server's lowered threads (page runs at nice 10,
            # warm-ups at 19: ui.shell, ui.map_view) give way to it. In a session of its own (before) it got one
            # session's share against the server's whole one, however low those threads were set: a UMAP warm-up at
            # nice 19 halved it (bench_app --part train: first app run 11.2 s against 6.8 s now, CLI 4.0-4.3 s)
            where = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
            proc = _LAUNCHER.run(lambda: subprocess.Popen(cmd, stdin=subprocess.PIPE, pass_fds=(w,), env=env,
                                                          cwd=str(PACKAGE_ROOT), **where))
        except BaseException:
            os.close(r)
            raise
        finally:
            os.close(w)
        child = cls(proc, os.fdopen(r, "rb"))
        child.send("run", spec=spec)
        return child

    def send(self, kind: str, **fields: Any) -> bool:
        """A command to the child; False when it can no longer be told anything (it has ended)."""
        with self._lock:
            try:
                write_message(self.proc.stdin, {"kind": kind, **fields})
                return True
            except (OSError, ValueError):  # a broken pipe, or stdin already closed
                return False

    def messages(self):
        """What the child reports, message by message, until it closes its end (it ended, or died)."""
        while True:
            try:
                msg = read_message(self._inbox)
            except (OSError, ValueError) as e:
                log.warning("the training process's messages could not be read (%s)", e)
                msg = None
            if msg is None:
                return
            yield msg

    def close(self, timeout: float = 30.0) -> int:
        """Close our ends and wait for the child to exit (killed after ``timeout``); returns its exit status."""
        with self._lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._inbox.close()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class _Launcher:
    """Starts the training processes, from one thread made when this module is first imported.

    Why: on Linux a new process starts with the nice value of the thread that starts it. A page run's thread is
    lowered while a run trains (``ui.shell.yield_to_training``), and a job's thread inherits the value of the page
    run that started it: a second run started then would train at the lowered priority for good. This module is
    first imported before any run trains, so this thread has the server's own priority.
    """

    def __init__(self) -> None:
        self._work: "queue.Queue[tuple[Any, dict, threading.Event]]" = queue.Queue()
        threading.Thread(target=self._serve, name="w2v-process-launcher", daemon=True).start()

    def _serve(self) -> None:
        while True:
            fn, box, done = self._work.get()
            try:
                box["value"] = fn()
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box["error"] = e
            done.set()

    def run(self, fn):
        """``fn()`` in the launcher's thread; its result, or its exception raised here."""
        box: dict[str, Any] = {}
        done = threading.Event()
        self._work.put((fn, box, done))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]


def describe_exit(code: int | None) -> str:
    """How a training process that died ended, in one sentence (the job's error)."""
    import signal

    how = f"ended unexpectedly (exit status {code})"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = ", often a sign that the server ran out of memory" if -code == signal.SIGKILL else ""
        how = f"was killed ({name}{why})"
    return (f"The training process {how} before it finished, so nothing was saved: start the run again, with a "
            "smaller corpus or dimension if it keeps happening.")


def save_replay(path: Path, recorder) -> None:
    """Save what a SnapshotRecorder kept into the model folder; a failure costs only the Map's replay, never the
    model."""
    from w2v_core.snapshots import save_snapshots

    try:
        snaps = recorder.snapshots()
        if snaps is not None and len(snaps) >= 2:
            save_snapshots(path, snaps)
    except Exception:  # noqa: BLE001 - the model is saved; its replay is a bonus
        log.exception("saving the training snapshots failed")


def job_spec(job) -> dict[str, Any]:
    """What a child needs to know to run ``job`` (a jobs.TrainingJob), as JSON."""
    rec = job.recorder
    return {"corpus": asdict(job.corpus_config), "model": asdict(job.model_config), "train": asdict(job.train_config),
            "parent": None if job.parent is None else str(job.parent),
            "uploads": None if job.uploads is None else str(job.uploads), "pinned": job._pinned,
            "snapshots": {"max_words": rec.max_words, "max_snapshots": rec.max_snapshots, "every": rec.first_every,
                          "max_bytes": rec.max_bytes}}


# ---------------------------------------------------------------------------------------------- the child


class _Out:
    """The child's end of the pipe: messages from any thread (the trainer's workers report), one at a time. Once the
    server cannot be told anything (it went away), the run stops and nothing more is sent."""

    def __init__(self, f: BinaryIO, stop: threading.Event):
        self._f, self._lock, self._stop = f, threading.Lock(), stop
        self.broken = False

    def __call__(self, kind: str, payload: np.ndarray | None = None, **fields: Any) -> None:
        with self._lock:
            if self.broken:
                return
            try:
                write_message(self._f, {"kind": kind, **fields}, payload)
            except OSError:
                self.broken = True
                self._stop.set()


def _commands(inp: BinaryIO, stop: threading.Event, saves: "queue.Queue[dict | None]") -> None:
    """The child's reader of the server's commands (a thread): stop, save/discard; a closed stdin stops the run."""
    while True:
        msg = read_message(inp)
        if msg is None:  # the server went away (or closed our stdin): stop, and save nothing
            stop.set()
            saves.put(None)
            return
        head = msg[0]
        if head["kind"] == "stop":
            stop.set()
        elif head["kind"] in ("save", "discard"):
            saves.put(head if head["kind"] == "save" else None)


def _relay(send):
    """The trainer's callbacks, sent to the server (which feeds them to the job's own recorder of progress)."""
    from w2v_core.progress import Callback

    class Relay(Callback):
        def on_train_begin(self, info: dict[str, Any]) -> None:
            send("begin", info={k: v for k, v in info.items() if k not in ("words", "copy_vectors")})

        def on_batch_end(self, p) -> None:
            send("batch", progress=asdict(p))

        def on_epoch_end(self, epoch: int, epoch_loss: float, p) -> None:
            send("epoch", epoch=int(epoch), loss=float(epoch_loss), progress=asdict(p))

        def on_epoch_retry(self, epoch: int, message: str) -> None:
            send("retry", epoch=int(epoch), message=str(message))

    return Relay()


def _recorder(send, spec: dict[str, Any]):
    """The child's SnapshotRecorder: every snapshot it keeps also goes to the server (``frame``)."""
    from w2v_core.progress import Callback
    from w2v_core.snapshots import SnapshotRecorder

    def frame(vectors, fraction, epoch, loss, epoch_end) -> None:
        send("frame", vectors, fraction=fraction, epoch=epoch, loss=loss, epoch_end=epoch_end)

    rec = SnapshotRecorder(**spec["snapshots"], on_frame=frame)

    class Begin(Callback):  # before the recorder's first frame: which words, how many epochs
        def on_train_begin(self, info: dict[str, Any]) -> None:
            send("snap_begin", words=list(info["words"])[: rec.max_words], epochs=int(info.get("epochs", 0)))

    return Begin(), rec


def _load(send, spec: dict[str, Any], corpus_config):
    from w2v_core.data.loader import load_corpus
    from w2v_core.errors import W2VError

    src = Path(str(corpus_config.source))
    if spec["pinned"] is not None and not src.is_file():
        raise W2VError(f"The corpus file {src.name} is no longer on this server (it was removed meanwhile); "
                       "upload it again and start the run once more.")

    def progress(frac: float, msg: str) -> None:
        send("set", fields={"message": f"loading corpus: {msg}", "fraction": min(max(float(frac), 0.0), 1.0)})

    return load_corpus(corpus_config, progress, uploads=spec["uploads"])


def _train(send, spec: dict[str, Any], stop: threading.Event, saves: "queue.Queue[dict | None]") -> None:
    """Load, train, and save where the server says: the child's whole run."""
    from w2v_core import store
    from w2v_core.continuation import make_trainer
    from w2v_core.data.corpus import CorpusConfig
    from w2v_core.models import ModelConfig
    from w2v_core.training import TrainConfig

    corpus_config = CorpusConfig(**spec["corpus"])
    mc, tc = ModelConfig(**spec["model"]), TrainConfig(**spec["train"])
    send("set", fields={"status": "loading", "message": "loading and tokenizing the corpus ..."})
    corpus = _load(send, spec, corpus_config)
    send("loaded", corpus={"name": getattr(corpus, "name", "corpus"), "tokens": int(corpus.n_tokens),
                           "documents": int(corpus.n_docs), "distinct_words": int(corpus.n_words)})
    if stop.is_set():
        send("end", status="stopped", message="stopped before training began; nothing to save")
        return
    send("set", fields={"status": "running", "message": "building the vocabulary ..."})
    begin, rec = _recorder(send, spec)
    result = make_trainer(spec["parent"], corpus, mc, tc, [_relay(send), begin, rec], stop).train()
    summary = dict(result.summary)
    send("trained", summary=summary, learnt=bool(result.history.get("batch")),
         bytes=int(store.model_size_bound(result.vectors, result.tensors(), rec.nbytes())),
         corpus_name=str(result.corpus_info.get("name", "corpus")))
    where = saves.get()
    if where is None:  # nothing to keep (stopped before the first batch), no room, or the server went away
        return
    path = result.save(Path(where["path"]), name=where["name"])
    save_replay(path, rec)
    send("saved", path=str(path))


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s training process: %(levelname)s %(name)s: "
                                                      "%(message)s")
    stop, saves = threading.Event(), queue.Queue()
    send = _Out(os.fdopen(int(argv[1]), "wb"), stop)
    # stdin unbuffered: a buffered reader's lock, held by the blocked reader thread, would stop the exit
    inp = open(0, "rb", buffering=0, closefd=False)
    first = read_message(inp)
    if first is None or first[0].get("kind") != "run":
        return 2
    from w2v_core.errors import W2VError
    from w2v_core.serve import quota  # noqa: F401 - the corpus cache asks the cache quota for room, as in the server

    threading.Thread(target=_commands, args=(inp, stop, saves), name="w2v-commands", daemon=True).start()
    try:
        send("ready")
        _train(send, first[0]["spec"], stop, saves)
    except W2VError as e:
        send("error", message=str(e), error_kind=type(e).__name__)
    except MemoryError:
        send("error", message=OUT_OF_MEMORY, error_kind=None)
    except Exception as e:  # noqa: BLE001 - a bug: the server shows one sentence, the log has the traceback
        log.exception("training crashed")
        send("error", message=f"Training crashed unexpectedly: {type(e).__name__}: {e}", error_kind=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
else:  # the server: see _Launcher
    _LAUNCHER = _Launcher()
