"""FastAPI adapter: a lifespan that owns one context, a dependency, error handlers, 304s.

::

    from fastapi import FastAPI, Request, Response
    from harmony.contrib.fastapi import HarmonyDep, conditional, install_error_handlers, lifespan

    app = FastAPI(lifespan=lifespan(url="sqlite:///harmony.db", worker=True))
    install_error_handlers(app)

    @app.get("/playlists/{playlist_id}")
    def playlist(playlist_id: int, ctx: HarmonyDep, request: Request, response: Response):
        detail = ctx.playlists.get(playlist_id)
        return conditional(request, response, etag=detail.etag,
                           last_modified=detail.last_modified) or detail

Needs FastAPI (``pip install 'harmony[fastapi]'``); harmony itself never imports it. The context is
``app.state.harmony`` while the app runs, the worker (if any) ``app.state.harmony_worker``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from harmony._context import HarmonyContext
from harmony._services.worker import Worker
from harmony._settings import HarmonySettings
from harmony.contrib import _host
from harmony.errors import ContextClosed, HarmonyError, MissingExtraError
from harmony.http import (
    ErrorBody,
    Preconditions,
    check_conditional,
    error_body,
    precondition_failed_body,
    status_for,
)

try:
    from fastapi import Depends, FastAPI, Request, Response
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
except ImportError as exc:  # depends on the installed extras
    _missing = (exc.name or "fastapi").partition(".")[0]
    raise MissingExtraError(
        f"harmony.contrib.fastapi needs {_missing}, which is not installed: "
        "pip install 'harmony[fastapi]'"
    ) from exc

__all__ = [
    "HarmonyDep",
    "conditional",
    "conditional_responses",
    "error_responses",
    "get_context",
    "get_worker",
    "install_error_handlers",
    "lifespan",
]

_log = logging.getLogger("harmony.contrib.fastapi")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan(
    *,
    settings: HarmonySettings | None = None,
    url: str | None = None,
    factory: _host.ContextFactory | None = None,
    migrate: bool = True,
    worker: bool | _host.WorkerFactory = False,
    worker_stop_timeout: float = 30.0,
    **collaborators: Any,
) -> Lifespan:
    """A FastAPI lifespan that owns one :class:`~harmony.HarmonyContext`.

    At startup it builds the context from ``factory()``, ``settings`` or ``url`` (the
    other settings from ``HARMONY_*`` variables), else from the environment alone, with
    ``collaborators`` (``providers=``, ``events=``, ``clock=``, ...); migrates it unless
    ``migrate=False``; and with ``worker=True`` (or a function building a
    :class:`~harmony.Worker` from the context) runs a background worker, with the
    ``playlist.sync`` handler registered unless it has one. At shutdown it stops the
    worker gracefully (``worker_stop_timeout`` seconds at most) and closes the context.
    Blocking work runs in the thread pool. Nothing is opened before the server starts.

    To combine it with a lifespan of your own, enter it inside yours:
    ``async with harmony_lifespan(app): yield``.
    """

    @asynccontextmanager
    async def harmony_lifespan(app: FastAPI) -> AsyncIterator[None]:
        def open_() -> tuple[HarmonyContext, Worker | None]:
            ctx = _host.build_context(
                settings=settings, url=url, factory=factory, collaborators=dict(collaborators)
            )
            return ctx, _host.start(ctx, migrate=migrate, worker=worker)

        ctx, running = await run_in_threadpool(open_)
        app.state.harmony, app.state.harmony_worker = ctx, running
        try:
            yield
        finally:
            app.state.harmony = app.state.harmony_worker = None
            await run_in_threadpool(_host.stop, ctx, running, worker_stop_timeout)

    return harmony_lifespan


def get_context(request: Request) -> HarmonyContext:
    """The app's context (a FastAPI dependency); 503 while the lifespan has not started it."""
    ctx = getattr(request.app.state, "harmony", None)
    if not isinstance(ctx, HarmonyContext):
        raise HarmonyError(
            "harmony is not running: the app's lifespan has not started it "
            "(FastAPI(lifespan=harmony.contrib.fastapi.lifespan(...)))"
        )
    if ctx.closed:
        raise ContextClosed("harmony is not running: the app's context has been closed")
    return ctx


