"""HarmonyContext: construction, isolation between contexts, and releasing connections."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harmony import (
    DatabaseUnavailable,
    HarmonyContext,
    HarmonyError,
    HarmonySettings,
    LoggingEventLogger,
    RecordingEventLogger,
    SystemClock,
)
from harmony._settings import parse_database_url
from harmony.testing import ManualClock
from harmony.testing.postgres import temporary_schema
from harmony.testing.pytest_plugin import SettingsFactory, require_postgres_url


def test_two_contexts_never_see_each_others_rows_events_or_settings(
    harmony_settings_factory: SettingsFactory,
) -> None:
    events_a, events_b = RecordingEventLogger(), RecordingEventLogger()
    settings_a = harmony_settings_factory(cache_ttl_seconds=11)
    settings_b = harmony_settings_factory(cache_ttl_seconds=22)
    with (
        HarmonyContext(settings_a, events=events_a) as a,
        HarmonyContext(settings_b, events=events_b) as b,
    ):
        a.migrate()
        b.migrate()
        a.activity.record("only.in_a", "ok")
        b.credentials.set("spotify", token="b-token")
        assert [e.type for e in a.activity.list()] == ["only.in_a", "db.migrate"]
        assert [e.type for e in b.activity.list()] == ["credentials.set", "db.migrate"]
        assert a.credentials.get("spotify") is None
        assert b.credentials.get("spotify") is not None
        assert [e.name for e in events_a] == ["db.migrate"]
        assert [e.name for e in events_b] == ["db.migrate", "credentials.set"]
        assert (a.settings.cache_ttl_seconds, b.settings.cache_ttl_seconds) == (11, 22)
        assert a.db.engine is not b.db.engine


def test_close_returns_every_pooled_connection(harmony_context: HarmonyContext) -> None:
    harmony_context.activity.record("x.y", "ok")
    harmony_context.close()
    assert harmony_context.closed
    assert harmony_context.db.checked_out_connections() == 0
    harmony_context.close()  # idempotent


def test_close_leaves_no_postgres_connection_open() -> None:
    url = require_postgres_url()
    app = f"harmony-close-{uuid.uuid4().hex[:8]}"
    with temporary_schema(url) as schema:
        _check_connections_released(url, schema, app)


def _check_connections_released(url: str, schema: str, app: str) -> None:
    settings = HarmonySettings(database_url=url, database_schema=schema, application_name=app)
    admin = create_engine(parse_database_url(url), poolclass=NullPool)

    def open_connections() -> int:
        with admin.connect() as conn:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :app")
            return int(conn.execute(query, {"app": app}).scalar_one())

    try:
        ctx = HarmonyContext(settings)
        ctx.migrate()
        ctx.activity.record("x.y", "ok")
        assert open_connections() >= 1  # the pool keeps idle connections until close
        ctx.close()
        assert open_connections() == 0
    finally:
        admin.dispose()


def test_closed_context_refuses_to_migrate(harmony_settings: HarmonySettings) -> None:
    ctx = HarmonyContext(harmony_settings)
    ctx.close()
    with pytest.raises(HarmonyError, match="closed"):
        ctx.migrate()


def test_defaults_are_logging_events_and_the_system_clock(
    harmony_settings: HarmonySettings,
) -> None:
    quiet = harmony_settings.model_copy(update={"activity_events": ()})
    with HarmonyContext(quiet) as ctx:
        assert isinstance(ctx.events.inner, LoggingEventLogger)  # behind the fail-safe guard
        assert isinstance(ctx.clock, SystemClock)


def test_injected_clock_dates_what_the_context_writes(harmony_settings: HarmonySettings) -> None:
    clock = ManualClock()
    with HarmonyContext(harmony_settings, clock=clock) as ctx:
        ctx.migrate()
        clock.advance(3600)
        entry = ctx.activity.record("x.y", "ok")
        assert entry.timestamp == clock.now()
        assert ctx.activity.list(type="x.y")[0].timestamp == clock.now()


def test_from_url_and_from_env_build_equivalent_contexts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/env.db"
    with HarmonyContext.from_url(url, settings={"pool_size": 3}) as a:
        assert a.settings.pool_size == 3
    with HarmonyContext.from_env({"HARMONY_DATABASE_URL": url, "HARMONY_POOL_SIZE": "3"}) as b:
        assert b.settings.database_url == url and b.settings.pool_size == 3


def test_constructor_requires_settings_not_a_url() -> None:
    with pytest.raises(TypeError, match="from_url"):
        HarmonyContext("sqlite:///x.db")  # type: ignore[arg-type]


def test_repr_masks_the_database_password() -> None:
    ctx = HarmonyContext.from_url("postgresql://user:hunter2@127.0.0.1:9/db")
    try:
        assert "hunter2" not in repr(ctx) and "hunter2" not in repr(ctx.db)
    finally:
        ctx.close()


def test_unreachable_postgres_raises_database_unavailable_without_the_password() -> None:
    settings = HarmonySettings(
        database_url="postgresql://user:hunter2@127.0.0.1:9/db", connect_timeout=2
    )
    with HarmonyContext(settings) as ctx, pytest.raises(DatabaseUnavailable) as info:
        ctx.migrate()
    assert "127.0.0.1" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_sqlite_in_a_missing_folder_raises_database_unavailable_and_creates_nothing(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no" / "such"
    with HarmonyContext.from_url(f"sqlite:///{missing}/h.db") as ctx:
        with pytest.raises(DatabaseUnavailable, match="does not exist"):
            ctx.migrate()
    assert not missing.exists()


def test_a_closed_context_refuses_further_writes(harmony_settings: HarmonySettings) -> None:
    ctx = HarmonyContext(harmony_settings)
    ctx.migrate()
    ctx.close()
    with pytest.raises(HarmonyError, match="closed"):
        ctx.activity.record("after.close", "ok")
    assert ctx.db.checked_out_connections() == 0
