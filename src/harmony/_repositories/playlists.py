"""Playlist and track reads: pages in id order and details with ordered tracks, each with
a strong ETag computed from what the representation shows."""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import func, select

from harmony._cache.keys import strong_etag
from harmony._checks import as_int
from harmony._db.engine import Database
from harmony._db.models import PlaylistRow, PlaylistTrackRow, TrackRow
from harmony._repositories.playlist_types import (
    Playlist,
    PlaylistDetail,
    PlaylistPage,
    PlaylistTrack,
    Track,
)
from harmony._validation import check_int, unstorable_reason
from harmony.errors import InvalidInputError, NotFoundError

__all__ = [
    "MAX_PAGE_SIZE",
    "TRACK_COLUMNS",
    "PlaylistRepository",
    "StatusFilter",
    "TrackRepository",
    "check_provider_key",
    "track_from_row",
]

MAX_PAGE_SIZE = 500
_MAX_ID = 2**63 - 1
StatusFilter = Literal["active", "removed", "all"]

_PLAYLIST_COLUMNS = (
    PlaylistRow.id,
    PlaylistRow.provider,
    PlaylistRow.provider_id,
    PlaylistRow.name,
    PlaylistRow.description,
    PlaylistRow.owner,
    PlaylistRow.snapshot_id,
    PlaylistRow.track_count,
    PlaylistRow.status,
    PlaylistRow.version,
    PlaylistRow.created_at,
    PlaylistRow.updated_at,
    PlaylistRow.removed_at,
)
#: The columns of a :class:`Track` (shared by the repositories that read tracks).
TRACK_COLUMNS = (
    TrackRow.id,
    TrackRow.provider,
    TrackRow.provider_id,
    TrackRow.title,
    TrackRow.artists,
    TrackRow.album,
    TrackRow.duration_ms,
    TrackRow.isrc,
    TrackRow.year,
)


class PlaylistRepository:
    """Reads of ``playlists`` and ``playlist_tracks`` straight from the database (no cache).

    ``ctx.playlists`` serves the same reads through the response cache; both compute the
    same ETags, so a cached ETag can always be checked against a fresh one.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"PlaylistRepository({self._db!r})"

    def check_open(self) -> None:
        """Raise when the context was closed (for reads served from a cache)."""
        self._db.check_open()

    def list_page(
        self,
        *,
        provider: str | None = None,
        status: StatusFilter = "active",
        limit: int = 50,
        cursor: str | None = None,
    ) -> PlaylistPage:
        """Playlists in id order; pass ``next_cursor`` back as ``cursor`` for the next page."""
        params = check_list_params(provider=provider, status=status, limit=limit, cursor=cursor)
        stmt = select(*_PLAYLIST_COLUMNS).order_by(PlaylistRow.id).limit(limit + 1)
        if status != "all":
            stmt = stmt.where(PlaylistRow.status == status)
        if provider is not None:
            stmt = stmt.where(PlaylistRow.provider == provider)
        if cursor is not None:
            stmt = stmt.where(PlaylistRow.id > int(cursor))
        with self._db.connect() as conn:
            rows = conn.execute(stmt).all()
        items = [_playlist(row) for row in rows[:limit]]
        next_cursor = str(items[-1].id) if len(rows) > limit else None
        etag = strong_etag(
            "playlists", params, [(p.id, p.version, p.updated_at) for p in items], next_cursor
        )
        last_modified = max((p.updated_at for p in items), default=None)
        return PlaylistPage(items, next_cursor, etag, last_modified)

    def get(self, playlist_id: int) -> PlaylistDetail:
        """One playlist with its ordered tracks; :class:`NotFoundError` when there is none."""
        playlist_id = check_playlist_id(playlist_id)
        with self._db.connect() as conn:
            if conn.dialect.name == "postgresql":
                # Row and tracks from one snapshot: under READ COMMITTED a sync committing
                # between the two reads would pair the old ETag with the new tracks.
                conn.execution_options(isolation_level="REPEATABLE READ")
            row = conn.execute(
                select(*_PLAYLIST_COLUMNS).where(PlaylistRow.id == playlist_id)
            ).one_or_none()
            if row is None:
                raise NotFoundError(f"no playlist with id {playlist_id}")
            tracks = conn.execute(
                select(*TRACK_COLUMNS, PlaylistTrackRow.position, PlaylistTrackRow.added_at)
                .join(TrackRow, TrackRow.id == PlaylistTrackRow.track_id)
                .where(PlaylistTrackRow.playlist_id == playlist_id)
                .order_by(PlaylistTrackRow.position)
            ).all()
        return PlaylistDetail(
            **_playlist_fields(row), tracks=tuple(_playlist_track(t) for t in tracks)
        )

    def find(self, provider: str, provider_id: str) -> Playlist | None:
        """The stored playlist (active or removed) with this provider id, or ``None``."""
        provider, provider_id = check_provider_key(provider, provider_id)
        with self._db.connect() as conn:
            row = conn.execute(
                select(*_PLAYLIST_COLUMNS).where(
                    PlaylistRow.provider == provider, PlaylistRow.provider_id == provider_id
                )
            ).one_or_none()
        return None if row is None else _playlist(row)

    def count(self, *, status: StatusFilter = "active") -> int:
        """How many playlists there are with this status."""
        stmt = select(func.count()).select_from(PlaylistRow)
        if status != "all":
            stmt = stmt.where(PlaylistRow.status == status)
        with self._db.connect() as conn:
            return int(conn.execute(stmt).scalar_one())


class TrackRepository:
    """``ctx.tracks``: reads of stored tracks."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"TrackRepository({self._db!r})"

    def get(self, track_id: int) -> Track:
        """One track; :class:`NotFoundError` when there is none."""
        track_id = _check_id(track_id, "track")
        with self._db.connect() as conn:
            row = conn.execute(select(*TRACK_COLUMNS).where(TrackRow.id == track_id)).one_or_none()
        if row is None:
            raise NotFoundError(f"no track with id {track_id}")
        return track_from_row(row)

    def find(self, provider: str, provider_id: str) -> Track | None:
        """The stored track with this provider id (e.g. a Spotify track id), or ``None``."""
        provider, provider_id = check_provider_key(provider, provider_id)
        with self._db.connect() as conn:
            row = conn.execute(
                select(*TRACK_COLUMNS).where(
                    TrackRow.provider == provider, TrackRow.provider_id == provider_id
                )
            ).one_or_none()
        return None if row is None else track_from_row(row)

    def count(self) -> int:
        """How many tracks are stored."""
        with self._db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(TrackRow)).scalar_one())


