"""The sync engine's writes: one transaction applies a provider's changed playlists.

Dialect notes: PostgreSQL serialises syncs with a transaction-scoped advisory lock (SQLite
already has one writer at a time, ``BEGIN IMMEDIATE``), so the ``updated_at`` stamps handed
out below are strictly increasing across every sync of every process.

The same transaction records the change in the change feed (so caches in every process
drop what it affects) and checks the provider's sync ticket: a sync that began fetching
before another sync of the same provider stored its result stores nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeEngine

from harmony._clock import Clock
from harmony._db.engine import Database
from harmony._db.models import PlaylistRow, PlaylistTrackRow, SyncStateRow, TrackRow
from harmony._repositories.change_feed import ChangeFeed
from harmony._textnorm import search_key
from harmony.providers.base import ProviderPlaylist, ProviderTrack

__all__ = ["AppliedSync", "PlaylistChange", "StoredPlaylist", "SyncStore"]

_CHUNK = 500
_TICK = timedelta(microseconds=1)
#: Name of the advisory lock syncs hold while they write (PostgreSQL), per schema so that
#: installations in different schemas of one database do not wait for each other.
_SYNC_LOCK = "harmony.sync:{schema}"


@dataclass(frozen=True, slots=True)
class StoredPlaylist:
    """What the sync engine compares a provider's playlist against."""

    id: int
    provider_id: str
    name: str
    description: str | None
    owner: str | None
    snapshot_id: str | None
    content_hash: str | None
    status: str

    def same_metadata(self, playlist: ProviderPlaylist) -> bool:
        """Whether name, description and owner are as stored."""
        return (self.name, self.description, self.owner) == (
            playlist.name,
            playlist.description,
            playlist.owner,
        )


@dataclass(frozen=True, slots=True)
class PlaylistChange:
    """A playlist to write; ``tracks`` is ``None`` when only its metadata changed."""

    playlist: ProviderPlaylist
    tracks: Sequence[ProviderTrack] | None
    content_hash: str | None


@dataclass(slots=True)
class AppliedSync:
    """Ids of the playlists a sync wrote, by what happened to them."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    #: Unchanged playlists whose version moved because a track they show changed.
    touched: list[int] = field(default_factory=list)
    #: The change-feed number of the write (``None``: nothing changed).
    change: int | None = None
    #: A sync with a later ticket stored its result first; nothing was written.
    superseded: bool = False

    @property
    def affected(self) -> list[int]:
        """Every playlist id whose cached representations are now stale, each once."""
        return list(dict.fromkeys([*self.created, *self.updated, *self.removed, *self.touched]))


class SyncStore:
    """Reads a provider's stored playlists and applies a sync's changes atomically."""

    def __init__(self, db: Database, clock: Clock, feed: ChangeFeed) -> None:
        self._db = db
        self._clock = clock
        self._feed = feed

    def __repr__(self) -> str:
        return f"SyncStore({self._db!r})"

    def stored(self, provider: str) -> dict[str, StoredPlaylist]:
        """Every stored playlist of ``provider`` (active and removed), by provider id."""
        stmt = select(
            PlaylistRow.id,
            PlaylistRow.provider_id,
            PlaylistRow.name,
            PlaylistRow.description,
            PlaylistRow.owner,
            PlaylistRow.snapshot_id,
            PlaylistRow.content_hash,
            PlaylistRow.status,
        ).where(PlaylistRow.provider == provider)
        with self._db.connect() as conn:
            return {row.provider_id: StoredPlaylist(**row._mapping) for row in conn.execute(stmt)}

    def ticket(self, provider: str) -> int:
        """Take the next sync ticket of ``provider`` (before fetching from it)."""
        bump = (
            update(SyncStateRow)
            .where(SyncStateRow.provider == provider)
            .values(issued=SyncStateRow.issued + 1)
            .returning(SyncStateRow.issued)
        )
        with self._db.write() as conn:
            issued = conn.execute(bump).scalar_one_or_none()
            if issued is None:  # the provider's first sync; another process may race us
                dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                conn.execute(
                    dialect_insert(SyncStateRow)
                    .values(provider=provider, issued=0, applied=0)
                    .on_conflict_do_nothing(index_elements=[SyncStateRow.provider])
                )
                issued = conn.execute(bump).scalar_one()
        return int(issued)

    def apply(
        self,
        provider: str,
        changes: Sequence[PlaylistChange],
        removed: Sequence[str],
        policy: Literal["mark", "delete"],
        *,
        ticket: int | None = None,
    ) -> AppliedSync:
        """Write ``changes`` and remove ``removed`` (provider ids) in one transaction.

        With ``ticket`` (from :meth:`ticket`), nothing is written if a sync of the same
        provider with a later ticket has stored its result (``superseded``); otherwise the
        ticket is stored with the result, even when nothing changed.
        """
        applied = AppliedSync()
        if not changes and not removed and ticket is None:
            return applied
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                name = _SYNC_LOCK.format(schema=self._db.settings.database_schema or "public")
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
            if ticket is not None and not _claim_ticket(conn, provider, ticket):
                applied.superseded = True
                return applied
            if not changes and not removed:
                return applied
            stamps = _Stamps(conn, self._clock.now())
            track_ids, changed_tracks = _upsert_tracks(conn, provider, changes, stamps.now)
            _write_playlists(conn, provider, changes, track_ids, stamps, applied)
            _touch_sharing_playlists(conn, changed_tracks, stamps, applied)
            _remove(conn, provider, removed, policy, stamps, applied)
            if applied.affected:
                applied.change = self._feed.record(conn, stamps.now, applied.affected)
        return applied


def _claim_ticket(conn: Connection, provider: str, ticket: int) -> bool:
    """Store ``ticket`` as the provider's applied one unless a later one is stored."""
    stored = conn.execute(
        update(SyncStateRow)
        .where(SyncStateRow.provider == provider, SyncStateRow.applied < ticket)
        .values(applied=ticket)
        .returning(SyncStateRow.applied)
    ).scalar_one_or_none()
    return stored is not None


