"""harmony: an embeddable music-library sync core.

Construct one :class:`HarmonyContext` and use its services::

    from harmony import HarmonyContext

    with HarmonyContext.from_url("sqlite:///harmony.db") as ctx:
        ctx.migrate()
"""

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
from harmony.repositories import ActivityEvent, ActivityPage, ProviderCredentials
from harmony.repositories.job_types import Job, JobPage, JobSpec, LeasedJob, QueueStats
from harmony.services import LeaseScheduler, RetryPolicy, Worker, WorkerReport
from harmony.settings import HarmonySettings

__version__ = "0.1.0.dev0"

__all__ = [
    "ActivityEvent",
    "ActivityEventLogger",
    "ActivityPage",
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
    "ImportFileError",
    "InvalidInputError",
    "Job",
    "JobPage",
    "JobSpec",
    "JobStateError",
    "LeaseScheduler",
    "LeasedJob",
    "QueueStats",
    "RetryPolicy",
    "Worker",
    "WorkerReport",
    "LeaseLost",
    "LoggingEventLogger",
    "MigrationError",
    "NotFoundError",
    "NullEventLogger",
    "ProviderCredentials",
    "ProviderError",
    "RecordingEventLogger",
    "SchemaDriftError",
    "SystemClock",
    "UnknownRevisionError",
    "__version__",
]
