"""The fake Spotify account's data and the Web API JSON it is served as.

:class:`FakeTrack` and :class:`FakePlaylist` are the values the fake holds; :class:`_JsonShapes`
turns them into Spotify's JSON objects (playlist, playlist item, track, user, paging), with
or without the deprecated ``tracks``/``track`` fields. Search matching and the ways
:meth:`FakeSpotifyServer.malform_item` breaks an item live here too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlencode

from harmony.errors import InvalidInputError

__all__ = ["FakePlaylist", "FakeTrack", "MalformKind"]

#: How :meth:`FakeSpotifyServer.malform_item` breaks an item.
MalformKind = Literal["null_track", "missing_name", "missing_id", "local"]

_SEARCH_FILTER = re.compile(r'(\w+):(?:"([^"]*)"|(\S+))')


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
class _JsonShapes:
    # ``base_url`` is a callable, read only when a shape needs a link: it raises while the
    # server is stopped, and a ``raw`` item must still be served without it.
    base_url: Callable[[], str]
    legacy: bool

    def paging(
        self, path: str, query: Mapping[str, str], items: Sequence[Any], limit: int, offset: int
    ) -> dict[str, Any]:
        def link(at: int) -> str:
            rest = {k: v for k, v in query.items() if k not in ("offset", "limit")}
            return f"{self.base_url()}{path}?{urlencode({'offset': at, 'limit': limit, **rest})}"

        return {
            "href": link(offset),
            "items": list(items[offset : offset + limit]),
            "limit": limit,
            "next": link(offset + limit) if offset + limit < len(items) else None,
            "offset": offset,
            "previous": link(max(0, offset - limit)) if offset > 0 else None,
            "total": len(items),
        }

    def user(self, user_id: str, display_name: str | None) -> dict[str, Any]:
        return {
            "display_name": display_name,
            "external_urls": {"spotify": f"https://open.spotify.com/user/{user_id}"},
            "href": f"{self.base_url()}/v1/users/{user_id}",
            "id": user_id,
            "type": "user",
            "uri": f"spotify:user:{user_id}",
        }

    def playlist(self, playlist: FakePlaylist) -> dict[str, Any]:
        body = {
            "collaborative": False,
            "description": playlist.description,
            "external_urls": {"spotify": f"https://open.spotify.com/playlist/{playlist.id}"},
            "href": f"{self.base_url()}/v1/playlists/{playlist.id}",
            "id": playlist.id,
            "images": [],
            "name": playlist.name,
            "owner": self.user(playlist.owner_id, playlist.owner_name),
            "primary_color": None,
            "public": playlist.public,
            "snapshot_id": playlist.snapshot_id,
            "items": {
                "href": f"{self.base_url()}/v1/playlists/{playlist.id}/items",
                "total": len(playlist.tracks),
            },
            "type": "playlist",
            "uri": f"spotify:playlist:{playlist.id}",
        }
        if self.legacy:
            body["tracks"] = {
                "href": f"{self.base_url()}/v1/playlists/{playlist.id}/tracks",
                "total": len(playlist.tracks),
            }
        return body

    def item(self, track: FakeTrack, playlist: FakePlaylist) -> dict[str, Any]:
        if track.raw is not None:
            copy: dict[str, Any] = json.loads(json.dumps(track.raw))  # the caller may change it
            return copy
        body = {
            "added_at": track.added_at,
            "added_by": self.user(playlist.owner_id, None),
            "is_local": track.is_local,
            "item": self.track(track),
            "primary_color": None,
            "video_thumbnail": {"url": None},
        }
        if self.legacy:
            body["track"] = body["item"]
        return body

    def track(self, track: FakeTrack) -> dict[str, Any]:
        local = track.is_local or track.id is None

        def ref(kind: str, ident: str | None) -> dict[str, Any]:
            return {
                "external_urls": {}
                if local
                else {"spotify": f"https://open.spotify.com/{kind}/{ident}"},
                "href": None if local else f"{self.base_url()}/v1/{kind}s/{ident}",
                "id": None if local else ident,
                "type": kind,
                "uri": None if local else f"spotify:{kind}:{ident}",
            }

        artists = [{**ref("artist", _fake_id(name)), "name": name} for name in track.artists]
        album = {
            **ref("album", _fake_id(track.album or "")),
            "album_type": "album",
            "artists": artists[:1],
            "images": [],
            "name": track.album or "",
            "release_date": track.release_date,
            "release_date_precision": "day",
            "total_tracks": 1,
        }
        body = {
            **ref("track", track.id),
            "album": album,
            "artists": artists,
            "disc_number": 1,
            "duration_ms": track.duration_ms,
            "explicit": False,
            "external_ids": {} if track.isrc is None else {"isrc": track.isrc},
            "is_local": track.is_local,
            "name": track.name,
            "popularity": 0,
            "preview_url": None,
            "track_number": 1,
        }
        if local:
            body["uri"] = f"spotify:local:::{track.name or ''}:{track.duration_ms // 1000}"
        return body


def _malformed(track: FakeTrack, item: dict[str, Any], kind: MalformKind) -> FakeTrack:
    """``track`` broken as ``kind`` says; ``item`` is its playlist-item JSON as served now."""
    original: dict[str, Any] = dict(item["item"] or {})
    inner: dict[str, Any] | None
    if kind == "null_track":
        inner = None
    elif kind == "missing_name":
        inner = {k: v for k, v in original.items() if k != "name"}
    elif kind == "missing_id":
        inner = {**original, "id": None}
    elif kind == "local":
        return replace(track, id=None, is_local=True, isrc=None)
    else:
        raise InvalidInputError(f"unknown malform kind {kind!r}")
    item.update({key: inner for key in ("item", "track") if key in item})
    return replace(track, raw=item)


def _search_hits(tracks: Iterable[FakeTrack], q: str) -> list[FakeTrack]:
    """The searchable tracks matching ``q``, the first of each id, in order."""
    seen: dict[str, FakeTrack] = {}
    for track in tracks:
        if track.id and track.raw is None and not track.is_local and _matches(track, q):
            seen.setdefault(track.id, track)
    return list(seen.values())


def _matches(track: FakeTrack, q: str) -> bool:
    fields = {
        "track": track.name or "",
        "artist": " ".join(track.artists),
        "album": track.album or "",
        "isrc": track.isrc or "",
    }
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
