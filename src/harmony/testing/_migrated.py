"""Migrated databases for the pytest plugin's fixtures, without running Alembic per test.

Migrating a fresh database costs about 0.05 s of CPU on SQLite and 0.2 s on PostgreSQL
(Alembic loads its scripts and compiles every operation anew each time), and a suite
asks for hundreds of migrated databases, a property test for one per example. So the
first migration of a process is the template, and later fresh databases get its result:

- SQLite: the template file, checkpointed, is copied to the new path before any
  connection opens it (WAL mode is stored in the file, so the copy is in WAL mode too).
- PostgreSQL: every statement the template's migration sent is recorded, and replayed
  in one transaction for a new schema, with the template's schema name replaced.
  The result is what Alembic would have built, statement for statement.

The ``db.migrate`` event is then emitted through the context's events, as
:meth:`MigrationRunner.upgrade <harmony._migrations.MigrationRunner.upgrade>` would: the
host logger hears it and ``activity_events`` stores it per the context's settings and
clock. Anything that is not a plain fresh database (an existing SQLite file, a
PostgreSQL schema that exists or needs quoting, an in-memory or ``uri`` SQLite URL, the
``public`` schema) is migrated the ordinary way. ``tests/testing/test_migrated.py``
compares both results object for object.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text

from harmony._context import HarmonyContext
from harmony._events.loggers import NullEventLogger
from harmony._settings import HarmonySettings
from harmony._timing import elapsed_ms
from harmony.testing.postgres import temporary_schema

__all__ = ["MigratedTemplates"]


@dataclass(frozen=True)
class _Recording:
    """The statements of one PostgreSQL migration into ``schema``, and where it ended."""

    schema: str
    statements: tuple[tuple[str, Any], ...]
    head: str


class MigratedTemplates:
    """Migrated databases by copy (SQLite) or replay (PostgreSQL); one per process."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sqlite: tuple[Path, str] | None = None
        self._postgres: dict[str, _Recording] = {}

    def prepare(self, settings: HarmonySettings) -> bool:
        """Before a context opens ``settings``' database: put the migrated SQLite template
        in place when that database is a file that does not exist yet. True if it did."""
        path = _fresh_sqlite_path(settings)
        if path is None:
            return False
        template, _ = self._sqlite_template()
        shutil.copyfile(template, path)
        return True

    def migrate(self, ctx: HarmonyContext, prepared: bool) -> None:
        """Bring ``ctx``'s database to head as ``ctx.migrate()`` would, faster when fresh.

        ``prepared`` is what :meth:`prepare` returned for the context's settings.
        """
        started = time.perf_counter()
        head: str | None = None
        if prepared:
            head = self._sqlite_template()[1]
        elif _plain_schema(ctx) is not None:
            head = self._replay(ctx)
        if head is None:  # not a fresh database: the ordinary way
            ctx.migrate()
            return
        ctx.events.emit(
            "db.migrate",
            status="ok",
            direction="upgrade",
            from_revision=None,
            to_revision=head,
            duration_ms=elapsed_ms(started),
        )

    # -- SQLite ------------------------------------------------------------------------

    def _sqlite_template(self) -> tuple[Path, str]:
        if self._sqlite is None:
            path = self._folder / "harmony-template.db"
            head = _migrate_quietly(HarmonySettings(database_url=f"sqlite:///{path}"))
            # Fold the WAL into the file, so the file alone is the whole database.
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            self._sqlite = (path, head)
        return self._sqlite

    # -- PostgreSQL --------------------------------------------------------------------

    def _replay(self, ctx: HarmonyContext) -> str | None:
        """Replay the recorded migration into the context's (new) schema; the head
        revision, or ``None`` when the schema exists already."""
        schema = ctx.settings.database_schema
        assert schema is not None  # _plain_schema checked
        recording = self._postgres_recording(ctx.settings.database_url)
        with ctx.db.write_engine.begin() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": schema}
            ).first()
            if exists is not None:
                return None
            for statement, parameters in recording.statements:
                conn.exec_driver_sql(
                    statement.replace(recording.schema, schema),
                    _renamed(parameters, recording.schema, schema),
                )
        return recording.head

    def _postgres_recording(self, url: str) -> _Recording:
        recording = self._postgres.get(url)
        if recording is None:
            statements: list[tuple[str, Any]] = []

            def record(
                conn: Connection, cursor: Any, statement: str, parameters: Any, *_: Any
            ) -> None:
                statements.append((statement, parameters))

            with temporary_schema(url, prefix="harmony_template") as schema:
                settings = HarmonySettings(database_url=url, database_schema=schema)
                head = _migrate_quietly(settings, recorder=record)
            recording = self._postgres[url] = _Recording(schema, tuple(statements), head)
        return recording


def _migrate_quietly(settings: HarmonySettings, recorder: Any = None) -> str:
    """Migrate ``settings``' database with no events and no activity entry; the head.

    ``recorder`` is a ``before_cursor_execute`` listener for the migration's statements.
    """
    quiet = HarmonySettings(
        database_url=settings.database_url,
        database_schema=settings.database_schema,
        activity_events=(),
    )
    with HarmonyContext(quiet, events=NullEventLogger()) as ctx:
        if recorder is not None:
            event.listen(ctx.db.engine, "before_cursor_execute", recorder)
        head = ctx.migrate()
    assert head is not None
    return head


def _fresh_sqlite_path(settings: HarmonySettings) -> Path | None:
    url = settings.url
    if url.get_backend_name() != "sqlite" or url.query or not url.database:
        return None
    if url.database == ":memory:" or url.database.startswith("file:"):
        return None
    path = Path(url.database)
    if path.exists() or not path.parent.is_dir():
        return None
    return path


def _plain_schema(ctx: HarmonyContext) -> str | None:
    """The context's PostgreSQL schema when its name needs no quoting, else ``None``."""
    schema = ctx.settings.database_schema
    if ctx.db.backend != "postgresql" or not schema:
        return None
    # The recorded statements name the template schema unquoted in places (Alembic's
    # version table); only a name that is written the same way may replace it.
    if ctx.db.engine.dialect.identifier_preparer.quote(schema) != schema:
        return None
    return schema


def _renamed(parameters: Any, old: str, new: str) -> Any:
    if isinstance(parameters, Mapping):
        return {key: _renamed(value, old, new) for key, value in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(_renamed(value, old, new) for value in parameters)
    if isinstance(parameters, str):
        return parameters.replace(old, new)
    return parameters
