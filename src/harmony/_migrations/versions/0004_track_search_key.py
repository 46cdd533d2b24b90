"""tracks.year and tracks.search_key (normalised text for search), backfilled

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from harmony._textnorm import search_key

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("search_key", sa.Text(), nullable=True))
    tracks = sa.table(
        "tracks",
        sa.column("id", sa.BigInteger()),
        sa.column("title", sa.String()),
        sa.column("artists", sa.JSON()),
        sa.column("album", sa.String()),
        sa.column("search_key", sa.Text()),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(tracks.c.id, tracks.c.title, tracks.c.artists, tracks.c.album)
            .where(tracks.c.id > last)
            .order_by(tracks.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            tracks.update().where(tracks.c.id == sa.bindparam("b_id")),
            [
                {"b_id": r.id, "search_key": search_key(r.title, r.artists or [], r.album)}
                for r in rows
            ],
        )
        last = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("tracks") as batch:
        batch.drop_column("search_key")
        batch.drop_column("year")
