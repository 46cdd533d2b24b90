"""End to end: ctx.sync with the Spotify provider, real spotipy, the fake Web API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harmony.providers.spotify import SpotifyProvider
from harmony.testing import FakeSpotifyServer, RecordingEventLogger
from harmony.testing.spotify_server import Fault
from tests.sync.conftest import MakeContext

TOKEN = "tok-3b7e1c"


def _tracks(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "name": f"{prefix} song {i}",
            "artists": ["Ana"],
            "album": "LP",
            "duration_ms": 180_000 + i,
        }
        for i in range(count)
    ]


@pytest.fixture
def server() -> Iterator[FakeSpotifyServer]:
    playlists = [
        {"id": f"pl{n}", "name": f"Playlist {n}", "owner": "me", "tracks": _tracks(f"p{n}-", 3)}
        for n in range(60)  # two pages of playlists
    ]
    playlists[0]["tracks"] = _tracks("big-", 120)  # three pages of tracks
    with FakeSpotifyServer(playlists, token=TOKEN) as fake:
        yield fake


def test_a_spotify_sync_pages_retries_and_rejects_through_the_real_client(
    make_context: MakeContext,
    server: FakeSpotifyServer,
    harmony_events: RecordingEventLogger,
) -> None:
    sleeps: list[float] = []
    server.malform_item("pl0", 7, kind="null_track")
    server.rate_limit_next("/v1/me/playlists", retry_after=4, query={"offset": "50"})
    server.schedule("/v1/playlists/pl0/*", Fault(status=500), query={"offset": "50"})
    provider = SpotifyProvider(token=TOKEN, api_prefix=server.url, sleep=sleeps.append)
    ctx = make_context({"spotify": provider})
    report = ctx.sync.run_once("spotify")
    assert (report.created, report.rejected) == (60, 1)
    assert report.rejections[0].playlist_id == "pl0" and report.rejections[0].kind == "track"
    assert 4 in sleeps and len(sleeps) == 2  # the Retry-After wait, and one 5xx back-off
    assert ctx.playlists.count() == 60
    big = next(p for p in ctx.playlists.list_page(limit=100) if p.provider_id == "pl0")
    assert ctx.playlists.get(big.id).track_count == 119
    assert harmony_events.named("sync.item_rejected")[0]["provider"] == "spotify"
    # Unchanged snapshots: the second sync lists playlists and fetches no tracks.
    server.clear_requests()
    again = ctx.sync.run_once()
    assert (again.unchanged, again.created, again.updated) == (60, 0, 0)
    assert server.requests_to("/v1/playlists/*") == []
    # A rename at Spotify arrives with a new snapshot.
    server.rename_playlist("pl5", "Renamed")
    assert ctx.sync.run_once().updated == 1
    assert TOKEN not in repr(provider) and all(TOKEN not in str(e.fields) for e in harmony_events)
