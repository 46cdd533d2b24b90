"""Liked Songs and saved albums as playlists of SpotifyProvider, paged, against the fake
Web API on 127.0.0.1 with the real spotipy client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harmony.errors import ProviderError
from harmony.providers import coerce_playlist, coerce_track
from harmony.providers.base import ProviderPlaylist, ProviderTrack
from harmony.providers.spotify import SpotifyProvider
from harmony.testing.spotify_server import FakeAlbum, FakeSpotifyServer

TOKEN = "lib-t0ken-77"


def liked(count: int) -> list[dict[str, Any]]:
    # Newest first, as Spotify lists saved tracks.
    return [
        {
            "id": f"like{i}",
            "name": f"Liked {i}",
            "artists": ["Ana"],
            "album": "LP",
            "isrc": f"USL{i:07d}",
            "added_at": f"2024-{12 - i // 28:02d}-{28 - i % 28:02d}T10:00:00Z",
        }
        for i in range(count)
    ]


def album(n: int, tracks: int = 3) -> dict[str, Any]:
    return {
        "id": f"alb{n}",
        "name": f"Album {n}",
        "artists": ["Cy", "Di"],
        "release_date": "2019-04-05",
        "added_at": f"2024-01-{1 + n % 28:02d}T00:00:00Z",
        "tracks": [
            {"id": f"a{n}t{i}", "name": f"Track {i}", "artists": ["Cy"], "duration_ms": 100_000 + i}
            for i in range(tracks)
        ],
    }


@pytest.fixture
def server() -> Iterator[FakeSpotifyServer]:
    albums = [album(n) for n in range(60)]  # two pages of saved albums
    albums[1] = album(1, tracks=120)  # an album whose tracks take three pages
    playlists = [
        {"id": "mix", "name": "Mix", "tracks": [{"id": "m1", "name": "M", "artists": ["X"]}]}
    ]
    with FakeSpotifyServer(playlists, token=TOKEN, liked=liked(120), albums=albums) as fake:
        yield fake


def provider(server: FakeSpotifyServer, **options: Any) -> SpotifyProvider:
    return SpotifyProvider(
        token=TOKEN, api_prefix=server.url, sleep=lambda _s: None, requests_timeout=5, **options
    )


def playlists(p: SpotifyProvider) -> list[ProviderPlaylist]:
    out = [coerce_playlist(item) for item in p.iter_playlists()]
    assert all(isinstance(item, ProviderPlaylist) for item in out)
    return out  # type: ignore[return-value]


def tracks(p: SpotifyProvider, playlist_id: str) -> list[ProviderTrack]:
    out = [coerce_track(item, playlist_id) for item in p.iter_tracks(playlist_id)]
    assert all(isinstance(item, ProviderTrack) for item in out)
    return out  # type: ignore[return-value]


def test_the_library_is_left_out_unless_asked_for(server: FakeSpotifyServer) -> None:
    assert [p.id for p in playlists(provider(server))] == ["mix"]
    assert server.requests_to("/v1/me/tracks") == server.requests_to("/v1/me/albums") == []


def test_liked_songs_are_one_playlist_paged_newest_first(server: FakeSpotifyServer) -> None:
    p = provider(server, liked_songs=True)
    listed = playlists(p)
    assert [x.id for x in listed] == ["mix", "liked-songs"]
    liked_songs = listed[1]
    assert (liked_songs.name, liked_songs.track_count) == ("Liked Songs", 120)
    assert [r.query["limit"] for r in server.requests_to("/v1/me/tracks")] == ["1"]  # cheap
    server.clear_requests()
    got = tracks(p, "liked-songs")
    assert [t.id for t in got] == [f"like{i}" for i in range(120)]
    assert got[0].added_at is not None and got[0].isrc == "USL0000000" and got[0].album == "LP"
    assert [(r.query["offset"], r.query["limit"]) for r in server.requests_to("/v1/me/tracks")] == [
        ("0", "50"),
        ("50", "50"),
        ("100", "50"),
    ]


def test_the_liked_songs_snapshot_changes_with_every_like_and_unlike(
    server: FakeSpotifyServer,
) -> None:
    p = provider(server, liked_songs=True)

    def snapshot() -> str | None:
        return playlists(p)[1].snapshot_id

    before = snapshot()
    assert snapshot() == before  # stable while nothing changes
    server.like({"id": "new1", "name": "New", "artists": ["Z"], "added_at": "2025-01-01T00:00:00Z"})
    after_like = snapshot()
    server.unlike("like50")  # an old one: the newest stays, the count drops
    after_unlike = snapshot()
    assert len({before, after_like, after_unlike}) == 3


def test_saved_albums_are_playlists_with_their_tracks(server: FakeSpotifyServer) -> None:
    p = provider(server, saved_albums=True)
    listed = playlists(p)
    albums = [x for x in listed if x.id.startswith("album:")]
    assert len(albums) == 60 and albums[0].id == "album:alb0"
    assert (albums[1].name, albums[1].owner, albums[1].track_count) == ("Album 1", "Cy, Di", 120)
    assert [(r.query["offset"], r.query["limit"]) for r in server.requests_to("/v1/me/albums")] == [
        ("0", "50"),
        ("50", "50"),
    ]
    small = tracks(p, "album:alb0")
    assert [(t.id, t.album, t.year) for t in small] == [
        (f"a0t{i}", "Album 0", 2019) for i in range(3)
    ]
    assert len(server.requests_to("/v1/albums/*")) == 1  # the album object carries its tracks
    server.clear_requests()
    big = tracks(p, "album:alb1")
    assert [t.id for t in big] == [f"a1t{i}" for i in range(120)]
    assert [r.path for r in server.requests_to("/v1/albums/*")] == [
        "/v1/albums/alb1",
        "/v1/albums/alb1/tracks",
        "/v1/albums/alb1/tracks",
    ]


def test_an_album_snapshot_is_stable_and_a_removed_album_is_gone(server: FakeSpotifyServer) -> None:
    p = provider(server, saved_albums=True)
    first = {x.id: x.snapshot_id for x in playlists(p)}
    server.remove_album("alb3")
    second = {x.id: x.snapshot_id for x in playlists(p)}
    assert "album:alb3" not in second and all(first[k] == v for k, v in second.items())


def test_a_missing_scope_names_user_library_read(server: FakeSpotifyServer) -> None:
    server.fail_next("/v1/me/tracks", 403)
    with pytest.raises(ProviderError, match="user-library-read"):
        playlists(provider(server, liked_songs=True))


def test_fake_album_endpoints_page_and_refuse_bad_limits(server: FakeSpotifyServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    page = requests.get(
        f"{server.url}albums/alb1/tracks?offset=100&limit=50", headers=headers, timeout=5
    ).json()
    assert (len(page["items"]), page["next"], page["total"]) == (20, None, 120)
    assert "album" not in page["items"][0] and "external_ids" not in page["items"][0]
    bad = requests.get(f"{server.url}me/albums?limit=51", headers=headers, timeout=5)
    assert bad.status_code == 400
    assert requests.get(f"{server.url}albums/nope", headers=headers, timeout=5).status_code == 404
    assert isinstance(server.albums[0], FakeAlbum) and server.liked[0].id == "like0"
