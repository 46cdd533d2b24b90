"""harmony.contrib.flask under a real werkzeug server, on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from harmony import SYNC_JOB_TYPE, HarmonyContext, HarmonyError, HarmonySettings, Worker
from harmony.contrib.flask import (
    EXTENSION_KEY,
    close_app,
    conditional,
    get_context,
    get_worker,
    init_app,
)
from harmony.errors import ConfigurationError, ContextClosed
from harmony.http import ERROR_STATUS, parse_http_date
from harmony.testing import InMemoryProvider
from tests.http_support import CASES, harmony_error_classes, make_error
from tests.servers import serve_wsgi

FAST_WORKER = {"scheduler_poll_interval": 0.05, "scheduler_max_poll_interval": 0.2}
ERRORS = {cls.__qualname__: cls for cls in harmony_error_classes()}


def provider() -> InMemoryProvider:
    memory = InMemoryProvider()
    memory.set_playlist(
        "p1",
        "Road trip",
        [{"id": f"t{n}", "title": f"Song {n}", "artists": ["Band"]} for n in range(3)],
    )
    return memory


def make_app(**options: Any) -> Flask:
    """An app on the adapter: a conditional detail route, a sync route, failing routes."""
    app = Flask(__name__)
    init_app(app, **options)

    @app.get("/playlists/<int:playlist_id>")
    def playlist(playlist_id: int) -> Any:
        detail = get_context().playlists.get(playlist_id)
        return conditional(
            detail.model_dump(mode="json"), etag=detail.etag, last_modified=detail.last_modified
        )

    @app.post("/sync")
    def sync() -> Any:
        return {"job_id": get_context().jobs.enqueue(SYNC_JOB_TYPE, {}).id}, 202

    @app.get("/raise/<name>")
    def fail(name: str) -> Any:
        raise make_error(ERRORS[name])

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("internal detail: password=hunter2")

    return app


@pytest.fixture
def apps() -> Iterator[Callable[..., Flask]]:
    """``apps(**init_app_options)``: apps closed when the test ends."""
    made: list[Flask] = []

    def build(**options: Any) -> Flask:
        made.append(make_app(**options))
        return made[-1]

    yield build
    for app in made:
        close_app(app)


def wait_for_job(ctx: HarmonyContext, job_id: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (status := ctx.jobs.get(job_id).status) not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        time.sleep(0.05)
    return status


def test_init_app_owns_the_context_and_its_worker(
    apps: Callable[..., Flask], harmony_settings_factory: Callable[..., HarmonySettings]
) -> None:
    app = apps(
        settings=harmony_settings_factory(**FAST_WORKER),
        providers={"memory": provider()},
        worker=True,
    )
    ctx, worker = get_context(app), get_worker(app)
    assert ctx.migrations.current() == ctx.migrations.head()
    assert isinstance(worker, Worker)
    with serve_wsgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        job_id = client.post("/sync").json()["job_id"]
        assert wait_for_job(ctx, job_id) == "completed"  # the app's worker ran it
        assert client.get("/playlists/1").json()["name"] == "Road trip"

    close_app(app)
    assert ctx.closed
    assert not any(t.is_alive() for t in threading.enumerate() if worker.worker_id in t.name)
    close_app(app)  # idempotent
    with pytest.raises(ContextClosed, match="close_app"):
        get_context(app)


def test_init_app_reads_the_url_and_the_environment(
    apps: Callable[..., Flask], harmony_settings: HarmonySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARMONY_CACHE_TTL_SECONDS", "12.5")
    monkeypatch.setenv("HARMONY_EXAMPLE_EXPORTS", "/somewhere")  # a tool's variable: ignored
    if harmony_settings.database_schema:
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", harmony_settings.database_schema)
    app = apps(url=harmony_settings.database_url)
    ctx = get_context(app)
    assert ctx.settings.database_url == harmony_settings.database_url
    assert ctx.settings.cache_ttl_seconds == 12.5
    assert get_worker(app) is None
    with app.app_context():
        assert get_context() is ctx  # the current app's


def test_init_app_refuses_twice_and_closes_what_a_failed_start_opened(
    apps: Callable[..., Flask], harmony_settings_factory: Callable[..., HarmonySettings]
) -> None:
    app = apps(settings=harmony_settings_factory())
    with pytest.raises(ConfigurationError, match="already initialised"):
        init_app(app, settings=harmony_settings_factory())

    ctx = HarmonyContext(harmony_settings_factory())
    with pytest.raises(ConfigurationError, match="return a Worker"):
        init_app(Flask(__name__), factory=lambda: ctx, worker=lambda c: None)  # type: ignore[arg-type,return-value]
    assert ctx.closed
    with pytest.raises(HarmonyError, match="not initialised"):
        get_context(Flask(__name__))


def test_the_context_is_closed_when_the_app_is_collected(
    harmony_settings: HarmonySettings,
) -> None:
    app = make_app(settings=harmony_settings)
    ctx = get_context(app)
    del app
    gc.collect()
    assert ctx.closed


def test_conditional_gets_answer_304_and_412_exactly_as_rfc_9110_says(
    apps: Callable[..., Flask], harmony_settings: HarmonySettings
) -> None:
    app = apps(settings=harmony_settings, providers={"memory": provider()})
    get_context(app).sync.run_once()
    with serve_wsgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        first = client.get("/playlists/1")
        assert first.status_code == 200 and first.json()["name"] == "Road trip"
        etag, stamp = first.headers["ETag"], first.headers["Last-Modified"]
        assert first.headers["Cache-Control"] == "no-cache"
        last_modified = parse_http_date(stamp)
        assert last_modified is not None

        answered = {}
        for case in CASES:
            response = client.get("/playlists/1", headers=case.headers(etag, last_modified))
            answered[case.id] = response.status_code
            if response.status_code == 304:
                assert response.content == b"" and response.headers["ETag"] == etag, case.id
            elif response.status_code == 412:
                assert response.json()["error"]["type"] == "PreconditionFailed", case.id
            else:
                assert response.json()["name"] == "Road trip", case.id
                assert response.headers["Last-Modified"] == stamp, case.id
        assert answered == {case.id: case.status for case in CASES}


def test_every_harmony_error_answers_its_status_and_one_body_shape(
    apps: Callable[..., Flask], harmony_settings: HarmonySettings
) -> None:
    app = apps(settings=harmony_settings, migrate=False)
    with serve_wsgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for name, cls in ERRORS.items():
            response = client.get(f"/raise/{name}")
            assert response.status_code == ERROR_STATUS[cls], name
            assert response.headers["content-type"] == "application/json"
            error = response.json()["error"]
            assert error["type"] == cls.__name__, name
            assert error["message"] == str(make_error(cls)), name
        assert client.get("/raise/SyncFailed").json()["error"]["report"]["created"] == 1

        boom = client.get("/boom")
        assert boom.status_code == 500
        assert boom.json() == {
            "error": {"type": "InternalServerError", "message": "internal server error"}
        }
        assert "hunter2" not in boom.text
        # Flask's own errors keep their status and take the same shape.
        missing = client.get("/no/such/route")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
        wrong = client.delete("/sync")
        assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "MethodNotAllowed"


def test_the_extension_is_kept_under_its_key(
    apps: Callable[..., Flask], harmony_settings: HarmonySettings
) -> None:
    app = apps(settings=harmony_settings, error_handlers=False)
    assert app.extensions[EXTENSION_KEY].context is get_context(app)
    with serve_wsgi(app) as url:
        response = httpx.get(f"{url}/raise/NotFoundError", timeout=30)
    assert response.status_code == 500  # no handlers registered: Flask's own 500 page
    assert "NotFoundError says no" not in response.text