def check_list_params(
    *, provider: str | None, status: str, limit: Any, cursor: str | None
) -> dict[str, Any]:
    """Validate list parameters; returns them as the canonical dict keys and ETags use."""
    if status not in ("active", "removed", "all"):
        raise InvalidInputError(f"status must be 'active', 'removed' or 'all', got {status!r}")
    size = check_int("limit", limit, low=1, high=MAX_PAGE_SIZE)
    if cursor is not None and not (
        isinstance(cursor, str)
        and cursor.isascii()
        and cursor.isdigit()
        and 0 < int(cursor) <= _MAX_ID
    ):
        raise InvalidInputError(
            f"cursor {cursor!r:.40} is not valid; pass the next_cursor of a previous page"
        )
    if provider is not None and (
        not isinstance(provider, str) or not provider or unstorable_reason(provider) is not None
    ):
        raise InvalidInputError(f"provider must be a provider name, got {provider!r:.80}")
    return {"provider": provider, "status": status, "limit": size, "cursor": cursor}


def check_provider_key(provider: Any, provider_id: Any) -> tuple[str, str]:
    """Validate a ``(provider, provider_id)`` lookup key; both are non-empty strings."""
    for name, value in (("provider", provider), ("provider_id", provider_id)):
        if not isinstance(value, str) or not value or "\x00" in value:
            raise InvalidInputError(
                f"{name} must be a non-empty string, got {value!r:.80}; e.g. "
                "find('spotify', '37i9dQZF1DXcBWIGoYBM5M')"
            )
    return provider, provider_id


def check_playlist_id(playlist_id: Any) -> int:
    """``playlist_id`` as an int (numpy integers too), or :class:`InvalidInputError`;
    an id beyond the 64-bit range cannot exist (:class:`NotFoundError`)."""
    return _check_id(playlist_id, "playlist")


def _check_id(raw: Any, kind: str) -> int:
    value = as_int(raw)
    if value is None or value < 1:
        raise InvalidInputError(f"{kind} ids are positive integers, got {raw!r}")
    if value > _MAX_ID:
        raise NotFoundError(f"no {kind} with id {value}")
    return value


def detail_etag(playlist_id: int, version: int, updated_at: Any) -> str:
    """The strong ETag of a playlist: it changes whenever the playlist or its tracks do."""
    return strong_etag("playlist", playlist_id, version, updated_at)


def _playlist_fields(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    fields["etag"] = detail_etag(row.id, row.version, row.updated_at)
    return fields


def _playlist(row: Any) -> Playlist:
    return Playlist(**_playlist_fields(row))


def track_from_row(row: Any) -> Track:
    """A :class:`Track` from a row holding at least :data:`TRACK_COLUMNS`."""
    return Track(
        id=row.id,
        provider=row.provider,
        provider_id=row.provider_id,
        title=row.title,
        artists=tuple(row.artists or ()),
        album=row.album,
        duration_ms=row.duration_ms,
        isrc=row.isrc,
        year=row.year,
    )


def _track_fields(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    fields["artists"] = tuple(fields["artists"] or ())
    return fields


def _playlist_track(row: Any) -> PlaylistTrack:
    return PlaylistTrack(**_track_fields(row))
