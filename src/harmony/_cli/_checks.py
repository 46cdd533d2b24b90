"""Checks several commands share."""

from __future__ import annotations

from harmony import HarmonyContext
from harmony.errors import MigrationError

__all__ = ["require_head"]


def require_head(ctx: HarmonyContext) -> None:
    """Commands that read or write harmony's tables need the current schema."""
    current, head = ctx.migrations.current(), ctx.migrations.head()
    if current != head:
        raise MigrationError(
            f"the database schema is at {current or 'base (empty)'} but this harmony needs "
            f"{head}; run 'harmony migrate upgrade' first"
        )
