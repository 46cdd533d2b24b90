"""WorkerReport.waiting_retry: how many jobs wait for a retry after run_until_idle."""

from __future__ import annotations

from typing import Any

from harmony import Fixed, HarmonyContext, JobContext, RetryPolicy, Worker
from harmony.testing import ManualClock


def test_the_report_counts_jobs_waiting_for_a_retry(
    ctx: HarmonyContext, harmony_clock: ManualClock
) -> None:
    tries: dict[int, int] = {}

    def flaky(job: JobContext) -> Any:
        tries[job.job.id] = tries.get(job.job.id, 0) + 1
        if job.job.payload["fails"] >= tries[job.job.id]:
            raise RuntimeError("not yet")
        return None

    worker = Worker(ctx, retry=RetryPolicy(max_attempts=5, wait=Fixed(30)))
    worker.register("flaky", flaky)
    for fails in (0, 1, 2):
        ctx.jobs.enqueue("flaky", {"fails": fails})
    ctx.jobs.enqueue("other", {})  # not this worker's type: never counted
    first = worker.run_until_idle()
    assert (first.completed, first.retried, first.waiting_retry) == (1, 2, 2)
    harmony_clock.advance(30)
    second = worker.run_until_idle()
    assert (second.completed, second.retried, second.waiting_retry) == (1, 1, 1)
    harmony_clock.advance(30)
    third = worker.run_until_idle()
    assert (third.completed, third.waiting_retry) == (1, 0)
    assert ctx.jobs.waiting_retry() == 0 and ctx.jobs.waiting_retry("flaky") == 0


def test_a_dead_letter_put_back_counts_as_waiting(ctx: HarmonyContext) -> None:
    def broken(job: JobContext) -> None:
        raise RuntimeError("always")

    worker = Worker(ctx, retry=RetryPolicy(max_attempts=1))
    worker.register("broken", broken)
    job = ctx.jobs.enqueue("broken", {})
    assert worker.run_until_idle().waiting_retry == 0  # dead-lettered, not waiting
    ctx.jobs.retry(job.id)
    assert ctx.jobs.waiting_retry(["broken"]) == 1
