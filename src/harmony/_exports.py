"""Names ``harmony`` re-exports beyond its original list: the types users annotate with
(services, callables' types, value types), the event contract, the cache key helpers and
the schema objects a host's migrations need. Kept apart from ``__init__`` so that the list
of what the public boundary added reads in one place; ``harmony/__init__.py`` star-imports
it and extends ``__all__`` with it.
"""

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
from harmony._cache.response_cache import CacheStats
from harmony._db import ActivityEventRow, Database, metadata
from harmony._events import (
    EVENTS,
    EventSpec,
    FieldValue,
    RecordedEvent,
    logger_name_for,
    validate_event,
)
from harmony._migrations import (
    VERSION_TABLE,
    MigrationRunner,
    Revision,
    script_location,
)
from harmony._repositories.activity import ActivityRepository
from harmony._repositories.credentials import CredentialStore
from harmony._repositories.jobs import JobQueue
from harmony._repositories.match_types import MatchMethod, MatchStatus
from harmony._repositories.playlist_types import PlaylistStatus
from harmony._repositories.playlists import PlaylistRepository, TrackRepository
from harmony._services.export import (
    EXPORT_FORMATS,
    ExportFormat,
    ExportService,
    FileLocator,
    MatchLookup,
)
from harmony._services.handlers import Handler
from harmony._services.matching import MatchingService
from harmony._services.playlists import PlaylistService
from harmony._services.providers import ProviderStatusService
from harmony._services.scheduler import PeriodicJob, PollBackoff
from harmony._services.search import SearchService
from harmony._services.sync import ProgressCallback, SyncEngine
from harmony._services.system import PsutilLike, SystemService

__all__ = [
    "EVENTS",
    "EXPORT_FORMATS",
    "PLAYLIST_LIST_PREFIX",
    "PLAYLIST_LIST_TAG",
    "VERSION_TABLE",
    "ActivityEventRow",
    "ActivityRepository",
    "CacheStats",
    "CredentialStore",
    "Database",
    "EventSpec",
    "ExportFormat",
    "ExportService",
    "FieldValue",
    "FileLocator",
    "Handler",
    "JobQueue",
    "MatchLookup",
    "MatchMethod",
    "MatchStatus",
    "MatchingService",
    "MigrationRunner",
    "PeriodicJob",
    "PlaylistRepository",
    "PlaylistService",
    "PlaylistStatus",
    "PollBackoff",
    "ProgressCallback",
    "ProviderStatusService",
    "PsutilLike",
    "RecordedEvent",
    "Revision",
    "SearchService",
    "SyncEngine",
    "SystemService",
    "TrackRepository",
    "logger_name_for",
    "metadata",
    "playlist_detail_key",
    "playlist_list_key",
    "playlist_tag",
    "provider_status_key",
    "provider_tag",
    "script_location",
    "strong_etag",
    "validate_event",
]
