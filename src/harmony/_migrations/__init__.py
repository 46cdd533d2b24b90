"""harmony's packaged Alembic migrations and the runner that drives them."""

from harmony._migrations.options import VERSION_TABLE
from harmony._migrations.runner import MigrationRunner, Revision, script_location

__all__ = ["VERSION_TABLE", "MigrationRunner", "Revision", "script_location"]
