"""Reads for diagnostics: a timed round trip to the database and row counts per table."""

from __future__ import annotations

import time

from sqlalchemy import func, inspect, select, text

from harmony._db.engine import Database
from harmony._db.models import metadata
from harmony._timing import elapsed_ms

__all__ = ["DatabaseProbe"]


class DatabaseProbe:
    """Asks the database how it is, for ``ctx.system``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.backend

    def ping(self, timeout: float) -> float:
        """Run ``SELECT 1`` (on PostgreSQL under a ``statement_timeout`` of ``timeout``
        seconds); return the milliseconds it took. Raises
        :class:`~harmony.errors.DatabaseUnavailable` or
        :class:`~harmony.errors.DatabaseError`."""
        started = time.perf_counter()
        with self._db.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000):d}"))
            conn.execute(text("SELECT 1"))
        return elapsed_ms(started)

    def row_counts(self) -> dict[str, int]:
        """Rows in each of harmony's tables present in the database, by table name."""
        with self._db.connect() as conn:
            present = set(inspect(conn).get_table_names())
            tables = sorted(
                (t for t in metadata.sorted_tables if t.name in present), key=lambda t: t.name
            )
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in tables
            }
