"""Playlist providers: the protocol, its item models and the shipped implementations.

``LocalFilesProvider`` needs mutagen (extra ``local``) only once it is constructed.
``SpotifyProvider`` lives in :mod:`harmony.providers.spotify` (extra ``spotify``) and is not
imported here, so harmony works without spotipy installed.
"""

from harmony.providers.base import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    TrackSearchProvider,
    coerce_playlist,
    coerce_track,
)
from harmony.providers.budget import DEFAULT_RATE_LIMITS, RateBudget
from harmony.providers.exportify import ExportifyProvider, track_id_from_uri
from harmony.providers.files import open_export
from harmony.providers.local import LocalFilesProvider
from harmony.providers.mpd import MpdSliceProvider
from harmony.providers.sample import sample_provider

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "ExportifyProvider",
    "LocalFilesProvider",
    "MpdSliceProvider",
    "PlaylistProvider",
    "ProviderPlaylist",
    "ProviderTrack",
    "RateBudget",
    "Rejection",
    "TrackSearchProvider",
    "coerce_playlist",
    "coerce_track",
    "open_export",
    "sample_provider",
    "track_id_from_uri",
]
