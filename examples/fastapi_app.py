"""A FastAPI host for harmony: playlists with ETags, sync jobs, search, diagnostics.

    pip install -e '.[examples,search]'   # FastAPI, uvicorn; rapidfuzz for /search
    uvicorn examples.fastapi_app:app      # settings from HARMONY_* variables
    curl -X POST localhost:8000/sync      # queue a sync; GET /jobs/1 shows its report

The glue lives in :mod:`harmony.contrib.fastapi`: its lifespan builds one
:class:`~harmony.HarmonyContext` (from the settings passed to :func:`create_app`, else
from ``HARMONY_*`` variables), migrates it, runs a background worker for
``playlist.sync`` jobs and closes everything on shutdown; ``HarmonyDep`` hands routes the
context; one handler maps every ``HarmonyError`` to its status; ``conditional`` answers
``If-None-Match``/``If-Modified-Since``. This module is the routes. Playlists come from
the bundled sample library, or from the export folder (or file) named by
``HARMONY_EXAMPLE_EXPORTS``. Routes are plain ``def`` functions, so FastAPI runs
harmony's blocking calls in its thread pool.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from harmony import (
    MAX_PAGE_SIZE,
    SYNC_JOB_TYPE,
    Clock,
    EventLogger,
    HarmonyContext,
    HarmonyError,
    HarmonySettings,
    HealthPart,
    HealthReport,
    Job,
    Playlist,
    PlaylistDetail,
    PlaylistProvider,
    ProviderStatus,
    SearchResult,
    SystemStats,
    UnknownProviderError,
    __version__,
)
from harmony.contrib.fastapi import (
    HarmonyDep,
    conditional,
    conditional_responses,
    error_responses,
    get_context,
    get_worker,
    install_error_handlers,
    lifespan,
)
from harmony.providers import open_export, sample_provider

__all__ = ["EXPORTS_ENV", "app", "create_app", "default_providers"]

#: Names an export folder or file (Exportify CSV, MPD JSON) to serve instead of the sample.
EXPORTS_ENV = "HARMONY_EXAMPLE_EXPORTS"
#: Largest id a database row can have (BIGINT); larger path ids are rejected up front.
_MAX_ID = 2**63 - 1
#: The credential store's rule for provider names.
_PROVIDER_NAME = r"^[a-z][a-z0-9_.-]{0,62}$"
_IF_NONE_MATCH = Header(
    description="Entity-tags held by the client (a list, weak tags or `*`); 304 on a match."
)


class PlaylistList(BaseModel):
    """A page of playlists in id order; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[Playlist]
    next_cursor: str | None


class SyncRequest(BaseModel):
    """Which provider to sync; every registered one when ``provider`` is omitted."""

    model_config = ConfigDict(extra="forbid")

    provider: str | None = Field(default=None, min_length=1, max_length=64)


class JobAccepted(BaseModel):
    """A job was queued; poll ``status_url`` until its status is final."""

    job_id: int
    status: str
    status_url: str


class JobView(BaseModel):
    """A queued job as the queue stores it (without its lease token)."""

    id: int
    type: str
    status: str
    priority: int
    attempts: int
    payload: dict[str, Any]
    result: Any = None
    last_error: str | None
    stop_reason: str | None
    available_at: datetime
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobView:
        """The view of a stored :class:`~harmony.Job`."""
        return cls.model_validate({name: getattr(job, name) for name in cls.model_fields})


def default_providers(environ: Mapping[str, str] | None = None) -> dict[str, PlaylistProvider]:
    """The export named by ``HARMONY_EXAMPLE_EXPORTS``, else the bundled sample library."""
    path = (os.environ if environ is None else environ).get(EXPORTS_ENV)
    provider = open_export(path) if path else sample_provider()
    return {provider.name: provider}


