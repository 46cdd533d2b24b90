"""Cached reads in one process never trail a sync that returned in another.

A reader process (``reader_process.py``, default settings: a 300 s cache) serves playlist
lists and details; this process syncs through its own context. Once ``run_once()`` has
returned here, the reader's next reads return exactly what the database holds, with the new
ETags, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmony import HarmonyContext
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import SettingsFactory

pytestmark = pytest.mark.slow


def _track(n: int) -> dict[str, Any]:
    return {
        "id": f"t{n}",
        "title": f"Song {n}",
        "artists": [f"Artist {n % 5}"],
        "duration_ms": 1000 + n,
    }


def _fresh_list(ctx: HarmonyContext, provider: str) -> dict[str, Any]:
    page = ctx.playlists.repository.list_page(provider=provider, limit=500)
    return {
        "etag": page.etag,
        "items": [[p.id, p.name, p.version, p.etag, p.status] for p in page.items],
    }


def _fresh_detail(ctx: HarmonyContext, playlist_id: int) -> dict[str, Any]:
    detail = ctx.playlists.repository.get(playlist_id)
    return {
        "etag": detail.etag,
        "name": detail.name,
        "status": detail.status,
        "tracks": [[t.provider_id, t.title] for t in detail.tracks],
    }


def _assert_reader_current(reader: Any, ctx: HarmonyContext, provider: str) -> None:
    fresh = _fresh_list(ctx, provider)
    assert reader.ask("list", provider=provider) == fresh
    for playlist_id, *_ in fresh["items"]:
        assert reader.ask("get", id=playlist_id) == _fresh_detail(ctx, playlist_id)


def test_a_reader_process_serves_new_content_and_etags_right_after_a_sync_returns(
    harmony_settings_factory: SettingsFactory, reader_process: Any
) -> None:
    settings = harmony_settings_factory()
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "Road trip", [_track(1), _track(2)])
    provider.set_playlist("b", "Gym", [_track(3)])
    with HarmonyContext(settings, providers={"mem": provider}) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
        reader = reader_process(settings)
        _assert_reader_current(reader, ctx, "mem")
        before = reader.ask("stats")
        _assert_reader_current(reader, ctx, "mem")
        after = reader.ask("stats")
        assert after["hits"] - before["hits"] == 3  # the reads above came from its cache
        for round_ in range(5):
            old = reader.ask("get", id=reader.ask("list", provider="mem")["items"][0][0])
            provider.rename("a", f"Road trip {round_}")
            provider.set_playlist("b", "Gym", [_track(n) for n in range(3, 5 + round_)])
            ctx.sync.run_once()
            _assert_reader_current(reader, ctx, "mem")
            assert (
                reader.ask("get", id=reader.ask("list", provider="mem")["items"][0][0])["etag"]
                != old["etag"]
            )
        provider.remove_playlist("b")
        ctx.sync.run_once()
        _assert_reader_current(reader, ctx, "mem")
        events = reader.ask("stats")["revalidations"]
        assert events and all(e["source"] == "read" and e["status"] == "ok" for e in events)


# -- interleavings ----------------------------------------------------------------------

_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("rename"), st.integers(0, 2), st.text("abcdé ", min_size=1, max_size=8)),
        st.tuples(st.just("tracks"), st.integers(0, 2), st.lists(st.integers(0, 9), max_size=5)),
        st.tuples(st.just("remove"), st.integers(0, 2), st.just("")),
        st.tuples(st.just("sync"), st.just(0), st.just("")),
        st.tuples(st.just("read"), st.integers(0, 2), st.just("")),
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture
def writer_and_reader(
    harmony_settings_factory: SettingsFactory, reader_process: Any
) -> Iterator[tuple[HarmonyContext, Any]]:
    settings = harmony_settings_factory()
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        yield ctx, reader_process(settings)


def test_interleaved_syncs_and_cached_reads_never_read_older_than_the_last_returned_sync(
    writer_and_reader: tuple[HarmonyContext, Any],
) -> None:
    ctx, reader = writer_and_reader
    examples = iter(range(1_000_000))

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops=_OPS)
    def run(ops: list[tuple[str, int, Any]]) -> None:
        name = f"mem{next(examples)}"  # each example syncs a provider of its own
        provider = InMemoryProvider(name)
        for n in range(3):
            provider.set_playlist(f"p{n}", f"Playlist {n}", [_track(n)])
        ctx.add_provider(name, provider)
        try:
            ctx.sync.run_once(name)
            _assert_reader_current(reader, ctx, name)
            for op, index, arg in ops:
                playlist = f"p{index}"
                if op == "rename" and playlist in {p["id"] for p in provider.iter_playlists()}:
                    provider.rename(playlist, arg)
                elif op == "tracks":
                    provider.set_playlist(playlist, f"Playlist {index}", [_track(n) for n in arg])
                elif op == "remove":
                    provider.remove_playlist(playlist)
                elif op == "sync":
                    ctx.sync.run_once(name)
                    _assert_reader_current(reader, ctx, name)
                else:  # a read between syncs: still what the last returned sync stored
                    _assert_reader_current(reader, ctx, name)
            ctx.sync.run_once(name)
            _assert_reader_current(reader, ctx, name)
        finally:
            ctx.remove_provider(name)

    run()


def test_two_contexts_in_one_process_see_each_others_syncs(
    harmony_settings_factory: SettingsFactory,
) -> None:
    """What the CLI did before it used one context: a second context's sync is seen by the
    first context's cache at once (the same mechanism as across processes)."""
    settings = harmony_settings_factory()
    provider = InMemoryProvider("mem")
    provider.set_playlist("a", "Before", [_track(1)])
    with (
        HarmonyContext(settings) as web,
        HarmonyContext(settings, providers={"mem": provider}) as worker,
    ):
        web.migrate()
        worker.sync.run_once()
        [item] = web.playlists.list_page().items
        old = web.playlists.get(item.id)
        provider.set_playlist("a", "After", [_track(1), _track(2)])
        worker.sync.run_once()
        new = web.playlists.get(item.id)
        assert (new.name, len(new.tracks)) == ("After", 2) and new.etag != old.etag
        assert web.playlists.list_page().items[0].etag == new.etag
