"""examples/flask_app.py served by a real HTTP server on 127.0.0.1, called with httpx.

Every test runs on SQLite and on PostgreSQL (harmony's backend-parametrised fixtures).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from harmony.testing import FakePsutil, InMemoryProvider
from tests.servers import serve_wsgi

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app.py"


def _load_example() -> ModuleType:
    # examples/ is not a package; load the file as users run it. Flask needs the module
    # in sys.modules to find its root path.
    name = "harmony_examples_flask_app"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


flask_app = _load_example()

Serve = Callable[..., tuple[Any, httpx.Client]]


def _tracks(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{i}", "title": f"Song {prefix}{i}", "artists": ["Band"], "album": "LP"}
        for i in range(count)
    ]


@pytest.fixture
def serve(harmony_settings_factory: Any) -> Iterator[Serve]:
    """``serve(**create_app_kwargs) -> (app, client)``: the app behind a real threaded server."""
    with ExitStack() as cleanup:

        def start(
            *, before_serve: Callable[[Any], None] | None = None, **kwargs: Any
        ) -> tuple[Any, httpx.Client]:
            app = flask_app.create_app(harmony_settings_factory(), **kwargs)
            cleanup.callback(flask_app.close_app, app)
            if before_serve is not None:
                before_serve(app)
            url = cleanup.enter_context(serve_wsgi(app))
            client = cleanup.enter_context(httpx.Client(base_url=url, timeout=30, trust_env=False))
            return app, client

        yield start


def _assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) in ({"type", "message"}, {"type", "message", "report"})
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    for word in words:
        assert word in message
    assert "Traceback" not in response.text


def test_playlist_etags_answer_304_until_a_sync_changes_the_playlist(serve: Serve) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("p1", "Road trip", _tracks("a", 3))
    provider.set_playlist("p2", "Focus", _tracks("b", 2))
    _app, client = serve(providers={"memory": provider})

    synced = client.post("/sync")
    assert synced.status_code == 200
    assert synced.json()["created"] == 2

    listing = client.get("/playlists")
    assert listing.status_code == 200
    assert [p["name"] for p in listing.json()["items"]] == ["Road trip", "Focus"]
    list_etag = listing.headers["ETag"]
    assert list_etag.startswith('"') and "Last-Modified" not in listing.headers
    assert listing.headers["Cache-Control"] == "no-cache"
    ids = {p["name"]: p["id"] for p in listing.json()["items"]}

    detail = client.get(f"/playlists/{ids['Road trip']}")
    assert detail.status_code == 200
    assert [t["title"] for t in detail.json()["tracks"]] == ["Song a0", "Song a1", "Song a2"]
    detail_etag = detail.headers["ETag"]
    assert detail.headers["Last-Modified"].endswith("GMT")
    other_etag = client.get(f"/playlists/{ids['Focus']}").headers["ETag"]

    not_modified = client.get("/playlists", headers={"If-None-Match": list_etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["ETag"] == list_etag
    for etag in (detail_etag, f"W/{detail_etag}", f'"nope", {detail_etag}'):
        again = client.get(f"/playlists/{ids['Road trip']}", headers={"If-None-Match": etag})
        assert again.status_code == 304, etag
    assert (
        client.get(
            f"/playlists/{ids['Road trip']}", headers={"If-None-Match": '"stale"'}
        ).status_code
        == 200
    )

    provider.rename("p1", "Road trip 2025")
    resynced = client.post("/sync").json()
    assert (resynced["updated"], resynced["unchanged"]) == (1, 1)
    assert resynced["playlist_ids"] == [ids["Road trip"]]

    listing = client.get("/playlists", headers={"If-None-Match": list_etag})
    assert listing.status_code == 200
    assert listing.json()["items"][0]["name"] == "Road trip 2025"
    assert listing.headers["ETag"] != list_etag
    detail = client.get(f"/playlists/{ids['Road trip']}", headers={"If-None-Match": detail_etag})
    assert detail.status_code == 200
    assert detail.json()["name"] == "Road trip 2025" and detail.json()["version"] == 2
    assert detail.headers["ETag"] != detail_etag
    # The new tags validate again; the untouched playlist kept its tag.
    assert (
        client.get("/playlists", headers={"If-None-Match": listing.headers["ETag"]}).status_code
        == 304
    )
    assert (
        client.get(
            f"/playlists/{ids['Road trip']}", headers={"If-None-Match": detail.headers["ETag"]}
        ).status_code
        == 304
    )
    assert (
        client.get(f"/playlists/{ids['Focus']}", headers={"If-None-Match": other_etag}).status_code
        == 304
    )


def test_playlist_pages_follow_the_cursor_and_filter_by_status(serve: Serve) -> None:
    provider = InMemoryProvider()
    for n in range(3):
        provider.set_playlist(f"p{n}", f"List {n}", _tracks(f"t{n}-", 1))
    _app, client = serve(providers={"memory": provider})
    client.post("/sync?provider=memory").raise_for_status()

    first = client.get("/playlists", params={"limit": 2}).json()
    assert [p["name"] for p in first["items"]] == ["List 0", "List 1"]
    second = client.get("/playlists", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [p["name"] for p in second["items"]] == ["List 2"] and second["next_cursor"] is None

    provider.remove_playlist("p1")
    assert client.post("/sync", json={"provider": "memory"}).json()["removed"] == 1
    removed = client.get("/playlists", params={"status": "removed"}).json()["items"]
    assert [p["name"] for p in removed] == ["List 1"]
    active = client.get("/playlists").json()["items"]
    assert [p["name"] for p in active] == ["List 0", "List 2"]


def test_stats_come_from_the_injected_psutil(serve: Serve) -> None:
    _app, client = serve(psutil=FakePsutil(cpu=33.0, cores=6))
    response = client.get("/system/stats")
    assert response.status_code == 200
    stats = response.json()
    assert stats["cpu"]["percent"] == 33.0 and stats["cpu"]["logical_cores"] == 6
    assert stats["memory"]["total"] == 16 * 2**30
    assert stats["disk"]["total"] == 500 * 2**30
    assert {"bytes_sent", "bytes_recv"} <= set(stats["network"])
    assert response.headers["Cache-Control"] == "no-store"


def test_stats_failure_is_a_503_without_traceback(serve: Serve) -> None:
    _app, client = serve(psutil=FakePsutil(fail=OSError("no /proc here")))
    _assert_error(client.get("/system/stats"), 503, "no /proc here")


def test_health_is_ready_after_create_app_migrated(serve: Serve) -> None:
    _app, client = serve()
    response = client.get("/system/health")
    assert response.status_code == 200, response.text
    assert response.json()["ready"] is True


def test_provider_status_follows_credential_changes_through_the_cache(serve: Serve) -> None:
    app, client = serve()
    ctx = flask_app.get_context(app)

    before = client.get("/providers/spotify/status")
    assert before.status_code == 200
    assert before.json()["configured"] is False
    etag = before.headers["ETag"]
    # Served from the response cache: the same computed status, and a 304 on its tag.
    assert (
        client.get("/providers/spotify/status").json()["checked_at"] == before.json()["checked_at"]
    )
    assert (
        client.get("/providers/spotify/status", headers={"If-None-Match": etag}).status_code == 304
    )

    ctx.credentials.set("spotify", client_id="abc", client_secret="s3cr3t")
    after = client.get("/providers/spotify/status", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.json()["configured"] is True and after.json()["pro_features"] is False
    assert after.json()["credential_keys"] == ["client_id", "client_secret"]
    assert "s3cr3t" not in after.text
    assert after.headers["ETag"] != etag

    ctx.credentials.clear("spotify")
    cleared = client.get(
        "/providers/spotify/status", headers={"If-None-Match": after.headers["ETag"]}
    )
    assert cleared.status_code == 200 and cleared.json()["configured"] is False

    sample = client.get("/providers/sample/status").json()
    assert sample["registered"] is True and sample["configured"] is True


def test_search_ranks_the_exact_title_first_on_the_sample_library(serve: Serve) -> None:
    _app, client = serve()
    assert client.post("/sync").json()["created"] == 12

    response = client.get("/search", params={"q": "deja vu", "limit": 5})
    assert response.status_code == 200, response.text
    result = response.json()
    titles = [(hit["title"], hit["artists"]) for hit in result["items"]]
    assert titles[0] == ("Déjà Vu", ["Chloé Dufresne"])
    assert titles[1] == ("Déjà Vu Again", ["Aurora Vale"])
    assert result["items"][0]["score"] > result["items"][1]["score"]
    assert result["partial"] is False and result["sources"] == ["local"]

    one = client.get(
        "/search", params={"q": "deja vu", "limit": 1, "offset": 1, "sources": "local"}
    )
    assert [hit["title"] for hit in one.json()["items"]] == ["Déjà Vu Again"]


def test_harmony_errors_map_to_json_statuses(serve: Serve) -> None:
    _app, client = serve()
    client.post("/sync").raise_for_status()

    _assert_error(client.get("/playlists/999999"), 404, "999999")
    _assert_error(client.get("/playlists", params={"limit": "abc"}), 400, "limit")
    _assert_error(client.get("/playlists", params={"limit": 0}), 400, "limit")
    _assert_error(client.get("/playlists", params={"limit": 100000}), 400, "limit")
    _assert_error(client.get("/playlists", params={"status": "bogus"}), 400, "status")
    _assert_error(client.get("/playlists", params={"cursor": "xyz"}), 400, "cursor")
    # Beyond 64 bits: harmony lets these reach the driver, the host bounds them.
    _assert_error(client.get(f"/playlists/{2**63}"), 404, str(2**63))
    _assert_error(client.get("/playlists", params={"cursor": "9" * 19}), 400, "cursor")
    _assert_error(client.get("/playlists", params={"cursor": "²"}), 400, "cursor")
    _assert_error(client.get("/search", params={"q": ""}), 400)
    _assert_error(client.get("/search", params={"q": "   "}), 400)
    _assert_error(client.get("/search"), 400)
    _assert_error(client.get("/search", params={"q": "x", "sources": "nope"}), 400, "nope")
    _assert_error(client.get("/search", params={"q": "x", "limit": "ten"}), 400, "limit")
    _assert_error(client.post("/sync", params={"provider": "nope"}), 400, "nope")
    _assert_error(client.get("/no/such/route"), 404)
    _assert_error(client.delete("/playlists"), 405)


def test_an_unexpected_error_is_a_500_that_hides_its_details(serve: Serve) -> None:
    def add_failing_route(app: Any) -> None:
        def boom() -> str:
            raise RuntimeError("internal detail: password=hunter2")

        app.add_url_rule("/boom", view_func=boom)

    _app, client = serve(before_serve=add_failing_route)
    response = client.get("/boom")
    _assert_error(response, 500)
    assert response.json() == {
        "error": {"type": "InternalServerError", "message": "internal server error"}
    }
    assert "hunter2" not in response.text


def test_a_failing_provider_is_a_502_and_the_others_still_sync(serve: Serve) -> None:
    broken = InMemoryProvider("broken")
    broken.fail_on.add("*")
    good = InMemoryProvider("good")
    good.set_playlist("g1", "Good", _tracks("g", 1))
    _app, client = serve(providers={"broken": broken, "good": good})

    response = client.post("/sync")
    _assert_error(response, 502, "broken")
    assert response.json()["error"]["report"]["created"] == 1
    assert [p["name"] for p in client.get("/playlists").json()["items"]] == ["Good"]


def test_close_app_closes_the_context_once(harmony_settings_factory: Any) -> None:
    app = flask_app.create_app(harmony_settings_factory())
    ctx = flask_app.get_context(app)
    assert app.extensions["harmony"].context is ctx and not ctx.closed
    flask_app.close_app(app)
    assert ctx.closed
    flask_app.close_app(app)  # idempotent
    assert ctx.closed
