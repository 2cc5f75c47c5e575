"""The server's training slots: every session's jobs wait in one first-come-first-served line (``jobs.QUEUE``).

A server trains at most :func:`max_concurrent_jobs` runs at once (``W2V_MAX_JOBS``); a started job beyond that
waits, and its queue position says where it stands. (Moved out of ``jobs.py``, which re-exports it.)
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

TrainingJob = Any  # a jobs.TrainingJob (not imported: jobs imports this module)


def max_concurrent_jobs() -> int:
    """Training runs allowed at once on this server (``W2V_MAX_JOBS``; read on every check, so it can change)."""
    from w2v_core.settings import get_settings

    return get_settings().max_jobs


class JobQueue:
    """Training slots shared by every session's jobs, handed out first come, first served.

    A job's thread waits on the condition until it is at the head of the queue and a slot is free (or it is
    stopped); finishing a job or stopping a waiting one wakes the others. ``limit`` is read on every check.
    """

    def __init__(self, limit: Callable[[], int] = max_concurrent_jobs):
        self._limit = limit
        self._slots = threading.Condition()
        self._waiting: list[TrainingJob] = []  # first come, first served
        self._running: set[TrainingJob] = set()

    def running(self) -> int:
        """How many runs hold a slot now (loading, training or saving)."""
        with self._slots:
            return len(self._running)

    def queued(self) -> int:
        """How many runs are waiting for a slot."""
        with self._slots:
            return len(self._waiting)

    def active_in(self, root: str | Path) -> int:
        """How many runs saving into the models folder ``root`` are waiting or hold a slot."""
        real = os.path.realpath(root)
        with self._slots:
            return sum(1 for j in [*self._waiting, *self._running]
                       if j.root is not None and os.path.realpath(j.root) == real)

    def enqueue(self, job: TrainingJob) -> None:
        """Put ``job`` at the back of the line (its thread then calls :meth:`wait_for_slot`)."""
        with self._slots:
            self._waiting.append(job)
            self._show_positions()

    def wait_for_slot(self, job: TrainingJob) -> bool:
        """Block until ``job`` (enqueued) may run (True) or was stopped while waiting (False)."""
        with self._slots:
            try:
                while not job.stop_requested:
                    if self._waiting[0] is job and len(self._running) < self._limit():
                        self._running.add(job)
                        return True
                    # the timeout also notices a raised W2V_MAX_JOBS (positions change only in enqueue and leave)
                    self._slots.wait(timeout=1.0)
                return False
            finally:
                self.leave(job)

    def leave(self, job: TrainingJob) -> None:
        """Take ``job`` out of the line (if it is in it) and tell the others where they now stand."""
        with self._slots:
            if job in self._waiting:
                self._waiting.remove(job)
            job.set_queue_position(None)
            self._show_positions()
            self._slots.notify_all()

    def release(self, job: TrainingJob) -> None:
        """``job`` has finished: its slot goes to the next in line."""
        with self._slots:
            self._running.discard(job)
            self._slots.notify_all()

    def wake(self) -> None:
        """Wake the waiting threads (a job was stopped: if it was waiting, it leaves the line)."""
        with self._slots:
            self._slots.notify_all()

    def _show_positions(self) -> None:
        """Tell every waiting job where it stands (called with the condition held)."""
        for i, job in enumerate(self._waiting, 1):
            job.set_queue_position(i)
