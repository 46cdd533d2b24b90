"""The plugin's migrated contexts (a copied SQLite template, a replayed PostgreSQL
migration) hold exactly what ``ctx.migrate()`` builds, announce it the same way, and
leave a database that is not fresh to the ordinary migration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from harmony import HarmonyContext, HarmonySettings, RecordingEventLogger
from harmony._db.models import metadata
from harmony._migrations import VERSION_TABLE
from harmony._settings import parse_database_url
from harmony.testing import InMemoryProvider
from harmony.testing._migrated import MigratedTemplates
from harmony.testing.pytest_plugin import (
    ContextFactory,
    SettingsFactory,
    require_postgres_url,
)

#: What PostgreSQL's catalog says about a schema's objects, its name written as ``{}``.
_PG_CATALOG = {
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
               column_default, character_maximum_length, numeric_precision
        FROM information_schema.columns WHERE table_schema = :schema""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = :schema""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema",
    "triggers": """
        SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
        JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = :schema AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema""",
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema""",
    "sequences": """
        SELECT sequencename, data_type, start_value, increment_by, last_value
        FROM pg_sequences WHERE schemaname = :schema""",
}


def _schema(ctx: HarmonyContext) -> dict[str, Any]:
    """Every object of the context's database, comparable across databases."""
    with ctx.db.connect() as conn:
        if ctx.db.backend == "sqlite":
            found: dict[str, Any] = {
                "master": sorted(
                    conn.exec_driver_sql("SELECT type, name, tbl_name, sql FROM sqlite_master")
                ),
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            }
        else:
            schema = ctx.settings.database_schema
            found = {
                name: sorted(
                    tuple(str(v).replace(str(schema), "{}") for v in row)
                    for row in conn.execute(text(query), {"schema": schema})
                )
                for name, query in _PG_CATALOG.items()
            }
        found["rows"] = _rows(conn)
    return found


def _rows(conn: Connection) -> dict[str, list[Any]]:
    tables = [t for t in metadata.sorted_tables if t.name != "activity_events"]
    rows = {t.name: sorted(map(tuple, conn.execute(t.select()).all())) for t in tables}
    rows[VERSION_TABLE] = conn.exec_driver_sql(f"SELECT * FROM {VERSION_TABLE}").all()
    return rows


def _announced(events: RecordingEventLogger, ctx: HarmonyContext) -> list[Any]:
    """The migration's events and activity entries, without their timings and ids."""
    recorded = [(e.name, {k: v for k, v in e.fields.items() if k != "duration_ms"}) for e in events]
    stored = [
        (a.type, a.status, a.timestamp, {k: v for k, v in a.details.items() if k != "duration_ms"})
        for a in ctx.activity.list(limit=100)
    ]
    return [recorded, stored]


def test_a_fixture_context_equals_a_context_migrated_by_alembic(
    harmony_context_factory: ContextFactory, harmony_settings_factory: SettingsFactory
) -> None:
    copied_events, migrated_events = RecordingEventLogger(), RecordingEventLogger()
    copied = harmony_context_factory(events=copied_events)
    with HarmonyContext(
        harmony_settings_factory(), events=migrated_events, clock=copied.clock
    ) as migrated:
        migrated.migrate()
        assert _schema(copied) == _schema(migrated)
        assert _announced(copied_events, copied) == _announced(migrated_events, migrated)
        assert [e.name for e in copied_events] == ["db.migrate"]
        copied.migrations.check()
        assert copied.migrations.current() == copied.migrations.head()


def test_fixture_contexts_share_no_rows(harmony_context_factory: ContextFactory) -> None:
    first, second = harmony_context_factory(), harmony_context_factory()
    job = first.jobs.enqueue("only.first", {})
    assert list(second.jobs.list().items) == []
    assert second.jobs.enqueue("second", {}).id == job.id  # each counts from 1


def test_a_database_that_is_not_fresh_is_migrated_in_place(
    harmony_context_factory: ContextFactory, harmony_settings_factory: SettingsFactory
) -> None:
    # A host's own table in the database (an existing SQLite file, an existing schema)
    # must survive: such a database is never replaced by a copy.
    settings = harmony_settings_factory()
    with HarmonyContext(settings) as host, host.db.write() as conn:
        if settings.database_schema:
            conn.execute(text(f'CREATE SCHEMA "{settings.database_schema}"'))
        conn.execute(text("CREATE TABLE host_notes (note VARCHAR(20))"))
        conn.execute(text("INSERT INTO host_notes VALUES ('keep me')"))
    fields = {"database_url": settings.database_url, "database_schema": settings.database_schema}
    ctx = harmony_context_factory(settings=fields, events=RecordingEventLogger())
    with ctx.db.connect() as conn:
        assert conn.execute(text("SELECT note FROM host_notes")).scalar_one() == "keep me"
    ctx.migrations.check()
    assert [a.type for a in ctx.activity.list()] == ["db.migrate"]


