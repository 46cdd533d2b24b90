"""RetryLater: a handler asks for its job to run again at a given time; the try is not
counted, so the job is never dead-lettered for it. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harmony import HarmonyContext, JobContext, RetryPolicy, Worker
from harmony._events.loggers import RecordingEventLogger
from harmony.errors import RetryLater
from harmony.testing import ManualClock


def test_retry_later_reschedules_without_counting_the_try(
    ctx: HarmonyContext,
    harmony_clock: ManualClock,
    harmony_events: RecordingEventLogger,
) -> None:
    calls: list[int] = []

    def busy_twice(job: JobContext) -> dict[str, int]:
        calls.append(job.job.attempts)
        if len(calls) <= 2:
            raise RetryLater("the provider asked us to wait", retry_in=120)
        return {"calls": len(calls)}

    worker = Worker(ctx, retry=RetryPolicy(max_attempts=1))  # one failure would dead-letter
    worker.register("busy", busy_twice)
    job = ctx.jobs.enqueue("busy", {})
    started = harmony_clock.now()
    first = worker.run_until_idle()
    assert (first.retried, first.dead_lettered, first.waiting_retry) == (1, 0, 1)
    stored = ctx.jobs.get(job.id)
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert stored.available_at == started + timedelta(seconds=120)
    assert stored.last_error == "RetryLater: the provider asked us to wait"
    (commit,) = [e for e in harmony_events.named("orchestrator.commit") if e["entity_id"] == job.id]
    assert (commit["status"], commit["retry_in"]) == ("retry", 120)
    harmony_clock.advance(119)
    assert worker.run_until_idle().processed == 0  # not yet
    harmony_clock.advance(1)
    assert worker.run_until_idle().retried == 1
    harmony_clock.advance(120)
    assert worker.run_until_idle().completed == 1
    done = ctx.jobs.get(job.id)
    assert (done.status, done.result, calls) == ("completed", {"calls": 3}, [1, 1, 1])


@pytest.mark.parametrize(
    "given, expected",
    [
        (-5, 0.0),
        (0, 0.0),
        (2.5, 2.5),
        (float("inf"), RetryLater.MAX_RETRY_IN),
        (float("nan"), RetryLater.MAX_RETRY_IN),
        (10**12, RetryLater.MAX_RETRY_IN),
    ],
)
def test_retry_in_is_clamped_to_something_a_queue_can_store(given: float, expected: float) -> None:
    assert RetryLater("x", retry_in=given).retry_in == expected
