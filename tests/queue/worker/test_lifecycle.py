"""Running workers: concurrency, graceful stop, background thread, asyncio, errors of
worker threads, pool sizing, heartbeats, lost leases and crashed tries, on SQLite and
PostgreSQL.

Waits on other threads are bounded polling loops; nothing asserts on durations.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

from harmony import (
    ContextClosed,
    HarmonyContext,
    HarmonySettings,
    InvalidInputError,
    JobContext,
    LeasedJob,
    RetryPolicy,
    Worker,
    WorkerReport,
)
from harmony._events.loggers import RecordingEventLogger
from harmony.testing import ManualClock
from harmony.testing.pytest_plugin import SettingsFactory
from tests.queue.worker.support import (
    WAIT_SECONDS,
    events_for,
    record_write,
    wait_for_status,
    wait_until,
    written_ids,
)

# --- concurrency and stopping ---------------------------------------------------------------


def test_four_threads_drain_500_jobs_exactly_once(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    jobs = ctx.jobs.enqueue_many([{"type": "t", "payload": {"i": i}} for i in range(500)])

    report = Worker(ctx, {"t": record_write}, concurrency=4, batch_size=20).run_until_idle()

    ids = sorted(job.id for job in jobs)
    assert written_ids(ctx) == ids  # the primary key would have refused a second run
    assert (report.completed, report.processed) == (500, 500)
    assert ctx.jobs.stats().total("completed") == 500
    dispatched = [e["entity_id"] for e in harmony_events.named("orchestrator.dispatch")]
    assert sorted(dispatched) == ids


def test_stop_from_a_handler_finishes_that_job_and_releases_the_rest_of_the_batch(
    ctx: HarmonyContext,
) -> None:
    jobs = [ctx.jobs.enqueue("t") for _ in range(10)]
    worker = Worker(ctx, batch_size=10)
    ran: list[int] = []

    @worker.handler("t")
    def stop_on_first(job: JobContext) -> None:
        ran.append(job.job.id)
        record_write(job)
        worker.stop()

    report = worker.run_until_idle()

    [first] = ran
    assert (report.completed, report.released) == (1, 9)
    assert ctx.jobs.get(first).status == "completed"
    assert written_ids(ctx) == [first]
    rest = [ctx.jobs.get(job.id) for job in jobs if job.id != first]
    assert {(job.status, job.attempts, job.lease_expires_at) for job in rest} == {
        ("pending", 0, None)
    }


def test_started_worker_processes_jobs_enqueued_after_start(ctx: HarmonyContext) -> None:
    worker = Worker(ctx, {"t": record_write}).start()
    try:
        jobs = [ctx.jobs.enqueue("t", {"i": i}) for i in range(3)]
        for job in jobs:
            wait_for_status(ctx, job.id, "completed")
    finally:
        worker.stop(timeout=WAIT_SECONDS)

    assert written_ids(ctx) == [job.id for job in jobs]


def test_cancelling_run_async_stops_the_worker_after_the_in_flight_job(ctx: HarmonyContext) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(job: JobContext) -> None:
        started.set()
        assert release.wait(WAIT_SECONDS), "the test never released the handler"
        record_write(job)

    worker = Worker(ctx, {"t": slow})
    job = ctx.jobs.enqueue("t")

    async def host() -> None:
        task = asyncio.create_task(worker.run_async())
        assert await asyncio.to_thread(started.wait, WAIT_SECONDS)
        task.cancel()
        await asyncio.sleep(0)  # let run_async see the cancellation while the job runs
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT_SECONDS)
        assert task.cancelled()

    asyncio.run(host())

    assert ctx.jobs.get(job.id).status == "completed"
    assert written_ids(ctx) == [job.id]


def test_cancelling_run_async_at_once_still_stops_the_worker(ctx: HarmonyContext) -> None:
    worker = Worker(ctx, {"any.job": lambda job: None})

    async def cancel_right_away() -> None:
        task = asyncio.ensure_future(worker.run_async())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)

    for _ in range(5):
        asyncio.run(cancel_right_away())


def test_errors_of_worker_threads_reach_the_caller(harmony_settings: HarmonySettings) -> None:
    ctx = HarmonyContext(harmony_settings)
    ctx.migrate()
    ctx.jobs.enqueue("x.job", {})
    worker = Worker(ctx, {"x.job": lambda job: None}, concurrency=2)
    ctx.close()
    with pytest.raises(ContextClosed):
        worker.run_until_idle()


def test_a_postgres_worker_needs_a_pool_big_enough_for_its_threads(
    harmony_settings_factory: SettingsFactory, harmony_backend: str
) -> None:
    with HarmonyContext(harmony_settings_factory(pool_size=2, max_overflow=0)) as small:
        if harmony_backend == "postgresql":
            with pytest.raises(InvalidInputError, match="pool_size"):
                Worker(small, {"x.job": lambda job: None}, concurrency=4)
        else:
            Worker(small, {"x.job": lambda job: None}, concurrency=4)


# --- leases while a handler runs --------------------------------------------------------------


def test_heartbeat_extends_the_lease_while_a_long_handler_runs(
    ctx: HarmonyContext, harmony_clock: ManualClock, harmony_events: RecordingEventLogger
) -> None:
    started, observed = threading.Event(), threading.Event()

    def long_running(job: JobContext) -> None:
        started.set()
        assert observed.wait(WAIT_SECONDS), "the test never saw the lease move"

    # lease_seconds=0.6: the heartbeat thread beats every 0.2 s of real time.
    worker = Worker(ctx, {"t": long_running}, lease_seconds=0.6)
    job = ctx.jobs.enqueue("t")
    reports: list[WorkerReport] = []
    thread = threading.Thread(target=lambda: reports.append(worker.run_until_idle()))
    thread.start()
    try:
        assert started.wait(WAIT_SECONDS)
        first_expiry = ctx.jobs.get(job.id).lease_expires_at
        assert first_expiry is not None

        def lease_moved() -> bool:
            harmony_clock.advance(0.1)  # so a beat computes a later expiry
            expiry = ctx.jobs.get(job.id).lease_expires_at
            return expiry is not None and expiry > first_expiry

        wait_until(lease_moved, "the heartbeat to extend the lease")
    finally:
        observed.set()
        thread.join(WAIT_SECONDS)

    [report] = reports
    assert report.completed == 1
    assert ctx.jobs.get(job.id).status == "completed"
    beats = events_for(harmony_events, "orchestrator.heartbeat", job.id)
    assert beats and {e["status"] for e in beats} == {"extended"}


def test_lost_lease_discards_the_handler_writes_and_reports_lost(
    ctx: HarmonyContext, harmony_clock: ManualClock, harmony_events: RecordingEventLogger
) -> None:
    stolen: list[LeasedJob] = []

    def robbed(job: JobContext) -> None:
        # Another worker recovers the lease once it expired, while this handler still runs.
        harmony_clock.advance(31)
        stolen.extend(ctx.jobs.lease("t", lease_seconds=30))
        record_write(job)

    job = ctx.jobs.enqueue("t")
    report = Worker(ctx, {"t": robbed}, lease_seconds=30).run_until_idle()

    [thief] = stolen
    assert thief.id == job.id
    assert report.lost == 1 and report.completed == 0
    [commit] = events_for(harmony_events, "orchestrator.commit", job.id)
    assert commit["status"] == "lost"
    assert written_ids(ctx) == []
    assert ctx.jobs.get(job.id).status == "leased"


def test_thief_of_a_lost_lease_can_complete_the_job(
    ctx: HarmonyContext, harmony_clock: ManualClock
) -> None:
    stolen: list[LeasedJob] = []

    def robbed(job: JobContext) -> None:
        harmony_clock.advance(31)
        stolen.extend(ctx.jobs.lease("t", lease_seconds=30))
        record_write(job)

    job = ctx.jobs.enqueue("t")
    Worker(ctx, {"t": robbed}, lease_seconds=30).run_until_idle()

    [thief] = stolen
    ctx.jobs.complete(thief, {"by": "thief"})
    stored = ctx.jobs.get(job.id)
    # The robbed try's handler ran (its try was recorded as started once it ran 0.1 s, or
    # not: it returned at once), so the thief's try is the first or the second.
    assert (stored.status, stored.result) == ("completed", {"by": "thief"})
    assert stored.attempts == thief.attempts


def test_job_whose_tries_exceeded_max_attempts_is_dead_lettered_as_exceeded(
    ctx: HarmonyContext, harmony_clock: ManualClock, harmony_events: RecordingEventLogger
) -> None:
    ran: list[int] = []
    worker = Worker(ctx)
    worker.register("t", lambda job: ran.append(job.job.id), retry=RetryPolicy(max_attempts=2))
    job = ctx.jobs.enqueue("t")
    for _ in range(2):  # two workers crash in its handler; its lease expires each time
        [crashed] = ctx.jobs.lease("t", lease_seconds=5)
        assert crashed.id == job.id
        ctx.jobs.mark_started([crashed])  # what a worker records before a long handler
        harmony_clock.advance(6)

    report = worker.run_until_idle()

    stored = ctx.jobs.get(job.id)
    assert ran == []
    assert report.dead_lettered == 1
    assert (stored.status, stored.attempts) == ("failed", 2)  # the guard's try never started
    assert stored.stop_reason is not None and stored.stop_reason.startswith("exceeded 2 attempts")
    [dlq] = events_for(harmony_events, "orchestrator.dlq", job.id)
    assert dlq["stop_reason"] == stored.stop_reason


def test_an_enqueue_wakes_an_idle_worker_instead_of_waiting_out_its_back_off(
    harmony_settings_factory: SettingsFactory,
) -> None:
    # A back-off far longer than the test's wait: only the enqueue's signal (PostgreSQL
    # NOTIFY, SQLite data_version) can start the job in time.
    settings = harmony_settings_factory(
        activity_events=(), scheduler_poll_interval=60.0, scheduler_max_poll_interval=60.0
    )
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        done = threading.Event()
        worker = Worker(ctx, {"t": lambda job: done.set()})
        worker.start()
        try:
            time.sleep(0.2)  # the worker found nothing and is waiting out its back-off
            ctx.jobs.enqueue("t", {})
            assert done.wait(WAIT_SECONDS)
        finally:
            worker.stop(timeout=WAIT_SECONDS)


def test_wake_starts_a_job_at_once_instead_of_after_the_idle_back_off(
    harmony_settings_factory: SettingsFactory,
) -> None:
    # The job becomes ready by the clock, which signals nobody: only wake() starts it.
    settings = harmony_settings_factory(
        activity_events=(), scheduler_poll_interval=60.0, scheduler_max_poll_interval=60.0
    )
    clock = ManualClock()
    with HarmonyContext(settings, clock=clock) as ctx:
        ctx.migrate()
        done = threading.Event()
        worker = Worker(ctx, {"t": lambda job: done.set()})
        worker.start()
        try:
            ctx.jobs.enqueue("t", {}, available_at=clock.now() + timedelta(seconds=30))
            time.sleep(0.3)  # woken by the enqueue, found nothing ready, waiting again
            clock.advance(60)
            assert not done.wait(1.0)  # not picked up on its own within a second
            worker.wake()
            assert done.wait(WAIT_SECONDS)
        finally:
            worker.stop(timeout=WAIT_SECONDS)
