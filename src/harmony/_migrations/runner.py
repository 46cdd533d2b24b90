"""Drive harmony's packaged Alembic migrations from code."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, MetaData, text

from harmony._db.engine import Database, translate_db_errors
from harmony._db.models import metadata as harmony_metadata
from harmony._events.base import EventLogger
from harmony._migrations.options import VERSION_TABLE, context_options
from harmony._timing import elapsed_ms
from harmony.errors import MigrationError, SchemaDriftError, UnknownRevisionError

__all__ = ["MigrationRunner", "Revision", "script_location"]

#: Name of the PostgreSQL advisory lock that serialises concurrent migration runs on one
#: schema. Per schema: runs on different schemas (tenants, parallel test workers) share
#: nothing and need not wait for each other.
_PG_MIGRATION_LOCK = "harmony.migrate.{schema}"


def script_location() -> Path:
    """Folder of the packaged migration scripts (works from a wheel, not only a checkout)."""
    location = Path(str(resources.files("harmony._migrations")))
    if not (location / "env.py").is_file():
        raise MigrationError(
            f"harmony's migration scripts are missing from {location}; reinstall harmony"
        )
    return location


@dataclass(frozen=True, slots=True)
class Revision:
    """One step of harmony's migration history."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


class MigrationRunner:
    """Upgrade, downgrade, inspect and check harmony's schema (``ctx.migrations``).

    ``metadata`` (the models to check against) and ``scripts`` (the folder of migration
    scripts) default to harmony's own; they exist so tests can prove that :meth:`check`
    notices drift and that data survives later revisions. ``schemaless_events`` receives
    ``db.migrate`` when a downgrade removed harmony's schema, so a logger that stores
    events in ``activity_events`` is not asked to write into a table that is gone.
    """

    def __init__(
        self,
        db: Database,
        events: EventLogger,
        *,
        metadata: MetaData | None = None,
        scripts: Path | None = None,
        schemaless_events: EventLogger | None = None,
    ) -> None:
        self._db = db
        self._events = events
        self._schemaless_events = schemaless_events if schemaless_events is not None else events
        self._metadata = metadata if metadata is not None else harmony_metadata
        self._location = scripts if scripts is not None else script_location()
        self._scripts = ScriptDirectory(str(self._location))

    def __repr__(self) -> str:
        return f"MigrationRunner({self._db!r})"

    # -- queries -----------------------------------------------------------------------

    def head(self) -> str:
        """The newest revision shipped with this version of harmony."""
        head = self._scripts.get_current_head()
        if head is None:  # pragma: no cover - the package always ships revisions
            raise MigrationError("harmony ships no migration revisions; reinstall harmony")
        return head

    def current(self) -> str | None:
        """The database's revision, or ``None`` when harmony's schema is not installed."""
        with self._db.connect() as conn:
            return self._current(conn)

    def history(self) -> list[Revision]:
        """Every revision, oldest first."""
        head = self.head()
        revisions = list(self._scripts.walk_revisions(base="base", head="heads"))
        revisions.reverse()
        return [
            Revision(
                revision=str(rev.revision),
                down_revision=_single(rev.down_revision),
                message=(rev.doc or "").strip(),
                is_head=rev.revision == head,
            )
            for rev in revisions
        ]

    def check(self) -> None:
        """Raise :class:`SchemaDriftError` unless the database is at head and matches the models."""
        with self._db.connect() as conn:
            current = self._current(conn)
            head = self.head()
            if current != head:
                raise SchemaDriftError(
                    f"database is at revision {current or 'base (empty)'}, harmony expects "
                    f"{head}; run ctx.migrate() or 'harmony migrate upgrade'",
                    [f"revision: database {current or 'base'} != head {head}"],
                )
            context = MigrationContext.configure(
                conn, opts=context_options(conn, self._metadata, self._db.schema)
            )
            diffs = compare_metadata(context, self._metadata)
        if diffs:
            lines = [_describe_diff(diff) for diff in diffs]
            raise SchemaDriftError(
                f"database schema and harmony's models differ in {len(lines)} place(s): "
                + "; ".join(lines),
                lines,
            )

    # -- changes -----------------------------------------------------------------------

    def upgrade(self, rev: str = "head") -> str | None:
        """Upgrade to ``rev`` (default: head). Returns the new revision. Idempotent."""
        self._resolve(rev)
        return self._run("upgrade", rev)

    def downgrade(self, rev: str) -> str | None:
        """Downgrade to ``rev`` (``"base"`` removes harmony's schema). Returns the new revision."""
        if rev != "base":
            self._resolve(rev)
        return self._run("downgrade", rev)

    # -- internals -----------------------------------------------------------------------

    def _resolve(self, rev: str) -> None:
        if rev in ("head", "heads"):
            return
        try:
            found = self._scripts.get_revision(rev)
        except CommandError as exc:
            found = None
            cause: Exception | None = exc
        else:
            cause = None
        if found is None:
            known = ", ".join(r.revision for r in self.history()) or "none"
            raise UnknownRevisionError(
                f"unknown migration revision {rev!r}; known revisions: {known}, or 'head' / 'base'"
            ) from cause

    def _current(self, conn: Connection) -> str | None:
        context = MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE, "version_table_schema": self._db.schema}
        )
        return context.get_current_revision()

    def _run(self, direction: str, rev: str) -> str | None:
        started = time.perf_counter()
        with self._connection() as conn:
            before = self._current(conn)
            config = Config()
            config.set_main_option("script_location", str(self._location))
            config.attributes.update(
                connection=conn, target_metadata=self._metadata, schema=self._db.schema
            )
            try:
                if direction == "upgrade":
                    command.upgrade(config, rev)
                else:
                    command.downgrade(config, rev)
            except CommandError as exc:
                raise MigrationError(f"{direction} to {rev!r} failed: {exc}") from exc
            after = self._current(conn)
        if before != after:
            events = self._events if after is not None else self._schemaless_events
            events.emit(
                "db.migrate",
                status="ok",
                direction=direction,
                from_revision=before,
                to_revision=after,
                duration_ms=elapsed_ms(started),
            )
        return after

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """One connection and transaction for a whole migration run.

        On SQLite, foreign-key enforcement is switched off for the run (it cannot change
        inside a transaction): batch mode rebuilds tables by copy-and-drop, and dropping a
        referenced table with enforcement on would cascade-delete rows. The keys are checked
        before commit instead.
        """
        with translate_db_errors(self._db.settings), self._db.write_engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _raw_sqlite(conn, "PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        # Processes starting together queue here; the later ones then see
                        # the new revision and have nothing to do.
                        lock = _PG_MIGRATION_LOCK.format(schema=self._db.schema or "public")
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": lock}
                        )
                    if self._db.schema:
                        _ensure_schema(conn, self._db.schema)
                    yield conn
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise MigrationError(
                                f"migration left {len(broken)} rows with broken foreign keys "
                                f"(first: {tuple(broken[0])}); nothing was changed"
                            )
            finally:
                if sqlite:
                    _raw_sqlite(conn, "PRAGMA foreign_keys=ON")


def _ensure_schema(conn: Connection, schema: str) -> None:
    # CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even when the
    # schema exists; a schema prepared by an administrator must work without it.
    found = conn.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": schema}
    ).first()
    if found is None:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))


def _raw_sqlite(conn: Connection, statement: str) -> None:
    # Straight to the driver: SQLAlchemy would open a transaction first, where this is a no-op.
    conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]


def _single(value: str | Sequence[str] | None) -> str | None:
    if value is not None and not isinstance(value, str):
        return ",".join(value)
    return value


def _describe_diff(diff: object) -> str:
    if isinstance(diff, list):  # column modifications come grouped
        return ", ".join(_describe_diff(d) for d in diff)
    if isinstance(diff, tuple) and diff:
        kind = diff[0]
        parts = [str(kind)]
        for item in diff[1:]:
            name = getattr(item, "name", None)
            table = getattr(getattr(item, "table", None), "name", None)
            if name is not None:
                parts.append(f"{table}.{name}" if table and table != name else str(name))
            elif item is not None and not isinstance(item, dict):
                parts.append(str(item))
        return " ".join(parts)
    return str(diff)
