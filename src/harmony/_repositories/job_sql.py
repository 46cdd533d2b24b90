"""The queue's SQL, with every dialect-specific statement in one place.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each
other's rows (``UPDATE ... WHERE id = ANY(ARRAY(SELECT ... LIMIT n FOR UPDATE SKIP
LOCKED)) RETURNING``, run on the driver: see :func:`run_claim`); SQLite has one writer at
a time (``BEGIN IMMEDIATE``) and ignores the locking clause (``UPDATE ... WHERE id IN
(SELECT ... LIMIT n) RETURNING``). Lease tokens are generated per row by the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Update,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg as _PGDialect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import Insert

from harmony._db.models import QueueJobRow

__all__ = [
    "CLAIM_COLUMNS",
    "EXPIRED_LEASE_ERROR",
    "JOB_COLUMNS",
    "OWN_EXPIRY",
    "bulk_insert",
    "claim_statement",
    "heartbeat_statement",
    "idempotent_insert",
    "insert_one_postgres",
    "lease_params",
    "lease_token",
    "mark_started_statement",
    "recover_expired_statement",
    "run_claim",
    "settle_statement",
]

J = QueueJobRow

#: Columns read back for :class:`~harmony._repositories.job_types.Job`.
JOB_COLUMNS = (
    J.id,
    J.type,
    J.payload,
    J.priority,
    J.status,
    J.attempts,
    J.available_at,
    J.lease_expires_at,
    J.leased_by,
    J.idempotency_key,
    J.last_error,
    J.stop_reason,
    J.result,
    J.created_at,
    J.updated_at,
    J.lease_seconds,
)


#: ``last_error`` of a job put back in line because its lease expired. A job carrying it is
#: *recovered*: its last worker died (or stalled) without settling it, and nothing says
#: whether its handler had started, so a worker records the next try before starting it.
#: The text cannot come from a handler's exception (``TypeName: message`` has no space
#: before the colon).
EXPIRED_LEASE_ERROR = (
    "lease expired: the worker holding the job stopped (killed, crashed or stalled) "
    "before settling it"
)
_RECOVERED = J.last_error == literal_column("'" + EXPIRED_LEASE_ERROR + "'")

#: What a claim returns of each leased row, in this order (:func:`run_claim`'s tuples).
#: The expiry and the worker id are what the caller bound, so they are not read back.
CLAIM_COLUMNS = (
    J.id,
    J.type,
    J.payload,
    J.priority,
    J.attempts,
    J.lease_token,
    J.available_at,
    J.idempotency_key,
    J.lease_seconds,
    _RECOVERED.label("recovered"),
)


def lease_token(dialect: str) -> ColumnElement[str]:
    """A fresh random token per row: ``gen_random_uuid()`` or ``randomblob(16)`` in hex."""
    if dialect == "postgresql":
        return func.replace(
            func.cast(func.gen_random_uuid(), J.lease_token.type),
            literal_column("'-'"),
            literal_column("''"),
        )
    return func.lower(func.hex(func.randomblob(16)))


#: Status tests written as SQL literals, not bound values, so the planner can match them
#: with the partial indexes' predicates (it cannot prove a bound value equals 'pending').
PENDING = J.status == literal_column("'pending'")
LEASED = J.status == literal_column("'leased'")


def _types_bound(dialect: str, typed: bool) -> list[ColumnElement[bool]]:
    """Rows of the bound list ``types``: one array on PostgreSQL (the statement's text stays
    the same for any number of types, so it is prepared once), expanding ``IN`` on SQLite."""
    if not typed:
        return []
    if dialect == "postgresql":
        return [J.type == any_(cast(bindparam("types"), ARRAY(String())))]
    return [J.type.in_(bindparam("types", expanding=True))]


def _now() -> Any:
    return bindparam("now", type_=J.updated_at.type)


def _recover_expired(dialect: str, typed: bool) -> Update:
    """Put jobs whose lease expired back in line (their worker is presumed dead).

    Built once; bind ``now`` (and ``types`` when ``typed``). Rows another transaction has
    locked (a completion about to commit) are skipped, not waited for: the next lease call
    looks again.
    """
    expired = (
        select(J.id)
        .where(LEASED, J.lease_expires_at <= _now(), *_types_bound(dialect, typed))
        .with_for_update(skip_locked=True)
    )
    return (
        update(J)
        .where(_among(expired, dialect))
        .values(
            status="pending",
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            last_error=EXPIRED_LEASE_ERROR,
            updated_at=_now(),
        )
    )


def _among(ids: Select[Any], dialect: str) -> ColumnElement[bool]:
    """Rows whose id the locking subquery ``ids`` picks.

    On PostgreSQL as ``id = ANY(ARRAY(subquery))``: the subquery runs once (an InitPlan)
    and the rows are fetched by primary key. The planner turns ``id IN (subquery)`` into a
    hash semi-join over a sequential scan of the whole table, so every lease read every
    completed job still stored (measured: 10,000 rows took most of a 4 ms claim).
    SQLite looks each id up by primary key either way.
    """
    if dialect == "postgresql":
        return J.id == any_(func.array(ids.scalar_subquery()))
    return J.id.in_(ids.scalar_subquery())


def _claim(dialect: str, typed: bool) -> Update:
    """Lease up to ``limit`` ready jobs in lease order (priority, available_at, id).

    Built once per dialect; bind ``now``, ``expires``, ``limit``, ``worker_id`` (and
    ``types`` when ``typed``), so SQLAlchemy's statement cache and the server-side prepared
    statement are reused on every lease instead of building and hashing a new statement.

    Leasing charges no attempt: a try is counted when it is settled, or when a worker
    records that its handler started (``attempts`` is then set to the try's number), so
    batch-mates that never ran are never charged.
    """
    picked = (
        select(J.id)
        .where(PENDING, J.available_at <= _now(), *_types_bound(dialect, typed))
        .order_by(J.priority.desc(), J.available_at, J.id)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True)
    )
    return (
        update(J)
        .where(_among(picked, dialect))
        .values(
            # Constants as SQL literals, not bound values: the statement is also used as a
            # CTE (_settle_and_claim), where anonymous bound values are not
            # carried through SQLAlchemy's statement cache.
            status=literal_column("'leased'"),
            lease_token=lease_token(dialect),
            leased_by=bindparam("worker_id", type_=J.leased_by.type),
            lease_expires_at=bindparam("expires", type_=J.lease_expires_at.type),
            updated_at=_now(),
        )
        .returning(*CLAIM_COLUMNS)
    )


def idempotent_insert(dialect: str, values: dict[str, Any], *, rearm: bool) -> Insert:
    """``INSERT`` that, on an existing idempotency key, re-arms a finished job or does nothing.

    Re-arming (``rearm=True``) applies only to jobs that completed or were cancelled; a
    pending, leased or failed job with the key is left alone (the caller then reads it).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(J).values(**values)
    if not rearm:
        return stmt.on_conflict_do_nothing(
            index_elements=[J.idempotency_key], index_where=J.idempotency_key.is_not(None)
        ).returning(*JOB_COLUMNS)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[J.idempotency_key],
        index_where=J.idempotency_key.is_not(None),
        set_={
            "type": excluded.type,
            "payload": excluded.payload,
            "priority": excluded.priority,
            "available_at": excluded.available_at,
            "lease_seconds": excluded.lease_seconds,
            "status": "pending",
            "attempts": 0,
            "lease_token": None,
            "leased_by": None,
            "lease_expires_at": None,
            "last_error": None,
            "stop_reason": None,
            "result": null(),
            "updated_at": excluded.updated_at,
        },
        where=J.status.in_(("completed", "cancelled")),
    ).returning(*JOB_COLUMNS)


