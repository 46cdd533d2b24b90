"""spotipy's token cache lives in harmony's credential store: no ``.cache`` file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import spotipy  # type: ignore[import-untyped]
from cryptography.fernet import Fernet

from harmony.providers.spotify import CredentialCacheHandler, SpotifyProvider
from harmony.testing.pytest_plugin import ContextFactory
from harmony.testing.spotify_server import FakeSpotifyServer

TOKEN = "token-from-the-oauth-server"


class _TokenEndpoint(BaseHTTPRequestHandler):
    """Spotify's accounts service, as far as exchanging a code for a token goes."""

    posts: list[str] = []

    def do_POST(self) -> None:
        self.posts.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
        body = json.dumps(
            {
                "access_token": TOKEN,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": "refresh-me",
                "scope": "playlist-read-private",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    _TokenEndpoint.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/token"
    finally:
        server.shutdown()
        server.server_close()


def _oauth(handler: CredentialCacheHandler, token_url: str) -> Any:
    auth = spotipy.SpotifyOAuth(
        client_id="client-id",
        client_secret="client-secret",
        redirect_uri="http://127.0.0.1/cb",
        scope="playlist-read-private",
        cache_handler=handler,
        open_browser=False,
    )
    auth.OAUTH_TOKEN_URL = token_url
    return auth


def test_the_oauth_token_is_cached_in_the_credential_store_and_never_in_the_working_directory(
    harmony_context_factory: ContextFactory,
    token_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    ctx = harmony_context_factory(settings={"credentials_key": Fernet.generate_key().decode()})
    handler = CredentialCacheHandler(ctx.credentials)

    assert _oauth(handler, token_url).get_access_token("the-code", as_dict=False) == TOKEN
    assert len(_TokenEndpoint.posts) == 1

    # A new auth manager (another process, a restart) finds the token without asking again.
    again = _oauth(CredentialCacheHandler(ctx.credentials), token_url)
    assert again.validate_token(again.cache_handler.get_cached_token())["access_token"] == TOKEN
    with FakeSpotifyServer([{"id": "p1", "name": "One"}], token=TOKEN) as fake:
        provider = SpotifyProvider(auth_manager=again, api_prefix=fake.url, sleep=lambda _: None)
        assert [p["name"] for p in provider.iter_playlists()] == ["One"]
    assert len(_TokenEndpoint.posts) == 1

    assert list(workdir.iterdir()) == []  # no .cache (nor anything else)
    stored = ctx.credentials.get("spotify.oauth")
    assert (
        stored is not None
        and json.loads(stored.reveal("token_info"))["refresh_token"] == "refresh-me"
    )
    assert TOKEN not in repr(stored) and TOKEN not in repr(handler)


def test_an_empty_or_damaged_cache_reads_as_no_token(
    harmony_context_factory: ContextFactory,
) -> None:
    ctx = harmony_context_factory()
    handler = CredentialCacheHandler(ctx.credentials, name="spotify.test")
    assert handler.get_cached_token() is None
    ctx.credentials.set("spotify.test", token_info="{not json")
    assert handler.get_cached_token() is None
