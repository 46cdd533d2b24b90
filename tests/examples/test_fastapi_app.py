"""examples/fastapi_app.py served by a real uvicorn server, called over HTTP with httpx.

Every test runs on SQLite and PostgreSQL (harmony's ``harmony_settings_factory``). The
last one lets schemathesis loose on the live server's OpenAPI schema.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.engine import Status
from schemathesis.engine import events as engine_events

from examples.fastapi_app import EXPORTS_ENV, create_app
from harmony import HarmonyContext, HarmonySettings, SystemClock
from harmony.testing import FakePsutil
from tests.servers import serve_asgi as serve

#: Settings that let the app's worker notice a new job within a fraction of a second.
FAST_WORKER = {"scheduler_poll_interval": 0.05, "scheduler_max_poll_interval": 0.2}
CSV_HEADER = "Track URI,Track Name,Album Name,Artist Name(s),Release Date,Duration (ms)\n"


@dataclass
class LiveApp:
    """An app served on 127.0.0.1 and an httpx client pointed at it."""

    app: FastAPI
    url: str
    client: httpx.Client

    @property
    def harmony(self) -> HarmonyContext:
        ctx = self.app.state.harmony
        assert isinstance(ctx, HarmonyContext)
        return ctx


ServeApp = Callable[..., LiveApp]


@pytest.fixture
def serve_app(
    harmony_settings_factory: Callable[..., HarmonySettings], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServeApp]:
    """``serve_app(**create_app_kwargs)``: a live app on a fresh database of the backend."""
    monkeypatch.delenv(EXPORTS_ENV, raising=False)
    with ExitStack() as stack:

        def start(**kwargs: Any) -> LiveApp:
            settings = kwargs.pop("settings", None) or harmony_settings_factory(**FAST_WORKER)
            app = create_app(settings, **kwargs)
            url = stack.enter_context(serve(app))
            client = stack.enter_context(httpx.Client(base_url=url, timeout=30))
            return LiveApp(app, url, client)

        yield start


def wait_for_job(client: httpx.Client, url: str, timeout: float = 30) -> dict[str, Any]:
    """Poll a job's URL until its status is final."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
        time.sleep(0.05)


def sync(live: LiveApp, provider: str | None = None) -> dict[str, Any]:
    """POST /sync and wait for the job; returns the completed job."""
    response = live.client.post("/sync", json={"provider": provider} if provider else {})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["Location"] == accepted["status_url"] == f"/jobs/{accepted['job_id']}"
    job = wait_for_job(live.client, accepted["status_url"])
    assert job["status"] == "completed", job
    return job


def write_csv(path: Path, *titles: str) -> None:
    rows = (
        f"spotify:track:{n:022d},{title},Album,Artist {n},2020-01-01,200000\n"
        for n, title in enumerate(titles, 1)
    )
    path.write_text(CSV_HEADER + "".join(rows), encoding="utf-8")


# -- conditional GET ------------------------------------------------------------------------