def _live(dialect: str) -> list[ColumnElement[bool]]:
    """Rows whose ``(id, lease_token)`` is among the bound lists ``ids`` and ``tokens``.

    Matching ids and tokens separately is exact, because a token is generated for one row
    only (128 random bits). On PostgreSQL two arrays and ``= ANY`` make one short statement
    whatever the batch size: compiled once, prepared once by the server, planned as one
    index scan. A row-value ``IN`` of 100 pairs was ~40% of the worker's time: 200 bound
    literals to render, convert (psycopg cannot cache a statement that long) and plan as a
    100-way OR. SQLite gets expanding ``IN`` lists.
    """
    if dialect == "postgresql":
        return [
            J.id == any_(cast(bindparam("ids"), ARRAY(BigInteger()))),
            J.lease_token == any_(cast(bindparam("tokens"), ARRAY(String()))),
        ]
    return [
        J.id.in_(bindparam("ids", expanding=True)),
        J.lease_token.in_(bindparam("tokens", expanding=True)),
    ]


def _settle(dialect: str) -> Update:
    """Complete many leased jobs (with no result) in one statement; returns the ids settled.

    Bind ``ids``, ``tokens`` (see :func:`lease_params`), ``try_number`` (the try number of
    every job bound, which the caller groups by) and ``now``. Only rows whose lease token
    still matches are touched, so a lost lease is never completed; the caller compares
    the returned ids with what it asked for.
    """
    return (
        update(J)
        .where(*_live(dialect), LEASED)
        .values(
            status=literal_column("'completed'"),
            # Not named "attempts": a bound name equal to a column's would also be set by
            # every other UPDATE compiled into the same statement (settle_and_claim).
            attempts=bindparam("try_number", type_=Integer()),
            result=null(),
            lease_token=null(),
            leased_by=null(),
            lease_expires_at=null(),
            updated_at=_now(),
        )
        .returning(J.id)
    )


