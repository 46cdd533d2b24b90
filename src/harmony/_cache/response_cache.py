"""A thread-safe response cache with ETags, LRU + TTL bounds and O(k) invalidation.

Entries are found by key, and also by *tag* and by *key prefix* (keys are ``:``-separated
segments), so that invalidating the k entries of one playlist touches those k entries and
never scans the cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from cachetools import TTLCache

from harmony._clock import Clock, SystemClock
from harmony.errors import InvalidInputError

__all__ = ["CacheEntry", "CacheStats", "ResponseCache"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CacheEntry(Generic[T]):
    """A cached value with the validators an HTTP host answers conditional requests with."""

    value: T
    etag: str | None = None
    last_modified: datetime | None = None
    tags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters since the cache was built."""

    entries: int
    max_entries: int
    hits: int
    misses: int
    invalidated: int


class _IndexedTTLCache(TTLCache[str, CacheEntry[Any]]):
    """A TTLCache that tells its owner about every entry it drops (LRU, expiry, delete)."""

    def __init__(
        self,
        maxsize: int,
        ttl: float,
        timer: Callable[[], float],
        on_drop: Callable[[str, CacheEntry[Any]], None],
    ) -> None:
        super().__init__(maxsize, ttl, timer=timer)
        self._on_drop = on_drop

    def __delitem__(self, key: str) -> None:
        entry = self.__data_get(key)
        try:
            super().__delitem__(key)
        finally:
            if entry is not None:
                self._on_drop(key, entry)

    def expire(self, time: float | None = None) -> list[tuple[str, CacheEntry[Any]]]:
        expired = list(super().expire(time))
        for key, entry in expired:
            self._on_drop(key, entry)
        return expired

    def __data_get(self, key: str) -> CacheEntry[Any] | None:
        # Read without touching recency or expiry (Cache.__getitem__ is the raw lookup).
        try:
            return super(TTLCache, self).__getitem__(key)
        except KeyError:
            return None


