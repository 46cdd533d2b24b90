"""The harmony exception hierarchy.

Every error harmony raises on purpose derives from :class:`HarmonyError`, so a host can
catch one base class. Messages name the offending value and how to fix it; secrets
(credentials, database passwords) never appear in them. The tree (single inheritance:
each class has one harmony parent; ``also`` names the one standard exception a class
also is, where Python code conventionally catches that one for the same situation)::

    HarmonyError
    ├── ConfigurationError          also ValueError
    ├── MissingExtraError           also ImportError
    ├── InvalidInputError           also ValueError
    │   ├── CredentialsError
    │   ├── EventValidationError
    │   ├── ImportFileError
    │   ├── JobStateError
    │   └── UnknownProviderError
    ├── NotFoundError               also LookupError
    ├── ContextClosed
    ├── DatabaseError
    │   └── DatabaseUnavailable
    ├── MigrationError
    │   ├── SchemaDriftError
    │   └── UnknownRevisionError
    ├── ProviderError
    │   └── RateLimited
    ├── SyncFailed
    ├── LeaseLost
    ├── RetryLater
    └── DiagnosticsUnavailable

Why these standard bases and no others: a bad argument or setting value is a
``ValueError`` everywhere in Python (pydantic's ``ValidationError`` is one too); a missing
optional package makes ``import harmony.contrib.fastapi`` fail, and import failures are
``ImportError`` (``pytest.importorskip`` and ``try: import ... except ImportError`` rely on
it); a row that is not there is a failed lookup, as ``KeyError`` is. ``harmony.http``
gives every class its HTTP status (``ERROR_STATUS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harmony._services.sync import SyncReport

__all__ = [
    "ConfigurationError",
    "ContextClosed",
    "CredentialsError",
    "DatabaseError",
    "DatabaseUnavailable",
    "DiagnosticsUnavailable",
    "EventValidationError",
    "HarmonyError",
    "ImportFileError",
    "InvalidInputError",
    "JobStateError",
    "LeaseLost",
    "MigrationError",
    "MissingExtraError",
    "NotFoundError",
    "ProviderError",
    "RateLimited",
    "RetryLater",
    "SchemaDriftError",
    "SyncFailed",
    "UnknownProviderError",
    "UnknownRevisionError",
]


class HarmonyError(Exception):
    """Base class of every error harmony raises."""


class ConfigurationError(HarmonyError, ValueError):
    """Settings are invalid: the message names the field and the expected form."""


class MissingExtraError(HarmonyError, ImportError):
    """An optional dependency is not installed; the message names the extra to install.

    Also an :class:`ImportError`, so ``except ImportError`` around an optional import keeps
    working. (Not a :class:`ConfigurationError`: a missing package is no bad value.)
    """


class InvalidInputError(HarmonyError, ValueError):
    """An argument passed to a harmony API is invalid; nothing was written."""


class EventValidationError(InvalidInputError):
    """An event name or its fields break the event contract."""


class CredentialsError(InvalidInputError):
    """Provider credentials were malformed. The message never contains the secret."""


class NotFoundError(HarmonyError, LookupError):
    """The requested row does not exist."""


class JobStateError(InvalidInputError):
    """The job is not in a state that allows the operation (e.g. retrying a completed job)."""


class ContextClosed(HarmonyError):
    """The :class:`~harmony.HarmonyContext` was closed: every read, write, sync, search
    and worker of it raises this from then on (cached reads included). Create a new one."""


class DatabaseError(HarmonyError):
    """The database refused or failed an operation."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (wrong host or port, server down, bad credentials)."""


class MigrationError(HarmonyError):
    """A schema migration could not be run."""


class UnknownRevisionError(MigrationError):
    """A revision identifier does not exist in harmony's migration history."""


class SchemaDriftError(MigrationError):
    """The database schema and harmony's models disagree.

    ``differences`` lists each difference in a readable form.
    """

    def __init__(self, message: str, differences: list[str] | None = None) -> None:
        super().__init__(message)
        self.differences: list[str] = list(differences or [])


class LeaseLost(HarmonyError):
    """A job lease expired or was taken by another worker; its token is stale."""


class DiagnosticsUnavailable(HarmonyError):
    """System diagnostics cannot be collected (psutil missing or failing)."""


class RetryLater(HarmonyError):
    """Raised by a job handler: run this job again in ``retry_in`` seconds.

    The worker puts the job back in line at that time without counting the try, so it
    never leads to a dead letter (a rate limit is not a failure). ``retry_in`` is clamped
    to 0 .. 7 days; a value that is not a finite number becomes 7 days.
    """

    MAX_RETRY_IN = 7 * 24 * 3600.0

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        value = float(retry_in) if isinstance(retry_in, int | float) else float("nan")
        self.retry_in = (
            min(max(value, 0.0), self.MAX_RETRY_IN) if value == value else self.MAX_RETRY_IN
        )


class ProviderError(HarmonyError):
    """A playlist or search provider failed (an unknown provider name is an
    :class:`UnknownProviderError`, a failed sync a :class:`SyncFailed`)."""


class RateLimited(ProviderError):
    """A provider asked to wait ``retry_after`` seconds, longer than harmony waits in
    place; a ``playlist.sync`` job then runs again after that time instead of failing."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownProviderError(InvalidInputError):
    """A provider name that is not registered on the context (the caller's input, not a
    provider's failure)."""


class SyncFailed(HarmonyError):
    """A sync could not finish for at least one provider; ``report`` holds what did finish.

    Nothing was written for a failed provider: its database rows and cache entries are as
    they were before the sync. ``report.failed`` names each failed provider with its error.
    The exception is raised from the first provider's own failure (a
    :class:`ProviderError` or whatever the provider raised) or, when only the database
    failed, from the :class:`DatabaseError`: ``exc.__cause__`` tells which.
    """

    def __init__(self, message: str, report: SyncReport, *, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.report: SyncReport = report
        #: Set when every failed provider was rate-limited: seconds until a retry may work.
        self.retry_in = retry_in


class ImportFileError(InvalidInputError):
    """An export file cannot be read or parsed; ``path`` and ``line`` say where."""

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