# -- PostgreSQL schemas reused --------------------------------------------------------


def _fill(ctx: HarmonyContext) -> None:
    """Rows in most tables, sequences moved on, the change feed advanced."""
    provider = InMemoryProvider("mem")
    provider.set_playlist(
        "p1",
        "Road trip",
        [{"id": f"t{i}", "title": f"Song {i}", "artists": ["A"]} for i in range(5)],
    )
    ctx.add_provider("mem", provider)
    ctx.sync.run_once()
    for i in range(3):
        ctx.jobs.enqueue("fill", {"i": i})
    ctx.options.set("fill", {"a": 1})
    ctx.credentials.set("mem", token="not-a-real-token")


def _exists(url: str, schema: str) -> bool:
    engine = create_engine(parse_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
            ).first()
            return found is not None
    finally:
        engine.dispose()


@pytest.fixture
def templates(tmp_path: Path) -> Iterator[MigratedTemplates]:
    """A template store of its own, so the test sees exactly which schemas it keeps."""
    store = MigratedTemplates(tmp_path)
    try:
        yield store
    finally:
        store.close()


def _context(templates: MigratedTemplates, url: str, schema: str) -> HarmonyContext:
    ctx = HarmonyContext(HarmonySettings(database_url=url, database_schema=schema))
    templates.migrate(ctx, prepared=False)
    return ctx


def test_a_reused_schema_holds_exactly_what_a_fresh_migration_builds(
    templates: MigratedTemplates,
) -> None:
    url = require_postgres_url()
    with templates.postgres_schema(url) as first:
        with _context(templates, url, first) as ctx:
            _fill(ctx)
    assert templates.spares == 1 and not _exists(url, first)
    with (
        templates.postgres_schema(url) as second,
        templates.postgres_schema(url) as third,
        _context(templates, url, second) as reused,
        HarmonyContext(HarmonySettings(database_url=url, database_schema=third)) as migrated,
    ):
        assert templates.spares == 0  # the spare, renamed
        migrated.migrate()  # by Alembic
        assert _schema(reused) == _schema(migrated)
        assert reused.jobs.enqueue("again", {}).id == 1
        assert migrated.jobs.enqueue("again", {}).id == 1
    assert templates.spares == 2
    templates.close()
    assert templates.spares == 0
    assert not any(_exists(url, schema) for schema in (first, second, third))


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE queue_jobs ADD COLUMN extra integer",
        "ALTER TABLE tracks ALTER COLUMN title DROP NOT NULL",
        "CREATE TABLE host_notes (note text)",
        "DROP INDEX ix_queue_jobs_claim",
        "ALTER TABLE queue_jobs ADD CONSTRAINT small CHECK (priority < 10)",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "ANALYZE tracks",
        "INSERT INTO activity_events (type, status, timestamp, details) "
        "SELECT 'x', 'ok', now(), jsonb_build_object('pad', repeat('x', 600)) "
        "FROM generate_series(1, 2000)",
    ],
    ids=["column", "not-null", "table", "index", "constraint", "function", "analysed", "grown"],
)
def test_a_schema_a_test_changed_is_dropped_not_reused(
    templates: MigratedTemplates, change: str
) -> None:
    url = require_postgres_url()
    with templates.postgres_schema(url) as schema:
        with _context(templates, url, schema) as ctx, ctx.db.write() as conn:
            conn.execute(text(change))
    assert templates.spares == 0
    assert not _exists(url, schema)


def test_a_schema_nobody_created_is_released_quietly(templates: MigratedTemplates) -> None:
    url = require_postgres_url()
    with templates.postgres_schema(url) as schema:
        pass
    assert templates.spares == 0 and not _exists(url, schema)


def test_releasing_works_after_the_server_dropped_the_upkeep_connection(
    templates: MigratedTemplates,
) -> None:
    # A test that terminates backends (a restart, an idle-connection killer) may hit the
    # connection the templates keep; the next release must not fail because of it.
    url = require_postgres_url()
    for _ in range(2):
        with templates.postgres_schema(url) as schema, _context(templates, url, schema):
            pass
        engine = create_engine(parse_database_url(url), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                        "WHERE application_name = 'harmony-testing-templates'"
                    )
                )
        finally:
            engine.dispose()
    assert templates.spares == 1
