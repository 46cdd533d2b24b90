"""End to end on both backends: Liked Songs and saved albums synced as playlists, and a
Retry-After beyond the wait limit rescheduling the playlist.sync job at that time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from harmony import HarmonyContext, SyncFailed, Worker
from harmony.errors import ProviderError, RateLimited
from harmony.providers.spotify import SpotifyProvider
from harmony.testing import FakeSpotifyServer, InMemoryProvider, ManualClock
from tests.sync.conftest import MakeContext

TOKEN = "sync-lib-t0ken"


def _tracks(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "name": f"{prefix} {i}",
            "artists": ["Ana"],
            "added_at": f"2024-06-{28 - i % 28:02d}T00:00:00Z",
        }
        for i in range(count)
    ]


@pytest.fixture
def server() -> Iterator[FakeSpotifyServer]:
    albums = [
        {
            "id": f"alb{n}",
            "name": f"Album {n}",
            "artists": ["Cy"],
            "release_date": "2020",
            "tracks": _tracks(f"a{n}x", 4),
        }
        for n in range(3)
    ]
    with FakeSpotifyServer(
        [{"id": "mix", "name": "Mix", "tracks": _tracks("m", 2)}],
        token=TOKEN,
        liked=_tracks("like", 70),
        albums=albums,
    ) as fake:
        yield fake


def _provider(server: FakeSpotifyServer, **options: Any) -> SpotifyProvider:
    return SpotifyProvider(
        token=TOKEN,
        api_prefix=server.url,
        sleep=lambda _s: None,
        liked_songs=True,
        saved_albums=True,
        **options,
    )


def test_liked_songs_and_saved_albums_sync_as_playlists(
    make_context: MakeContext,
    server: FakeSpotifyServer,
) -> None:
    ctx = make_context({"spotify": _provider(server)})
    assert ctx.sync.run_once().created == 5  # Mix, Liked Songs, three albums
    liked = ctx.playlists.find("spotify", "liked-songs")
    assert liked is not None and liked.track_count == 70
    detail = ctx.playlists.get(liked.id)
    assert detail.tracks[0].provider_id == "like0" and detail.tracks[0].added_at is not None
    album = ctx.playlists.find("spotify", "album:alb2")
    assert album is not None and (album.name, album.owner, album.track_count) == (
        "Album 2",
        "Cy",
        4,
    )
    assert ctx.tracks.find("spotify", "a2x0").year == 2020  # type: ignore[union-attr]

    server.clear_requests()
    again = ctx.sync.run_once()  # nothing changed: listings only, no track pages
    assert (again.unchanged, again.updated) == (5, 0)
    assert [r.query["limit"] for r in server.requests_to("/v1/me/tracks")] == ["1"]
    assert server.requests_to("/v1/albums/*") == []

    server.like(
        {"id": "fresh", "name": "Fresh", "artists": ["B"], "added_at": "2025-02-01T00:00:00Z"}
    )
    server.remove_album("alb0")
    plan = ctx.sync.plan()
    assert {(p.provider_id, p.action) for p in plan.playlists} == {
        ("liked-songs", "update"),
        ("album:alb0", "remove"),
    }
    liked_plan = next(p for p in plan.playlists if p.provider_id == "liked-songs")
    assert [(t.provider_id, t.position) for t in liked_plan.tracks_added] == [("fresh", 0)]
    report = ctx.sync.run_once()
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 3)
    detail = ctx.playlists.get(liked.id)
    assert [t.provider_id for t in detail.tracks[:2]] == ["fresh", "like0"]


def _sync_worker(ctx: HarmonyContext) -> Worker:
    worker = Worker(ctx)
    ctx.sync.register(worker)
    return worker


def test_a_long_retry_after_reschedules_the_sync_job_at_that_time(
    make_context: MakeContext,
    server: FakeSpotifyServer,
    harmony_clock: ManualClock,
) -> None:
    server.rate_limit_next("/v1/me/playlists", retry_after=600)
    ctx = make_context({"spotify": _provider(server, max_retry_after=60)})
    job = ctx.jobs.enqueue("playlist.sync", {"provider": "spotify"})
    leased_at = harmony_clock.now()
    first = _sync_worker(ctx).run_until_idle()
    assert (first.retried, first.dead_lettered, first.waiting_retry) == (1, 0, 1)
    waiting = ctx.jobs.get(job.id)
    assert (waiting.status, waiting.attempts) == ("pending", 0)
    assert waiting.available_at == leased_at + timedelta(seconds=600)
    assert "RetryLater" in (waiting.last_error or "") and "asked to wait 600 s" in (
        waiting.last_error or ""
    )
    assert ctx.playlists.count() == 0
    harmony_clock.advance(599)
    assert _sync_worker(ctx).run_until_idle().processed == 0
    harmony_clock.advance(1)
    done = _sync_worker(ctx).run_until_idle()
    assert (done.completed, done.waiting_retry) == (1, 0)
    assert ctx.jobs.get(job.id).status == "completed" and ctx.playlists.count() == 5


def test_429s_until_the_tries_run_out_also_reschedule(
    make_context: MakeContext,
    server: FakeSpotifyServer,
    harmony_clock: ManualClock,
) -> None:
    server.rate_limit_next("/v1/me/tracks", retry_after=30, times=3)
    provider = _provider(server, max_attempts=3)
    ctx = make_context({"spotify": provider})
    with pytest.raises(SyncFailed) as failed:
        ctx.sync.run_once()
    assert failed.value.retry_in == 30 and failed.value.report.retry_after == {"spotify": 30}
    assert "rate-limited GET me/tracks 3 times" in failed.value.report.failed["spotify"]
    job = ctx.jobs.enqueue("playlist.sync", {})
    server.rate_limit_next("/v1/me/tracks", retry_after=30, times=3)
    _sync_worker(ctx).run_until_idle()
    assert ctx.jobs.get(job.id).available_at == harmony_clock.now() + timedelta(seconds=30)


class _Failing(InMemoryProvider):
    def __init__(self, error: Exception) -> None:
        super().__init__(name="failing")
        self.error = error

    def iter_playlists(self) -> Iterator[Any]:
        raise self.error


def test_a_rate_limit_beside_another_failure_is_an_ordinary_failed_try(
    make_context: MakeContext,
    harmony_clock: ManualClock,
) -> None:
    ctx = make_context(
        {
            "slow": _Failing(RateLimited("slow down", retry_after=900)),
            "broken": _Failing(ProviderError("down")),
        }
    )
    job = ctx.jobs.enqueue("playlist.sync", {})
    report = _sync_worker(ctx).run_until_idle()
    stored = ctx.jobs.get(job.id)
    assert report.retried == 1 and stored.attempts == 1  # counted: the policy applies
    assert stored.available_at < harmony_clock.now() + timedelta(seconds=900)
    assert stored.last_error is not None and stored.last_error.startswith("SyncFailed")
