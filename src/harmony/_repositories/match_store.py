"""The matching runs' SQL: catalogue states, matching keys, the work of a run, candidate
lookups and writing a run's results.

Dialect notes: PostgreSQL writes keys with ``COPY`` and looks values up with
``= ANY(:array)`` (psycopg parses statements with thousands of parameters slowly, see
``sync_store``); SQLite uses ``executemany`` and ``IN`` lists of 500. The low-level reads
and writes are in :mod:`harmony._repositories.match_sql`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import NullType

from harmony._db.engine import Database
from harmony._db.models import (
    MatchCheckRow,
    MatchRunRow,
    TrackMatchKeyRow,
    TrackMatchRow,
    TrackRow,
)
from harmony._repositories.match_sql import (
    CHUNK,
    KEY_FIELDS,
    PG_COPY_KEYS,
    SQLITE_INSERT_KEYS,
    SQLITE_PAIRS,
    KeyRow,
    among,
    artists_of,
    big_cache,
    driver_rows,
    insert_rows,
    iter_chunks,
    raw_keys,
    typed_key,
)

__all__ = [
    "CatalogueState",
    "Decision",
    "KeyRow",
    "MatchStore",
    "RunState",
    "SourceRow",
    "iter_chunks",
]

_PAGE = 5000


_KEY_COLUMNS = (
    TrackMatchKeyRow.track_id,
    TrackMatchKeyRow.isrc,
    TrackMatchKeyRow.title,
    TrackMatchKeyRow.artist,
    TrackMatchKeyRow.artists,
    TrackMatchKeyRow.tags,
    TrackMatchKeyRow.duration_ms,
    TrackMatchKeyRow.track_updated_at,
)


@dataclass(frozen=True, slots=True)
class CatalogueState:
    """A provider's catalogue as a run saw it: count, highest id, newest ``updated_at``."""

    count: int
    max_id: int | None
    updated_at: datetime | None

    @property
    def token(self) -> str:
        """Equal for equal states (what a run stores and the next one compares)."""
        stamp = self.updated_at.isoformat() if self.updated_at else "-"
        return f"{self.count}:{self.max_id or 0}:{stamp}"


@dataclass(frozen=True, slots=True)
class RunState:
    """What the previous run of a pair stored."""

    rules: str
    source_state: str
    target_state: str


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A track to compute keys for."""

    id: int
    title: str
    artists: tuple[str, ...]
    album: str | None
    isrc: str | None
    duration_ms: int | None
    #: ``updated_at`` as the driver returns it, written back as is (no conversion: the
    #: stored copy compares equal in SQL)
    updated_at: Any
    #: whether an older key is stored (to be replaced)
    keyed: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """A run's outcome for one source track: its new automatic match, or none."""

    source_track_id: int
    source_updated_at: datetime
    target_track_id: int | None = None
    target_updated_at: datetime | None = None
    method: str = "fuzzy"
    score: float = 0.0
    reasons: tuple[str, ...] = ()


