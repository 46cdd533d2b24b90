"""The one object a host constructs: :class:`HarmonyContext`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

from harmony._cache.invalidator import (
    CacheInvalidator,
    NullInvalidator,
    ResponseCacheInvalidator,
)
from harmony._cache.response_cache import ResponseCache
from harmony._clock import Clock, SystemClock
from harmony._db.engine import Database
from harmony._events.base import EventLogger
from harmony._events.guard import SafeEventLogger
from harmony._events.loggers import ActivityEventLogger, LoggingEventLogger
from harmony._migrations.runner import MigrationRunner
from harmony._repositories.activity import ActivityRepository
from harmony._repositories.change_feed import ChangeFeed
from harmony._repositories.credentials import CredentialStore
from harmony._repositories.diagnostics import DatabaseProbe
from harmony._repositories.jobs import JobQueue
from harmony._repositories.playlists import PlaylistRepository, TrackRepository
from harmony._repositories.settings import OptionStore
from harmony._repositories.track_lookup import TrackLookup
from harmony._repositories.track_search import TrackSearchRepository
from harmony._services.coherence import CacheCoherence
from harmony._services.export import ExportService
from harmony._services.handlers import HandlerRegistry
from harmony._services.matching import MatchingService
from harmony._services.playlists import PlaylistService
from harmony._services.providers import ProviderStatusService
from harmony._services.scheduler import LeaseScheduler
from harmony._services.search import SearchService
from harmony._services.sync import SyncEngine
from harmony._services.system import SystemService
from harmony._settings import HarmonySettings
from harmony.errors import ConfigurationError, ContextClosed
from harmony.providers.base import PlaylistProvider
from harmony.providers.budget import DEFAULT_RATE_LIMITS, RateBudget
from harmony.providers.registry import ProviderRegistry

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
        events: where events go; defaults to :class:`~harmony._events.LoggingEventLogger`.
            Events named in ``settings.activity_events`` are also stored in
            ``activity_events``. ``ctx.events`` wraps it in a
            :class:`~harmony._events.SafeEventLogger`: a logger that raises is counted in
            ``ctx.events.failures``, never allowed to fail the operation that emitted.
        cache: the :class:`~harmony._cache.ResponseCache` of the playlist read path; by
            default one is built from the ``cache_*`` settings (none when
            ``cache_enabled=False``).
        invalidator: what syncs call after they commit; by default a
            :class:`~harmony._cache.ResponseCacheInvalidator` on ``ctx.cache`` (a
            :class:`~harmony._cache.NullInvalidator` without a cache).
        psutil: a psutil-compatible object for diagnostics; kept as ``ctx.psutil``.
        clock: time source (:class:`~harmony._clock.SystemClock` by default).
        providers: playlist providers (:class:`~harmony.providers.PlaylistProvider`) by
            name; ``ctx.sync.run_once()`` syncs them. Kept as the read-only mapping
            ``ctx.provider_registry``; :meth:`add_provider` and :meth:`remove_provider`
            change it on the live context.
        engine: a SQLAlchemy :class:`~sqlalchemy.Engine` the host already has; the context
            uses it instead of building one and leaves it open on :meth:`close`. Without
            ``settings.database_url`` set explicitly, the URL is taken from the engine.

    Caches stay coherent across contexts and processes: every write that changes a cached
    response records a numbered change in the database, and a cached read first catches
    up with it (see ``docs/sync.md``, "Coherence across processes").
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
        engine: Engine | None = None,
    ) -> None:
        if not isinstance(settings, HarmonySettings):
            raise TypeError(
                f"settings must be HarmonySettings, got {type(settings).__name__}; use "
                "HarmonyContext.from_url(url) to build them from a URL"
            )
        if engine is not None:
            settings = _settings_for_engine(settings, engine)
        self.settings = settings
        self.clock: Clock = clock if clock is not None else SystemClock()
        registry = ProviderRegistry(providers)
        self.db = Database(settings, engine)
        self.activity = ActivityRepository(self.db, self.clock)
        host_events: EventLogger = events if events is not None else LoggingEventLogger()
        persisting = (
            ActivityEventLogger(self.activity, settings.activity_events, inner=host_events)
            if settings.activity_events
            else None
        )
        # Every event goes through one guard: it validates the event once, and a sink that
        # raises is counted and reported (ctx.events.failures), never allowed to change a
        # job's, sync's or migration's outcome.
        self.events: SafeEventLogger = SafeEventLogger(
            persisting if persisting is not None else host_events
        )
        if persisting is not None:
            persisting.report_failures_to(self.events)
        self.migrations = MigrationRunner(
            self.db, self.events, schemaless_events=self.events.guarding(host_events)
        )
        self.credentials = CredentialStore(
            self.db,
            self.clock,
            self.events,
            on_change=self._credentials_changed,
            key=settings.credentials_key,
        )
        self.jobs = JobQueue(
            self.db,
            self.clock,
            self.events,
            lease_seconds=settings.scheduler_visibility_timeout,
            handlers=HandlerRegistry(),
            payload_max_bytes=settings.job_payload_max_bytes,
        )
        self.scheduler = LeaseScheduler(self.jobs, self.clock, self.events, settings)
        self._owns_cache = cache is None and settings.cache_enabled
        if cache is None and settings.cache_enabled:
            cache = ResponseCache(
                max_entries=settings.cache_max_entries,
                ttl_seconds=settings.cache_ttl_seconds,
                clock=self.clock,
            )
        self.cache: ResponseCache | None = cache
        self.invalidator: CacheInvalidator = (
            invalidator
            if invalidator is not None
            else ResponseCacheInvalidator(cache)
            if cache is not None
            else NullInvalidator()
        )
        self.psutil = psutil
        self.system = SystemService(
            DatabaseProbe(self.db),
            self.migrations,
            self.clock,
            jobs=self.jobs,
            activity=self.activity,
            psutil=psutil,
            disk_path=settings.diagnostics_disk_path,
        )
        #: Non-secret key/value rows of the settings table (e.g. the CLI's sources).
        self.options = OptionStore(self.db, self.clock)
        self._providers = registry
        #: The registered providers by name (read-only; see :meth:`add_provider`).
        self.provider_registry: Mapping[str, PlaylistProvider] = registry
        self._coherence = CacheCoherence(
            self.db,
            ChangeFeed(schema=settings.database_schema, retention=settings.change_feed_retention),
            cache,
            invalidator,
            self.events,
        )
        self.providers = ProviderStatusService(
            self.credentials, self.provider_registry, self.clock, self.cache
        )
        track_search = TrackSearchRepository(self.db)
        self.search = SearchService(
            track_search,
            self.events,
            self.provider_registry,
            settings.search_max_limit,
        )
        self.matching = MatchingService(
            self.db,
            self.clock,
            self.events,
            lambda: self.provider_registry,
            settings.matching_duration_tolerance_ms,
            track_search,
        )
        self.playlists = PlaylistService(PlaylistRepository(self.db), self.cache, self._coherence)
        self.tracks = TrackRepository(self.db)
        self.matching.register_on(self.jobs)
        # Cross-provider exports (a Spotify playlist as local file paths) read ctx.matching.
        self.export = ExportService(
            PlaylistRepository(self.db),
            TrackLookup(self.db),
            self.provider_registry,
            self.events,
            matches=self.matching,
        )
        self.sync = SyncEngine(
            self.db,
            self.clock,
            self.events,
            self.provider_registry,
            self.invalidator,
            settings.sync_removed_policy,
            feed=ChangeFeed(
                schema=settings.database_schema, retention=settings.change_feed_retention
            ),
            coherence=self._coherence,
        )
        self.sync.register_on(self.jobs)
        self._lock = threading.Lock()
        self._closed = False
        self._budgets: dict[str, RateBudget] = {}
        if invalidator is not None:
            # A host's invalidator hears of changes other processes commit as they happen,
            # not only when this context next reads.
            self._coherence.follow()

    # -- the open composition root ------------------------------------------------------

    def add_provider(self, name: str, provider: PlaylistProvider, *, replace: bool = False) -> None:
        """Register ``provider`` as ``name`` on this live context.

        ``ctx.sync``, ``ctx.search`` and ``ctx.providers`` see it at once, and so do
        workers already running ``playlist.sync`` jobs. Raises
        :class:`~harmony.errors.ConfigurationError` for an invalid name, an object that
        is not a :class:`~harmony.providers.PlaylistProvider`, or a taken name unless
        ``replace=True`` (the new provider then takes the name's place in one step; a sync
        already running with the old one finishes with it).
        """
        self._check_open()
        self._providers.add(name, provider, replace=replace)
        self.providers.invalidate(name)

    def remove_provider(self, name: str) -> PlaylistProvider:
        """Unregister the provider ``name`` and return it; its stored playlists stay.

        A sync already running with it finishes; later syncs and searches no longer see it.
        """
        provider = self._providers.remove(name)
        self.providers.invalidate(name)
        return provider

    def _credentials_changed(self, provider: str) -> None:
        # Credentials change only after construction, when ctx.providers exists.
        self.providers.invalidate(provider)

    def rate_budget(self, provider: str) -> RateBudget | None:
        """The request budget for ``provider`` on this context's clock, one per name.

        From ``settings.provider_rate_limits[provider]``, else harmony's default for that
        provider (Spotify: 5 requests/s, bursts of 10, 4 at once), else ``None`` (no
        limit). Pass it to the provider: ``SpotifyProvider(token=...,
        rate_budget=ctx.rate_budget("spotify"))``; everything using that budget shares it.
        """
        with self._lock:
            budget = self._budgets.get(provider)
            if budget is None:
                limit = self.settings.provider_rate_limits.get(provider) or DEFAULT_RATE_LIMITS.get(
                    provider
                )
                if limit is None:
                    return None
                budget = self._budgets[provider] = RateBudget.from_limit(limit, clock=self.clock)
            return budget

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
    def from_engine(
        cls,
        engine: Engine,
        /,
        *,
        settings: Mapping[str, Any] | None = None,
        **collaborators: Any,
    ) -> HarmonyContext:
        """A context on a SQLAlchemy engine the host already has (left open on close).

        ``settings`` holds further :class:`HarmonySettings` fields (``database_schema``,
        ...); the database URL is the engine's. On SQLite harmony adds its connection
        setup to the engine (WAL, foreign keys, busy timeout, explicit ``BEGIN``); on
        PostgreSQL with ``database_schema``, the engine's connections must already use
        it (``connect_args={"options": "-c search_path=<schema>"}``).
        """
        if not isinstance(engine, Engine):
            raise ConfigurationError(
                f"engine must be a SQLAlchemy Engine, got {type(engine).__name__}"
            )
        url = engine.url.render_as_string(hide_password=False)
        return cls(
            HarmonySettings(database_url=url, **dict(settings or {})),
            engine=engine,
            **collaborators,
        )

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

        After ``close()`` every read and write raises
        :class:`~harmony.errors.ContextClosed`, cached reads included. A cache
        passed in with ``cache=`` and an engine passed in with ``engine=`` belong to the
        caller and are left as they are.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._coherence.close()
        self.db.dispose()
        if self._owns_cache and self.cache is not None:
            self.cache.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise ContextClosed("this HarmonyContext is closed; create a new one")

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


def _settings_for_engine(settings: HarmonySettings, engine: Engine) -> HarmonySettings:
    """``settings`` with the engine's URL, or an error if they name different databases."""
    if not isinstance(engine, Engine):
        raise ConfigurationError(f"engine must be a SQLAlchemy Engine, got {type(engine).__name__}")
    url = engine.url.render_as_string(hide_password=False)
    if "database_url" not in settings.model_fields_set:
        return HarmonySettings(**{**settings.model_dump(), "database_url": url})
    mine, theirs = settings.url, engine.url
    same = mine.get_backend_name() == theirs.get_backend_name() and (
        mine.host,
        mine.port,
        mine.database,
    ) == (theirs.host, theirs.port, theirs.database)
    if not same:
        raise ConfigurationError(
            f"settings.database_url ({settings.safe_database_url}) and the engine passed in "
            f"({theirs.render_as_string(hide_password=True)}) name different databases; "
            "leave database_url unset to use the engine's"
        )
    return settings
