"""``ctx.jobs``: the durable job queue (enqueue, lease, heartbeat, complete, fail, ...)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, func, insert, null, select, update
from sqlalchemy.orm import Session

from harmony._clock import Clock, ensure_utc
from harmony._db.engine import Database, translate_db_errors
from harmony._db.models import JOB_STATUSES, QueueJobRow
from harmony._events.base import EventLogger
from harmony._repositories.job_sql import (
    JOB_COLUMNS,
    OWN_EXPIRY,
    bulk_insert,
    claim_statement,
    heartbeat_statement,
    idempotent_insert,
    insert_one_postgres,
    lease_params,
    mark_started_statement,
    recover_expired_statement,
    run_claim,
    settle_statement,
)
from harmony._repositories.job_types import Job, JobPage, JobSpec, LeasedJob, QueueStats
from harmony._timing import elapsed_ms
from harmony._validation import (
    INT32_MAX,
    INT64_MAX,
    check_datetime,
    check_int,
    check_json,
    check_seconds,
    check_text,
    describe_error,
    storable_text,
)
from harmony.errors import InvalidInputError, JobStateError, LeaseLost, NotFoundError

if TYPE_CHECKING:  # the registry is a service; the queue only hands it to workers
    from collections.abc import Callable

    from harmony._services.handlers import Handler, HandlerRegistry, LegacyHandler
    from harmony._services.retry import RetryPolicy

    _H = TypeVar("_H", bound=Callable[..., Any])

__all__ = ["JobQueue"]

J = QueueJobRow
#: Is a job ready? Raw SQL for the watcher's DBAPI connection (the claim index's predicate).
_READY_SQLITE = "SELECT 1 FROM queue_jobs WHERE status = 'pending' AND available_at <= ? LIMIT 1"
_READY_POSTGRESQL = (
    "SELECT 1 FROM queue_jobs WHERE status = 'pending' AND available_at <= %s LIMIT 1"
)
#: After a long SQLite write transaction, how long live leases are kept at least: time for
#: the heartbeats that waited for the lock (SQLite's busy handler polls) to get through.
_LOCK_GRACE_SECONDS = 1.0
_CREDIT = (
    update(J)
    .where(J.id == bindparam("b_id"), J.status == "leased")
    .values(lease_expires_at=bindparam("b_expires", type_=J.lease_expires_at.type))
)
_TYPE = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
#: One job without an idempotency key; everything but the id is known before the insert.
_INSERT_ONE = insert(J).returning(J.id)
_MAX_BATCH = 1000
_ERROR_LIMIT = 8000
#: Longest visibility timeout (about 115 days) and retry delay (about 3 years) accepted.
_MAX_LEASE_SECONDS = 10_000_000.0
_MAX_RETRY_SECONDS = 100_000_000.0


class JobQueue:
    """The durable job queue in ``queue_jobs``.

    Jobs move pending -> leased -> completed, or back to pending (retry, expired lease),
    or to failed (the dead letter) or cancelled. Every change of a leased job must prove
    its lease with the job's token; a stale token raises :class:`~harmony.errors.LeaseLost`.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventLogger,
        *,
        lease_seconds: float,
        handlers: HandlerRegistry | None = None,
        payload_max_bytes: int | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._events = events
        self._lease_seconds = lease_seconds
        #: Handlers registered on the context; every ``Worker(ctx)`` runs them.
        self.handlers = handlers
        #: Largest payload or result accepted, in bytes of JSON (``job_payload_max_bytes``).
        self.payload_max_bytes = payload_max_bytes

    def __repr__(self) -> str:
        return f"JobQueue({self._db!r})"

    # -- handlers ------------------------------------------------------------------------

    def handler(self, job_type: str, *, retry: RetryPolicy | None = None) -> Callable[[_H], _H]:
        """Register the decorated function as the handler of ``job_type`` on the context::

            @ctx.jobs.handler("report.build", retry=RetryPolicy(max_attempts=3))
            def build(job: JobContext): ...

        Every :class:`~harmony.Worker` built on the context runs it.
        """
        return self._registry().handler(job_type, retry=retry)

    def register(
        self, job_type: str, fn: Handler | LegacyHandler, *, retry: RetryPolicy | None = None
    ) -> Handler | LegacyHandler:
        """Register ``fn(job_context)`` as the handler of ``job_type`` on the context
        (the deprecated ``fn(job, session)`` form warns once, here)."""
        return self._registry().register(job_type, fn, retry=retry)

    def _registry(self) -> HandlerRegistry:
        if self.handlers is None:
            raise JobStateError("this JobQueue has no handler registry; use a HarmonyContext's")
        return self.handlers

    def has_ready(self) -> bool:
        """Whether some job is ready to lease, from a cheap read on the database watcher's
        own connection: a wake-up hint for idle workers (a worker for other types that
        wakes leases nothing and waits again)."""
        watcher = self._db.watcher
        if watcher is None:
            return True
        now = self._clock.now().astimezone(UTC)
        if self._db.backend == "sqlite":
            # As UTCDateTime stores it on SQLite: naive UTC text, which sorts as time.
            return watcher.scalar(_READY_SQLITE, [f"{now:%Y-%m-%d %H:%M:%S.%f}"]) is not None
        return watcher.scalar(_READY_POSTGRESQL, [now]) is not None

    # -- enqueue -------------------------------------------------------------------------

    def enqueue(
        self,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
        available_at: datetime | None = None,
        idempotency_key: str | None = None,
        lease_seconds: float | None = None,
        session: Session | None = None,
    ) -> Job:
        """Store a job and return it.

        With ``session`` the insert joins the caller's transaction (and disappears if it
        rolls back). ``lease_seconds`` gives the job a visibility timeout of its own
        (otherwise the lease call's applies). With ``idempotency_key``: a pending, leased or failed job with that key
        is returned as it is (``deduped=True``); a completed or cancelled one is re-armed
        with the new payload and priority.

        Raises:
            InvalidInputError: empty or malformed ``type``; a ``priority`` that is not an
                integer from 0 to 2**31-1; a payload that is not a JSON object, or nests
                deeper than 64 levels, or holds NaN, infinities, NUL characters or lone
                surrogates, or is larger than ``job_payload_max_bytes``; an
                ``available_at`` that is not a timezone-aware datetime; an
                ``idempotency_key`` that is not a storable string of 1-255 characters; a
                ``lease_seconds`` that is not a finite number in (0, 10**7]. Both backends
                refuse the same inputs; nothing is written.
        """
        return self._enqueue(
            JobSpec(
                type, _payload(payload), priority, available_at, idempotency_key, lease_seconds
            ),
            session=session,
            rearm=True,
        )

    def enqueue_unique(
        self,
        type: str,
        payload: Mapping[str, Any] | None,
        *,
        idempotency_key: str,
        priority: int = 0,
        available_at: datetime | None = None,
    ) -> Job:
        """Store a job unless one with ``idempotency_key`` exists in any state (never re-arms)."""
        return self._enqueue(
            JobSpec(type, _payload(payload), priority, available_at, idempotency_key),
            session=None,
            rearm=False,
        )

    def enqueue_many(
        self, jobs: Iterable[JobSpec | Mapping[str, Any]], *, session: Session | None = None
    ) -> list[Job]:
        """Store many jobs; jobs without idempotency keys go in one statement per 1,000.

        Items are :class:`JobSpec` or mappings with the same keys. All are validated
        before anything is written; with ``session`` they join the caller's transaction.
        """
        specs = [_spec(item, self.payload_max_bytes) for item in jobs]
        now = self._clock.now()
        rows = [_row(spec, now) for spec in specs]
        keys = [s.idempotency_key for s in specs if s.idempotency_key is not None]
        if len(keys) != len(set(keys)):
            raise InvalidInputError("enqueue_many got the same idempotency_key twice")
        started = time.perf_counter()
        if session is not None:
            result = self._insert_many(session.connection(), specs, rows, now)
        else:
            with self._db.write() as conn:
                result = self._insert_many(conn, specs, rows, now)
        if result:
            self._events.emit(
                "worker.job.batch",
                status="enqueued",
                count=len(result),
                deduped=sum(job.deduped for job in result),
                duration_ms=elapsed_ms(started),
                meta={"job_types": sorted({job.type for job in result})},
            )
        return result

    def _insert_many(
        self, conn: Connection, specs: list[JobSpec], rows: list[dict[str, Any]], now: datetime
    ) -> list[Job]:
        plain = [i for i, spec in enumerate(specs) if spec.idempotency_key is None]
        out: list[Job | None] = [None] * len(specs)
        for start in range(0, len(plain), _MAX_BATCH):
            chunk = plain[start : start + _MAX_BATCH]
            ids = bulk_insert(conn, [rows[i] for i in chunk], now)
            for index, job_id in zip(chunk, ids, strict=True):
                out[index] = _new_job(job_id, rows[index])
        for i, spec in enumerate(specs):
            if spec.idempotency_key is not None:
                out[i] = self._upsert(conn, rows[i], rearm=True)
        return [job for job in out if job is not None]

    def _enqueue(self, spec: JobSpec, *, session: Session | None, rearm: bool) -> Job:
        spec, encoded = _checked(spec, self.payload_max_bytes)
        row = _row(spec, self._clock.now())
        if session is not None:
            job = self._store_one(session.connection(), row, rearm=rearm)
        elif row["idempotency_key"] is None and self._db.backend == "postgresql":
            # The common case, one plain INSERT, on the driver: see insert_one_postgres.
            with translate_db_errors(self._db.settings), self._db.parked_autocommit() as raw:
                job = _new_job(insert_one_postgres(raw, self._db.engine.dialect, row, encoded), row)
        else:
            # One INSERT (or upsert, then a read of the existing job): atomic on its own.
            with self._db.autocommit() as conn:
                job = self._store_one(conn, row, rearm=rearm)
        status = job.status if job.deduped else "enqueued"
        if self._events.wants("worker.job", status):
            self._events.emit(
                "worker.job",
                entity_id=job.id,
                job_type=job.type,
                status=status,
                priority=job.priority,
                deduped=job.deduped,
                transactional=session is not None,
            )
        return job

    def _store_one(self, conn: Connection, row: dict[str, Any], *, rearm: bool) -> Job:
        if row["idempotency_key"] is None:
            return _new_job(conn.execute(_INSERT_ONE, row).scalar_one(), row)
        return self._upsert(conn, row, rearm=rearm)

    def _upsert(self, conn: Connection, row: dict[str, Any], *, rearm: bool) -> Job:
        stored = conn.execute(idempotent_insert(conn.dialect.name, row, rearm=rearm)).first()
        if stored is not None:
            return _job(stored)
        existing = conn.execute(
            select(*JOB_COLUMNS).where(J.idempotency_key == row["idempotency_key"])
        ).one()
        return _job(existing, deduped=True)

    # -- leases --------------------------------------------------------------------------

    def lease(
        self,
        types: str | Sequence[str] | None,
        *,
        limit: int = 1,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        conn: Connection | None = None,
        recover: bool = True,
    ) -> list[LeasedJob]:
        """Lease up to ``limit`` ready jobs of ``types`` (``None``: any type).

        Order: highest priority, then oldest ``available_at``, then id. Each job gets a
        fresh token; leasing charges no attempt (``LeasedJob.attempts`` is the number this
        try will have; the stored count changes when the try is settled or
        :meth:`mark_started` records it). Leases that expired are first put back in line,
        marked *recovered* (``LeasedJob.recovered``), so a crashed worker's jobs are
        re-leased by whoever asks next. Emits one
        ``orchestrator.lease`` per leased job, or one with status ``skipped`` when none was
        ready.

        ``conn`` is an autocommit connection a polling loop keeps for its leases (each
        statement commits by itself); without it the lease runs in its own transaction.
        ``recover=False`` leaves expired leases alone (a worker's lane recovers them
        separately, see :meth:`recover_expired`).
        """
        return self._lease(types, limit, lease_seconds, worker_id, conn, recover, {})[0]

    def settle_and_lease(
        self,
        done: Sequence[LeasedJob],
        types: str | Sequence[str] | None,
        *,
        limit: int = 1,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        conn: Connection | None = None,
        recover: bool = True,
    ) -> tuple[list[LeasedJob], list[int]]:
        """Complete the leased jobs ``done`` with no result (as :meth:`complete_many`)
        and lease ready ones (as :meth:`lease`); return the leased jobs and the ids of
        ``done`` whose lease was lost (not completed).

        On PostgreSQL, given the autocommit ``conn`` of a polling loop, both happen in one
        statement when every job of ``done`` is at the same try number (the usual
        batch): one commit instead of two.
        """
        attempts = {job.attempts for job in done}
        if not done or len(attempts) != 1 or conn is None or conn.dialect.name != "postgresql":
            lost = self.complete_many(done, conn=conn) if done else []
            leased = self.lease(
                types,
                limit=limit,
                lease_seconds=lease_seconds,
                worker_id=worker_id,
                conn=conn,
                recover=recover,
            )
            return leased, lost
        for job in done:
            _check_leased(job)  # building _owned(job)'s UPDATE would cost ~0.2 ms a job
        settle = {**lease_params(done), "try_number": attempts.pop()}
        return self._lease(types, limit, lease_seconds, worker_id, conn, recover, settle)

    def _lease(
        self,
        types: str | Sequence[str] | None,
        limit: int,
        lease_seconds: float | None,
        worker_id: str | None,
        conn: Connection | None,
        recover: bool,
        settle: Mapping[str, Any],
    ) -> tuple[list[LeasedJob], list[int]]:
        wanted = _types(types)
        limit = check_int("limit", limit, low=1, high=_MAX_BATCH)
        seconds = self._lease_length(lease_seconds)
        if worker_id is not None:
            check_text("worker_id", worker_id, max_length=255)
        started = time.perf_counter()
        now = self._clock.now()
        expires = now + timedelta(seconds=seconds)
        params: dict[str, Any] = {
            "now": now,
            "expires": expires,
            "limit": limit,
            "worker_id": worker_id,
        }
        if wanted is not None:
            params["types"] = list(wanted)
        if conn is not None:
            with translate_db_errors(self._db.settings):
                leased, lost = _claim(conn, wanted is not None, params, seconds, recover, settle)
        else:
            with self._db.write() as own:
                leased, lost = _claim(own, wanted is not None, params, seconds, recover, settle)
        duration = elapsed_ms(started)
        if not leased:
            self._events.emit(
                "orchestrator.lease",
                entity_id=None,
                job_type=",".join(wanted or ("*",)),
                status="skipped",
                priority=None,
                lease_timeout=seconds,
                duration_ms=duration,
                worker_id=worker_id,
            )
        for job in leased if self._events.wants("orchestrator.lease", "leased") else ():
            self._events.emit(
                "orchestrator.lease",
                entity_id=job.id,
                job_type=job.type,
                status="leased",
                priority=job.priority,
                lease_timeout=seconds,
                duration_ms=duration,
                attempts=job.attempts,
                worker_id=worker_id,
            )
        return leased, lost

    def recover_expired(
        self, types: str | Sequence[str] | None = None, *, conn: Connection | None = None
    ) -> int:
        """Put jobs (of ``types``; ``None``: any) whose lease expired back in line, marked
        recovered, as every :meth:`lease` call does first; return how many."""
        wanted = _types(types)
        params: dict[str, Any] = {"now": self._clock.now()}
        if wanted is not None:
            params["types"] = list(wanted)
        typed = wanted is not None
        if conn is not None:
            with translate_db_errors(self._db.settings):
                stmt = recover_expired_statement(conn.dialect.name, typed)
                return int(conn.execute(stmt, params).rowcount)
        with self._db.write() as own:
            return int(
                own.execute(recover_expired_statement(own.dialect.name, typed), params).rowcount
            )

    def _lease_length(self, lease_seconds: float | None) -> float:
        if lease_seconds is None:
            return self._lease_seconds
        return check_seconds("lease_seconds", lease_seconds, high=_MAX_LEASE_SECONDS)

    def heartbeat(self, job: LeasedJob, *, lease_seconds: float | None = None) -> LeasedJob:
        """Extend a live lease by ``lease_seconds`` (default: the job's ``lease_seconds``);
        return the job with its new expiry.

        Raises:
            LeaseLost: the lease expired and was recovered, or another worker holds it.
        """
        seconds = self._lease_length(job.lease_seconds if lease_seconds is None else lease_seconds)
        now = self._clock.now()
        expires = now + timedelta(seconds=seconds)
        with self._db.write() as conn:
            changed = conn.execute(
                _owned(job).values(lease_expires_at=expires, updated_at=now)
            ).rowcount
        if not changed:
            raise _lost(job, "extend")
        self._events.emit(
            "orchestrator.heartbeat",
            entity_id=job.id,
            job_type=job.type,
            status="extended",
            lease_timeout=seconds,
        )
        return _replace_expiry(job, expires)

    def heartbeat_many(
        self, jobs: Sequence[LeasedJob], *, lease_seconds: float | None = None
    ) -> list[LeasedJob]:
        """Extend several live leases, each by ``lease_seconds`` (default: its own
        ``lease_seconds``); one statement per distinct length. Return the jobs extended.

        On PostgreSQL rows locked by an unfinished completion are skipped, not waited for.
        """
        if not jobs:
            return []
        groups: dict[float, list[LeasedJob]] = {}
        for job in jobs:
            length = self._lease_length(
                job.lease_seconds if lease_seconds is None else lease_seconds
            )
            groups.setdefault(length, []).append(job)
        now = self._clock.now()
        out: list[LeasedJob] = []
        with self._db.write() as conn:
            for seconds, group in groups.items():
                expires = now + timedelta(seconds=seconds)
                extended = set(
                    conn.execute(
                        heartbeat_statement(conn.dialect.name),
                        {**lease_params(group), "now": now, "expires": expires},
                    ).scalars()
                )
                out += [_replace_expiry(job, expires) for job in group if job.id in extended]
        if self._events.wants("orchestrator.heartbeat", "extended"):
            for job in out:
                self._events.emit(
                    "orchestrator.heartbeat",
                    entity_id=job.id,
                    job_type=job.type,
                    status="extended",
                    lease_timeout=job.lease_seconds,
                )
        return out

    def complete(
        self, job: LeasedJob, result: Any = None, *, session: Session | Connection | None = None
    ) -> None:
        """Mark a leased job completed with an optional JSON ``result``.

        With ``session`` the completion joins that transaction, so the handler's own
        writes and the completion commit (or roll back) together.

        Raises:
            LeaseLost: the token is stale; nothing is changed.
        """
        _check_leased(job)  # before anything else is looked at
        stored = None if result is None else result
        if stored is not None:
            check_json("result", stored, max_bytes=self.payload_max_bytes)
        now = self._clock.now()
        stmt = _owned(job).values(
            status="completed",
            result=null() if stored is None else stored,
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            updated_at=now,
            attempts=job.attempts,
        )
        self._apply(job, stmt, session, "complete")

    def fail(
        self,
        job: LeasedJob,
        error: str | BaseException,
        *,
        retry_in: float | None = None,
        stop_reason: str | None = None,
        count_attempt: bool = True,
        session: Session | Connection | None = None,
        started: bool = True,
    ) -> None:
        """Record a failed try: back in line after ``retry_in`` seconds, or dead-lettered.

        Without ``retry_in`` the job moves to ``failed`` (the dead letter) with
        ``stop_reason`` (default ``"failed"``). ``error`` (an exception or a string) and
        ``stop_reason`` are stored as they are, except that NUL characters and lone
        surrogates become backslash escapes and they are cut to 8,000 and 255 characters,
        so recording a failure cannot fail because of what the error says. The try is
        charged (``attempts`` becomes ``job.attempts``) unless ``started=False``: its
        handler never ran (no handler for the type, or the worker's crash-loop guard gave
        up before starting it). ``count_attempt=False`` (with ``retry_in``) gives the try
        back: for a job asked to run later (:class:`~harmony.errors.RetryLater`).

        Raises:
            LeaseLost: the token is stale; nothing is changed.
        """
        _check_leased(job)
        now = self._clock.now()
        message = _error_text(error)
        if retry_in is not None:
            retry_in = check_seconds(
                "retry_in",
                retry_in,
                high=_MAX_RETRY_SECONDS,
                allow_zero=True,
                hint=" (None dead-letters the job)",
            )
            values: dict[str, Any] = {
                "status": "pending",
                "available_at": now + timedelta(seconds=retry_in),
            }
        else:
            values = {
                "status": "failed",
                "stop_reason": storable_text(str(stop_reason or "failed"), 255),
            }
        if retry_in is not None and not count_attempt:
            # As before this try, even if mark_started() charged it meanwhile.
            values["attempts"] = job.attempts - 1
        elif started:
            values["attempts"] = job.attempts
        stmt = _owned(job).values(
            last_error=message,
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            updated_at=now,
            **values,
        )
        self._apply(job, stmt, session, "fail")

    def release(self, job: LeasedJob) -> None:
        """Give back a leased job that was never started (graceful stop): pending again,
        with this try not counted."""
        now = self._clock.now()
        stmt = _owned(job).values(
            status="pending",
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
        self._apply(job, stmt, None, "release")

    def mark_started(
        self, jobs: Sequence[LeasedJob], *, conn: Connection | None = None
    ) -> list[int]:
        """Record that these jobs' handlers started: each stored ``attempts`` becomes its
        try's number at once, so a worker that dies while running one has charged it.

        The :class:`~harmony.Worker` calls this before it starts a recovered job, and
        for a handler still running a moment after it started. Returns the ids whose lease
        was live (rows another transaction holds locked are skipped, not waited for).
        """
        if not jobs:
            return []
        now = self._clock.now()
        marked: list[int] = []
        for attempts, group in _by_attempts(jobs).items():
            params = {**lease_params(group), "attempts": attempts, "now": now}
            if conn is not None:
                marked += conn.execute(mark_started_statement(conn.dialect.name), params).scalars()
            else:
                with self._db.write() as own:
                    marked += own.execute(
                        mark_started_statement(own.dialect.name), params
                    ).scalars()
        return marked

    def credit_lock_time(self, conn: Connection, held_seconds: float) -> dict[int, datetime]:
        """Give back to every live lease the ``held_seconds`` the write transaction open
        on ``conn`` has held SQLite's write lock; return the new expiries by job id.

        While one transaction holds the lock no heartbeat, of any worker in any process,
        can extend a lease, so a handler holding it past a visibility timeout would let
        live jobs be recovered and started a second time once it commits. Run inside that
        transaction just before it commits: leases that were live when it took the lock
        end ``held_seconds`` later, and at least a second after the commit, so heartbeats
        that waited for the lock get in first. SQLite only (PostgreSQL locks rows, not the
        database).
        """
        now = self._clock.now()
        locked_at = now - timedelta(seconds=held_seconds)
        floor = now + timedelta(seconds=_LOCK_GRACE_SECONDS)
        rows = conn.execute(
            select(J.id, J.lease_expires_at).where(
                J.status == "leased", J.lease_expires_at > locked_at
            )
        ).all()
        moved = {
            row.id: max(row.lease_expires_at + timedelta(seconds=held_seconds), floor)
            for row in rows
        }
        if moved:
            conn.execute(
                _CREDIT,
                [{"b_id": job_id, "b_expires": expires} for job_id, expires in moved.items()],
            )
        return moved

    def complete_many(
        self, jobs: Sequence[LeasedJob], *, conn: Connection | None = None
    ) -> list[int]:
        """Complete leased jobs with no result; return the ids whose lease was lost (not
        completed). One statement per distinct try number (one in the usual batch)."""
        if not jobs:
            return []
        now = self._clock.now()
        done: set[int] = set()
        for attempts, group in _by_attempts(jobs).items():
            params = {**lease_params(group), "try_number": attempts, "now": now}
            if conn is not None:
                done.update(conn.execute(settle_statement(conn.dialect.name), params).scalars())
            else:
                with self._db.write() as own:
                    done.update(own.execute(settle_statement(own.dialect.name), params).scalars())
        return [j.id for j in jobs if j.id not in done]

    def _apply(
        self, job: LeasedJob, stmt: Any, session: Session | Connection | None, action: str
    ) -> None:
        if session is not None:
            # The caller's transaction: translate driver errors (e.g. a result JSONB refuses)
            # so a worker treats them as a failed try instead of losing its batch.
            with translate_db_errors(self._db.settings):
                changed = session.execute(stmt).rowcount  # type: ignore[attr-defined]
        else:
            with self._db.write() as conn:
                changed = conn.execute(stmt).rowcount
        if not changed:
            raise _lost(job, action)

    # -- administration ------------------------------------------------------------------

    def get(self, job_id: int) -> Job:
        """The job with ``job_id``.

        Raises:
            NotFoundError: no such job.
        """
        _check_job_id(job_id)
        with self._db.connect() as conn:
            row = conn.execute(select(*JOB_COLUMNS).where(J.id == job_id)).first()
        if row is None:
            raise NotFoundError(f"job {job_id!r} does not exist")
        return _job(row)

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending, leased or failed job (a running handler's completion is then
        refused with LeaseLost).

        Raises:
            NotFoundError: no such job. JobStateError: the job already completed or was
                cancelled.
        """
        return self._transition(
            job_id, ("pending", "leased", "failed"), "cancel", status="cancelled"
        )

    def retry(self, job_id: int) -> Job:
        """Put a failed (dead-lettered) job back in line with its attempts reset.

        Raises:
            NotFoundError: no such job. JobStateError: the job is not failed.
        """
        return self._transition(
            job_id,
            ("failed",),
            "retry",
            status="pending",
            attempts=0,
            stop_reason=None,
            available_at=self._clock.now(),
        )

    def _transition(self, job_id: int, allowed: tuple[str, ...], action: str, **values: Any) -> Job:
        _check_job_id(job_id)
        now = self._clock.now()
        with self._db.write() as conn:
            row = conn.execute(
                update(J)
                .where(J.id == job_id, J.status.in_(allowed))
                .values(
                    lease_token=None,
                    leased_by=None,
                    lease_expires_at=None,
                    updated_at=now,
                    **values,
                )
                .returning(*JOB_COLUMNS)
            ).first()
            if row is None:
                current = conn.execute(select(J.status).where(J.id == job_id)).scalar()
        if row is not None:
            return _job(row)
        if current is None:
            raise NotFoundError(f"job {job_id!r} does not exist")
        raise JobStateError(
            f"cannot {action} job {job_id}: it is {current}; {action} applies to "
            f"{' or '.join(allowed)} jobs"
        )

    def list(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> JobPage:
        """Jobs newest first, optionally by ``status`` and ``type``; pages by ``cursor``."""
        if status is not None and status not in JOB_STATUSES:
            raise InvalidInputError(
                f"unknown job status {status!r}; use one of {', '.join(JOB_STATUSES)}"
            )
        limit = check_int("limit", limit, low=1, high=_MAX_BATCH)
        if cursor is not None:
            cursor = check_int(
                "cursor", cursor, low=1, high=INT64_MAX, hint=" (the next_cursor of a page)"
            )
        if type is not None:
            check_text("type", type, max_length=128)
        stmt = select(*JOB_COLUMNS).order_by(J.id.desc()).limit(limit + 1)
        if status is not None:
            stmt = stmt.where(J.status == status)
        if type is not None:
            stmt = stmt.where(J.type == type)
        if cursor is not None:
            stmt = stmt.where(J.id < int(cursor))
        with self._db.connect() as conn:
            rows = conn.execute(stmt).all()
        items = [_job(row) for row in rows[:limit]]
        return JobPage(items, items[-1].id if len(rows) > limit else None)

    def stats(self) -> QueueStats:
        """Counts by type and status, and how long the oldest ready job has waited."""
        now = self._clock.now()
        with self._db.connect() as conn:
            grouped = conn.execute(
                select(J.type, J.status, func.count()).group_by(J.type, J.status)
            ).all()
            oldest = conn.execute(
                select(func.min(J.available_at)).where(J.status == "pending", J.available_at <= now)
            ).scalar()
        counts: dict[str, dict[str, int]] = {}
        for job_type, status, count in grouped:
            counts.setdefault(job_type, {})[status] = int(count)
        age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
        return QueueStats(counts, age)

    def waiting_retry(self, types: str | Sequence[str] | None = None) -> int:
        """How many pending jobs (of ``types``; ``None``: any) failed before and wait for
        another try: retries scheduled for later, and dead letters put back in line."""
        wanted = _types(types)
        stmt = (
            select(func.count())
            .select_from(J)
            .where(J.status == "pending", J.last_error.is_not(None))
        )
        if wanted is not None:
            stmt = stmt.where(J.type.in_(wanted))
        with self._db.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def purge(
        self, *, completed_before: datetime, statuses: Sequence[str] = ("completed", "cancelled")
    ) -> int:
        """Delete finished jobs last updated before ``completed_before``; return how many."""
        cutoff = check_datetime("completed_before", completed_before)
        unknown = [s for s in statuses if s not in ("completed", "cancelled", "failed")]
        if unknown:
            raise InvalidInputError(
                f"purge removes only completed, cancelled or failed jobs, not {unknown!r}"
            )
        with self._db.write() as conn:
            return int(
                conn.execute(
                    delete(J).where(J.status.in_(statuses), J.updated_at < cutoff)
                ).rowcount
            )


def _claim(
    conn: Connection,
    typed: bool,
    params: dict[str, Any],
    seconds: float,
    recover: bool,
    settle: Mapping[str, Any],
) -> tuple[list[LeasedJob], list[int]]:
    # Recovery first, so the claim sees (and may take) the jobs it put back in line.
    if recover:
        conn.execute(recover_expired_statement(conn.dialect.name, typed), params)
    lost: list[int] = []
    rows: Sequence[Sequence[Any]]
    if conn.dialect.name == "postgresql":
        rows = run_claim(conn, {**params, **settle}, typed=typed, settle=bool(settle))
        if settle:
            lost = list(rows[0][-1] or ())
            rows = [row for row in rows if row[0] is not None]
    else:
        rows = conn.execute(claim_statement(conn.dialect.name, typed), params).all()
    now, expires, worker_id = params["now"], params["expires"], params["worker_id"]
    leased = sorted(
        (_leased(row, seconds, now, expires, worker_id) for row in rows),
        key=lambda j: (-j.priority, j.available_at, j.id),
    )
    own = [
        {"b_id": j.id, "b_token": j.token, "b_expires": j.lease_expires_at}
        for j in leased
        if j.lease_seconds != seconds
    ]
    if own:  # jobs with a visibility timeout of their own
        conn.execute(OWN_EXPIRY, own)
    return leased, lost


def _check_leased(job: LeasedJob) -> None:
    if not isinstance(job, LeasedJob):
        raise InvalidInputError(
            f"expected the LeasedJob returned by lease(), got {type(job).__name__}"
        )


def _owned(job: LeasedJob) -> Any:
    """An UPDATE of ``job`` that matches only while its lease token is live."""
    _check_leased(job)
    return update(J).where(J.id == job.id, J.lease_token == job.token, J.status == "leased")


def _lost(job: LeasedJob, action: str) -> LeaseLost:
    return LeaseLost(
        f"cannot {action} job {job.id} ({job.type}): its lease is no longer held by this "
        "worker (it expired and was recovered, or the job was cancelled)"
    )


def _replace_expiry(job: LeasedJob, expires: datetime) -> LeasedJob:
    return replace(job, lease_expires_at=expires)


def _types(types: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if types is None:
        return None
    wanted = (types,) if isinstance(types, str) else tuple(types)
    if not wanted:
        raise InvalidInputError("types must name at least one job type (or be None for any)")
    for name in wanted:
        _check_type(name)
    return wanted


def _check_type(name: Any) -> None:
    if not isinstance(name, str) or not _TYPE.match(name):
        raise InvalidInputError(
            f"job type {name!r:.80} is invalid: use 1-128 letters, digits and . _ : / -, "
            "e.g. 'playlist.sync'"
        )


def _spec(item: JobSpec | Mapping[str, Any], max_bytes: int | None = None) -> JobSpec:
    """``item`` as a checked :class:`JobSpec` (see :func:`_checked`)."""
    return _checked(item, max_bytes)[0]


def _checked(
    item: JobSpec | Mapping[str, Any], max_bytes: int | None = None
) -> tuple[JobSpec, str]:
    """``item`` as a checked :class:`JobSpec`, with its payload encoded as JSON."""
    if isinstance(item, Mapping):
        fields = dict(item)
        try:
            item = JobSpec(**fields)
        except TypeError as exc:
            raise InvalidInputError(f"bad job description {fields!r:.200}: {exc}") from exc
    if not isinstance(item, JobSpec):
        raise InvalidInputError(f"expected a JobSpec or a mapping, got {type(item).__name__}")
    _check_type(item.type)
    if item.payload is None:  # as enqueue(type, None): an empty payload
        item = replace(item, payload={})
    priority = check_int("priority", item.priority, high=INT32_MAX, hint=" (higher runs first)")
    if priority is not item.priority:  # e.g. a numpy integer: store a plain int
        item = replace(item, priority=priority)
    if not isinstance(item.payload, Mapping):
        raise InvalidInputError(
            f"payload must be a JSON object (a mapping), got {type(item.payload).__name__}"
        )
    encoded = check_json("payload", item.payload, max_bytes=max_bytes)
    if item.available_at is not None:
        check_datetime("available_at", item.available_at)
    if item.idempotency_key is not None:
        check_text("idempotency_key", item.idempotency_key, max_length=255)
    if item.lease_seconds is not None:
        check_seconds(
            "lease_seconds", item.lease_seconds, high=_MAX_LEASE_SECONDS, hint=" (or None)"
        )
    return item, encoded


def _payload(payload: Mapping[str, Any] | None) -> Mapping[str, Any]:
    # Not ``payload or {}``: an empty list or set must be refused, not stored as {}.
    return {} if payload is None else payload


def _check_job_id(job_id: Any) -> None:
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise InvalidInputError(f"job ids are integers, got {job_id!r}")
    if not 0 < job_id < 2**63:
        raise NotFoundError(f"job {job_id!r} does not exist")


def _row(spec: JobSpec, now: datetime) -> dict[str, Any]:
    return {
        "type": spec.type,
        "payload": dict(spec.payload),
        "priority": spec.priority,
        "status": "pending",
        "attempts": 0,
        "available_at": ensure_utc(spec.available_at) if spec.available_at else now,
        "idempotency_key": spec.idempotency_key,
        "lease_seconds": None if spec.lease_seconds is None else float(spec.lease_seconds),
        "created_at": now,
        "updated_at": now,
    }


def _job(row: Any, *, deduped: bool = False) -> Job:
    return Job(
        id=row.id,
        type=row.type,
        payload=row.payload,
        priority=row.priority,
        status=row.status,
        attempts=row.attempts,
        available_at=row.available_at,
        lease_expires_at=row.lease_expires_at,
        leased_by=row.leased_by,
        idempotency_key=row.idempotency_key,
        last_error=row.last_error,
        stop_reason=row.stop_reason,
        result=row.result,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deduped=deduped,
        lease_seconds=row.lease_seconds,
    )


def _new_job(job_id: int, row: dict[str, Any]) -> Job:
    """The Job just inserted from ``row``, without reading it back."""
    return Job(
        id=job_id,
        type=row["type"],
        payload=row["payload"],
        priority=row["priority"],
        status="pending",
        attempts=0,
        available_at=row["available_at"],
        lease_expires_at=None,
        leased_by=None,
        idempotency_key=None,
        last_error=None,
        stop_reason=None,
        result=None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        lease_seconds=row["lease_seconds"],
    )


def _by_attempts(jobs: Sequence[LeasedJob]) -> dict[int, list[LeasedJob]]:
    groups: dict[int, list[LeasedJob]] = {}
    for job in jobs:
        groups.setdefault(job.attempts, []).append(job)
    return groups


def _leased(
    row: Sequence[Any], seconds: float, now: datetime, expires: datetime, worker_id: str | None
) -> LeasedJob:
    """The job of a claimed row (:data:`CLAIM_COLUMNS`, unpacked by position: per job of a
    batch this is most of the client's work); ``expires`` and ``worker_id`` are what the
    claim stored."""
    job_id, job_type, payload, priority, attempts, token, available, key, own, recovered = row[:10]
    return LeasedJob(
        id=job_id,
        type=job_type,
        payload=payload,
        priority=priority,
        attempts=attempts + 1,
        token=token,
        recovered=bool(recovered),
        lease_expires_at=expires if own is None else now + timedelta(seconds=own),
        available_at=available.astimezone(UTC),
        leased_by=worker_id,
        idempotency_key=key,
        lease_seconds=seconds if own is None else own,
    )


def _error_text(error: str | BaseException) -> str:
    return describe_error(error, _ERROR_LIMIT)