_PG_BULK_INSERT = text(
    """
    INSERT INTO queue_jobs
        (type, payload, priority, status, attempts, available_at, lease_seconds,
         created_at, updated_at)
    SELECT u.type, u.payload::jsonb, u.priority, 'pending', 0, u.available_at,
           u.lease_seconds, :now, :now
    FROM unnest(
        CAST(:types AS text[]), CAST(:payloads AS text[]), CAST(:priorities AS integer[]),
        CAST(:available AS timestamptz[]), CAST(:lease_seconds AS double precision[])
    ) WITH ORDINALITY AS u(type, payload, priority, available_at, lease_seconds, ord)
    ORDER BY u.ord
    RETURNING id
    """
)


def bulk_insert(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> list[int]:
    """Insert jobs (without idempotency keys) in one statement; return their ids in order.

    PostgreSQL gets four array parameters and ``unnest`` (a short statement however many
    rows, so the driver parses it once); SQLite a multi-row ``INSERT ... RETURNING``.
    """
    if conn.dialect.name == "postgresql":
        ids = (
            conn.execute(
                _PG_BULK_INSERT,
                {
                    "types": [r["type"] for r in rows],
                    "payloads": [json.dumps(r["payload"], separators=(",", ":")) for r in rows],
                    "priorities": [r["priority"] for r in rows],
                    "available": [r["available_at"] for r in rows],
                    "lease_seconds": [r["lease_seconds"] for r in rows],
                    "now": now,
                },
            )
            .scalars()
            .all()
        )
        # Rows are inserted in ``ord`` order, so the sequence hands out ascending ids.
        return sorted(ids)
    stmt = insert(J).returning(J.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, list(rows)).scalars())


_PG_INSERT_ONE = (
    "INSERT INTO queue_jobs (type, payload, priority, status, attempts, available_at, "
    "lease_seconds, created_at, updated_at) "
    "VALUES (%s, %s::jsonb, %s, 'pending', 0, %s, %s, %s, %s) RETURNING id"
)


