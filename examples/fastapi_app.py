"""A FastAPI host for harmony: playlists with ETags, sync jobs, search, diagnostics.

    pip install -e '.[examples,search]'   # FastAPI, uvicorn; rapidfuzz for /search
    uvicorn examples.fastapi_app:app      # settings from HARMONY_* variables
    curl -X POST localhost:8000/sync      # queue a sync; GET /jobs/1 shows its report

The app's lifespan builds one :class:`~harmony.HarmonyContext` (from the settings passed
to :func:`create_app`, else from ``HARMONY_*`` variables), migrates the database, runs a
background :class:`~harmony.Worker` for ``playlist.sync`` jobs and closes everything on
shutdown. Playlists come from the bundled sample library, or from the export folder (or
file) named by ``HARMONY_EXAMPLE_EXPORTS``.

harmony knows nothing of FastAPI: this module is the whole adapter. Routes are plain
``def`` functions, so FastAPI runs harmony's blocking calls in its thread pool.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from harmony import (
    SYNC_JOB_TYPE,
    Clock,
    EventLogger,
    HarmonyContext,
    HarmonyError,
    HarmonySettings,
    InvalidInputError,
    Job,
    NotFoundError,
    Playlist,
    PlaylistDetail,
    PlaylistProvider,
    UnknownProviderError,
    Worker,
    __version__,
)
from harmony.providers import open_export, sample_provider
from harmony.repositories.playlists import MAX_PAGE_SIZE
from harmony.services.providers import ProviderStatus
from harmony.services.search import SearchResult
from harmony.services.system import HealthPart, HealthReport, SystemStats

__all__ = ["EXPORTS_ENV", "app", "create_app", "default_providers", "etag_matches"]

#: Names an export folder or file (Exportify CSV, MPD JSON) to serve instead of the sample.
EXPORTS_ENV = "HARMONY_EXAMPLE_EXPORTS"

#: Largest id a database row can have (BIGINT); larger path ids are rejected up front.
_MAX_ID = 2**63 - 1
# Quoted entity-tags, optionally weak; a comma may sit inside the quotes (RFC 9110 8.8.3).
_ENTITY_TAG = re.compile(r'(?:W/)?("[^"]*")')
# The credential store's rule for provider names.
_PROVIDER_NAME = r"^[a-z][a-z0-9_.-]{0,62}$"


# -- response models ------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """What every mapped harmony error answers with."""

    detail: str


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
        return cls(
            id=job.id, type=job.type, status=job.status, priority=job.priority,
            attempts=job.attempts, payload=dict(job.payload), result=job.result,
            last_error=job.last_error, stop_reason=job.stop_reason,
            available_at=job.available_at, lease_expires_at=job.lease_expires_at,
            created_at=job.created_at, updated_at=job.updated_at,
        )  # fmt: skip


# -- OpenAPI pieces -------------------------------------------------------------------------

_STRING = {"schema": {"type": "string"}}
_VALIDATORS: dict[str, Any] = {
    "ETag": {"description": "Strong entity-tag of the representation.", **_STRING},
    "Last-Modified": {"description": "When it last changed (informational).", **_STRING},
}
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    200: {"headers": _VALIDATORS},
    304: {
        "description": "Not Modified: If-None-Match matched the current ETag.",
        "headers": {"ETag": _VALIDATORS["ETag"]},
    },
}
_BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid input (harmony's InvalidInputError)."}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such row (harmony's NotFoundError)."}
}
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "harmony cannot serve this now (HarmonyError)."}
}
_IF_NONE_MATCH = Header(
    description="Entity-tags held by the client (a list, weak tags or `*`); 304 on a match."
)


# -- the context, reached through a dependency ----------------------------------------------


def get_harmony(request: Request) -> HarmonyContext:
    """The app's :class:`HarmonyContext`, built by the lifespan."""
    ctx = getattr(request.app.state, "harmony", None)
    if not isinstance(ctx, HarmonyContext) or ctx.closed:
        raise HarmonyError("harmony is not running: the app's lifespan has not started it")
    return ctx


Harmony = Annotated[HarmonyContext, Depends(get_harmony)]


