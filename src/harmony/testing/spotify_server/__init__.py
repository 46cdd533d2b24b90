"""A fake Spotify Web API on a local port, for tests that drive a real HTTP client.

:class:`FakeSpotifyServer` speaks the read side of the Web API that harmony uses, with the
real JSON shapes: ``GET /v1/me``, ``/v1/me/playlists``, ``/v1/playlists/{id}``,
``/v1/playlists/{id}/items`` (and the deprecated ``/tracks``), ``/v1/search?type=track``, and
the library: ``/v1/me/tracks`` (Liked Songs), ``/v1/me/albums`` (saved albums),
``/v1/albums/{id}`` and ``/v1/albums/{id}/tracks``.
Responses use the field names of Spotify's February 2026 API (a playlist's ``items``, an
entry's ``item``) and, unless ``legacy_fields=False``, the deprecated ones too (``tracks``,
``track``). Point spotipy at it with ``prefix=server.url``::

    with FakeSpotifyServer([{"id": "mix", "name": "Mix", "tracks": [...]}], token="t") as server:
        provider = SpotifyProvider(token="t", api_prefix=server.url)

Faults are scheduled per path (``fail_next``, ``rate_limit_next``, ``disconnect_next``) and
every request is recorded (:attr:`FakeSpotifyServer.requests`) with the token redacted.
Ids must be base62 (letters and digits), as spotipy checks them before sending.
"""

from harmony.testing.spotify_server._data import FakePlaylist, FakeTrack
from harmony.testing.spotify_server._data import MalformKind as MalformKind
from harmony.testing.spotify_server._faults import Fault, RecordedRequest
from harmony.testing.spotify_server._library import FakeAlbum
from harmony.testing.spotify_server._server import FakeSpotifyServer

__all__ = [
    "FakeAlbum",
    "FakePlaylist",
    "FakeSpotifyServer",
    "FakeTrack",
    "Fault",
    "RecordedRequest",
]
