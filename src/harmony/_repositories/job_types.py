"""Values handed out by the job queue: stored jobs, leased jobs, pages and statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harmony._repositories.paging import Page

__all__ = ["Job", "JobPage", "JobSpec", "LeasedJob", "QueueStats"]


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job. ``deduped`` is true when ``enqueue`` returned an existing job."""

    id: int
    type: str
    payload: Mapping[str, Any]
    priority: int
    status: str
    attempts: int
    available_at: datetime
    lease_expires_at: datetime | None
    leased_by: str | None
    idempotency_key: str | None
    last_error: str | None
    stop_reason: str | None
    result: Any
    created_at: datetime
    updated_at: datetime
    deduped: bool = False
    lease_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class LeasedJob:
    """A job leased by one worker; ``token`` proves the lease when completing or failing.

    ``attempts`` is this try's number (the tries charged so far plus this one; the
    stored count catches up when the try is settled or recorded as started).
    ``lease_seconds`` is the visibility timeout in force (the job's own, or the lease
    call's), which heartbeats extend by. ``recovered`` is true when the job's previous
    lease expired unsettled (its worker died or stalled).
    """

    id: int
    type: str
    payload: Mapping[str, Any]
    priority: int
    attempts: int
    token: str
    lease_expires_at: datetime
    available_at: datetime
    leased_by: str | None = None
    idempotency_key: str | None = None
    lease_seconds: float = 60.0
    recovered: bool = False

    def __repr__(self) -> str:
        # The token is a capability for this lease: keep it out of logs.
        return (
            f"LeasedJob(id={self.id}, type={self.type!r}, priority={self.priority}, "
            f"attempts={self.attempts}, lease_expires_at={self.lease_expires_at.isoformat()!r})"
        )


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One job for :meth:`JobQueue.enqueue_many`."""

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    available_at: datetime | None = None
    idempotency_key: str | None = None
    lease_seconds: float | None = None


class JobPage(Page[Job, int]):
    """A page of jobs, newest first (cursor: the last job id)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts by type and status, and the age of the oldest job ready to run."""

    counts: Mapping[str, Mapping[str, int]]
    oldest_ready_age_seconds: float | None

    def total(self, status: str | None = None) -> int:
        """All jobs, or those in ``status``."""
        return sum(
            n
            for by_status in self.counts.values()
            for s, n in by_status.items()
            if status is None or s == status
        )
