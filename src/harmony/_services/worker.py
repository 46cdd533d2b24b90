"""The worker: runs handlers for leased jobs, in batches, with heartbeats and retries."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._events.guard import SafeEventLogger
from harmony._repositories.job_types import LeasedJob
from harmony._repositories.jobs import JobQueue
from harmony._repositories.queue_store import (
    FAILED,
    LOST,
    PENDING,
    Batch,
    Lane,
    QueueStore,
)
from harmony._services.handlers import Handler, JobContext, LegacyHandler, Registration
from harmony._services.heartbeat import Heartbeat
from harmony._services.retry import RetryPolicy
from harmony._services.scheduler import LeaseScheduler
from harmony._timing import elapsed_ms
from harmony._validation import describe_error
from harmony.errors import HarmonyError, InvalidInputError, LeaseLost, RetryLater

__all__ = ["Handler", "JobContext", "Worker", "WorkerContext", "WorkerReport"]

_log = logging.getLogger("harmony.worker")
_LEASE_FAILURES_BEFORE_RAISING = 5
_H = TypeVar("_H", bound=Callable[..., Any])


class WorkerContext(Protocol):
    """What a worker needs from a :class:`~harmony.HarmonyContext`."""

    db: Database
    jobs: JobQueue
    scheduler: LeaseScheduler
    clock: Clock

    @property
    def events(self) -> EventLogger:
        """Where the worker's events go."""
        ...


@dataclass(slots=True)
class WorkerReport:
    """What a worker did: tries by outcome; after :meth:`Worker.run_until_idle` also how
    many jobs of its types wait for a retry (``waiting_retry``: failed before, pending)."""

    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    lost: int = 0
    released: int = 0
    waiting_retry: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def processed(self) -> int:
        """Tries that ran to an outcome."""
        return self.completed + self.retried + self.dead_lettered + self.lost

    def add(self, outcome: str, n: int = 1) -> None:
        """Count ``n`` tries with ``outcome`` (thread-safe)."""
        with self.lock:
            setattr(self, outcome, getattr(self, outcome) + n)


