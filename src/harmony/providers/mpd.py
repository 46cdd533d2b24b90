"""Spotify Million Playlist Dataset (MPD) slice files as a playlist provider.

A slice (``mpd.slice.0-999.json``) is one JSON object::

    {"info": {"slice": "0-999", "version": "v1", ...},
     "playlists": [{"name": "musical", "pid": 5, "modified_at": 1493424000,
                    "num_tracks": 12, "description": "...",   # description is optional
                    "tracks": [{"pos": 0, "track_uri": "spotify:track:...",
                                "track_name": "...", "artist_name": "...",
                                "album_name": "...", "duration_ms": 226863, ...}]}]}

:class:`MpdSliceProvider` reads one slice or every ``*.json`` slice in a folder. Only
``playlists`` and each playlist's ``pid`` and ``tracks`` are structural (their absence
raises :class:`~harmony.errors.ImportFileError`); bad values inside a playlist or track
are passed on for the sync engine to reject and count.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from harmony.errors import ImportFileError, ProviderError
from harmony.providers._exportfiles import LastFile, list_sources, read_bytes
from harmony.providers.exportify import track_id_from_uri

__all__ = ["MpdSliceProvider"]


def _load(source: Path | Traversable) -> Mapping[str, Mapping[str, Any]]:
    """One slice file's playlists by id, in file order."""
    where = str(source)
    data = read_bytes(source)
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"the file is not valid JSON ({exc.msg} at column {exc.colno}); "
            "fix it or extract the slice again",
            path=where,
            line=exc.lineno,
        ) from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "the file is not UTF-8 text; an MPD slice is UTF-8 JSON", path=where
        ) from exc
    if not isinstance(document, dict):
        raise ImportFileError(
            f"expected a JSON object with 'info' and 'playlists' keys, found a "
            f"{type(document).__name__}; is this an MPD slice file?",
            path=where,
        )
    raw = document.get("playlists")
    if not isinstance(raw, list):
        problem = "has no 'playlists' key" if raw is None else "'playlists' is not a list"
        raise ImportFileError(
            f"the slice {problem}; an MPD slice looks like "
            '{"info": {...}, "playlists": [{"pid": ..., "name": ..., "tracks": [...]}]}',
            path=where,
        )
    playlists: dict[str, Mapping[str, Any]] = {}
    for index, playlist in enumerate(raw):
        if not isinstance(playlist, dict):
            raise ImportFileError(
                f"playlists[{index}] is a {type(playlist).__name__}, expected an object",
                path=where,
            )
        for key in ("pid", "tracks"):
            if key not in playlist:
                raise ImportFileError(
                    f"playlists[{index}] has no {key!r} key; every MPD playlist has "
                    "'pid', 'name' and 'tracks'",
                    path=where,
                )
        if not isinstance(playlist["tracks"], list):
            raise ImportFileError(
                f"playlists[{index}] (pid {playlist['pid']!r}): 'tracks' is not a list",
                path=where,
            )
        playlist_id = str(playlist["pid"])
        if playlist_id in playlists:
            raise ImportFileError(
                f"pid {playlist_id} appears twice (playlists[{index}] repeats an earlier "
                "one); each playlist needs its own pid",
                path=where,
            )
        playlists[playlist_id] = playlist
    return playlists


def _snapshot(playlist: Mapping[str, Any]) -> str:
    # ASCII-escaped: a lone surrogate (half an emoji) is hashed like any other character,
    # and validation then rejects the item that holds it instead of the whole slice failing.
    canonical = json.dumps(playlist, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _summary(playlist_id: str, playlist: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": playlist_id,
        "name": playlist.get("name", ""),
        "description": playlist.get("description"),
        "snapshot_id": _snapshot(playlist),
        "track_count": len(playlist["tracks"]),
    }


def _position(item: tuple[int, Any]) -> tuple[int, int]:
    index, track = item
    pos = track.get("pos") if isinstance(track, dict) else None
    if isinstance(pos, int) and not isinstance(pos, bool):
        return (pos, index)
    return (index, index)  # a track without a usable pos keeps its place in the file


def _track(track: Any) -> dict[str, Any]:
    if not isinstance(track, dict):
        return {"id": None, "title": None}  # rejected by the sync engine
    uri = track.get("track_uri")
    artist = track.get("artist_name")
    return {
        "id": track_id_from_uri(uri) if isinstance(uri, str) else uri,
        "title": track.get("track_name"),
        "artists": [artist] if isinstance(artist, str) else artist,
        "album": track.get("album_name"),
        "duration_ms": track.get("duration_ms"),
    }


class MpdSliceProvider:
    """Playlists from Million Playlist Dataset slices: one ``.json`` file or a folder of them.

    Playlist ids are ``str(pid)``. ``snapshot_id`` is the SHA-256 of the playlist's JSON
    (keys sorted, compact), so any change to a playlist or its tracks changes it, while
    ``modified_at`` alone would miss hand edits. Tracks come ordered by ``pos``.

    The most recently parsed slice stays in memory while its file is unchanged, and only
    that one: the sync engine, which fetches a playlist's tracks while it lists the
    playlists, parses each slice once and holds one slice (~30 MB of JSON) at a time.
    """

    def __init__(self, path: str | os.PathLike[str] | Traversable, *, name: str = "mpd") -> None:
        self.name = name
        self._root: Path | Traversable = (
            Path(path).expanduser() if isinstance(path, (str, os.PathLike)) else path
        )
        self._last = LastFile(_load)
        self._index: dict[str, Path | Traversable] = {}  # pid -> slice, as last listed

    def __repr__(self) -> str:
        return f"MpdSliceProvider({str(self._root)!r}, name={self.name!r})"

    def _slices(self) -> Iterator[tuple[Path | Traversable, Mapping[str, Mapping[str, Any]]]]:
        index: dict[str, Path | Traversable] = {}
        self._index = index  # filled before each slice is yielded, for iter_tracks
        for source in list_sources(self._root, ".json", "an MPD slice .json"):
            playlists = self._last.get(source)
            for playlist_id in playlists:
                if playlist_id in index:
                    raise ImportFileError(
                        f"pid {playlist_id} is also in {index[playlist_id].name}; "
                        "each playlist needs its own pid",
                        path=str(source),
                    )
                index[playlist_id] = source
            yield source, playlists

    def iter_playlists(self) -> Iterator[dict[str, Any]]:
        """Every playlist of every slice, in file-name order, then file order."""
        for _source, playlists in self._slices():
            for playlist_id, playlist in playlists.items():
                yield _summary(playlist_id, playlist)

    def iter_tracks(self, playlist_id: str) -> Iterator[dict[str, Any]]:
        """The tracks of one playlist ordered by ``pos``, duplicates kept."""
        source = self._index.get(playlist_id)
        if source is None:  # not listed yet: find its slice
            source = next(
                (src for src, playlists in self._slices() if playlist_id in playlists), None
            )
        playlist = None if source is None else self._last.get(source).get(playlist_id)
        if playlist is None:
            raise ProviderError(
                f"{self.name}: no playlist with pid {playlist_id!r} in {self._root}"
            )
        for _index, track in sorted(enumerate(playlist["tracks"]), key=_position):
            yield _track(track)
