"""Response cache, cache keys and ETags, and the invalidators a sync calls after commit."""

from harmony._cache.invalidator import (
    CacheInvalidator,
    CallbackInvalidator,
    NullInvalidator,
    ResponseCacheInvalidator,
)
from harmony._cache.keys import (
    PLAYLIST_LIST_PREFIX,
    PLAYLIST_LIST_TAG,
    playlist_detail_key,
    playlist_list_key,
    playlist_tag,
    provider_status_key,
    provider_tag,
    strong_etag,
)
from harmony._cache.response_cache import CacheEntry, CacheStats, ResponseCache

__all__ = [
    "PLAYLIST_LIST_PREFIX",
    "PLAYLIST_LIST_TAG",
    "CacheEntry",
    "CacheInvalidator",
    "CacheStats",
    "CallbackInvalidator",
    "NullInvalidator",
    "ResponseCache",
    "ResponseCacheInvalidator",
    "playlist_detail_key",
    "playlist_list_key",
    "playlist_tag",
    "provider_status_key",
    "provider_tag",
    "strong_etag",
]
