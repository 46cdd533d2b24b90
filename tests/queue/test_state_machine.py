"""The job queue against an in-memory model, driven by hypothesis, on SQLite and PostgreSQL.

Rules enqueue, lease, heartbeat, complete, fail, cancel and move the manual clock; every
lease token ever handed out stays in play, so stale tokens get used too. After each step
the database must agree with the model: no job lost, attempts never decrease, and only a
job's latest token is live. Each lease must return exactly the model's next jobs, so a
strictly higher-priority ready job is never passed over.

One migrated context per backend serves all examples; each example starts by deleting
every row of ``queue_jobs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from harmony import HarmonyContext, HarmonySettings, LeasedJob
from harmony._db.models import QueueJobRow
from harmony.errors import JobStateError, LeaseLost
from harmony.testing import ManualClock
from harmony.testing.pytest_plugin import SettingsFactory

J = QueueJobRow
TYPES = ("alpha", "beta")
TYPE_SETS = (("alpha",), ("beta",), ("alpha", "beta"))
LIVE = ("pending", "leased", "failed")  # states cancel() accepts
# Round values are drawn often, so clock advances land exactly on lease expiries.
LEASE_SECONDS = st.one_of(st.sampled_from((5, 10, 30)), st.integers(5, 30))

MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass
class ModelJob:
    """What the queue should hold for one job."""

    id: int
    type: str
    priority: int
    available_at: datetime
    status: str = "pending"
    attempts: int = 0  # tries charged: a lease charges none, settling it charges its try
    recovered: bool = False  # its last lease expired unsettled
    lease: LeasedJob | None = None  # the live lease while leased
    lease_expires_at: datetime | None = None
    issued: list[str] = field(default_factory=list)  # every token ever handed out

    def order(self) -> tuple[int, datetime, int]:
        """Lease order: highest priority, then oldest ``available_at``, then id."""
        return (-self.priority, self.available_at, self.id)


class QueueMachine(RuleBasedStateMachine):
    """Drives ``ctx.jobs`` and a model side by side."""

    leases = Bundle("leases")
    job_ids = Bundle("job_ids")
    #: Set by a subclass per test: one migrated context (and its clock) for every example.
    ctx: ClassVar[HarmonyContext]
    clock: ClassVar[ManualClock]

    def __init__(self) -> None:
        super().__init__()
        with self.ctx.db.write() as conn:  # a fresh queue for each example
            conn.execute(delete(J))
        self.model: dict[int, ModelJob] = {}
        self.seen_attempts: dict[int, int] = {}
        self.newly_stale: list[LeasedJob] = []  # leases that lost their token in this step

    # -- helpers ---------------------------------------------------------------------------

    def _live(self, lease: LeasedJob) -> bool:
        job = self.model[lease.id]
        return job.status == "leased" and job.lease is not None and job.lease.token == lease.token

    def _recover_expired(self, types: tuple[str, ...], now: datetime) -> None:
        # A lease call first puts expired leases of the types it asks for back in line.
        for job in self.model.values():
            if job.status == "leased" and job.type in types:
                assert job.lease_expires_at is not None
                if job.lease_expires_at <= now:
                    self._settle(job, "pending")
                    job.recovered = True

    def _settle(self, job: ModelJob, status: str) -> None:
        if job.lease is not None:
            self.newly_stale.append(job.lease)
        job.status, job.lease, job.lease_expires_at = status, None, None

    def _rows(self) -> dict[int, Any]:
        with self.ctx.db.connect() as conn:
            rows = conn.execute(select(J.id, J.status, J.attempts, J.lease_token)).all()
        return {row.id: row for row in rows}

    # -- rules -----------------------------------------------------------------------------

    @rule(
        target=job_ids,
        job_type=st.sampled_from(TYPES),
        priority=st.integers(0, 5),
        delay=st.one_of(st.none(), st.integers(0, 30)),
    )
    def enqueue(self, job_type: str, priority: int, delay: int | None) -> int:
        now = self.clock.now()
        available = None if delay is None else now + timedelta(seconds=delay)
        job = self.ctx.jobs.enqueue(
            job_type, {"delay": delay}, priority=priority, available_at=available
        )
        assert (job.status, job.attempts, job.available_at) == ("pending", 0, available or now)
        self.model[job.id] = ModelJob(job.id, job_type, priority, available or now)
        return job.id

    @rule(
        target=leases,
        types=st.sampled_from(TYPE_SETS),
        limit=st.integers(1, 3),
        lease_seconds=LEASE_SECONDS,
    )
    def lease(self, types: tuple[str, ...], limit: int, lease_seconds: int) -> Any:
        now = self.clock.now()
        self._recover_expired(types, now)
        ready = sorted(
            (
                j
                for j in self.model.values()
                if j.status == "pending" and j.type in types and j.available_at <= now
            ),
            key=ModelJob.order,
        )
        leased = self.ctx.jobs.lease(list(types), limit=limit, lease_seconds=lease_seconds)

        taken = {job.id for job in leased}
        passed_over = [j.priority for j in ready if j.id not in taken]
        if leased and passed_over:
            lowest_leased = min(job.priority for job in leased)
            assert max(passed_over) <= lowest_leased, "a higher-priority ready job was passed over"
        assert [job.id for job in leased] == [j.id for j in ready[:limit]]
        for job in leased:
            expected = self.model[job.id]
            expected.status = "leased"
            expected.lease, expected.lease_expires_at = job, now + timedelta(seconds=lease_seconds)
            expected.issued.append(job.token)
            assert (job.attempts, job.priority) == (expected.attempts + 1, expected.priority)
            assert job.recovered == expected.recovered
            assert job.lease_expires_at == expected.lease_expires_at
        return multiple(*leased)

    @rule(lease=leases, lease_seconds=LEASE_SECONDS)
    def heartbeat(self, lease: LeasedJob, lease_seconds: int) -> None:
        if not self._live(lease):
            with pytest.raises(LeaseLost):
                self.ctx.jobs.heartbeat(lease, lease_seconds=lease_seconds)
            return
        extended = self.ctx.jobs.heartbeat(lease, lease_seconds=lease_seconds)
        expires = self.clock.now() + timedelta(seconds=lease_seconds)
        assert (extended.token, extended.lease_expires_at) == (lease.token, expires)
        self.model[lease.id].lease_expires_at = expires

    @rule(
        lease=leases, result=st.one_of(st.none(), st.fixed_dictionaries({"n": st.integers(0, 9)}))
    )
    def complete(self, lease: LeasedJob, result: dict[str, int] | None) -> None:
        if not self._live(lease):
            with pytest.raises(LeaseLost):
                self.ctx.jobs.complete(lease, result)
            return
        self.ctx.jobs.complete(lease, result)
        self.model[lease.id].attempts = lease.attempts
        self._settle(self.model[lease.id], "completed")
        assert self.ctx.jobs.get(lease.id).result == result

    @rule(lease=leases, retry_in=st.one_of(st.none(), st.integers(0, 20)))
    def fail(self, lease: LeasedJob, retry_in: int | None) -> None:
        if not self._live(lease):
            with pytest.raises(LeaseLost):
                self.ctx.jobs.fail(lease, "boom", retry_in=retry_in)
            return
        self.ctx.jobs.fail(lease, "boom", retry_in=retry_in)
        job = self.model[lease.id]
        job.attempts, job.recovered = lease.attempts, False  # "boom" replaces the recovery note
        if retry_in is None:
            self._settle(job, "failed")
        else:
            self._settle(job, "pending")
            job.available_at = self.clock.now() + timedelta(seconds=retry_in)
        assert self.ctx.jobs.get(lease.id).available_at == job.available_at

    @rule(job_id=job_ids)
    def cancel(self, job_id: int) -> None:
        job = self.model[job_id]
        if job.status not in LIVE:
            with pytest.raises(JobStateError):
                self.ctx.jobs.cancel(job_id)
            return
        assert self.ctx.jobs.cancel(job_id).status == "cancelled"
        self._settle(job, "cancelled")

    @rule(seconds=st.one_of(st.sampled_from((5, 10, 30)), st.integers(1, 40)))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def no_job_is_lost(self) -> None:
        rows = self._rows()
        assert set(rows) == set(self.model)
        assert {i: r.status for i, r in rows.items()} == {
            i: j.status for i, j in self.model.items()
        }

    @invariant()
    def attempts_never_decrease(self) -> None:
        for job_id, row in self._rows().items():
            assert row.attempts >= self.seen_attempts.get(job_id, 0)
            assert row.attempts == self.model[job_id].attempts
            self.seen_attempts[job_id] = row.attempts

    @invariant()
    def only_the_latest_token_is_live(self) -> None:
        issued = [token for job in self.model.values() for token in job.issued]
        assert len(issued) == len(set(issued)), "a lease token was handed out twice"
        for job_id, row in self._rows().items():
            job = self.model[job_id]
            if job.status == "leased":
                assert job.lease is not None
                assert row.lease_token == job.issued[-1] == job.lease.token
            else:
                assert row.lease_token is None

    @invariant()
    def tokens_that_lost_their_lease_are_refused(self) -> None:
        stale, self.newly_stale = self.newly_stale, []
        for lease in stale:
            with pytest.raises(LeaseLost):
                self.ctx.jobs.heartbeat(lease)
            with pytest.raises(LeaseLost):
                self.ctx.jobs.complete(lease)


@pytest.fixture
def harmony_settings(harmony_settings_factory: SettingsFactory) -> HarmonySettings:
    """Store no events in the activity log (the machine emits many)."""
    return harmony_settings_factory(activity_events=())


def test_queue_matches_its_model_under_random_operations(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    class Machine(QueueMachine):
        ctx = harmony_context
        clock = harmony_clock

    run_state_machine_as_test(Machine, settings=MACHINE_SETTINGS)
