"""A Flask host of harmony: playlists with ETags, sync, search, diagnostics, provider status.

    pip install -e '.[examples,search]'
    python examples/flask_app.py [--url sqlite:///harmony.db] [--host 127.0.0.1] [--port 5000]
    curl -i localhost:5000/playlists && curl -X POST localhost:5000/sync

The glue lives in :mod:`harmony.contrib.flask`: ``init_app`` builds and migrates one
:class:`~harmony.HarmonyContext` per app, ``get_context()`` reaches it from a view, one
handler maps every ``HarmonyError`` (and Flask's own 404/405) to a JSON error, and
``conditional`` answers ``If-None-Match``/``If-Modified-Since``. This module is the routes.

- ``GET /playlists?limit=&cursor=&status=&provider=`` and ``GET /playlists/<id>``.
- ``POST /sync[?provider=name]``: runs ``ctx.sync.run_once()`` in the request and returns
  the ``SyncReport``. A large remote library belongs in a worker: enqueue
  ``SYNC_JOB_TYPE`` instead and answer ``202`` (see ``examples/fastapi_app.py``).
- ``GET /search?q=&limit=&offset=&sources=``, ``GET /providers/<name>/status``,
  ``GET /system/stats`` and ``GET /system/health`` (503 when not ready).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request

from harmony import (
    EventLogger,
    HarmonySettings,
    InvalidInputError,
    NotFoundError,
    PlaylistProvider,
)
from harmony.contrib.flask import close_app, conditional, get_context, init_app
from harmony.providers import sample_provider

__all__ = ["close_app", "create_app", "get_context", "main"]

#: Ids and cursors are 64-bit; harmony does not bound them, and a larger one fails in the
#: database driver (a bare OverflowError on SQLite, "bigint out of range" on PostgreSQL).
_MAX_ID = 2**63 - 1

api = Blueprint("harmony_api", __name__)


def create_app(
    settings: HarmonySettings | None = None,
    *,
    providers: Mapping[str, PlaylistProvider] | None = None,
    events: EventLogger | None = None,
    psutil: Any | None = None,
) -> Flask:
    """A Flask app serving harmony's core routes over one migrated :class:`HarmonyContext`.

    ``settings`` default to ``HARMONY_*`` variables, ``providers`` to the bundled sample
    library. Call :func:`close_app` when done (otherwise the context is closed when the
    app is garbage collected or the interpreter exits).
    """
    app = Flask(__name__)
    init_app(
        app,
        settings=settings,
        events=events,
        psutil=psutil,
        providers=providers if providers is not None else {"sample": sample_provider()},
    )
    app.register_blueprint(api)
    return app


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
    # No Last-Modified: a page's newest updated_at stays put when a playlist leaves it.
    return conditional(page.to_dict(), etag=page.etag)


@api.get("/playlists/<int:playlist_id>")
def get_playlist(playlist_id: int) -> Response:
    """One playlist with its ordered tracks, conditional on its ETag and Last-Modified."""
    if playlist_id > _MAX_ID:
        raise NotFoundError(f"no playlist with id {playlist_id}")
    detail = get_context().playlists.get(playlist_id)
    return conditional(
        detail.model_dump(mode="json"), etag=detail.etag, last_modified=detail.last_modified
    )


@api.post("/sync")
def sync() -> Response:
    """Sync every registered provider (or ``?provider=name``) now; returns the report."""
    body = request.get_json(silent=True)
    provider = request.args.get("provider") or (
        body.get("provider") if isinstance(body, dict) else None
    )
    return jsonify(get_context().sync.run_once(provider).model_dump(mode="json"))


@api.get("/search")
def search() -> Response:
    """Ranked tracks for ``q`` across the library and search providers."""
    result = get_context().search.tracks(
        request.args.get("q", ""),
        sources=request.args.getlist("sources") or None,
        limit=_int_arg("limit", 20),
        offset=_int_arg("offset", 0),
    )
    return jsonify(result.model_dump(mode="json") | {"partial": result.partial})


@api.get("/providers/<name>/status")
def provider_status(name: str) -> Response:
    """What harmony can do with ``name`` now; cached, but never across credential changes."""
    entry = get_context().providers.cached_status(name)
    return conditional(
        entry.value.model_dump(mode="json"), etag=entry.etag, last_modified=entry.last_modified
    )


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


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be an integer, got {raw!r:.40}") from None


def main(argv: list[str] | None = None) -> None:
    """Serve the app with Flask's development server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", help="database URL (default: HARMONY_DATABASE_URL or harmony's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = create_app(HarmonySettings.from_env(**({"database_url": args.url} if args.url else {})))
    try:
        app.run(host=args.host, port=args.port, threaded=True)
    finally:
        close_app(app)


if __name__ == "__main__":
    main()
