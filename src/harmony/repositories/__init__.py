"""Repositories: SQL for each kind of stored thing, nothing of HTTP or services."""

from harmony.repositories.activity import (
    ActivityEvent,
    ActivityPage,
    ActivityRepository,
    ExportFormat,
)
from harmony.repositories.credentials import CredentialStore, ProviderCredentials

__all__ = [
    "ActivityEvent",
    "ActivityPage",
    "ActivityRepository",
    "CredentialStore",
    "ExportFormat",
    "ProviderCredentials",
]
