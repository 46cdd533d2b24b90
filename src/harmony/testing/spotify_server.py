"""A fake Spotify Web API on a local port, for tests that drive a real HTTP client.

:class:`FakeSpotifyServer` speaks the read side of the Web API that harmony uses, with the
real JSON shapes: ``GET /v1/me``, ``/v1/me/playlists``, ``/v1/playlists/{id}``,
``/v1/playlists/{id}/items`` (and the deprecated ``/tracks``) and ``/v1/search?type=track``.
Responses use the field names of Spotify's February 2026 API (a playlist's ``items``, an
entry's ``item``) and, unless ``legacy_fields=False``, the deprecated ones too (``tracks``,
``track``). Point spotipy at it with ``prefix=server.url``::

    with FakeSpotifyServer([{"id": "mix", "name": "Mix", "tracks": [...]}], token="t") as server:
        provider = SpotifyProvider(token="t", api_prefix=server.url)

Faults are scheduled per path (``fail_next``, ``rate_limit_next``, ``disconnect_next``) and
every request is recorded (:attr:`FakeSpotifyServer.requests`) with the token redacted.
Ids must be base62 (letters and digits), as spotipy checks them before sending.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from harmony.errors import HarmonyError, InvalidInputError, NotFoundError

__all__ = ["FakePlaylist", "FakeSpotifyServer", "FakeTrack", "Fault", "RecordedRequest"]

#: How :meth:`FakeSpotifyServer.malform_item` breaks an item.
MalformKind = Literal["null_track", "missing_name", "missing_id", "local"]

_PLAYLIST_ITEMS = re.compile(r"^/v1/playlists/(?P<id>[^/]+)/(?:tracks|items)$")
_PLAYLIST = re.compile(r"^/v1/playlists/(?P<id>[^/]+)$")
_SEARCH_FILTER = re.compile(r'(\w+):(?:"([^"]*)"|(\S+))')
_ERROR_MESSAGES: Mapping[int, str] = MappingProxyType({
    400: "Bad request", 401: "Invalid access token", 403: "Forbidden",
    404: "Resource not found", 429: "API rate limit exceeded", 500: "Server error",
    502: "Bad gateway", 503: "Service unavailable"})


@dataclass(frozen=True, slots=True)
class FakeTrack:
    """One playlist entry (or catalogue track) as the fake serves it.

    ``raw``, when set, is served verbatim as the playlist-track object (use it for
    malformed items) and the track is left out of search results.
    """

    id: str | None
    name: str | None
    artists: tuple[str, ...] = ()
    album: str | None = None
    release_date: str | None = None
    duration_ms: int = 180_000
    isrc: str | None = None
    added_at: str = "2024-01-01T00:00:00Z"
    is_local: bool = False
    raw: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, value: FakeTrack | Mapping[str, Any]) -> FakeTrack:
        """Build from a mapping (``name`` or ``title``; ``artists`` a list or one string)."""
        if isinstance(value, FakeTrack):
            return value
        data = dict(value)
        if "title" in data and "name" not in data:
            data["name"] = data.pop("title")
        data.pop("title", None)
        artists = data.get("artists", ())
        data["artists"] = (artists,) if isinstance(artists, str) else tuple(artists)
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInputError(f"bad fake track {value!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FakePlaylist:
    """One playlist of the fake account; ``snapshot_id`` changes on every mutation."""

    id: str
    name: str
    description: str = ""
    owner_id: str = "fakeuser"
    owner_name: str | None = "Fake User"
    snapshot_id: str | None = None
    public: bool = True
    tracks: tuple[FakeTrack, ...] = ()

    @classmethod
    def of(cls, value: FakePlaylist | Mapping[str, Any]) -> FakePlaylist:
        """Build from a mapping; ``owner`` is a string (id and name) or ``{id, display_name}``."""
        if isinstance(value, FakePlaylist):
            return value
        data = dict(value)
        owner = data.pop("owner", None)
        if isinstance(owner, str):
            data.setdefault("owner_id", owner)
            data.setdefault("owner_name", owner)
        elif isinstance(owner, Mapping):
            data.setdefault("owner_id", owner.get("id", "fakeuser"))
            data.setdefault("owner_name", owner.get("display_name"))
        data["tracks"] = tuple(FakeTrack.of(t) for t in data.get("tracks", ()))
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInputError(f"bad fake playlist {value!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Fault:
    """A scheduled bad answer: a status (with ``Retry-After`` and body), or a dropped connection.

    ``delay`` seconds pass before answering (for client timeouts); ``body`` is JSON-encoded
    unless it is ``str``/``bytes``; ``None`` gives Spotify's error object for ``status``.
    """

    status: int = 500
    retry_after: float | None = None
    body: Any = None
    disconnect: bool = False
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the fake received. ``headers`` has the Authorization value redacted;
    ``status`` is what was answered (``None`` for a dropped connection)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None


@dataclass(slots=True)
class _Scheduled:
    method: str
    pattern: str
    query: Mapping[str, str]
    fault: Fault
    remaining: int

    def matches(self, method: str, path: str, query: Mapping[str, str]) -> bool:
        return (self.method in ("*", method) and fnmatchcase(path, self.pattern)
                and all(query.get(k) == v for k, v in self.query.items()))


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    disconnect: bool = False
    delay: float = 0.0


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


class FakeSpotifyServer:
    """A threaded local fake of the Spotify Web API; use it as a context manager.

    ``playlists`` are :class:`FakePlaylist` or mappings (``id``, ``name``, ``tracks``,
    optional ``description``, ``owner``, ``snapshot_id``); ``catalog`` adds search-only
    tracks. Requests must carry ``Authorization: Bearer <token>``. ``legacy_fields=False``
    leaves out the deprecated ``tracks``/``track`` fields. Thread-safe.
    """

    #: Largest ``limit`` each endpoint accepts (Spotify's documented maxima); larger values
    #: answer 400 like Spotify. Subclass to change them.
    MAX_LIMITS: ClassVar[Mapping[str, int]] = MappingProxyType(
        {"playlists": 50, "tracks": 50, "search": 50})
    #: ``limit`` when a request gives none.
    DEFAULT_LIMITS: ClassVar[Mapping[str, int]] = MappingProxyType(
        {"playlists": 20, "tracks": 20, "search": 20})

    def __init__(
        self,
        playlists: Iterable[FakePlaylist | Mapping[str, Any]] = (),
        *,
        token: str = "fake-token",
        user_id: str = "fakeuser",
        display_name: str | None = "Fake User",
        catalog: Iterable[FakeTrack | Mapping[str, Any]] = (),
        legacy_fields: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._legacy = legacy_fields
        self._token = token
        self._user_id = user_id
        self._display_name = display_name
        self._revision = 0
        self._playlists: list[FakePlaylist] = []
        self._catalog = tuple(FakeTrack.of(t) for t in catalog)
        self._faults: list[_Scheduled] = []
        self._requests: list[RecordedRequest] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for playlist in playlists:
            self.add_playlist(playlist)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSpotifyServer:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        with self._lock:
            if self._httpd is None:
                self._httpd = _HTTPServer(self)
                self._thread = threading.Thread(
                    target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                    name="fake-spotify", daemon=True)
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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

    def add_playlist(self, playlist: FakePlaylist | Mapping[str, Any], *,
                     position: int | None = None) -> FakePlaylist:
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

    def set_tracks(self, playlist_id: str,
                   tracks: Iterable[FakeTrack | Mapping[str, Any]]) -> FakePlaylist:
        """Replace a playlist's entries; its snapshot id changes."""
        return self.update_playlist(playlist_id, tracks=tuple(tracks))

    def add_tracks(self, playlist_id: str,
                   tracks: Iterable[FakeTrack | Mapping[str, Any]]) -> FakePlaylist:
        """Append entries to a playlist; its snapshot id changes."""
        with self._lock:
            current = self.playlist(playlist_id).tracks
            return self.set_tracks(playlist_id, current + tuple(FakeTrack.of(t) for t in tracks))

    def malform_item(self, playlist_id: str, position: int,
                     kind: MalformKind = "null_track") -> FakePlaylist:
        """Break the entry at ``position``: ``track: null``, a track without ``name`` or
        ``id``, or a local file (``is_local`` with ``id: null``)."""
        with self._lock:
            playlist = self.playlist(playlist_id)
            tracks = list(playlist.tracks)
            track = tracks[position]
            item = self._item_json(track, playlist)
            original: dict[str, Any] = dict(item["item"] or {})
            inner: dict[str, Any] | None
            if kind == "null_track":
                inner = None
            elif kind == "missing_name":
                inner = {k: v for k, v in original.items() if k != "name"}
            elif kind == "missing_id":
                inner = {**original, "id": None}
            elif kind == "local":
                tracks[position] = replace(track, id=None, is_local=True, isrc=None)
                return self.set_tracks(playlist_id, tracks)
            else:
                raise InvalidInputError(f"unknown malform kind {kind!r}")
            item.update({key: inner for key in ("item", "track") if key in item})
            tracks[position] = replace(track, raw=item)
            return self.set_tracks(playlist_id, tracks)

    # -- faults and recording ----------------------------------------------------------------

    def schedule(self, path: str, fault: Fault, *, times: int = 1, method: str = "GET",
                 query: Mapping[str, str] | None = None) -> None:
        """The next ``times`` requests whose path matches ``path`` (an ``fnmatch`` pattern
        such as ``/v1/playlists/*/items``, ``*`` for any) and whose query contains ``query``
        get ``fault``. Scheduled faults are used in the order they were added."""
        if times < 1:
            raise InvalidInputError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.append(_Scheduled(method.upper(), path, dict(query or {}), fault, times))

    def fail_next(self, path: str, status: int = 500, *, times: int = 1, body: Any = None,
                  query: Mapping[str, str] | None = None) -> None:
        """The next ``times`` matching requests answer ``status`` (500 by default)."""
        self.schedule(path, Fault(status=status, body=body), times=times, query=query)

    def rate_limit_next(self, path: str, retry_after: float | None = 1, *, times: int = 1,
                        query: Mapping[str, str] | None = None) -> None:
        """The next ``times`` matching requests answer 429 with ``Retry-After: retry_after``."""
        self.schedule(path, Fault(status=429, retry_after=retry_after), times=times, query=query)

    def disconnect_next(self, path: str, *, times: int = 1,
                        query: Mapping[str, str] | None = None) -> None:
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
            return sum(s.remaining for s in self._faults)

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
            answer = self._fault_answer(method, parts.path, query)
            if answer is None:
                try:
                    answer = self._route(method, parts.path, query, headers)
                except _BadRequest as exc:
                    answer = _json_answer(exc.status, _error(exc.status, exc.message))
            self._requests.append(RecordedRequest(
                method, parts.path, query, _redacted(headers),
                None if answer.disconnect else answer.status))
        return answer

    def _fault_answer(self, method: str, path: str, query: Mapping[str, str]) -> _Answer | None:
        for scheduled in self._faults:
            if scheduled.matches(method, path, query):
                scheduled.remaining -= 1
                if not scheduled.remaining:
                    self._faults.remove(scheduled)
                fault = scheduled.fault
                headers = ({} if fault.retry_after is None
                           else {"Retry-After": _number(fault.retry_after)})
                if isinstance(fault.body, str | bytes):
                    raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
                    return _Answer(fault.status, raw, {"Content-Type": "text/plain", **headers},
                                   fault.disconnect, fault.delay)
                body = _error(fault.status) if fault.body is None else fault.body
                answer = _json_answer(fault.status, body, headers)
                return replace(answer, disconnect=fault.disconnect, delay=fault.delay)
        return None

    def _route(self, method: str, path: str, query: Mapping[str, str],
               headers: Mapping[str, str]) -> _Answer:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        if auth is None:
            raise _BadRequest(401, "No token provided")
        if not secrets.compare_digest(auth.encode(), f"Bearer {self._token}".encode()):
            raise _BadRequest(401, "Invalid access token")
        if method != "GET":
            raise _BadRequest(405, f"{method} is not supported by the fake")
        if path == "/v1/me":
            return _json_answer(200, self._user_json(self._user_id, self._display_name))
        if path == "/v1/me/playlists":
            limit, offset = self._window(query, "playlists")
            items = [self._playlist_json(p) for p in self._playlists]
            return _json_answer(200, self._paging(path, query, items, limit, offset))
        if (match := _PLAYLIST_ITEMS.match(path)) is not None:
            playlist = self._find(match["id"])
            limit, offset = self._window(query, "tracks")
            items = [self._item_json(t, playlist) for t in playlist.tracks]
            return _json_answer(200, self._paging(path, query, items, limit, offset))
        if (match := _PLAYLIST.match(path)) is not None:
            playlist = self._find(match["id"])
            items = [self._item_json(t, playlist) for t in playlist.tracks]
            body = self._playlist_json(playlist)
            for key in ("items", "tracks") if self._legacy else ("items",):
                body[key] = self._paging(f"{path}/{key}", {}, items, 100, 0)
            return _json_answer(200, body)
        if path == "/v1/search":
            return _json_answer(200, self._search(query))
        raise _BadRequest(404, "Service not found")

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
        seen: dict[str, FakeTrack] = {}
        for track in (*self._catalog, *(t for p in self._playlists for t in p.tracks)):
            if track.id and track.raw is None and not track.is_local and _matches(track, q):
                seen.setdefault(track.id, track)
        result: dict[str, Any] = {}
        for kind in types:
            items = [self._track_json(t) for t in seen.values()] if kind == "track" else []
            result[f"{kind}s"] = self._paging("/v1/search", query, items, limit, offset)
        return result

    # -- JSON shapes -------------------------------------------------------------------------

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

    def _paging(self, path: str, query: Mapping[str, str], items: Sequence[Any], limit: int,
                offset: int) -> dict[str, Any]:
        def link(at: int) -> str:
            rest = {k: v for k, v in query.items() if k not in ("offset", "limit")}
            return f"{self.base_url}{path}?{urlencode({'offset': at, 'limit': limit, **rest})}"

        return {
            "href": link(offset),
            "items": list(items[offset:offset + limit]),
            "limit": limit,
            "next": link(offset + limit) if offset + limit < len(items) else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total": len(items),
        }

    def _user_json(self, user_id: str, display_name: str | None) -> dict[str, Any]:
        return {"display_name": display_name, "external_urls": {
                "spotify": f"https://open.spotify.com/user/{user_id}"},
                "href": f"{self.base_url}/v1/users/{user_id}", "id": user_id,
                "type": "user", "uri": f"spotify:user:{user_id}"}

    def _playlist_json(self, playlist: FakePlaylist) -> dict[str, Any]:
        body = {
            "collaborative": False,
            "description": playlist.description,
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{playlist.id}"},
            "href": f"{self.base_url}/v1/playlists/{playlist.id}",
            "id": playlist.id,
            "images": [],
            "name": playlist.name,
            "owner": self._user_json(playlist.owner_id, playlist.owner_name),
            "primary_color": None,
            "public": playlist.public,
            "snapshot_id": playlist.snapshot_id,
            "items": {"href": f"{self.base_url}/v1/playlists/{playlist.id}/items",
                      "total": len(playlist.tracks)},
            "type": "playlist",
            "uri": f"spotify:playlist:{playlist.id}",
        }
        if self._legacy:
            body["tracks"] = {"href": f"{self.base_url}/v1/playlists/{playlist.id}/tracks",
                              "total": len(playlist.tracks)}
        return body

    def _item_json(self, track: FakeTrack, playlist: FakePlaylist) -> dict[str, Any]:
        if track.raw is not None:
            copy: dict[str, Any] = json.loads(json.dumps(track.raw))  # the caller may change it
            return copy
        body = {
            "added_at": track.added_at,
            "added_by": self._user_json(playlist.owner_id, None),
            "is_local": track.is_local,
            "item": self._track_json(track),
            "primary_color": None,
            "video_thumbnail": {"url": None},
        }
        if self._legacy:
            body["track"] = body["item"]
        return body

    def _track_json(self, track: FakeTrack) -> dict[str, Any]:
        local = track.is_local or track.id is None

        def ref(kind: str, ident: str | None) -> dict[str, Any]:
            return {"external_urls": {} if local else {
                    "spotify": f"https://open.spotify.com/{kind}/{ident}"},
                    "href": None if local else f"{self.base_url}/v1/{kind}s/{ident}",
                    "id": None if local else ident, "type": kind,
                    "uri": None if local else f"spotify:{kind}:{ident}"}

        artists = [{**ref("artist", _fake_id(name)), "name": name} for name in track.artists]
        album = {**ref("album", _fake_id(track.album or "")), "album_type": "album",
                 "artists": artists[:1], "images": [], "name": track.album or "",
                 "release_date": track.release_date, "release_date_precision": "day",
                 "total_tracks": 1}
        body = {**ref("track", track.id), "album": album, "artists": artists, "disc_number": 1,
                "duration_ms": track.duration_ms, "explicit": False,
                "external_ids": {} if track.isrc is None else {"isrc": track.isrc},
                "is_local": track.is_local, "name": track.name, "popularity": 0,
                "preview_url": None, "track_number": 1}
        if local:
            body["uri"] = f"spotify:local:::{track.name or ''}:{track.duration_ms // 1000}"
        return body

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


def _matches(track: FakeTrack, q: str) -> bool:
    fields = {"track": track.name or "", "artist": " ".join(track.artists),
              "album": track.album or "", "isrc": track.isrc or ""}
    for match in _SEARCH_FILTER.finditer(q):
        key, value = match[1].lower(), (match[2] if match[2] is not None else match[3])
        if key in fields and value.lower() not in fields[key].lower():
            return False
    haystack = " ".join((fields["track"], fields["artist"], fields["album"])).lower()
    words = _SEARCH_FILTER.sub(" ", q).replace('"', " ").lower().split()
    return all(word in haystack for word in words)


def _fake_id(name: str) -> str:
    # Stable, base62-compatible ids for artists and albums named in the fixture data.
    return hashlib.blake2b(name.encode(), digest_size=11).hexdigest()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message or _ERROR_MESSAGES.get(status, "Error")}}


def _json_answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    raw = json.dumps(body).encode()
    content_type = {"Content-Type": "application/json; charset=utf-8"}
    return _Answer(status, raw, {**content_type, **(headers or {})})


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} <redacted>".strip()
        out[name] = value
    return out
