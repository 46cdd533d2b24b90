"""PostgreSQL specifics of the migration runner: a schema prepared by an administrator."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from harmony import HarmonyContext, HarmonySettings
from harmony._settings import parse_database_url
from harmony.testing.postgres import temporary_schema
from harmony.testing.pytest_plugin import require_postgres_url


def test_a_schema_prepared_by_an_administrator_needs_no_database_privilege() -> None:
    url = require_postgres_url()
    role = f"harmony_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(parse_database_url(url), poolclass=NullPool)
    with temporary_schema(url) as schema:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION {role}'))
        try:
            app_url = make_url(url).set(username=role, password=None)
            settings = HarmonySettings(
                database_url=app_url.render_as_string(hide_password=False),
                database_schema=schema,
            )
            with HarmonyContext(settings) as ctx:
                ctx.migrate()
                ctx.migrations.check()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(text(f"DROP ROLE {role}"))
            admin.dispose()
