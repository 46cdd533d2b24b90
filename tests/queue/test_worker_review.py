"""Worker edge cases found in review: handler commits, commit-time failures, stop races,
thread errors, and pool sizing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from harmony import (
    ContextClosed,
    HarmonyContext,
    HarmonySettings,
    InvalidInputError,
    LeasedJob,
    RetryPolicy,
    Worker,
)
from harmony.events.loggers import RecordingEventLogger
from harmony.testing import ManualClock
from harmony.testing.pytest_plugin import SettingsFactory

from .worker_support import (  # noqa: F401 (fixtures)
    create_writes_table,
    ctx,
    harmony_settings,
    written_ids,
)


def test_a_handler_that_commits_is_refused_and_its_write_rolled_back(ctx: HarmonyContext) -> None:
    def commits(job: LeasedJob, session: Session) -> None:
        session.execute(text("INSERT INTO worker_writes (job_id) VALUES (:i)"), {"i": job.id})
        session.commit()

    job = ctx.jobs.enqueue("commit.job", {})
    report = Worker(ctx, {"commit.job": commits}, retry=RetryPolicy(max_attempts=1)).run_until_idle()
    stored = ctx.jobs.get(job.id)
    assert report.dead_lettered == 1
    assert stored.status == "failed" and "must not call session.commit()" in (stored.last_error or "")
    assert written_ids(ctx) == []


def test_a_failure_at_commit_time_is_a_failed_try_not_a_stalled_batch(
    ctx: HarmonyContext, harmony_backend: str
) -> None:
    if harmony_backend != "postgresql":
        pytest.skip("deferred constraints are PostgreSQL's")
    with ctx.db.write() as conn:
        conn.execute(text("CREATE TABLE deferred_once (k INTEGER, CONSTRAINT uq_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"))
        conn.execute(text("INSERT INTO deferred_once VALUES (1)"))

    def violates_at_commit(job: LeasedJob, session: Session) -> None:
        if job.payload.get("bad"):
            session.execute(text("INSERT INTO deferred_once VALUES (1)"))

    bad = ctx.jobs.enqueue("defer.job", {"bad": True}, priority=1)
    good = ctx.jobs.enqueue_many([{"type": "defer.job"} for _ in range(2)])
    report = Worker(ctx, {"defer.job": violates_at_commit}, retry=RetryPolicy(max_attempts=1)).run_until_idle()
    assert ctx.jobs.get(bad.id).status == "failed"
    assert [ctx.jobs.get(j.id).status for j in good] == ["completed", "completed"]
    assert (report.completed, report.dead_lettered) == (2, 1)


def test_cancelling_run_async_at_once_still_stops_the_worker(ctx: HarmonyContext) -> None:
    worker = Worker(ctx, {"any.job": lambda job, session: None})

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
    worker = Worker(ctx, {"x.job": lambda job, session: None}, concurrency=2)
    ctx.close()
    with pytest.raises(ContextClosed):
        worker.run_until_idle()


def test_a_postgres_worker_needs_a_pool_big_enough_for_its_threads(
    harmony_settings_factory: SettingsFactory, harmony_backend: str
) -> None:
    with HarmonyContext(harmony_settings_factory(pool_size=2, max_overflow=0)) as small:
        if harmony_backend == "postgresql":
            with pytest.raises(InvalidInputError, match="pool_size"):
                Worker(small, {"x.job": lambda job, session: None}, concurrency=4)
        else:
            Worker(small, {"x.job": lambda job, session: None}, concurrency=4)


class _WaitFailsOnce:
    """A tenacity-style wait strategy whose first call raises (a collaborator's bug)."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, state: object) -> float:
        if not self.failed:
            self.failed = True
            raise RuntimeError("wait strategy broke")
        return 0.0


def test_a_lost_batch_is_reported_and_its_jobs_run_after_their_leases_expire(
    harmony_settings: HarmonySettings,
) -> None:
    # (An event logger that raises can no longer lose a batch: ctx.events is fail-safe.)
    events, clock = RecordingEventLogger(), ManualClock()
    with HarmonyContext(harmony_settings, events=events, clock=clock) as ctx:
        ctx.migrate()
        jobs = ctx.jobs.enqueue_many([{"type": "x.job"} for _ in range(3)])
        calls: list[int] = []

        def fails_first(job: object, session: object) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("first try fails")

        worker = Worker(
            ctx, {"x.job": fails_first}, lease_seconds=30,
            retry=RetryPolicy(max_attempts=3, wait=_WaitFailsOnce()),
        )  # fmt: skip
        first = worker.run_until_idle()
        (lost,) = events.named("worker.batch_lost")
        assert (lost["count"], lost["status"]) == (3, "lost")
        assert "RuntimeError: wait strategy broke" in lost["error"]
        assert sorted(lost["meta"]["job_ids"]) == sorted(j.id for j in jobs)
        assert first.completed == 0
        clock.advance(31)
        assert worker.run_until_idle().completed == 3
