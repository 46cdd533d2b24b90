"""Throwaway PostgreSQL schemas for tests: each test gets its own, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harmony._settings import parse_database_url

__all__ = ["POSTGRES_URL_ENV", "postgres_url_from_env", "temporary_schema"]

#: Environment variable naming the PostgreSQL server the test suite may use.
POSTGRES_URL_ENV = "HARMONY_TEST_POSTGRES_URL"


def postgres_url_from_env() -> str | None:
    """The PostgreSQL URL for tests, or ``None`` when ``HARMONY_TEST_POSTGRES_URL`` is unset."""
    value = os.environ.get(POSTGRES_URL_ENV, "").strip()
    return value or None


@contextmanager
def temporary_schema(url: str, prefix: str = "harmony_test") -> Iterator[str]:
    """Yield the name of a schema that does not exist yet; drop it (cascade) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        engine = create_engine(parse_database_url(url), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        finally:
            engine.dispose()