class MatchStore:
    """SQL of matching runs (``ctx.matching.run``)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # The connection holding this thread's outer advisory lock, which inner ones share.
        self._held = threading.local()

    def __repr__(self) -> str:
        return f"MatchStore({self._db!r})"

    # -- catalogues and runs --------------------------------------------------------------

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[None]:
        """PostgreSQL: hold a session advisory lock named ``name`` for the block, so work
        under one name (a pair's run, a catalogue's keys) waits for other processes'.
        SQLite: no lock (its single writer serialises the writes, which are written so
        that concurrent runs store the same results)."""
        if self._db.backend != "postgresql":
            yield
            return
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:  # inside another lock of this thread: its session takes this one
            with _advisory_lock(held, name):
                yield
            return
        with self._db.autocommit_connection() as conn:
            self._held.conn = conn
            try:
                with _advisory_lock(conn, name):
                    yield
            finally:
                self._held.conn = None

    def has_tracks(self, provider: str) -> bool:
        """Whether any track of ``provider`` is stored."""
        with self._db.connect() as conn:
            stmt = select(literal(1)).where(TrackRow.provider == provider).limit(1)
            return conn.execute(stmt).first() is not None

    def catalogue(self, provider: str) -> CatalogueState:
        """``provider``'s catalogue state (read from the ``(provider, updated_at)`` index)."""
        stmt = select(func.count(), func.max(TrackRow.id), func.max(TrackRow.updated_at)).where(
            TrackRow.provider == provider
        )
        with self._db.connect() as conn:
            count, max_id, newest = conn.execute(stmt).one()
        if isinstance(newest, str):  # SQLite's aggregate may bypass the column type
            newest = datetime.fromisoformat(newest)
        if isinstance(newest, datetime) and newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        return CatalogueState(int(count), max_id, newest)

    def run_state(self, source: str, target: str) -> RunState | None:
        """What the pair's previous run stored, if it ran."""
        stmt = select(MatchRunRow.rules, MatchRunRow.source_state, MatchRunRow.target_state).where(
            MatchRunRow.source_provider == source, MatchRunRow.target_provider == target
        )
        with self._db.connect() as conn:
            row = conn.execute(stmt).first()
        return RunState(*row) if row is not None else None

    # -- keys -----------------------------------------------------------------------------

    def stale_keys(self, provider: str) -> Iterator[list[SourceRow]]:
        """Pages of ``provider``'s tracks whose keys are missing or older than the track."""
        key = TrackMatchKeyRow
        last = 0
        stmt = (
            select(
                TrackRow.id,
                TrackRow.title,
                type_coerce(TrackRow.artists, NullType()),
                TrackRow.album,
                TrackRow.isrc,
                TrackRow.duration_ms,
                type_coerce(TrackRow.updated_at, NullType()),
                key.track_id.is_not(None),
            )
            .outerjoin(key, key.track_id == TrackRow.id)
            .where(
                TrackRow.provider == bindparam("provider"),
                TrackRow.id > bindparam("last"),
                or_(key.track_id.is_(None), key.track_updated_at != TrackRow.updated_at),
            )
            .order_by(TrackRow.id)
        )
        if self._db.backend == "postgresql":
            # One pass through a server-side cursor: PostgreSQL answers each keyset page
            # with a join over the whole table (pages made keying quadratic there).
            yield from self._stale_stream(stmt, provider)
            return
        stmt = stmt.limit(_PAGE)
        while True:
            with self._db.connect() as conn:
                # Raw rows (artists as the driver returns them, timestamps untouched): a
                # catalogue of a million tracks is read here once.
                raw = driver_rows(conn, stmt.compile(conn), {"provider": provider, "last": last})
            rows = [
                SourceRow(r[0], r[1], tuple(artists_of(r[2])), r[3], r[4], r[5], r[6], bool(r[7]))
                for r in raw
            ]
            if not rows:
                return
            yield rows
            last = rows[-1].id

    def _stale_stream(self, stmt: Any, provider: str) -> Iterator[list[SourceRow]]:
        with self._db.connect() as conn:
            compiled = stmt.compile(conn)
            raw: Any = conn.connection.driver_connection
            # A named (server-side) cursor fetching 5,000 rows a round trip.
            with raw.cursor(name="harmony_stale_keys") as cursor:
                cursor.execute(
                    str(compiled), compiled.construct_params({"provider": provider, "last": 0})
                )
                while part := cursor.fetchmany(_PAGE):
                    yield [
                        SourceRow(
                            r[0], r[1], tuple(artists_of(r[2])), r[3], r[4], r[5], r[6], bool(r[7])
                        )
                        for r in part
                    ]

    def write_keys(
        self, provider: str, keys: Sequence[Mapping[str, Any]], replace: Sequence[int] = ()
    ) -> None:
        """Store ``keys`` (dicts of :class:`TrackMatchKeyRow` columns; ``track_updated_at``
        as :class:`SourceRow` read it), replacing those of the tracks ``replace``."""
        if not keys:
            return
        with self._db.write() as conn, big_cache(conn):
            for condition in among(conn, TrackMatchKeyRow.track_id, replace, BigInteger()):
                conn.execute(delete(TrackMatchKeyRow).where(condition))
            if conn.dialect.name == "postgresql":
                # COPY in the write's transaction: arrays for unnest() cost psycopg a regex
                # per string to quote (measured: 2.8 s of 12 for 100,000 keys).
                driver = conn.connection.driver_connection
                assert driver is not None  # a live connection in a transaction
                with driver.cursor() as cursor, cursor.copy(PG_COPY_KEYS) as copy:
                    for k in keys:
                        copy.write_row((provider, *(k[f] for f in KEY_FIELDS)))
            else:  # straight to the driver: a million rows, no per-value conversion
                # INSERT OR REPLACE: a concurrent run (no lock on SQLite) may have keyed
                # some of these tracks since they were read as stale.
                conn.exec_driver_sql(
                    SQLITE_INSERT_KEYS, [(provider, *(k[f] for f in KEY_FIELDS)) for k in keys]
                )

    def load_keys(self, ids: Sequence[int]) -> dict[int, KeyRow]:
        """Stored keys of the tracks ``ids``."""
        found: dict[int, KeyRow] = {}
        with self._db.connect() as conn:
            for condition in among(conn, TrackMatchKeyRow.track_id, ids, BigInteger()):
                for row in raw_keys(conn, select(*_KEY_COLUMNS).where(condition)):
                    found[row[0]] = row
        return found

    # -- the work of a run ----------------------------------------------------------------

    def sources_to_check(
        self, source: str, target: str, *, every: bool, catalogue_changed: bool
    ) -> set[int]:
        """Source track ids a run must look at: new or changed ones (``every``: all of them);
        when the target's catalogue changed, also those without a match in use, those whose
        automatic match's target track changed since, and those with a fuzzy match whose
        ISRC another target track now has."""
        src, check, match = TrackRow, MatchCheckRow, TrackMatchRow
        stmt = select(src.id).where(src.provider == source)
        if not every:
            stmt = stmt.outerjoin(
                check, and_(check.source_track_id == src.id, check.target_provider == target)
            ).where(or_(check.source_track_id.is_(None), check.source_updated_at != src.updated_at))
        with self._db.connect() as conn:
            found = set(conn.execute(stmt).scalars())
            if not catalogue_changed or every:
                return found
            in_use = exists().where(
                match.source_track_id == src.id,
                match.target_provider == target,
                match.status != "rejected",
            )
            found.update(
                conn.execute(select(src.id).where(src.provider == source, ~in_use)).scalars()
            )
            tgt = TrackRow.__table__.alias("tgt")
            auto = (match.target_provider == target, match.status == "auto", src.provider == source)
            found.update(
                conn.execute(
                    select(match.source_track_id)
                    .join(src, src.id == match.source_track_id)
                    .join(tgt, tgt.c.id == match.target_track_id)
                    .where(*auto, tgt.c.updated_at != match.target_updated_at)
                ).scalars()
            )
            source_key = TrackMatchKeyRow.__table__.alias("source_key")
            target_key = TrackMatchKeyRow.__table__.alias("target_key")
            found.update(
                conn.execute(
                    select(match.source_track_id)
                    .join(src, src.id == match.source_track_id)
                    .join(source_key, source_key.c.track_id == match.source_track_id)
                    .join(
                        target_key,
                        and_(
                            target_key.c.provider == target, target_key.c.isrc == source_key.c.isrc
                        ),
                    )
                    .where(
                        *auto,
                        match.method != "isrc",
                        source_key.c.isrc.is_not(None),
                        target_key.c.track_id != match.target_track_id,
                    )
                ).scalars()
            )
        return found

    def overrides(self, ids: Sequence[int], target: str) -> tuple[set[int], set[tuple[int, int]]]:
        """Of the source tracks ``ids``: those with a confirmed match for ``target``, and
        every rejected ``(source, target track)`` pair."""
        confirmed: set[int] = set()
        rejected: set[tuple[int, int]] = set()
        stmt = select(
            TrackMatchRow.source_track_id, TrackMatchRow.target_track_id, TrackMatchRow.status
        )
        with self._db.connect() as conn:
            for condition in among(conn, TrackMatchRow.source_track_id, ids, BigInteger()):
                rows = conn.execute(
                    stmt.where(
                        condition,
                        TrackMatchRow.target_provider == target,
                        TrackMatchRow.status.in_(("confirmed", "rejected")),
                    )
                )
                for source_id, target_id, status in rows:
                    if status == "confirmed":
                        confirmed.add(source_id)
                    else:
                        rejected.add((source_id, target_id))
        return confirmed, rejected

    # -- candidates -----------------------------------------------------------------------

    def keys_by_isrc(self, provider: str, isrcs: Sequence[str]) -> list[KeyRow]:
        """Keys of ``provider``'s tracks with one of the canonical ``isrcs``."""
        return self._keys(provider, TrackMatchKeyRow.isrc, isrcs)

    def titles_by_artist(self, provider: str, artists: Sequence[str]) -> list[tuple[str, int, str]]:
        """``(artist, track id, title)`` of ``provider``'s tracks whose primary artist is one
        of ``artists`` (read from the ``(provider, artist, title)`` index alone)."""
        key = TrackMatchKeyRow
        return self._narrow(provider, key.artist, (key.artist, key.track_id, key.title), artists)

    def artists_by_title(self, provider: str, titles: Sequence[str]) -> list[tuple[str, int, str]]:
        """``(title, track id, primary artist)`` of ``provider``'s tracks with one of the
        normalised ``titles`` (read from the ``(provider, title, artist)`` index alone)."""
        key = TrackMatchKeyRow
        return self._narrow(provider, key.title, (key.title, key.track_id, key.artist), titles)

    def _narrow(
        self,
        provider: str,
        column: InstrumentedAttribute[Any],
        columns: tuple[Any, ...],
        values: Sequence[str],
    ) -> list[tuple[str, int, str]]:
        found: list[tuple[str, int, str]] = []
        with self._db.connect() as conn:
            for condition in among(conn, column, list(dict.fromkeys(values)), String()):
                stmt = select(*columns).where(TrackMatchKeyRow.provider == provider, condition)
                compiled = stmt.compile(conn, compile_kwargs={"render_postcompile": True})
                found.extend(driver_rows(conn, compiled))
        return found

    def keys_by_pair(self, provider: str, pairs: Sequence[tuple[str, str]]) -> list[KeyRow]:
        """Keys of ``provider``'s tracks with one of the ``(primary artist, title)`` pairs."""
        # A join with the pairs as a table: one index probe per pair. (A row-value IN list
        # measured 125 ms per 500 pairs on SQLite; this, a few ms.)
        found: list[KeyRow] = []
        pairs = list(dict.fromkeys(pairs))
        key = TrackMatchKeyRow
        with self._db.connect() as conn:
            for start in range(0, len(pairs), CHUNK):
                chunk = pairs[start : start + CHUNK]
                if conn.dialect.name == "postgresql":
                    wanted: Any = select(
                        func.unnest(literal([a for a, _ in chunk], ARRAY(String()))).label(
                            "artist"
                        ),
                        func.unnest(literal([t for _, t in chunk], ARRAY(String()))).label("title"),
                    ).subquery()
                    stmt: Any = (
                        select(*_KEY_COLUMNS)
                        .join(
                            wanted, and_(key.artist == wanted.c.artist, key.title == wanted.c.title)
                        )
                        .where(key.provider == provider)
                    )
                    found.extend(raw_keys(conn, stmt))
                else:  # SQLite: a VALUES table in a CTE, straight to the driver
                    found.extend(
                        typed_key(row)
                        for row in conn.exec_driver_sql(
                            SQLITE_PAIRS.format(rows=", ".join(["(?, ?)"] * len(chunk))),
                            (*(v for pair in chunk for v in pair), provider),
                        )
                    )
        return found

    def artist_names(self, provider: str) -> list[str]:
        """Every distinct primary artist of ``provider``'s keys."""
        stmt = (
            select(TrackMatchKeyRow.artist).where(TrackMatchKeyRow.provider == provider).distinct()
        )
        with self._db.connect() as conn:
            return [name for name in conn.execute(stmt).scalars() if name]

    def _keys(
        self, provider: str, column: InstrumentedAttribute[Any], values: Sequence[str]
    ) -> list[KeyRow]:
        found: list[KeyRow] = []
        with self._db.connect() as conn:
            for condition in among(conn, column, list(dict.fromkeys(values)), String()):
                stmt = select(*_KEY_COLUMNS).where(TrackMatchKeyRow.provider == provider, condition)
                found.extend(raw_keys(conn, stmt))
        return found

    # -- results --------------------------------------------------------------------------

    def save(
        self,
        source: str,
        target: str,
        decisions: Sequence[Decision],
        now: datetime,
        run: Mapping[str, Any] | None,
    ) -> int:
        """Write a run's ``decisions`` in one transaction and, when ``run`` is given, the
        pair's run row. Overrides made since the run read them win: a source confirmed in
        the meantime keeps its match, a pair rejected in the meantime is not written (and
        that track is looked at again next time). Returns how many matches changed."""
        changed = 0
        with self._db.write() as conn:
            for start in range(0, len(decisions), CHUNK):
                changed += _save_chunk(conn, target, decisions[start : start + CHUNK], now)
            if run is not None:
                conn.execute(
                    delete(MatchRunRow).where(
                        MatchRunRow.source_provider == source, MatchRunRow.target_provider == target
                    )
                )
                conn.execute(
                    insert(MatchRunRow).values(
                        source_provider=source, target_provider=target, finished_at=now, **run
                    )
                )
        return changed


