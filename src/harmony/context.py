"""The one object a host constructs: :class:`HarmonyContext`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from harmony.cache.invalidator import (
    CacheInvalidator,
    NullInvalidator,
    ResponseCacheInvalidator,
)
from harmony.cache.response_cache import ResponseCache
from harmony.clock import Clock, SystemClock
from harmony.db.engine import Database
from harmony.errors import ConfigurationError, HarmonyError
from harmony.events.base import EventLogger
from harmony.events.loggers import ActivityEventLogger, LoggingEventLogger
from harmony.migrations.runner import MigrationRunner
from harmony.providers.base import PlaylistProvider
from harmony.repositories.activity import ActivityRepository
from harmony.repositories.credentials import PROVIDER_NAME, CredentialStore
from harmony.repositories.jobs import JobQueue
from harmony.repositories.playlists import PlaylistRepository, TrackRepository
from harmony.repositories.track_search import TrackSearchRepository
from harmony.services.matching import MatchingService
from harmony.services.playlists import PlaylistService
from harmony.services.providers import ProviderStatusService
from harmony.services.scheduler import LeaseScheduler
from harmony.services.search import SearchService
from harmony.services.sync import SyncEngine
from harmony.services.system import SystemService
from harmony.settings import HarmonySettings

__all__ = ["HarmonyContext"]


class HarmonyContext:
    """Owns a database engine and every harmony service built on it.

    Every collaborator is injected or defaulted here and nothing is looked up globally, so
    two contexts in one process share no rows, events, caches or settings::

        with HarmonyContext.from_url("sqlite:///harmony.db") as ctx:
            ctx.migrate()
            ctx.activity.record("note", "ok", {"text": "hello"})

    Args:
        settings: validated :class:`HarmonySettings`.
        events: where events go; defaults to :class:`~harmony.events.LoggingEventLogger`.
            Events named in ``settings.activity_events`` are also stored in
            ``activity_events``.
        cache: the :class:`~harmony.cache.ResponseCache` of the playlist read path; by
            default one is built from the ``cache_*`` settings (none when
            ``cache_enabled=False``).
        invalidator: what syncs call after they commit; by default a
            :class:`~harmony.cache.ResponseCacheInvalidator` on ``ctx.cache`` (a
            :class:`~harmony.cache.NullInvalidator` without a cache).
        psutil: a psutil-compatible object for diagnostics; kept as ``ctx.psutil``.
        clock: time source (:class:`~harmony.clock.SystemClock` by default).
        providers: playlist providers (:class:`~harmony.providers.PlaylistProvider`) by
            name; ``ctx.sync.run_once()`` syncs them. Kept read-only as
            ``ctx.provider_registry``.
    """

    def __init__(
        self,
        settings: HarmonySettings,
        *,
        events: EventLogger | None = None,
        cache: ResponseCache | None = None,
        invalidator: CacheInvalidator | None = None,
        psutil: Any | None = None,
        clock: Clock | None = None,
        providers: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(settings, HarmonySettings):
            raise TypeError(
                f"settings must be HarmonySettings, got {type(settings).__name__}; use "
                "HarmonyContext.from_url(url) to build them from a URL"
            )
        self.settings = settings
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.db = Database(settings)
        self.activity = ActivityRepository(self.db, self.clock)
        host_events: EventLogger = events if events is not None else LoggingEventLogger()
        self.events: EventLogger = (
            ActivityEventLogger(self.activity, settings.activity_events, inner=host_events)
            if settings.activity_events
            else host_events
        )
        self.migrations = MigrationRunner(self.db, self.events, schemaless_events=host_events)
        self.credentials = CredentialStore(
            self.db, self.clock, self.events, on_change=self._credentials_changed
        )
        self.jobs = JobQueue(
            self.db, self.clock, self.events, lease_seconds=settings.scheduler_visibility_timeout
        )
        self.scheduler = LeaseScheduler(self.jobs, self.clock, self.events, settings)
        self._owns_cache = cache is None and settings.cache_enabled
        if cache is None and settings.cache_enabled:
            cache = ResponseCache(
                max_entries=settings.cache_max_entries, ttl_seconds=settings.cache_ttl_seconds,
                clock=self.clock,
            )  # fmt: skip
        self.cache: ResponseCache | None = cache
        self.invalidator: CacheInvalidator = (
            invalidator if invalidator is not None
            else ResponseCacheInvalidator(cache) if cache is not None
            else NullInvalidator()
        )  # fmt: skip
        self.psutil = psutil
        self.system = SystemService(
            self.db, self.migrations, self.clock, psutil=psutil,
            disk_path=settings.diagnostics_disk_path,
        )  # fmt: skip
        self.provider_registry: Mapping[str, PlaylistProvider] = MappingProxyType(
            _check_providers(providers or {})
        )
        self.providers = ProviderStatusService(
            self.credentials, self.provider_registry, self.clock, self.cache
        )
        track_search = TrackSearchRepository(self.db)
        self.search = SearchService(
            track_search, self.events, self.provider_registry, settings.search_max_limit,
        )  # fmt: skip
        self.matching = MatchingService(
            self.db, self.clock, self.events, lambda: self.provider_registry,
            settings.matching_duration_tolerance_ms, track_search,
        )  # fmt: skip
        self.playlists = PlaylistService(PlaylistRepository(self.db), self.cache)
        self.tracks = TrackRepository(self.db)
        self.sync = SyncEngine(
            self.db, self.clock, self.events, self.provider_registry, self.invalidator,
            settings.sync_removed_policy,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._closed = False

    def _credentials_changed(self, provider: str) -> None:
        # Credentials change only after construction, when ctx.providers exists.
        self.providers.invalidate(provider)

    @classmethod
    def from_url(
        cls, url: str, /, *, settings: Mapping[str, Any] | None = None, **collaborators: Any
    ) -> HarmonyContext:
        """A context on ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://...``).

        ``settings`` holds further :class:`HarmonySettings` fields; the keywords are the
        constructor's collaborators (``events=``, ``clock=``, ...).
        """
        return cls(HarmonySettings(database_url=url, **dict(settings or {})), **collaborators)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **collaborators: Any
    ) -> HarmonyContext:
        """A context configured from ``HARMONY_*`` environment variables."""
        return cls(HarmonySettings.from_env(environ), **collaborators)

    def migrate(self) -> str | None:
        """Upgrade the database to the newest schema; a no-op when it is already there."""
        self._check_open()
        return self.migrations.upgrade("head")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Release the engine's connections and empty the cache it built. Idempotent.

        After ``close()`` every read and write raises, cached reads included. A cache
        passed in with ``cache=`` belongs to the caller and is left as it is.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.db.dispose()
        if self._owns_cache and self.cache is not None:
            self.cache.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise HarmonyError("this HarmonyContext is closed; create a new one")

    def __enter__(self) -> HarmonyContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"HarmonyContext(url={self.settings.safe_database_url!r}, {state})"


def _check_providers(providers: Mapping[str, Any]) -> dict[str, PlaylistProvider]:
    checked: dict[str, PlaylistProvider] = {}
    for name, provider in providers.items():
        if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"provider name {name!r:.80} is invalid; use a lowercase name such as 'spotify' "
                "(letters, digits, '_', '.', '-'; at most 63 characters)"
            )
        if not isinstance(provider, PlaylistProvider):
            raise ConfigurationError(
                f"provider {name!r} ({type(provider).__name__}) is not a PlaylistProvider: it "
                "needs a name and iter_playlists() and iter_tracks(playlist_id) methods"
            )
        checked[name] = provider
    return checked
