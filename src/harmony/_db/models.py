"""SQLAlchemy 2.0 models: the one schema harmony's migrations create and check.

Tables: ``playlists``, ``tracks``, ``playlist_tracks`` (ordered, duplicates allowed by
position), ``activity_events``, ``queue_jobs``, ``settings``, and the change feed
(``change_feed_head``, ``change_feed``) through which caches in every process learn what
changed, ``sync_state`` (per-provider sync tickets), and the matching tables
(``track_match_keys``, ``track_matches``, ``track_match_checks``, ``match_runs``) of
``ctx.matching``.

The candidate index over ``tracks.search_key`` (migration ``0006``) is not modelled here on
purpose: see :mod:`harmony._db.candidate_index`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from harmony._db.types import BigIntPK, JSONType, UTCDateTime

__all__ = [
    "JOB_STATUSES",
    "MATCH_METHODS",
    "MATCH_STATUSES",
    "ActivityEventRow",
    "Base",
    "ChangeFeedHeadRow",
    "ChangeFeedRow",
    "MatchCheckRow",
    "MatchRunRow",
    "PlaylistRow",
    "PlaylistTrackRow",
    "QueueJobRow",
    "SettingRow",
    "SyncStateRow",
    "TrackMatchKeyRow",
    "TrackMatchRow",
    "TrackRow",
    "metadata",
]

#: Every status a queue job can be in.
JOB_STATUSES = ("pending", "leased", "completed", "failed", "cancelled")
#: Every status of a track match: proposed by a run, confirmed or rejected by hand.
MATCH_STATUSES = ("auto", "confirmed", "rejected")
#: How a match was found.
MATCH_METHODS = ("isrc", "fuzzy", "manual")

#: Deterministic constraint names, so migrations and batch mode on SQLite can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying harmony's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


metadata = Base.metadata


class PlaylistRow(Base):
    """A playlist as last seen at its provider."""

    __tablename__ = "playlists"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        CheckConstraint("status IN ('active', 'removed')", name="status"),
        CheckConstraint("track_count >= 0", name="track_count_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index(None, "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    snapshot_id: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    track_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'active'"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


class TrackRow(Base):
    """A track, upserted by its provider id."""

    __tablename__ = "tracks"
    __table_args__ = (
        UniqueConstraint("provider", "provider_id"),
        Index(None, "isrc"),
        # Matching: a provider's catalogue state (count, newest change) and what changed.
        Index(None, "provider", "updated_at"),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    provider_id: Mapped[str] = mapped_column(String(255))
    isrc: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(500))
    artists: Mapped[list[str]] = mapped_column(JSONType)
    album: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    #: Normalised title, artists and album (harmony._textnorm.search_key) for search.
    search_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PlaylistTrackRow(Base):
    """One slot of a playlist's ordered track list; a track may fill several slots."""

    __tablename__ = "playlist_tracks"
    __table_args__ = (
        CheckConstraint("position >= 0", name="position_non_negative"),
        Index(None, "track_id"),
    )

    playlist_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    track_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("tracks.id", ondelete="RESTRICT"))
    added_at: Mapped[datetime | None]


