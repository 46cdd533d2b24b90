"""Flask adapter: one context per app, an accessor, error handlers, 304s.

::

    from flask import Flask
    from harmony.contrib.flask import close_app, conditional, get_context, init_app

    app = Flask(__name__)
    init_app(app, url="sqlite:///harmony.db")          # builds and migrates the context

    @app.get("/playlists/<int:playlist_id>")
    def playlist(playlist_id: int):
        detail = get_context().playlists.get(playlist_id)
        return conditional(detail.model_dump(mode="json"), etag=detail.etag,
                           last_modified=detail.last_modified)

Needs Flask (``pip install 'harmony[flask]'``); harmony itself never imports it. Flask has no
shutdown hook: call :func:`close_app` when the app is done, otherwise the context is closed
when the app is garbage collected or the interpreter exits. Requests hold nothing of
harmony's between them (every call opens and ends its own transaction), so there is
nothing to tear down per request.
"""

from __future__ import annotations

import logging
import weakref
from datetime import datetime
from typing import Any

from harmony._context import HarmonyContext
from harmony._services.worker import Worker
from harmony._settings import HarmonySettings
from harmony.contrib import _host
from harmony.errors import (
    ConfigurationError,
    ContextClosed,
    HarmonyError,
    MissingExtraError,
)
from harmony.http import (
    Preconditions,
    check_conditional,
    error_body,
    precondition_failed_body,
    status_for,
)

try:
    from flask import Flask, Response, current_app, jsonify, request
    from werkzeug.exceptions import HTTPException
except ImportError as exc:  # depends on the installed extras
    _missing = (exc.name or "flask").partition(".")[0]
    raise MissingExtraError(
        f"harmony.contrib.flask needs {_missing}, which is not installed: "
        "pip install 'harmony[flask]'"
    ) from exc

__all__ = [
    "EXTENSION_KEY",
    "close_app",
    "conditional",
    "get_context",
    "get_worker",
    "init_app",
    "register_error_handlers",
]

#: ``app.extensions[EXTENSION_KEY]`` holds the app's :class:`_Extension`.
EXTENSION_KEY = "harmony"

_log = logging.getLogger("harmony.contrib.flask")


class _Extension:
    """What :func:`init_app` keeps on the app."""

    def __init__(
        self, ctx: HarmonyContext, worker: Worker | None, closer: weakref.finalize[Any, Any]
    ) -> None:
        self.context = ctx
        self.worker = worker
        self.close = closer


def init_app(
    app: Flask,
    *,
    settings: HarmonySettings | None = None,
    url: str | None = None,
    factory: _host.ContextFactory | None = None,
    migrate: bool = True,
    worker: bool | _host.WorkerFactory = False,
    worker_stop_timeout: float = 30.0,
    error_handlers: bool = True,
    **collaborators: Any,
) -> HarmonyContext:
    """Build the app's :class:`~harmony.HarmonyContext` and keep it on ``app``; returns it.

    The context comes from ``factory()``, ``settings`` or ``url`` (the other settings from
    ``HARMONY_*`` variables), else from the environment alone, with ``collaborators``
    (``providers=``, ``events=``, ``psutil=``, ...). It is migrated unless
    ``migrate=False``; ``worker=True`` (or a function building a :class:`~harmony.Worker`
    from the context) runs a background worker with the ``playlist.sync`` handler
    registered unless it has one. ``error_handlers=True`` calls
    :func:`register_error_handlers`. :func:`close_app` stops the worker and closes the
    context; so does garbage collection of the app or the end of the interpreter.
    """
    if EXTENSION_KEY in app.extensions:
        raise ConfigurationError(f"harmony is already initialised on app {app.name!r}")
    ctx = _host.build_context(
        settings=settings, url=url, factory=factory, collaborators=dict(collaborators)
    )
    running = _host.start(ctx, migrate=migrate, worker=worker)
    # One stop, whichever comes first: close_app(), garbage collection, or exit.
    closer = weakref.finalize(app, _host.stop, ctx, running, worker_stop_timeout)
    app.extensions[EXTENSION_KEY] = _Extension(ctx, running, closer)
    if error_handlers:
        register_error_handlers(app)
    return ctx


def _extension(app: Flask | None) -> _Extension:
    target = app if app is not None else current_app
    extension = target.extensions.get(EXTENSION_KEY)
    if not isinstance(extension, _Extension):
        raise HarmonyError(
            f"harmony is not initialised on app {target.name!r}: call "
            "harmony.contrib.flask.init_app(app) first"
        )
    return extension


def get_context(app: Flask | None = None) -> HarmonyContext:
    """The context of ``app`` (by default the app handling the request)."""
    ctx = _extension(app).context
    if ctx.closed:
        raise ContextClosed("harmony is not running: close_app() has closed this app's context")
    return ctx


def get_worker(app: Flask | None = None) -> Worker | None:
    """The worker :func:`init_app` started for ``app``, or ``None``."""
    return _extension(app).worker


def close_app(app: Flask) -> None:
    """Stop the app's worker and close its context. Idempotent."""
    _extension(app).close()


def register_error_handlers(
    app: Flask, *, http_errors: bool = True, unexpected: bool = True
) -> None:
    """Answer every :class:`~harmony.errors.HarmonyError` with its status and JSON body.

    Statuses come from :data:`harmony.http.ERROR_STATUS`, bodies from
    :func:`harmony.http.error_body`; 5xx ones are logged. ``http_errors`` gives Flask's
    own errors (404 unknown route, 405, ...) the same body shape, keeping their status;
    ``unexpected`` answers any other exception with 500 ``internal server error`` and
    logs its traceback.
    """

    def harmony_error(exc: HarmonyError) -> tuple[Response, int]:
        status = status_for(exc)
        if status >= 500:
            _log.warning("%s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        return jsonify(error_body(exc)), status

    app.register_error_handler(HarmonyError, harmony_error)

    if http_errors:

        def http_error(exc: HTTPException) -> tuple[Response, int]:
            body = {"error": {"type": type(exc).__name__, "message": exc.description or exc.name}}
            return jsonify(body), exc.code or 500

        app.register_error_handler(HTTPException, http_error)

    if unexpected:

        def internal_error(exc: Exception) -> Any:
            if isinstance(exc, HTTPException):  # Flask's own, when http_errors=False
                return exc
            _log.exception("unhandled error on %s %s", request.method, request.path)
            return jsonify(error_body(exc)), 500

        app.register_error_handler(Exception, internal_error)


def conditional(
    payload: Any,
    *,
    etag: str | None,
    last_modified: datetime | None = None,
    cache_control: str | None = "no-cache",
) -> Response:
    """``payload`` as JSON with its validators, or the 304/412 the request's headers call for.

    See :func:`harmony.http.check_conditional` for the rules (RFC 9110: strong and weak
    comparison, lists, ``*``, ``If-Modified-Since``). ``etag`` is set as given: harmony's
    are already quoted (Werkzeug's ``set_etag`` would quote them again).
    """
    result = check_conditional(
        Preconditions.from_headers(request.headers),
        method=request.method,
        etag=etag,
        last_modified=last_modified,
        cache_control=cache_control,
    )
    if result.status == 304:
        response = Response(status=304)
    elif result.status == 412:
        response = jsonify(precondition_failed_body())
        response.status_code = 412
        return response
    else:
        response = jsonify(payload)
    response.headers.update(result.headers)
    return response
