"""A long-lived process serving playlist reads through its context's cache (JSON lines).

Started by the coherence tests: one request per stdin line (``{"op": "list"}``,
``{"op": "get", "id": 3}``, ``{"op": "stats"}``), one JSON reply per stdout line. Its
context has the default settings, so its cache lives for 300 s unless the change feed says
otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harmony import HarmonyContext, HarmonySettings, NotFoundError
from harmony._events.loggers import RecordingEventLogger


def _serve(ctx: HarmonyContext, events: RecordingEventLogger, request: dict[str, Any]) -> Any:
    op = request["op"]
    if op == "list":
        page = ctx.playlists.list_page(
            provider=request.get("provider"), status=request.get("status", "active"), limit=500
        )
        return {
            "etag": page.etag,
            "items": [[p.id, p.name, p.version, p.etag, p.status] for p in page.items],
        }
    if op == "get":
        try:
            detail = ctx.playlists.get(request["id"])
        except NotFoundError:
            return {"missing": True}
        return {
            "etag": detail.etag,
            "name": detail.name,
            "status": detail.status,
            "tracks": [[t.provider_id, t.title] for t in detail.tracks],
        }
    if op == "stats":
        assert ctx.cache is not None
        stats = ctx.cache.stats()
        revalidations = [dict(e.fields) for e in events if e.name == "cache.revalidate"]
        return {"hits": stats.hits, "misses": stats.misses, "revalidations": revalidations}
    raise ValueError(f"unknown op {op!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema")
    args = parser.parse_args()
    settings = HarmonySettings(database_url=args.url, database_schema=args.schema)
    events = RecordingEventLogger()
    with HarmonyContext(settings, events=events) as ctx:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "quit":
                break
            try:
                reply = _serve(ctx, events, request)
            except Exception as exc:  # reported to the test, which fails on it
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(reply, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
