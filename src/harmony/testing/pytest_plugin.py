"""Pytest fixtures for harmony and for the test suites of its users.

Installed with harmony (``pip install 'harmony[testing]'``), pytest loads this plugin by
itself through the ``pytest11`` entry point; nothing needs enabling. Backend-parametrised
fixtures run each test on SQLite (a file in ``tmp_path``) and on PostgreSQL (a fresh
schema on ``HARMONY_TEST_POSTGRES_URL``, emptied for reuse or dropped afterwards). Without that variable the
PostgreSQL cases are skipped; a suite that must not skip them sets the ini option
``harmony_require_postgres`` (``true``, or ``ci`` for "when ``CI=true``"), and then they
fail instead.

Everything a fixture creates is released when the test ends: contexts are closed, then
PostgreSQL schemas emptied for a later test (when still exactly what the migration built)
or dropped, and the fake Spotify server stopped. See ``docs/testing.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any, Protocol

import pytest

from harmony._context import HarmonyContext
from harmony._events.loggers import RecordingEventLogger
from harmony._settings import HarmonySettings
from harmony.testing._migrated import MigratedTemplates
from harmony.testing.clock import ManualClock
from harmony.testing.postgres import POSTGRES_URL_ENV, postgres_url_from_env
from harmony.testing.provider import InMemoryProvider
from harmony.testing.spotify_server import FakeSpotifyServer

BACKENDS = ("sqlite", "postgresql")


#: The ini option that turns skipped PostgreSQL cases into failures.
REQUIRE_POSTGRES_OPTION = "harmony_require_postgres"
_NO_SERVER = f"{POSTGRES_URL_ENV} is not set: no PostgreSQL server for this test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        REQUIRE_POSTGRES_OPTION,
        "fail, not skip, PostgreSQL test cases when HARMONY_TEST_POSTGRES_URL is unset: "
        "true, false (the default) or ci (only when the CI variable is 'true')",
        default="false",
    )


def pytest_configure(config: pytest.Config) -> None:
    _require_postgres(config)  # a bad value stops the run before any test


def _require_postgres(config: pytest.Config) -> bool:
    raw = config.getini(REQUIRE_POSTGRES_OPTION)
    value = (raw if isinstance(raw, str) else "").strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    if value == "ci":
        return os.environ.get("CI", "").strip().lower() == "true"
    raise pytest.UsageError(
        f"{REQUIRE_POSTGRES_OPTION} = {raw!r} is not valid; use true, false or ci"
    )


def require_postgres_url() -> str:
    """The test PostgreSQL URL; skips the test when there is none.

    With the ``harmony_require_postgres`` ini option in effect, that skip is reported as a
    failure instead (see :func:`pytest_runtest_makereport`).
    """
    url = postgres_url_from_env()
    if url is None:
        pytest.skip(_NO_SERVER)
    return url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Turn the skip of :func:`require_postgres_url` into a failure when the suite asks."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    excinfo = call.excinfo
    if (
        report.skipped
        and excinfo is not None
        and isinstance(excinfo.value, pytest.skip.Exception)
        and str(excinfo.value.msg) == _NO_SERVER
        and _require_postgres(item.config)
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"{_NO_SERVER} ({REQUIRE_POSTGRES_OPTION} is set: PostgreSQL test cases must "
            "not be skipped; set HARMONY_TEST_POSTGRES_URL)"
        )


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
def harmony_settings_factory(
    harmony_backend: str, tmp_path: Path, _harmony_migrated: MigratedTemplates
) -> Iterator[SettingsFactory]:
    """``harmony_settings_factory(**fields)``: settings on a new database per call.

    SQLite: a new file in ``tmp_path``. PostgreSQL: a new schema, released when the test
    ends: emptied and kept for a later test if it still holds exactly what the migration
    built, else dropped (see ``docs/testing.md``).
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
                schema = cleanup.enter_context(_harmony_migrated.postgres_schema(url))
                fields.setdefault("database_schema", schema)
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


