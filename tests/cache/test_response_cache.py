"""ResponseCache: bounds, TTL on the injected clock, tag/prefix indexes, the read-through guard."""

from __future__ import annotations

import threading

import pytest

from harmony import HarmonyContext, HarmonySettings, InvalidInputError
from harmony._cache import (
    PLAYLIST_LIST_TAG,
    CacheEntry,
    NullInvalidator,
    ResponseCache,
    ResponseCacheInvalidator,
    playlist_detail_key,
    playlist_list_key,
    playlist_tag,
    strong_etag,
)
from harmony.testing import ManualClock


def _cache(**kwargs: object) -> tuple[ResponseCache, ManualClock]:
    clock = ManualClock()
    return ResponseCache(clock=clock, **kwargs), clock  # type: ignore[arg-type]


def test_entries_carry_their_validators() -> None:
    cache, clock = _cache()
    stamp = clock.now()
    cache.set("k", {"a": 1}, etag='"x"', last_modified=stamp, tags=["t"])
    entry = cache.get("k")
    assert entry == CacheEntry({"a": 1}, '"x"', stamp, frozenset({"t"}))
    assert cache.stats().hits == 1 and cache.get("missing") is None and cache.stats().misses == 1


def test_least_recently_used_entries_go_first_and_leave_the_indexes() -> None:
    cache, _ = _cache(max_entries=2)
    cache.set("a:1", 1, tags=["t"])
    cache.set("a:2", 2, tags=["t"])
    cache.get("a:1")
    cache.set("b", 3)
    assert "a:2" not in cache and "a:1" in cache
    assert cache.keys_for_tag("t") == {"a:1"}
    assert cache.invalidate_prefix("a") == 1 and len(cache) == 1


def test_entries_expire_on_the_injected_clock_and_leave_the_indexes() -> None:
    cache, clock = _cache(ttl_seconds=10)
    cache.set("a:1", 1, tags=["t"])
    clock.advance(9)
    assert cache.get("a:1") is not None
    clock.advance(2)
    assert cache.get("a:1") is None and len(cache) == 0
    assert cache.keys_for_tag("t") == frozenset()


def test_prefix_invalidation_respects_segment_boundaries() -> None:
    cache, _ = _cache()
    for key in (
        "playlists:list",
        "playlists:list:x",
        "playlists:list:y:z",
        "playlists:listing",
        "other",
    ):
        cache.set(key, key)
    assert cache.invalidate_prefix("playlists:list") == 3
    assert "playlists:listing" in cache and "other" in cache


def test_tag_invalidation_removes_only_tagged_entries_and_counts_them() -> None:
    cache, _ = _cache()
    cache.set(playlist_detail_key(1), "d1", tags=[playlist_tag(1)])
    cache.set(playlist_detail_key(1, "summary"), "s1", tags=[playlist_tag(1)])
    cache.set(playlist_detail_key(2), "d2", tags=[playlist_tag(2)])
    cache.set(playlist_list_key(limit=50), "l", tags=[PLAYLIST_LIST_TAG])
    assert ResponseCacheInvalidator(cache).invalidate([1]) == 3
    assert list(cache.keys_for_tag(playlist_tag(2))) == [playlist_detail_key(2)]
    assert ResponseCacheInvalidator(cache).invalidate([]) == 0
    assert NullInvalidator().invalidate([2]) == 0 and len(cache) == 1
    assert cache.stats().invalidated == 3


def test_a_value_loaded_while_an_invalidation_ran_is_not_cached() -> None:
    cache, _ = _cache()
    started, release = threading.Event(), threading.Event()

    def slow_load() -> CacheEntry[str]:
        started.set()
        release.wait(5)
        return CacheEntry("old", '"old"')

    result: list[CacheEntry[str]] = []
    reader = threading.Thread(
        target=lambda: result.append(cache.get_or_load("k", slow_load, tags=["t"]))
    )
    reader.start()
    started.wait(5)
    cache.invalidate_tags("t")  # a sync committed while the reader was loading
    release.set()
    reader.join(5)
    assert result[0].value == "old"  # the caller still gets its answer
    assert "k" not in cache  # but it is not kept for the next one
    assert cache.get_or_load("k", lambda: CacheEntry("new", '"new"')).value == "new"
    assert cache.get("k") is not None


def test_list_keys_are_canonical_and_etags_are_quoted_and_stable() -> None:
    assert playlist_list_key(limit=5, status="all") == playlist_list_key(status="all", limit=5)
    assert strong_etag("p", 1, 2).startswith('"') and strong_etag("p", 1, 2) == strong_etag(
        "p", 1, 2
    )
    assert strong_etag("p", 1, 2) != strong_etag("p", 1, 3)


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match="max_entries"):
        ResponseCache(max_entries=0)
    with pytest.raises(InvalidInputError, match="ttl_seconds"):
        ResponseCache(ttl_seconds=0)
    with pytest.raises(InvalidInputError, match="cache keys"):
        ResponseCache().set("", 1)


def test_contexts_build_their_own_cache_from_settings_or_none_when_disabled(
    tmp_path: object,
) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    with (
        HarmonyContext.from_url(url, settings={"cache_max_entries": 7}) as one,
        HarmonyContext.from_url(url) as two,
    ):
        assert one.cache is not None and two.cache is not None and one.cache is not two.cache
        assert one.cache.max_entries == 7
        assert (
            isinstance(one.invalidator, ResponseCacheInvalidator)
            and one.invalidator.cache is one.cache
        )
    with HarmonyContext(HarmonySettings(database_url=url, cache_enabled=False)) as off:
        assert off.cache is None and isinstance(off.invalidator, NullInvalidator)