def test_etags_give_304_until_a_sync_changes_the_playlist(
    serve_app: ServeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_csv(exports / "Road_Songs.csv", "Open Road", "Night Drive")
    write_csv(exports / "Focus.csv", "Deep Work")
    monkeypatch.setenv(EXPORTS_ENV, str(exports))  # the app's default providers read it
    live = serve_app()
    client = live.client

    first = sync(live)
    assert first["result"]["created"] == 2 and first["result"]["providers"] == ["exportify"]

    listing = client.get("/playlists")
    assert listing.status_code == 200
    list_etag = listing.headers["ETag"]
    # A page's newest updated_at is no validator (it stays put when a playlist leaves).
    assert "Last-Modified" not in listing.headers
    assert [p["name"] for p in listing.json()["items"]] == ["Focus", "Road Songs"]
    road = listing.json()["items"][1]["id"]
    detail = client.get(f"/playlists/{road}")
    assert detail.status_code == 200
    detail_etag = detail.headers["ETag"]
    assert detail.headers["Last-Modified"].endswith(" GMT")
    assert [t["title"] for t in detail.json()["tracks"]] == ["Open Road", "Night Drive"]

    for held in (list_etag, f"W/{list_etag}", f'"nope", {list_etag}', "*"):
        again = client.get("/playlists", headers={"If-None-Match": held})
        assert again.status_code == 304, held
        assert again.content == b"" and again.headers["ETag"] == list_etag
    assert client.get("/playlists", headers={"If-None-Match": '"nope"'}).status_code == 200
    assert client.get("/playlists?limit=1", headers={"If-None-Match": list_etag}).status_code == 200
    not_modified = client.get(f"/playlists/{road}", headers={"If-None-Match": detail_etag})
    assert not_modified.status_code == 304 and not_modified.content == b""

    write_csv(exports / "Road_Songs.csv", "Open Road", "Night Drive (Live)", "Sunrise")
    second = sync(live, "exportify")
    assert second["result"]["updated"] == 1 and second["result"]["unchanged"] == 1

    listing = client.get("/playlists", headers={"If-None-Match": list_etag})
    assert listing.status_code == 200
    assert listing.headers["ETag"] != list_etag
    assert listing.json()["items"][1]["track_count"] == 3
    detail = client.get(f"/playlists/{road}", headers={"If-None-Match": detail_etag})
    assert detail.status_code == 200
    assert detail.headers["ETag"] not in (detail_etag, listing.headers["ETag"])
    assert [t["title"] for t in detail.json()["tracks"]] == [
        "Open Road",
        "Night Drive (Live)",
        "Sunrise",
    ]
    assert (
        client.get(
            f"/playlists/{road}", headers={"If-None-Match": detail.headers["ETag"]}
        ).status_code
        == 304
    )


# -- diagnostics and provider status --------------------------------------------------------


def test_stats_and_health_report_the_running_context(serve_app: ServeApp) -> None:
    psutil = FakePsutil(cpu=42.5)
    live = serve_app(psutil=psutil)

    stats = live.client.get("/system/stats")
    assert stats.status_code == 200
    body = stats.json()
    assert body["cpu"]["percent"] == 42.5 and body["memory"]["total"] == psutil.memory_total
    assert set(body) >= {"cpu", "memory", "disk", "network", "process", "collected_at"}

    health = live.client.get("/system/health")
    assert health.status_code == 200
    report = health.json()
    assert report["ready"] is True
    assert report["parts"]["database"]["status"] == report["parts"]["migrations"]["status"] == "up"
    assert report["parts"]["sync"]["data"]["last_sync"] == {}

    sync(live)
    last_sync = live.client.get("/system/health").json()["parts"]["sync"]["data"]["last_sync"]
    assert list(last_sync) == ["sample"]  # the bundled sample is the default provider


def test_provider_status_revalidates_after_a_credentials_change(serve_app: ServeApp) -> None:
    live = serve_app()
    client = live.client

    first = client.get("/providers/spotify/status")
    assert first.status_code == 200
    assert first.json()["configured"] is False and first.json()["credential_keys"] == []
    etag = first.headers["ETag"]
    cached = client.get("/providers/spotify/status", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""

    live.harmony.credentials.set("spotify", client_id="abc", client_secret="s3cr3t")

    fresh = client.get("/providers/spotify/status", headers={"If-None-Match": etag})
    assert fresh.status_code == 200  # no cache clearing needed: the change dropped the entry
    assert fresh.headers["ETag"] != etag
    assert fresh.json()["configured"] is True
    assert fresh.json()["credential_keys"] == ["client_id", "client_secret"]
    assert "s3cr3t" not in fresh.text
    assert (
        client.get(
            "/providers/spotify/status", headers={"If-None-Match": fresh.headers["ETag"]}
        ).status_code
        == 304
    )

    sample = client.get("/providers/sample/status").json()
    assert sample["registered"] is True and sample["configured"] is True


# -- search ---------------------------------------------------------------------------------


def test_search_returns_ranked_hits(serve_app: ServeApp) -> None:
    live = serve_app()
    sync(live)

    response = live.client.get("/search", params={"q": "low tide radio", "limit": 5})
    assert response.status_code == 200
    result = response.json()
    hits = result["items"]
    assert hits[0]["title"] == "Low Tide Radio" and hits[0]["source"] == "local"
    assert len(hits) == 5 and result["total"] >= 5
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]

    page2 = live.client.get(
        "/search", params={"q": "low tide radio", "limit": 2, "offset": 1, "sources": "local"}
    ).json()
    assert [h["provider_id"] for h in page2["items"]] == [h["provider_id"] for h in hits[1:3]]
    assert page2["sources"] == ["local"]


# -- errors ---------------------------------------------------------------------------------


class _FailingClock(SystemClock):
    """The system clock, until armed: then a request (not harmony's own worker threads)
    asking it the time gets an exception harmony does not wrap. (A failing event logger
    no longer does: harmony's event emission is fail-safe.)"""

    armed = False

    def now(self) -> datetime:
        if self.armed and not threading.current_thread().name.startswith("harmony-"):
            raise RuntimeError("internal detail that must not reach a client")
        return super().now()


def test_harmony_errors_map_to_http_statuses_without_tracebacks(serve_app: ServeApp) -> None:
    psutil = FakePsutil()
    clock = _FailingClock()
    live = serve_app(psutil=psutil, clock=clock)
    client = live.client

    def detail(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        assert "Traceback" not in response.text
        value = response.json()["error"]["message"]
        assert isinstance(value, str)
        return value

    # NotFoundError -> 404
    assert detail(client.get("/playlists/424242"), 404) == "no playlist with id 424242"
    assert detail(client.get("/jobs/424242"), 404) == "job 424242 does not exist"
    # InvalidInputError (and subclasses) -> 400
    assert "search query is empty" in detail(client.get("/search", params={"q": "   "}), 400)
    assert "limit must be an integer from 1 to 100" in detail(
        client.get("/search", params={"q": "x", "limit": 1000}), 400
    )
    assert "known: local" in detail(
        client.get("/search", params={"q": "x", "sources": "nope"}), 400
    )
    assert "no provider named 'nope'" in detail(
        client.post("/sync", json={"provider": "nope"}), 400
    )
    # A body FastAPI cannot read -> its HTTPException 400, in harmony's error shape
    unreadable = client.post("/sync", content=b"\xff", headers={"Content-Type": "application/json"})
    assert detail(unreadable, 400) == "There was an error parsing the body"
    assert client.get("/no/such/route").json()["error"]["type"] == "NotFound"
    # Request validation (FastAPI) -> 422
    for bad in (
        "/playlists?limit=0",
        "/playlists?limit=501",
        "/playlists?cursor=x",
        "/playlists?cursor=%C2%B2",
        f"/playlists?cursor={'9' * 19}",
        "/search?q=",
        "/search",
        "/playlists/0",
        f"/playlists/{2**63}",
        f"/jobs/{2**63}",
        "/providers/Not%20A%20Name/status",
        "/providers/spotify%0A/status",
    ):
        assert client.get(bad).status_code == 422, bad
    # other HarmonyError -> 503
    psutil.fail = OSError("no /proc here")
    assert "system statistics unavailable" in detail(client.get("/system/stats"), 503)
    # anything else -> 500 without details
    clock.armed = True
    try:
        broken = client.post("/sync", json={})
    finally:
        clock.armed = False
    assert detail(broken, 500) == "internal server error"
    assert "must not reach" not in broken.text


def test_lifespan_owns_one_context_and_closes_it(
    harmony_settings_factory: Callable[..., HarmonySettings],
) -> None:
    app = create_app(harmony_settings_factory(**FAST_WORKER))
    with serve(app) as url:
        ctx = app.state.harmony
        assert isinstance(ctx, HarmonyContext) and not ctx.closed
        assert ctx.migrations.current() == ctx.migrations.head()
        worker = app.state.harmony_worker
        with httpx.Client(base_url=url) as client:
            assert client.get("/system/health").status_code == 200
            job = client.post("/sync").json()
            assert wait_for_job(client, job["status_url"])["status"] == "completed"
        assert app.state.harmony is ctx  # the same context served every request
    assert ctx.closed
    assert app.state.harmony is None and app.state.harmony_worker is None
    assert not any(t.is_alive() for t in threading.enumerate() if worker.worker_id in t.name)


# -- schemathesis against the live server ---------------------------------------------------

#: schemathesis' engine (what ``st run`` drives) with every check but one, ~20 examples per
#: operation and phase, positive and negative data. ``positive_data_acceptance`` is left out:
#: rules the schema cannot state (a provider that is not registered, a blank query, a limit
#: over the ``search_max_limit`` setting) rightly answer 400 to schema-valid input.
SCHEMATHESIS_CONFIG = {
    "generation": {"mode": "all", "max-examples": 20},
    "checks": {"positive_data_acceptance": {"enabled": False}},
}


@pytest.mark.slow
def test_api_conforms_to_its_openapi_schema(serve_app: ServeApp) -> None:
    live = serve_app()
    live.harmony.sync.run_once()  # playlists and tracks for the generated requests to find
    config = schemathesis.Config.from_dict(SCHEMATHESIS_CONFIG)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json", config=config)

    problems: list[str] = []
    answered: dict[str, set[int]] = {}
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, engine_events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                problems += [
                    f"{event.phase} {event.label}: {check.name}: {check.failure_info.failure.title}"
                    f" | {check.failure_info.failure.message}"
                    for check in checks
                    if check.status is Status.FAILURE and check.failure_info is not None
                ]
            if event.status is Status.ERROR:
                problems.append(f"{event.phase} {event.label}: error")
            for interaction in event.recorder.interactions.values():
                if event.label and interaction.response is not None:
                    answered.setdefault(event.label, set()).add(interaction.response.status_code)
        elif isinstance(event, (engine_events.NonFatalError, engine_events.FatalError)):
            problems.append(f"engine error: {event!r}")
        elif isinstance(event, engine_events.EngineFinished):
            problems += [f"after run: {failure.title}" for failure in event.failures]

    assert not problems, f"seed {config.seed}:\n" + "\n".join(problems)
    operations = {
        f"{m} {p}"
        for m, p in [
            ("GET", "/playlists"),
            ("GET", "/playlists/{playlist_id}"),
            ("POST", "/sync"),
            ("GET", "/jobs/{job_id}"),
            ("GET", "/system/stats"),
            ("GET", "/system/health"),
            ("GET", "/providers/{name}/status"),
            ("GET", "/search"),
        ]
    }
    assert set(answered) == operations
    for label, codes in answered.items():  # each operation was reached, and succeeded
        assert any(200 <= code < 300 for code in codes), (label, codes)
        assert all(code < 500 for code in codes), (label, codes)
