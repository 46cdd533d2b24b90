"""The change feed, host invalidators across contexts, and the faults coherence survives.

Two contexts on one database stand in for two processes here (the mechanism is the same:
everything goes through the database; ``test_processes.py`` uses real processes). When a
cache cannot prove it is fresh (a pruned or rewound feed, a lost connection) it drops
everything rather than serve something stale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import delete, text, update

from harmony import (
    CallbackInvalidator,
    HarmonyContext,
    RecordingEventLogger,
)
from harmony._db.models import ChangeFeedHeadRow, ChangeFeedRow
from harmony._repositories.change_feed import ChangeFeed
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import SettingsFactory

from ..conftest import pg_script

WAIT_SECONDS = 30.0


def _track(n: int) -> dict[str, Any]:
    return {"id": f"t{n}", "title": f"Song {n}", "artists": ["A"], "duration_ms": 1000 + n}


def _eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS} s: {what}"
        time.sleep(0.02)


class _Pair:
    """A web context (cached reads, optional host invalidator) and a worker context that
    syncs a provider, on one database."""

    def __init__(
        self, settings: Any, *, host: Callable[[frozenset[int]], int | None] | None = None
    ) -> None:
        self.provider = InMemoryProvider("mem")
        self.provider.set_playlist("a", "A", [_track(1)])
        self.provider.set_playlist("b", "B", [_track(2)])
        self.web_events = RecordingEventLogger()
        self.web = HarmonyContext(
            settings,
            events=self.web_events,
            invalidator=CallbackInvalidator(host) if host is not None else None,
        )
        self.web.migrate()
        self.worker = HarmonyContext(settings, providers={"mem": self.provider})
        self.worker.sync.run_once()
        self.ids = [p.id for p in self.web.playlists.list_page().items]

    def read_all(self) -> list[Any]:
        return [self.web.playlists.list_page().etag] + [
            self.web.playlists.get(i).etag for i in self.ids
        ]

    def fresh_all(self) -> list[Any]:
        repo = self.web.playlists.repository
        return [repo.list_page().etag] + [repo.get(i).etag for i in self.ids]

    def change(self, name: str) -> None:
        self.provider.rename("a", name)
        self.worker.sync.run_once()

    def revalidations(self) -> list[dict[str, Any]]:
        return [dict(e.fields) for e in self.web_events if e.name == "cache.revalidate"]

    def close(self) -> None:
        self.worker.close()
        self.web.close()


@pytest.fixture
def pair(harmony_settings_factory: SettingsFactory) -> Iterator[Callable[..., _Pair]]:
    made: list[_Pair] = []

    def make(**kwargs: Any) -> _Pair:
        made.append(_Pair(harmony_settings_factory(), **kwargs))
        return made[-1]

    yield make
    for item in made:
        item.close()


# -- the feed ---------------------------------------------------------------------------


def test_each_changing_sync_records_one_numbered_change_with_the_affected_playlists(
    pair: Callable[..., _Pair],
) -> None:
    p = pair()
    feed = ChangeFeed(schema=p.web.settings.database_schema)
    with p.web.db.connect() as conn:
        first = feed.head(conn)
    p.worker.sync.run_once()  # nothing changed: nothing recorded
    p.change("A2")
    with p.web.db.connect() as conn:
        assert feed.head(conn) == first + 1
        changes = feed.since(conn, first, first + 1)
    assert changes.complete and changes.playlist_ids == {p.ids[0]}


def test_change_numbers_stay_unique_and_gapless_under_concurrent_writers(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory()
    feed = ChangeFeed(schema=settings.database_schema)
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        numbers: list[int] = []
        lock = threading.Lock()

        def write(n: int) -> None:
            for i in range(10):
                with ctx.db.write() as conn:
                    number = feed.record(conn, ctx.clock.now(), [n * 100 + i])
                with lock:
                    numbers.append(number)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(numbers) == list(range(1, 41))
        with ctx.db.connect() as conn:
            changes = feed.since(conn, 0, 40)
        assert changes.complete and len(changes.playlist_ids) == 40


def test_the_feed_is_pruned_to_its_retention(harmony_settings_factory: SettingsFactory) -> None:
    settings = harmony_settings_factory(change_feed_retention=100)
    feed = ChangeFeed(schema=settings.database_schema, retention=100)
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        for i in range(200):
            with ctx.db.write() as conn:
                feed.record(conn, ctx.clock.now(), [i + 1])
        with ctx.db.connect() as conn:
            kept = conn.execute(text("SELECT count(*) FROM change_feed")).scalar_one()
            assert not feed.since(conn, 0, 200).complete
            assert feed.since(conn, 150, 200).complete
    assert 100 <= kept < 200


# -- faults: the cache drops what it cannot prove fresh --------------------------------


def test_a_pruned_feed_makes_a_trailing_cache_drop_everything(pair: Callable[..., _Pair]) -> None:
    p = pair()
    p.read_all()
    p.change("pruned away")
    with p.worker.db.write() as conn:  # as if thousands of changes had been pruned since
        conn.execute(delete(ChangeFeedRow))
    assert p.read_all() == p.fresh_all()
    [event] = p.revalidations()
    assert event["status"] == "reset" and "pruned" in event["meta"]["reason"]


def test_a_feed_that_went_back_makes_the_cache_drop_everything(pair: Callable[..., _Pair]) -> None:
    p = pair()
    p.change("one")
    p.read_all()
    with p.worker.db.write() as conn:  # a database restored from an older backup
        conn.execute(update(ChangeFeedHeadRow).values(last=0))
        conn.execute(text("UPDATE playlists SET version = version + 7"))
    assert p.read_all() == p.fresh_all()
    assert p.revalidations()[-1]["status"] == "reset"


def test_without_the_change_feed_reads_bypass_the_cache(
    harmony_settings_factory: SettingsFactory,
) -> None:
    """A database not yet migrated to 0005: nothing can prove a cached entry fresh."""
    settings = harmony_settings_factory()
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "A", [_track(1)])
    with HarmonyContext(settings, providers={"mem": provider}) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
        with ctx.db.write() as conn:
            conn.execute(text("DROP TABLE change_feed_head"))
        [item] = ctx.playlists.list_page().items
        ctx.playlists.get(item.id)
        assert ctx.cache is not None and len(ctx.cache) == 0


# -- host invalidators ------------------------------------------------------------------


def test_a_host_invalidator_hears_of_changes_another_context_commits(
    pair: Callable[..., _Pair],
) -> None:
    heard: list[frozenset[int]] = []
    p = pair(host=lambda ids: heard.append(ids) or len(ids))
    with p.web.db.connect() as conn:
        head = ChangeFeed(schema=p.web.settings.database_schema).head(conn)
    _eventually(lambda: p.web._coherence._host_known == head, "the follower caught up")
    heard.clear()  # the worker's first sync, heard of too
    p.change("remote")  # committed by the other context: only the follower can tell
    _eventually(lambda: frozenset({p.ids[0]}) in heard, "the host invalidator was called")
    assert heard == [frozenset({p.ids[0]})]


def test_a_host_invalidator_hears_of_this_contexts_own_sync_once(
    harmony_settings_factory: SettingsFactory,
) -> None:
    heard: list[frozenset[int]] = []
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "A", [_track(1)])
    settings = harmony_settings_factory()
    invalidator = CallbackInvalidator(lambda ids: heard.append(ids) or 0)
    with HarmonyContext(settings, providers={"mem": provider}, invalidator=invalidator) as ctx:
        ctx.migrate()
        for n in range(5):
            provider.rename("a", f"name {n}")
            ctx.sync.run_once()
        # Give the follower time to have looked at every change (it must skip them all).
        with ctx.db.connect() as conn:
            head = ChangeFeed(schema=settings.database_schema).head(conn)
        _eventually(lambda: ctx._coherence._host_known == head, "the follower caught up")
        assert len(heard) == 5


def test_this_contexts_cache_is_dropped_by_its_own_sync_even_with_a_host_invalidator(
    harmony_settings_factory: SettingsFactory,
) -> None:
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "A", [_track(1)])
    invalidator = CallbackInvalidator(lambda ids: 0)
    with HarmonyContext(
        harmony_settings_factory(), providers={"mem": provider}, invalidator=invalidator
    ) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
        [item] = ctx.playlists.list_page().items
        ctx.playlists.get(item.id)
        provider.rename("a", "B")
        ctx.sync.run_once()
        assert ctx.playlists.get(item.id).name == "B"


# -- PostgreSQL connections lost --------------------------------------------------------


@pytest.mark.postgres_only
def test_a_lost_listen_connection_neither_serves_stale_data_nor_loses_host_invalidations(
    harmony_settings_factory: SettingsFactory, harmony_backend: str
) -> None:
    if harmony_backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY connections are PostgreSQL's")
    heard: list[frozenset[int]] = []
    web_settings = harmony_settings_factory(application_name="harmony-web")
    worker_settings = web_settings.model_copy(update={"application_name": "harmony-worker"})
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "A", [_track(1)])
    invalidator = CallbackInvalidator(lambda ids: heard.append(ids) or 0)
    with (
        HarmonyContext(web_settings, invalidator=invalidator) as web,
        HarmonyContext(worker_settings, providers={"mem": provider}) as worker,
    ):
        web.migrate()
        worker.sync.run_once()
        [item] = web.playlists.list_page().items
        web.playlists.get(item.id)
        watcher = web.db.watcher
        assert watcher is not None
        _eventually(lambda: watcher.following, "the listener connected")
        reconnects = watcher.reconnects
        # Every connection of the web context dies (listener, probe, pool): a server
        # restart or an idle-connection killer.
        with worker.db.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'harmony-web'"
                )
            )
        provider.rename("a", "changed while the listener was down")
        worker.sync.run_once()
        assert web.playlists.get(item.id).name == "changed while the listener was down"
        _eventually(lambda: watcher.reconnects > reconnects, "the listener reconnected")
        _eventually(lambda: frozenset({item.id}) in heard, "the host heard of the change")


@pytest.mark.slow
def test_a_postgresql_restart_neither_fails_nor_stales_cached_reads(
    own_cluster: tuple[str, str],
) -> None:
    url, folder = own_cluster
    heard: list[frozenset[int]] = []
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "Before the restart", [_track(1)])
    invalidator = CallbackInvalidator(lambda ids: heard.append(ids) or 0)
    settings = {"activity_events": ()}
    with (
        HarmonyContext.from_url(url, settings=settings, invalidator=invalidator) as web,
        HarmonyContext.from_url(url, settings=settings, providers={"mem": provider}) as worker,
    ):
        web.migrate()
        worker.sync.run_once()
        [item] = web.playlists.list_page().items
        assert web.playlists.get(item.id).name == "Before the restart"  # cached now
        watcher = web.db.watcher
        assert watcher is not None
        _eventually(lambda: watcher.following, "the listener connected")
        reconnects = watcher.reconnects

        pg_script("restart", folder)

        provider.rename("a", "After the restart")
        worker.sync.run_once()
        assert web.playlists.get(item.id).name == "After the restart"  # no error, not stale
        assert web.playlists.list_page().items[0].name == "After the restart"
        _eventually(lambda: watcher.reconnects > reconnects, "the listener reconnected")
        _eventually(lambda: frozenset({item.id}) in heard, "the host heard of the change")
