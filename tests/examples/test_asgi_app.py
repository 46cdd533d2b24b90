"""examples/asgi_app.py (plain ASGI on harmony.http) under a real uvicorn server."""

from __future__ import annotations

import httpx

from examples.asgi_app import HarmonyASGI
from harmony import HarmonySettings
from tests.servers import serve_asgi


def test_the_plain_asgi_host_serves_playlists_with_304s_and_mapped_errors(
    harmony_settings: HarmonySettings,
) -> None:
    app = HarmonyASGI(harmony_settings)
    with serve_asgi(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        listing = client.get("/playlists")
        assert listing.status_code == 200 and len(listing.json()["items"]) == 12
        assert "Last-Modified" not in listing.headers
        assert (
            client.get("/playlists", headers={"If-None-Match": listing.headers["ETag"]}).status_code
            == 304
        )

        detail = client.get("/playlists/1")
        assert detail.status_code == 200 and detail.json()["tracks"]
        etag, stamp = detail.headers["ETag"], detail.headers["Last-Modified"]
        cached = client.get("/playlists/1", headers={"If-None-Match": f'"x", W/{etag}'})
        assert (cached.status_code, cached.content, cached.headers["ETag"]) == (304, b"", etag)
        assert client.get("/playlists/1", headers={"If-Modified-Since": stamp}).status_code == 304
        assert client.get("/playlists/1", headers={"If-Match": '"stale"'}).status_code == 412
        head = client.head("/playlists/1")
        assert (head.status_code, head.content, head.headers["ETag"]) == (200, b"", etag)

        missing = client.get("/playlists/999")
        assert missing.status_code == 404
        assert missing.json() == {
            "error": {"type": "NotFoundError", "message": "no playlist with id 999"}
        }
        assert client.get("/nowhere").json()["error"]["type"] == "NotFoundError"
        refused = client.post("/playlists")
        assert (refused.status_code, refused.headers["Allow"]) == (405, "GET, HEAD")
        ctx = app.context
        assert ctx is not None and not ctx.closed
    assert ctx.closed
