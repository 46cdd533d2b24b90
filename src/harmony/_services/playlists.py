"""``ctx.playlists``: playlist reads through the response cache, with ETags for hosts."""

from __future__ import annotations

from harmony._cache.keys import (
    PLAYLIST_LIST_TAG,
    playlist_detail_key,
    playlist_list_key,
    playlist_tag,
)
from harmony._cache.response_cache import CacheEntry, ResponseCache
from harmony._repositories.playlist_types import Playlist, PlaylistDetail, PlaylistPage
from harmony._repositories.playlists import (
    PlaylistRepository,
    StatusFilter,
    check_list_params,
    check_playlist_id,
)
from harmony._services.coherence import CacheCoherence

__all__ = ["PlaylistService"]


class PlaylistService:
    """Playlist pages and details, served from the context's :class:`ResponseCache`.

    Every result carries ``etag`` and ``last_modified``; a host answers ``If-None-Match``
    by comparing with ``etag`` and returning 304 on a match. Before serving a cached
    entry the cache catches up with the change feed, so once a sync has returned in any
    process on the database, every later read here returns its result (see
    :class:`~harmony._services.coherence.CacheCoherence`). Without a cache
    (``cache_enabled=False``) every call reads the database.
    """

    def __init__(
        self,
        repository: PlaylistRepository,
        cache: ResponseCache | None,
        coherence: CacheCoherence | None = None,
    ) -> None:
        #: Uncached reads, computing the same ETags.
        self.repository = repository
        self.cache = cache
        self._coherence = coherence

    def _cache_usable(self) -> ResponseCache | None:
        """The cache, once it is as fresh as the database; ``None`` when it cannot be."""
        if self.cache is None:
            return None
        if self._coherence is not None and not self._coherence.revalidate():
            return None
        return self.cache

    def __repr__(self) -> str:
        return f"PlaylistService(cache={self.cache!r})"

    def list_page(
        self,
        *,
        provider: str | None = None,
        status: StatusFilter = "active",
        limit: int = 50,
        cursor: str | None = None,
    ) -> PlaylistPage:
        """Playlists in id order (``next_cursor`` continues), with the page's ETag."""
        params = check_list_params(provider=provider, status=status, limit=limit, cursor=cursor)
        self.repository.check_open()
        cache = self._cache_usable()
        if cache is None:
            return self.repository.list_page(**params)

        def load() -> CacheEntry[PlaylistPage]:
            page = self.repository.list_page(**params)
            return CacheEntry(page, page.etag, page.last_modified)

        key = playlist_list_key(**params)
        return cache.get_or_load(key, load, tags=(PLAYLIST_LIST_TAG,)).value

    def get(self, playlist_id: int) -> PlaylistDetail:
        """One playlist with its ordered tracks and its ETag; ``NotFoundError`` if absent."""
        playlist_id = check_playlist_id(playlist_id)
        self.repository.check_open()
        cache = self._cache_usable()
        if cache is None:
            return self.repository.get(playlist_id)

        def load() -> CacheEntry[PlaylistDetail]:
            detail = self.repository.get(playlist_id)
            return CacheEntry(detail, detail.etag, detail.last_modified)

        key = playlist_detail_key(playlist_id)
        return cache.get_or_load(key, load, tags=(playlist_tag(playlist_id),)).value

    def find(self, provider: str, provider_id: str) -> Playlist | None:
        """The playlist a provider knows by ``provider_id`` (active or removed), or ``None``.

        Read from the database (not cached): use its ``id`` with :meth:`get` for the
        cached detail with tracks.
        """
        self.repository.check_open()
        return self.repository.find(provider, provider_id)

    def count(self, *, status: StatusFilter = "active") -> int:
        """How many playlists there are with this status (not cached)."""
        return self.repository.count(status=status)
