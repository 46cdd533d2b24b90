"""The fake account's library: Liked Songs and saved albums, with their endpoints.

``GET /v1/me/tracks`` pages saved tracks (newest first, as Spotify lists them),
``GET /v1/me/albums`` pages saved albums (each a full album object whose ``tracks`` holds
the first page of its tracks), ``GET /v1/albums/{id}`` is one album and
``GET /v1/albums/{id}/tracks`` pages an album's (simplified) tracks.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harmony.errors import InvalidInputError, NotFoundError
from harmony.testing.spotify_server._data import FakeTrack, _fake_id, _JsonShapes
from harmony.testing.spotify_server._faults import _Answer, _BadRequest, _json_answer

__all__ = ["FakeAlbum"]

_ALBUM_TRACKS = re.compile(r"^/v1/albums/(?P<id>[^/]+)/tracks/?$")
_ALBUM = re.compile(r"^/v1/albums/(?P<id>[^/]+)/?$")
#: Tracks embedded in an album object (Spotify embeds the first 50).
_EMBEDDED_TRACKS = 50


@dataclass(frozen=True, slots=True)
class FakeAlbum:
    """A saved album of the fake account; ``added_at`` is when it was saved."""

    id: str
    name: str
    artists: tuple[str, ...] = ()
    release_date: str | None = None
    tracks: tuple[FakeTrack, ...] = ()
    added_at: str = "2024-01-01T00:00:00Z"

    @classmethod
    def of(cls, value: FakeAlbum | Mapping[str, Any]) -> FakeAlbum:
        """Build from a mapping (``artists`` a list or one string; tracks as FakeTrack does)."""
        if isinstance(value, FakeAlbum):
            return value
        data = dict(value)
        artists = data.get("artists", ())
        data["artists"] = (artists,) if isinstance(artists, str) else tuple(artists)
        data["tracks"] = tuple(FakeTrack.of(t) for t in data.get("tracks", ()))
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInputError(f"bad fake album {value!r}: {exc}") from exc


class _LibraryMixin:
    """Liked Songs and saved albums of :class:`FakeSpotifyServer` (state and routes)."""

    _lock: threading.RLock
    _shapes: _JsonShapes
    _liked: list[FakeTrack]
    _albums: list[FakeAlbum]

    def _window(self, query: Mapping[str, str], endpoint: str) -> tuple[int, int]:
        raise NotImplementedError  # FakeSpotifyServer's

    def _init_library(
        self,
        liked: Iterable[FakeTrack | Mapping[str, Any]],
        albums: Iterable[FakeAlbum | Mapping[str, Any]],
    ) -> None:
        self._liked = [FakeTrack.of(t) for t in liked]
        self._albums = []
        for album in albums:
            self.save_album(album)

    # -- Liked Songs -------------------------------------------------------------------------

    @property
    def liked(self) -> tuple[FakeTrack, ...]:
        """The saved tracks ("Liked Songs"), newest first."""
        with self._lock:
            return tuple(self._liked)

    def like(self, track: FakeTrack | Mapping[str, Any]) -> FakeTrack:
        """Save a track; it becomes the newest (first) of Liked Songs."""
        value = FakeTrack.of(track)
        with self._lock:
            if any(t.id == value.id for t in self._liked):
                raise InvalidInputError(f"the fake already likes track {value.id!r}")
            self._liked.insert(0, value)
        return value

    def unlike(self, track_id: str) -> None:
        """Remove a track from Liked Songs."""
        with self._lock:
            before = len(self._liked)
            self._liked = [t for t in self._liked if t.id != track_id]
            if len(self._liked) == before:
                raise NotFoundError(f"the fake does not like track {track_id!r}")

    # -- saved albums ------------------------------------------------------------------------

    @property
    def albums(self) -> tuple[FakeAlbum, ...]:
        """The saved albums, newest first."""
        with self._lock:
            return tuple(self._albums)

    def save_album(self, album: FakeAlbum | Mapping[str, Any]) -> FakeAlbum:
        """Save an album (appended: give ``added_at`` values in descending order)."""
        value = FakeAlbum.of(album)
        with self._lock:
            if any(a.id == value.id for a in self._albums):
                raise InvalidInputError(f"a fake album with id {value.id!r} is already saved")
            self._albums.append(value)
        return value

    def remove_album(self, album_id: str) -> None:
        """Remove a saved album."""
        with self._lock:
            before = len(self._albums)
            self._albums = [a for a in self._albums if a.id != album_id]
            if len(self._albums) == before:
                raise NotFoundError(f"the fake has no saved album {album_id!r}")

    # -- routes ------------------------------------------------------------------------------

    def _route_library(self, path: str, query: Mapping[str, str]) -> _Answer | None:
        """The answer for a library path, or ``None`` for other paths (lock held)."""
        if path == "/v1/me/tracks":
            limit, offset = self._window(query, "saved_tracks")
            items = [{"added_at": t.added_at, "track": self._shapes.track(t)} for t in self._liked]
            return _json_answer(200, self._shapes.paging(path, query, items, limit, offset))
        if path == "/v1/me/albums":
            limit, offset = self._window(query, "saved_albums")
            items = [{"added_at": a.added_at, "album": self._album(a)} for a in self._albums]
            return _json_answer(200, self._shapes.paging(path, query, items, limit, offset))
        if (match := _ALBUM_TRACKS.match(path)) is not None:
            album = self._find_album(match["id"])
            limit, offset = self._window(query, "album_tracks")
            items = [self._simplified(t) for t in album.tracks]
            page_path = f"/v1/albums/{album.id}/tracks"
            return _json_answer(200, self._shapes.paging(page_path, query, items, limit, offset))
        if (match := _ALBUM.match(path)) is not None:
            return _json_answer(200, self._album(self._find_album(match["id"])))
        return None

    def _find_album(self, album_id: str) -> FakeAlbum:
        for album in self._albums:
            if album.id == album_id:
                return album
        raise _BadRequest(404, "Resource not found")

    def _album(self, album: FakeAlbum) -> dict[str, Any]:
        base = self._shapes.base_url()
        artists = [
            {
                "id": _fake_id(name),
                "name": name,
                "type": "artist",
                "uri": f"spotify:artist:{_fake_id(name)}",
            }
            for name in album.artists
        ]
        tracks = [self._simplified(t) for t in album.tracks]
        return {
            "album_type": "album",
            "artists": artists,
            "external_urls": {"spotify": f"https://open.spotify.com/album/{album.id}"},
            "href": f"{base}/v1/albums/{album.id}",
            "id": album.id,
            "images": [],
            "label": None,
            "name": album.name,
            "popularity": 0,
            "release_date": album.release_date,
            "release_date_precision": "day",
            "total_tracks": len(album.tracks),
            "type": "album",
            "uri": f"spotify:album:{album.id}",
            "tracks": self._shapes.paging(
                f"/v1/albums/{album.id}/tracks", {}, tracks, _EMBEDDED_TRACKS, 0
            ),
        }

    def _simplified(self, track: FakeTrack) -> dict[str, Any]:
        # A simplified track object: no album, no external_ids, no popularity.
        full = self._shapes.track(track)
        return {k: v for k, v in full.items() if k not in ("album", "external_ids", "popularity")}