class ActivityEventRow(Base):
    """One entry of the activity log (sync runs, migrations, credential changes, ...)."""

    __tablename__ = "activity_events"
    __table_args__ = (
        Index("ix_activity_events_type_status_timestamp", "type", "status", "timestamp"),
        Index(None, "timestamp", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    timestamp: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)


class QueueJobRow(Base):
    """A durable job: leased by one worker at a time, retried, dead-lettered."""

    __tablename__ = "queue_jobs"
    __table_args__ = (
        CheckConstraint("priority >= 0", name="priority_non_negative"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in JOB_STATUSES) + ")", name="status"
        ),
        # Lease recovery: expired leases.
        # Partial indexes: a row version is indexed only where it is looked up, so a job's
        # three updates (lease, heartbeat, settle) write few index entries.
        Index(
            "ix_queue_jobs_lease_expiry",
            "lease_expires_at",
            postgresql_where=text("status = 'leased'"),
            sqlite_where=text("status = 'leased'"),
        ),
        Index(
            None,
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        Index(
            None,
            "status",
            "updated_at",
            postgresql_where=text("status IN ('completed', 'cancelled', 'failed')"),
            sqlite_where=text("status IN ('completed', 'cancelled', 'failed')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime | None]
    lease_seconds: Mapped[float | None] = mapped_column(Float)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    leased_by: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)
    stop_reason: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


# The claim query: pending jobs in lease order (priority high to low, then oldest
# available_at, then id), read in index order; ``type`` is last so the type filter is
# checked on the index entries without visiting the table.
Index(
    "ix_queue_jobs_claim",
    QueueJobRow.priority.desc(),
    QueueJobRow.available_at,
    QueueJobRow.id,
    QueueJobRow.type,
    postgresql_where=text("status = 'pending'"),
    sqlite_where=text("status = 'pending'"),
)


class SettingRow(Base):
    """A stored option or credential; ``is_secret`` rows are never echoed anywhere."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)
    is_secret: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime]


class ChangeFeedHeadRow(Base):
    """The one row holding the newest change number.

    Writers take the next number with ``UPDATE ... SET last = last + 1`` in the transaction
    that makes the change: the row lock orders them, so numbers are handed out in commit
    order and a reader that sees ``last = n`` sees every change up to ``n``.
    """

    __tablename__ = "change_feed_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class ChangeFeedRow(Base):
    """One committed change that cached responses may show: the playlists and cache tags
    it affects. Pruned to the newest entries; a reader further behind drops everything."""

    __tablename__ = "change_feed"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]
    playlist_ids: Mapped[list[int]] = mapped_column(JSONType)
    tags: Mapped[list[str]] = mapped_column(JSONType)


class SyncStateRow(Base):
    """Per provider: sync tickets handed out and the newest one whose result is stored.

    A sync takes a ticket before it fetches and stores its result only if no sync with a
    later ticket has stored one, so a slow sync holding older provider data never
    overwrites a newer result, whichever process ran it.
    """

    __tablename__ = "sync_state"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    applied: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class TrackMatchKeyRow(Base):
    """A track's matching keys (:mod:`harmony._services.match_keys`), written by matching
    runs for the tracks they compare and refreshed when the track's ``updated_at`` moves."""

    __tablename__ = "track_match_keys"
    __table_args__ = (
        Index(None, "provider", "isrc"),
        Index(None, "provider", "artist", "title"),
        Index(None, "provider", "title", "artist"),
    )

    track_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("tracks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    provider: Mapped[str] = mapped_column(String(64))
    #: the track's ``updated_at`` the keys were computed from
    track_updated_at: Mapped[datetime]
    isrc: Mapped[str | None] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(500))
    #: the primary artist
    artist: Mapped[str] = mapped_column(String(500))
    #: every artist, "|"-separated (normalised names hold no "|")
    artists: Mapped[str] = mapped_column(Text)
    #: recording tags, "+"-separated, "" for none
    tags: Mapped[str] = mapped_column(String(100))
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class TrackMatchRow(Base):
    """A source track paired with a track of another provider: proposed by a run
    (``auto``), or set by hand (``confirmed`` / ``rejected``). At most one pair per source
    track and target provider is in use (not rejected); rejected pairs are kept so they are
    never proposed again."""

    __tablename__ = "track_matches"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(MATCH_STATUSES)}", name="status"),
        CheckConstraint(f"method IN {_in(MATCH_METHODS)}", name="method"),
        Index(
            "ix_track_matches_in_use",
            "source_track_id",
            "target_provider",
            unique=True,
            postgresql_where=text("status <> 'rejected'"),
            sqlite_where=text("status <> 'rejected'"),
        ),
        Index(None, "target_track_id"),
        Index(None, "target_provider", "status"),
    )

    source_track_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("tracks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    target_track_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("tracks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    target_provider: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSONType)
    #: the target track's ``updated_at`` when a run matched it (a run re-checks the pair
    #: once the target track changes); ``None`` for pairs set by hand
    target_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MatchCheckRow(Base):
    """When a source track was last matched against a target provider, and in which
    state: a run looks at it again only when the track changed (or the target's catalogue
    did and it has no match)."""

    __tablename__ = "track_match_checks"

    source_track_id: Mapped[int] = mapped_column(
        BigIntPK,
        ForeignKey("tracks.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    target_provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the source track's ``updated_at`` when it was checked
    source_updated_at: Mapped[datetime]
    checked_at: Mapped[datetime]


class MatchRunRow(Base):
    """The last finished run of one source -> target pair: the state of both catalogues
    it saw and the rules it applied (what the next run compares to find the work)."""

    __tablename__ = "match_runs"

    source_provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    rules: Mapped[str] = mapped_column(String(64))
    source_state: Mapped[str] = mapped_column(String(255))
    target_state: Mapped[str] = mapped_column(String(255))
    checked_count: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime]
