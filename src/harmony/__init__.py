"""harmony: an embeddable music-library sync core.

Construct one :class:`HarmonyContext` and use its services::

    from harmony import HarmonyContext

    with HarmonyContext.from_url("sqlite:///harmony.db") as ctx:
        ctx.migrate()
"""

from harmony import _compat, _exports
from harmony._cache import (
    CacheEntry,
    CacheInvalidator,
    CallbackInvalidator,
    NullInvalidator,
    ResponseCache,
    ResponseCacheInvalidator,
)
from harmony._clock import Clock, SystemClock
from harmony._context import HarmonyContext
from harmony._events import (
    ActivityEventLogger,
    EventLogger,
    FanOutEventLogger,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
    SafeEventLogger,
)
from harmony._exports import *  # noqa: F403 -- the names are listed in _exports.__all__
from harmony._repositories import ActivityEvent, ActivityPage, ProviderCredentials
from harmony._repositories.job_types import Job, JobPage, JobSpec, LeasedJob, QueueStats
from harmony._repositories.match_types import (
    MatchCandidate,
    MatchReport,
    TrackMatch,
    UnmatchedTrack,
)
from harmony._repositories.playlist_types import (
    Playlist,
    PlaylistDetail,
    PlaylistPage,
    PlaylistTrack,
    Track,
)
from harmony._repositories.playlists import MAX_PAGE_SIZE
from harmony._services import (
    Exponential,
    Fixed,
    JobContext,
    LeaseScheduler,
    RetryPolicy,
    Worker,
    WorkerReport,
)
from harmony._services.export import ExportReport, MissingEntry
from harmony._services.matching import MATCH_JOB_TYPE
from harmony._services.providers import ProviderStatus
from harmony._services.search import MAX_SEARCH_OFFSET, SearchHit, SearchResult
from harmony._services.sync import SYNC_JOB_TYPE, RejectedItem, SyncProgress, SyncReport
from harmony._services.sync_plan import (
    PlannedTrack,
    PlaylistPlan,
    SyncPlan,
    TrackUpdate,
)
from harmony._services.system import HealthPart, HealthReport, SystemStats
from harmony._settings import HarmonySettings, ProviderRateLimit, UnknownSettingWarning
from harmony.errors import (
    ConfigurationError,
    ContextClosed,
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
    MissingExtraError,
    NotFoundError,
    ProviderError,
    RateLimited,
    RetryLater,
    SchemaDriftError,
    SyncFailed,
    UnknownProviderError,
    UnknownRevisionError,
)
from harmony.providers import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    RateBudget,
    TrackSearchProvider,
)

__version__ = "0.1.0.dev0"

# The module paths from before the underscore (see harmony._compat) keep importing for one
# release, with a DeprecationWarning.
_compat.install()

__all__ = [
    "MATCH_JOB_TYPE",
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_OFFSET",
    "SYNC_JOB_TYPE",
    "ActivityEvent",
    "ActivityEventLogger",
    "ActivityPage",
    "CacheEntry",
    "CacheInvalidator",
    "CallbackInvalidator",
    "Clock",
    "ConfigurationError",
    "ContextClosed",
    "CredentialsError",
    "DatabaseError",
    "DatabaseUnavailable",
    "DiagnosticsUnavailable",
    "EventLogger",
    "EventValidationError",
    "Exponential",
    "ExportReport",
    "FanOutEventLogger",
    "Fixed",
    "HarmonyContext",
    "HarmonyError",
    "HarmonySettings",
    "HealthPart",
    "HealthReport",
    "ImportFileError",
    "InvalidInputError",
    "Job",
    "JobContext",
    "JobPage",
    "JobSpec",
    "JobStateError",
    "LeaseLost",
    "LeaseScheduler",
    "LeasedJob",
    "LoggingEventLogger",
    "MatchCandidate",
    "MatchReport",
    "MigrationError",
    "MissingEntry",
    "MissingExtraError",
    "NotFoundError",
    "NullEventLogger",
    "NullInvalidator",
    "PlannedTrack",
    "Playlist",
    "PlaylistDetail",
    "PlaylistPage",
    "PlaylistPlan",
    "PlaylistProvider",
    "PlaylistTrack",
    "ProviderCredentials",
    "ProviderError",
    "ProviderPlaylist",
    "ProviderRateLimit",
    "ProviderStatus",
    "ProviderTrack",
    "QueueStats",
    "RateBudget",
    "RateLimited",
    "RecordingEventLogger",
    "RejectedItem",
    "ResponseCache",
    "ResponseCacheInvalidator",
    "RetryLater",
    "RetryPolicy",
    "SafeEventLogger",
    "SchemaDriftError",
    "SearchHit",
    "SearchResult",
    "SyncFailed",
    "SyncPlan",
    "SyncProgress",
    "SyncReport",
    "SystemClock",
    "SystemStats",
    "Track",
    "TrackMatch",
    "TrackSearchProvider",
    "TrackUpdate",
    "UnknownProviderError",
    "UnknownRevisionError",
    "UnknownSettingWarning",
    "UnmatchedTrack",
    "Worker",
    "WorkerReport",
    "__version__",
]
__all__ += _exports.__all__
