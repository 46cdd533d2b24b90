"""RateBudget: a token bucket and a concurrency cap on the context's clock, measured with
a ManualClock (no sleeping, no timing asserts); and through SpotifyProvider."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
import requests
import spotipy  # type: ignore[import-untyped]

from harmony import ConfigurationError, HarmonyContext
from harmony.providers import RateBudget
from harmony.providers.spotify import SpotifyProvider
from harmony.testing import FakeSpotifyServer, ManualClock
from tests.queue.worker.support import wait_until

TOKEN = "budget-t0ken"


def assert_rate_held(stamps: list[datetime], rate: float, burst: int) -> None:
    """In every span from one request to a later one, at most burst + rate * span started."""
    seconds = [s.timestamp() for s in stamps]
    assert seconds == sorted(seconds)
    for i, start in enumerate(seconds):
        for j in range(i, len(seconds)):
            span = seconds[j] - start
            assert j - i + 1 <= burst + rate * span + 1e-6, (i, j, span)


def test_a_burst_is_held_to_the_configured_rate() -> None:
    clock = ManualClock()
    budget = RateBudget(5, burst=10, clock=clock)  # waits move the manual clock
    start = clock.now()
    stamps = []
    for _ in range(100):
        with budget.acquire():
            stamps.append(clock.now())
    assert stamps[9] == start and stamps[10] > start  # the burst goes at once
    assert (clock.now() - start).total_seconds() == pytest.approx(90 / 5)
    assert_rate_held(stamps, rate=5, burst=10)
    assert (budget.acquired, budget.waited) == (100, pytest.approx(18))


def test_a_quiet_spell_refills_the_bucket_up_to_the_burst() -> None:
    clock = ManualClock()
    budget = RateBudget(2, burst=4, clock=clock)
    for _ in range(4):
        with budget.acquire():
            pass
    clock.advance(60)  # a minute of quiet refills 4 tokens, not 120
    before = clock.now()
    for _ in range(5):
        with budget.acquire():
            pass
    assert (clock.now() - before).total_seconds() == pytest.approx(0.5)


def test_an_injected_sleep_is_used_and_the_clock_going_back_does_not_drain_it() -> None:
    clock = ManualClock()
    waits: list[float] = []
    budget = RateBudget(1, burst=1, clock=clock, sleep=waits.append)
    with budget.acquire():
        pass
    clock.set(datetime(2000, 1, 1, tzinfo=clock.now().tzinfo))
    with budget.acquire():
        pass
    assert waits == [pytest.approx(1.0)]


def test_at_most_max_concurrency_requests_are_in_flight() -> None:
    budget = RateBudget(1000, burst=1000, max_concurrency=2)
    inside, peak, release = [0], [0], threading.Event()
    lock = threading.Lock()

    def request() -> None:
        with budget.acquire():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            release.wait(30)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    wait_until(lambda: inside[0] == 2, "two requests in flight")
    release.set()
    for thread in threads:
        thread.join(30)
    assert peak[0] == 2 and budget.acquired == 6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"requests_per_second": 0},
        {"requests_per_second": -1},
        {"requests_per_second": float("inf")},
        {"requests_per_second": 1, "burst": 0},
        {"requests_per_second": 1, "max_concurrency": 0},
    ],
)
def test_impossible_budgets_are_refused(kwargs: dict[str, Any]) -> None:
    rate = kwargs.pop("requests_per_second")
    with pytest.raises(ConfigurationError, match="invalid rate limit"):
        RateBudget(rate, **kwargs)


def test_a_spotify_sync_stays_within_the_budget(fake_spotify: FakeSpotifyServer) -> None:
    clock = ManualClock()
    for n in range(60):
        fake_spotify.add_playlist(
            {
                "id": f"p{n}",
                "name": f"P{n}",
                "tracks": [{"id": f"t{n}", "name": "T", "artists": ["A"]}],
            }
        )
    stamps: list[datetime] = []
    session = requests.Session()
    session.hooks["response"].append(lambda response, *a, **k: stamps.append(clock.now()))
    client = spotipy.Spotify(
        auth=fake_spotify.token, requests_session=session, retries=0, status_retries=0
    )
    client.prefix = fake_spotify.url
    budget = RateBudget(4, burst=8, clock=clock)
    provider = SpotifyProvider(client, rate_budget=budget, sleep=clock.sleep)
    with HarmonyContext.from_url("sqlite://", providers={"spotify": provider}, clock=clock) as ctx:
        ctx.migrate()
        start = clock.now()
        assert ctx.sync.run_once().created == 60
    assert len(stamps) == len(fake_spotify.requests) == 62  # 2 listing pages + 60 playlists
    assert_rate_held(stamps, rate=4, burst=8)
    assert (clock.now() - start).total_seconds() == pytest.approx((62 - 8) / 4)


def test_ctx_rate_budget_comes_from_the_settings_on_the_contexts_clock() -> None:
    clock = ManualClock()
    limits = {"spotify": {"requests_per_second": 2, "burst": 3, "max_concurrency": 1}}
    with HarmonyContext.from_url(
        "sqlite://", settings={"provider_rate_limits": limits}, clock=clock
    ) as ctx:
        budget = ctx.rate_budget("spotify")
        assert budget is not None and budget is ctx.rate_budget("spotify")  # one per name
        assert (budget.requests_per_second, budget.burst, budget.max_concurrency) == (2, 3, 1)
        before = clock.now()
        for _ in range(5):
            with budget.acquire():
                pass
        assert (clock.now() - before).total_seconds() == pytest.approx(1.0)
        assert ctx.rate_budget("nobody") is None
    with HarmonyContext.from_url("sqlite://") as plain:
        default = plain.rate_budget("spotify")
        assert default is not None and (default.requests_per_second, default.burst) == (5, 10)
