"""Reads a sync preview (``ctx.sync.plan()``) needs beyond what the sync engine compares:
stored track lists, tracks whose metadata a sync would change, and playlists showing them.

Read-only: the same selects :mod:`harmony._repositories.sync_store` runs before it writes,
so a plan predicts exactly what :meth:`SyncStore.apply` will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, select

from harmony._db.engine import Database
from harmony._db.models import PlaylistRow, PlaylistTrackRow, TrackRow

# The writer's own helpers, so that "changed" means here exactly what it means there.
from harmony._repositories.sync_store import _among, _track_values, stored_track_rows
from harmony.providers.base import ProviderTrack

__all__ = ["StoredSlot", "StoredTrackChange", "SyncPreviewReader"]


@dataclass(frozen=True, slots=True)
class StoredSlot:
    """One stored entry of a playlist's track list."""

    provider_id: str
    title: str


@dataclass(frozen=True, slots=True)
class StoredTrackChange:
    """A stored track whose metadata a sync would overwrite, and which fields change."""

    track_id: int
    provider_id: str
    title: str
    fields: tuple[str, ...]


class SyncPreviewReader:
    """Read-only queries for sync previews."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"SyncPreviewReader({self._db!r})"

    def track_lists(self, playlist_ids: Sequence[int]) -> dict[int, list[StoredSlot]]:
        """The ordered track lists of these playlists (an empty list for none stored)."""
        lists: dict[int, list[StoredSlot]] = {pid: [] for pid in playlist_ids}
        with self._db.connect() as conn:
            for condition in _among(
                conn, PlaylistTrackRow.playlist_id, list(playlist_ids), BigInteger()
            ):
                rows = conn.execute(
                    select(PlaylistTrackRow.playlist_id, TrackRow.provider_id, TrackRow.title)
                    .join(TrackRow, TrackRow.id == PlaylistTrackRow.track_id)
                    .where(condition)
                    .order_by(PlaylistTrackRow.playlist_id, PlaylistTrackRow.position)
                )
                for row in rows:
                    lists[row.playlist_id].append(StoredSlot(row.provider_id, row.title))
        return lists

    def track_updates(
        self, provider: str, wanted: Mapping[str, ProviderTrack]
    ) -> list[StoredTrackChange]:
        """Stored tracks of ``provider`` among ``wanted`` whose stored values differ."""
        updates: list[StoredTrackChange] = []
        with self._db.connect() as conn:
            for rows in stored_track_rows(conn, provider, list(wanted)):
                for row in rows:
                    values = _track_values(wanted[row.provider_id])
                    # search_key follows title, artists and album: not a field of its own.
                    fields = tuple(
                        key
                        for key, value in values.items()
                        if key != "search_key" and getattr(row, key) != value
                    )
                    if fields or row.search_key != values["search_key"]:
                        title = str(values["title"])
                        updates.append(StoredTrackChange(row.id, row.provider_id, title, fields))
        return updates

    def playlists_showing(self, track_ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
        """The stored playlists that show any of these tracks: ``(provider, provider_id,
        name)`` by id."""
        ids = list(track_ids)
        found: dict[int, tuple[str, str, str]] = {}
        with self._db.connect() as conn:
            for condition in _among(conn, PlaylistTrackRow.track_id, ids, BigInteger()):
                showing = select(PlaylistTrackRow.playlist_id).where(condition)
                rows = conn.execute(
                    select(
                        PlaylistRow.id,
                        PlaylistRow.provider,
                        PlaylistRow.provider_id,
                        PlaylistRow.name,
                    ).where(PlaylistRow.id.in_(showing))
                )
                for row in rows:
                    found[row.id] = (row.provider, row.provider_id, row.name)
        return found
