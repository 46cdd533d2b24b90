"""SpotifyProvider against the fake Spotify Web API, through real spotipy and real HTTP."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import spotipy  # type: ignore[import-untyped]

from harmony.errors import (
    ConfigurationError,
    CredentialsError,
    InvalidInputError,
    ProviderError,
)
from harmony.providers import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    TrackSearchProvider,
    coerce_playlist,
    coerce_track,
)
from harmony.providers.spotify import SpotifyProvider
from harmony.testing.spotify_server import FakeSpotifyServer, Fault

TOKEN = "sEcReT-T0ken-4f9a"


def make_tracks(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "name": f"Song {i}",
            "artists": ["Ana", "Bo"],
            "album": "Alb",
            "isrc": f"USX{i:07d}",
            "duration_ms": 200_000 + i,
            "added_at": "2024-05-01T10:00:00Z",
        }
        for i in range(count)
    ]


@pytest.fixture
def server() -> Iterator[FakeSpotifyServer]:
    playlists: list[dict[str, Any]] = [
        {
            "id": "mix",
            "name": "Mix",
            "description": "Rock &amp; Roll",
            "owner": "alice",
            "tracks": make_tracks(5),
        },
        {"id": "empty", "name": "Empty", "owner": {"id": "bob42", "display_name": None}},
    ]
    with FakeSpotifyServer(playlists, token=TOKEN) as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def provider_for(server: FakeSpotifyServer, sleeps: list[float], **options: Any) -> SpotifyProvider:
    options.setdefault("requests_timeout", 5)
    return SpotifyProvider(token=TOKEN, api_prefix=server.url, sleep=sleeps.append, **options)


@pytest.fixture
def provider(server: FakeSpotifyServer, sleeps: list[float]) -> Iterator[SpotifyProvider]:
    with provider_for(server, sleeps) as built:
        yield built


def offsets(server: FakeSpotifyServer, path: str) -> list[tuple[str, str]]:
    return [(r.query["offset"], r.query["limit"]) for r in server.requests_to(path)]


# -- paging and mapping -------------------------------------------------------------------------


def test_provider_satisfies_both_protocols(provider: SpotifyProvider) -> None:
    assert isinstance(provider, PlaylistProvider)
    assert isinstance(provider, TrackSearchProvider)
    assert provider.name == "spotify"


def test_iter_playlists_fetches_every_page_of_50() -> None:
    with FakeSpotifyServer(
        [{"id": f"p{i}", "name": f"List {i}"} for i in range(120)], token=TOKEN
    ) as fake:
        items = list(provider_for(fake, []).iter_playlists())
        assert [item["id"] for item in items] == [f"p{i}" for i in range(120)]
        assert offsets(fake, "/v1/me/playlists") == [("0", "50"), ("50", "50"), ("100", "50")]
        assert all(isinstance(coerce_playlist(item), ProviderPlaylist) for item in items)


def test_iter_playlists_maps_owner_snapshot_count_and_description(
    provider: SpotifyProvider, server: FakeSpotifyServer
) -> None:
    mix, empty = (coerce_playlist(item) for item in provider.iter_playlists())
    assert mix == ProviderPlaylist(
        id="mix",
        name="Mix",
        description="Rock & Roll",
        owner="alice",
        snapshot_id=server.playlist("mix").snapshot_id,
        track_count=5,
    )
    assert isinstance(empty, ProviderPlaylist)
    assert empty.owner == "bob42"  # no display name: the owner's id
    assert empty.track_count == 0


def test_iter_tracks_fetches_every_page_of_50_from_the_items_endpoint() -> None:
    with FakeSpotifyServer(
        [{"id": "big", "name": "Big", "tracks": make_tracks(250)}], token=TOKEN
    ) as fake:
        items = list(provider_for(fake, []).iter_tracks("big"))
        assert [item["id"] for item in items] == [f"t{i}" for i in range(250)]
        assert offsets(fake, "/v1/playlists/big/items") == [
            (str(o), "50") for o in range(0, 250, 50)
        ]
        assert len(fake.requests) == 5


class LegacyLimitServer(FakeSpotifyServer):
    """Spotify before 2026 allowed 100 entries per playlist page."""

    MAX_LIMITS = {**FakeSpotifyServer.MAX_LIMITS, "tracks": 100}


def test_iter_tracks_with_pages_of_100_fetches_three_pages() -> None:
    with LegacyLimitServer(
        [{"id": "big", "name": "Big", "tracks": make_tracks(250)}], token=TOKEN
    ) as fake:
        items = list(provider_for(fake, [], track_page_size=100).iter_tracks("big"))
        assert [item["id"] for item in items] == [f"t{i}" for i in range(250)]
        assert offsets(fake, "/v1/playlists/big/items") == [
            ("0", "100"),
            ("100", "100"),
            ("200", "100"),
        ]


def test_a_page_size_the_api_refuses_fails_at_once(
    server: FakeSpotifyServer, sleeps: list[float]
) -> None:
    with pytest.raises(ProviderError, match="400: Invalid limit"):
        list(provider_for(server, sleeps, track_page_size=100).iter_tracks("mix"))
    assert sleeps == []
    assert len(server.requests) == 1


def test_current_field_names_alone_are_understood() -> None:
    with FakeSpotifyServer(
        [{"id": "mix", "name": "Mix", "tracks": make_tracks(3)}], token=TOKEN, legacy_fields=False
    ) as fake:
        provider = provider_for(fake, [])
        (playlist,) = provider.iter_playlists()
        assert playlist["track_count"] == 3
        tracks = [coerce_track(item) for item in provider.iter_tracks("mix")]
        assert [t.id for t in tracks if isinstance(t, ProviderTrack)] == ["t0", "t1", "t2"]


def test_deprecated_field_names_alone_are_understood(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    legacy = {
        "added_at": "2023-01-01T00:00:00Z",
        "is_local": False,
        "track": {
            "id": "old1",
            "name": "Old",
            "type": "track",
            "artists": [{"name": "X"}],
            "album": {"name": "A"},
            "duration_ms": 1000,
            "external_ids": {},
        },
    }
    server.set_tracks("mix", [{"id": "old1", "name": "Old", "raw": legacy}])
    (track,) = (coerce_track(item) for item in provider.iter_tracks("mix"))
    assert isinstance(track, ProviderTrack)
    assert (track.id, track.title, track.artists, track.isrc) == ("old1", "Old", ("X",), None)


def test_iter_tracks_maps_fields_into_valid_provider_tracks(provider: SpotifyProvider) -> None:
    first = coerce_track(next(iter(provider.iter_tracks("mix"))))
    assert isinstance(first, ProviderTrack)
    assert (first.id, first.title, first.artists, first.album) == (
        "t0",
        "Song 0",
        ("Ana", "Bo"),
        "Alb",
    )
    assert (first.duration_ms, first.isrc) == (200_000, "USX0000000")
    assert first.added_at is not None and first.added_at.isoformat() == "2024-05-01T10:00:00+00:00"


def test_iter_tracks_keeps_duplicates_in_order(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    a, b = make_tracks(2)
    server.set_tracks("mix", [a, b, a, a, b])
    assert [item["id"] for item in provider.iter_tracks("mix")] == ["t0", "t1", "t0", "t0", "t1"]


def test_malformed_and_local_items_are_yielded_as_rejections(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    server.malform_item("mix", 1, "null_track")
    server.malform_item("mix", 2, "missing_name")
    server.malform_item("mix", 3, "local")
    results = [coerce_track(item, "mix") for item in provider.iter_tracks("mix")]
    assert len(results) == 5
    assert [type(r) for r in results] == [
        ProviderTrack,
        Rejection,
        Rejection,
        Rejection,
        ProviderTrack,
    ]
    null_track, missing_name, local = results[1:4]
    assert isinstance(missing_name, Rejection) and missing_name.item_id == "t2"
    assert "title" in missing_name.reason
    assert isinstance(null_track, Rejection) and null_track.item_id is None
    assert isinstance(local, Rejection) and local.item_id is None
    assert local.playlist_id == "mix"


def test_unknown_playlist_raises_without_retrying(
    provider: SpotifyProvider, server: FakeSpotifyServer, sleeps: list[float]
) -> None:
    with pytest.raises(ProviderError, match="404"):
        list(provider.iter_tracks("nosuchlist"))
    assert sleeps == []
    assert len(server.requests) == 1


def test_provider_follows_playlist_changes_between_syncs(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    before = {item["id"]: item for item in provider.iter_playlists()}
    server.rename_playlist("mix", "Mix 2")
    server.remove_playlist("empty")
    server.add_playlist({"id": "fresh", "name": "Fresh"})
    after = {item["id"]: item for item in provider.iter_playlists()}
    assert set(after) == {"mix", "fresh"}
    assert after["mix"]["name"] == "Mix 2"
    assert after["mix"]["snapshot_id"] != before["mix"]["snapshot_id"]


# -- retries ------------------------------------------------------------------------------------


def test_429_waits_exactly_retry_after_and_repeats_the_request(
    server: FakeSpotifyServer, provider: SpotifyProvider, sleeps: list[float]
) -> None:
    server.rate_limit_next("/v1/playlists/mix/items", retry_after=7)
    assert len(list(provider.iter_tracks("mix"))) == 5
    assert sleeps == [7.0]
    assert [r.status for r in server.requests_to("/v1/playlists/mix/items")] == [429, 200]


def test_429_on_a_later_page_repeats_only_that_page() -> None:
    with FakeSpotifyServer([{"id": f"p{i}", "name": "x"} for i in range(60)], token=TOKEN) as fake:
        fake.rate_limit_next("/v1/me/playlists", retry_after=3, query={"offset": "50"})
        sleeps: list[float] = []
        assert len(list(provider_for(fake, sleeps).iter_playlists())) == 60
        assert sleeps == [3.0]
        assert offsets(fake, "/v1/me/playlists") == [("0", "50"), ("50", "50"), ("50", "50")]


def test_429_longer_than_max_retry_after_fails_at_once(
    server: FakeSpotifyServer, sleeps: list[float]
) -> None:
    server.rate_limit_next("/v1/me/playlists", retry_after=3600)
    with pytest.raises(ProviderError, match="3600 s, more than max_retry_after=60"):
        list(provider_for(server, sleeps, max_retry_after=60).iter_playlists())
    assert sleeps == []
    assert len(server.requests) == 1


def test_500_is_retried_with_backoff_then_succeeds(
    server: FakeSpotifyServer, provider: SpotifyProvider, sleeps: list[float]
) -> None:
    server.fail_next("/v1/me/playlists", 500)
    server.fail_next("/v1/me/playlists", 503)
    assert [item["id"] for item in provider.iter_playlists()] == ["mix", "empty"]
    assert sleeps == [0.5, 1.0]
    assert [r.status for r in server.requests] == [500, 503, 200]


def test_repeated_500s_exhaust_the_attempts(server: FakeSpotifyServer, sleeps: list[float]) -> None:
    server.fail_next("/v1/playlists/*/items", 502, times=10)
    with pytest.raises(ProviderError, match="failed 3 times") as caught:
        list(provider_for(server, sleeps, max_attempts=3, backoff_initial=2).iter_tracks("mix"))
    assert "502" in str(caught.value)
    assert sleeps == [2.0, 4.0]
    assert len(server.requests) == 3
    assert server.pending_faults == 7


def test_dropped_connection_is_retried(
    server: FakeSpotifyServer, provider: SpotifyProvider, sleeps: list[float]
) -> None:
    server.disconnect_next("/v1/me/playlists")
    assert len(list(provider.iter_playlists())) == 2
    assert sleeps == [0.5]
    assert [r.status for r in server.requests] == [None, 200]


def test_timeout_is_retried(server: FakeSpotifyServer, sleeps: list[float]) -> None:
    server.schedule("/v1/me/playlists", Fault(status=200, body={"items": []}, delay=1.0))
    slow = provider_for(server, sleeps, requests_timeout=0.1)
    assert len(list(slow.iter_playlists())) == 2
    assert sleeps == [0.5]


def test_401_fails_at_once_with_a_fix(server: FakeSpotifyServer, sleeps: list[float]) -> None:
    server.token = "rotated-token"
    with pytest.raises(ProviderError) as caught:
        list(provider_for(server, sleeps).iter_playlists())
    message = str(caught.value)
    assert "401" in message and "expired" in message and "auth_manager=" in message
    assert sleeps == []
    assert len(server.requests) == 1


def test_403_fails_at_once_naming_the_scopes(
    server: FakeSpotifyServer, provider: SpotifyProvider, sleeps: list[float]
) -> None:
    server.fail_next("/v1/me/playlists", 403)
    with pytest.raises(ProviderError, match="playlist-read-private"):
        list(provider.iter_playlists())
    assert sleeps == []


def test_a_body_that_is_not_a_paging_object_is_a_provider_error(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    server.schedule("/v1/me/playlists", Fault(status=200, body={"unexpected": True}))
    with pytest.raises(ProviderError, match="unexpected shape"):
        list(provider.iter_playlists())


# -- search -------------------------------------------------------------------------------------


def test_search_tracks_returns_matches_as_valid_tracks(
    server: FakeSpotifyServer, provider: SpotifyProvider
) -> None:
    found = provider.search_tracks("song 3", limit=10)
    assert [t["id"] for t in found] == ["t3"]
    assert isinstance(coerce_track(found[0]), ProviderTrack)
    (request,) = server.requests_to("/v1/search")
    assert request.query == {"q": "song 3", "limit": "10", "offset": "0", "type": "track"}


def test_search_tracks_pages_beyond_50_and_stops_at_limit() -> None:
    with FakeSpotifyServer(catalog=make_tracks(130), token=TOKEN) as fake:
        found = provider_for(fake, []).search_tracks("song", limit=70)
        assert [t["id"] for t in found] == [f"t{i}" for i in range(70)]
        assert offsets(fake, "/v1/search") == [("0", "50"), ("50", "20")]


def test_search_tracks_rejects_a_blank_query(provider: SpotifyProvider) -> None:
    with pytest.raises(InvalidInputError):
        provider.search_tracks("  ", limit=5)


# -- construction and secrets -------------------------------------------------------------------


def test_auth_manager_tokens_are_fetched_per_request(server: FakeSpotifyServer) -> None:
    class Manager:
        token = TOKEN

        def get_access_token(self, as_dict: bool = True) -> str:
            assert as_dict is False
            return self.token

    manager = Manager()
    with SpotifyProvider(auth_manager=manager, api_prefix=server.url) as built:
        assert len(list(built.iter_playlists())) == 2
        server.token = manager.token = "next-token"
        assert len(list(built.iter_playlists())) == 2


def test_a_ready_spotipy_client_can_be_used(server: FakeSpotifyServer) -> None:
    client = spotipy.Spotify(auth=TOKEN, retries=0, status_retries=0, requests_timeout=5)
    client.prefix = server.url
    built = SpotifyProvider(client, name="spotify-work")
    assert built.name == "spotify-work"
    assert [item["id"] for item in built.iter_playlists()] == ["mix", "empty"]
    assert "auth=client" in repr(built)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"token": TOKEN, "auth_manager": object()},
        {"token": TOKEN, "max_attempts": 0},
        {"token": TOKEN, "track_page_size": 101},
        {"token": TOKEN, "api_prefix": "localhost:1/v1"},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SpotifyProvider(**kwargs)


@pytest.mark.parametrize("bad", ["", "Bearer abc", "two words"])
def test_malformed_token_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        SpotifyProvider(token=bad)
    assert bad not in str(caught.value) or not bad


def test_token_never_appears_in_repr_errors_or_logs(
    server: FakeSpotifyServer, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = provider_for(server, sleeps, max_attempts=2)
    server.fail_next("/v1/me/playlists", 500)
    server.rate_limit_next("/v1/playlists/mix/items", retry_after=1)
    list(provider.iter_playlists())
    list(provider.iter_tracks("mix"))
    errors: list[BaseException] = []
    server.fail_next("*", 500, times=2)
    with pytest.raises(ProviderError) as exhausted:
        list(provider.iter_playlists())
    errors.append(exhausted.value)
    server.token = "another"  # the provider's token is now refused: 401
    with pytest.raises(ProviderError) as refused:
        provider.search_tracks("song", limit=1)
    errors.append(refused.value)

    logged = {record.name for record in caplog.records}
    assert {"spotipy.client", "harmony.providers.spotify"} <= logged  # the logs were captured
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(provider)
    for error in errors:
        assert TOKEN not in "".join(traceback.format_exception(error))
    assert TOKEN not in repr(server.requests)
    assert server.requests[0].headers["Authorization"] == "Bearer <redacted>"


# -- the fake server itself -----------------------------------------------------------------------


def test_fake_requires_the_bearer_token(server: FakeSpotifyServer) -> None:
    missing = requests.get(f"{server.url}me/playlists", timeout=5)
    wrong = requests.get(
        f"{server.url}me/playlists", timeout=5, headers={"Authorization": "Bearer nope"}
    )
    assert missing.status_code == wrong.status_code == 401
    assert wrong.json() == {"error": {"status": 401, "message": "Invalid access token"}}


def test_fake_paging_links_are_absolute_and_limits_are_bounded(server: FakeSpotifyServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    page = requests.get(f"{server.url}playlists/mix/tracks?limit=2", headers=auth, timeout=5).json()
    assert page["next"] == f"{server.url}playlists/mix/tracks?offset=2&limit=2"
    assert (page["total"], page["offset"], page["previous"]) == (5, 0, None)
    entry = page["items"][0]
    assert entry["item"]["type"] == "track" and entry["track"] == entry["item"]
    too_big = requests.get(f"{server.url}me/playlists?limit=51", headers=auth, timeout=5)
    assert too_big.status_code == 400


def test_fake_search_understands_field_filters(server: FakeSpotifyServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = requests.get(
        f"{server.url}search",
        headers=auth,
        timeout=5,
        params={"q": "isrc:USX0000004", "type": "track"},
    ).json()
    assert [t["id"] for t in body["tracks"]["items"]] == ["t4"]
    body = requests.get(
        f"{server.url}search",
        headers=auth,
        timeout=5,
        params={"q": 'artist:"nobody here"', "type": "track"},
    ).json()
    assert body["tracks"]["total"] == 0
