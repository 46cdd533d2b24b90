"""Pytest fixtures for harmony and for the test suites of its users.

Enable with ``pytest_plugins = ["harmony.testing.pytest_plugin"]`` in a ``conftest.py``.
Backend-parametrised fixtures run each test on SQLite (a file in ``tmp_path``) and on
PostgreSQL (a fresh schema on ``HARMONY_TEST_POSTGRES_URL``, dropped afterwards). Without
that variable the PostgreSQL cases are skipped, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any, Protocol

import pytest

from harmony.context import HarmonyContext
from harmony.events.loggers import RecordingEventLogger
from harmony.settings import HarmonySettings
from harmony.testing.clock import ManualClock
from harmony.testing.postgres import (
    POSTGRES_URL_ENV,
    postgres_url_from_env,
    temporary_schema,
)

BACKENDS = ("sqlite", "postgresql")


def require_postgres_url() -> str:
    """The test PostgreSQL URL; skip (or, under ``CI=true``, fail) when there is none."""
    url = postgres_url_from_env()
    if url is None:
        message = f"{POSTGRES_URL_ENV} is not set: no PostgreSQL server for this test"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: PostgreSQL tests must not be skipped)")
        pytest.skip(message)
    return url


@pytest.fixture(params=BACKENDS)
def harmony_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: every test using it runs on both."""
    backend: str = request.param
    if backend == "postgresql":
        require_postgres_url()
    return backend


class SettingsFactory(Protocol):
    """Builds :class:`HarmonySettings` on a fresh database of the test's backend."""

    def __call__(self, **fields: Any) -> HarmonySettings: ...


@pytest.fixture
def harmony_settings_factory(harmony_backend: str, tmp_path: Path) -> Iterator[SettingsFactory]:
    """``harmony_settings_factory(**fields)``: settings on a new database per call.

    SQLite: a new file in ``tmp_path``. PostgreSQL: a new schema, dropped when the test ends.
    """
    with ExitStack() as cleanup:
        counter = count()

        def make(**fields: Any) -> HarmonySettings:
            if harmony_backend == "sqlite":
                path = tmp_path / f"harmony-{next(counter)}.db"
                fields.setdefault("database_url", f"sqlite:///{path}")
            else:
                url = require_postgres_url()
                fields.setdefault("database_url", url)
                fields.setdefault("database_schema", cleanup.enter_context(temporary_schema(url)))
            return HarmonySettings(**fields)

        yield make


@pytest.fixture
def harmony_settings(harmony_settings_factory: SettingsFactory) -> HarmonySettings:
    """Settings on a fresh database (SQLite file or PostgreSQL schema)."""
    return harmony_settings_factory()


@pytest.fixture
def harmony_events() -> RecordingEventLogger:
    """A recording event logger for the context under test."""
    return RecordingEventLogger()


@pytest.fixture
def harmony_clock() -> ManualClock:
    """A manual clock for the context under test."""
    return ManualClock()


@pytest.fixture
def harmony_context(
    harmony_settings: HarmonySettings,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
) -> Iterator[HarmonyContext]:
    """A migrated context on a fresh database, with recording events and a manual clock."""
    with HarmonyContext(harmony_settings, events=harmony_events, clock=harmony_clock) as ctx:
        ctx.migrate()
        harmony_events.clear()
        yield ctx
