"""A worker lane's deferred completions and lease recovery when a statement fails
(PostgreSQL: only there are writeless completions deferred to the next lease)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from harmony import HarmonyContext, LeasedJob
from harmony._repositories import queue_store
from harmony._repositories.job_sql import EXPIRED_LEASE_ERROR
from harmony._repositories.queue_store import Lane, QueueStore
from harmony.errors import InvalidInputError
from harmony.testing import ManualClock


@pytest.fixture
def lane(harmony_context: HarmonyContext, harmony_backend: str) -> Iterator[Lane]:
    if harmony_backend != "postgresql":
        pytest.skip("a lane defers completions and keeps a lease connection on PostgreSQL only")
    with QueueStore(harmony_context.db, harmony_context.jobs).lane() as lane:
        yield lane


def _lease(ctx: HarmonyContext, limit: int = 1) -> list[LeasedJob]:
    return ctx.jobs.lease("a.job", limit=limit)


def _refuse_recovery(ctx: HarmonyContext) -> None:
    """Make the database refuse to put an expired lease back in line (a trigger)."""
    reason = EXPIRED_LEASE_ERROR.replace("'", "''")
    with ctx.db.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION refuse_recovery() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'recovery refused'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER refuse_recovery BEFORE UPDATE ON queue_jobs FOR EACH ROW "
                f"WHEN (NEW.last_error = '{reason}') EXECUTE FUNCTION refuse_recovery()"
            )
        )


def test_completions_of_different_tries_are_settled_even_when_the_lease_after_them_fails(
    harmony_context: HarmonyContext, harmony_clock: ManualClock, lane: Lane
) -> None:
    ctx = harmony_context
    retried = ctx.jobs.enqueue("a.job", {"i": 1})
    ctx.jobs.fail(_lease(ctx)[0], "flaky", retry_in=30)
    harmony_clock.advance(30)
    fresh = ctx.jobs.enqueue("a.job", {"i": 2})
    batch = _lease(ctx, limit=2)
    assert sorted((job.id, job.attempts) for job in batch) == [(retried.id, 2), (fresh.id, 1)]
    assert lane.defer([(job, float(job.id)) for job in batch])

    with pytest.raises(InvalidInputError):
        lane.lease(["a.job"], limit=0)

    # Both completions committed, so neither may be reported as unsettled (lost).
    assert lane.take_unsettled() == []
    settled = sorted((job.id, tag, lost) for job, tag, lost in lane.take_settled())
    assert settled == [(retried.id, float(retried.id), False), (fresh.id, float(fresh.id), False)]
    stored = [ctx.jobs.get(job_id) for job_id in (retried.id, fresh.id)]
    assert [(job.status, job.attempts) for job in stored] == [("completed", 2), ("completed", 1)]


def test_a_failing_recovery_keeps_the_jobs_just_leased_and_is_retried_by_the_next_lease(
    harmony_context: HarmonyContext,
    harmony_clock: ManualClock,
    lane: Lane,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx = harmony_context
    monkeypatch.setattr(queue_store, "RECOVER_EVERY", 3600.0)  # recover only when a claim is short
    expired = ctx.jobs.enqueue("a.job", {"i": 0})
    assert [job.id for job in lane.lease(["a.job"], limit=1, lease_seconds=10)] == [expired.id]
    harmony_clock.advance(11)
    ready = [ctx.jobs.enqueue("a.job", {"i": i}).id for i in (1, 2)]
    _refuse_recovery(ctx)
    with caplog.at_level(logging.WARNING, logger="harmony.worker"):
        leased = lane.lease(["a.job"], limit=5, lease_seconds=10)

    assert sorted(job.id for job in leased) == sorted(ready)
    assert "could not recover expired leases" in caplog.text
    assert {ctx.jobs.get(job_id).status for job_id in ready} == {"leased"}
    with ctx.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_recovery ON queue_jobs"))
    # The next short claim recovers the expired lease and leases it again.
    [again] = lane.lease(["a.job"], limit=5, lease_seconds=10)
    assert (again.id, again.recovered, again.attempts) == (expired.id, True, 1)


def test_a_deferred_completion_whose_lease_was_lost_is_reported_lost_and_changes_nothing(
    harmony_context: HarmonyContext, harmony_clock: ManualClock, lane: Lane
) -> None:
    # The next lease settles the deferred batch in its own statement, which reports the
    # jobs it could not complete: here one whose lease expired and another worker took.
    ctx = harmony_context
    kept = ctx.jobs.enqueue("a.job", {"i": 1}, lease_seconds=100)  # its own, longer lease
    stolen = ctx.jobs.enqueue("a.job", {"i": 2})
    batch = lane.lease(["a.job"], limit=2, lease_seconds=10)
    assert sorted(job.id for job in batch) == [kept.id, stolen.id]
    harmony_clock.advance(11)  # only the second job's lease expires
    [theirs] = ctx.jobs.lease("a.job", limit=1, worker_id="other")
    assert (theirs.id, theirs.recovered) == (stolen.id, True)
    assert lane.defer([(job, float(job.id)) for job in batch])

    assert lane.lease(["a.job"], limit=1, lease_seconds=10) == []

    settled = {job.id: lost for job, _, lost in lane.take_settled()}
    assert settled == {kept.id: False, stolen.id: True}
    assert lane.take_unsettled() == []
    assert ctx.jobs.get(kept.id).status == "completed"
    other = ctx.jobs.get(stolen.id)
    assert (other.status, other.leased_by) == ("leased", "other")
