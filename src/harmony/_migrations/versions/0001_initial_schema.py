"""initial schema: playlists, tracks, playlist_tracks, activity_events, queue_jobs, settings

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types spelled out here (not imported from the models) so this revision never changes.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "playlists",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("snapshot_id", sa.String(255), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("track_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'active'"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("removed_at", nullable=True),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_playlists_status")),
        sa.CheckConstraint("track_count >= 0", name=op.f("ck_playlists_track_count_non_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_playlists_version_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlists")),
        sa.UniqueConstraint(
            "provider", "provider_id", name=op.f("uq_playlists_provider_provider_id")
        ),
    )
    op.create_index(op.f("ix_playlists_updated_at_id"), "playlists", ["updated_at", "id"])

    op.create_table(
        "tracks",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(255), nullable=False),
        sa.Column("isrc", sa.String(32), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("artists", JSON, nullable=False),
        sa.Column("album", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "duration_ms IS NULL OR duration_ms >= 0",
            name=op.f("ck_tracks_duration_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
        sa.UniqueConstraint("provider", "provider_id", name=op.f("uq_tracks_provider_provider_id")),
    )
    op.create_index(op.f("ix_tracks_isrc"), "tracks", ["isrc"])

    op.create_table(
        "playlist_tracks",
        sa.Column("playlist_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("track_id", ID, nullable=False),
        _ts("added_at", nullable=True),
        sa.CheckConstraint("position >= 0", name=op.f("ck_playlist_tracks_position_non_negative")),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["playlists.id"],
            name=op.f("fk_playlist_tracks_playlist_id_playlists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_playlist_tracks_track_id_tracks"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("playlist_id", "position", name=op.f("pk_playlist_tracks")),
    )
    op.create_index(op.f("ix_playlist_tracks_track_id"), "playlist_tracks", ["track_id"])

    op.create_table(
        "activity_events",
        sa.Column("id", ID, nullable=False),
        _ts("timestamp"),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_events")),
    )
    op.create_index(
        "ix_activity_events_type_status_timestamp",
        "activity_events",
        ["type", "status", "timestamp"],
    )
    op.create_index(op.f("ix_activity_events_timestamp_id"), "activity_events", ["timestamp", "id"])

    op.create_table(
        "queue_jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _ts("available_at"),
        _ts("lease_expires_at", nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("leased_by", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("stop_reason", sa.String(255), nullable=True),
        sa.Column("result", JSON, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "status IN ('pending', 'leased', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_queue_jobs_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_queue_jobs_attempts_non_negative")),
        sa.CheckConstraint("priority >= 0", name=op.f("ck_queue_jobs_priority_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_jobs")),
    )
    op.create_index(
        "ix_queue_jobs_claim",
        "queue_jobs",
        ["status", sa.text("priority DESC"), "available_at", "id", "type"],
    )
    op.create_index("ix_queue_jobs_lease_expiry", "queue_jobs", ["status", "lease_expires_at"])
    op.create_index(
        op.f("ix_queue_jobs_idempotency_key"), "queue_jobs", ["idempotency_key"], unique=True
    )
    op.create_index(op.f("ix_queue_jobs_status_updated_at"), "queue_jobs", ["status", "updated_at"])

    op.create_table(
        "settings",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("is_secret", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("queue_jobs")
    op.drop_table("activity_events")
    op.drop_table("playlist_tracks")
    op.drop_table("tracks")
    op.drop_table("playlists")
