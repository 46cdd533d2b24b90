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
- PostgreSQL schemas are also reused: replaying costs about 70 ms of DDL and dropping
  about 20 ms, where emptying a schema a test used costs about 10. When a fixture's
  schema is released (:meth:`MigratedTemplates.postgres_schema`), a schema whose objects
  are still exactly the template's (a catalog fingerprint), that was never vacuumed or
  analysed and holds little data is emptied (``DELETE``, children first), gets the
  template's rows and sequence positions back and is renamed to a spare; the next fresh
  schema is a spare renamed. Anything else is dropped as before. ``TRUNCATE`` is not used:
  it gives every table and index a new file and costs as much as the replay.

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
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from harmony._context import HarmonyContext
from harmony._events.loggers import NullEventLogger
from harmony._settings import HarmonySettings, parse_database_url
from harmony._timing import elapsed_ms

__all__ = ["MigratedTemplates"]


@dataclass(frozen=True)
class _Recording:
    """The statements of one PostgreSQL migration into ``schema``, where it ended, and
    what a reused schema must match and get back. ``schema`` is kept, migrated and
    untouched, until :meth:`MigratedTemplates.close`."""

    schema: str
    statements: tuple[tuple[str, Any], ...]
    head: str
    #: The catalog fingerprint of a freshly migrated schema (see ``_fingerprint``).
    fingerprint: tuple[tuple[str, str], ...]
    #: Every table, children before the tables their foreign keys point to.
    tables: tuple[str, ...]
    #: Tables the migration put rows into.
    seeded: tuple[str, ...]
    #: Each sequence's ``(name, last_value, is_called)`` after the migration.
    sequences: tuple[tuple[str, int, bool], ...]
    #: The size of the migrated schema's tables with their indexes, in bytes.
    size: int


#: Spare schemas kept per server; a test that uses more at once gets the rest dropped.
_MAX_SPARES = 8
#: A released schema whose tables grew by more than this is dropped, not emptied: its
#: dead rows would slow the next test until autovacuum came by.
_MAX_GROWTH_BYTES = 512 * 1024

#: The objects of a schema (``:s``) and their definitions; the schema's own name is
#: replaced before two fingerprints are compared.
_FINGERPRINT = """
SELECT 'relation', c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text
       || ' ' || coalesce((
           SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                             || ' ' || a.attnotnull::text || ' '
                             || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                             ', ' ORDER BY a.attnum)
           FROM pg_attribute a
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
FROM pg_class c WHERE c.relnamespace = to_regnamespace(:s)
UNION ALL
SELECT 'constraint', conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = to_regnamespace(:s)
UNION ALL
SELECT 'index', pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE c.relnamespace = to_regnamespace(:s)
UNION ALL
SELECT 'trigger', pg_get_triggerdef(t.oid)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = to_regnamespace(:s) AND NOT t.tgisinternal
UNION ALL
SELECT 'function', pg_get_functiondef(p.oid)
FROM pg_proc p WHERE p.pronamespace = to_regnamespace(:s)
UNION ALL
SELECT 'type', t.typname FROM pg_type t
WHERE t.typnamespace = to_regnamespace(:s) AND t.typrelid = 0
UNION ALL
SELECT 'grant', c.relname || ' ' || coalesce(c.relacl::text, '')
FROM pg_class c WHERE c.relnamespace = to_regnamespace(:s) AND c.relacl IS NOT NULL
"""

#: The tables' size with their indexes, and whether any table was vacuumed or analysed
#: (``reltuples`` is -1 until then), which leaves statistics a fresh schema lacks.
_STATE = """
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), coalesce(bool_or(c.reltuples >= 0), false)
FROM pg_class c WHERE c.relnamespace = to_regnamespace(:s) AND c.relkind = 'r'
"""


class MigratedTemplates:
    """Migrated databases by copy (SQLite) or replay (PostgreSQL); one per process."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sqlite: tuple[Path, str] | None = None
        self._postgres: dict[str, _Recording] = {}
        self._spares: dict[str, list[str]] = {}
        self._admin: dict[str, Engine] = {}

    def close(self) -> None:
        """Drop the template and spare schemas of every server; close the connections."""
        for url, recording in self._postgres.items():
            try:
                with self._admin_engine(url).begin() as conn:
                    for schema in [recording.schema, *self._spares.pop(url, [])]:
                        conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE"))
            except OperationalError:
                continue  # the server is gone (a test stopped it): nothing left to drop
        self._postgres.clear()
        for engine in self._admin.values():
            engine.dispose()
        self._admin.clear()

    @property
    def spares(self) -> int:
        """How many emptied PostgreSQL schemas wait to be reused, over all servers."""
        return sum(len(names) for names in self._spares.values())

    @contextmanager
    def postgres_schema(self, url: str, prefix: str = "harmony_test") -> Iterator[str]:
        """Yield the name of a PostgreSQL schema that does not exist yet; afterwards empty
        it for reuse when it is still the template's, else drop it (cascade).

        Contexts on the schema must be closed before the block ends.
        """
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        try:
            yield name
        finally:
            self._release(url, name)

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
            spares = self._spares.get(ctx.settings.database_url)
            if spares:
                conn.execute(text(f"ALTER SCHEMA {_quoted(spares.pop())} RENAME TO {schema}"))
                return recording.head
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

            schema = f"harmony_template_{uuid.uuid4().hex[:12]}"
            try:
                settings = HarmonySettings(database_url=url, database_schema=schema)
                head = _migrate_quietly(settings, recorder=record)
                with self._admin_engine(url).connect() as conn:
                    recording = _Recording(
                        schema, tuple(statements), head, *_describe(conn, schema)
                    )
            except BaseException:
                with self._admin_engine(url).begin() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE"))
                raise
            self._postgres[url] = recording
        return recording

    def _admin_engine(self, url: str) -> Engine:
        """One connection per server for the template's and released schemas' upkeep."""
        engine = self._admin.get(url)
        if engine is None:
            # Pinged at checkout: a test that terminates backends may have killed it.
            engine = self._admin[url] = create_engine(
                parse_database_url(url),
                pool_size=1,
                max_overflow=0,
                pool_pre_ping=True,
                connect_args={"application_name": "harmony-testing-templates"},
            )
        return engine

    def _release(self, url: str, schema: str) -> None:
        """Keep ``schema`` as an emptied spare if it is still the template's, else drop it."""
        recording = self._postgres.get(url)
        spares = self._spares.setdefault(url, [])
        with self._admin_engine(url).begin() as conn:
            if (
                recording is not None
                and len(spares) < _MAX_SPARES
                and _emptied(conn, schema, recording)
            ):
                spare = f"harmony_spare_{uuid.uuid4().hex[:12]}"
                conn.execute(text(f"ALTER SCHEMA {_quoted(schema)} RENAME TO {spare}"))
                spares.append(spare)
                return
            conn.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(schema)} CASCADE"))


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


