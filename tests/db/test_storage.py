"""Storage on both backends: aware UTC timestamps, JSON, constraints, engine options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from harmony import DatabaseError, HarmonyContext
from harmony._db.models import (
    ActivityEventRow,
    PlaylistRow,
    PlaylistTrackRow,
    QueueJobRow,
    TrackRow,
)
from harmony.testing.postgres import temporary_schema
from harmony.testing.pytest_plugin import require_postgres_url

T0 = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _job(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "playlist.sync",
        "payload": {"provider": "spotify"},
        "available_at": T0,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    return values


def test_timestamps_come_back_as_aware_utc_whatever_zone_went_in(
    harmony_context: HarmonyContext,
) -> None:
    plus_five = timezone(timedelta(hours=5))
    written = T0.astimezone(plus_five)
    with harmony_context.db.transaction() as tx:
        tx.execute(
            insert(ActivityEventRow).values(timestamp=written, type="t.z", status="ok", details={})
        )
    with harmony_context.db.connect() as conn:
        stmt = select(ActivityEventRow.timestamp).where(ActivityEventRow.type == "t.z")
        (read,) = conn.execute(stmt).scalars()
    assert read == T0
    assert read.tzinfo == UTC
    assert read.microsecond == T0.microsecond


def test_naive_timestamps_are_refused(harmony_context: HarmonyContext) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with harmony_context.db.transaction() as tx:
            tx.execute(
                insert(ActivityEventRow).values(
                    timestamp=datetime(2026, 1, 1), type="t.z", status="ok", details={}
                )
            )


def test_timestamp_order_is_time_order_across_zones(harmony_context: HarmonyContext) -> None:
    minus_eight = timezone(timedelta(hours=-8))
    # Local text of the later instant sorts first: storage must normalise to UTC.
    earlier, later = T0, (T0 + timedelta(minutes=1)).astimezone(minus_eight)
    with harmony_context.db.transaction() as tx:
        for when, name in ((later, "later"), (earlier, "earlier")):
            tx.execute(
                insert(ActivityEventRow).values(
                    timestamp=when, type=f"t.{name}", status="ok", details={}
                )
            )
    with harmony_context.db.connect() as conn:
        types = (
            conn.execute(
                select(ActivityEventRow.type)
                .where(ActivityEventRow.type.like("t.%"))
                .order_by(ActivityEventRow.timestamp)
            )
            .scalars()
            .all()
        )
    assert types == ["t.earlier", "t.later"]


def test_json_round_trips_nested_unicode_values(harmony_context: HarmonyContext) -> None:
    payload = {
        "name": "Sigur Rós – Hoppípolla",
        "n": [1, 2.5, None, True],
        "deep": {"k": {"v": "✓"}},
    }
    with harmony_context.db.transaction() as tx:
        tx.execute(insert(QueueJobRow).values(**_job(payload=payload)))
    with harmony_context.db.connect() as conn:
        assert conn.execute(select(QueueJobRow.payload)).scalar_one() == payload


def _library(ctx: HarmonyContext) -> None:
    with ctx.db.transaction() as tx:
        tx.execute(
            insert(PlaylistRow).values(
                id=1, provider="p", provider_id="pl", name="Mix", created_at=T0, updated_at=T0
            )
        )
        for tid in (1, 2):
            tx.execute(
                insert(TrackRow).values(
                    id=tid,
                    provider="p",
                    provider_id=f"t{tid}",
                    title=f"T{tid}",
                    artists=["A"],
                    created_at=T0,
                    updated_at=T0,
                )
            )


def test_playlist_tracks_keep_order_and_allow_duplicates_by_position(
    harmony_context: HarmonyContext,
) -> None:
    _library(harmony_context)
    order = [2, 1, 2, 2]
    with harmony_context.db.transaction() as tx:
        for position, track_id in enumerate(order):
            tx.execute(
                insert(PlaylistTrackRow).values(playlist_id=1, position=position, track_id=track_id)
            )
    with harmony_context.db.connect() as conn:
        stmt = (
            select(PlaylistTrackRow.track_id)
            .where(PlaylistTrackRow.playlist_id == 1)
            .order_by(PlaylistTrackRow.position)
        )
        assert conn.execute(stmt).scalars().all() == order


def test_foreign_keys_are_enforced(harmony_context: HarmonyContext) -> None:
    with pytest.raises(DatabaseError) as info, harmony_context.db.transaction() as tx:
        tx.execute(insert(PlaylistTrackRow).values(playlist_id=404, position=0, track_id=404))
    assert isinstance(info.value.__cause__, IntegrityError)


def test_deleting_a_playlist_cascades_to_its_slots(harmony_context: HarmonyContext) -> None:
    _library(harmony_context)
    with harmony_context.db.transaction() as tx:
        tx.execute(insert(PlaylistTrackRow).values(playlist_id=1, position=0, track_id=1))
        tx.execute(text("DELETE FROM playlists WHERE id = 1"))
    with harmony_context.db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM playlist_tracks")).scalar_one() == 0


@pytest.mark.parametrize(
    "bad",
    [{"priority": -1}, {"attempts": -1}, {"status": "exploded"}],
    ids=["negative-priority", "negative-attempts", "unknown-status"],
)
def test_queue_job_constraints_reject_bad_rows(
    harmony_context: HarmonyContext, bad: dict[str, Any]
) -> None:
    with pytest.raises(DatabaseError) as info, harmony_context.db.transaction() as tx:
        tx.execute(insert(QueueJobRow).values(**_job(**bad)))
    assert isinstance(info.value.__cause__, IntegrityError)


def test_idempotency_key_is_unique_only_when_set(harmony_context: HarmonyContext) -> None:
    with harmony_context.db.transaction() as tx:
        tx.execute(insert(QueueJobRow).values(**_job()))
        tx.execute(insert(QueueJobRow).values(**_job()))  # two NULL keys are fine
        tx.execute(insert(QueueJobRow).values(**_job(idempotency_key="daily-1")))
    with pytest.raises(DatabaseError) as info, harmony_context.db.transaction() as tx:
        tx.execute(insert(QueueJobRow).values(**_job(idempotency_key="daily-1")))
    assert isinstance(info.value.__cause__, IntegrityError)


def test_a_failed_transaction_leaves_nothing_behind(harmony_context: HarmonyContext) -> None:
    with pytest.raises(RuntimeError), harmony_context.db.transaction() as tx:
        tx.execute(insert(QueueJobRow).values(**_job()))
        raise RuntimeError("handler failed")
    with harmony_context.db.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM queue_jobs")).scalar_one() == 0


CLAIM = (
    "SELECT id FROM queue_jobs WHERE status = 'pending' AND type IN ('a', 'b') "
    "AND available_at <= :now ORDER BY priority DESC, available_at, id LIMIT 10"
)


def test_claim_query_reads_the_claim_index_in_order(harmony_context: HarmonyContext) -> None:
    with harmony_context.db.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = " ".join(
                str(r) for r in conn.execute(text("EXPLAIN QUERY PLAN " + CLAIM), {"now": T0})
            )
            assert "ix_queue_jobs_claim" in plan
        else:
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be scanned
            plan = " ".join(
                r[0]
                for r in conn.execute(
                    text("EXPLAIN " + CLAIM + " FOR UPDATE SKIP LOCKED"), {"now": T0}
                )
            )
            assert "Index Scan using ix_queue_jobs_claim" in plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan  # no sort step: index order


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Any) -> None:
    with HarmonyContext.from_url(
        f"sqlite:///{tmp_path}/h.db", settings={"sqlite_busy_timeout_ms": 1234}
    ) as ctx:
        with ctx.db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234


def test_in_memory_sqlite_shares_one_database_across_checkouts() -> None:
    with HarmonyContext.from_url("sqlite://") as ctx:
        ctx.migrate()
        ctx.activity.record("mem.ok", "ok")
        assert [e.type for e in ctx.activity.list(type="mem.ok")] == ["mem.ok"]


def test_postgres_column_types_and_index_from_the_catalog() -> None:
    url = require_postgres_url()
    with (
        temporary_schema(url) as schema,
        HarmonyContext.from_url(url, settings={"database_schema": schema}) as ctx,
    ):
        ctx.migrate()
        with ctx.db.connect() as conn:
            types = dict(
                conn.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = :s AND table_name = 'activity_events'"
                    ),
                    {"s": schema},
                ).all()
            )
            indexdef = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE schemaname = :s AND indexname = :i"),
                {"s": schema, "i": "ix_activity_events_type_status_timestamp"},
            ).scalar_one()
            tables = conn.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            ).scalar_one()
    assert types["details"] == "jsonb"
    assert types["timestamp"] == "timestamp with time zone"
    assert '(type, status, "timestamp")' in indexdef
    assert tables == 14  # thirteen tables and harmony_alembic_version, all inside the schema
