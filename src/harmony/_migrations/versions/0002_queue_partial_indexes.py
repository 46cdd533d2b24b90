"""queue_jobs: partial indexes, so each row version is indexed only where it is looked up

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: The four queue indexes this revision rebuilds (dropped first in both directions).
_INDEXES = (
    "ix_queue_jobs_claim",
    "ix_queue_jobs_lease_expiry",
    "ix_queue_jobs_idempotency_key",
    "ix_queue_jobs_status_updated_at",
)


def _where(sql: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(sql), "sqlite_where": sa.text(sql)}


def upgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, "queue_jobs")
    op.create_index(
        "ix_queue_jobs_claim",
        "queue_jobs",
        [sa.text("priority DESC"), "available_at", "id", "type"],
        **_where("status = 'pending'"),
    )
    op.create_index(
        "ix_queue_jobs_lease_expiry",
        "queue_jobs",
        ["lease_expires_at"],
        **_where("status = 'leased'"),
    )
    op.create_index(
        "ix_queue_jobs_idempotency_key",
        "queue_jobs",
        ["idempotency_key"],
        unique=True,
        **_where("idempotency_key IS NOT NULL"),
    )
    op.create_index(
        "ix_queue_jobs_status_updated_at",
        "queue_jobs",
        ["status", "updated_at"],
        **_where("status IN ('completed', 'cancelled', 'failed')"),
    )


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, "queue_jobs")
    op.create_index(
        "ix_queue_jobs_claim",
        "queue_jobs",
        ["status", sa.text("priority DESC"), "available_at", "id", "type"],
    )
    op.create_index("ix_queue_jobs_lease_expiry", "queue_jobs", ["status", "lease_expires_at"])
    op.create_index("ix_queue_jobs_idempotency_key", "queue_jobs", ["idempotency_key"], unique=True)
    op.create_index("ix_queue_jobs_status_updated_at", "queue_jobs", ["status", "updated_at"])