class _Stamps:
    """``updated_at`` values: now, but always after every stamp already stored."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        last = conn.execute(select(func.max(PlaylistRow.updated_at))).scalar_one_or_none()
        if isinstance(last, str):  # SQLite's aggregate bypasses the column type
            last = datetime.fromisoformat(last).replace(tzinfo=now.tzinfo)
        self.now = now
        self._last = last if last is not None and last >= now else now - _TICK

    def next(self) -> datetime:
        self._last = max(self.now, self._last + _TICK)
        return self._last


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def stored_track_rows(
    conn: Connection, provider: str, provider_ids: Sequence[str]
) -> Iterator[Sequence[Any]]:
    """The stored tracks of ``provider`` among ``provider_ids`` (id, provider_id, the synced
    fields and search_key), one chunk of rows per lookup."""
    for condition in _among(conn, TrackRow.provider_id, provider_ids, String()):
        yield conn.execute(
            select(
                TrackRow.id,
                TrackRow.provider_id,
                TrackRow.title,
                TrackRow.artists,
                TrackRow.album,
                TrackRow.duration_ms,
                TrackRow.isrc,
                TrackRow.year,
                TrackRow.search_key,
            ).where(TrackRow.provider == provider, condition)
        ).all()


def _among(
    conn: Connection,
    column: InstrumentedAttribute[Any],
    values: Sequence[Any],
    item: TypeEngine[Any],
) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose ``column`` is one of ``values``.

    PostgreSQL: one condition with one array parameter (``= ANY(:array)``), so the driver
    handles a short statement however many values there are. SQLite: ``IN`` lists of 500.
    """
    if not values:
        return
    if conn.dialect.name == "postgresql":
        yield column == any_(literal(list(values), ARRAY(item)))
    else:
        for chunk in _chunks(values):
            yield column.in_(chunk)


def _track_values(track: ProviderTrack) -> dict[str, Any]:
    return {
        "title": track.title,
        "artists": list(track.artists),
        "album": track.album,
        "duration_ms": track.duration_ms,
        "isrc": track.isrc,
        "year": track.year,
        "search_key": search_key(track.title, track.artists, track.album),
    }


