"""The open composition root: providers, job handlers and an engine on a live context."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from harmony import (
    SYNC_JOB_TYPE,
    ConfigurationError,
    HarmonyContext,
    HarmonySettings,
    JobContext,
    RetryPolicy,
    UnknownProviderError,
    Worker,
)
from harmony._cli.library import with_providers
from harmony._db.engine import build_engine
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import ContextFactory, SettingsFactory


def _provider(name: str = "mem") -> InMemoryProvider:
    provider = InMemoryProvider(name)
    provider.set_playlist("p1", "Road trip", [{"id": "t1", "title": "Song", "artists": ["A"]}])
    return provider


# -- providers --------------------------------------------------------------------------


def test_a_provider_added_to_a_live_context_is_synced_searched_and_reported(
    harmony_context: HarmonyContext,
) -> None:
    ctx = harmony_context
    assert "mem" not in ctx.provider_registry
    ctx.add_provider("mem", _provider())
    report = ctx.sync.run_once("mem")
    assert report.created == 1
    assert [p.name for p in ctx.playlists.list_page(provider="mem").items] == ["Road trip"]
    assert ctx.providers.status("mem").registered
    assert "mem" in ctx.sync.providers and "mem" in ctx.provider_registry


def test_a_removed_provider_is_no_longer_synced_and_its_playlists_stay(
    harmony_context: HarmonyContext,
) -> None:
    ctx = harmony_context
    provider = _provider()
    ctx.add_provider("mem", provider)
    ctx.sync.run_once()
    assert ctx.remove_provider("mem") is provider
    with pytest.raises(UnknownProviderError):
        ctx.sync.run_once("mem")
    assert ctx.sync.run_once().providers == ()
    assert not ctx.providers.status("mem").registered
    assert len(ctx.playlists.list_page(provider="mem").items) == 1


@pytest.mark.parametrize(
    ("name", "provider"),
    [("Bad Name", _provider()), ("", _provider()), ("ok", object()), (3, _provider())],
)
def test_add_provider_refuses_bad_names_and_non_providers(
    harmony_context: HarmonyContext, name: Any, provider: Any
) -> None:
    with pytest.raises(ConfigurationError):
        harmony_context.add_provider(name, provider)
    assert list(harmony_context.provider_registry) == []


def test_add_provider_refuses_a_taken_name_and_remove_an_unknown_one(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.add_provider("mem", _provider())
    with pytest.raises(ConfigurationError, match="already registered"):
        harmony_context.add_provider("mem", _provider())
    with pytest.raises(ConfigurationError, match="no provider named 'other'"):
        harmony_context.remove_provider("other")


def test_the_provider_registry_cannot_be_changed_behind_the_contexts_back(
    harmony_context: HarmonyContext,
) -> None:
    with pytest.raises(TypeError):
        harmony_context.provider_registry["mem"] = _provider()  # type: ignore[index]


def test_the_cli_registers_its_sources_on_its_one_context(harmony_context: HarmonyContext) -> None:
    with with_providers(harmony_context, {"mem": _provider()}) as ctx:
        assert ctx is harmony_context and "mem" in ctx.provider_registry
        ctx.sync.run_once("mem")
    assert "mem" not in harmony_context.provider_registry


# -- handlers ---------------------------------------------------------------------------


def test_a_handler_registered_on_the_context_runs_in_any_worker_built_on_it(
    harmony_context: HarmonyContext,
) -> None:
    ctx = harmony_context
    worker = Worker(ctx)  # built before the handler exists: it still runs it

    @ctx.jobs.handler("report.build", retry=RetryPolicy(max_attempts=2))
    def build(job: JobContext) -> dict[str, Any]:
        return {"rows": job.job.payload["n"] * 2}

    job = ctx.jobs.enqueue("report.build", {"n": 21})
    assert worker.run_until_idle().completed == 1
    assert ctx.jobs.get(job.id).result == {"rows": 42}
    assert "report.build" in ctx.jobs.handlers and worker.types is not None
    assert "report.build" in worker.types


def test_a_workers_own_handler_wins_over_the_contexts(harmony_context: HarmonyContext) -> None:
    ctx = harmony_context
    ctx.jobs.register("t", lambda job: {"by": "context"})
    job = ctx.jobs.enqueue("t", {})
    Worker(ctx, {"t": lambda job: {"by": "worker"}}).run_until_idle()
    assert ctx.jobs.get(job.id).result == {"by": "worker"}


def test_the_sync_engine_registers_playlist_sync_itself(harmony_context: HarmonyContext) -> None:
    ctx = harmony_context
    ctx.add_provider("mem", _provider())
    assert SYNC_JOB_TYPE in ctx.jobs.handlers
    job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "mem"})
    Worker(ctx).run_until_idle()
    assert ctx.jobs.get(job.id).status == "completed"
    assert len(ctx.playlists.list_page(provider="mem").items) == 1


@pytest.mark.parametrize(
    ("job_type", "fn", "retry"), [("", len, None), ("t", 3, None), ("t", len, 5)]
)
def test_bad_handler_registrations_are_refused(
    harmony_context: HarmonyContext, job_type: Any, fn: Any, retry: Any
) -> None:
    from harmony import InvalidInputError

    with pytest.raises(InvalidInputError):
        harmony_context.jobs.register(job_type, fn, retry=retry)


# -- an engine of the host's ----------------------------------------------------------------


@pytest.mark.parametrize("made_by", ["harmony", "host"])
def test_a_host_engine_is_used_and_left_open_on_close(
    harmony_settings_factory: SettingsFactory, made_by: str
) -> None:
    settings = harmony_settings_factory()
    if made_by == "harmony":
        engine = build_engine(settings)
    elif settings.database_schema:  # the host's own engine, set up for the schema
        engine = create_engine(
            settings.url, connect_args={"options": f"-c search_path={settings.database_schema}"}
        )
    else:
        engine = create_engine(settings.url)
    try:
        fields = {"database_schema": settings.database_schema} if settings.database_schema else {}
        with HarmonyContext.from_engine(engine, settings=fields) as ctx:
            assert ctx.db.engine is engine
            assert ctx.settings.url.database == engine.url.database
            ctx.migrate()
            ctx.add_provider("mem", _provider())
            job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "mem"})
            assert Worker(ctx).run_until_idle().completed == 1
            assert ctx.jobs.get(job.id).status == "completed"
        with engine.connect() as conn:  # still usable: the context did not dispose it
            assert conn.execute(text("SELECT count(*) FROM playlists")).scalar_one() == 1
        with HarmonyContext(settings, engine=engine) as again:  # same URL: accepted
            assert again.playlists.count() == 1
    finally:
        engine.dispose()


def test_a_host_engine_on_another_database_than_the_settings_is_refused(
    harmony_settings_factory: SettingsFactory, tmp_path: Any
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    settings = HarmonySettings(database_url=f"sqlite:///{tmp_path / 'mine.db'}")
    with pytest.raises(ConfigurationError, match="different databases"):
        HarmonyContext(settings, engine=engine)
    with pytest.raises(ConfigurationError, match="SQLAlchemy Engine"):
        HarmonyContext(settings, engine="sqlite://")  # type: ignore[arg-type]
    engine.dispose()


def test_two_contexts_keep_separate_registries(harmony_context_factory: ContextFactory) -> None:
    first, second = harmony_context_factory(), harmony_context_factory()
    first.add_provider("mem", _provider())
    first.jobs.register("only.first", len)
    assert "mem" not in second.provider_registry
    assert "only.first" not in second.jobs.handlers
