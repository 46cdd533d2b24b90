"""The queue's SQL, with every dialect-specific statement in one place.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each
other's rows; SQLite has one writer at a time (``BEGIN IMMEDIATE``) and ignores the
locking clause, so the same ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``
serves both. Lease tokens are generated per row by the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Update,
    func,
    insert,
    null,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from harmony.db.models import QueueJobRow

__all__ = [
    "JOB_COLUMNS",
    "bulk_insert",
    "claim_statement",
    "heartbeat_statement",
    "idempotent_insert",
    "jobs_tokens",
    "lease_token",
    "recover_expired_statement",
    "settle_statement",
]

J = QueueJobRow

#: Columns read back for :class:`~harmony.repositories.job_types.Job`.
JOB_COLUMNS = (
    J.id, J.type, J.payload, J.priority, J.status, J.attempts, J.available_at,
    J.lease_expires_at, J.leased_by, J.idempotency_key, J.last_error, J.stop_reason,
    J.result, J.created_at, J.updated_at,
)  # fmt: skip


def lease_token(dialect: str) -> ColumnElement[str]:
    """A fresh random token per row: ``gen_random_uuid()`` or ``randomblob(16)`` in hex."""
    if dialect == "postgresql":
        return func.replace(func.cast(func.gen_random_uuid(), J.lease_token.type), "-", "")
    return func.lower(func.hex(func.randomblob(16)))


def _type_filter(types: Sequence[str] | None) -> list[ColumnElement[bool]]:
    return [J.type.in_(types)] if types else []


def recover_expired_statement(now: datetime, types: Sequence[str] | None) -> Update:
    """Put jobs whose lease expired back in line (their worker is presumed dead).

    Rows another transaction has locked (a completion about to commit) are skipped, not
    waited for: the next lease call looks again.
    """
    expired = (
        select(J.id)
        .where(J.status == "leased", J.lease_expires_at <= now, *_type_filter(types))
        .with_for_update(skip_locked=True)
    )
    return (
        update(J)
        .where(J.id.in_(expired.scalar_subquery()))
        .values(
            status="pending",
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def claim_statement(
    dialect: str,
    *,
    now: datetime,
    expires: datetime,
    types: Sequence[str] | None,
    limit: int,
    worker_id: str | None,
) -> Update:
    """Lease up to ``limit`` ready jobs in lease order (priority, available_at, id)."""
    picked = (
        select(J.id)
        .where(J.status == "pending", J.available_at <= now, *_type_filter(types))
        .order_by(J.priority.desc(), J.available_at, J.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (
        update(J)
        .where(J.id.in_(picked.scalar_subquery()))
        .values(
            status="leased",
            attempts=J.attempts + 1,
            lease_token=lease_token(dialect),
            leased_by=worker_id,
            lease_expires_at=expires,
            updated_at=now,
        )
        .returning(
            J.id, J.type, J.payload, J.priority, J.attempts, J.lease_token,
            J.lease_expires_at, J.available_at, J.leased_by, J.idempotency_key,
        )  # fmt: skip
    )


def idempotent_insert(dialect: str, values: dict[str, Any], *, rearm: bool) -> Insert:
    """``INSERT`` that, on an existing idempotency key, re-arms a finished job or does nothing.

    Re-arming (``rearm=True``) applies only to jobs that completed or were cancelled; a
    pending, leased or failed job with the key is left alone (the caller then reads it).
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(J).values(**values)
    if not rearm:
        return stmt.on_conflict_do_nothing(index_elements=[J.idempotency_key]).returning(
            *JOB_COLUMNS
        )
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[J.idempotency_key],
        set_={
            "type": excluded.type,
            "payload": excluded.payload,
            "priority": excluded.priority,
            "available_at": excluded.available_at,
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


def settle_statement(pairs: Sequence[tuple[int, str]], now: datetime) -> Update:
    """Complete many leased jobs (with no result) in one statement; returns the ids settled.

    Only rows whose lease token still matches are touched, so a lost lease is never
    completed; the caller compares the returned ids with what it asked for.
    """
    return (
        update(J)
        .where(tuple_(J.id, J.lease_token).in_(pairs), J.status == "leased")
        .values(
            status="completed",
            result=null(),
            lease_token=None,
            leased_by=None,
            lease_expires_at=None,
            updated_at=now,
        )
        .returning(J.id)
    )


_PG_BULK_INSERT = text(
    """
    INSERT INTO queue_jobs
        (type, payload, priority, status, attempts, available_at, created_at, updated_at)
    SELECT u.type, u.payload::jsonb, u.priority, 'pending', 0, u.available_at, :now, :now
    FROM unnest(
        CAST(:types AS text[]), CAST(:payloads AS text[]), CAST(:priorities AS integer[]),
        CAST(:available AS timestamptz[])
    ) WITH ORDINALITY AS u(type, payload, priority, available_at, ord)
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
        ids = conn.execute(
            _PG_BULK_INSERT,
            {
                "types": [r["type"] for r in rows],
                "payloads": [json.dumps(r["payload"], separators=(",", ":")) for r in rows],
                "priorities": [r["priority"] for r in rows],
                "available": [r["available_at"] for r in rows],
                "now": now,
            },
        ).scalars().all()
        # Rows are inserted in ``ord`` order, so the sequence hands out ascending ids.
        return sorted(ids)
    stmt = insert(J).returning(J.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, list(rows)).scalars())


def jobs_tokens(jobs: Sequence[Any]) -> list[tuple[int, str]]:
    """``(id, token)`` pairs of leased jobs."""
    return [(job.id, job.token) for job in jobs]


def heartbeat_statement(pairs: Sequence[tuple[int, str]], now: datetime, expires: datetime) -> Update:
    """Extend live leases; rows locked by another transaction are skipped, not waited for."""
    live = (
        select(J.id)
        .where(tuple_(J.id, J.lease_token).in_(pairs), J.status == "leased")
        .with_for_update(skip_locked=True)
    )
    return (
        update(J)
        .where(J.id.in_(live.scalar_subquery()))
        .values(lease_expires_at=expires, updated_at=now)
        .returning(J.id)
    )
