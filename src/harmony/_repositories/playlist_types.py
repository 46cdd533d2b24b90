"""Values the playlist read path returns: summaries, details with tracks, pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harmony._repositories.paging import Page

__all__ = [
    "Playlist",
    "PlaylistDetail",
    "PlaylistPage",
    "PlaylistStatus",
    "PlaylistTrack",
    "Track",
    "TrackFields",
]

PlaylistStatus = Literal["active", "removed"]

_CONFIG = ConfigDict(frozen=True)


class TrackFields(BaseModel):
    """What every track value shows: where it comes from and its metadata."""

    model_config = _CONFIG

    provider: str
    provider_id: str
    title: str
    artists: tuple[str, ...]
    album: str | None
    duration_ms: int | None
    isrc: str | None
    year: int | None


class Track(TrackFields):
    """A stored track."""

    id: int


class PlaylistTrack(Track):
    """A track in one slot of a playlist (a track may fill several slots)."""

    position: int
    added_at: datetime | None


class Playlist(BaseModel):
    """A stored playlist. ``etag`` and ``last_modified`` validate any representation of it."""

    model_config = _CONFIG

    id: int
    provider: str
    provider_id: str
    name: str
    description: str | None
    owner: str | None
    snapshot_id: str | None
    track_count: int
    status: PlaylistStatus
    version: int
    created_at: datetime
    updated_at: datetime
    removed_at: datetime | None
    etag: str

    @property
    def last_modified(self) -> datetime:
        """When the playlist last changed (its ``updated_at``)."""
        return self.updated_at


class PlaylistDetail(Playlist):
    """A playlist with its ordered tracks."""

    tracks: tuple[PlaylistTrack, ...]


class PlaylistPage(Page[Playlist, str]):
    """A page of playlists in id order, with the validators of the page as a whole.

    Immutable (``items`` is a tuple of frozen models): the same page object is served from
    the cache to every caller.

    ``etag`` changes whenever anything shown on the page (or where the next page starts)
    changes; ``last_modified`` is the newest ``updated_at`` on the page.
    """

    __slots__ = ("etag", "last_modified")

    def __init__(
        self,
        items: Sequence[Playlist],
        next_cursor: str | None,
        etag: str,
        last_modified: datetime | None,
    ) -> None:
        super().__init__(tuple(items), next_cursor)
        self.etag = etag
        self.last_modified = last_modified

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the page."""
        return {
            "items": [item.model_dump(mode="json") for item in self.items],
            "next_cursor": self.next_cursor,
            "etag": self.etag,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PlaylistPage):
            return NotImplemented
        return (self.items, self.next_cursor, self.etag) == (
            other.items,
            other.next_cursor,
            other.etag,
        )

    __hash__ = None  # type: ignore[assignment]
