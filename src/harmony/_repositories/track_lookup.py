"""Stored tracks fetched in batches, by harmony id or by provider id."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from harmony._db.engine import Database
from harmony._db.models import TrackRow
from harmony._repositories.playlist_types import Track
from harmony._repositories.playlists import TRACK_COLUMNS, track_from_row

__all__ = ["TrackLookup"]

# Bound parameters per IN list: far below SQLite's 32,766 and PostgreSQL's 65,535.
_BATCH = 500


class TrackLookup:
    """Many stored tracks in a few queries (``IN`` lists of at most 500 values)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"TrackLookup({self._db!r})"

    def by_ids(self, track_ids: Iterable[int]) -> dict[int, Track]:
        """The stored tracks among ``track_ids``, by id; absent ids are left out."""
        wanted = sorted(set(track_ids))
        found: dict[int, Track] = {}
        with self._db.connect() as conn:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                for row in conn.execute(select(*TRACK_COLUMNS).where(TrackRow.id.in_(chunk))):
                    found[row.id] = track_from_row(row)
        return found

    def by_provider_ids(self, provider: str, provider_ids: Iterable[str]) -> dict[str, Track]:
        """The stored tracks of ``provider`` among ``provider_ids``, by provider id."""
        wanted = sorted(set(provider_ids))
        found: dict[str, Track] = {}
        with self._db.connect() as conn:
            for start in range(0, len(wanted), _BATCH):
                chunk = wanted[start : start + _BATCH]
                stmt = select(*TRACK_COLUMNS).where(
                    TrackRow.provider == provider, TrackRow.provider_id.in_(chunk)
                )
                for row in conn.execute(stmt):
                    found[row.provider_id] = track_from_row(row)
        return found
