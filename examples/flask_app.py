"""A Flask host of harmony: playlists with ETags, sync, search, diagnostics, provider status.

    pip install -e '.[examples,search]'
    python examples/flask_app.py [--url sqlite:///harmony.db] [--host 127.0.0.1] [--port 5000]
    curl -i localhost:5000/playlists && curl -X POST localhost:5000/sync

The app factory builds one :class:`~harmony.HarmonyContext` per app (kept in
``app.extensions["harmony"]``), migrates it, and registers the bundled sample library as
the default provider. Harmony knows nothing of Flask; everything Flask-specific is here.

Routes:

- ``GET /playlists?limit=&cursor=&status=&provider=`` and ``GET /playlists/<id>``: JSON with
  ``ETag``, ``Last-Modified`` and ``Cache-Control: no-cache``; ``If-None-Match`` with a
  matching tag (weak comparison, so ``W/"..."`` from a proxy matches too) answers
  ``304 Not Modified``.
- ``POST /sync[?provider=name]``: runs ``ctx.sync.run_once()`` in the request and returns
  the ``SyncReport``. A sync of a large remote library belongs in a worker process instead:
  enqueue ``SYNC_JOB_TYPE`` there and answer ``202``; see docs/queue.md.
- ``GET /search?q=&limit=&offset=&sources=``: ranked tracks (``sources`` may repeat).
- ``GET /providers/<name>/status``: through ``ctx.providers.cached_status``, with ETag/304;
  credential changes show on the next request.
- ``GET /system/stats`` and ``GET /system/health`` (503 when not ready).

Errors are JSON ``{"error": message}``: ``NotFoundError`` 404, ``InvalidInputError`` 400,
any other ``HarmonyError`` 503, anything unexpected 500 (logged, never sent).
"""

from __future__ import annotations

import argparse
import logging
import weakref
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import unquote_etag

from harmony import (
    EventLogger,
    HarmonyContext,
    HarmonyError,
    HarmonySettings,
    InvalidInputError,
    NotFoundError,
    PlaylistProvider,
    SyncFailed,
)
from harmony.providers import sample_provider

__all__ = ["EXTENSION_KEY", "close_app", "create_app", "get_context", "main"]

#: Where the app keeps its :class:`HarmonyContext`: ``app.extensions[EXTENSION_KEY]``.
EXTENSION_KEY = "harmony"
_FINALIZER_KEY = "harmony.close"
#: Ids and cursors are 64-bit; harmony does not bound them, and a larger one fails in the
#: database driver (a bare OverflowError on SQLite, "bigint out of range" on PostgreSQL).
_MAX_ID = 2**63 - 1

log = logging.getLogger("harmony.examples.flask")
api = Blueprint("harmony_api", __name__)


def create_app(
    settings: HarmonySettings | None = None,
    *,
    providers: Mapping[str, PlaylistProvider] | None = None,
    events: EventLogger | None = None,
    psutil: Any | None = None,
) -> Flask:
    """A Flask app serving harmony's core routes over one migrated :class:`HarmonyContext`.

    ``settings`` defaults to ``HARMONY_*`` environment variables; ``providers`` to the
    bundled sample library (``{"sample": sample_provider()}``). ``events`` and ``psutil``
    are passed to the context. Call :func:`close_app` when done; otherwise the context is
    closed when the app is garbage collected or the interpreter exits.
    """
    if settings is None:
        settings = HarmonySettings.from_env()
    if providers is None:
        providers = {"sample": sample_provider()}
    ctx = HarmonyContext(settings, providers=providers, events=events, psutil=psutil)
    try:
        ctx.migrate()
    except BaseException:
        ctx.close()
        raise
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = ctx
    # One close, whichever comes first: close_app(), garbage collection, or exit.
    app.extensions[_FINALIZER_KEY] = weakref.finalize(app, ctx.close)
    app.register_blueprint(api)
    _register_error_handlers(app)
    return app


def close_app(app: Flask) -> None:
    """Close the app's :class:`HarmonyContext` (its engine, pools and caches). Idempotent."""
    finalizer: weakref.finalize[Any, Any] = app.extensions[_FINALIZER_KEY]
    finalizer()


def get_context(app: Flask | None = None) -> HarmonyContext:
    """The :class:`HarmonyContext` of ``app`` (by default the app handling the request)."""
    ctx: HarmonyContext = (app if app is not None else current_app).extensions[EXTENSION_KEY]
    return ctx


# -- routes -------------------------------------------------------------------------------


