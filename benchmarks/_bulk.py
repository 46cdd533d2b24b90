"""Loading a generated library straight into ``tracks`` with bulk SQL, for the benchmarks
that need a million tracks (a sync through provider objects would take longer than the
thing measured).

Rows get the same ``search_key`` the sync writes (``harmony._textnorm.search_key``); the
candidate index follows on its own (SQLite: its triggers fire for every row; PostgreSQL:
the GIN index is maintained by the server), exactly as it does for a sync. Loading a
million rows that way takes minutes on SQLite (each trigger call indexes one row);
:func:`index_dropped` drops the index for the load and builds it once afterwards
(``ctx.search.ensure_index()``, what migration 0006 does on an existing library).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import insert

from harmony import HarmonyContext
from harmony._db.candidate_index import drop_candidate_index
from harmony._db.models import TrackRow
from harmony._textnorm import search_key

_COLUMNS = (
    "provider",
    "provider_id",
    "title",
    "artists",
    "album",
    "duration_ms",
    "isrc",
    "year",
    "search_key",
    "created_at",
    "updated_at",
)
_CHUNK = 20_000


def _rows(
    provider: str, tracks: Iterable[Mapping[str, Any]], now: datetime
) -> Iterator[dict[str, Any]]:
    for t in tracks:
        yield {
            "provider": provider,
            "provider_id": t["id"],
            "title": t["title"],
            "artists": list(t["artists"]),
            "album": t.get("album"),
            "duration_ms": t.get("duration_ms"),
            "isrc": t.get("isrc"),
            "year": t.get("year"),
            "search_key": search_key(t["title"], t["artists"], t.get("album")),
            "created_at": now,
            "updated_at": now,
        }


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(rows, _CHUNK)):
        yield chunk


def load_tracks(
    ctx: HarmonyContext,
    provider: str,
    tracks: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
) -> float:
    """Insert ``tracks`` (dicts with ``id``, ``title``, ``artists``, ``album``,
    ``duration_ms``, ``isrc``, ``year``) as ``provider``'s; returns the seconds it took.
    PostgreSQL: ``COPY``; SQLite: ``executemany`` in one transaction."""
    now = now or datetime.now(UTC)
    began = time.perf_counter()
    rows = _rows(provider, tracks, now)
    if ctx.db.backend == "postgresql":
        with ctx.db.write() as conn:
            raw: Any = conn.connection.driver_connection
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY tracks ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(
                        [json.dumps(row[c]) if c == "artists" else row[c] for c in _COLUMNS]
                    )
    else:
        with ctx.db.write() as conn:
            for chunk in _chunks(rows):
                conn.execute(insert(TrackRow), chunk)
    with ctx.db.write() as conn:
        conn.exec_driver_sql("ANALYZE tracks" if ctx.db.backend == "postgresql" else "ANALYZE")
    return time.perf_counter() - began


@contextmanager
def index_dropped(ctx: HarmonyContext) -> Iterator[None]:
    """Drop the candidate index, and build it again from the stored tracks at the end."""
    with ctx.db.write() as conn:
        drop_candidate_index(conn)
    try:
        yield
    finally:
        state = ctx.search.ensure_index()
        if state != "ready":
            raise SystemExit(f"the candidate index could not be built again: {state}")
