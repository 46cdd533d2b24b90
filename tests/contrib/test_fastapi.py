"""harmony.contrib.fastapi under a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request, Response

from harmony import SYNC_JOB_TYPE, HarmonyContext, HarmonySettings, Worker
from harmony.contrib.fastapi import (
    HarmonyDep,
    conditional,
    conditional_responses,
    error_responses,
    get_worker,
    install_error_handlers,
    lifespan,
)
from harmony.errors import ConfigurationError
from harmony.http import ERROR_STATUS, parse_http_date
from harmony.testing import InMemoryProvider
from tests.http_support import CASES, harmony_error_classes, make_error
from tests.servers import serve_asgi

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


def make_app(**options: Any) -> FastAPI:
    """An app on the adapter: a conditional detail route, a sync route, failing routes."""
    app = FastAPI(lifespan=lifespan(**options))
    install_error_handlers(app)

    @app.get("/playlists/{playlist_id}", responses=conditional_responses())
    def playlist(playlist_id: int, ctx: HarmonyDep, request: Request, response: Response) -> Any:
        detail = ctx.playlists.get(playlist_id)
        return conditional(
            request, response, etag=detail.etag, last_modified=detail.last_modified
        ) or detail.model_dump(mode="json")

    @app.post("/sync", status_code=202)
    def sync(ctx: HarmonyDep) -> dict[str, int]:
        job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {})
        return {"job_id": job.id}

    @app.get("/raise/{name}", responses=error_responses(400, 404, 409, 500, 502, 503))
    def fail(name: str) -> None:
        raise make_error(ERRORS[name])

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("internal detail: password=hunter2")

    @app.get("/teapot")
    def teapot(structured: bool = False) -> None:
        detail: Any = {"why": "short and stout"} if structured else "short and stout"
        raise HTTPException(418, detail, headers={"X-Kettle": "on"})

    @app.get("/worker")
    def worker_id(request: Request) -> dict[str, str | None]:
        running = get_worker(request)
        return {"worker_id": running.worker_id if running else None}

    return app


def wait_for_job(ctx: HarmonyContext, job_id: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (status := ctx.jobs.get(job_id).status) not in ("completed", "failed"):
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        time.sleep(0.05)
    return status


def test_the_lifespan_owns_the_context_and_its_worker(
    harmony_settings_factory: Callable[..., HarmonySettings],
) -> None:
    app = make_app(
        settings=harmony_settings_factory(**FAST_WORKER),
        providers={"memory": provider()},
        worker=True,
    )
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        ctx = app.state.harmony
        assert isinstance(ctx, HarmonyContext) and not ctx.closed
        assert ctx.migrations.current() == ctx.migrations.head()
        worker = app.state.harmony_worker
        assert client.get("/worker").json() == {"worker_id": worker.worker_id}

        job_id = client.post("/sync").json()["job_id"]
        assert wait_for_job(ctx, job_id) == "completed"  # the lifespan's worker ran it
        assert ctx.playlists.count() == 1
        assert client.get("/playlists/1").status_code == 200
    assert ctx.closed
    assert app.state.harmony is None and app.state.harmony_worker is None
    assert not any(t.is_alive() for t in threading.enumerate() if worker.worker_id in t.name)


def test_the_lifespan_reads_the_url_and_the_environment(
    harmony_settings: HarmonySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARMONY_CACHE_ENABLED", "false")
    monkeypatch.setenv("HARMONY_DOES_NOT_EXIST", "1")  # a warning, not a crash
    if harmony_settings.database_schema:
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", harmony_settings.database_schema)
    app = make_app(url=harmony_settings.database_url)
    with pytest.warns(UserWarning, match="HARMONY_DOES_NOT_EXIST"), serve_asgi(app):
        ctx = app.state.harmony
        assert ctx.settings.database_url == harmony_settings.database_url
        assert ctx.settings.cache_enabled is False and ctx.cache is None
        assert ctx.migrations.current() == ctx.migrations.head()
        assert app.state.harmony_worker is None  # no worker unless asked for
    assert ctx.closed


def test_a_factory_builds_the_context_and_a_custom_worker_still_runs_syncs(
    harmony_settings_factory: Callable[..., HarmonySettings],
) -> None:
    settings = harmony_settings_factory(**FAST_WORKER)
    built: list[HarmonyContext] = []

    def factory() -> HarmonyContext:
        built.append(HarmonyContext(settings, providers={"memory": provider()}))
        return built[-1]

    app = make_app(factory=factory, worker=lambda ctx: Worker(ctx, batch_size=5))
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert app.state.harmony is built[0]
        job_id = client.post("/sync").json()["job_id"]
        assert wait_for_job(built[0], job_id) == "completed"
    assert built[0].closed


def test_a_failed_startup_closes_the_context(
    harmony_settings: HarmonySettings,
) -> None:
    ctx = HarmonyContext(harmony_settings)
    app = FastAPI()

    async def start() -> None:
        async with lifespan(factory=lambda: ctx, worker=lambda c: "not a worker")(app):  # type: ignore[arg-type,return-value]
            raise AssertionError("the lifespan started")

    with pytest.raises(ConfigurationError, match="return a Worker"):
        asyncio.run(start())
    assert ctx.closed
    with pytest.raises(ConfigurationError, match="not settings and url"):
        asyncio.run(lifespan(settings=harmony_settings, url="sqlite://")(app).__aenter__())


def test_conditional_gets_answer_304_and_412_exactly_as_rfc_9110_says(
    harmony_settings: HarmonySettings,
) -> None:
    app = make_app(settings=harmony_settings, providers={"memory": provider()})
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        app.state.harmony.sync.run_once()
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
    harmony_settings: HarmonySettings,
) -> None:
    app = make_app(settings=harmony_settings, migrate=False)
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for name, cls in ERRORS.items():
            response = client.get(f"/raise/{name}")
            assert response.status_code == ERROR_STATUS[cls], name
            error = response.json()["error"]
            assert error["type"] == cls.__name__, name
            assert error["message"] == str(make_error(cls)), name
        assert client.get("/raise/SyncFailed").json()["error"]["report"]["created"] == 1

        assert client.get("/playlists/x").status_code == 422  # FastAPI's own validation
        # Starlette's and FastAPI's HTTP errors keep their status and headers, in our shape.
        teapot = client.get("/teapot")
        assert (teapot.status_code, teapot.headers["X-Kettle"]) == (418, "on")
        assert teapot.json() == {"error": {"type": "ImaTeapot", "message": "short and stout"}}
        structured = client.get("/teapot", params={"structured": "true"}).json()["error"]
        assert structured["message"] == '{"why": "short and stout"}'
        assert client.get("/nowhere").json() == {
            "error": {"type": "NotFound", "message": "Not Found"}
        }
        refused = client.delete("/sync")
        assert (refused.status_code, refused.headers["Allow"]) == (405, "POST")
        assert refused.json()["error"]["type"] == "MethodNotAllowed"
        documented = client.get("/openapi.json").json()["paths"]["/raise/{name}"]["get"][
            "responses"
        ]
        assert documented["404"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }

        # uvicorn closes the connection after an unhandled exception: ask for no reuse.
        boom = client.get("/boom", headers={"Connection": "close"})
        assert boom.status_code == 500
        assert boom.json() == {
            "error": {"type": "InternalServerError", "message": "internal server error"}
        }
        assert "hunter2" not in boom.text


def test_routes_answer_503_when_the_lifespan_did_not_start_harmony() -> None:
    app = FastAPI()  # no harmony lifespan
    install_error_handlers(app)

    @app.get("/count")
    def count(ctx: HarmonyDep) -> int:
        return ctx.playlists.count()

    with serve_asgi(app) as url:
        response = httpx.get(f"{url}/count", timeout=30)
    assert response.status_code == 503
    assert "harmony is not running" in response.json()["error"]["message"]