def _upsert_tracks(
    conn: Connection, provider: str, changes: Sequence[PlaylistChange], now: datetime
) -> tuple[dict[str, int], list[int]]:
    """Insert new tracks, update changed ones; returns ids by provider id and changed ids."""
    wanted: dict[str, ProviderTrack] = {}
    for change in changes:
        for track in change.tracks or ():
            wanted[track.id] = track  # the last occurrence wins
    ids: dict[str, int] = {}
    changed: list[int] = []
    updates: list[dict[str, Any]] = []
    keys = list(wanted)
    for rows in stored_track_rows(conn, provider, keys):
        for row in rows:
            ids[row.provider_id] = row.id
            values = _track_values(wanted[row.provider_id])
            stored = {k: getattr(row, k) for k in values}
            if stored != values:
                changed.append(row.id)
                updates.append({"b_id": row.id, **values, "updated_at": now})
    if updates:
        conn.execute(
            update(TrackRow).where(TrackRow.id == bindparam("b_id")),
            updates,
        )
    new = [
        {
            "provider": provider,
            "provider_id": key,
            **_track_values(wanted[key]),
            "created_at": now,
            "updated_at": now,
        }
        for key in keys
        if key not in ids
    ]
    for inserted in _insert_tracks(conn, provider, new, now):
        ids[inserted.provider_id] = inserted.id
    return ids, changed


#: PostgreSQL: new tracks from one array parameter per column (see _among for why).
_PG_INSERT_TRACKS = text(
    """
    INSERT INTO tracks (provider, provider_id, title, artists, album, duration_ms, isrc,
                        year, search_key, created_at, updated_at)
    SELECT :provider, u.provider_id, u.title, u.artists::jsonb, u.album, u.duration_ms,
           u.isrc, u.year, u.search_key, :now, :now
    FROM unnest(
        CAST(:provider_ids AS text[]), CAST(:titles AS text[]), CAST(:artists AS text[]),
        CAST(:albums AS text[]), CAST(:durations AS integer[]), CAST(:isrcs AS text[]),
        CAST(:years AS integer[]), CAST(:search_keys AS text[])
    ) AS u(provider_id, title, artists, album, duration_ms, isrc, year, search_key)
    RETURNING id, provider_id
    """
)
_PG_INSERT_SLOTS = text(
    """
    INSERT INTO playlist_tracks (playlist_id, position, track_id, added_at)
    SELECT * FROM unnest(
        CAST(:playlist_ids AS bigint[]), CAST(:positions AS integer[]),
        CAST(:track_ids AS bigint[]), CAST(:added AS timestamptz[])
    )
    """
)


