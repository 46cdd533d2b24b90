"""ctx.playlists.find and ctx.tracks.find: lookups by the provider's own id, on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from harmony import HarmonyContext, InvalidInputError
from harmony.testing import InMemoryProvider


@pytest.fixture
def synced(harmony_context_factory: Any) -> tuple[HarmonyContext, InMemoryProvider]:
    provider = InMemoryProvider()
    provider.set_playlist(
        "road",
        "Road Trip",
        [
            {"id": "t1", "title": "One", "artists": ["X"]},
            {"id": "t2", "title": "Two", "artists": ["Y"]},
        ],
    )
    provider.set_playlist("gym", "Gym", [{"id": "t2", "title": "Two", "artists": ["Y"]}])
    ctx: HarmonyContext = harmony_context_factory(providers={"memory": provider})
    ctx.sync.run_once()
    return ctx, provider


def test_find_returns_the_stored_playlist_with_its_etag(
    synced: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, _ = synced
    found = ctx.playlists.find("memory", "road")
    assert found is not None and found.name == "Road Trip" and found.track_count == 2
    detail = ctx.playlists.get(found.id)
    assert (detail.etag, detail.provider_id) == (found.etag, "road")


def test_find_sees_removed_playlists_and_fresh_changes(
    synced: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, provider = synced
    cached = ctx.playlists.list_page()  # fills the cache; find must not be served from it
    provider.remove_playlist("gym")
    ctx.sync.run_once()
    gone = ctx.playlists.find("memory", "gym")
    assert gone is not None and gone.status == "removed" and gone.removed_at is not None
    assert len(cached.items) == 2


def test_find_returns_none_for_unknown_keys(
    synced: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, _ = synced
    assert ctx.playlists.find("memory", "nope") is None
    assert ctx.playlists.find("spotify", "road") is None  # same id, other provider
    assert ctx.playlists.find("memory", "x" * 1000) is None  # longer than the column
    assert ctx.tracks.find("memory", "t9") is None


def test_track_find_returns_the_stored_track(
    synced: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, _ = synced
    track = ctx.tracks.find("memory", "t2")
    assert track is not None and (track.title, track.artists) == ("Two", ("Y",))
    assert ctx.tracks.get(track.id) == track


@pytest.mark.parametrize(
    "provider, provider_id",
    [
        ("", "road"),
        ("memory", ""),
        (None, "road"),
        ("memory", 5),
        ("memory", "a\x00b"),
    ],
)
def test_find_refuses_keys_that_are_not_strings(
    synced: tuple[HarmonyContext, InMemoryProvider], provider: Any, provider_id: Any
) -> None:
    ctx, _ = synced
    for find in (ctx.playlists.find, ctx.tracks.find):
        with pytest.raises(InvalidInputError, match="must be a non-empty string"):
            find(provider, provider_id)


def test_find_on_a_closed_context_raises(synced: tuple[HarmonyContext, InMemoryProvider]) -> None:
    ctx, _ = synced
    ctx.close()
    with pytest.raises(Exception, match="closed"):
        ctx.playlists.find("memory", "road")
