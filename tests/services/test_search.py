"""ctx.search.tracks: ranking, sources, partial results, bad input, api.request events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harmony import HarmonyContext, InvalidInputError, ProviderError
from harmony.providers.sample import sample_provider
from harmony.providers.spotify import SpotifyProvider
from harmony.testing import FakeSpotifyServer, ManualClock, RecordingEventLogger
from harmony.testing.pytest_plugin import SettingsFactory

TOKEN = "search-token-93f"


class _BrokenSearch:
    """A track-search provider whose catalogue is down."""

    name = "broken"

    def iter_playlists(self) -> Iterable[Any]:
        return []

    def iter_tracks(self, playlist_id: str) -> Iterable[Any]:
        return []

    def search_tracks(self, query: str, *, limit: int) -> Iterable[Any]:
        raise ProviderError("catalogue unavailable (503)")


@pytest.fixture
def spotify() -> Iterator[FakeSpotifyServer]:
    catalog = [
        {
            "id": "sp-deja",
            "name": "Déjà Vu",
            "artists": ["Chloé Dufresne"],
            "album": "Live in Paris",
        },
        {"id": "sp-other", "name": "Completely Different", "artists": ["Nobody"], "album": "X"},
    ]
    with FakeSpotifyServer(token=TOKEN, catalog=catalog) as server:
        yield server


@pytest.fixture
def ctx(
    harmony_settings_factory: SettingsFactory,
    harmony_events: RecordingEventLogger,
    spotify: FakeSpotifyServer,
) -> Iterator[HarmonyContext]:
    providers = {
        "sample": sample_provider(),
        "spotify": SpotifyProvider(token=TOKEN, api_prefix=spotify.url, sleep=lambda s: None),
    }
    with HarmonyContext(
        harmony_settings_factory(search_max_limit=50),
        events=harmony_events,
        clock=ManualClock(),
        providers=providers,
    ) as context:
        context.migrate()
        context.sync.run_once("sample")
        harmony_events.clear()
        yield context


def _titles(ctx: HarmonyContext, query: str, **kwargs: Any) -> list[str]:
    kwargs.setdefault("sources", ["local"])
    return [hit.title for hit in ctx.search.tracks(query, **kwargs).items]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("deja vu", "Déjà Vu"),  # accents folded
        ("DÉJÀ VU chloe", "Déjà Vu"),
        ("golden hour mira sol", "Golden Hour (feat. Mira Sol)"),  # credits in artists
        ("golden hour feat mira sol", "Golden Hour (feat. Mira Sol)"),
        ("run it back", "Run It Back ft. Kato Lane"),
        ("summer 1984 remaster", "Summer 1984 - 2015 Remaster"),  # edition asked for
        ("summer 1984 live", "Summer 1984 - Live at Wembley"),
        ("northern lights acoustic", "Northern Lights - Acoustic"),
        ("its alright", "It’s Alright"),  # punctuation
        ("midnite city lights", "Midnight City Lights"),  # a typo
    ],
)
def test_ranking_puts_the_expected_track_first(ctx: HarmonyContext, query: str, first: str) -> None:
    assert _titles(ctx, query)[0] == first


def test_without_an_edition_asked_for_originals_come_before_live_and_remasters(
    ctx: HarmonyContext,
) -> None:
    titles = _titles(ctx, "summer 1984")
    assert titles[:2] == ["Summer 1984", "Summer 1984"]
    assert (
        titles.index("Summer 1984 - 2015 Remaster") > 1
        and titles.index("Summer 1984 - Live at Wembley") > 1
    )


def test_a_year_in_the_query_prefers_the_closest_release(ctx: HarmonyContext) -> None:
    by_year = {
        2016: "Juniper & The Owls",
        2018: "Sam Reyes",
    }
    for year, artist in by_year.items():
        hits = [
            h
            for h in ctx.search.tracks(f"home {year}", sources=["local"]).items
            if h.title == "Home"
        ]
        assert hits[0].artists[0] == artist and hits[0].year == year
    first = ctx.search.tracks("summer 1984 1991", sources=["local"]).items[0]
    assert (first.title, first.album) == ("Summer 1984", "Greatest Hits 1980–1990")


def test_results_are_sorted_paged_and_capped(ctx: HarmonyContext) -> None:
    everything = ctx.search.tracks("the", sources=["local"], limit=50)
    scores = [hit.score for hit in everything.items]
    assert scores == sorted(scores, reverse=True) and everything.total >= len(scores)
    second = ctx.search.tracks("the", sources=["local"], limit=5, offset=5)
    assert [h.provider_id for h in second.items] == [h.provider_id for h in everything.items[5:10]]


def test_provider_sources_are_searched_and_merged(
    ctx: HarmonyContext, spotify: FakeSpotifyServer
) -> None:
    result = ctx.search.tracks("Déjà Vu")
    assert result.sources == ("local", "spotify") and not result.partial
    sources = {(hit.source, hit.title) for hit in result.items}
    assert ("local", "Déjà Vu") in sources and ("spotify", "Déjà Vu") in sources
    remote = next(hit for hit in result.items if hit.source == "spotify")
    assert remote.id is None and remote.provider_id == "sp-deja"
    assert spotify.requests_to("/v1/search")


def test_a_failing_source_makes_the_result_partial_not_an_error(
    harmony_settings: Any,
    harmony_events: RecordingEventLogger,
) -> None:
    with HarmonyContext(
        harmony_settings,
        events=harmony_events,
        providers={"sample": sample_provider(), "broken": _BrokenSearch()},
    ) as ctx:
        ctx.migrate()
        ctx.sync.run_once("sample")
        harmony_events.clear()
        result = ctx.search.tracks("deja vu")
    assert result.partial and result.errors == {"broken": "catalogue unavailable (503)"}
    assert result.items[0].title == "Déjà Vu"
    (event,) = harmony_events.named("api.request")
    assert (event["status"], event["failed_sources"], event["result_count"]) == (
        "partial",
        "broken",
        len(result.items),
    )


def test_every_call_emits_exactly_one_api_request_event(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    ok = ctx.search.tracks("golden", sources=["local"])
    with pytest.raises(InvalidInputError):
        ctx.search.tracks("   ")
    events = harmony_events.named("api.request")
    assert len(events) == 2
    first, failed = events
    assert first["component"] == "search" and first["entity_id"] == ok.request_id
    assert (first["status"], first["sources"], first["result_count"]) == (
        "ok",
        "local",
        len(ok.items),
    )
    assert first["duration_ms"] >= 0 and first["query_length"] == len("golden")
    assert (
        failed["status"] == "failed" and "empty" in failed["error"] and failed["result_count"] == 0
    )
    assert "golden" not in str(first.fields)  # the query text is not logged


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "   "}, "query is empty"),
        ({"query": "x", "limit": 0}, "limit must be an integer from 1 to 50"),
        ({"query": "x", "limit": 51}, "limit must be an integer from 1 to 50"),
        ({"query": "x", "offset": -1}, "offset must be"),
        ({"query": "x", "offset": 10**23}, "offset must be an integer from 0 to 10000"),
        (
            {"query": "x", "sources": ["nope"]},
            "unknown search source(s) 'nope'; known: local, spotify",
        ),
        ({"query": "x" * 501}, "maximum is 500"),
    ],
)
def test_bad_input_is_a_clear_error(
    ctx: HarmonyContext, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ctx.search.tracks(**kwargs)


def test_the_token_never_appears_in_results_events_or_reprs(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    result = ctx.search.tracks("deja vu")
    assert TOKEN not in result.model_dump_json() and TOKEN not in repr(ctx.search)
    assert all(TOKEN not in str(e.fields) for e in harmony_events)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(min_size=1, max_size=80).filter(lambda q: q.strip()), limit=st.integers(1, 50))
def test_search_never_raises_on_unicode_and_respects_limit_and_order(
    ctx: HarmonyContext, query: str, limit: int
) -> None:
    result = ctx.search.tracks(query, sources=["local"], limit=limit)
    assert len(result.items) <= limit
    scores = [hit.score for hit in result.items]
    assert scores == sorted(scores, reverse=True)
