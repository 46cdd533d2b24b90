"""The SQL pre-filter of track search: tracks whose ``search_key`` contains query words.

Candidates are ordered as they always were: rows containing more of the words first, then
the shortest keys (the fewest other words), then by id; ranking happens in the search
service. How the rows are found depends on the database:

* With the candidate index (:mod:`harmony._db.candidate_index`; migration ``0006``): rows
  containing *every* word of three or more letters (trigrams cannot index shorter words),
  and, when those are fewer than asked for, rows containing all of them but one (a
  misspelt word, or one the track lacks), and when that is still less than a page, rows
  containing any one of them. Each lookup reads at most ``_TIER_ROWS`` rows,
  so a query of common words reads a bounded number whatever the library's size; the
  order above is then applied to what was read.
* Without it (an SQLite without FTS5's trigram tokenizer, PostgreSQL without ``pg_trgm``),
  or for a query without a word of three letters: a substring test (``instr`` /
  ``strpos``) on every row, in that order. A logged warning (logger ``harmony.search``,
  once per context) says the index is missing.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    literal,
    select,
    text,
)

from harmony._db.candidate_index import (
    IndexState,
    candidate_index_state,
    create_candidate_index,
)
from harmony._db.engine import Database
from harmony._db.models import TrackRow
from harmony._repositories.playlist_types import Track
from harmony._repositories.playlists import TRACK_COLUMNS, track_from_row
from harmony.errors import DatabaseError

__all__ = ["TrackSearchRepository"]

_log = logging.getLogger("harmony.search")

#: Rows read per index lookup. On 1,000,000 tracks a lookup of one or two common words
#: matches tens of thousands of rows; reading 500 keeps each lookup a few ms (1,000 cost
#: about half as much again), and the ranking sanity checks of benchmarks/search.py came
#: out the same with 500, 1,000 and 2,000 (the shortest keys among 500 rows still hold
#: the exact titles it wants).
_TIER_ROWS = 500
#: Leave-one-out lookups (one per word) run when the all-words lookup found fewer rows than this share of the candidates asked
#: for (20 of the 200 a first page ranks): enough rows holding every word make rows that
#: lack one irrelevant to the first page, and each extra lookup costs a few ms.
_LEAVE_ONE_OUT_BELOW = 0.1
#: A missing index is looked for again after this many seconds (a migration may add it).
_RECHECK_SECONDS = 30.0

_COLUMNS = (*TRACK_COLUMNS, TrackRow.search_key)


class TrackSearchRepository:
    """Candidate tracks for a search, through the candidate index when the database has one."""

    def __init__(self, db: Database, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._state: IndexState | None = None
        self._checked_at = 0.0
        self._warned = False

    def __repr__(self) -> str:
        return f"TrackSearchRepository({self._db!r})"

    # -- the index -------------------------------------------------------------------

    def index_state(self) -> IndexState:
        """``"ready"``, ``"missing"`` or ``"stale"`` (see :mod:`harmony._db.candidate_index`)."""
        with self._lock:
            now = self._monotonic()
            if self._state is None or (
                self._state != "ready" and now - self._checked_at >= _RECHECK_SECONDS
            ):
                with self._db.connect() as conn:
                    self._state = candidate_index_state(conn)
                self._checked_at = now
            state = self._state
            warn = state != "ready" and not self._warned
            self._warned = self._warned or warn
        if warn:
            _log.warning(
                "harmony: the candidate index of %s is %s; search scans every track, which "
                "is slow on large libraries. Run ctx.migrate() (PostgreSQL also needs the "
                "pg_trgm extension) or ctx.search.ensure_index()",
                self._db.settings.safe_database_url,
                state,
            )
        return state

    def ensure_index(self) -> IndexState:
        """Create (or repair) the candidate index and fill it; returns the state afterwards."""
        with self._db.write() as conn:
            state = create_candidate_index(conn)
        with self._lock:
            self._state, self._checked_at = state, self._monotonic()
            self._warned = False
        return state

    def _forget_index(self) -> None:
        with self._lock:
            self._state = None

    # -- candidates ------------------------------------------------------------------

    def candidates(
        self,
        words: Sequence[str],
        *,
        limit: int,
        exclude: Sequence[int] = (),
        provider: str | None = None,
    ) -> list[Track]:
        """Up to ``limit`` tracks containing any of ``words`` (already normalised): those
        containing the most words first, then those with the shortest key, then by id.
        ``provider``: only that provider's tracks (matching looks in one catalogue)."""
        if not words:
            return []
        indexable = [w for w in dict.fromkeys(words) if len(w) >= 3]
        if indexable and self.index_state() == "ready":
            try:
                return self._indexed(indexable, words, limit, set(exclude), provider)
            except DatabaseError:
                # The index vanished under a live context (a downgrade): scan this time
                # and look for it again next time. A scan that fails too raises.
                self._forget_index()
        return self._scan(words, limit, exclude, provider)

    def _indexed(
        self,
        indexable: list[str],
        words: Sequence[str],
        limit: int,
        exclude: set[int],
        provider: str | None,
    ) -> list[Track]:
        keys: dict[int, str] = {}
        with self._db.connect() as conn:
            fetch = _fts_keys if conn.dialect.name == "sqlite" else _trgm_keys

            def lookup(conn: Connection, tier: Sequence[str]) -> Sequence[Any]:
                return fetch(conn, tier, provider)

            for track_id, key in lookup(conn, indexable):
                if track_id not in exclude:
                    keys[track_id] = key or ""
            few = limit * _LEAVE_ONE_OUT_BELOW
            # A misspelt word, or one the track lacks: rows with all the others; and when
            # that is still not a page, rows with any one of the words, as the scan has.
            for tiers in (
                itertools.combinations(indexable, len(indexable) - 1) if len(indexable) > 1 else (),
                [[word] for word in indexable] if len(indexable) > 2 else (),
            ):
                if len(keys) >= few:
                    break
                for tier in tiers:
                    for track_id, key in lookup(conn, tier):
                        if track_id not in exclude:
                            keys.setdefault(track_id, key or "")
                    if len(keys) >= limit:
                        break
            # Only the chosen rows are read whole (artists are JSON: decoding is not free).
            chosen = _best(keys, words, limit)
            rows = {
                row.id: row
                for row in conn.execute(select(*_COLUMNS).where(TrackRow.id.in_(chosen)))
            }
        return [track_from_row(rows[track_id]) for track_id in chosen if track_id in rows]

    def _scan(
        self, words: Sequence[str], limit: int, exclude: Sequence[int], provider: str | None
    ) -> list[Track]:
        contains = func.strpos if self._db.backend == "postgresql" else func.instr
        hits: ColumnElement[Any] = sum(
            (
                case((contains(TrackRow.search_key, literal(word)) > 0, 1), else_=0)
                for word in words
            ),
            start=literal(0),
        )
        inner = select(
            *_COLUMNS, hits.label("hits"), func.length(TrackRow.search_key).label("key_length")
        )
        if exclude:
            inner = inner.where(TrackRow.id.not_in(list(exclude)))
        if provider is not None:
            inner = inner.where(TrackRow.provider == provider)
        found = inner.subquery()
        stmt = (
            select(found)
            .where(found.c.hits > 0)
            .order_by(found.c.hits.desc(), found.c.key_length, found.c.id)
            .limit(limit)
        )
        with self._db.connect() as conn:
            return [track_from_row(row) for row in conn.execute(stmt)]


