"""Migration 0006, the candidate index: kept in step with every write to tracks, used by
search (same results as the scan it replaces), optional (search falls back to the scan
with a logged warning), repairable, and ignored by the drift check on purpose."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from harmony import HarmonyContext, HarmonySettings
from harmony._db.candidate_index import FTS_TABLE, drop_candidate_index
from harmony._settings import parse_database_url
from harmony.providers.sample import sample_provider
from harmony.testing import InMemoryProvider, ManualClock
from harmony.testing.pytest_plugin import SettingsFactory, require_postgres_url

QUERIES = [
    "deja vu",
    "golden hour mira",
    "summer 1984 remaster",
    "summer live",
    "midnite city lights",
    "its alright",
    "love",
    "northern lights acoustic",
    "run it back kato",
    "me",
    "xyzzy nothing",
]


@pytest.fixture
def ctx(harmony_settings: HarmonySettings) -> Iterator[HarmonyContext]:
    with HarmonyContext(
        harmony_settings, providers={"sample": sample_provider()}, clock=ManualClock()
    ) as context:
        context.migrate()
        context.sync.run_once()
        yield context


def _titles(ctx: HarmonyContext, query: str) -> list[tuple[str, float]]:
    return [
        (h.provider_id, h.score)
        for h in ctx.search.tracks(query, sources=["local"], limit=50).items
    ]


def test_a_migrated_database_has_the_index_and_passes_the_drift_check(ctx: HarmonyContext) -> None:
    assert ctx.search.index_state() == "ready"
    ctx.migrations.check()


def test_search_through_the_index_ranks_first_what_the_scan_ranks_first(
    ctx: HarmonyContext,
) -> None:
    indexed = {q: _titles(ctx, q) for q in QUERIES}
    with ctx.db.write() as conn:
        drop_candidate_index(conn)
    with HarmonyContext(ctx.settings) as scanning:  # a new context looks for the index again
        assert scanning.search.index_state() == "missing"
        scanned = {q: _titles(scanning, q) for q in QUERIES}
    for query in QUERIES:
        found, scan = indexed[query], scanned[query]
        if len([w for w in query.split() if len(w) >= 3]) <= 2 or len(scan) < 20:
            assert found == scan, query
        else:
            # With three words or more, once a page is full the index leaves out rows
            # holding only one of them: the rest is the scan's, in its order and scores.
            assert found == [hit for hit in scan if hit in set(found)], query
            assert found[0] == scan[0], query
    assert indexed["golden hour mira"] and indexed["xyzzy nothing"] == []


def test_the_index_follows_inserts_updates_and_deletes(harmony_settings: HarmonySettings) -> None:
    provider, clock = InMemoryProvider("memory"), ManualClock()
    provider.set_playlist(
        "p",
        "P",
        [
            {"id": "t1", "title": "Quasar Lullaby", "artists": ["Ada"]},
            {"id": "t2", "title": "Velvet Horizon", "artists": ["Bo"]},
        ],
    )
    with HarmonyContext(harmony_settings, providers={"memory": provider}, clock=clock) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
        assert [h.title for h in ctx.search.tracks("quasar", sources=["local"]).items] == [
            "Quasar Lullaby"
        ]
        provider.set_playlist(
            "p",
            "P",
            [
                {"id": "t1", "title": "Nebula Serenade", "artists": ["Ada"]},
                {"id": "t2", "title": "Velvet Horizon", "artists": ["Bo"]},
            ],
        )
        clock.advance(1)
        ctx.sync.run_once()
        assert ctx.search.tracks("quasar", sources=["local"]).items == ()
        assert [h.title for h in ctx.search.tracks("nebula", sources=["local"]).items] == [
            "Nebula Serenade"
        ]
        with ctx.db.write() as conn:
            conn.exec_driver_sql("DELETE FROM playlist_tracks")
            conn.exec_driver_sql("DELETE FROM tracks WHERE provider_id = 't2'")
        assert ctx.search.tracks("velvet", sources=["local"]).items == ()
        if ctx.db.backend == "sqlite":  # FTS5's own check of the index against tracks
            with ctx.db.write() as conn:
                conn.exec_driver_sql(
                    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)"
                )


def test_without_the_index_search_scans_and_warns_once(
    ctx: HarmonyContext, caplog: pytest.LogCaptureFixture
) -> None:
    with ctx.db.write() as conn:
        drop_candidate_index(conn)
    caplog.set_level(logging.WARNING, logger="harmony.search")
    with HarmonyContext(ctx.settings) as scanning:
        assert _titles(scanning, "deja vu") and _titles(scanning, "golden hour")
        scanning.migrations.check()  # the index is optional: no drift without it
    warnings = [r for r in caplog.records if r.name == "harmony.search"]
    assert len(warnings) == 1 and "candidate index" in warnings[0].getMessage()
    assert "missing" in warnings[0].getMessage()


def test_ensure_index_rebuilds_a_missing_index_with_the_stored_tracks(ctx: HarmonyContext) -> None:
    expected = _titles(ctx, "summer 1984")
    with ctx.db.write() as conn:
        drop_candidate_index(conn)
    assert ctx.search.ensure_index() == "ready"
    assert ctx.search.index_state() == "ready" and _titles(ctx, "summer 1984") == expected


def test_a_table_rebuild_that_dropped_a_trigger_is_noticed_and_repaired(
    ctx: HarmonyContext,
) -> None:
    if ctx.db.backend != "sqlite":
        pytest.skip("PostgreSQL maintains its GIN index itself")
    with ctx.db.write() as conn:
        conn.exec_driver_sql("DROP TRIGGER tracks_fts_insert")
    with HarmonyContext(ctx.settings) as other:
        assert other.search.index_state() == "stale"
        assert other.search.ensure_index() == "ready"
        assert other.search.index_state() == "ready"


def test_downgrading_0006_drops_the_index_and_upgrading_fills_it_again(ctx: HarmonyContext) -> None:
    expected = _titles(ctx, "golden hour")
    ctx.migrations.downgrade("0005")
    with HarmonyContext(ctx.settings) as older:
        assert older.search.index_state() == "missing"
    ctx.migrate()
    with HarmonyContext(ctx.settings) as newer:
        assert newer.search.index_state() == "ready"
        assert _titles(newer, "golden hour") == expected
        newer.migrations.check()


def test_a_role_that_may_not_create_pg_trgm_migrates_without_the_index(
    harmony_settings_factory: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = require_postgres_url()
    if not url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    suffix = uuid.uuid4().hex[:8]
    database, role = f"harmony_nopriv_{suffix}", f"harmony_app_{suffix}"
    admin = create_engine(parse_database_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    db_url = make_url(parse_database_url(url)).set(database=database)
    owner = create_engine(db_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with owner.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA app AUTHORIZATION {role}"))
        app_url = db_url.set(username=role, password=None).render_as_string(hide_password=False)
        caplog.set_level(logging.WARNING)
        provider = InMemoryProvider("memory")
        provider.set_playlist(
            "p", "P", [{"id": "t1", "title": "Quasar Lullaby", "artists": ["Ada"]}]
        )
        settings = HarmonySettings(database_url=app_url, database_schema="app")
        with HarmonyContext(settings, providers={"memory": provider}) as ctx:
            ctx.migrate()
            ctx.migrations.check()
            ctx.sync.run_once()
            assert ctx.search.index_state() == "missing"
            assert [h.title for h in ctx.search.tracks("quasar", sources=["local"]).items] == [
                "Quasar Lullaby"
            ]
        messages = [r.getMessage() for r in caplog.records]
        assert any("could not create the pg_trgm extension" in m for m in messages)
        assert any("candidate index" in m and "missing" in m for m in messages)
    finally:
        owner.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()
