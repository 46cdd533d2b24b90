"""matching: track_match_keys, track_matches, track_match_checks, match_runs; tracks(provider, updated_at)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types spelled out here (not imported from the models) so this revision never changes.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_NOT_REJECTED = "status <> 'rejected'"


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _track_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["tracks.id"], name=op.f(f"fk_{table}_{column}_tracks"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_index(op.f("ix_tracks_provider_updated_at"), "tracks", ["provider", "updated_at"])

    op.create_table(
        "track_match_keys",
        sa.Column("track_id", ID, autoincrement=False, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        _ts("track_updated_at"),
        sa.Column("isrc", sa.String(12), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("artist", sa.String(500), nullable=False),
        sa.Column("artists", sa.Text(), nullable=False),
        sa.Column("tags", sa.String(100), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        _track_fk("track_id", "track_match_keys"),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_track_match_keys")),
    )
    for columns in (
        ["provider", "isrc"],
        ["provider", "artist", "title"],
        ["provider", "title", "artist"],
    ):
        op.create_index(
            op.f(f"ix_track_match_keys_{'_'.join(columns)}"), "track_match_keys", columns
        )

    op.create_table(
        "track_matches",
        sa.Column("source_track_id", ID, autoincrement=False, nullable=False),
        sa.Column("target_track_id", ID, autoincrement=False, nullable=False),
        sa.Column("target_provider", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        _ts("target_updated_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "status IN ('auto', 'confirmed', 'rejected')", name=op.f("ck_track_matches_status")
        ),
        sa.CheckConstraint(
            "method IN ('isrc', 'fuzzy', 'manual')", name=op.f("ck_track_matches_method")
        ),
        _track_fk("source_track_id", "track_matches"),
        _track_fk("target_track_id", "track_matches"),
        sa.PrimaryKeyConstraint(
            "source_track_id", "target_track_id", name=op.f("pk_track_matches")
        ),
    )
    op.create_index(
        "ix_track_matches_in_use",
        "track_matches",
        ["source_track_id", "target_provider"],
        unique=True,
        postgresql_where=sa.text(_NOT_REJECTED),
        sqlite_where=sa.text(_NOT_REJECTED),
    )
    op.create_index(op.f("ix_track_matches_target_track_id"), "track_matches", ["target_track_id"])
    op.create_index(
        op.f("ix_track_matches_target_provider_status"),
        "track_matches",
        ["target_provider", "status"],
    )

    op.create_table(
        "track_match_checks",
        sa.Column("source_track_id", ID, autoincrement=False, nullable=False),
        sa.Column("target_provider", sa.String(64), nullable=False),
        _ts("source_updated_at"),
        _ts("checked_at"),
        _track_fk("source_track_id", "track_match_checks"),
        sa.PrimaryKeyConstraint(
            "source_track_id", "target_provider", name=op.f("pk_track_match_checks")
        ),
    )

    op.create_table(
        "match_runs",
        sa.Column("source_provider", sa.String(64), nullable=False),
        sa.Column("target_provider", sa.String(64), nullable=False),
        sa.Column("rules", sa.String(64), nullable=False),
        sa.Column("source_state", sa.String(255), nullable=False),
        sa.Column("target_state", sa.String(255), nullable=False),
        sa.Column("checked_count", sa.Integer(), nullable=False),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("source_provider", "target_provider", name=op.f("pk_match_runs")),
    )


def downgrade() -> None:
    op.drop_table("match_runs")
    op.drop_table("track_match_checks")
    op.drop_table("track_matches")
    op.drop_table("track_match_keys")
    op.drop_index(op.f("ix_tracks_provider_updated_at"), "tracks")
