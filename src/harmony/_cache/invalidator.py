"""Cache invalidators: what a sync calls, after it commits, with the playlists it changed."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol, runtime_checkable

from harmony._cache.keys import PLAYLIST_LIST_TAG, playlist_tag
from harmony._cache.response_cache import ResponseCache

__all__ = [
    "CacheInvalidator",
    "CallbackInvalidator",
    "NullInvalidator",
    "ResponseCacheInvalidator",
]


@runtime_checkable
class CacheInvalidator(Protocol):
    """Drops cached responses that show any of ``playlist_ids``; returns how many."""

    def invalidate(self, playlist_ids: Collection[int]) -> int:
        """Invalidate the list responses and each playlist's detail responses."""
        ...


class ResponseCacheInvalidator:
    """The default: invalidates a :class:`ResponseCache` by tag, in O(entries removed).

    Removes every list entry (``playlists:list`` tag) and every entry tagged with one of
    the playlists (``playlist:<id>``: all detail variants, and any host entry that shows it).
    """

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    def invalidate(self, playlist_ids: Collection[int]) -> int:
        """Drop the list entries and every entry tagged with one of ``playlist_ids``."""
        if not playlist_ids:
            return 0
        return self.cache.invalidate_tags(
            PLAYLIST_LIST_TAG, *(playlist_tag(pid) for pid in playlist_ids)
        )

    def __repr__(self) -> str:
        return f"ResponseCacheInvalidator({self.cache!r})"


class NullInvalidator:
    """Invalidates nothing: for hosts without any cache."""

    def invalidate(self, playlist_ids: Collection[int]) -> int:
        """Do nothing; 0 entries removed."""
        return 0

    def __repr__(self) -> str:
        return "NullInvalidator()"


class CallbackInvalidator:
    """Hands the ids to a host callback (its own cache, a CDN purge, a pub/sub message).

    The callback returns how many entries it removed (``None`` counts as 0).
    """

    def __init__(self, callback: Callable[[frozenset[int]], int | None]) -> None:
        self.callback = callback

    def invalidate(self, playlist_ids: Collection[int]) -> int:
        """Call the host's callback with the ids as a frozenset."""
        if not playlist_ids:
            return 0
        return int(self.callback(frozenset(playlist_ids)) or 0)

    def __repr__(self) -> str:
        return f"CallbackInvalidator({self.callback!r})"