def get_worker(request: Request) -> Worker | None:
    """The lifespan's worker, or ``None`` when it runs none (a FastAPI dependency)."""
    running = getattr(request.app.state, "harmony_worker", None)
    return running if isinstance(running, Worker) else None


#: ``ctx: HarmonyDep`` in a route's parameters gives the app's context.
HarmonyDep = Annotated[HarmonyContext, Depends(get_context)]


def install_error_handlers(
    app: FastAPI, *, http_errors: bool = True, unexpected: bool = True
) -> None:
    """Answer every :class:`~harmony.errors.HarmonyError` with its status and JSON body.

    Statuses come from :data:`harmony.http.ERROR_STATUS`, bodies from
    :func:`harmony.http.error_body`; 5xx ones are logged. ``http_errors`` gives
    Starlette's and FastAPI's ``HTTPException`` (404 unknown route, 405, 400 unreadable
    body, ...) the same body shape, keeping their status and headers; ``type`` is the
    status phrase in one word (``NotFound``, ``MethodNotAllowed``). ``unexpected``
    answers any other exception with 500 ``internal server error`` in that shape (the
    server still logs its traceback). Request validation errors keep FastAPI's 422 body,
    which its OpenAPI schema documents.
    """

    async def harmony_error(request: Request, exc: Exception) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            _log.warning("%s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return JSONResponse(error_body(exc), status_code=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        if exc.status_code in (204, 304) or exc.status_code < 200:
            return Response(status_code=exc.status_code, headers=exc.headers)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        body = {"error": {"type": _phrase(exc.status_code), "message": detail}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=500)

    app.add_exception_handler(HarmonyError, harmony_error)
    if http_errors:
        app.add_exception_handler(HTTPException, http_error)
    if unexpected:
        app.add_exception_handler(Exception, internal_error)


def _phrase(status: int) -> str:
    try:
        return "".join(char for char in HTTPStatus(status).phrase if char.isalnum())
    except ValueError:
        return "HTTPError"


def conditional(
    request: Request,
    response: Response,
    *,
    etag: str | None,
    last_modified: datetime | None = None,
    cache_control: str | None = "no-cache",
) -> Response | None:
    """Answer a conditional GET: a 304 or 412 response, or ``None`` to send the body.

    See :func:`harmony.http.check_conditional` for the rules (RFC 9110: strong and weak
    comparison, lists, ``*``, ``If-Modified-Since``). When it returns ``None`` the
    validators (``ETag``, ``Last-Modified``, ``Cache-Control``) are set on ``response``,
    so a route ends with ``return conditional(...) or body``.
    """
    result = check_conditional(
        Preconditions.from_headers(request.headers),
        method=request.method,
        etag=etag,
        last_modified=last_modified,
        cache_control=cache_control,
    )
    if result.status == 304:
        return Response(status_code=304, headers=dict(result.headers))
    if result.status == 412:
        return JSONResponse(precondition_failed_body(), status_code=412)
    response.headers.update(result.headers)
    return None


_STRING = {"schema": {"type": "string"}}
_DESCRIPTIONS = {
    400: "Invalid input (harmony's InvalidInputError).",
    404: "No such row (harmony's NotFoundError).",
    409: "The resource's state does not allow this (JobStateError, LeaseLost).",
    412: "If-Match or If-Unmodified-Since does not hold.",
    500: "Internal server error; details are in the server's log only.",
    502: "A provider failed (harmony's ProviderError, SyncFailed).",
    503: "harmony cannot serve this now (DatabaseUnavailable, ContextClosed, RateLimited, ...).",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for error statuses, with the shared error body."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error.")}
        for status in statuses
    }


def conditional_responses(*, last_modified: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries of a route answered through :func:`conditional`."""
    headers: dict[str, Any] = {
        "ETag": {"description": "Strong entity-tag of the representation.", **_STRING},
        "Cache-Control": {"description": "no-cache: revalidate before reuse.", **_STRING},
    }
    if last_modified:
        headers["Last-Modified"] = {"description": "When it last changed.", **_STRING}
    return {
        200: {"headers": headers},
        304: {
            "description": "Not Modified: the client's copy is current.",
            "headers": {"ETag": headers["ETag"]},
        },
        **error_responses(412),
    }
