"""Low-level SQL of matching runs: statements spelt out per dialect, reading rows and
inserting them through the DBAPI cursor, and the chunked ``IN`` / ``= ANY`` conditions.

Matching reads and writes up to a million small rows per run; SQLAlchemy's row objects and
per-row parameter processing cost more than the queries there, so these helpers compile
statements with SQLAlchemy (bound parameters, the dialect's types) and hand them to the
cursor. Everything else about the schema stays in SQLAlchemy constructs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, any_, insert, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from harmony.errors import DatabaseError

__all__ = [
    "KEY_FIELDS",
    "PG_COPY_KEYS",
    "SQLITE_INSERT_KEYS",
    "SQLITE_PAIRS",
    "KeyRow",
    "among",
    "artists_of",
    "big_cache",
    "driver_rows",
    "insert_rows",
    "iter_chunks",
    "raw_keys",
    "typed_key",
]

CHUNK = 500

#: A stored key: (track id, isrc, title, primary artist, "|"-joined artists, "+"-joined
#: tags, duration, the track's updated_at the key was computed from).
KeyRow = tuple[int, str | None, str, str, str, str, int | None, datetime]

KEY_FIELDS = (
    "track_id",
    "track_updated_at",
    "isrc",
    "title",
    "artist",
    "artists",
    "tags",
    "duration_ms",
)
PG_COPY_KEYS = (
    "COPY track_match_keys (provider, track_id, track_updated_at, isrc, title, artist, "
    "artists, tags, duration_ms) FROM STDIN"
)
SQLITE_INSERT_KEYS = (
    "INSERT OR REPLACE INTO track_match_keys (provider, track_id, track_updated_at, isrc, title, artist, "
    "artists, tags, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: SQLite: keys of the (artist, title) pairs of a VALUES table (no column list is allowed
#: on a VALUES alias, hence the CTE).
SQLITE_PAIRS = (
    "WITH wanted(artist, title) AS (VALUES {rows}) SELECT k.track_id, k.isrc, k.title, "
    "k.artist, k.artists, k.tags, k.duration_ms, k.track_updated_at FROM wanted "
    "JOIN track_match_keys AS k ON k.provider = ? AND k.artist = wanted.artist "
    "AND k.title = wanted.title"
)


def raw_keys(conn: Connection, stmt: Any) -> list[KeyRow]:
    """Rows of a key query, read by the driver (SQLAlchemy's per-row processing costs
    more than the query on the blocks of a large catalogue)."""
    compiled = stmt.compile(conn, compile_kwargs={"render_postcompile": True})
    return [typed_key(row) for row in driver_rows(conn, compiled)]


def driver_rows(
    conn: Connection, compiled: Any, values: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of a compiled statement, fetched by the DBAPI cursor itself: SQLAlchemy's
    row objects cost more than the query when a run reads a million index entries."""
    params = compiled.construct_params(values)
    if compiled.positional:
        params = tuple(params[n] for n in compiled.positiontup or ())
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DatabaseError(
            f"database refused a matching query: {str(exc).strip().splitlines()[0]}"
        ) from exc
    finally:
        cursor.close()


@contextmanager
def big_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 128 MiB page cache while keys are written, the connection's own after.
    Keys go into three indexes in no useful order; with the default 2 MiB cache most
    inserts miss (measured: 200,000 keys into a catalogue of a million, 3.9 s -> 2.4 s)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql("PRAGMA cache_size=-131072")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


class _Converter:
    """A column type's bind processor, remembering its last value: a run stamps every row
    with the same "now", converted once."""

    __slots__ = ("_last", "_out", "_process")

    def __init__(self, process: Callable[[Any], Any] | None) -> None:
        self._process = process
        self._last: Any = _UNSET
        self._out: Any = None

    def __call__(self, value: Any) -> Any:
        if self._process is None:
            return value
        if value is not self._last:
            self._last, self._out = value, self._process(value)
        return self._out


_UNSET = object()


def insert_rows(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows``; on SQLite through the DBAPI's ``executemany`` with each value
    converted by its column type once (SQLAlchemy's executemany costs ~50 us a row)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, rows)
        return
    compiled = insert(table).compile(conn, column_keys=list(rows[0]))
    names = list(compiled.positiontup or ())  # the statement's parameter order
    converters = [
        _Converter(table.c[name].type._cached_bind_processor(conn.dialect)) for name in names
    ]
    values = [
        tuple(convert(r[n]) for convert, n in zip(converters, names, strict=True)) for r in rows
    ]
    statement = str(compiled)
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


def _copy_rows(conn: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """PostgreSQL: ``COPY`` in the connection's transaction (an executemany of 100,000
    rows measured 25 s on a 2-core machine). JSON columns go as JSON text."""
    names = list(rows[0])
    as_json = {n for n in names if isinstance(table.c[n].type, JSON)}
    columns = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
    raw: Any = conn.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(
            "COPY "
            + conn.dialect.identifier_preparer.quote(table.name)
            + " ("
            + columns
            + ") FROM STDIN"  # nosec B608
        ) as copy,
    ):
        for row in rows:
            copy.write_row([json.dumps(row[n]) if n in as_json else row[n] for n in names])


def typed_key(row: Any) -> KeyRow:
    """A raw key row with its timestamp as an aware datetime."""
    stamp = row[7]
    if isinstance(stamp, str):  # SQLite text
        stamp = datetime.fromisoformat(stamp)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return (row[0], row[1], row[2], row[3], row[4], row[5], row[6], stamp)


def artists_of(value: Any) -> list[str]:
    """A stored ``artists`` value as the driver returns it (JSON text on SQLite)."""
    if isinstance(value, str):
        value = json.loads(value)
    return [str(name) for name in value or ()]


def among(
    conn: Connection,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    item: TypeEngine[Any],
) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose ``column`` is one of ``values``:
    one ``= ANY(:array)`` on PostgreSQL, ``IN`` lists of 500 on SQLite."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        yield column == any_(literal(list(values), ARRAY(item)))
    else:
        for start in range(0, len(values), CHUNK):
            yield column.in_(values[start : start + CHUNK])


def iter_chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``values`` in slices of ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
