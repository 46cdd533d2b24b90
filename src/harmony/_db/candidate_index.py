"""The candidate index over ``tracks.search_key`` (migration ``0006``), used by search and
matching to find tracks containing a word without reading every row.

* SQLite: an FTS5 table with the ``trigram`` tokenizer (``tracks_fts``). It has *external
  content*: it stores only the index, the text stays in ``tracks``. Three triggers keep it
  in step with every insert, ``search_key`` update and delete, whichever code path writes.
* PostgreSQL: a GIN index with ``pg_trgm``'s ``gin_trgm_ops`` on ``search_key``; PostgreSQL
  keeps it itself. ``LIKE '%word%'`` uses it.

Neither is part of the models: they are optional (an SQLite build without FTS5's trigram
tokenizer, a PostgreSQL role that may not create the extension), so
``ctx.migrations.check()`` leaves them out on purpose (:data:`IGNORED_BY_DRIFT_CHECK`).
Creating them never fails a migration: each attempt runs in a savepoint, and a refusal is
logged (logger ``harmony.migrations``) and leaves the database without the index, in which
case search scans ``tracks`` as it always did. :func:`candidate_index_state` tells which.

A migration that rebuilds ``tracks`` in SQLite batch mode (copy and rename) drops the
triggers; it must call :func:`create_candidate_index` afterwards. Until then the state is
``"stale"`` and search scans.
"""

from __future__ import annotations

import logging
from typing import Literal

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

__all__ = [
    "FTS_TABLE",
    "FTS_TRIGGERS",
    "IGNORED_BY_DRIFT_CHECK",
    "TRGM_INDEX",
    "IndexState",
    "candidate_index_state",
    "create_candidate_index",
    "drop_candidate_index",
]

_log = logging.getLogger("harmony.migrations")

#: SQLite: the FTS5 table over ``tracks.search_key`` (its rowid is ``tracks.id``).
FTS_TABLE = "tracks_fts"
#: SQLite: the triggers that keep :data:`FTS_TABLE` in step with ``tracks``.
FTS_TRIGGERS = ("tracks_fts_insert", "tracks_fts_update", "tracks_fts_delete")
#: PostgreSQL: the trigram GIN index on ``tracks.search_key``.
TRGM_INDEX = "ix_tracks_search_key_trgm"
#: What ``ctx.migrations.check()`` deliberately ignores: the FTS5 table and its shadow
#: tables (SQLAlchemy cannot model a virtual table) and the trigram index (it needs an
#: extension the database may not have).
IGNORED_BY_DRIFT_CHECK = frozenset(
    {
        FTS_TABLE,
        f"{FTS_TABLE}_data",
        f"{FTS_TABLE}_idx",
        f"{FTS_TABLE}_content",
        f"{FTS_TABLE}_docsize",
        f"{FTS_TABLE}_config",
        TRGM_INDEX,
    }
)

#: ``"ready"``; ``"missing"``; or (SQLite) ``"stale"``: the table is there but a trigger is
#: gone, so it no longer follows writes.
IndexState = Literal["ready", "missing", "stale"]

# The statements are spelt out (no formatting): they never take a value from outside.
# columnsize=0: no per-row size table (bm25 ranking is not used), one write less per track.
_SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE tracks_fts USING fts5(search_key, content='tracks', "
    "content_rowid='id', tokenize='trigram', columnsize=0)"
)
_SQLITE_TRIGGERS = (
    """CREATE TRIGGER tracks_fts_insert AFTER INSERT ON tracks BEGIN
        INSERT INTO tracks_fts(rowid, search_key) VALUES (new.id, new.search_key);
    END""",
    """CREATE TRIGGER tracks_fts_update AFTER UPDATE OF search_key ON tracks
        WHEN old.search_key IS NOT new.search_key BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, search_key)
            VALUES ('delete', old.id, old.search_key);
        INSERT INTO tracks_fts(rowid, search_key) VALUES (new.id, new.search_key);
    END""",
    """CREATE TRIGGER tracks_fts_delete AFTER DELETE ON tracks BEGIN
        INSERT INTO tracks_fts(tracks_fts, rowid, search_key)
            VALUES ('delete', old.id, old.search_key);
    END""",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS tracks_fts_insert",
    "DROP TRIGGER IF EXISTS tracks_fts_update",
    "DROP TRIGGER IF EXISTS tracks_fts_delete",
)
_SQLITE_REBUILD = "INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild')"


