"""harmony's packaged Alembic migrations and the runner that drives them."""

from harmony.migrations.options import VERSION_TABLE
from harmony.migrations.runner import MigrationRunner, Revision, script_location

__all__ = ["VERSION_TABLE", "MigrationRunner", "Revision", "script_location"]
