"""Spotify's JSON (playlists, playlist items, saved tracks, saved albums) as provider items.

Liked Songs and each saved album become playlists of their own, with ids no Spotify
playlist can have (Spotify ids are 22 base62 characters): ``liked-songs`` and
``album:<album id>``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ALBUM_PREFIX",
    "LIKED_SONGS_ID",
    "album_playlist",
    "album_track",
    "item_track",
    "liked_songs_playlist",
    "mapping",
    "playlist",
    "track",
]

#: The playlist id of the user's Liked Songs (saved tracks).
LIKED_SONGS_ID = "liked-songs"
#: Saved albums are playlists ``album:<Spotify album id>``.
ALBUM_PREFIX = "album:"


def playlist(item: Any) -> dict[str, Any]:
    """A playlist object (from ``/me/playlists``)."""
    data = mapping(item)
    owner = mapping(data.get("owner"))
    description = data.get("description")
    tracks = mapping(data.get("items")) or mapping(data.get("tracks"))  # new name, then old
    return {
        "id": data.get("id"),
        "name": data.get("name"),
        # Spotify HTML-escapes descriptions ("Rock &amp; Roll").
        "description": html.unescape(description) if isinstance(description, str) else None,
        "owner": owner.get("display_name") or owner.get("id"),
        "snapshot_id": data.get("snapshot_id"),
        "track_count": tracks.get("total"),
    }


def liked_songs_playlist(first_page: Mapping[str, Any]) -> dict[str, Any]:
    """Liked Songs as a playlist, from the first page of ``/me/tracks`` (``limit=1``).

    Its snapshot is the count with the newest entry: liking a track changes the newest
    entry, unliking one changes the count, so any change of the list changes it (a track
    whose metadata changes at Spotify is picked up by a full sync).
    """
    items = first_page.get("items") or []
    newest = mapping(items[0]) if items else {}
    newest_id = mapping(newest.get("track") or newest.get("item")).get("id")
    total = first_page.get("total")
    return {
        "id": LIKED_SONGS_ID,
        "name": "Liked Songs",
        "description": None,
        "owner": None,
        "snapshot_id": f"liked:{total}:{newest_id}:{newest.get('added_at')}",
        "track_count": total,
    }


def album_playlist(saved: Any) -> dict[str, Any]:
    """A saved album (from ``/me/albums``) as a playlist ``album:<id>``.

    An album's track list does not change, so its snapshot is its id and track count.
    """
    album = mapping(mapping(saved).get("album"))
    artists = album.get("artists")
    names = [mapping(a).get("name") for a in artists] if isinstance(artists, list) else []
    total = album.get("total_tracks", mapping(album.get("tracks")).get("total"))
    album_id = album.get("id")
    return {
        "id": f"{ALBUM_PREFIX}{album_id}" if isinstance(album_id, str) and album_id else None,
        "name": album.get("name"),
        "description": None,
        "owner": ", ".join(n for n in names if isinstance(n, str)) or None,
        "snapshot_id": f"album:{album_id}:{total}",
        "track_count": total,
    }


def item_track(item: Any) -> dict[str, Any]:
    """A playlist item or saved track (``{added_at, item|track}``) as a provider track."""
    data = mapping(item)
    # Spotify's February 2026 API names the entry "item"; "track" is its deprecated alias.
    found = next((v for v in (data.get("item"), data.get("track")) if isinstance(v, Mapping)), None)
    if found is None:
        # Removed or unavailable entries come as ``track: null``: no id, so it is rejected.
        return {"id": None, "title": None, "added_at": data.get("added_at")}
    mapped = track(found, added_at=data.get("added_at"))
    if data.get("is_local"):
        mapped["id"] = None
    return mapped


def album_track(simplified: Any, album: Mapping[str, Any]) -> dict[str, Any]:
    """A simplified track of ``album`` (no album or ISRC of its own) as a provider track."""
    mapped = track(simplified, added_at=None)
    mapped["album"] = album.get("name")
    mapped["year"] = album.get("release_date")
    return mapped


def track(value: Any, *, added_at: Any) -> dict[str, Any]:
    """A track object as a provider track mapping."""
    data = mapping(value)
    usable = data.get("type", "track") == "track" and not data.get("is_local")
    artists = data.get("artists")
    return {
        # Local files (and episodes) have no Spotify track id; id None makes them rejected.
        "id": data.get("id") if usable else None,
        "title": data.get("name"),
        "artists": [mapping(a).get("name") for a in artists] if isinstance(artists, list) else [],
        "album": mapping(data.get("album")).get("name"),
        "duration_ms": data.get("duration_ms"),
        "isrc": mapping(data.get("external_ids")).get("isrc"),
        "year": mapping(data.get("album")).get("release_date"),
        "added_at": added_at,
    }


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}