class ResponseCache:
    """Cache of rendered or computed responses, keyed by strings like ``playlists:list:...``.

    Thread-safe. Bounded by ``max_entries`` (least recently used go first) and by
    ``ttl_seconds`` measured on the injected clock. Use :meth:`get_or_load` for read-through
    caching: it refuses to store a value loaded while an invalidation ran, so a slow reader
    can never put back data that a concurrent sync just invalidated.
    """

    def __init__(
        self, *, max_entries: int = 4096, ttl_seconds: float = 300.0, clock: Clock | None = None
    ) -> None:
        if max_entries < 1:
            raise InvalidInputError(f"max_entries must be at least 1, got {max_entries}")
        if ttl_seconds <= 0:
            raise InvalidInputError(f"ttl_seconds must be positive, got {ttl_seconds}")
        self._clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._by_tag: dict[str, set[str]] = {}
        self._by_prefix: dict[str, set[str]] = {}
        self._entries = _IndexedTTLCache(
            max_entries, ttl_seconds, timer=self._now, on_drop=self._unindex
        )
        self._generation = 0
        self._hits = 0
        self._misses = 0
        self._invalidated = 0
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # -- reads and writes -------------------------------------------------------------

    def get(self, key: str) -> CacheEntry[Any] | None:
        """The live entry for ``key``, or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
            else:
                self._hits += 1
            return entry

    def set(
        self,
        key: str,
        value: Any,
        *,
        etag: str | None = None,
        last_modified: datetime | None = None,
        tags: Iterable[str] = (),
    ) -> CacheEntry[Any]:
        """Store ``value`` under ``key`` with its validators and tags; returns the entry."""
        _check_key(key)
        entry = CacheEntry(value, etag, last_modified, frozenset(tags))
        with self._lock:
            self._store(key, entry)
        return entry

    def get_or_load(
        self, key: str, load: Callable[[], CacheEntry[T]], *, tags: Iterable[str] = ()
    ) -> CacheEntry[T]:
        """The cached entry for ``key``, or ``load()``'s, stored unless invalidated meanwhile.

        ``load`` runs outside the lock (it usually reads the database). If any invalidation
        happened while it ran, its result is returned to this caller but not cached, since
        it may predate the change that caused the invalidation.
        """
        _check_key(key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._hits += 1
                return entry
            self._misses += 1
            generation = self._generation
        loaded = load()
        stored = CacheEntry(
            loaded.value, loaded.etag, loaded.last_modified, loaded.tags | frozenset(tags)
        )
        with self._lock:
            if generation == self._generation:
                self._store(key, stored)
        return stored

    # -- invalidation -----------------------------------------------------------------

    def invalidate(self, *keys: str) -> int:
        """Drop these keys; returns how many entries were removed."""
        with self._lock:
            self._generation += 1
            return self._drop(keys)

    def invalidate_tags(self, *tags: str) -> int:
        """Drop every entry carrying any of ``tags``; O(entries removed)."""
        with self._lock:
            self._generation += 1
            keys: set[str] = set()
            for tag in tags:
                keys |= self._by_tag.get(tag, set())
            return self._drop(keys)

    def invalidate_prefix(self, prefix: str) -> int:
        """Drop every entry whose key starts with the segments of ``prefix`` (``a:b`` drops
        ``a:b`` and ``a:b:...``, not ``a:bc``); O(entries removed)."""
        segments = prefix.rstrip(":")
        with self._lock:
            self._generation += 1
            keys = set(self._by_prefix.get(segments, set()))
            if segments in self._entries:
                keys.add(segments)
            return self._drop(keys)

    def clear(self) -> int:
        """Drop everything; returns how many entries were removed."""
        with self._lock:
            self._generation += 1
            count = len(self._entries)
            self._entries.clear()
            self._by_tag.clear()
            self._by_prefix.clear()
            self._invalidated += count
            return count

    # -- introspection ----------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def stats(self) -> CacheStats:
        """Entry count and hit/miss/invalidation counters."""
        with self._lock:
            return CacheStats(
                len(self._entries),
                self.max_entries,
                self._hits,
                self._misses,
                self._invalidated,
            )

    def keys_for_tag(self, tag: str) -> frozenset[str]:
        """The keys currently indexed under ``tag`` (for diagnostics and tests)."""
        with self._lock:
            return frozenset(self._by_tag.get(tag, ()))

    def __repr__(self) -> str:
        return (
            f"ResponseCache(entries={len(self._entries)}, max_entries={self.max_entries}, "
            f"ttl_seconds={self.ttl_seconds})"
        )

    # -- internals (lock held) --------------------------------------------------------

    def _store(self, key: str, entry: CacheEntry[Any]) -> None:
        if key in self._entries:
            del self._entries[key]  # re-indexed below with the new tags
        self._entries[key] = entry
        for tag in entry.tags:
            self._by_tag.setdefault(tag, set()).add(key)
        for prefix in _prefixes(key):
            self._by_prefix.setdefault(prefix, set()).add(key)

    def _drop(self, keys: Iterable[str]) -> int:
        removed = 0
        for key in list(keys):
            # An expired entry not yet purged stays indexed until expire() drops it.
            if key in self._entries:
                del self._entries[key]
                removed += 1
        self._invalidated += removed
        return removed

    def _unindex(self, key: str, entry: CacheEntry[Any]) -> None:
        for tag in entry.tags:
            _discard(self._by_tag, tag, key)
        for prefix in _prefixes(key):
            _discard(self._by_prefix, prefix, key)


def _prefixes(key: str) -> Iterable[str]:
    """Proper segment prefixes: ``a:b:c`` -> ``a``, ``a:b``."""
    end = key.find(":")
    while end != -1:
        yield key[:end]
        end = key.find(":", end + 1)


def _discard(index: dict[str, set[str]], name: str, key: str) -> None:
    keys = index.get(name)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[name]


def _check_key(key: Hashable) -> None:
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"cache keys are non-empty strings, got {key!r}")