def _insert_tracks(
    conn: Connection, provider: str, rows: Sequence[dict[str, Any]], now: datetime
) -> list[Any]:
    """Insert ``rows`` into ``tracks``; returns ``(id, provider_id)`` rows."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        return list(
            conn.execute(
                _PG_INSERT_TRACKS,
                {
                    "provider": provider,
                    "now": now,
                    "provider_ids": [r["provider_id"] for r in rows],
                    "titles": [r["title"] for r in rows],
                    "artists": [json.dumps(r["artists"]) for r in rows],
                    "albums": [r["album"] for r in rows],
                    "durations": [r["duration_ms"] for r in rows],
                    "isrcs": [r["isrc"] for r in rows],
                    "years": [r["year"] for r in rows],
                    "search_keys": [r["search_key"] for r in rows],
                },
            )
        )
    stmt = insert(TrackRow).returning(
        TrackRow.id, TrackRow.provider_id, sort_by_parameter_order=True
    )
    return [row for chunk in _chunks(rows) for row in conn.execute(stmt, list(chunk))]


def _write_playlists(
    conn: Connection,
    provider: str,
    changes: Sequence[PlaylistChange],
    track_ids: Mapping[str, int],
    stamps: _Stamps,
    applied: AppliedSync,
) -> None:
    if not changes:
        return
    existing: dict[str, tuple[int, int]] = {}
    for condition in _among(
        conn, PlaylistRow.provider_id, [c.playlist.id for c in changes], String()
    ):
        for row in conn.execute(
            select(PlaylistRow.id, PlaylistRow.provider_id, PlaylistRow.version).where(
                PlaylistRow.provider == provider, condition
            )
        ):
            existing[row.provider_id] = (row.id, row.version)
    with_tracks: list[tuple[int, PlaylistChange]] = []
    for change in changes:
        playlist = change.playlist
        values: dict[str, Any] = {
            "name": playlist.name,
            "description": playlist.description,
            "owner": playlist.owner,
            "snapshot_id": playlist.snapshot_id,
            "status": "active",
            "removed_at": None,
            "updated_at": stamps.next(),
        }
        if change.tracks is not None:
            values["track_count"] = len(change.tracks)
            values["content_hash"] = change.content_hash
        found = existing.get(playlist.id)
        if found is None:
            values.setdefault("track_count", playlist.track_count or 0)
            playlist_id = conn.execute(
                insert(PlaylistRow)
                .values(
                    provider=provider,
                    provider_id=playlist.id,
                    version=1,
                    created_at=stamps.now,
                    **values,
                )
                .returning(PlaylistRow.id)
            ).scalar_one()
            applied.created.append(playlist_id)
        else:
            playlist_id, version = found
            conn.execute(
                update(PlaylistRow)
                .where(PlaylistRow.id == playlist_id)
                .values(version=version + 1, **values)
            )
            applied.updated.append(playlist_id)
        if change.tracks is not None:
            with_tracks.append((playlist_id, change))
    _replace_track_lists(conn, with_tracks, track_ids, stamps.now)


def _replace_track_lists(
    conn: Connection,
    lists: Sequence[tuple[int, PlaylistChange]],
    track_ids: Mapping[str, int],
    now: datetime,
) -> None:
    ids = [playlist_id for playlist_id, _ in lists]
    for condition in _among(conn, PlaylistTrackRow.playlist_id, ids, BigInteger()):
        conn.execute(delete(PlaylistTrackRow).where(condition))
    rows = [
        {
            "playlist_id": playlist_id,
            "position": position,
            "track_id": track_ids[track.id],
            "added_at": track.added_at,
        }
        for playlist_id, change in lists
        for position, track in enumerate(change.tracks or ())
    ]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            _PG_INSERT_SLOTS,
            {
                "playlist_ids": [r["playlist_id"] for r in rows],
                "positions": [r["position"] for r in rows],
                "track_ids": [r["track_id"] for r in rows],
                "added": [r["added_at"] for r in rows],
            },
        )
    else:
        conn.execute(insert(PlaylistTrackRow), rows)


def _touch_sharing_playlists(
    conn: Connection, changed_tracks: Sequence[int], stamps: _Stamps, applied: AppliedSync
) -> None:
    """Bump playlists that show a track whose title, artists, ... just changed."""
    if not changed_tracks:
        return
    written = set(applied.created) | set(applied.updated)
    sharing: set[int] = set()
    for condition in _among(conn, PlaylistTrackRow.track_id, changed_tracks, BigInteger()):
        sharing.update(
            conn.execute(select(PlaylistTrackRow.playlist_id).where(condition).distinct()).scalars()
        )
    for playlist_id in sorted(sharing - written):
        conn.execute(
            update(PlaylistRow)
            .where(PlaylistRow.id == playlist_id)
            .values(version=PlaylistRow.version + 1, updated_at=stamps.next())
        )
        applied.touched.append(playlist_id)


def _remove(
    conn: Connection,
    provider: str,
    removed: Sequence[str],
    policy: Literal["mark", "delete"],
    stamps: _Stamps,
    applied: AppliedSync,
) -> None:
    for condition in _among(conn, PlaylistRow.provider_id, list(removed), String()):
        ids = list(
            conn.execute(
                select(PlaylistRow.id).where(
                    PlaylistRow.provider == provider, condition, PlaylistRow.status == "active"
                )
            ).scalars()
        )
        if not ids:
            continue
        if policy == "delete":
            conn.execute(delete(PlaylistTrackRow).where(PlaylistTrackRow.playlist_id.in_(ids)))
            conn.execute(delete(PlaylistRow).where(PlaylistRow.id.in_(ids)))
        else:
            for playlist_id in ids:
                conn.execute(
                    update(PlaylistRow)
                    .where(PlaylistRow.id == playlist_id)
                    .values(
                        status="removed",
                        removed_at=stamps.now,
                        version=PlaylistRow.version + 1,
                        updated_at=stamps.next(),
                    )
                )
        applied.removed.extend(ids)
