"""Property: whatever the provider does and whenever hosts read, no cached ETag is stale.

After any sequence of provider changes, syncs (some failing) and reads of list pages and
details through ``ctx.playlists`` (the cache), every read returns exactly what a fresh
database read returns, ETag included. So a host answering ``If-None-Match`` from the cache
can never send a stale 304.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from harmony import HarmonyContext, NotFoundError, SyncFailed
from harmony._db.models import PlaylistRow, PlaylistTrackRow, TrackRow
from harmony.testing import InMemoryProvider
from tests.sync.conftest import MakeContext

PLAYLISTS = ["a", "b", "c", "d"]
TITLES = ["One", "Two", "Two (Live)"]

track_ref = st.tuples(st.integers(0, 5), st.sampled_from(TITLES))
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from(PLAYLISTS),
            st.sampled_from(["N1", "N2"]),
            st.lists(track_ref, max_size=5),
        ),
        st.tuples(st.just("remove"), st.sampled_from(PLAYLISTS)),
        st.tuples(st.just("sync")),
        st.tuples(st.just("failing_sync"), st.sampled_from(PLAYLISTS)),
        st.tuples(
            st.just("list"),
            st.sampled_from([1, 2, 50]),
            st.sampled_from(["active", "all"]),
            st.integers(0, 3),
        ),
        st.tuples(st.just("detail"), st.integers(0, 5)),
    ),
    max_size=25,
)


def _reset(ctx: HarmonyContext, provider: InMemoryProvider) -> None:
    provider.clear()
    assert ctx.cache is not None
    ctx.cache.clear()
    with ctx.db.write() as conn:
        for table in (PlaylistTrackRow, PlaylistRow, TrackRow):
            conn.execute(delete(table))


def _list(ctx: HarmonyContext, limit: int, status: Any, pages: int) -> None:
    cursor = None
    for _ in range(pages + 1):
        cached = ctx.playlists.list_page(limit=limit, status=status, cursor=cursor)
        fresh = ctx.playlists.repository.list_page(limit=limit, status=status, cursor=cursor)
        assert cached.etag == fresh.etag and cached == fresh
        if fresh.next_cursor is None:
            return
        cursor = fresh.next_cursor


def _detail(ctx: HarmonyContext, index: int) -> None:
    ids = [p.id for p in ctx.playlists.repository.list_page(status="all", limit=500)]
    if not ids:
        return
    playlist_id = ids[index % len(ids)]
    cached = ctx.playlists.get(playlist_id)
    fresh = ctx.playlists.repository.get(playlist_id)
    assert cached.etag == fresh.etag and cached == fresh


def _check_everything(ctx: HarmonyContext) -> None:
    """Read every page and every detail through the cache (caching them for later ops)."""
    _list(ctx, 50, "all", 0)
    _list(ctx, 2, "active", 3)
    for playlist in ctx.playlists.repository.list_page(status="all", limit=500):
        assert ctx.playlists.get(playlist.id) == ctx.playlists.repository.get(playlist.id)


@pytest.mark.parametrize("policy", ["mark", "delete"])
def test_cached_reads_always_equal_fresh_reads(make_context: MakeContext, policy: str) -> None:
    provider = InMemoryProvider()
    ctx = make_context({"memory": provider}, sync_removed_policy=policy)

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(ops=operations)
    def run(ops: list[tuple[Any, ...]]) -> None:
        _reset(ctx, provider)
        for op in ops:
            if op[0] == "set":
                _, pid, name, refs = op
                provider.set_playlist(
                    pid,
                    name,
                    [{"id": f"t{n}", "title": title, "artists": ["X"]} for n, title in refs],
                )
            elif op[0] == "remove":
                provider.remove_playlist(op[1])
            elif op[0] == "sync":
                ctx.sync.run_once()
            elif op[0] == "failing_sync":
                provider.fail_on.add(op[1])
                with contextlib.suppress(SyncFailed):
                    ctx.sync.run_once()
                provider.fail_on.clear()
            elif op[0] == "list":
                _list(ctx, op[1], op[2], op[3])
            else:
                try:
                    _detail(ctx, op[1])
                except NotFoundError:
                    pytest.fail("a listed playlist was not found")
            _check_everything(ctx)

    run()
