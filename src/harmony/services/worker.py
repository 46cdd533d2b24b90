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
from typing import Any, Protocol

from sqlalchemy import Connection, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from harmony.clock import Clock
from harmony.db.engine import Database, sqlite_write_lock_held
from harmony.errors import HarmonyError, InvalidInputError, LeaseLost, RetryLater
from harmony.events.base import EventLogger
from harmony.events.guard import SafeEventLogger
from harmony.repositories.job_types import LeasedJob
from harmony.repositories.jobs import JobQueue
from harmony.services.handlers import Handler, Registration
from harmony.services.heartbeat import Heartbeat
from harmony.services.retry import RetryPolicy
from harmony.services.scheduler import LeaseScheduler
from harmony.validation import describe_error

__all__ = ["Handler", "Worker", "WorkerContext", "WorkerReport"]

_log = logging.getLogger("harmony.worker")
_LEASE_FAILURES_BEFORE_RAISING = 5
#: A handler transaction that held SQLite's write lock this long credits the time to every
#: live lease before it commits (one SELECT and one UPDATE, only for such transactions).
_CREDIT_LOCK_AFTER = 0.1


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


@dataclass(frozen=True, slots=True)
class _Registration:
    fn: Handler
    retry: RetryPolicy


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


_WORKER_COMMIT = "harmony_worker_commit"


def _handler_session(conn: Connection) -> Session:
    """The session a handler gets: its writes commit only with the job's completion."""
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)

    @event.listens_for(session, "before_commit")
    def _refuse_handler_commit(session: Session) -> None:
        if not session.info.get(_WORKER_COMMIT):
            raise InvalidInputError(
                "a job handler must not call session.commit(): the worker commits the "
                "handler's writes together with the job's completion (session.flush() sends "
                "statements early)"
            )

    return session