@api.get("/playlists")
def list_playlists() -> Response:
    """A page of playlists (``next_cursor`` continues), conditional on its ETag."""
    cursor = request.args.get("cursor") or None
    # harmony's own check takes any Unicode digits ("²" then fails in int()) and 19-digit
    # values past the 64-bit range; accept only what a next_cursor can look like.
    if cursor is not None and not (
        cursor.isascii() and cursor.isdigit() and int(cursor) <= _MAX_ID
    ):
        raise InvalidInputError(f"cursor {cursor!r:.40} is not valid; pass a page's next_cursor")
    page = get_context().playlists.list_page(
        provider=request.args.get("provider") or None,
        status=request.args.get("status", "active"),  # type: ignore[arg-type]  # harmony checks
        limit=_int_arg("limit", 50),
        cursor=cursor,
    )
    return _conditional(page.to_dict(), page.etag, page.last_modified)


@api.get("/playlists/<int:playlist_id>")
def get_playlist(playlist_id: int) -> Response:
    """One playlist with its ordered tracks, conditional on its ETag."""
    if playlist_id > _MAX_ID:
        raise NotFoundError(f"no playlist with id {playlist_id}")
    detail = get_context().playlists.get(playlist_id)
    return _conditional(detail.model_dump(mode="json"), detail.etag, detail.last_modified)


@api.post("/sync")
def sync() -> tuple[Response, int]:
    """Sync every registered provider (or ``?provider=name``) now; returns the report."""
    body = request.get_json(silent=True)
    provider = request.args.get("provider") or (
        body.get("provider") if isinstance(body, dict) else None
    )
    report = get_context().sync.run_once(provider)
    return jsonify(report.model_dump(mode="json")), 200


@api.get("/search")
def search() -> Response:
    """Ranked tracks for ``q`` across the library and search providers."""
    sources = request.args.getlist("sources") or None
    result = get_context().search.tracks(
        request.args.get("q", ""),
        sources=sources,
        limit=_int_arg("limit", 20),
        offset=_int_arg("offset", 0),
    )
    return jsonify(result.model_dump(mode="json") | {"partial": result.partial})


@api.get("/providers/<name>/status")
def provider_status(name: str) -> Response:
    """What harmony can do with ``name`` now; cached, but never across credential changes."""
    entry = get_context().providers.cached_status(name)
    return _conditional(entry.value.model_dump(mode="json"), entry.etag, entry.last_modified)


@api.get("/system/stats")
def system_stats() -> Response:
    """CPU, memory, disk, network and process figures (503 when psutil is unavailable)."""
    response = jsonify(get_context().system.stats().model_dump(mode="json"))
    response.cache_control.no_store = True
    return response


@api.get("/system/health")
def health() -> tuple[Response, int]:
    """Readiness: 200 when every required part is up, else 503; the body says which."""
    report = get_context().system.health()
    return jsonify(report.model_dump(mode="json")), 200 if report.ready else 503


# -- helpers ------------------------------------------------------------------------------


def _conditional(payload: Any, etag: str | None, last_modified: datetime | None) -> Response:
    """``payload`` as JSON with validators, or ``304`` when ``If-None-Match`` matches.

    Only ``If-None-Match`` decides. ``Response.make_conditional`` would also honour
    ``If-Modified-Since``, whose one-second resolution can hide a change made within the
    same second, and a page's ``Last-Modified`` (the newest item on it) can even go
    backwards when that item leaves the page; harmony's ETags have neither problem.
    ``etag`` is already quoted, so it is set as is (``set_etag`` would quote it again).
    """
    if etag is not None and request.if_none_match.contains_weak(unquote_etag(etag)[0]):
        response = Response(status=304)
    else:
        response = jsonify(payload)
    if etag is not None:
        response.headers["ETag"] = etag
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.no_cache = True  # clients revalidate; a 304 is cheap
    return response


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, got {raw!r:.40}") from None


def _error(message: str, status: int, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": message, **extra}), status


def _register_error_handlers(app: Flask) -> None:
    # Flask picks the handler of the most specific class in the exception's MRO.
    @app.errorhandler(NotFoundError)
    def not_found(exc: NotFoundError) -> tuple[Response, int]:
        return _error(str(exc), 404)

    @app.errorhandler(InvalidInputError)
    def invalid_input(exc: InvalidInputError) -> tuple[Response, int]:
        return _error(str(exc), 400)

    @app.errorhandler(SyncFailed)
    def sync_failed(exc: SyncFailed) -> tuple[Response, int]:
        # What the other providers did is committed; say so alongside the error.
        report = getattr(exc.report, "model_dump", None)
        return _error(str(exc), 503, report=report(mode="json") if report else None)

    @app.errorhandler(HarmonyError)
    def unavailable(exc: HarmonyError) -> tuple[Response, int]:
        log.warning("harmony error on %s %s: %s", request.method, request.path, exc)
        return _error(str(exc), 503)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return _error(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error("internal server error", 500)


def main(argv: list[str] | None = None) -> None:
    """Serve the app with Flask's development server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="database URL (default: HARMONY_DATABASE_URL or harmony's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    settings = HarmonySettings.from_env(**({"database_url": args.url} if args.url else {}))
    app = create_app(settings)
    try:
        app.run(host=args.host, port=args.port, threaded=True)
    finally:
        close_app(app)


if __name__ == "__main__":
    main()
