"""A job's own visibility timeout (``enqueue(..., lease_seconds=)``)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from harmony import HarmonyContext, InvalidInputError, JobContext, JobSpec, Worker
from harmony.testing import ManualClock


def test_a_job_with_its_own_lease_seconds_gets_that_expiry(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    own = harmony_context.jobs.enqueue("short.job", {}, lease_seconds=5, priority=1)
    plain = harmony_context.jobs.enqueue("short.job", {})
    leased = {j.id: j for j in harmony_context.jobs.lease("short.job", limit=2, lease_seconds=60)}
    now = harmony_clock.now()
    assert leased[own.id].lease_seconds == 5
    assert leased[own.id].lease_expires_at == now + timedelta(seconds=5)
    assert leased[plain.id].lease_seconds == 60
    assert harmony_context.jobs.get(own.id).lease_expires_at == now + timedelta(seconds=5)
    assert harmony_context.jobs.get(plain.id).lease_expires_at == now + timedelta(seconds=60)


def test_its_lease_expires_after_its_own_timeout_and_is_recovered(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    job = harmony_context.jobs.enqueue("short.job", {}, lease_seconds=5)
    (first,) = harmony_context.jobs.lease("short.job", lease_seconds=60)
    harmony_clock.advance(6)
    (again,) = harmony_context.jobs.lease("short.job", lease_seconds=60)
    # Nothing says whether the first try's handler started: not charged, marked recovered.
    assert (again.id, again.attempts, again.recovered) == (job.id, 1, True)
    assert again.token != first.token


def test_heartbeats_extend_by_the_jobs_own_timeout(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("short.job", {}, lease_seconds=5)
    (job,) = harmony_context.jobs.lease("short.job", lease_seconds=60)
    harmony_clock.advance(3)
    extended = harmony_context.jobs.heartbeat(job)
    assert extended.lease_expires_at == harmony_clock.now() + timedelta(seconds=5)
    (many,) = harmony_context.jobs.heartbeat_many([extended])
    assert many.lease_expires_at == harmony_clock.now() + timedelta(seconds=5)


def test_bulk_enqueue_and_rearming_carry_lease_seconds(harmony_context: HarmonyContext) -> None:
    jobs = harmony_context.jobs.enqueue_many(
        [JobSpec("bulk.job", {}, lease_seconds=7), {"type": "bulk.job"}]
    )
    assert [harmony_context.jobs.get(j.id).lease_seconds for j in jobs] == [7, None]
    keyed = harmony_context.jobs.enqueue("keyed.job", {}, idempotency_key="k", lease_seconds=3)
    harmony_context.jobs.cancel(keyed.id)
    rearmed = harmony_context.jobs.enqueue("keyed.job", {}, idempotency_key="k", lease_seconds=9)
    assert (rearmed.id, rearmed.lease_seconds) == (keyed.id, 9)


@pytest.mark.parametrize("bad", [0, -1, True, "10", float("nan")])
def test_bad_lease_seconds_is_refused_and_nothing_is_written(
    harmony_context: HarmonyContext, bad: object
) -> None:
    with pytest.raises(InvalidInputError, match="lease_seconds"):
        harmony_context.jobs.enqueue("short.job", {}, lease_seconds=bad)  # type: ignore[arg-type]
    assert harmony_context.jobs.stats().counts == {}


def test_a_worker_heartbeats_a_short_own_lease_often_enough(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    """Worker default 60 s (heartbeat every 20 s), job's own 0.6 s: the heartbeat must come
    within a third of the job's lease, or the job would be re-leased while it runs."""
    harmony_context.jobs.enqueue("short.job", {}, lease_seconds=0.6)
    seen: list[bool] = []

    def handler(job: JobContext) -> None:
        first = harmony_context.jobs.list(status="leased")[0].lease_expires_at
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            harmony_clock.advance(0.05)
            current = harmony_context.jobs.list(status="leased")[0].lease_expires_at
            if current is not None and first is not None and current > first:
                seen.append(True)
                return
            time.sleep(0.05)

    report = Worker(harmony_context, {"short.job": handler}, lease_seconds=60).run_until_idle()
    assert seen == [True]
    assert report.completed == 1
