"""The ``playlist.sync`` job: the same sync, run by a worker through the queue."""

from __future__ import annotations

from harmony import SYNC_JOB_TYPE, RetryPolicy, Worker
from harmony.testing import InMemoryProvider, RecordingEventLogger
from tests.sync.conftest import MakeContext, track


def test_a_queued_sync_job_runs_the_sync_and_stores_its_report(
    make_context: MakeContext,
    harmony_events: RecordingEventLogger,
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1), track(2)])
    provider.set_playlist("b", "B", [track(2)])
    ctx = make_context({"memory": provider})
    job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "memory"}, priority=5)
    worker = Worker(ctx)
    ctx.sync.register(worker)
    assert worker.run_until_idle().completed == 1
    done = ctx.jobs.get(job.id)
    assert done.status == "completed" and done.result is not None
    assert (done.result["created"], done.result["providers"]) == (2, ["memory"])
    assert ctx.playlists.count() == 2
    # Delivered again (at least once): the repeat writes nothing.
    again = ctx.jobs.enqueue(SYNC_JOB_TYPE, {})
    worker.run_until_idle()
    result = ctx.jobs.get(again.id).result
    assert result is not None and (result["unchanged"], result["created"]) == (2, 0)
    assert [e["status"] for e in harmony_events.named("sync.run")] == ["ok", "ok"]


def test_a_failing_sync_job_is_retried_and_then_dead_lettered(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1)])
    provider.fail_on.add("a")
    ctx = make_context({"memory": provider})
    job = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "memory"})
    worker = Worker(ctx)
    worker.register(SYNC_JOB_TYPE, ctx.sync.handle_job, retry=RetryPolicy(max_attempts=1))
    worker.run_until_idle()
    failed = ctx.jobs.get(job.id)
    assert failed.status == "failed" and "injected" in (failed.last_error or "")
    assert ctx.playlists.count(status="all") == 0


def test_a_sync_job_with_a_bad_payload_is_dead_lettered_at_once(make_context: MakeContext) -> None:
    ctx = make_context({"memory": InMemoryProvider()})
    bad_type = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": 3})
    unknown = ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "nope"})
    worker = Worker(ctx)
    ctx.sync.register(worker)  # the default policy: bad input is not retried
    worker.run_until_idle()
    for job_id, message in ((bad_type.id, "must be a provider name"), (unknown.id, "'nope'")):
        job = ctx.jobs.get(job_id)
        assert (job.status, job.attempts) == ("failed", 1) and message in (job.last_error or "")
