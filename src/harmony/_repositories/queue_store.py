"""The storage a worker runs jobs on: connections, savepoints, dialect choices and batched
settlement, so the worker (a service) only calls lease / run / settle / fail.

- :class:`QueueStore` (one per worker) opens a :class:`Lane` per polling thread and
  reports job signals from the database watcher.
- A :class:`Lane` keeps, on PostgreSQL, one autocommit connection for the thread's
  single-statement work (leases, recorded starts, batched completions): each costs one
  round trip, with no pool checkout and no ``BEGIN``/``COMMIT``. SQLite needs none.
- A :class:`Batch` holds the write connection the handlers of one leased batch run on.
  A handler gets a session bound to it; one that writes runs in a savepoint (or a
  transaction of its own) in which its job is completed, so its writes and the completion
  commit together; ``session.commit()`` is refused. Completions of handlers that wrote
  nothing wait in the batch and are settled in one statement.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from harmony._db.engine import Database, sqlite_write_lock_held, translate_db_errors
from harmony._repositories.job_types import LeasedJob
from harmony._repositories.jobs import JobQueue
from harmony.errors import (
    ContextClosed,
    DatabaseError,
    HarmonyError,
    InvalidInputError,
    LeaseLost,
)

__all__ = ["Batch", "Lane", "QueueStore", "Ran"]

#: A handler transaction that held SQLite's write lock this long credits the time to every
#: live lease before it commits (one SELECT and one UPDATE, only for such transactions).
_CREDIT_LOCK_AFTER = 0.1
_WORKER_COMMIT = "harmony_worker_commit"
_log = logging.getLogger("harmony.worker")
#: A busy lane puts expired leases back in line at most this often (seconds).
RECOVER_EVERY = 1.0

#: Outcomes of :meth:`Batch.run`.
COMPLETED, PENDING, LOST, FAILED = "completed", "pending", "lost", "failed"


class Ran(NamedTuple):
    """What :meth:`Batch.run` did with one job: ``completed`` (its writes and completion
    committed), ``pending`` (no writes: completed at the next :meth:`Batch.settle`),
    ``lost`` (its lease was gone; writes rolled back) or ``failed`` (``error`` says why;
    writes rolled back)."""

    status: str
    error: BaseException | None = None


_PENDING = Ran(PENDING)
_COMPLETED = Ran(COMPLETED)
_LOST = Ran(LOST)


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


class QueueStore:
    """A worker's storage on ``db`` for the queue ``jobs``."""

    def __init__(self, db: Database, jobs: JobQueue) -> None:
        self._db = db
        self._jobs = jobs

    def check_pool(self, threads: int) -> None:
        """Refuse (:class:`InvalidInputError`) a thread count the connection pool cannot serve."""
        settings = self._db.settings
        needed = 2 * threads + 2  # per thread: leases + its batch; heartbeat; enqueues
        allowed = settings.pool_size + settings.max_overflow
        if self._db.backend == "postgresql" and needed > allowed:
            raise InvalidInputError(
                f"a worker with concurrency={threads} needs up to {needed} database "
                f"connections, but the pool allows {allowed} (pool_size + max_overflow); "
                "raise them in the settings or lower concurrency"
            )

    @contextmanager
    def lane(self) -> Iterator[Lane]:
        """One polling thread's storage; its connection is closed at the end."""
        lane = Lane(self._db, self._jobs)
        try:
            yield lane
        finally:
            lane.close()

    @property
    def closed(self) -> bool:
        """Whether the database was closed (the context closed)."""
        return self._db.closed

    def check_open(self) -> None:
        """Raise :class:`~harmony.errors.ContextClosed` when the context was closed."""
        self._db.check_open()

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call the bound method ``callback`` when the database closes (held weakly)."""
        self._db.on_close(callback)

    def watch_jobs(self, callback: Callable[[str | None], None]) -> Callable[[], None] | None:
        """Call ``callback`` (in the watcher's thread) when a job may have become ready in
        any process: with the job's type on PostgreSQL (``NOTIFY``), with ``None`` when the
        type is unknown (the listener reconnected and may have missed some; on SQLite,
        another connection committed and a job is ready). Returns the unsubscribe
        function, or ``None`` when nothing can be watched (in-memory SQLite)."""
        watcher = self._db.watcher
        if watcher is None:
            return None
        postgres = self._db.backend == "postgresql"

        def signal(job_type: str | None) -> None:
            if job_type is not None or postgres or self._jobs.has_ready():
                callback(job_type)

        return watcher.subscribe("jobs", signal)

    def release(self, jobs: Sequence[LeasedJob]) -> int:
        """Give back leased jobs never started; return how many were released (a lease
        already lost has nothing to give back). Nothing happens once the database closed:
        the leases then expire and are recovered."""
        if self._db.closed:
            return 0
        released = 0
        for job in jobs:
            try:
                self._jobs.release(job)
                released += 1
            except LeaseLost:
                pass
        return released


class Lane:
    """A polling thread's connection for leases, recorded starts and completions."""

    def __init__(self, db: Database, jobs: JobQueue) -> None:
        self._db = db
        self._jobs = jobs
        self._conn: Connection | None = None
        self._recovered_at = -math.inf
        #: Writeless completions of the last batch, settled by the next lease (defer()).
        self._deferred: list[tuple[LeasedJob, float]] = []
        self._settled: list[tuple[LeasedJob, float, bool]] = []
        self._unsettled: list[tuple[LeasedJob, float]] = []

    def _auto(self) -> Connection | None:
        """The autocommit connection (opened on first use), or ``None`` on SQLite."""
        if self._db.backend != "postgresql":
            return None
        if self._conn is None:
            self._conn = self._db.autocommit_connection()
        return self._conn

    def lease(
        self,
        types: Sequence[str] | None,
        *,
        limit: int,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
    ) -> list[LeasedJob]:
        """Lease ready jobs (as :meth:`JobQueue.lease`) on this lane's connection.

        Expired leases are put back in line before the claim at most every
        :data:`RECOVER_EVERY` seconds, and whenever a claim comes back short of ``limit``
        (then the claim is repeated if any were recovered): a busy lane saves a round trip
        per batch, an idle one never misses a recoverable job. So a job whose worker died
        waits at most that much longer while other jobs keep every lane busy.
        """
        conn = self._auto()
        now = time.monotonic()
        recover = now - self._recovered_at >= RECOVER_EVERY
        if len({job.attempts for job, _ in self._deferred}) > 1:
            self.settle_deferred()  # one statement settles one try number only
        deferred, self._deferred = self._deferred, []
        try:
            leased, lost = self._jobs.settle_and_lease(
                [job for job, _ in deferred],
                types,
                limit=limit,
                lease_seconds=lease_seconds,
                worker_id=worker_id,
                conn=conn,
                recover=recover,
            )
        except SQLAlchemyError as exc:  # not a driver error (those are translated)
            self._unsettled += deferred
            raise DatabaseError(f"leasing failed: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            self._unsettled += deferred
            raise
        if deferred:
            gone = set(lost)
            self._settled += [(job, tag, job.id in gone) for job, tag in deferred]
        if recover:
            self._recovered_at = now
        elif len(leased) < limit:
            self._recovered_at = now
            try:
                if self._jobs.recover_expired(types, conn=conn):
                    leased += self._jobs.lease(
                        types,
                        limit=limit - len(leased),
                        lease_seconds=lease_seconds,
                        worker_id=worker_id,
                        conn=conn,
                        recover=False,
                    )
            except ContextClosed:
                raise  # closed under a running worker, which stops without a warning
            except HarmonyError as exc:  # the jobs in hand stay leased; the next lease retries
                _log.warning("harmony could not recover expired leases: %s", exc)
        return leased

    def defer(self, pending: list[tuple[LeasedJob, float]]) -> bool:
        """Keep writeless completions for the next :meth:`lease`, which settles them in
        its own statement (PostgreSQL: one commit per batch instead of two). Returns
        whether they were taken (not on SQLite)."""
        if self._db.backend != "postgresql":
            return False
        self._deferred += pending
        return True

    def take_settled(self) -> list[tuple[LeasedJob, float, bool]]:
        """Deferred completions settled since the last call: each job with its tag and
        whether its lease was lost."""
        settled, self._settled = self._settled, []
        return settled

    def take_unsettled(self) -> list[tuple[LeasedJob, float]]:
        """Deferred completions whose statement failed (they were not settled; their jobs
        run again once their leases expire)."""
        unsettled, self._unsettled = self._unsettled, []
        return unsettled

    def settle_deferred(self) -> None:
        """Settle what :meth:`defer` kept, on its own (a lane about to stop); the
        outcome is in :meth:`take_settled` / :meth:`take_unsettled`."""
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return
        try:
            with translate_db_errors(self._db.settings):
                lost = set(
                    self._jobs.complete_many([job for job, _ in deferred], conn=self._auto())
                )
        except BaseException:
            self._unsettled += deferred
            raise
        self._settled += [(job, tag, job.id in lost) for job, tag in deferred]

    def mark_started(self, jobs: Sequence[LeasedJob]) -> list[int]:
        """Record that these jobs' handlers start now (see :meth:`JobQueue.mark_started`)."""
        with translate_db_errors(self._db.settings):
            return self._jobs.mark_started(jobs, conn=self._auto())

    @contextmanager
    def batch(self, on_lock_credit: Callable[[dict[int, Any]], None]) -> Iterator[Batch]:
        """A write connection for one leased batch; what is not settled when the block
        ends rolls back. ``on_lock_credit`` hears of leases extended because a handler
        held SQLite's write lock (new expiries by job id)."""
        with self._db.write_engine.connect() as conn:
            batch = Batch(self, conn, on_lock_credit)
            try:
                yield batch
            finally:
                batch.close()

    def discard(self) -> None:
        """Drop the connection after an error; the next use opens a fresh one."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:  # already broken: nothing more to release
                pass

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class Batch:
    """The handlers of one leased batch, run on one write connection."""

    def __init__(
        self, lane: Lane, conn: Connection, on_lock_credit: Callable[[dict[int, Any]], None]
    ) -> None:
        self._lane = lane
        self._jobs = lane._jobs
        self._conn = conn
        self._on_lock_credit = on_lock_credit
        self._sqlite = conn.dialect.name == "sqlite"
        #: Sessions no handler touched, for the next handler: building and closing one per
        #: job is ~5 us and most handlers never use theirs.
        self._spare: list[Session] = []
        #: Jobs whose handlers returned without writes or a result, with a caller's tag
        #: (the worker's start time), to complete at the next settle().
        self.pending: list[tuple[LeasedJob, float]] = []

    @property
    def has_writes(self) -> bool:
        """Whether a failure or dead letter wrote and waits for :meth:`settle` (its
        locks, on SQLite the write lock, are held until then)."""
        return self._conn.in_transaction()

    def run(self, job: LeasedJob, call: Callable[[Session], Any], tag: float) -> Ran:
        """Run ``call(session)`` for ``job`` and complete the job with what it returns.

        A handler that wrote (or returned a result) is completed in its own savepoint and
        committed with its writes now; one that did neither is completed at the next
        :meth:`settle`. Errors of the handler, of the completion and of the commit come
        back as ``failed`` with the writes rolled back.
        """
        session = self._spare.pop() if self._spare else _handler_session(self._conn)
        try:
            result = call(session)
            session.flush()
        except Exception as exc:  # the handler failed: the caller retries or dead-letters
            session.rollback()
            session.close()
            return Ran(FAILED, exc)
        if not session.in_transaction() and result is None:
            # No transaction began and nothing was added: the session is as new.
            self._spare.append(session)
            self.pending.append((job, tag))
            return _PENDING
        try:
            self._jobs.complete(job, result, session=session)
            session.info[_WORKER_COMMIT] = True
            if self._sqlite:
                self._credit_lock_time()
            session.commit()
        except LeaseLost:
            session.rollback()
            session.close()
            return _LOST
        except (
            HarmonyError,
            SQLAlchemyError,
        ) as exc:  # e.g. a result or deferred constraint refused
            session.rollback()
            session.close()
            return Ran(FAILED, exc)
        session.close()
        return _COMPLETED

    def fail(
        self,
        job: LeasedJob,
        error: str | BaseException,
        *,
        retry_in: float | None = None,
        stop_reason: str | None = None,
        count_attempt: bool = True,
        started: bool = True,
    ) -> None:
        """Record a failed try (see :meth:`JobQueue.fail`) in this batch's transaction,
        committed at the next :meth:`settle`. Raises :class:`LeaseLost` when the lease is
        gone."""
        self._jobs.fail(
            job,
            error,
            retry_in=retry_in,
            stop_reason=stop_reason,
            count_attempt=count_attempt,
            started=started,
            session=self._conn,
        )

    def settle(self, *, defer: bool = False) -> list[tuple[LeasedJob, float, bool]]:
        """Complete the pending jobs and commit what the batch wrote; return each pending
        job with its tag and whether its lease was lost (not completed).

        With ``defer`` (the end of a batch, another lease to follow), writeless
        completions are handed to the lane's next lease when nothing else waits to be
        committed (see :meth:`Lane.defer`) and come back from :meth:`Lane.take_settled`.
        """
        pending, self.pending = self.pending, []
        if defer and pending and not self._conn.in_transaction() and self._lane.defer(pending):
            return []
        lost: set[int] = set()
        conn = self._conn
        if pending:
            # Alone, the completions are one statement: on the autocommit connection that is
            # one round trip; with a failure's write open on ``conn`` they join its commit.
            target = conn if conn.in_transaction() else (self._lane._auto() or conn)
            lost = set(self._jobs.complete_many([job for job, _ in pending], conn=target))
        if conn.in_transaction():
            conn.commit()
        return [(job, tag, job.id in lost) for job, tag in pending]

    def close(self) -> None:
        """Close the spare sessions."""
        for session in self._spare:
            session.close()
        self._spare.clear()

    def _credit_lock_time(self) -> None:
        # SQLite: a handler that held the write lock a while kept every heartbeat out;
        # its commit gives the time back to every live lease (any worker's, any process's).
        held = sqlite_write_lock_held(self._conn)
        if held >= _CREDIT_LOCK_AFTER:
            self._on_lock_credit(self._jobs.credit_lock_time(self._conn, held))