def _quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def _fingerprint(conn: Connection, schema: str) -> tuple[tuple[str, str], ...]:
    rows = conn.execute(text(_FINGERPRINT), {"s": schema}).all()
    return tuple(sorted((kind, definition.replace(schema, "{}")) for kind, definition in rows))


def _describe(
    conn: Connection, schema: str
) -> tuple[
    tuple[tuple[str, str], ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[tuple[str, int, bool], ...],
    int,
]:
    """What a reused schema must match and get back, read from the migrated ``schema``."""
    tables = (
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
            {"s": schema},
        )
        .scalars()
        .all()
    )
    references = conn.execute(
        text(
            "SELECT c.relname, p.relname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
            "WHERE k.contype = 'f' AND k.connamespace = to_regnamespace(:s)"
        ),
        {"s": schema},
    ).all()
    sequences = tuple(
        (str(name), int(last if last is not None else start), last is not None)
        for name, last, start in conn.execute(
            text(
                "SELECT sequencename, last_value, start_value FROM pg_sequences "
                "WHERE schemaname = :s ORDER BY sequencename"
            ),
            {"s": schema},
        )
    )
    seeded = tuple(_nonempty(conn, schema, tables))
    size, _ = conn.execute(text(_STATE), {"s": schema}).one()
    return (
        _fingerprint(conn, schema),
        _children_first(tables, references),
        seeded,
        sequences,
        int(size),
    )


def _children_first(tables: Sequence[str], references: Sequence[Any]) -> tuple[str, ...]:
    """``tables`` ordered so that a table comes before every table it references."""
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in references:
        if child != parent:
            parents[child].add(parent)
    referenced_by: dict[str, set[str]] = {t: set() for t in tables}
    for child, named in parents.items():
        for parent in named:
            referenced_by[parent].add(child)
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = sorted(t for t in tables if t not in ordered and referenced_by[t] <= set(ordered))
        if not ready:  # a reference cycle: no order lets plain DELETEs pass
            raise RuntimeError(f"tables reference each other in a cycle: {sorted(referenced_by)}")
        ordered.extend(ready)
    return tuple(ordered)


def _nonempty(conn: Connection, schema: str, tables: Sequence[str]) -> list[str]:
    if not tables:
        return []
    target = _quoted(schema)
    probes = " UNION ALL ".join(
        f"SELECT {i} WHERE EXISTS (SELECT FROM {target}.{_quoted(t)})"  # nosec B608: catalog names, quoted
        for i, t in enumerate(tables)
    )
    return [tables[i] for i in sorted(conn.execute(text(probes)).scalars())]


def _emptied(conn: Connection, schema: str, recording: _Recording) -> bool:
    """Bring the released ``schema`` back to the freshly migrated state in ``conn``'s
    transaction; ``False`` (and nothing changed) when it cannot be reused."""
    state = conn.execute(text(_STATE), {"s": schema}).one()
    if state[1] or state[0] > recording.size + _MAX_GROWTH_BYTES:
        return False
    if _fingerprint(conn, schema) != recording.fingerprint:
        return False  # gone, altered, or a test added objects
    target, template = _quoted(schema), _quoted(recording.schema)
    for table in _nonempty(conn, schema, recording.tables):  # children first
        conn.execute(text(f"DELETE FROM {target}.{_quoted(table)}"))  # nosec B608: see _nonempty
    for table in recording.seeded:
        conn.execute(
            text(
                f"INSERT INTO {target}.{_quoted(table)} OVERRIDING SYSTEM VALUE "  # nosec B608: as above
                f"SELECT * FROM {template}.{_quoted(table)}"
            )
        )
    for name, value, called in recording.sequences:
        conn.execute(
            text("SELECT setval(CAST(:seq AS regclass), :value, :called)"),
            {"seq": f"{target}.{_quoted(name)}", "value": value, "called": called},
        )
    return True


def _renamed(parameters: Any, old: str, new: str) -> Any:
    if isinstance(parameters, Mapping):
        return {key: _renamed(value, old, new) for key, value in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(_renamed(value, old, new) for value in parameters)
    if isinstance(parameters, str):
        return parameters.replace(old, new)
    return parameters
