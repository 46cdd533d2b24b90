"""change_feed and change_feed_head: committed changes that caches in every process follow

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Types spelled out here (not imported from the models) so this revision never changes.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    head = op.create_table(
        "change_feed_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_change_feed_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last": 0}])
    op.create_table(
        "change_feed",
        sa.Column("id", ID, autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("playlist_ids", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_feed")),
    )


def downgrade() -> None:
    op.drop_table("change_feed")
    op.drop_table("change_feed_head")
