"""Options shared by the Alembic environment and the drift check, kept in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import Connection, MetaData

from harmony._db.candidate_index import IGNORED_BY_DRIFT_CHECK
from harmony._db.models import metadata as harmony_metadata
from harmony._db.types import UTCDateTime

__all__ = ["VERSION_TABLE", "configure_context", "context_options"]

#: harmony's own version table, so a host's ``alembic_version`` is never touched.
VERSION_TABLE = "harmony_alembic_version"


def context_options(
    connection: Connection, target_metadata: MetaData, schema: str | None
) -> dict[str, Any]:
    """Keyword arguments for ``EnvironmentContext.configure`` / ``MigrationContext.configure``."""
    known_tables = set(harmony_metadata.tables) | set(target_metadata.tables)

    def include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
        # The candidate index (FTS5 table, trigram index) is optional and outside the
        # models on purpose: see harmony._db.candidate_index.
        if name in IGNORED_BY_DRIFT_CHECK:
            return False
        # A host may keep its own tables in the same database: compare only harmony's.
        if type_ == "table":
            return name in known_tables
        return True

    return {
        "target_metadata": target_metadata,
        "render_item": _render_item,
        "version_table": VERSION_TABLE,
        "version_table_schema": schema,
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
        "include_name": include_name,
    }


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # New revisions spell timestamps as plain SQLAlchemy types, not harmony's decorator,
    # so old revisions never change when the models module does.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure_context(context: Any, connection: Connection, attributes: Mapping[str, Any]) -> None:
    """Configure Alembic's ``context`` from the attributes set by the runner."""
    target = attributes.get("target_metadata", harmony_metadata)
    context.configure(
        connection=connection,
        **context_options(connection, target, attributes.get("schema")),
    )
