"""The SQL pre-filter of track search: tracks whose ``search_key`` contains query words.

Matching is a substring test on the stored normalised key (``instr`` on SQLite,
``strpos`` on PostgreSQL): exact, index-free, and cheap enough for 100,000 tracks. Rows
matching more of the words come first, then the shortest keys (the fewest other words);
ranking happens in the search service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select

from harmony.db.engine import Database
from harmony.db.models import TrackRow
from harmony.repositories.playlist_types import Track

__all__ = ["TrackSearchRepository"]


class TrackSearchRepository:
    """Candidate tracks for a search, straight from the ``tracks`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"TrackSearchRepository({self._db!r})"

    def candidates(
        self, words: Sequence[str], *, limit: int, exclude: Sequence[int] = ()
    ) -> list[Track]:
        """Up to ``limit`` tracks containing any of ``words`` (already normalised): those
        containing the most words first, then those with the shortest key, then by id."""
        if not words:
            return []
        contains = _contains_fn(self._db.backend)
        hits: ColumnElement[Any] = sum(
            (case((contains(TrackRow.search_key, literal(word)) > 0, 1), else_=0)
             for word in words),
            start=literal(0),
        )  # fmt: skip
        inner = select(
            TrackRow.id, TrackRow.provider, TrackRow.provider_id, TrackRow.title,
            TrackRow.artists, TrackRow.album, TrackRow.duration_ms, TrackRow.isrc,
            TrackRow.year, hits.label("hits"),
            func.length(TrackRow.search_key).label("key_length"),
        )  # fmt: skip
        if exclude:
            inner = inner.where(TrackRow.id.not_in(list(exclude)))
        found = inner.subquery()
        stmt = (
            select(found)
            .where(found.c.hits > 0)
            # Among rows matching as many words, the shortest keys first: they carry the
            # fewest other words, so they are the closest matches (and an exact title wins).
            .order_by(found.c.hits.desc(), found.c.key_length, found.c.id)
            .limit(limit)
        )
        with self._db.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            Track(id=r.id, provider=r.provider, provider_id=r.provider_id, title=r.title,
                  artists=tuple(r.artists or ()), album=r.album, duration_ms=r.duration_ms,
                  isrc=r.isrc, year=r.year)
            for r in rows
        ]  # fmt: skip


def _contains_fn(backend: str) -> Any:
    return func.strpos if backend == "postgresql" else func.instr