def create_app(
    settings: HarmonySettings | None = None,
    *,
    providers: Mapping[str, PlaylistProvider] | None = None,
    events: EventLogger | None = None,
    clock: Clock | None = None,
    psutil: Any | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """A FastAPI app serving one :class:`HarmonyContext`; nothing is opened until it starts.

    ``settings`` default to ``HARMONY_*`` variables, ``providers`` to
    :func:`default_providers` (read when the app starts). ``run_worker=False`` leaves
    ``playlist.sync`` jobs to a worker process (``examples/worker.py``).
    """

    def build_context() -> HarmonyContext:
        return HarmonyContext(
            settings if settings is not None else HarmonySettings.from_env(),
            providers=providers if providers is not None else default_providers(),
            events=events,
            clock=clock,
            psutil=psutil,
        )

    app = FastAPI(
        title="harmony example host",
        version=__version__,
        description="Playlists kept in sync by harmony, with ETags that are never stale.",
        lifespan=lifespan(factory=build_context, worker=run_worker),
    )
    install_error_handlers(app)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    unavailable = error_responses(503)

    @app.get(
        "/playlists",
        response_model=PlaylistList,
        tags=["playlists"],
        responses={**conditional_responses(last_modified=False), **error_responses(400, 503)},
    )
    def list_playlists(
        ctx: HarmonyDep,
        request: Request,
        response: Response,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[
            str | None,
            Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the previous page."),
        ] = None,
        status: Literal["active", "removed", "all"] = "active",
        provider: Annotated[
            str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
        ] = None,
        if_none_match: Annotated[str | None, _IF_NONE_MATCH] = None,
    ) -> Any:
        """Playlists in id order, with the page's ETag."""
        page = ctx.playlists.list_page(provider=provider, status=status, limit=limit, cursor=cursor)
        # No Last-Modified: a page's newest updated_at stays put when a playlist leaves
        # the page, so only the ETag can tell that the page is unchanged.
        return conditional(request, response, etag=page.etag) or PlaylistList(
            items=list(page.items), next_cursor=page.next_cursor
        )

    @app.get(
        "/playlists/{playlist_id}",
        response_model=PlaylistDetail,
        tags=["playlists"],
        responses={**conditional_responses(), **error_responses(400, 404, 503)},
    )
    def get_playlist(
        ctx: HarmonyDep,
        request: Request,
        response: Response,
        playlist_id: Annotated[int, Path(ge=1, le=_MAX_ID, examples=[1])],
        if_none_match: Annotated[str | None, _IF_NONE_MATCH] = None,
    ) -> Any:
        """One playlist with its ordered tracks, its ETag and Last-Modified."""
        detail = ctx.playlists.get(playlist_id)
        return (
            conditional(request, response, etag=detail.etag, last_modified=detail.last_modified)
            or detail
        )

    @app.post(
        "/sync",
        status_code=202,
        response_model=JobAccepted,
        tags=["jobs"],
        responses={
            202: {
                "headers": {
                    "Location": {"description": "The job's URL.", "schema": {"type": "string"}}
                }
            },
            **error_responses(400, 503),
        },
    )
    def start_sync(
        ctx: HarmonyDep,
        request: Request,
        response: Response,
        body: Annotated[SyncRequest | None, Body()] = None,
    ) -> JobAccepted:
        """Queue a ``playlist.sync`` job for one provider, or for all of them."""
        provider = body.provider if body is not None else None
        if provider is not None and provider not in ctx.provider_registry:
            # Checked here: a typo gets a 400 now rather than a dead-lettered job.
            known = ", ".join(sorted(ctx.provider_registry)) or "(none)"
            raise UnknownProviderError(f"no provider named {provider!r:.80}; known: {known}")
        job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": provider} if provider else {})
        worker = get_worker(request)
        if worker is not None:
            worker.wake()  # start now rather than after the worker's idle back-off
        url = str(app.url_path_for("get_job", job_id=str(job.id)))
        response.headers["Location"] = url
        return JobAccepted(job_id=job.id, status=job.status, status_url=url)

    @app.get(
        "/jobs/{job_id}",
        response_model=JobView,
        tags=["jobs"],
        responses=error_responses(404, 503),
    )
    def get_job(ctx: HarmonyDep, job_id: Annotated[int, Path(ge=1, le=_MAX_ID)]) -> JobView:
        """A job's status and, once completed, its result."""
        return JobView.of(ctx.jobs.get(job_id))

    @app.get("/system/stats", response_model=SystemStats, tags=["system"], responses=unavailable)
    def system_stats(ctx: HarmonyDep) -> SystemStats:
        """CPU, memory, disk, network and process figures."""
        return ctx.system.stats()

    @app.get(
        "/system/health",
        response_model=HealthReport,
        tags=["system"],
        responses={503: {"model": HealthReport, "description": "Not ready."}},
    )
    def system_health(request: Request) -> Any:
        """Readiness: 200 when the database and schema are up, 503 (same body) otherwise."""
        try:
            report = get_context(request).system.health()
        except HarmonyError as exc:
            down = HealthPart(status="down", required=True, detail=str(exc))
            report = HealthReport(ready=False, checked_at=datetime.now(UTC), parts={"app": down})
        if report.ready:
            return report
        return JSONResponse(report.model_dump(mode="json"), status_code=503)

    @app.get(
        "/providers/{name}/status",
        response_model=ProviderStatus,
        tags=["providers"],
        responses={**conditional_responses(), **error_responses(400, 503)},
    )
    def provider_status(
        ctx: HarmonyDep,
        request: Request,
        response: Response,
        name: Annotated[str, Path(pattern=_PROVIDER_NAME, examples=["sample", "spotify"])],
        if_none_match: Annotated[str | None, _IF_NONE_MATCH] = None,
    ) -> Any:
        """What harmony can do with a provider now; changes of its credentials show at once."""
        entry = ctx.providers.cached_status(name)
        return (
            conditional(request, response, etag=entry.etag, last_modified=entry.last_modified)
            or entry.value
        )

    @app.get(
        "/search",
        response_model=SearchResult,
        tags=["search"],
        responses=error_responses(400, 503),
    )
    def search(
        ctx: HarmonyDep,
        q: Annotated[str, Query(min_length=1, max_length=500, examples=["low tide radio"])],
        limit: Annotated[
            int, Query(ge=1, description="At most the search_max_limit setting (100 by default).")
        ] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,  # harmony's cap
        sources: Annotated[list[str] | None, Query(description="Default: every source.")] = None,
    ) -> SearchResult:
        """Tracks ranked best first across the library and searchable providers."""
        return ctx.search.tracks(q, sources=sources, limit=limit, offset=offset)


#: ``uvicorn examples.fastapi_app:app``; nothing is opened until the server starts it.
app = create_app()
