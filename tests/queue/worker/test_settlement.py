"""How a batch's tries are settled: a handler may not commit its session, a failure at
commit time fails only its own try, and a batch whose settlement breaks is reported lost
and runs again once its leases expire. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from harmony import HarmonyContext, HarmonySettings, JobContext, RetryPolicy, Worker
from harmony._events.loggers import RecordingEventLogger
from harmony.testing import ManualClock
from tests.queue.worker.support import written_ids


def test_a_handler_that_commits_is_refused_and_its_write_rolled_back(ctx: HarmonyContext) -> None:
    def commits(job: JobContext) -> None:
        job.session.execute(
            text("INSERT INTO worker_writes (job_id) VALUES (:i)"), {"i": job.job.id}
        )
        job.session.commit()

    job = ctx.jobs.enqueue("commit.job", {})
    report = Worker(
        ctx, {"commit.job": commits}, retry=RetryPolicy(max_attempts=1)
    ).run_until_idle()
    stored = ctx.jobs.get(job.id)
    assert report.dead_lettered == 1
    assert stored.status == "failed" and "must not call session.commit()" in (
        stored.last_error or ""
    )
    assert written_ids(ctx) == []


def test_a_failure_at_commit_time_is_a_failed_try_not_a_stalled_batch(
    ctx: HarmonyContext, harmony_backend: str
) -> None:
    if harmony_backend != "postgresql":
        pytest.skip("deferred constraints are PostgreSQL's")
    with ctx.db.write() as conn:
        conn.execute(
            text(
                "CREATE TABLE deferred_once (k INTEGER, CONSTRAINT uq_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        conn.execute(text("INSERT INTO deferred_once VALUES (1)"))

    def violates_at_commit(job: JobContext) -> None:
        if job.job.payload.get("bad"):
            job.session.execute(text("INSERT INTO deferred_once VALUES (1)"))

    bad = ctx.jobs.enqueue("defer.job", {"bad": True}, priority=1)
    good = ctx.jobs.enqueue_many([{"type": "defer.job"} for _ in range(2)])
    report = Worker(
        ctx, {"defer.job": violates_at_commit}, retry=RetryPolicy(max_attempts=1)
    ).run_until_idle()
    assert ctx.jobs.get(bad.id).status == "failed"
    assert [ctx.jobs.get(j.id).status for j in good] == ["completed", "completed"]
    assert (report.completed, report.dead_lettered) == (2, 1)


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

        def fails_first(job: JobContext) -> None:
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("first try fails")

        # A custom wait strategy is the deprecated tenacity form (harmony's own waits
        # cannot raise): the only way left to make a collaborator fail mid-batch.
        with pytest.warns(DeprecationWarning, match="tenacity wait strategy"):
            policy = RetryPolicy(max_attempts=3, wait=_WaitFailsOnce())
        worker = Worker(ctx, {"x.job": fails_first}, lease_seconds=30, retry=policy)
        first = worker.run_until_idle()
        (lost,) = events.named("worker.batch_lost")
        assert (lost["count"], lost["status"]) == (3, "lost")
        assert "RuntimeError: wait strategy broke" in lost["error"]
        assert sorted(lost["meta"]["job_ids"]) == sorted(j.id for j in jobs)
        assert first.completed == 0
        clock.advance(31)
        assert worker.run_until_idle().completed == 3
