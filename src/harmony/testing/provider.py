"""An in-memory playlist provider for tests: mutable state, optional snapshots, failures."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from harmony.errors import ProviderError

__all__ = ["InMemoryProvider"]


class InMemoryProvider:
    """A :class:`~harmony.providers.PlaylistProvider` whose playlists live in a dict.

    ::

        provider = InMemoryProvider()
        provider.set_playlist("p1", "Road trip", [{"id": "t1", "title": "Song", "artists": ["A"]}])
        ctx = HarmonyContext.from_url(url, providers={"memory": provider})

    Items are yielded as given (mappings), so a malformed one reaches the sync engine's
    validation as it would from a real provider. With ``snapshots=True`` each playlist
    reports a snapshot id derived from its content, like Spotify; with ``False`` it has
    none and the engine compares content hashes. ``fail_on`` makes the provider raise a
    :class:`~harmony.errors.ProviderError` when a given playlist's tracks are fetched (or on
    listing, with ``"*"``). ``track_fetches`` counts :meth:`iter_tracks` calls per id.
    """

    def __init__(self, name: str = "memory", *, snapshots: bool = True) -> None:
        self.name = name
        self.snapshots = snapshots
        self.fail_on: set[str] = set()
        self.track_fetches: dict[str, int] = {}
        self._lock = threading.Lock()
        self._playlists: dict[str, dict[str, Any]] = {}
        self._tracks: dict[str, list[Any]] = {}
        self._snapshots: dict[str, str] = {}  # computed when a playlist changes

    def __repr__(self) -> str:
        return f"InMemoryProvider(name={self.name!r}, playlists={len(self._playlists)})"

    # -- state ------------------------------------------------------------------------

    def set_playlist(
        self,
        playlist_id: str,
        name: str,
        tracks: Sequence[Mapping[str, Any] | Any] = (),
        *,
        description: str | None = None,
        owner: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Create or replace a playlist and its ordered tracks."""
        with self._lock:
            self._playlists[playlist_id] = {
                "id": playlist_id,
                "name": name,
                "description": description,
                "owner": owner,
                **dict(extra or {}),
            }
            self._tracks[playlist_id] = list(tracks)
            self._snapshot_changed(playlist_id)

    def rename(self, playlist_id: str, name: str) -> None:
        """Change a playlist's name (and so its snapshot)."""
        with self._lock:
            self._playlists[playlist_id]["name"] = name
            self._snapshot_changed(playlist_id)

    def remove_playlist(self, playlist_id: str) -> None:
        """Delete a playlist from the provider."""
        with self._lock:
            self._playlists.pop(playlist_id, None)
            self._tracks.pop(playlist_id, None)
            self._snapshots.pop(playlist_id, None)

    def clear(self) -> None:
        """Remove every playlist and forget injected failures and fetch counts."""
        with self._lock:
            self._playlists.clear()
            self._tracks.clear()
            self._snapshots.clear()
            self.fail_on.clear()
            self.track_fetches.clear()

    def add_raw_playlist(self, item: Any) -> None:
        """Add an item exactly as given (e.g. a malformed one) to the playlist listing."""
        with self._lock:
            key = f"raw:{len(self._playlists)}"
            self._playlists[key] = item
            self._tracks[key] = []

    # -- the protocol -----------------------------------------------------------------

    def iter_playlists(self) -> Iterator[Any]:
        """Every playlist, in insertion order, with a content snapshot when enabled."""
        if "*" in self.fail_on:
            raise ProviderError(f"{self.name}: listing playlists failed (injected)")
        with self._lock:
            items = [
                (
                    dict(p) if isinstance(p, Mapping) else p,
                    len(self._tracks[key]),
                    self._snapshots.get(key),
                )
                for key, p in self._playlists.items()
            ]
        for playlist, count, snapshot in items:
            if isinstance(playlist, dict) and "id" in playlist:
                playlist.setdefault("track_count", count)
                if self.snapshots and "snapshot_id" not in playlist and snapshot is not None:
                    playlist["snapshot_id"] = snapshot
            yield playlist

    def _snapshot_changed(self, playlist_id: str) -> None:
        # Like a real provider, the snapshot moves when the playlist does (lock held).
        self._snapshots[playlist_id] = _snapshot(
            self._playlists[playlist_id], self._tracks[playlist_id]
        )

    def iter_tracks(self, playlist_id: str) -> Iterator[Any]:
        """The playlist's tracks, in order, duplicates kept."""
        with self._lock:
            self.track_fetches[playlist_id] = self.track_fetches.get(playlist_id, 0) + 1
            if playlist_id not in self._tracks:
                raise ProviderError(f"{self.name}: no playlist {playlist_id!r}")
            tracks = list(self._tracks[playlist_id])
        for index, track in enumerate(tracks):
            if playlist_id in self.fail_on and index >= len(tracks) // 2:
                raise ProviderError(f"{self.name}: fetching {playlist_id!r} failed (injected)")
            yield track
        if playlist_id in self.fail_on:
            raise ProviderError(f"{self.name}: fetching {playlist_id!r} failed (injected)")


def _snapshot(playlist: Mapping[str, Any], tracks: Sequence[Any]) -> str:
    raw = json.dumps([playlist, tracks], sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:24]
