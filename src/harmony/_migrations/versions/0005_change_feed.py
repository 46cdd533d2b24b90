"""change feed, sync tickets and job notifications

change_feed and change_feed_head: committed changes that caches in every process follow;
sync_state: per-provider sync tickets; on PostgreSQL, queue_jobs triggers that NOTIFY idle
workers of new and re-armed jobs.

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
    op.create_table(
        "sync_state",
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("issued", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("applied", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_sync_state")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_JOB_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS queue_jobs_notify_rearmed ON queue_jobs")
        op.execute("DROP TRIGGER IF EXISTS queue_jobs_notify_inserted ON queue_jobs")
        op.execute("DROP FUNCTION IF EXISTS harmony_notify_jobs()")
    op.drop_table("sync_state")
    op.drop_table("change_feed")
    op.drop_table("change_feed_head")


# NOTIFY on the channel 'harmony.jobs:<schema>' with the job type as payload, sent when the
# inserting or re-arming transaction commits, so enqueues inside a host's transaction wake
# workers only once they are visible. Inserts: one statement trigger over the transition
# table (one notification per job type, however many rows). Updates: a row trigger whose
# WHEN clause is evaluated without calling the function, so the queue's hot path (lease,
# heartbeat, settle: never -> 'pending') pays nearly nothing; it fires for retries,
# releases, recovered leases and idempotent re-arms.
_PG_JOB_TRIGGERS = (
    """
    CREATE FUNCTION harmony_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_LEVEL = 'STATEMENT' THEN
            PERFORM pg_notify('harmony.jobs:' || TG_TABLE_SCHEMA, t.type)
            FROM (SELECT DISTINCT type FROM new_jobs) AS t;
        ELSE
            PERFORM pg_notify('harmony.jobs:' || TG_TABLE_SCHEMA, NEW.type);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER queue_jobs_notify_inserted AFTER INSERT ON queue_jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION harmony_notify_jobs()
    """,
    """
    CREATE TRIGGER queue_jobs_notify_rearmed AFTER UPDATE OF status ON queue_jobs
    FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending')
    EXECUTE FUNCTION harmony_notify_jobs()
    """,
)
