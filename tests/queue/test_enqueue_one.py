"""Enqueueing one job per call (PostgreSQL: a prepared INSERT on the driver): the job
returned is the job stored, database failures come back as harmony errors, and a pooled
connection the server dropped costs no error; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from harmony import ContextClosed, DatabaseError, HarmonyContext, HarmonySettings
from harmony.testing.pytest_plugin import SettingsFactory

PAYLOADS: list[dict[str, Any]] = [
    {},
    {"provider": "spotify", "full": True},
    {"nested": {"list": [1, 2.5, None, "x"], "deep": {"a": {"b": []}}}},
    {"text": "naïve café — 東京 🎵", "quote": 'it\'s "quoted"', "backslash": "a\\b"},
    {"big": 2**62, "negative": -(2**40), "small": 1e-7},
]


@pytest.fixture
def postgres_settings(
    harmony_settings_factory: SettingsFactory, harmony_backend: str
) -> SettingsFactory:
    """``harmony_settings_factory`` for the PostgreSQL case; the SQLite one is skipped
    (connections the server drops, and the one enqueues keep, are PostgreSQL's)."""
    if harmony_backend != "postgresql":
        pytest.skip("connections the server drops and the kept one are PostgreSQL's")
    return harmony_settings_factory


def _terminate(admin: HarmonyContext, application_name: str) -> int:
    """Terminate the server's connections named ``application_name``; how many. With a
    timeout the call returns once the backends have exited: without one, a backend still
    on its way out passes the pool's check now and then (a different case, made flaky)."""
    with admin.db.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": application_name},
            ).scalar_one()
        )


@pytest.mark.parametrize("payload", PAYLOADS, ids=["empty", "flat", "nested", "unicode", "numbers"])
def test_the_job_enqueue_returns_is_the_job_stored(
    harmony_context: HarmonyContext, payload: dict[str, Any]
) -> None:
    later = harmony_context.clock.now() + timedelta(minutes=5)
    job = harmony_context.jobs.enqueue(
        "one.job", payload, priority=7, available_at=later, lease_seconds=12.5
    )
    stored = harmony_context.jobs.get(job.id)
    assert stored == job
    assert (stored.priority, stored.available_at, stored.lease_seconds) == (7, later, 12.5)


def test_ids_grow_and_every_enqueue_commits_on_its_own(harmony_context: HarmonyContext) -> None:
    ids = [harmony_context.jobs.enqueue("one.job", {"i": i}).id for i in range(20)]
    assert ids == sorted(ids) and len(set(ids)) == 20
    with harmony_context.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM queue_jobs")).scalar_one() == 20


def test_a_database_that_refuses_the_insert_raises_a_database_error_on_both_backends(
    harmony_context: HarmonyContext,
) -> None:
    with harmony_context.db.write() as conn:
        conn.execute(text("DROP TABLE queue_jobs"))
    with pytest.raises(DatabaseError, match="queue_jobs"):
        harmony_context.jobs.enqueue("one.job", {"i": 1})
    with pytest.raises(DatabaseError, match="queue_jobs"):  # the connection is still usable
        harmony_context.jobs.enqueue("one.job", {"i": 2})
    harmony_context.db.ping()


def test_enqueue_after_close_raises_context_closed(harmony_settings: HarmonySettings) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        ctx.migrate()
    with pytest.raises(ContextClosed, match="closed"):
        ctx.jobs.enqueue("one.job")


def test_an_enqueue_after_the_server_dropped_the_pooled_connections_succeeds(
    postgres_settings: SettingsFactory,
) -> None:
    settings = postgres_settings(application_name="harmony-enqueue-test")
    with HarmonyContext(settings) as ctx, HarmonyContext(postgres_settings()) as admin:
        ctx.migrate()
        first = ctx.jobs.enqueue("one.job", {"i": 1})
        assert _terminate(admin, "harmony-enqueue-test") >= 1
        second = ctx.jobs.enqueue("one.job", {"i": 2})
        assert [ctx.jobs.get(j.id).payload for j in (first, second)] == [{"i": 1}, {"i": 2}]


def test_threads_enqueueing_at_once_each_store_their_jobs(harmony_context: HarmonyContext) -> None:
    # One thread at a time uses the parked connection; the others take pooled ones.
    def enqueue(worker: int) -> list[int]:
        return [
            harmony_context.jobs.enqueue("one.job", {"w": worker, "i": i}).id for i in range(25)
        ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [job_id for batch in pool.map(enqueue, range(6)) for job_id in batch]
    assert len(set(ids)) == 150
    with harmony_context.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM queue_jobs")).scalar_one() == 150
    assert harmony_context.db.checked_out_connections() == 0


def _connections_named(admin: HarmonyContext, name: str) -> int:
    with admin.db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            ).scalar_one()
        )


def test_closing_the_context_closes_the_connection_enqueues_keep(
    postgres_settings: SettingsFactory,
) -> None:
    name = f"harmony-parked-{uuid.uuid4().hex[:8]}"
    with HarmonyContext(postgres_settings()) as admin:
        ctx = HarmonyContext(postgres_settings(application_name=name))
        ctx.migrate()
        ctx.jobs.enqueue("one.job", {"i": 1})
        assert ctx.db.checked_out_connections() == 0
        ctx.close()
        assert _connections_named(admin, name) == 0


def test_a_pool_of_three_is_never_held_by_enqueues(postgres_settings: SettingsFactory) -> None:
    with HarmonyContext(postgres_settings(pool_size=3, max_overflow=0, pool_timeout=2)) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue("one.job", {"i": 1})
        # Every connection of the pool is free again: three at once can be checked out.
        with ctx.db.connect(), ctx.db.connect(), ctx.db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM queue_jobs")).scalar_one() == 1


def test_an_enqueue_after_a_long_idle_pings_the_kept_connection_and_replaces_a_dead_one(
    postgres_settings: SettingsFactory,
) -> None:
    name = f"harmony-idle-{uuid.uuid4().hex[:8]}"
    with (
        HarmonyContext(postgres_settings(application_name=name)) as ctx,
        HarmonyContext(postgres_settings()) as admin,
    ):
        ctx.migrate()
        first = ctx.jobs.enqueue("one.job", {"i": 1})
        assert _terminate(admin, name) == 1
        # As if the connection had sat idle for a minute: it is pinged before use, so a
        # connection a firewall dropped without a word is replaced as well.
        ctx.db._parked_at -= 60
        second = ctx.jobs.enqueue("one.job", {"i": 2})
        assert [ctx.jobs.get(j.id).payload for j in (first, second)] == [{"i": 1}, {"i": 2}]
