"""``ctx.scheduler``: one lease tick at a time, idle back-off, weights and periodic jobs."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection

from harmony._clock import Clock
from harmony._events.base import EventLogger
from harmony._repositories.job_types import Job, LeasedJob
from harmony._repositories.jobs import JobQueue
from harmony._settings import HarmonySettings
from harmony._validation import check_seconds
from harmony.errors import InvalidInputError

#: Longest period of a periodic job: about ten years.
_MAX_PERIOD_SECONDS = 315_360_000.0

__all__ = ["JobSource", "LeaseScheduler", "PeriodicJob", "PollBackoff"]


class JobSource(Protocol):
    """Where a tick leases from: the queue, or a worker thread's lane of the queue store."""

    def lease(
        self,
        types: Sequence[str] | None,
        *,
        limit: int,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
    ) -> list[LeasedJob]:
        """Lease up to ``limit`` ready jobs of ``types`` (``None``: any)."""
        ...


class PollBackoff:
    """Idle back-off for a polling loop: grows by ``multiplier`` up to ``maximum`` while
    there is no work and snaps back to ``initial`` as soon as there is."""

    def __init__(self, initial: float, maximum: float, multiplier: float) -> None:
        if not 0 < initial <= maximum or multiplier < 1:
            raise InvalidInputError(
                f"poll back-off needs 0 < initial <= maximum and multiplier >= 1, got "
                f"{initial}, {maximum}, {multiplier}"
            )
        self.initial, self.maximum, self.multiplier = initial, maximum, multiplier
        self._delay = initial

    def next(self, found_work: bool) -> float:
        """Seconds to wait before the next poll (0 right after finding work)."""
        if found_work:
            self._delay = self.initial
            return 0.0
        delay = self._delay
        self._delay = min(self.maximum, self._delay * self.multiplier)
        return delay


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """A job enqueued once per period of ``seconds`` (see :meth:`LeaseScheduler.every`)."""

    seconds: float
    type: str
    payload: Mapping[str, Any]
    priority: int

    def key(self, period: int) -> str:
        """The idempotency key of ``period``: equal in every process, so only one wins.

        The payload enters as a digest, so schedules differing only late in a long payload
        still get different keys.
        """
        body = json.dumps(dict(self.payload), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(body.encode()).hexdigest()[:32]
        return f"every:{self.seconds:g}:{period}:{digest}:{self.type}"[:255]


class LeaseScheduler:
    """Decides what a worker leases next.

    ``lease_ready_jobs()`` is one synchronous tick: it enqueues due periodic jobs, then
    leases ready jobs, splitting the batch between job types by the weights in
    ``settings.scheduler_type_weights`` (a type with weight 2 gets twice the slots of a
    type with weight 1; slots a type cannot fill go to the others).
    """

    def __init__(
        self, jobs: JobQueue, clock: Clock, events: EventLogger, settings: HarmonySettings
    ) -> None:
        self._jobs = jobs
        self._clock = clock
        self._events = events
        self._settings = settings
        self.weights: Mapping[str, float] = dict(settings.scheduler_type_weights)
        self.visibility_timeout = settings.scheduler_visibility_timeout
        self._periodic: dict[tuple[str, float, str], PeriodicJob] = {}
        self._enqueued_period: dict[tuple[str, float, str], int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LeaseScheduler(weights={dict(self.weights)!r}, periodic={len(self._periodic)})"

    def backoff(self) -> PollBackoff:
        """A fresh idle back-off from the settings (one per polling loop)."""
        s = self._settings
        return PollBackoff(
            s.scheduler_poll_interval, s.scheduler_max_poll_interval, s.scheduler_backoff_multiplier
        )

    # -- periodic jobs ---------------------------------------------------------------------

    def every(
        self,
        seconds: float,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
    ) -> PeriodicJob:
        """Run ``type`` once per ``seconds``-long period, however many schedulers run.

        Registers the schedule on this scheduler and enqueues the current period's job at
        once; every later tick enqueues the job of a new period. Periods are aligned to the
        Unix epoch and each has its own idempotency key, so concurrent schedulers in other
        processes insert it only once.
        """
        check_seconds("every() period", seconds, high=_MAX_PERIOD_SECONDS)
        if payload is not None and not isinstance(payload, Mapping):
            raise InvalidInputError(
                f"every() payload must be a JSON object (a mapping), got {payload.__class__.__name__}"
            )
        periodic = PeriodicJob(float(seconds), type, dict(payload or {}), priority)
        try:
            ident = (type, float(seconds), periodic.key(0))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"every() payload is not JSON-serialisable: {exc}") from exc
        # Enqueue this period's job (which validates type, payload and priority) before
        # registering: a rejected schedule must not make every later tick raise.
        period = math.floor(self._clock.now().timestamp() / periodic.seconds)
        self._jobs.enqueue_unique(
            type, periodic.payload, idempotency_key=periodic.key(period), priority=priority
        )
        with self._lock:
            self._periodic[ident] = periodic
            self._enqueued_period[ident] = period
        return periodic

    def enqueue_due(self) -> list[Job]:
        """Enqueue the current period's job of every schedule not enqueued yet here."""
        now = self._clock.now().timestamp()
        with self._lock:
            due = [
                (ident, periodic, math.floor(now / periodic.seconds))
                for ident, periodic in self._periodic.items()
                if self._enqueued_period.get(ident) != math.floor(now / periodic.seconds)
            ]
        enqueued = []
        for ident, periodic, period in due:
            enqueued.append(
                self._jobs.enqueue_unique(
                    periodic.type,
                    periodic.payload,
                    idempotency_key=periodic.key(period),
                    priority=periodic.priority,
                )
            )
            with self._lock:
                self._enqueued_period[ident] = period
        return enqueued

    # -- leasing ---------------------------------------------------------------------------

    def lease_ready_jobs(
        self,
        types: Sequence[str] | None = None,
        *,
        limit: int = 10,
        lease_seconds: float | None = None,
        worker_id: str | None = None,
        conn: Connection | None = None,
        source: JobSource | None = None,
    ) -> list[LeasedJob]:
        """One tick: enqueue due periodic jobs, then lease up to ``limit`` ready jobs.

        ``source`` is where to lease from (a worker passes its thread's lane of the queue
        store; default: the queue, on ``conn`` when given). Emits
        ``orchestrator.schedule`` per leased job (with how long it had been ready); the
        queue emits ``orchestrator.lease`` for every attempt.
        """
        if self._periodic:
            self.enqueue_due()
        seconds = self.visibility_timeout if lease_seconds is None else lease_seconds
        leased: list[LeasedJob] = []

        def lease(job_types: Sequence[str] | None, slots: int) -> list[LeasedJob]:
            if source is not None:
                return source.lease(
                    job_types, limit=slots, lease_seconds=seconds, worker_id=worker_id
                )
            return self._jobs.lease(
                job_types, limit=slots, lease_seconds=seconds, worker_id=worker_id, conn=conn
            )

        for job_types, slots in self._shares(types, limit):
            leased += lease(job_types, slots)
        if len(leased) < limit and types and len(types) > 1 and self._weighted(types):
            leased += lease(types, limit - len(leased))
        if not leased or not self._events.wants("orchestrator.schedule", "ready"):
            return leased
        now = self._clock.now()
        for job in leased:
            self._events.emit(
                "orchestrator.schedule",
                entity_id=job.id,
                job_type=job.type,
                status="ready",
                priority=job.priority,
                ready_age_ms=round(max(0.0, (now - job.available_at).total_seconds()) * 1000, 3),
            )
        return leased

    def _weighted(self, types: Sequence[str]) -> bool:
        return any(t in self.weights for t in types)

    def _shares(
        self, types: Sequence[str] | None, limit: int
    ) -> list[tuple[Sequence[str] | None, int]]:
        if not types or len(types) == 1 or not self._weighted(types):
            return [(types, limit)]
        weights = {t: max(0.0, self.weights.get(t, 1.0)) for t in types}
        total = sum(weights.values()) or 1.0
        ordered = sorted(types, key=lambda t: -weights[t])
        shares = [(t, max(1, round(limit * weights[t] / total))) for t in ordered if weights[t] > 0]
        out: list[tuple[Sequence[str] | None, int]] = []
        left = limit
        for job_type, slots in shares:
            if left <= 0:
                break
            out.append(([job_type], min(slots, left)))
            left -= min(slots, left)
        return out
