"""Repositories: SQL for each kind of stored thing, nothing of HTTP or services."""

from harmony._repositories.activity import (
    ActivityEvent,
    ActivityPage,
    ActivityRepository,
    ExportFormat,
)
from harmony._repositories.credentials import CredentialStore, ProviderCredentials

__all__ = [
    "ActivityEvent",
    "ActivityPage",
    "ActivityRepository",
    "CredentialStore",
    "ExportFormat",
    "ProviderCredentials",
]
