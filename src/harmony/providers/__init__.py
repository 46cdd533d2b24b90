"""Playlist providers: the protocol, its item models and the shipped implementations."""

from harmony.providers.base import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    TrackSearchProvider,
    coerce_playlist,
    coerce_track,
)

__all__ = [
    "PlaylistProvider",
    "ProviderPlaylist",
    "ProviderTrack",
    "Rejection",
    "TrackSearchProvider",
    "coerce_playlist",
    "coerce_track",
]