def _save_chunk(conn: Connection, target: str, decisions: Sequence[Decision], now: datetime) -> int:
    ids = [d.source_track_id for d in decisions]
    current: dict[int, tuple[int, str]] = {}
    rejected: set[tuple[int, int]] = set()
    for condition in among(conn, TrackMatchRow.source_track_id, ids, BigInteger()):
        for source_id, target_id, status in conn.execute(
            select(
                TrackMatchRow.source_track_id, TrackMatchRow.target_track_id, TrackMatchRow.status
            ).where(condition, TrackMatchRow.target_provider == target)
        ):
            if status == "rejected":
                rejected.add((source_id, target_id))
            else:
                current[source_id] = (target_id, status)
    drop: list[int] = []
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    changed = 0
    for d in decisions:
        held = current.get(d.source_track_id)
        if held is not None and held[1] == "confirmed":
            checks.append(
                {"source_track_id": d.source_track_id, "source_updated_at": d.source_updated_at}
            )
            continue
        if d.target_track_id is not None and (d.source_track_id, d.target_track_id) in rejected:
            continue  # rejected while the run was matching: no check row, so it runs again
        if held is not None:
            drop.append(d.source_track_id)
        changed += (held[0] if held else None) != d.target_track_id
        if d.target_track_id is not None:
            rows.append(
                {
                    "source_track_id": d.source_track_id,
                    "target_track_id": d.target_track_id,
                    "target_provider": target,
                    "status": "auto",
                    "method": d.method,
                    "score": d.score,
                    "reasons": list(d.reasons),
                    "target_updated_at": d.target_updated_at,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        checks.append(
            {"source_track_id": d.source_track_id, "source_updated_at": d.source_updated_at}
        )
    if drop:
        conn.execute(
            delete(TrackMatchRow).where(
                TrackMatchRow.source_track_id.in_(drop),
                TrackMatchRow.target_provider == target,
                TrackMatchRow.status == "auto",
            )
        )
    if rows:
        insert_rows(conn, TrackMatchRow.__table__, rows)
    if checks:
        conn.execute(
            delete(MatchCheckRow).where(
                MatchCheckRow.source_track_id.in_([c["source_track_id"] for c in checks]),
                MatchCheckRow.target_provider == target,
            )
        )
        insert_rows(
            conn,
            MatchCheckRow.__table__,
            [{**c, "target_provider": target, "checked_at": now} for c in checks],
        )
    return changed


@contextmanager
def _advisory_lock(conn: Connection, name: str) -> Iterator[None]:
    """Hold the session advisory lock ``name`` on ``conn`` for the block."""
    conn.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
    try:
        yield
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