def default_providers(environ: Mapping[str, str] | None = None) -> dict[str, PlaylistProvider]:
    """The export named by ``HARMONY_EXAMPLE_EXPORTS``, else the bundled sample library."""
    environ = os.environ if environ is None else environ
    path = environ.get(EXPORTS_ENV)
    provider = open_export(path) if path else sample_provider()
    return {provider.name: provider}


# -- conditional GET ------------------------------------------------------------------------


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (RFC 9110 13.1.2).

    ``*`` matches any current representation; otherwise the value is a list of
    entity-tags compared weakly (a ``W/`` prefix on either side is ignored).
    """
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _ENTITY_TAG.fullmatch(etag.strip())
    opaque = wanted.group(1) if wanted else etag
    return opaque in _ENTITY_TAG.findall(if_none_match)


def _if_none_match(request: Request) -> str | None:
    # The header may be repeated; its values form one list (RFC 9110 5.3).
    values = request.headers.getlist("if-none-match")
    return ", ".join(values) if values else None


def _http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(timezone.utc), usegmt=True)


def _validated(
    request: Request, response: Response, etag: str, last_modified: datetime | None
) -> Response | None:
    """304 when the client holds ``etag``; otherwise sets the validators on ``response``.

    ``If-Modified-Since`` is deliberately not honoured: ``Last-Modified`` has one-second
    precision and a list's newest ``updated_at`` does not move when a playlist leaves it,
    so only the ETag can prove a representation unchanged.
    """
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag_matches(_if_none_match(request), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    if last_modified is not None:
        response.headers["Last-Modified"] = _http_date(last_modified)
    return None


# -- error mapping --------------------------------------------------------------------------


def _error(status: int, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc) or type(exc).__name__}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    # Starlette walks the exception's MRO, so the 404 and 400 handlers win over the 503 one
    # (UnknownProviderError is a ProviderError *and* an InvalidInputError: 400).
    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return _error(404, exc)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        return _error(400, exc)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        return _error(503, exc)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Logged with its traceback by the server; the client learns nothing of it.
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(InvalidInputError, invalid)
    app.add_exception_handler(HarmonyError, unavailable)
    app.add_exception_handler(Exception, unexpected)


# -- the app --------------------------------------------------------------------------------


def create_app(
    settings: HarmonySettings | None = None,
    *,
    providers: Mapping[str, PlaylistProvider] | None = None,
    events: EventLogger | None = None,
    clock: Clock | None = None,
    psutil: Any | None = None,
    run_worker: bool = True,
    worker_concurrency: int = 1,
) -> FastAPI:
    """A FastAPI app serving one :class:`HarmonyContext`.

    Nothing is read or opened here: the lifespan builds the context from ``settings``
    (``HARMONY_*`` variables when ``None``) and ``providers`` (:func:`default_providers`
    when ``None``), migrates, starts the worker (unless ``run_worker=False``) and on
    shutdown stops the worker and closes the context. The context is ``app.state.harmony``
    while the app runs, the worker ``app.state.harmony_worker``.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = HarmonyContext(
            settings if settings is not None else HarmonySettings.from_env(),
            providers=providers if providers is not None else default_providers(),
            events=events, clock=clock, psutil=psutil,
        )  # fmt: skip
        worker: Worker | None = None
        try:
            await run_in_threadpool(ctx.migrate)
            if run_worker:
                worker = Worker(ctx, concurrency=worker_concurrency)
                ctx.sync.register(worker)
                worker.start()
            app.state.harmony, app.state.harmony_worker = ctx, worker
            yield
        finally:
            app.state.harmony = app.state.harmony_worker = None
            if worker is not None:
                await run_in_threadpool(worker.stop, 30.0)
            ctx.close()

    app = FastAPI(
        title="harmony example host",
        version=__version__,
        description="Playlists kept in sync by harmony, with ETags that are never stale.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    @app.get(
        "/playlists", response_model=PlaylistList, tags=["playlists"],
        responses={**_NOT_MODIFIED, **_BAD_INPUT, **_UNAVAILABLE},
    )  # fmt: skip
    def list_playlists(
        ctx: Harmony,
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
        not_modified = _validated(request, response, page.etag, page.last_modified)
        return not_modified or PlaylistList(items=list(page.items), next_cursor=page.next_cursor)

    @app.get(
        "/playlists/{playlist_id}", response_model=PlaylistDetail, tags=["playlists"],
        responses={**_NOT_MODIFIED, **_BAD_INPUT, **_NOT_FOUND, **_UNAVAILABLE},
    )  # fmt: skip
    def get_playlist(
        ctx: Harmony,
        request: Request,
        response: Response,
        playlist_id: Annotated[int, Path(ge=1, le=_MAX_ID, examples=[1])],
        if_none_match: Annotated[str | None, _IF_NONE_MATCH] = None,
    ) -> Any:
        """One playlist with its ordered tracks and its ETag."""
        detail = ctx.playlists.get(playlist_id)
        return _validated(request, response, detail.etag, detail.last_modified) or detail

    @app.post(
        "/sync", status_code=202, response_model=JobAccepted, tags=["jobs"],
        responses={
            202: {"headers": {"Location": {"description": "The job's URL.", **_STRING}}},
            **_BAD_INPUT, **_UNAVAILABLE,
        },
    )  # fmt: skip
    def start_sync(
        ctx: Harmony, request: Request, response: Response,
        body: Annotated[SyncRequest | None, Body()] = None,
    ) -> JobAccepted:  # fmt: skip
        """Queue a ``playlist.sync`` job for one provider, or for all of them."""
        provider = body.provider if body is not None else None
        if provider is not None and provider not in ctx.provider_registry:
            # Checked here: a typo gets a 400 now rather than a dead-lettered job.
            known = ", ".join(sorted(ctx.provider_registry)) or "(none)"
            raise UnknownProviderError(f"no provider named {provider!r:.80}; known: {known}")
        job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": provider} if provider else {})
        worker = request.app.state.harmony_worker
        if worker is not None:
            worker.wake()  # start now rather than after the worker's idle back-off
        url = str(app.url_path_for("get_job", job_id=str(job.id)))
        response.headers["Location"] = url
        return JobAccepted(job_id=job.id, status=job.status, status_url=url)

    @app.get(
        "/jobs/{job_id}", response_model=JobView, tags=["jobs"],
        responses={**_NOT_FOUND, **_UNAVAILABLE},
    )  # fmt: skip
    def get_job(ctx: Harmony, job_id: Annotated[int, Path(ge=1, le=_MAX_ID)]) -> JobView:
        """A job's status and, once completed, its result."""
        return JobView.of(ctx.jobs.get(job_id))

    @app.get(
        "/system/stats", response_model=SystemStats, tags=["system"], responses=_UNAVAILABLE
    )
    def system_stats(ctx: Harmony) -> SystemStats:
        """CPU, memory, disk, network and process figures."""
        return ctx.system.stats()

    @app.get(
        "/system/health", response_model=HealthReport, tags=["system"],
        responses={503: {"model": HealthReport, "description": "Not ready."}},
    )  # fmt: skip
    def system_health(request: Request) -> Any:
        """Readiness: 200 when the database and schema are up, 503 (same body) otherwise."""
        try:
            ctx = get_harmony(request)
        except HarmonyError as exc:
            down = HealthPart(status="down", required=True, detail=str(exc))
            report = HealthReport(ready=False, checked_at=datetime.now(timezone.utc), parts={"app": down})
            return JSONResponse(report.model_dump(mode="json"), status_code=503)
        report = ctx.system.health()
        if report.ready:
            return report
        return JSONResponse(report.model_dump(mode="json"), status_code=503)

    @app.get(
        "/providers/{name}/status", response_model=ProviderStatus, tags=["providers"],
        responses={**_NOT_MODIFIED, **_BAD_INPUT, **_UNAVAILABLE},
    )  # fmt: skip
    def provider_status(
        ctx: Harmony,
        request: Request,
        response: Response,
        name: Annotated[str, Path(pattern=_PROVIDER_NAME, examples=["sample", "spotify"])],
        if_none_match: Annotated[str | None, _IF_NONE_MATCH] = None,
    ) -> Any:
        """What harmony can do with a provider now; changes of its credentials show at once."""
        entry = ctx.providers.cached_status(name)
        etag = entry.etag or ""
        return _validated(request, response, etag, entry.last_modified) or entry.value

    @app.get(
        "/search", response_model=SearchResult, tags=["search"],
        responses={**_BAD_INPUT, **_UNAVAILABLE},
    )  # fmt: skip
    def search(
        ctx: Harmony,
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
