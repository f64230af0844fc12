"""The client's one background loop: every open lease's heartbeats and every allowance's renewals.

Each ``Tollgate`` client has one ``Background``: a single daemon thread (``tollgate-background``) runs the
jobs that leases and allowances add to it, one request at a time, each when it is due. The thread starts
when the first job is added, ends when the last one is gone, and ``close()`` (the client's) stops it. No
state is shared between clients and nothing is kept at module level.

A job is two callables: ``due_in()`` says how many seconds until it wants to run (0 or less: now; the loop
asks again after at most that long, so a job may answer a short poll interval and decide later), and
``run()`` does one round of its work and says whether to keep the job. ``wake()`` makes the loop ask
again at once (an allowance whose block ran low). ``remove(job)`` returns once the job is not running, so
its owner can send its last request (check-in, final report) knowing no other request of the job is in
flight; called from the job itself (an ``on_lost`` callback closing its lease) it does not wait.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

LOG = logging.getLogger("tollgate_sdk")
_IDLE_S = 1.0  # with every job waiting on something else (a wake), the loop still looks this often
THREAD_NAME = "tollgate-background"


@dataclass(eq=False)
class Job:
    """Work the loop does for one lease or allowance (identity is the job: two jobs never compare equal)."""

    name: str
    due_in: Callable[[], float | None]  # seconds until due; None: nothing to do until woken
    run: Callable[[], bool]  # one round; False: done, forget the job


class Background:
    """One scheduler thread for a client's leases and allowances. Thread-safe."""

    def __init__(self, name: str = THREAD_NAME) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._jobs: list[Job] = []
        self._running: Job | None = None
        self._woken = False
        self._generation = 0  # close() moves it on: a thread of an older generation stops
        self._thread: threading.Thread | None = None
        self._here = threading.local()  # ``inside`` is set on this client's loop threads

    # -- what leases and allowances call --------------------------------------------------------------------
    def add(self, job: Job) -> None:
        """Run ``job`` from now on (starting the thread if it is not running)."""
        with self._changed:
            self._jobs.append(job)
            self._woken = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, args=(self._generation,), name=self._name, daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def wake(self) -> None:
        """Ask every job when it is due again, now."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def remove(self, job: Job) -> None:
        """Forget ``job``; returns once it is not running (at once when called from the job itself)."""
        with self._changed:
            if job in self._jobs:
                self._jobs.remove(job)
            self._woken = True
            self._changed.notify_all()
            if getattr(self._here, "inside", False):  # from a job: its own round is the one running
                return
            while self._running is job:
                self._changed.wait()

    def close(self) -> None:
        """Stop the thread (after the round in flight, if any) and forget every job. Jobs added later start
        it again."""
        with self._changed:
            self._jobs.clear()
            self._generation += 1
            self._woken = True
            self._changed.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # -- what tests and programs may read --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    @property
    def jobs(self) -> int:
        with self._lock:
            return len(self._jobs)

    # -- the loop --------------------------------------------------------------------------------------------
    def _loop(self, generation: int) -> None:
        me = threading.current_thread()
        self._here.inside = True
        while True:
            with self._changed:
                if self._generation != generation or not self._jobs:
                    if self._thread is me:
                        self._thread = None
                    self._changed.notify_all()
                    return
                jobs = list(self._jobs)
                self._woken = False
            waits = [(self._due_in(job), job) for job in jobs]  # outside the lock: jobs take their own locks
            due = [job for wait, job in waits if wait is not None and wait <= 0]
            if not due:
                pending = [wait for wait, _ in waits if wait is not None]
                with self._changed:
                    if not self._woken and self._generation == generation:
                        self._changed.wait(min(pending) if pending else _IDLE_S)
                continue
            for job in due:
                with self._changed:
                    if self._generation != generation:
                        break
                    if job not in self._jobs:  # removed meanwhile: its owner is closing it
                        continue
                    self._running = job
                keep = self._run(job)
                with self._changed:
                    self._running = None
                    if not keep and job in self._jobs:
                        self._jobs.remove(job)
                    self._changed.notify_all()

    @staticmethod
    def _due_in(job: Job) -> float | None:
        try:
            return job.due_in()
        except Exception:  # a bug in one job must not stop the others
            LOG.exception("tollgate background job %s: due_in failed", job.name)
            return None

    @staticmethod
    def _run(job: Job) -> bool:
        try:
            return job.run()
        except Exception:  # a bug in one job must not stop the others: the job is dropped
            LOG.exception("tollgate background job %s failed", job.name)
            return False
