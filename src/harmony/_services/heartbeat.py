"""Keeps the leases of jobs in hand alive while their handlers run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from harmony._events.base import EventLogger
from harmony._repositories.job_types import LeasedJob
from harmony._repositories.jobs import JobQueue

__all__ = ["Heartbeat"]

_log = logging.getLogger("harmony.worker")


#: A handler still running this long after it started gets its try recorded
#: (``JobQueue.mark_started``): one statement for a job that runs this long anyway, none
#: for the fast ones a worker runs in batches.
MARK_RUNNING_AFTER = 0.1


class Heartbeat:
    """A thread that extends every tracked lease by the job's own ``lease_seconds``,
    a third of the shortest tracked lease after the previous beat.

    It also records the tries of handlers that run longer than :data:`MARK_RUNNING_AFTER`
    seconds, so a worker killed while running one has charged that job, and only it.
    """

    def __init__(self, jobs: JobQueue, events: EventLogger, lease_seconds: float) -> None:
        self._jobs = jobs
        self._events = events
        self._lease_seconds = lease_seconds
        self.interval = max(0.05, lease_seconds / 3)
        self._tracked: dict[int, LeasedJob] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._users = 0
        #: Handlers running now whose try is not recorded yet: job id -> (job, started).
        self._running: dict[int, tuple[LeasedJob, float]] = {}

    def track(self, jobs: Iterable[LeasedJob]) -> None:
        """Start extending these jobs' leases."""
        with self._lock:
            for job in jobs:
                self._tracked[job.id] = job
        self._wake.set()

    def current(self, job: LeasedJob) -> LeasedJob:
        """``job`` with the newest lease expiry this heartbeat has seen for it."""
        with self._lock:
            tracked = self._tracked.get(job.id)
        return tracked if tracked is not None and tracked.token == job.token else job

    def moved(self, expiries: Mapping[int, datetime]) -> None:
        """Leases were extended elsewhere (to these expiries by job id): remember it."""
        with self._lock:
            for job_id, expires in expiries.items():
                current = self._tracked.get(job_id)
                if current is not None and expires > current.lease_expires_at:
                    self._tracked[job_id] = replace(current, lease_expires_at=expires)

    def running(self, job: LeasedJob) -> None:
        """``job``'s handler starts now: record its try if it is still running shortly."""
        # No wake-up: per job that would cost a thread switch; the thread looks every
        # MARK_RUNNING_AFTER seconds while jobs are in hand. No lock either: a dict item
        # set or pop is atomic, and this runs once per job.
        self._running[job.id] = (job, time.monotonic())

    def finished(self, job: LeasedJob) -> None:
        """``job``'s handler returned (its try is settled with the job)."""
        self._running.pop(job.id, None)

    def untrack(self, jobs: Iterable[LeasedJob]) -> None:
        """Stop extending these jobs' leases."""
        with self._lock:
            for job in jobs:
                current = self._tracked.get(job.id)
                if current is not None and current.token == job.token:
                    del self._tracked[job.id]

    def start(self) -> None:
        """Start the thread (reference-counted: nested start/stop pairs are fine)."""
        with self._lock:
            self._users += 1
            if self._thread is not None:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="harmony-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread once every user has stopped."""
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._thread is None:
                return
            thread, self._thread = self._thread, None
        self._stop.set()
        self._wake.set()
        thread.join()

    def beat(self) -> int:
        """Extend every tracked lease now; return how many were extended."""
        with self._lock:
            jobs = list(self._tracked.values())
        if not jobs:
            return 0
        extended = self._jobs.heartbeat_many(jobs)
        with self._lock:
            for job in extended:
                current = self._tracked.get(job.id)
                if current is not None and current.token == job.token:
                    self._tracked[job.id] = job
        return len(extended)

    def mark_running(self) -> int:
        """Record the tries of handlers running for :data:`MARK_RUNNING_AFTER` seconds or
        more; return how many were recorded."""
        cutoff = time.monotonic() - MARK_RUNNING_AFTER
        due = [job for job, started in list(self._running.values()) if started <= cutoff]
        for job in due:
            self._running.pop(job.id, None)
        if not due:
            return 0
        return len(self._jobs.mark_started(due))

    def _next_mark(self) -> float | None:
        first = min((started for _, started in list(self._running.values())), default=None)
        return None if first is None else first + MARK_RUNNING_AFTER

    def next_interval(self) -> float:
        """Seconds until the next beat: a third of the shortest lease in hand."""
        with self._lock:
            shortest = min((job.lease_seconds for job in self._tracked.values()), default=None)
        if shortest is None:
            return self.interval
        return max(0.05, min(self.interval, shortest / 3))

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            mark = self._next_mark()
            if mark is not None and mark <= time.monotonic():
                try:
                    self.mark_running()
                except Exception as exc:  # reported; a later crash then goes uncharged once
                    _log.warning(
                        "harmony could not record running jobs: %s: %s", type(exc).__name__, exc
                    )
                continue
            # Newly tracked jobs wake the thread: a short lease may bring the next beat in.
            now = time.monotonic()
            wait = last + self.next_interval() - now
            if mark is not None:
                wait = min(wait, mark - now)
            elif self._tracked:  # jobs in hand: look for long-running handlers now and then
                wait = min(wait, MARK_RUNNING_AFTER)
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            last = time.monotonic()
            try:
                self.beat()
            except Exception as exc:  # reported; the thread must outlive any one failure
                _log.warning("harmony heartbeat failed: %s: %s", type(exc).__name__, exc)