class _AutocommitConnection:
    """A PostgreSQL connection a polling thread keeps for its single-statement work
    (leases, batch completions), so each costs one round trip: no pool checkout, no
    BEGIN/COMMIT. On SQLite (in-process, cheap transactions) there is none."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None

    def get(self) -> Connection | None:
        """The connection (opened on first use), or ``None`` on SQLite."""
        if self._db.backend != "postgresql":
            return None
        if self._conn is None:
            self._conn = self._db.autocommit_connection()
        return self._conn

    def discard(self) -> None:
        """Drop the connection after an error; the next ``get`` opens a fresh one."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:  # already broken: nothing more to release
                pass

    def __enter__(self) -> _AutocommitConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Worker:
    """Runs handlers for leased jobs.

    ::

        worker = Worker(ctx, concurrency=4)

        @worker.handler("playlist.sync", retry=RetryPolicy(max_attempts=3))
        def sync(job, session):
            ...                      # writes through ``session`` commit with the completion

        worker.run_until_idle()      # scripts, notebooks, tests
        worker.start(); ...; worker.stop()   # a background thread; or ``await worker.run_async()``

    Each of the ``concurrency`` threads leases up to ``batch_size`` jobs at a time and runs
    them one after another. A handler that touches its session runs in a transaction of its
    own (a savepoint when the batch's connection has one open) in which its job is also
    completed, so the handler's writes and the completion commit together or not at all;
    a handler calling ``session.commit()`` is refused (a failed try). Completions of handlers that wrote nothing
    are batched into one statement. Commits happen at the end of a batch or every
    ``commit_interval`` seconds, whichever is first. Leases of jobs in hand are extended by
    a heartbeat thread. Failures are retried per the type's :class:`RetryPolicy` and
    dead-lettered (status ``failed`` with a ``stop_reason``) when it gives up.

    By default a worker leases only the types it has handlers for; with
    ``lease_any_type=True`` it leases every type and dead-letters jobs it has no handler
    for.
    """

    def __init__(
        self,
        ctx: WorkerContext,
        handlers: Mapping[str, Handler] | None = None,
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
        settings = ctx.db.settings
        needed = 2 * concurrency + 2  # per thread: leases + its batch; heartbeat; enqueues
        if ctx.db.backend == "postgresql" and needed > settings.pool_size + settings.max_overflow:
            raise InvalidInputError(
                f"a worker with concurrency={concurrency} needs up to {needed} database "
                f"connections, but the pool allows {settings.pool_size + settings.max_overflow} "
                "(pool_size + max_overflow); raise them in the settings or lower concurrency"
            )
        self._db = ctx.db
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
        self._handlers: dict[str, _Registration] = {}
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
        self._db.on_close(self._signal_stop)
        for job_type, fn in (handlers or {}).items():
            self.register(job_type, fn)

    def __repr__(self) -> str:
        return f"Worker(id={self.worker_id!r}, types={self.types!r}, concurrency={self.concurrency})"

    # -- registration ----------------------------------------------------------------------

    def register(self, job_type: str, fn: Handler, *, retry: RetryPolicy | None = None) -> Handler:
        """Run ``fn(job, session)`` for jobs of ``job_type``, retried per ``retry``."""
        if not callable(fn):
            raise InvalidInputError(f"handler for {job_type!r} is not callable: {fn!r}")
        self._handlers[job_type] = _Registration(fn, retry or self.default_retry)
        return fn

    def handler(
        self, job_type: str, *, retry: RetryPolicy | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`."""

        def decorate(fn: Handler) -> Handler:
            return self.register(job_type, fn, retry=retry)

        return decorate

    @property
    def types(self) -> list[str] | None:
        """Job types this worker leases (``None``: any): its own handlers' and the
        context's (``@ctx.jobs.handler``)."""
        return None if self.lease_any_type else sorted(set(self._handlers) | set(self._shared))

    def _registration(self, job_type: str) -> _Registration | None:
        own = self._handlers.get(job_type)
        if own is not None:
            return own
        shared = self._shared.get(job_type)
        if shared is None:
            return None
        return _Registration(shared.fn, shared.retry or self.default_retry)

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
        self._db.check_open()  # in the caller's thread: a background thread would hide it
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
        # Runs in the database watcher's thread: keep it short, never raise.
        if job_type is not None:  # PostgreSQL: the type of a job just committed
            if self.lease_any_type or job_type in (self.types or ()):
                self._wake.set()
        elif self._db.backend == "postgresql":  # the listener reconnected: maybe missed some
            self._wake.set()
        elif self._jobs.has_ready():  # SQLite: someone committed something
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
        self._db.check_open()
        unsubscribe: Callable[[], None] | None = None
        watcher = None if until_idle else self._db.watcher
        if watcher is not None:  # a long-running worker: woken by enqueues anywhere
            unsubscribe = watcher.subscribe("jobs", self._on_jobs_signal)
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
        with _AutocommitConnection(self._db) as auto:
            self._poll(auto, until_idle, max_batches)

    def _poll(self, auto: _AutocommitConnection, until_idle: bool, max_batches: int | None) -> None:
        backoff = self._scheduler.backoff()
        batches = 0
        failures = 0
        while not self._stop.is_set():
            if max_batches is not None and batches >= max_batches:
                return
            try:
                jobs = self._scheduler.lease_ready_jobs(
                    self.types, limit=self.batch_size, lease_seconds=self.lease_seconds,
                    worker_id=self.worker_id, conn=auto.get(),
                )  # fmt: skip
                failures = 0
            except (HarmonyError, SQLAlchemyError) as exc:
                if self._db.closed:
                    # Closed under a running worker: close() stops it, and waiting will not
                    # open it again. run_until_idle() did not finish its work: it says so.
                    auto.discard()
                    if until_idle and not self._stop.is_set():
                        raise
                    return
                # A failed lease is not "idle": back off and try again; a script waiting in
                # run_until_idle() gets the error once it keeps failing.
                auto.discard()
                failures += 1
                _log.warning("harmony worker %s could not lease: %s", self.worker_id, exc)
                if until_idle and failures >= _LEASE_FAILURES_BEFORE_RAISING:
                    raise
                self._stop.wait(backoff.next(False))
                continue
            if jobs:
                batches += 1
                try:
                    self._process(jobs, auto)
                except Exception as exc:  # reported; the worker keeps going
                    # The batch's connection failed (e.g. the server restarted), or a
                    # collaborator (event logger, wait strategy) raised: what the batch had
                    # not committed rolled back with the handlers' writes, and those jobs
                    # run again when their leases expire.
                    auto.discard()
                    self._batch_lost(jobs, exc)
            elif until_idle:
                return
            if self._wake.wait(backoff.next(bool(jobs))):
                # wake() (or stop()): poll now, as if work had just been found.
                self._wake.clear()
                backoff.next(True)

    def _batch_lost(self, jobs: Sequence[LeasedJob], exc: Exception) -> None:
        error = describe_error(exc, 500)
        _log.warning("harmony worker %s lost a batch of %d jobs: %s", self.worker_id, len(jobs), error)
        try:
            self._events.emit(
                "worker.batch_lost", status="lost", count=len(jobs), error=error,
                worker_id=self.worker_id, meta={"job_ids": [job.id for job in jobs]},
            )  # fmt: skip
        except Exception as emit_error:  # the event logger itself may be what failed
            _log.warning("harmony worker %s could not report it: %s", self.worker_id, emit_error)

    # -- one batch -------------------------------------------------------------------------

    def _process(self, jobs: Sequence[LeasedJob], auto: _AutocommitConnection) -> None:
        # Asked once per batch: per-job events nobody receives are not built at all.
        self._emit_dispatch = self._events.wants("orchestrator.dispatch", "dispatched")
        self._emit_completed = self._events.wants("orchestrator.commit", "completed")
        self._heartbeat.track(jobs)
        pending: list[tuple[LeasedJob, float]] = []  # completed, no writes, no result
        window_started = batch_started = time.perf_counter()
        try:
            with self._db.write_engine.connect() as conn:
                spare: list[Session] = []  # a session no handler touched, for the next one
                for index, job in enumerate(jobs):
                    if conn.in_transaction():
                        # fail() or a dead letter wrote through conn: commit it now, or its
                        # locks (on SQLite the database write lock) are held while the next
                        # handler runs.
                        self._flush(conn, pending, auto)
                    if self._stop.is_set():
                        self._release(jobs[index:])
                        break
                    self._run_one(conn, job, pending, spare, auto, batch_started)
                    if pending and time.perf_counter() - window_started >= self.commit_interval:
                        self._flush(conn, pending, auto)
                        window_started = time.perf_counter()
                self._flush(conn, pending, auto)
                for session in spare:
                    session.close()
        finally:
            self._heartbeat.untrack(jobs)

    def _run_one(
        self,
        conn: Connection,
        job: LeasedJob,
        pending: list[tuple[LeasedJob, float]],
        spare: list[Session],
        auto: _AutocommitConnection,
        batch_started: float,
    ) -> None:
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
                "orchestrator.dispatch", entity_id=job.id, job_type=job.type, status="dispatched",
                attempts=job.attempts, worker_id=self.worker_id,
            )  # fmt: skip
        started = time.perf_counter()
        if registration is None:
            self._dead(conn, job, started, f"no handler registered for job type {job.type!r}", None, ran=False)
            return
        if job.attempts > registration.retry.max_attempts:
            reason = (
                f"exceeded {registration.retry.max_attempts} attempts "
                "(earlier tries lost their lease, e.g. the worker crashed)"
            )
            self._dead(conn, job, started, reason, None, ran=False)
            return
        if job.recovered:
            # Its last worker died without settling it, maybe inside this very handler:
            # charge the try before starting it, so a job that kills its worker again is
            # counted (and dead-lettered in the end) while its batch-mates are not.
            if not self._jobs.mark_started([job], conn=auto.get()):
                self._commit_event(job, "lost", started, error="lease lost before the job started")
                return
        # Building and closing a Session per job is ~5 us; most handlers never touch it, so
        # an untouched one is handed to the next job as it is.
        session = spare.pop() if spare else _handler_session(conn)
        self._heartbeat.running(job)
        try:
            result = registration.fn(job, session)
            session.flush()
        except Exception as exc:  # the handler failed: retry or dead-letter, never crash
            self._heartbeat.finished(job)
            session.rollback()
            session.close()
            self._failed(conn, job, registration.retry, exc, started)
            return
        self._heartbeat.finished(job)
        if session.in_transaction() or result is not None:
            # The handler wrote (or returned a result): complete inside its savepoint.
            try:
                self._jobs.complete(job, result, session=session)
            except LeaseLost:
                session.rollback()
                session.close()
                self._commit_event(job, "lost", started, error="lease lost before completion")
                return
            except HarmonyError as exc:
                session.rollback()
                session.close()
                self._failed(conn, job, registration.retry, exc, started)
                return
            session.info[_WORKER_COMMIT] = True
            try:
                self._credit_lock_time(conn)
                session.commit()
            except (HarmonyError, SQLAlchemyError) as exc:  # e.g. a deferred constraint
                session.rollback()
                session.close()
                self._failed(conn, job, registration.retry, exc, started)
                return
            session.close()
            self._commit_event(job, "completed", started)
        else:
            # No transaction began and nothing was added: the session is as new.
            spare.append(session)
            pending.append((job, started))

    def _flush(
        self, conn: Connection, pending: list[tuple[LeasedJob, float]], auto: _AutocommitConnection
    ) -> None:
        lost: set[int] = set()
        if pending:
            # Alone, the completions are one statement: on the autocommit connection that is
            # one round trip; with a failure's write open on ``conn`` they join its commit.
            target = conn if conn.in_transaction() else (auto.get() or conn)
            lost = set(self._jobs.complete_many([job for job, _ in pending], conn=target))
        if conn.in_transaction():
            conn.commit()
        for job, started in pending:
            if job.id in lost:
                self._commit_event(job, "lost", started, error="lease lost before completion")
            else:
                self._commit_event(job, "completed", started)
        pending.clear()

    def _failed(
        self, conn: Connection, job: LeasedJob, policy: RetryPolicy, exc: BaseException, started: float
    ) -> None:
        error = describe_error(exc, 500)
        if isinstance(exc, RetryLater):
            # The handler asked for a later run (e.g. a provider's long Retry-After): not a
            # failed try, so it does not count toward the policy's attempts.
            try:
                self._jobs.fail(job, exc, retry_in=exc.retry_in, count_attempt=False, session=conn)
            except LeaseLost:
                self._commit_event(job, "lost", started, error=error)
                return
            self._commit_event(job, "retry", started, retry_in=exc.retry_in, error=error)
            return
        if policy.retries(job.attempts, exc):
            delay = policy.delay(job.attempts)
            try:
                self._jobs.fail(job, exc, retry_in=delay, session=conn)
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
        self._dead(conn, job, started, reason, exc)

    def _dead(
        self, conn: Connection, job: LeasedJob, started: float, reason: str,
        exc: BaseException | None, *, ran: bool = True,
    ) -> None:  # fmt: skip
        error = describe_error(exc if exc is not None else reason, 500)
        try:
            self._jobs.fail(job, exc or reason, stop_reason=reason, session=conn, started=ran)
        except LeaseLost:
            self._commit_event(job, "lost", started, error=error)
            return
        self._commit_event(job, "failed", started, error=error)
        self._events.emit(
            "orchestrator.dlq", entity_id=job.id, job_type=job.type, status="failed",
            attempts=job.attempts, stop_reason=reason, error=error[:500],
        )  # fmt: skip

    def _credit_lock_time(self, conn: Connection) -> None:
        # SQLite: a handler that held the write lock a while kept every heartbeat out;
        # its commit gives the time back to every live lease (any worker's, any process's).
        held = sqlite_write_lock_held(conn)
        if held >= _CREDIT_LOCK_AFTER:
            self._heartbeat.moved(self._jobs.credit_lock_time(conn, held))

    def _still_leased(self, job: LeasedJob) -> bool:
        """Whether ``job``'s lease (as last extended) has a third of its length left: a live
        heartbeat keeps two thirds, so less means it could not extend it."""
        expires = self._heartbeat.current(job).lease_expires_at
        left = (expires - self._clock.now()).total_seconds()
        return left > job.lease_seconds / 3

    def _release(self, jobs: Sequence[LeasedJob]) -> None:
        if self._db.closed:
            return  # the context closed under us: the leases expire and are recovered
        for job in jobs:
            try:
                self._jobs.release(job)
                self.report.add("released")
            except LeaseLost:
                pass  # already recovered elsewhere: nothing to give back

    def _commit_event(
        self, job: LeasedJob, status: str, started: float, *, retry_in: float | None = None, error: str | None = None
    ) -> None:
        self.report.add(
            {"completed": "completed", "retry": "retried", "failed": "dead_lettered", "lost": "lost"}[status]
        )
        if status == "completed" and not self._emit_completed:
            return
        self._events.emit(
            "orchestrator.commit", entity_id=job.id, job_type=job.type, status=status,
            attempts=job.attempts, duration_ms=round((time.perf_counter() - started) * 1000, 3),
            retry_in=retry_in, error=None if error is None else error[:500],
        )  # fmt: skip
