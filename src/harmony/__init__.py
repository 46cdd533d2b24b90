"""harmony: an embeddable music-library sync core.

Construct one :class:`HarmonyContext` and use its services::

    from harmony import HarmonyContext

    with HarmonyContext.from_url("sqlite:///harmony.db") as ctx:
        ctx.migrate()
"""

from harmony.cache import (
    CacheEntry,
    CacheInvalidator,
    CallbackInvalidator,
    NullInvalidator,
    ResponseCache,
    ResponseCacheInvalidator,
)
from harmony.clock import Clock, SystemClock
from harmony.context import HarmonyContext
from harmony.errors import (
    ConfigurationError,
    CredentialsError,
    DatabaseError,
    DatabaseUnavailable,
    DiagnosticsUnavailable,
    EventValidationError,
    HarmonyError,
    ImportFileError,
    InvalidInputError,
    JobStateError,
    LeaseLost,
    MigrationError,
    NotFoundError,
    ProviderError,
    SchemaDriftError,
    SyncFailed,
    UnknownProviderError,
    UnknownRevisionError,
)
from harmony.events import (
    ActivityEventLogger,
    EventLogger,
    FanOutEventLogger,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
)
from harmony.providers import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    TrackSearchProvider,
)
from harmony.repositories import ActivityEvent, ActivityPage, ProviderCredentials
from harmony.repositories.job_types import Job, JobPage, JobSpec, LeasedJob, QueueStats
from harmony.repositories.match_types import (
    MatchCandidate,
    MatchReport,
    TrackMatch,
    UnmatchedTrack,
)
from harmony.repositories.playlist_types import (
    Playlist,
    PlaylistDetail,
    PlaylistPage,
    PlaylistTrack,
    Track,
)
from harmony.repositories.playlists import MAX_PAGE_SIZE
from harmony.services import LeaseScheduler, RetryPolicy, Worker, WorkerReport
from harmony.services.matching import MATCH_JOB_TYPE
from harmony.services.providers import ProviderStatus
from harmony.services.search import MAX_SEARCH_OFFSET, SearchHit, SearchResult
from harmony.services.sync import SYNC_JOB_TYPE, RejectedItem, SyncProgress, SyncReport
from harmony.services.system import HealthPart, HealthReport, SystemStats
from harmony.settings import HarmonySettings

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "ActivityEvent",
    "ActivityEventLogger",
    "ActivityPage",
    "CacheEntry",
    "CacheInvalidator",
    "CallbackInvalidator",
    "Clock",
    "ConfigurationError",
    "CredentialsError",
    "DatabaseError",
    "DatabaseUnavailable",
    "DiagnosticsUnavailable",
    "EventLogger",
    "EventValidationError",
    "FanOutEventLogger",
    "HarmonyContext",
    "HarmonyError",
    "HarmonySettings",
    "HealthPart",
    "HealthReport",
    "ImportFileError",
    "InvalidInputError",
    "Job",
    "JobPage",
    "JobSpec",
    "JobStateError",
    "LeaseLost",
    "LeaseScheduler",
    "LeasedJob",
    "LoggingEventLogger",
    "MATCH_JOB_TYPE",
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_OFFSET",
    "MatchCandidate",
    "MatchReport",
    "MigrationError",
    "NotFoundError",
    "NullEventLogger",
    "NullInvalidator",
    "Playlist",
    "PlaylistDetail",
    "PlaylistPage",
    "PlaylistProvider",
    "PlaylistTrack",
    "ProviderCredentials",
    "ProviderError",
    "ProviderPlaylist",
    "ProviderStatus",
    "ProviderTrack",
    "QueueStats",
    "RecordingEventLogger",
    "RejectedItem",
    "ResponseCache",
    "ResponseCacheInvalidator",
    "RetryPolicy",
    "SYNC_JOB_TYPE",
    "SchemaDriftError",
    "SearchHit",
    "SearchResult",
    "SyncFailed",
    "SyncProgress",
    "SyncReport",
    "SystemClock",
    "SystemStats",
    "Track",
    "TrackMatch",
    "TrackSearchProvider",
    "UnknownProviderError",
    "UnknownRevisionError",
    "UnmatchedTrack",
    "Worker",
    "WorkerReport",
]