def candidate_index_state(conn: Connection) -> IndexState:
    """Whether the database behind ``conn`` has a usable candidate index."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            text(
                "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'tracks' AND indexname = :name"
            ),
            {"name": TRGM_INDEX},
        ).first()
        return "ready" if found is not None else "missing"
    names = set(
        conn.execute(
            text(
                "SELECT name FROM sqlite_master "
                "WHERE name = :table OR (type = 'trigger' AND tbl_name = 'tracks')"
            ),
            {"table": FTS_TABLE},
        ).scalars()
    )
    if FTS_TABLE not in names:
        return "missing"
    return "ready" if names.issuperset(FTS_TRIGGERS) else "stale"


def create_candidate_index(conn: Connection) -> IndexState:
    """Create whatever part of the index is missing, inside the caller's transaction, and
    fill it from ``tracks``; returns the state afterwards. A refusal is logged, not raised."""
    if conn.dialect.name == "postgresql":
        return _create_postgresql(conn)
    return _create_sqlite(conn)


def drop_candidate_index(conn: Connection) -> None:
    """Remove the index (PostgreSQL: the extension stays; others may use it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("DROP INDEX IF EXISTS ix_tracks_search_key_trgm"))
        return
    for statement in (*_SQLITE_DROP, "DROP TABLE IF EXISTS tracks_fts"):
        conn.exec_driver_sql(statement)


# -- SQLite -------------------------------------------------------------------------------


def _create_sqlite(conn: Connection) -> IndexState:
    state = candidate_index_state(conn)
    if state == "ready":
        return state
    if state == "missing":
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(_SQLITE_TABLE)
        except DBAPIError as exc:  # no FTS5, or no trigram tokenizer (SQLite < 3.34)
            version = conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
            _log.warning(
                "harmony: no candidate index on this SQLite (%s; version %s): search will "
                "scan the tracks table; SQLite 3.34 or newer with FTS5 has it",
                _first_line(exc),
                version,
            )
            return "missing"
    for statement in (*_SQLITE_DROP, *_SQLITE_TRIGGERS):
        conn.exec_driver_sql(statement)
    # From scratch: a stale table missed the writes made while a trigger was gone.
    conn.exec_driver_sql(_SQLITE_REBUILD)
    return "ready"


# -- PostgreSQL ---------------------------------------------------------------------------


def _create_postgresql(conn: Connection) -> IndexState:
    if candidate_index_state(conn) == "ready":
        return "ready"
    schema = _trgm_schema(conn) or _create_extension(conn)
    if schema is None:
        return "missing"
    try:
        with conn.begin_nested():
            # The opclass lives in the extension's schema, an identifier (not a bindable
            # value) read from pg_namespace, quoted by the dialect.
            conn.execute(
                text(
                    "CREATE INDEX ix_tracks_search_key_trgm ON tracks USING gin (search_key "
                    + _quote(conn, schema)
                    + ".gin_trgm_ops)"  # nosec B608
                )
            )
    except DBAPIError as exc:  # e.g. no USAGE on the extension's schema
        _log.warning(
            "harmony: could not create the trigram index %s (%s); search will scan the "
            "tracks table",
            TRGM_INDEX,
            _first_line(exc),
        )
        return "missing"
    return "ready"


def _trgm_schema(conn: Connection) -> str | None:
    found = conn.execute(
        text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def _create_extension(conn: Connection) -> str | None:
    # In "public" first: an extension inside harmony's own schema would be dropped (with
    # every index using it, in any schema) when that schema is dropped.
    errors = []
    current = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    for schema in dict.fromkeys(("public", current)):
        try:
            with conn.begin_nested():
                conn.execute(
                    text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA " + _quote(conn, schema))
                )
        except DBAPIError as exc:
            errors.append(f"in schema {schema}: {_first_line(exc)}")
            continue
        return _trgm_schema(conn)
    _log.warning(
        "harmony: could not create the pg_trgm extension (%s); search will scan the tracks "
        "table. Once a superuser has run CREATE EXTENSION pg_trgm, ctx.search.ensure_index() "
        "adds the index",
        "; ".join(errors),
    )
    return None


def _quote(conn: Connection, identifier: str) -> str:
    return str(conn.dialect.identifier_preparer.quote_identifier(identifier))


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
