"""Keeps the leases of jobs in hand alive while their handlers run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from harmony.events.base import EventLogger
from harmony.repositories.job_types import LeasedJob
from harmony.repositories.jobs import JobQueue

__all__ = ["Heartbeat"]

_log = logging.getLogger("harmony.worker")


class Heartbeat:
    """A thread that extends every tracked lease by the job's own ``lease_seconds``,
    a third of the shortest tracked lease after the previous beat."""

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

    def track(self, jobs: Iterable[LeasedJob]) -> None:
        """Start extending these jobs' leases."""
        with self._lock:
            for job in jobs:
                self._tracked[job.id] = job
        self._wake.set()

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
            # Newly tracked jobs wake the thread: a short lease may bring the next beat in.
            wait = last + self.next_interval() - time.monotonic()
            if wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
                continue
            last = time.monotonic()
            try:
                self.beat()
            except Exception as exc:  # reported; the thread must outlive any one failure
                _log.warning("harmony heartbeat failed: %s: %s", type(exc).__name__, exc)
