"""The HTTP plumbing and :class:`FakeSpotifyServer`, which holds the fake account, routes
requests and records them; see :mod:`harmony.testing.spotify_server`."""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from harmony.errors import HarmonyError, InvalidInputError, NotFoundError
from harmony.testing.spotify_server._data import (
    FakePlaylist,
    FakeTrack,
    MalformKind,
    _JsonShapes,
    _malformed,
    _search_hits,
)
from harmony.testing.spotify_server._faults import (
    Fault,
    RecordedRequest,
    _Answer,
    _BadRequest,
    _FaultSchedule,
    _json_answer,
    _redacted,
)
from harmony.testing.spotify_server._library import FakeAlbum, _LibraryMixin

__all__ = ["FakeSpotifyServer"]

_PLAYLIST_ITEMS = re.compile(r"^/v1/playlists/(?P<id>[^/]+)/(?:tracks|items)$")
_PLAYLIST = re.compile(r"^/v1/playlists/(?P<id>[^/]+)$")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a delayed (timeout) answer must not hold up close()

    def __init__(self, fake: FakeSpotifyServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def _serve(self) -> None:
        answer = self.server.fake._answer(self.command, self.path, dict(self.headers.items()))
        if answer.delay:
            time.sleep(answer.delay)
        if answer.disconnect:
            self.close_connection = True
            return
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a delay fault longer than its timeout): expected.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; :attr:`FakeSpotifyServer.requests` records everything."""


class FakeSpotifyServer(_LibraryMixin):
    """A threaded local fake of the Spotify Web API; use it as a context manager.

    ``playlists`` are :class:`FakePlaylist` or mappings (``id``, ``name``, ``tracks``,
    optional ``description``, ``owner``, ``snapshot_id``); ``catalog`` adds search-only
    tracks; ``liked`` (Liked Songs, newest first) and ``albums`` (saved albums,
    :class:`FakeAlbum` or mappings) fill the library. Requests must carry ``Authorization: Bearer <token>``. ``legacy_fields=False``
    leaves out the deprecated ``tracks``/``track`` fields. Thread-safe.
    """

    #: Largest ``limit`` each endpoint accepts (Spotify's documented maxima); larger values
    #: answer 400 like Spotify. Subclass to change them.
    MAX_LIMITS: ClassVar[Mapping[str, int]] = MappingProxyType(
        {
            "playlists": 50,
            "tracks": 50,
            "search": 50,
            "saved_tracks": 50,
            "saved_albums": 50,
            "album_tracks": 50,
        }
    )
    #: ``limit`` when a request gives none.
    DEFAULT_LIMITS: ClassVar[Mapping[str, int]] = MappingProxyType(
        {
            "playlists": 20,
            "tracks": 20,
            "search": 20,
            "saved_tracks": 20,
            "saved_albums": 20,
            "album_tracks": 20,
        }
    )

    def __init__(
        self,
        playlists: Iterable[FakePlaylist | Mapping[str, Any]] = (),
        *,
        token: str = "fake-token",
        user_id: str = "fakeuser",
        display_name: str | None = "Fake User",
        catalog: Iterable[FakeTrack | Mapping[str, Any]] = (),
        legacy_fields: bool = True,
        liked: Iterable[FakeTrack | Mapping[str, Any]] = (),
        albums: Iterable[FakeAlbum | Mapping[str, Any]] = (),
    ) -> None:
        self._lock = threading.RLock()
        self._shapes = _JsonShapes(lambda: self.base_url, legacy_fields)
        self._token = token
        self._user_id = user_id
        self._display_name = display_name
        self._revision = 0
        self._playlists: list[FakePlaylist] = []
        self._catalog = tuple(FakeTrack.of(t) for t in catalog)
        self._faults = _FaultSchedule()
        self._requests: list[RecordedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for playlist in playlists:
            self.add_playlist(playlist)
        self._init_library(liked, albums)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSpotifyServer:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        with self._lock:
            if self._httpd is None:
                self._httpd = _HTTPServer(self)
                self._thread = threading.Thread(
                    target=self._httpd.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name="fake-spotify",
                    daemon=True,
                )
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        with self._lock:
            httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSpotifyServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        with self._lock:
            if self._httpd is None:
                raise HarmonyError("FakeSpotifyServer is not running: call start() or use `with`")
            return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        """The API prefix, ``http://127.0.0.1:PORT/v1/`` (spotipy's ``prefix``)."""
        return f"{self.base_url}/v1/"

    # -- data --------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The access token requests must present."""
        with self._lock:
            return self._token

    @token.setter
    def token(self, value: str) -> None:
        # Changing it makes the old token "expired" for every following request.
        with self._lock:
            self._token = value

    @property
    def playlists(self) -> tuple[FakePlaylist, ...]:
        """The account's playlists, in ``/me/playlists`` order."""
        with self._lock:
            return tuple(self._playlists)

    def playlist(self, playlist_id: str) -> FakePlaylist:
        """One playlist by id (``NotFoundError`` when absent)."""
        with self._lock:
            return self._playlists[self._index(playlist_id)]

    def add_playlist(
        self, playlist: FakePlaylist | Mapping[str, Any], *, position: int | None = None
    ) -> FakePlaylist:
        """Add a playlist (at the end, or at ``position``); returns it with its snapshot id."""
        value = FakePlaylist.of(playlist)
        with self._lock:
            if any(p.id == value.id for p in self._playlists):
                raise InvalidInputError(f"a fake playlist with id {value.id!r} already exists")
            if value.snapshot_id is None:
                value = replace(value, snapshot_id=self._next_snapshot(value.id))
            self._playlists.insert(len(self._playlists) if position is None else position, value)
            return value

    def remove_playlist(self, playlist_id: str) -> None:
        """Remove (unfollow) a playlist."""
        with self._lock:
            del self._playlists[self._index(playlist_id)]

    def update_playlist(self, playlist_id: str, **changes: Any) -> FakePlaylist:
        """Change fields (``name``, ``description``, ``owner_name``, ...); new snapshot id."""
        if "tracks" in changes:
            changes["tracks"] = tuple(FakeTrack.of(t) for t in changes["tracks"])
        with self._lock:
            index = self._index(playlist_id)
            try:
                changed = replace(self._playlists[index], **changes)
            except TypeError as exc:
                raise InvalidInputError(f"cannot update fake playlist: {exc}") from exc
            if "snapshot_id" not in changes:
                changed = replace(changed, snapshot_id=self._next_snapshot(playlist_id))
            self._playlists[index] = changed
            return changed

    def rename_playlist(self, playlist_id: str, name: str) -> FakePlaylist:
        """Rename a playlist; its snapshot id changes."""
        return self.update_playlist(playlist_id, name=name)

    def set_tracks(
        self, playlist_id: str, tracks: Iterable[FakeTrack | Mapping[str, Any]]
    ) -> FakePlaylist:
        """Replace a playlist's entries; its snapshot id changes."""
        return self.update_playlist(playlist_id, tracks=tuple(tracks))

    def add_tracks(
        self, playlist_id: str, tracks: Iterable[FakeTrack | Mapping[str, Any]]
    ) -> FakePlaylist:
        """Append entries to a playlist; its snapshot id changes."""
        with self._lock:
            current = self.playlist(playlist_id).tracks
            return self.set_tracks(playlist_id, current + tuple(FakeTrack.of(t) for t in tracks))

    def malform_item(
        self, playlist_id: str, position: int, kind: MalformKind = "null_track"
    ) -> FakePlaylist:
        """Break the entry at ``position``: ``track: null``, a track without ``name`` or
        ``id``, or a local file (``is_local`` with ``id: null``)."""
        with self._lock:
            playlist = self.playlist(playlist_id)
            tracks = list(playlist.tracks)
            track = tracks[position]
            tracks[position] = _malformed(track, self._shapes.item(track, playlist), kind)
            return self.set_tracks(playlist_id, tracks)

    # -- faults and recording ----------------------------------------------------------------

    def schedule(
        self,
        path: str,
        fault: Fault,
        *,
        times: int = 1,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` requests whose path matches ``path`` (an ``fnmatch`` pattern
        such as ``/v1/playlists/*/items``, ``*`` for any) and whose query contains ``query``
        get ``fault``. Scheduled faults are used in the order they were added."""
        if times < 1:
            raise InvalidInputError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.add(method.upper(), path, dict(query or {}), fault, times)

    def fail_next(
        self,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` matching requests answer ``status`` (500 by default)."""
        self.schedule(path, Fault(status=status, body=body), times=times, query=query)

    def rate_limit_next(
        self,
        path: str,
        retry_after: float | None = 1,
        *,
        times: int = 1,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` matching requests answer 429 with ``Retry-After: retry_after``."""
        self.schedule(path, Fault(status=429, retry_after=retry_after), times=times, query=query)

    def disconnect_next(
        self, path: str, *, times: int = 1, query: Mapping[str, str] | None = None
    ) -> None:
        """The next ``times`` matching requests get the connection closed without an answer."""
        self.schedule(path, Fault(disconnect=True), times=times, query=query)

    def clear_faults(self) -> None:
        """Drop every fault not used yet."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many scheduled fault answers are still to be given."""
        with self._lock:
            return self._faults.pending

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests whose path matches the ``fnmatch`` pattern ``path``."""
        return [r for r in self.requests if fnmatchcase(r.path, path)]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    # -- request handling --------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> _Answer:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            answer = self._faults.take(method, parts.path, query)
            if answer is None:
                try:
                    answer = self._route(method, parts.path, query, headers)
                except _BadRequest as exc:
                    answer = exc.answer()
            self._requests.append(
                RecordedRequest(
                    method,
                    parts.path,
                    query,
                    _redacted(headers),
                    None if answer.disconnect else answer.status,
                )
            )
        return answer

    def _route(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> _Answer:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth is None:
            raise _BadRequest(401, "No token provided")
        if not secrets.compare_digest(auth.encode(), f"Bearer {self._token}".encode()):
            raise _BadRequest(401, "Invalid access token")
        if method != "GET":
            raise _BadRequest(405, f"{method} is not supported by the fake")
        if path == "/v1/me":
            return _json_answer(200, self._shapes.user(self._user_id, self._display_name))
        if path == "/v1/me/playlists":
            limit, offset = self._window(query, "playlists")
            items = [self._shapes.playlist(p) for p in self._playlists]
            return _json_answer(200, self._shapes.paging(path, query, items, limit, offset))
        if (match := _PLAYLIST_ITEMS.match(path)) is not None:
            playlist = self._find(match["id"])
            limit, offset = self._window(query, "tracks")
            items = [self._shapes.item(t, playlist) for t in playlist.tracks]
            return _json_answer(200, self._shapes.paging(path, query, items, limit, offset))
        if (match := _PLAYLIST.match(path)) is not None:
            playlist = self._find(match["id"])
            items = [self._shapes.item(t, playlist) for t in playlist.tracks]
            body = self._shapes.playlist(playlist)
            for key in ("items", "tracks") if self._shapes.legacy else ("items",):
                body[key] = self._shapes.paging(f"{path}/{key}", {}, items, 100, 0)
            return _json_answer(200, body)
        if path == "/v1/search":
            return _json_answer(200, self._search(query))
        library = self._route_library(path, query)
        if library is not None:
            return library
        raise _BadRequest(404, "Service not found")

    def _window(self, query: Mapping[str, str], endpoint: str) -> tuple[int, int]:
        try:
            limit = int(query.get("limit", self.DEFAULT_LIMITS[endpoint]))
        except ValueError:
            raise _BadRequest(400, "Invalid limit") from None
        try:
            offset = int(query.get("offset", 0))
        except ValueError:
            raise _BadRequest(400, "Invalid offset") from None
        if not 1 <= limit <= self.MAX_LIMITS[endpoint]:
            raise _BadRequest(400, "Invalid limit")
        if offset < 0:
            raise _BadRequest(400, "Invalid offset")
        return limit, offset

    def _search(self, query: Mapping[str, str]) -> dict[str, Any]:
        q = query.get("q", "").strip()
        if not q:
            raise _BadRequest(400, "No search query")
        types = [t for t in query.get("type", "").split(",") if t]
        if not types:
            raise _BadRequest(400, "Missing parameter type")
        limit, offset = self._window(query, "search")
        if offset > 1000:
            raise _BadRequest(400, "Invalid offset")
        hits = _search_hits((*self._catalog, *(t for p in self._playlists for t in p.tracks)), q)
        result: dict[str, Any] = {}
        for kind in types:
            items = [self._shapes.track(t) for t in hits] if kind == "track" else []
            result[f"{kind}s"] = self._shapes.paging("/v1/search", query, items, limit, offset)
        return result

    # -- helpers -----------------------------------------------------------------------------

    def _index(self, playlist_id: str) -> int:
        for index, playlist in enumerate(self._playlists):
            if playlist.id == playlist_id:
                return index
        raise NotFoundError(f"the fake has no playlist {playlist_id!r}")

    def _find(self, playlist_id: str) -> FakePlaylist:
        try:
            return self._playlists[self._index(playlist_id)]
        except NotFoundError:
            raise _BadRequest(404, "Resource not found") from None

    def _next_snapshot(self, playlist_id: str) -> str:
        self._revision += 1
        return f"snapshot-{playlist_id}-{self._revision}"
