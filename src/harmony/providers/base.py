"""The provider seam: what a playlist source yields, and how its items are validated.

A provider hides paging behind iterators and may yield either the pydantic models below or
plain mappings with the same keys. The sync engine validates every item; an item that does
not validate becomes a :class:`Rejection` (counted and reported) instead of aborting a sync.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

__all__ = [
    "PlaylistProvider",
    "ProviderPlaylist",
    "ProviderTrack",
    "Rejection",
    "TrackSearchProvider",
    "coerce_playlist",
    "coerce_track",
]

_YEAR_PREFIX = re.compile(r"(\d{4})(?:-|$)")
#: PostgreSQL text cannot hold NUL; an item carrying one is rejected like any bad item.
_NO_NUL = r"^[^\x00]*$"
#: Checked by pydantic-core itself: no Python validator per track on the sync's hot path.
_ArtistName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_NO_NUL)
]
_MODEL_CONFIG = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class ProviderTrack(BaseModel):
    """A track as a provider reports it; position is the order of iteration."""

    model_config = _MODEL_CONFIG

    id: str = Field(
        min_length=1, max_length=255, pattern=_NO_NUL, description="The provider's track id."
    )
    title: str = Field(min_length=1, max_length=500, pattern=_NO_NUL)
    artists: tuple[_ArtistName, ...] = Field(
        default=(), description="Artist names, credited order."
    )
    album: str | None = Field(default=None, max_length=500, pattern=_NO_NUL)
    duration_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)
    isrc: str | None = Field(default=None, max_length=32, pattern=_NO_NUL)
    year: int | None = Field(default=None, ge=1000, le=2999, description="Release year.")
    added_at: datetime | None = Field(default=None, description="When it joined the playlist.")

    @field_validator("artists", mode="before")
    @classmethod
    def _artists(cls, value: Any) -> Any:
        # One artist given as a bare string is a common export shape.
        return (value,) if isinstance(value, str) else value

    @field_validator("year", mode="before")
    @classmethod
    def _year(cls, value: Any) -> Any:
        # Release dates come as "1984", "1984-06" or "1984-06-01"; an unreadable one is
        # dropped rather than rejecting the track over a cosmetic field.
        if isinstance(value, str):
            match = _YEAR_PREFIX.match(value.strip())
            value = int(match.group(1)) if match else None
        if isinstance(value, int) and not isinstance(value, bool) and not 1000 <= value <= 2999:
            return None  # e.g. Spotify's "0000" for an unknown release date
        return value

    @field_validator("added_at", mode="after")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        # Exports without an offset mean UTC; harmony stores aware UTC timestamps only, and
        # one that has no UTC equivalent (beyond year 9999) is a bad item, not a bad sync.
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("the timestamp is out of range once converted to UTC") from exc

    @field_validator("isrc", "album", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class ProviderPlaylist(BaseModel):
    """A playlist as a provider reports it.

    ``snapshot_id`` changes whenever the playlist changes at the provider; when a provider
    has none, the sync engine compares a hash of the playlist's content instead.
    """

    model_config = _MODEL_CONFIG

    id: str = Field(
        min_length=1, max_length=255, pattern=_NO_NUL, description="The provider's playlist id."
    )
    name: str = Field(max_length=500, pattern=_NO_NUL)
    description: str | None = Field(default=None, max_length=10_000, pattern=_NO_NUL)
    owner: str | None = Field(default=None, max_length=255, pattern=_NO_NUL)
    snapshot_id: str | None = Field(default=None, max_length=255, pattern=_NO_NUL)
    track_count: int | None = Field(default=None, ge=0)

    @field_validator("description", "owner", "snapshot_id", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


@runtime_checkable
class PlaylistProvider(Protocol):
    """A source of playlists (Spotify, an export file, an in-memory fake, ...).

    Iterators may raise :class:`~harmony.errors.ProviderError` (or any exception) to abort
    a sync; the sync then writes nothing for that provider.
    """

    name: str

    def iter_playlists(self) -> Iterable[ProviderPlaylist | Mapping[str, Any] | Rejection]:
        """Every playlist of the account, paging hidden inside the iterator."""
        ...

    def iter_tracks(
        self, playlist_id: str
    ) -> Iterable[ProviderTrack | Mapping[str, Any] | Rejection]:
        """The ordered tracks of one playlist; duplicates are kept in place.

        An item the provider itself cannot use (an unreadable file, say) may be yielded as
        a :class:`Rejection` with the reason; the sync counts and reports it like an item
        that fails validation.
        """
        ...


@runtime_checkable
class TrackSearchProvider(Protocol):
    """A provider that can search its catalogue for tracks."""

    name: str

    def search_tracks(
        self, query: str, *, limit: int
    ) -> Iterable[ProviderTrack | Mapping[str, Any]]:
        """Up to ``limit`` candidate tracks for ``query``, best first by the provider."""
        ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """A provider item that failed validation: what it was and why."""

    kind: str  #: ``"playlist"`` or ``"track"``
    item_id: str | None  #: the item's id when it had a usable one
    reason: str
    playlist_id: str | None = None  #: for tracks, the playlist they were in


def coerce_playlist(item: Any) -> ProviderPlaylist | Rejection:
    """Validate one provider playlist, or describe why it is rejected.

    A :class:`Rejection` the provider yielded itself is passed through.
    """
    if isinstance(item, (ProviderPlaylist, Rejection)):
        return item
    try:
        return ProviderPlaylist.model_validate(item)
    except ValidationError as exc:
        return Rejection("playlist", _item_id(item), _reason(exc))


def coerce_track(item: Any, playlist_id: str | None = None) -> ProviderTrack | Rejection:
    """Validate one provider track, or describe why it is rejected.

    A :class:`Rejection` the provider yielded itself is passed through, with
    ``playlist_id`` filled in when it has none.
    """
    if isinstance(item, ProviderTrack):
        return item
    if isinstance(item, Rejection):
        if item.playlist_id is None and playlist_id is not None:
            return Rejection(item.kind, item.item_id, item.reason, playlist_id)
        return item
    try:
        return ProviderTrack.model_validate(item)
    except ValidationError as exc:
        return Rejection("track", _item_id(item), _reason(exc), playlist_id)


def _item_id(item: Any) -> str | None:
    raw = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
    return raw.strip() or None if isinstance(raw, str) else None


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        field = ".".join(str(p) for p in error["loc"]) or "item"
        message = (
            "contains a NUL character (\\x00)"
            if error["type"] == "string_pattern_mismatch"
            else error["msg"]
        )
        parts.append(f"{field}: {message}")
    return "; ".join(parts)