def insert_one_postgres(
    raw: PoolProxiedConnection, dialect: Dialect, row: dict[str, Any], payload_json: str
) -> int:
    """Insert one job (no idempotency key) on PostgreSQL; return its id.

    The hot path of ``ctx.jobs.enqueue``: ``raw``'s driver, in autocommit mode (see
    ``Database.parked_autocommit``), runs one prepared ``INSERT ... RETURNING id``, so an
    enqueue is one round trip and the payload is sent as the JSON text validation
    already produced. Going through SQLAlchemy's Connection cost about as much client
    time again as the round trip itself (execution context, result metadata, a second
    JSON encoding). Driver errors come back as SQLAlchemy's ``DBAPIError`` (for
    ``translate_db_errors``), and a connection that broke is invalidated.
    """
    params = (
        row["type"],
        payload_json,
        row["priority"],
        row["available_at"],
        row["lease_seconds"],
        row["created_at"],
        row["updated_at"],
    )
    with _driver_errors(dialect, raw, _PG_INSERT_ONE, params, raw.invalidate):
        driver: Any = raw.driver_connection
        return int(driver.execute(_PG_INSERT_ONE, params, prepare=True).fetchone()[0])


@contextmanager
def _driver_errors(
    dialect: Dialect,
    raw: PoolProxiedConnection,
    sql: str,
    params: Any,
    invalidate: Callable[[BaseException], None],
) -> Iterator[None]:
    """Around a statement run on the driver itself: its errors come back as SQLAlchemy's
    ``DBAPIError`` (what ``translate_db_errors`` turns into harmony errors), and a
    connection that broke is invalidated (``invalidate``) so the pool drops it."""
    dbapi_error: Any = dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        invalidated = dialect.is_disconnect(exc, raw.dbapi_connection, None)
        if invalidated:
            invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dbapi_error, connection_invalidated=invalidated, dialect=dialect
        ) from exc


#: Gives leased jobs with a visibility timeout of their own the expiry it asks for
#: (executemany: bind ``b_id``, ``b_token``, ``b_expires``).
OWN_EXPIRY = (
    update(J)
    .where(J.id == bindparam("b_id"), J.lease_token == bindparam("b_token"))
    .values(lease_expires_at=bindparam("b_expires", type_=J.lease_expires_at.type))
)


def lease_params(jobs: Sequence[Any]) -> dict[str, list[Any]]:
    """The ``ids`` and ``tokens`` bind values of leased jobs."""
    return {"ids": [job.id for job in jobs], "tokens": [job.token for job in jobs]}


def _mark_started(dialect: str) -> Update:
    """Record that the handlers of live leased jobs started: ``attempts`` becomes the try's
    number, so a worker that dies while running them has charged the try. Rows locked by
    another transaction are skipped. Bind ``ids``, ``tokens``, ``attempts`` and ``now``."""
    live = select(J.id).where(*_live(dialect), LEASED).with_for_update(skip_locked=True)
    return (
        update(J)
        .where(J.id.in_(live.scalar_subquery()))
        .values(attempts=bindparam("attempts", type_=Integer()), updated_at=_now())
        .returning(J.id)
    )


def _heartbeat(dialect: str) -> Update:
    """Extend live leases; rows locked by another transaction are skipped, not waited for.

    Bind ``ids``, ``tokens``, ``now`` and ``expires``.
    """
    live = select(J.id).where(*_live(dialect), LEASED).with_for_update(skip_locked=True)
    return (
        update(J)
        .where(J.id.in_(live.scalar_subquery()))
        .values(
            lease_expires_at=bindparam("expires", type_=J.lease_expires_at.type),
            updated_at=_now(),
        )
        .returning(J.id)
    )


# Every statement above is built once, at import (no I/O, immutable constructs), and looked
# up by dialect and shape: SQLAlchemy's compiled cache and the server's prepared statement
# are then reused on every call.
_DIALECTS = ("postgresql", "sqlite")
_RECOVER = MappingProxyType(
    {(d, typed): _recover_expired(d, typed) for d in _DIALECTS for typed in (False, True)}
)
_CLAIM = MappingProxyType(
    {(d, typed): _claim(d, typed) for d in _DIALECTS for typed in (False, True)}
)
_SETTLE = MappingProxyType({d: _settle(d) for d in _DIALECTS})
_HEARTBEAT = MappingProxyType({d: _heartbeat(d) for d in _DIALECTS})
_MARK_STARTED = MappingProxyType({d: _mark_started(d) for d in _DIALECTS})


