"""Keeps a context's response cache as fresh as the database, whichever process wrote.

Every write that changes a cached response records a numbered change in the change feed
(:mod:`harmony._repositories.change_feed`) in its own transaction. Before a cached entry is
served, :meth:`CacheCoherence.revalidate` learns the newest committed change number (a
one-row read on PostgreSQL; on SQLite only when ``PRAGMA data_version`` says another
connection committed) and, if it moved, reads what changed since its last look and drops
exactly those entries. When freshness cannot be proven (the feed was pruned past the last
look, went backwards, or cannot be read) the whole cache is dropped.

A host's own invalidator (``HarmonyContext(invalidator=...)``) is told about changes that
other contexts and processes commit by a follower: LISTEN/NOTIFY on PostgreSQL, a
``data_version`` poll on SQLite. It keeps a cursor of its own, and waits for this
context's own writes in flight to finish, so a change this context made (whose sync
already called the invalidator) is not reported to the host a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Literal

from harmony._cache.invalidator import CacheInvalidator
from harmony._cache.keys import PLAYLIST_LIST_TAG, playlist_tag
from harmony._cache.response_cache import ResponseCache
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._repositories.change_feed import HEAD_SQL, ChangeFeed, FeedSlice
from harmony._timing import elapsed_ms

__all__ = ["CacheCoherence"]

_log = logging.getLogger("harmony.cache")

Source = Literal["read", "notify"]
#: Change numbers committed by this context, remembered until both cursors pass them.
_LOCAL_LIMIT = 4096
#: How long the follower waits for this context's writes in flight before reporting what
#: it cannot attribute (a host may then hear of a change twice, never not at all).
_LOCAL_WAIT_SECONDS = 60.0


class CacheCoherence:
    """Revalidates ``cache`` against the change feed and tells ``host_invalidator``."""

    def __init__(
        self,
        db: Database,
        feed: ChangeFeed,
        cache: ResponseCache | None,
        host_invalidator: CacheInvalidator | None,
        events: EventLogger,
    ) -> None:
        self._db = db
        self._feed = feed
        self._cache = cache
        self._host = host_invalidator
        self._events = events
        self._lock = threading.Lock()  # the cache cursor
        self._host_lock = threading.Lock()  # the host cursor (follower thread)
        self._known: int | None = None
        self._version: int | None = None
        self._host_known: int | None = None
        self._local: set[int] = set()
        self._writing = 0
        self._writes = threading.Condition()
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._signalled = threading.Event()
        self._probe_failed = False

    def __repr__(self) -> str:
        return f"CacheCoherence(known={self._known}, following={self._unsubscribe is not None})"

    @property
    def known(self) -> int | None:
        """The newest change number the cache has caught up with (``None``: not yet)."""
        return self._known

    # -- the read path ----------------------------------------------------------------------

    def revalidate(self) -> bool:
        """Catch the cache up with the database; ``False`` if freshness cannot be proven.

        Call before serving a cached entry; on ``False`` read the database directly (the
        cache was dropped, and the read reports the database's own error if it has one).
        """
        watcher = self._db.watcher
        if watcher is None:  # in-memory SQLite: this process is the only writer
            return True
        try:
            version = watcher.data_version()
            if version is not None and version == self._version and self._known is not None:
                return True  # SQLite: nobody committed since the last look
            head = int(watcher.scalar(HEAD_SQL))
        except Exception as exc:  # unreachable, or a database not migrated to 0005 yet
            self._cannot_prove(exc, quiet=False)
            return False
        self._probe_failed = False
        self._catch_up_cache(head, "read", version)
        return True

    # -- this context's own writes ------------------------------------------------------

    def begin_local(self) -> None:
        """A write of this context that may record a change is about to begin."""
        with self._writes:
            self._writing += 1

    def end_local(self, number: int | None, playlist_ids: Collection[int]) -> None:
        """The write ended: committed as change ``number`` (``None``: no change, or it
        failed). Call after the commit, before the writer runs its invalidator."""
        if number is not None:
            if self._cache is not None and self._host is not None and playlist_ids:
                # The host's invalidator, which the writer calls, does not cover this cache.
                self._cache.invalidate_tags(PLAYLIST_LIST_TAG, *map(playlist_tag, playlist_ids))
            with self._lock:
                self._local.add(number)
                if len(self._local) > _LOCAL_LIMIT:
                    self._local = set(sorted(self._local)[-_LOCAL_LIMIT:])
        with self._writes:
            self._writing -= 1
            self._writes.notify_all()

    # -- following --------------------------------------------------------------------------

    def follow(self) -> None:
        """Tell the host's invalidator (and drop cache entries) as other processes commit
        changes, in a background thread. Idempotent; a no-op without a watcher."""
        watcher = self._db.watcher
        if watcher is None or self._unsubscribe is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._follow, name="harmony-cache-follower", daemon=True
        )
        self._thread.start()
        self._unsubscribe = watcher.subscribe("changes", self._on_signal)

    def close(self) -> None:
        """Stop following."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self._stop.set()
        self._signalled.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _on_signal(self, payload: str | None) -> None:
        # The watcher's thread: hand over at once (catching up may wait for our own writes).
        if (
            payload is not None
            and payload.isdigit()
            and self._host_known is not None
            and int(payload) <= self._host_known
            and self._known is not None
        ):
            return  # already seen (a read or an earlier signal got there first)
        self._signalled.set()

    def _follow(self) -> None:
        while not self._stop.is_set():
            self._signalled.wait()
            self._signalled.clear()
            if self._stop.is_set():
                return
            watcher = self._db.watcher
            if watcher is None:
                return
            try:
                head = int(watcher.scalar(HEAD_SQL))
                self._catch_up_cache(head, "notify", None)
                self._catch_up_host(head)
            except Exception as exc:  # not migrated yet, unreachable: the next signal retries
                self._cannot_prove(exc, quiet=True)

    # -- catching up ----------------------------------------------------------------------

    def _catch_up_cache(self, head: int, source: Source, version: int | None) -> None:
        started = time.perf_counter()
        with self._lock:
            known = self._known
            if known != head:
                if known is None:
                    # The first look: entries already in the cache (a cache passed in) were
                    # loaded at an unknown time, so none of them is trusted.
                    if self._cache is not None and len(self._cache):
                        removed = self._cache.clear()
                        self._emit(
                            source,
                            "reset",
                            None,
                            head,
                            0,
                            removed,
                            started,
                            reason="first look at the change feed",
                        )
                else:
                    changes = self._read(known, head)
                    if changes is None or not changes.complete:
                        removed = self._cache.clear() if self._cache is not None else 0
                        self._emit(
                            source,
                            "reset",
                            known,
                            head,
                            0,
                            removed,
                            started,
                            reason=_reset_reason(changes),
                        )
                    elif changes.playlist_ids or changes.tags:
                        removed = 0
                        if self._cache is not None:
                            removed = self._cache.invalidate_tags(
                                PLAYLIST_LIST_TAG,
                                *map(playlist_tag, changes.playlist_ids),
                                *changes.tags,
                            )
                        self._emit(
                            source,
                            "ok",
                            known,
                            head,
                            len(changes.playlist_ids),
                            removed,
                            started,
                            playlist_ids=changes.playlist_ids,
                        )
                self._known = head
                self._forget_local()
            if version is not None:
                self._version = version

    def _catch_up_host(self, head: int) -> None:
        if self._host is None:
            return
        with self._writes:  # this context's own changes are reported by its writers
            self._writes.wait_for(lambda: self._writing == 0, timeout=_LOCAL_WAIT_SECONDS)
        started = time.perf_counter()
        with self._host_lock:
            known = self._host_known
            if known == head:
                return
            if known is not None:
                changes = self._read(known, head)
                if changes is None or not changes.complete:
                    self._host_reset(known, head, started, _reset_reason(changes))
                elif changes.playlist_ids:
                    self._tell_host(known, head, changes.playlist_ids, started)
            self._host_known = head
            with self._lock:
                self._forget_local()

    def _read(self, known: int, head: int) -> FeedSlice | None:
        """Changes after ``known`` up to ``head`` not made by this context; ``None`` when
        the feed went back (a restored or replaced database)."""
        if head < known:
            return None
        local = {n for n in self._local if known < n <= head}
        with self._db.connect() as conn:
            return self._feed.since(conn, known, head, exclude=local)

    def _forget_local(self) -> None:
        # Lock held. A number every cursor has passed is never looked at again; a cursor
        # that has not looked yet starts at the head without reading the feed.
        cursors = [self._known]
        if self._host is not None and self._thread is not None:
            cursors.append(self._host_known)
        looked = [c for c in cursors if c is not None]
        if not looked:
            self._local.clear()
            return
        floor = min(looked)
        self._local = {n for n in self._local if n > floor}

    def _tell_host(
        self, known: int, head: int, playlist_ids: Collection[int], started: float
    ) -> None:
        assert self._host is not None
        try:
            removed = int(self._host.invalidate(frozenset(playlist_ids)))
        except Exception as exc:  # harmony's own cache is right; the host's may not be
            self._emit(
                "notify",
                "error",
                known,
                head,
                len(playlist_ids),
                0,
                started,
                error=_describe(exc),
                playlist_ids=playlist_ids,
            )
            return
        self._emit(
            "notify",
            "ok",
            known,
            head,
            len(playlist_ids),
            removed,
            started,
            playlist_ids=playlist_ids,
            host=True,
        )

    def _host_reset(self, known: int, head: int, started: float, reason: str) -> None:
        assert self._host is not None
        try:
            with self._db.connect() as conn:
                ids = self._feed.playlist_ids(conn)
            removed = int(self._host.invalidate(ids)) if ids else 0
        except Exception as exc:
            self._emit(
                "notify", "error", known, head, 0, 0, started, error=_describe(exc), reason=reason
            )
            return
        self._emit(
            "notify", "reset", known, head, len(ids), removed, started, reason=reason, host=True
        )

    def _cannot_prove(self, exc: Exception, *, quiet: bool) -> None:
        if not self._probe_failed and not quiet:
            self._probe_failed = True
            _log.warning(
                "harmony: cannot read the change feed (%s); reading the database directly "
                "until it can",
                _describe(exc),
            )
        with self._lock:
            if self._cache is not None and len(self._cache):
                self._cache.clear()
            self._known = None
            self._version = None

    def _emit(
        self,
        source: Source,
        status: str,
        known: int | None,
        head: int,
        playlists: int,
        removed: int,
        started: float,
        *,
        error: str | None = None,
        reason: str | None = None,
        playlist_ids: Collection[int] = (),
        host: bool = False,
    ) -> None:
        meta: dict[str, object] = {}
        if playlist_ids:
            meta["playlist_ids"] = sorted(playlist_ids)[:1000]
        if reason:
            meta["reason"] = reason
        if host:
            meta["host_invalidator"] = True
        try:
            self._events.emit(
                "cache.revalidate",
                status=status,
                source=source,
                change_from=known,
                change_to=head,
                playlist_count=playlists,
                invalidated_entries=removed,
                duration_ms=elapsed_ms(started),
                **({"error": error} if error else {}),
                **({"meta": meta} if meta else {}),
            )
        except Exception:  # an event sink must never make a read fail
            _log.exception("harmony: could not emit cache.revalidate")


def _reset_reason(changes: FeedSlice | None) -> str:
    if changes is None:
        return "the change feed went back (a restored or replaced database)"
    return "the change feed was pruned past the last look"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:500]
