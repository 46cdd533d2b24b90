"""candidate index over tracks.search_key: SQLite FTS5 trigram table, PostgreSQL pg_trgm GIN

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Optional by design: an SQLite build without FTS5's trigram tokenizer (SQLite < 3.34), or a
PostgreSQL role that may not create the ``pg_trgm`` extension, gets no index and a logged
warning; search then scans ``tracks`` as before. Each attempt runs in a savepoint, so a
refusal never aborts the migration.

SQLite: ``tracks_fts`` is an external-content FTS5 table (it stores only the index; the
text stays in ``tracks``), kept in step by triggers on every insert, update of
``search_key`` and delete, whichever code path writes. A later migration that rebuilds
``tracks`` in batch mode (copy and rename) drops these triggers and must create them again
(``harmony._db.candidate_index.create_candidate_index`` does it, as does
``ctx.search.ensure_index()``); until then search notices and scans. The statements live in
that module so the migration and ``ensure_index()`` create exactly the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from harmony._db.candidate_index import create_candidate_index, drop_candidate_index

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_candidate_index(op.get_bind())


def downgrade() -> None:
    drop_candidate_index(op.get_bind())
