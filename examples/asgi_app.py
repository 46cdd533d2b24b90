"""A framework-free ASGI host: harmony's playlists over plain ASGI with harmony.http.

    pip install -e '.[examples]'                  # uvicorn
    uvicorn examples.asgi_app:app                 # settings from HARMONY_* variables
    curl -i localhost:8000/playlists/1            # then again with If-None-Match: <ETag>

No web framework: the ASGI lifespan messages build, migrate and close one
:class:`~harmony.HarmonyContext`; :mod:`harmony.http` supplies error statuses and bodies
and the conditional-request rules. Routes: ``GET /playlists`` (the first page) and
``GET /playlists/<id>``; a sync runs at startup when the database has no playlists.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from harmony import HarmonyContext, HarmonyError, HarmonySettings, NotFoundError
from harmony.http import (
    Preconditions,
    check_conditional,
    error_body,
    precondition_failed_body,
    status_for,
)
from harmony.providers import sample_provider

__all__ = ["HarmonyASGI", "app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_DETAIL = re.compile(r"/playlists/([1-9][0-9]{0,17})")


class HarmonyASGI:
    """An ASGI application serving one context, built at startup from ``settings``."""

    def __init__(self, settings: HarmonySettings | None = None) -> None:
        self._settings = settings
        self.context: HarmonyContext | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            status, headers, body = await asyncio.to_thread(self._answer, scope)
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.context = await asyncio.to_thread(self._open)
                except Exception as exc:  # reported to the server, which refuses to start
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.context is not None:
                    await asyncio.to_thread(self.context.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _open(self) -> HarmonyContext:
        settings = self._settings if self._settings is not None else HarmonySettings.from_env()
        ctx = HarmonyContext(settings, providers={"sample": sample_provider()})
        try:
            ctx.migrate()
            if ctx.playlists.count() == 0:
                ctx.sync.run_once()
        except BaseException:
            ctx.close()
            raise
        return ctx

    def _answer(self, scope: Scope) -> tuple[int, dict[str, str], bytes]:
        if scope["method"] not in ("GET", "HEAD"):
            body = {"error": {"type": "MethodNotAllowed", "message": "this host only reads"}}
            return 405, {**_JSON, "Allow": "GET, HEAD"}, json.dumps(body).encode()
        try:
            if self.context is None:
                raise HarmonyError("harmony is not running: the server sent no lifespan startup")
            if scope["path"] == "/playlists":
                page = self.context.playlists.list_page()
                payload: Any = page.to_dict()
                etag, last_modified = page.etag, None  # a page's date is no validator
            elif match := _DETAIL.fullmatch(scope["path"]):
                detail = self.context.playlists.get(int(match.group(1)))
                payload = detail.model_dump(mode="json")
                etag, last_modified = detail.etag, detail.last_modified
            else:
                raise NotFoundError(f"no route for GET {scope['path']}")
        except Exception as exc:  # harmony's errors by the table; others as a bare 500
            if not isinstance(exc, HarmonyError):
                _log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            return status_for(exc), _JSON, json.dumps(error_body(exc)).encode()
        result = check_conditional(
            Preconditions.from_headers(scope["headers"]),
            method=scope["method"],
            etag=etag,
            last_modified=last_modified,
        )
        if result.status == 412:
            return 412, _JSON, json.dumps(precondition_failed_body()).encode()
        if result.status == 304:
            return 304, dict(result.headers), b""
        body = json.dumps(payload).encode() if scope["method"] == "GET" else b""
        return 200, {**_JSON, **result.headers}, body


_JSON = {"Content-Type": "application/json"}
_log = logging.getLogger("harmony.examples.asgi")

#: ``uvicorn examples.asgi_app:app``
app = HarmonyASGI()