@pytest.fixture(scope="session")
def _harmony_migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    """The process's migrated template databases: a fresh database of a fixture gets a
    copy instead of a migration run (see :mod:`harmony.testing._migrated`); the template
    and spare PostgreSQL schemas are dropped when the session ends."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("harmony-template"))
    try:
        yield templates
    finally:
        templates.close()


@pytest.fixture
def harmony_context(
    harmony_settings: HarmonySettings,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
    _harmony_migrated: MigratedTemplates,
) -> Iterator[HarmonyContext]:
    """A migrated context on a fresh database, with recording events and a manual clock."""
    prepared = _harmony_migrated.prepare(harmony_settings)
    with HarmonyContext(harmony_settings, events=harmony_events, clock=harmony_clock) as ctx:
        _harmony_migrated.migrate(ctx, prepared)
        harmony_events.clear()
        yield ctx


class ContextFactory(Protocol):
    """Builds further :class:`HarmonyContext` objects, each on a fresh database."""

    def __call__(
        self,
        *,
        providers: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        migrate: bool = True,
        **collaborators: Any,
    ) -> HarmonyContext: ...


#: Keyword arguments of :class:`HarmonyContext` other than settings and providers.
_COLLABORATORS = frozenset({"events", "cache", "invalidator", "psutil", "clock"})


@pytest.fixture
def harmony_context_factory(
    harmony_settings_factory: SettingsFactory,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
    _harmony_migrated: MigratedTemplates,
) -> Iterator[ContextFactory]:
    """``harmony_context_factory(providers=..., settings=..., **collaborators)``: a context
    on a new database of the test's backend for every call, closed when the test ends.

    ``settings`` holds :class:`HarmonySettings` fields (the database is filled in);
    collaborators are ``events``, ``clock``, ``cache``, ``invalidator`` and ``psutil``, by
    default the test's ``harmony_events`` and ``harmony_clock``. The context is migrated
    unless ``migrate=False``; when it records into ``harmony_events``, the migration's
    events are cleared from it, as :func:`harmony_context` does. Closing a context early
    (``with harmony_context_factory(...) as ctx:``) is allowed and keeps connections few in
    property tests; the database itself is dropped at the end of the test.
    """
    contexts: list[HarmonyContext] = []

    def make(
        *,
        providers: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        migrate: bool = True,
        **collaborators: Any,
    ) -> HarmonyContext:
        unknown = sorted(set(collaborators) - _COLLABORATORS)
        if unknown:
            raise TypeError(
                f"harmony_context_factory got unexpected keyword(s) {', '.join(unknown)}; "
                f"collaborators are {', '.join(sorted(_COLLABORATORS))} and settings fields go "
                "in settings={...}"
            )
        collaborators.setdefault("events", harmony_events)
        collaborators.setdefault("clock", harmony_clock)
        fresh = harmony_settings_factory(**dict(settings or {}))
        prepared = migrate and _harmony_migrated.prepare(fresh)
        ctx = HarmonyContext(fresh, providers=providers, **collaborators)
        contexts.append(ctx)
        if migrate:
            _harmony_migrated.migrate(ctx, prepared)
            if collaborators["events"] is harmony_events:
                harmony_events.clear()
        return ctx

    try:
        yield make
    finally:
        # Before harmony_settings_factory drops the schemas: an open pool would block DROP.
        for ctx in reversed(contexts):
            ctx.close()


@pytest.fixture
def harmony_provider() -> InMemoryProvider:
    """A fresh, empty :class:`InMemoryProvider` named ``"memory"`` (with snapshots)."""
    return InMemoryProvider()


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotifyServer]:
    """A running, empty :class:`FakeSpotifyServer` (token ``"fake-token"``), stopped after
    the test. Needs no spotipy; point a client at ``fake_spotify.url``."""
    with FakeSpotifyServer() as server:
        yield server
