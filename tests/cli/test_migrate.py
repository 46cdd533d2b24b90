"""``harmony migrate``: upgrade, downgrade, current, history and check on a SQLite file and
a PostgreSQL schema; refused revisions and paths change nothing; commands other than
``migrate`` refuse a database that is not at head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from harmony import HarmonyContext, HarmonySettings
from harmony._db import metadata
from harmony._migrations import VERSION_TABLE
from harmony._settings import parse_database_url
from harmony.testing import temporary_schema
from harmony.testing.pytest_plugin import require_postgres_url
from tests.cli.support import Run, SeededDatabase

HARMONY_TABLES = frozenset(metadata.tables)


def _tables(url: str, schema: str | None = None) -> set[str]:
    engine = create_engine(parse_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()


def _revision(url: str, **settings: str) -> str | None:
    with HarmonyContext(HarmonySettings(database_url=url, **settings)) as ctx:
        return ctx.migrations.current()


def _head() -> str:
    with HarmonyContext.from_url("sqlite://") as ctx:
        return ctx.migrations.head()


def test_migrate_lifecycle_on_sqlite(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.db"
    url = f"sqlite:///{path}"
    head = _head()
    with HarmonyContext.from_url("sqlite://") as ctx:
        first = ctx.migrations.history()[0].revision

    cli("migrate", "current", "--url", url).error("no SQLite database")
    assert not path.exists()  # a read-only command creates no database
    path.touch()  # an empty database: no harmony tables yet
    current = cli("migrate", "current", "--url", url).ok()
    assert current.out == f"base (head is {head})\n"

    cli("migrate", "check", "--url", url).error("database is at revision base")

    to_first = cli("migrate", "upgrade", first, "--url", url).ok()
    assert to_first.out == f"upgraded base -> {first}\n"
    assert _revision(url) == first

    to_head = cli("migrate", "upgrade", "--url", url).ok()
    assert to_head.out == (
        f"already at {head}\n" if first == head else f"upgraded {first} -> {head}\n"
    )
    assert _revision(url) == head
    assert _tables(url) >= HARMONY_TABLES

    at_head = cli("migrate", "current", "--url", url).ok()
    assert at_head.out == f"{head} (head)\n"

    checked = cli("migrate", "check", "--url", url).ok()
    assert checked.out == f"ok: schema at {head} matches harmony's models\n"

    # db.migrate cannot be stored once activity_events is gone; stderr stays clean anyway.
    down = cli("migrate", "downgrade", "base", "--url", url).ok()
    assert down.out == f"downgraded {head} -> base\n"
    assert _revision(url) is None
    assert _tables(url) & HARMONY_TABLES == set()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["lifecycle.db"]


def test_migrate_history_lists_every_revision(cli: Run, tmp_path: Path) -> None:
    with HarmonyContext.from_url("sqlite://") as ctx:
        revisions = ctx.migrations.history()
    expected = [
        f"{r.down_revision or 'base'} -> {r.revision}{' (head)' if r.is_head else ''}: {r.message}"
        for r in revisions
    ]
    # history reads the packaged scripts only: the database is never opened or created.
    run = cli("migrate", "history", "--url", f"sqlite:///{tmp_path / 'x.db'}")
    assert run.ok().out.splitlines() == expected
    assert expected[-1].endswith(f"{revisions[-1].revision} (head): {revisions[-1].message}")
    assert list(tmp_path.iterdir()) == []


def test_cli_on_postgresql_schema(
    cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = require_postgres_url()
    head = _head()
    with temporary_schema(url, prefix="harmony_cli") as schema:
        monkeypatch.setenv("HARMONY_DATABASE_URL", url)
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", schema)

        upgraded = cli("migrate", "upgrade").ok()
        assert upgraded.out == f"upgraded base -> {head}\n"
        assert HARMONY_TABLES | {VERSION_TABLE} == _tables(url, schema)
        assert _revision(url, database_schema=schema) == head

        cli("migrate", "check").ok()

        info = cli("info").ok().out.splitlines()
        assert info[0].endswith("(postgresql)")
        assert info[1] == f"schema:   {schema}"
        assert info[2] == f"revision: {head} (up to date)"

        exported = cli("activity", "export", "--format", "jsonl").ok()
        (entry,) = [json.loads(line) for line in exported.out.splitlines()]
        assert entry["type"] == "db.migrate"
        assert entry["details"]["to_revision"] == head

        down = cli("migrate", "downgrade", "base").ok()
        assert down.out == f"downgraded {head} -> base\n"
        assert _tables(url, schema) == {VERSION_TABLE}
        cli("migrate", "check").error("database is at revision base")
    assert list(tmp_path.iterdir()) == []  # no SQLite fallback file was created


def test_migrate_upgrade_into_missing_folder_creates_nothing(cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "harmony.db"
    line = cli("migrate", "upgrade", "--url", f"sqlite:///{target}").error(
        "does not exist; create it first"
    )
    assert str(target.parent) in line
    assert list(tmp_path.iterdir()) == []


def test_migrate_upgrade_to_unknown_revision_changes_nothing(cli: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    line = cli("migrate", "upgrade", "nope", "--url", url).error(
        "unknown migration revision 'nope'"
    )
    assert _head() in line  # the message lists the known revisions
    assert _tables(url) & (HARMONY_TABLES | {VERSION_TABLE}) == set()


def test_migrate_downgrade_to_unknown_revision_keeps_database_at_head(
    cli: Run, seeded: SeededDatabase
) -> None:
    run = cli("migrate", "downgrade", "nope", "--url", seeded.url)
    run.error("unknown migration revision 'nope'")
    assert _revision(seeded.url) == _head()
    with HarmonyContext.from_url(seeded.url) as ctx:
        assert list(ctx.activity.list(limit=1000)) == seeded.entries


def test_commands_refuse_a_database_that_is_not_migrated(
    harmony_cli: Run, harmony_settings: HarmonySettings
) -> None:
    if harmony_settings.backend == "sqlite":  # an empty file: a database without tables
        Path(str(harmony_settings.url.database)).touch()
    harmony_cli("search", "x").error("run 'harmony migrate upgrade' first")
    harmony_cli("events", "tail").error("schema is at base (empty)")
