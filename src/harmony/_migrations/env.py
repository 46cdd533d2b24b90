"""Alembic environment for harmony's packaged migrations.

Run through :class:`harmony._migrations.MigrationRunner` (``ctx.migrations`` or the
``harmony migrate`` CLI), which hands over an open connection and the options below.
"""

from __future__ import annotations

from alembic import context

from harmony._migrations.options import configure_context

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "harmony migrations run through HarmonyContext.migrations or the 'harmony migrate' "
        "command, which provide the database connection; offline (--sql) mode is not supported"
    )

configure_context(context, connection, config.attributes)
with context.begin_transaction():
    context.run_migrations()