class Worker:
    """Runs handlers for leased jobs.

    ::

        worker = Worker(ctx, concurrency=4)

        @worker.handler("playlist.sync", retry=RetryPolicy(max_attempts=3))
        def sync(job: JobContext):
            ...                      # writes through ``job.session`` commit with the completion

        worker.run_until_idle()      # scripts, notebooks, tests
        worker.start(); ...; worker.stop()   # a background thread; or ``await worker.run_async()``

    Each of the ``concurrency`` threads leases up to ``batch_size`` jobs at a time and runs
    them one after another. A handler that touches its session runs in a transaction of its
    own (a savepoint when the batch's connection has one open) in which its job is also
    completed, so the handler's writes and the completion commit together or not at all;
    a handler calling ``session.commit()`` is refused (a failed try). Completions of
    handlers that wrote nothing are batched into one statement. Commits happen at the end
    of a batch or every ``commit_interval`` seconds, whichever is first. Leases of jobs in
    hand are extended by a heartbeat thread. Failures are retried per the type's
    :class:`RetryPolicy` and dead-lettered (status ``failed`` with a ``stop_reason``) when
    it gives up. The storage side (connections, savepoints, settlement) is the queue
    store's (:class:`~harmony._repositories.queue_store.QueueStore`); the worker decides.

    By default a worker leases only the types it has handlers for; with
    ``lease_any_type=True`` it leases every type and dead-letters jobs it has no handler
    for.
    """

    def __init__(
        self,
        ctx: WorkerContext,
        handlers: Mapping[str, Handler | LegacyHandler] | None = None,
        *,
        concurrency: int = 1,
        batch_size: int = 50,
        retry: RetryPolicy | None = None,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        lease_any_type: bool = False,
        commit_interval: float = 0.5,
    ) -> None:
        if concurrency < 1 or batch_size < 1:
            raise InvalidInputError("concurrency and batch_size must be >= 1")
        self._store = QueueStore(ctx.db, ctx.jobs)
        self._store.check_pool(concurrency)
        self._jobs = ctx.jobs
        self._scheduler = ctx.scheduler
        # A context's events are guarded already; a bare WorkerContext's get a guard here.
        self._events: EventLogger = (
            ctx.events if isinstance(ctx.events, SafeEventLogger) else SafeEventLogger(ctx.events)
        )
        self._clock = ctx.clock
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.default_retry = retry or RetryPolicy()
        self.lease_seconds = lease_seconds or ctx.scheduler.visibility_timeout
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_any_type = lease_any_type
        self.commit_interval = commit_interval
        self.report = WorkerReport()
        self._handlers: dict[str, Registration] = {}
        #: Handlers registered on the context (``@ctx.jobs.handler``): run too, unless
        #: this worker has its own handler for the type.
        self._shared: Mapping[str, Registration] = ctx.jobs.handlers or {}
        self._emit_dispatch = self._emit_completed = True
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by wake() and stop(): ends an idle wait early
        self._threads: list[threading.Thread] = []
        self._heartbeat = Heartbeat(self._jobs, self._events, self.lease_seconds)
        # Closing the context stops a started worker (instead of letting it poll a closed
        # database, warning every time).
        self._store.on_close(self._signal_stop)
        for job_type, fn in (handlers or {}).items():
            self.register(job_type, fn)

    def __repr__(self) -> str:
        return (
            f"Worker(id={self.worker_id!r}, types={self.types!r}, concurrency={self.concurrency})"
        )

    # -- registration ----------------------------------------------------------------------

    def register(
        self, job_type: str, fn: Handler | LegacyHandler, *, retry: RetryPolicy | None = None
    ) -> Handler | LegacyHandler:
        """Run ``fn(job_context)`` for jobs of ``job_type``, retried per ``retry``.

        ``fn`` takes one :class:`~harmony.JobContext`; the ``(job, session)`` form still
        works for one release and warns (``DeprecationWarning``) once, here.
        """
        registration = Registration.of(job_type, fn, retry)
        self._handlers[job_type] = Registration(fn, retry or self.default_retry, registration.call)
        return fn

    def handler(self, job_type: str, *, retry: RetryPolicy | None = None) -> Callable[[_H], _H]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: _H) -> _H:
            self.register(job_type, fn, retry=retry)
            return fn

        return decorate

    @property
    def types(self) -> list[str] | None:
        """Job types this worker leases (``None``: any): its own handlers' and the
        context's (``@ctx.jobs.handler``)."""
        return None if self.lease_any_type else sorted(set(self._handlers) | set(self._shared))

    def _registration(self, job_type: str) -> Registration | None:
        own = self._handlers.get(job_type)
        if own is not None:
            return own
        return self._shared.get(job_type)

    # -- running ---------------------------------------------------------------------------

    def run_until_idle(self, *, max_batches: int | None = None) -> WorkerReport:
        """Work until no job is ready, then return what was done (jobs scheduled for later
        are left for a later call). The report counts this call's tries only, and how
        many jobs wait for a retry at the end."""
        self._stop.clear()
        self.report = WorkerReport()
        self._run_threads(until_idle=True, max_batches=max_batches)
        self.report.waiting_retry = self._jobs.waiting_retry(self.types)
        return self.report

    def run(self) -> None:
        """Work until :meth:`stop` is called (from another thread or a signal handler)."""
        self._stop.clear()
        self._run_forever()

    def _run_forever(self) -> None:
        # No clearing of the stop flag here: a stop() that comes before this thread starts
        # must still stop it.
        self._run_threads(until_idle=False, max_batches=None)

    def start(self) -> Worker:
        """Run in a background thread; returns at once."""
        self._store.check_open()  # in the caller's thread: a background thread would hide it
        thread = threading.Thread(
            target=self._run_forever, name=f"harmony-worker-{self.worker_id}", daemon=True
        )
        self._stop.clear()
        self._threads = [thread]
        thread.start()
        return self

    def wake(self) -> None:
        """Poll for jobs now instead of finishing the idle back-off.

        Rarely needed: a running worker (``start()``, ``run()``, ``run_async()``) is woken
        by every enqueue of a type it handles, in any process (PostgreSQL ``NOTIFY`` sent
        at commit; SQLite: a ``PRAGMA data_version`` check every
        ``sqlite_watch_interval`` seconds). Polling with back-off stays as the fallback.
        """
        self._wake.set()

    def _on_jobs_signal(self, job_type: str | None) -> None:
        # Runs in the database watcher's thread: keep it short, never raise. ``None``: a
        # job of some type may be ready (the store checked what it could).
        if job_type is None or self.lease_any_type or job_type in (self.types or ()):
            self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: lease nothing new, finish the job in hand, release the rest.

        Closing the context (``ctx.close()``) stops a started worker the same way, without
        waiting for it."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def stop_on_signals(self, *signals: int) -> None:
        """Stop gracefully on ``signals`` (default SIGTERM and SIGINT); call from the main thread.

        For standalone worker processes: a service manager's SIGTERM then releases the
        unstarted jobs instead of leaving them leased until their visibility timeout.
        """
        for signum in signals or (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: self._signal_stop())

    def _signal_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run_async(self) -> None:
        """Run in a thread from asyncio; cancelling the task stops the worker gracefully."""
        loop = asyncio.get_running_loop()
        self._stop.clear()
        future = loop.run_in_executor(None, self._run_forever)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            self._stop.set()
            self._wake.set()
            await future
            raise

    def _run_threads(self, *, until_idle: bool, max_batches: int | None) -> None:
        if not self.types and not self.lease_any_type:
            raise InvalidInputError(
                "the worker has no handlers; register one with worker.handler(type) or "
                "@ctx.jobs.handler(type)"
            )
        self._store.check_open()
        # A long-running worker is woken by enqueues anywhere; run_until_idle() is not.
        unsubscribe = None if until_idle else self._store.watch_jobs(self._on_jobs_signal)
        self._heartbeat.start()
        try:
            if self.concurrency == 1:
                self._loop(until_idle, max_batches)
                return
            errors: list[BaseException] = []

            def loop() -> None:
                try:
                    self._loop(until_idle, max_batches)
                except BaseException as exc:  # re-raised in the caller's thread below
                    errors.append(exc)
                    self._stop.set()
                    self._wake.set()

            threads = [
                threading.Thread(target=loop, name=f"harmony-worker-{i}")
                for i in range(self.concurrency)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
        finally:
            self._heartbeat.stop()
            if unsubscribe is not None:
                unsubscribe()

    def _loop(self, until_idle: bool, max_batches: int | None) -> None:
        with self._store.lane() as lane:
            try:
                self._poll(lane, until_idle, max_batches)
            finally:
                try:
                    lane.settle_deferred()
                except Exception as exc:  # reported; those jobs run again after their leases
                    lane.discard()
                    self._settled(lane, exc)
                else:
                    self._settled(lane)

    def _settled(self, lane: Lane, exc: Exception | None = None) -> None:
        """Report what the lane settled for earlier batches (and what it could not)."""
        completed = 0
        for job, started, lost in lane.take_settled():
            if lost:
                self._commit_event(job, "lost", started, error="lease lost before completion")
            elif self._emit_completed:
                self._commit_event(job, "completed", started)
            else:
                completed += 1
        if completed:
            self.report.add("completed", completed)
        unsettled = lane.take_unsettled()
        if unsettled:
            self._batch_lost(
                [job for job, _ in unsettled], exc or RuntimeError("settlement failed")
            )

    def _poll(self, lane: Lane, until_idle: bool, max_batches: int | None) -> None:
        backoff = self._scheduler.backoff()
        batches = 0
        failures = 0
        while not self._stop.is_set():
            if max_batches is not None and batches >= max_batches:
                return
            try:
                jobs = self._scheduler.lease_ready_jobs(
                    self.types,
                    limit=self.batch_size,
                    lease_seconds=self.lease_seconds,
                    worker_id=self.worker_id,
                    source=lane,
                )
                failures = 0
                self._settled(lane)
            except HarmonyError as exc:
                self._settled(lane, exc)
                if self._store.closed:
                    # Closed under a running worker: close() stops it, and waiting will not
                    # open it again. run_until_idle() did not finish its work: it says so.
                    lane.discard()
                    if until_idle and not self._stop.is_set():
                        raise
                    return
                # A failed lease is not "idle": back off and try again; a script waiting in
                # run_until_idle() gets the error once it keeps failing.
                lane.discard()
                failures += 1
                _log.warning("harmony worker %s could not lease: %s", self.worker_id, exc)
                if until_idle and failures >= _LEASE_FAILURES_BEFORE_RAISING:
                    raise
                self._stop.wait(backoff.next(False))
                continue
            if jobs:
                batches += 1
                try:
                    self._process(jobs, lane)
                except Exception as exc:  # reported; the worker keeps going
                    # The batch's connection failed (e.g. the server restarted), or a
                    # collaborator (event logger, wait strategy) raised: what the batch had
                    # not committed rolled back with the handlers' writes, and those jobs
                    # run again when their leases expire.
                    lane.discard()
                    self._batch_lost(jobs, exc)
            elif until_idle:
                return
            if self._wake.wait(backoff.next(bool(jobs))):
                # wake() (or stop()): poll now, as if work had just been found.
                self._wake.clear()
                backoff.next(True)

    def _batch_lost(self, jobs: Sequence[LeasedJob], exc: Exception) -> None:
        error = describe_error(exc, 500)
        _log.warning(
            "harmony worker %s lost a batch of %d jobs: %s", self.worker_id, len(jobs), error
        )
        try:
            self._events.emit(
                "worker.batch_lost",
                status="lost",
                count=len(jobs),
                error=error,
                worker_id=self.worker_id,
                meta={"job_ids": [job.id for job in jobs]},
            )
        except Exception as emit_error:  # the event logger itself may be what failed
            _log.warning("harmony worker %s could not report it: %s", self.worker_id, emit_error)

    # -- one batch -------------------------------------------------------------------------

    def _process(self, jobs: Sequence[LeasedJob], lane: Lane) -> None:
        # Asked once per batch: per-job events nobody receives are not built at all.
        self._emit_dispatch = self._events.wants("orchestrator.dispatch", "dispatched")
        self._emit_completed = self._events.wants("orchestrator.commit", "completed")
        self._heartbeat.track(jobs)
        window_started = batch_started = time.perf_counter()
        try:
            with lane.batch(self._heartbeat.moved) as batch:
                for index, job in enumerate(jobs):
                    if batch.has_writes:
                        # fail() or a dead letter wrote: commit it now, or its locks (on
                        # SQLite the database write lock) are held while the next handler runs.
                        self._settle(batch)
                    if self._stop.is_set():
                        self._release(jobs[index:])
                        break
                    self._run_one(batch, lane, job, batch_started)
                    if (
                        batch.pending
                        and time.perf_counter() - window_started >= self.commit_interval
                    ):
                        self._settle(batch)
                        window_started = time.perf_counter()
                # The last completions go with the next lease unless the worker stops.
                self._settle(batch, defer=not self._stop.is_set())
        finally:
            self._heartbeat.untrack(jobs)

    def _settle(self, batch: Batch, *, defer: bool = False) -> None:
        completed = 0
        for job, started, lost in batch.settle(defer=defer):
            if lost:
                self._commit_event(job, "lost", started, error="lease lost before completion")
            elif self._emit_completed:
                self._commit_event(job, "completed", started)
            else:
                completed += 1  # counted below in one go: most jobs of a batch end here
        if completed:
            self.report.add("completed", completed)

    def _run_one(self, batch: Batch, lane: Lane, job: LeasedJob, batch_started: float) -> None:
        registration = self._registration(job.type)
        # Within a third of its lease from the lease call, a job cannot have lost two
        # thirds of it: only later batch-mates need the check (and its clock read).
        late = time.perf_counter() - batch_started > job.lease_seconds / 3
        if late and not self._still_leased(job):
            # Its lease ran out while earlier jobs of the batch ran (e.g. heartbeats could
            # not get through): another worker may already have it. Not started, not charged.
            self._release([job])
            return
        if self._emit_dispatch:
            self._events.emit(
                "orchestrator.dispatch",
                entity_id=job.id,
                job_type=job.type,
                status="dispatched",
                attempts=job.attempts,
                worker_id=self.worker_id,
            )
        started = time.perf_counter()
        if registration is None:
            self._dead(
                batch,
                job,
                started,
                f"no handler registered for job type {job.type!r}",
                None,
                ran=False,
            )
            return
        retry = registration.retry or self.default_retry
        if job.attempts > retry.max_attempts:
            reason = (
                f"exceeded {retry.max_attempts} attempts "
                "(earlier tries lost their lease, e.g. the worker crashed)"
            )
            self._dead(batch, job, started, reason, None, ran=False)
            return
        # A recovered job's last worker died without settling it, maybe inside this very
        # handler: charge the try before starting it, so a job that kills its worker again
        # is counted (and dead-lettered in the end) while its batch-mates are not.
        if job.recovered and not lane.mark_started([job]):
            self._commit_event(job, "lost", started, error="lease lost before the job started")
            return
        handler, heartbeat = registration.call, self._heartbeat

        def call(session: Session) -> Any:
            heartbeat.running(job)
            try:
                return handler(JobContext(job, session, job.attempts, self.worker_id, self._jobs))
            finally:
                heartbeat.finished(job)

        ran = batch.run(job, call, started)
        status = ran.status
        if status is PENDING:
            return
        if status is FAILED and ran.error is not None:
            self._failed(batch, job, retry, ran.error, started)
        elif status is LOST:
            self._commit_event(job, "lost", started, error="lease lost before completion")
        else:
            self._commit_event(job, "completed", started)

    def _failed(
        self, batch: Batch, job: LeasedJob, policy: RetryPolicy, exc: BaseException, started: float
    ) -> None:
        error = describe_error(exc, 500)
        if isinstance(exc, RetryLater):
            # The handler asked for a later run (e.g. a provider's long Retry-After): not a
            # failed try, so it does not count toward the policy's attempts.
            try:
                batch.fail(job, exc, retry_in=exc.retry_in, count_attempt=False)
            except LeaseLost:
                self._commit_event(job, "lost", started, error=error)
                return
            self._commit_event(job, "retry", started, retry_in=exc.retry_in, error=error)
            return
        if policy.retries(job.attempts, exc):
            delay = policy.delay(job.attempts)
            try:
                batch.fail(job, exc, retry_in=delay)
            except LeaseLost:
                self._commit_event(job, "lost", started, error=error)
                return
            self._commit_event(job, "retry", started, retry_in=delay, error=error)
            return
        reason = (
            f"gave up after {job.attempts} attempts"
            if job.attempts >= policy.max_attempts
            else f"{type(exc).__name__} is not retried"
        )
        self._dead(batch, job, started, reason, exc)

    def _dead(
        self,
        batch: Batch,
        job: LeasedJob,
        started: float,
        reason: str,
        exc: BaseException | None,
        *,
        ran: bool = True,
    ) -> None:
        error = describe_error(exc if exc is not None else reason, 500)
        try:
            batch.fail(job, exc or reason, stop_reason=reason, started=ran)
        except LeaseLost:
            self._commit_event(job, "lost", started, error=error)
            return
        self._commit_event(job, "failed", started, error=error)
        self._events.emit(
            "orchestrator.dlq",
            entity_id=job.id,
            job_type=job.type,
            status="failed",
            attempts=job.attempts,
            stop_reason=reason,
            error=error[:500],
        )

    def _still_leased(self, job: LeasedJob) -> bool:
        """Whether ``job``'s lease (as last extended) has a third of its length left: a live
        heartbeat keeps two thirds, so less means it could not extend it."""
        expires = self._heartbeat.current(job).lease_expires_at
        left = (expires - self._clock.now()).total_seconds()
        return left > job.lease_seconds / 3

    def _release(self, jobs: Sequence[LeasedJob]) -> None:
        released = self._store.release(jobs)
        if released:
            self.report.add("released", released)

    def _commit_event(
        self,
        job: LeasedJob,
        status: str,
        started: float,
        *,
        retry_in: float | None = None,
        error: str | None = None,
    ) -> None:
        self.report.add(_OUTCOMES[status])
        if status == "completed" and not self._emit_completed:
            return
        self._events.emit(
            "orchestrator.commit",
            entity_id=job.id,
            job_type=job.type,
            status=status,
            attempts=job.attempts,
            duration_ms=elapsed_ms(started),
            retry_in=retry_in,
            error=None if error is None else error[:500],
        )


_OUTCOMES = {
    "completed": "completed",
    "retry": "retried",
    "failed": "dead_lettered",
    "lost": "lost",
}