#: SQLite: ids and keys of the rows whose key contains every word (words are normalised
#: letters and digits, so quoting each as an FTS5 string is enough; MATCH on the trigram
#: table is a substring test).
_FTS_KEYS = text(
    "SELECT t.id, t.search_key FROM tracks AS t WHERE t.id IN "
    "(SELECT rowid FROM tracks_fts WHERE tracks_fts MATCH :query LIMIT :n)"
)
#: The same within one provider's tracks (the limit applies to that provider's rows).
_FTS_PROVIDER_KEYS = text(
    "SELECT t.id, t.search_key FROM tracks_fts AS f JOIN tracks AS t ON t.id = f.rowid "
    "WHERE tracks_fts MATCH :query AND t.provider = :provider LIMIT :n"
)


def _fts_keys(conn: Connection, words: Sequence[str], provider: str | None) -> Sequence[Any]:
    query = " AND ".join(f'"{word}"' for word in words)
    if provider is None:
        return conn.execute(_FTS_KEYS, {"query": query, "n": _TIER_ROWS}).all()
    return conn.execute(
        _FTS_PROVIDER_KEYS, {"query": query, "provider": provider, "n": _TIER_ROWS}
    ).all()


def _trgm_keys(conn: Connection, words: Sequence[str], provider: str | None) -> Sequence[Any]:
    # LIKE '%word%' is what the trigram GIN index serves (strpos cannot use an index).
    condition = and_(*(TrackRow.search_key.like(f"%{word}%") for word in words))
    if provider is not None:
        condition = and_(condition, TrackRow.provider == provider)
    stmt = select(TrackRow.id, TrackRow.search_key).where(condition).limit(_TIER_ROWS)
    return conn.execute(stmt).all()


def _best(keys: dict[int, str], words: Sequence[str], limit: int) -> list[int]:
    """The scan's order (most words, shortest key, id) applied to the rows the index found."""
    ranked = sorted(
        keys.items(), key=lambda item: (-sum(w in item[1] for w in words), len(item[1]), item[0])
    )
    return [track_id for track_id, _ in ranked[:limit]]