def _settle_and_claim(typed: bool) -> Select[Any]:
    """PostgreSQL: complete a batch (as :func:`settle_statement`) and lease the next (as
    :func:`claim_statement`) in one statement, so a busy worker commits once per batch
    (one WAL flush, one round trip) instead of twice. The two touch different rows
    (leased ones with our tokens; pending ones). Always one row at least: the claimed
    jobs (all NULL when none) each with ``lost_ids``, the ids bound that were not
    completed (their lease was lost): usually an empty array, where the ids completed
    would repeat the whole batch on every row (measured: a third of the statement's time
    went into sending and parsing them)."""
    settled = _settle("postgresql").cte("settled")
    claimed = _claim("postgresql", typed).cte("claimed")
    asked = select(func.unnest(cast(bindparam("ids"), ARRAY(BigInteger()))))
    lost = asked.except_(select(settled.c.id)).scalar_subquery()
    done = select(func.array(lost).label("lost_ids")).subquery("done")
    return select(claimed, done.c.lost_ids).select_from(done.outerjoin(claimed, true()))


_PG_DIALECT: Dialect = _PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy's own class
#: The PostgreSQL claims as the psycopg driver takes them (``%(name)s`` placeholders), by
#: ``(typed, settle)``. Compiling needs the dialect only, not the driver.
_PG_CLAIM_TEXT = MappingProxyType(
    {
        (typed, settle): str(
            (_settle_and_claim(typed) if settle else _claim("postgresql", typed)).compile(
                dialect=_PG_DIALECT
            )
        )
        for typed in (False, True)
        for settle in (False, True)
    }
)


def run_claim(
    conn: Connection, params: Mapping[str, Any], *, typed: bool, settle: bool
) -> list[tuple[Any, ...]]:
    """PostgreSQL: lease ready jobs (with ``settle``, complete the bound ones first, as
    :func:`_settle_and_claim`) on the driver connection under ``conn``.

    The worker's hottest statement, run without SQLAlchemy's per-execution work (an
    execution context, result rows, a type processor per value), which took a third of
    the lease's time (1.8 of 5.3 ms per batch of 100). Returns
    tuples in :data:`CLAIM_COLUMNS` order (plus ``lost_ids`` with ``settle``); timestamps
    come in the session's time zone. Bind ``now``, ``expires``, ``limit``,
    ``worker_id``, ``types`` when ``typed`` (a list) and, with ``settle``, ``ids``,
    ``tokens`` and ``try_number``. Driver errors come back as SQLAlchemy's
    ``DBAPIError``; a broken connection is invalidated.
    """
    sql = _PG_CLAIM_TEXT[(typed, settle)]
    raw = conn.connection
    driver: Any = raw.driver_connection
    with _driver_errors(conn.dialect, raw, sql, params, conn.invalidate):
        rows: list[tuple[Any, ...]] = driver.execute(sql, params).fetchall()
    return rows


def recover_expired_statement(dialect: str, typed: bool) -> Update:
    """Put jobs whose lease expired back in line; bind ``now`` (and ``types`` when ``typed``)."""
    return _RECOVER[(dialect, typed)]


def claim_statement(dialect: str, typed: bool) -> Update:
    """Lease ready jobs in lease order; bind ``now``, ``expires``, ``limit``, ``worker_id``
    (and ``types`` when ``typed``)."""
    return _CLAIM[(dialect, typed)]


def settle_statement(dialect: str) -> Update:
    """Complete leased jobs with no result; bind ``ids``, ``tokens``, ``try_number`` and ``now``."""
    return _SETTLE[dialect]


def heartbeat_statement(dialect: str) -> Update:
    """Extend live leases; bind ``ids``, ``tokens``, ``now`` and ``expires``."""
    return _HEARTBEAT[dialect]


def mark_started_statement(dialect: str) -> Update:
    """Charge the tries of live leased jobs now; bind ``ids``, ``tokens``, ``attempts``, ``now``."""
    return _MARK_STARTED[dialect]
