"""ctx.jobs after a lease: heartbeat, stale tokens, complete, fail, release, batch forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from harmony import HarmonyContext, Job, LeasedJob
from harmony._repositories.job_sql import EXPIRED_LEASE_ERROR
from harmony.errors import InvalidInputError, LeaseLost
from harmony.testing import ManualClock


def _enqueue_n(ctx: HarmonyContext, n: int, job_type: str = "a.job") -> list[Job]:
    return [ctx.jobs.enqueue(job_type, {"i": i}) for i in range(n)]


def _lease_one(ctx: HarmonyContext, job_type: str = "a.job", **kwargs: Any) -> LeasedJob:
    [job] = ctx.jobs.lease(job_type, **kwargs)
    return job


def _stale_and_fresh(ctx: HarmonyContext, clock: ManualClock) -> tuple[LeasedJob, LeasedJob]:
    """A job leased for 10 s, expired, then re-leased: (the first lease, the second)."""
    ctx.jobs.enqueue("a.job", {})
    stale = _lease_one(ctx, lease_seconds=10)
    clock.advance(11)
    fresh = _lease_one(ctx, lease_seconds=10)
    assert (fresh.id, fresh.attempts) == (stale.id, 1) and fresh.token != stale.token
    return stale, fresh


# --- heartbeats and stale tokens ----------------------------------------------------------


def test_heartbeat_extends_the_lease_so_it_is_not_recovered(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context, lease_seconds=30)
    harmony_clock.advance(20)
    extended = harmony_context.jobs.heartbeat(job, lease_seconds=30)
    assert extended.lease_expires_at == harmony_clock.now() + timedelta(seconds=30)
    assert harmony_context.jobs.get(job.id).lease_expires_at == extended.lease_expires_at
    harmony_clock.advance(25)  # past the first expiry, before the extended one
    assert harmony_context.jobs.lease("a.job") == []
    harmony_context.jobs.complete(extended)


def test_heartbeat_with_a_stale_token_raises_lease_lost(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    stale, fresh = _stale_and_fresh(harmony_context, harmony_clock)
    with pytest.raises(LeaseLost):
        harmony_context.jobs.heartbeat(stale)
    harmony_context.jobs.heartbeat(fresh)


@pytest.mark.parametrize("seconds", [0, -5])
def test_heartbeat_rejects_a_non_positive_lease_length_and_keeps_the_lease(
    harmony_context: HarmonyContext, seconds: float
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context, lease_seconds=30)
    with pytest.raises(InvalidInputError):
        harmony_context.jobs.heartbeat(job, lease_seconds=seconds)
    assert harmony_context.jobs.get(job.id).lease_expires_at == job.lease_expires_at


def test_complete_with_a_stale_token_raises_lease_lost_and_the_new_holder_completes(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    stale, fresh = _stale_and_fresh(harmony_context, harmony_clock)
    with pytest.raises(LeaseLost):
        harmony_context.jobs.complete(stale, {"by": "stale"})
    assert harmony_context.jobs.get(stale.id).status == "leased"
    harmony_context.jobs.complete(fresh, {"by": "fresh"})
    assert harmony_context.jobs.get(fresh.id).result == {"by": "fresh"}


def test_fail_with_a_stale_token_raises_lease_lost_and_the_new_holder_completes(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    stale, fresh = _stale_and_fresh(harmony_context, harmony_clock)
    with pytest.raises(LeaseLost):
        harmony_context.jobs.fail(stale, "late failure")
    assert harmony_context.jobs.get(stale.id).last_error == EXPIRED_LEASE_ERROR  # unchanged
    harmony_context.jobs.complete(fresh)
    assert harmony_context.jobs.get(fresh.id).status == "completed"


def test_completing_twice_raises_lease_lost(harmony_context: HarmonyContext) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    harmony_context.jobs.complete(job)
    with pytest.raises(LeaseLost):
        harmony_context.jobs.complete(job)


def test_cancelling_a_leased_job_makes_its_completion_raise_lease_lost(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    harmony_context.jobs.cancel(job.id)
    with pytest.raises(LeaseLost):
        harmony_context.jobs.complete(job)
    assert harmony_context.jobs.get(job.id).status == "cancelled"


# --- complete, fail, release --------------------------------------------------------------


def test_complete_stores_the_result_and_clears_the_lease(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    harmony_clock.advance(3)
    harmony_context.jobs.complete(job, {"ok": True, "tracks": [1, 2]})
    stored = harmony_context.jobs.get(job.id)
    assert (stored.status, stored.result, stored.attempts) == (
        "completed",
        {"ok": True, "tracks": [1, 2]},
        1,
    )
    assert (stored.lease_expires_at, stored.leased_by) == (None, None)
    assert stored.updated_at == harmony_clock.now()


@pytest.fixture
def handler_table(harmony_context: HarmonyContext) -> None:
    """A host table a handler writes to (in the test's SQLite file or PostgreSQL schema)."""
    with harmony_context.db.write() as conn:
        conn.execute(text("CREATE TABLE handler_writes (job_id INTEGER PRIMARY KEY)"))


def _handler_rows(ctx: HarmonyContext) -> list[int]:
    with ctx.db.connect() as conn:
        return list(conn.execute(text("SELECT job_id FROM handler_writes")).scalars())


@pytest.mark.usefixtures("handler_table")
def test_complete_with_session_commits_the_handlers_write_and_the_completion_together(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    with harmony_context.db.transaction() as tx:
        tx.execute(text("INSERT INTO handler_writes (job_id) VALUES (:id)").bindparams(id=job.id))
        harmony_context.jobs.complete(job, {"ok": True}, session=tx)
    assert _handler_rows(harmony_context) == [job.id]
    assert harmony_context.jobs.get(job.id).status == "completed"


@pytest.mark.usefixtures("handler_table")
def test_complete_with_session_persists_nothing_when_the_handler_fails(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    with pytest.raises(RuntimeError, match="handler failed"):
        with harmony_context.db.transaction() as tx:
            tx.execute(
                text("INSERT INTO handler_writes (job_id) VALUES (:id)").bindparams(id=job.id)
            )
            harmony_context.jobs.complete(job, {"ok": True}, session=tx)
            raise RuntimeError("handler failed")
    assert _handler_rows(harmony_context) == []
    stored = harmony_context.jobs.get(job.id)
    assert (stored.status, stored.result) == ("leased", None)
    harmony_context.jobs.complete(job)  # the lease is still held


def test_fail_with_retry_in_puts_the_job_back_in_line_after_the_delay(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    harmony_context.jobs.fail(job, "flaky", retry_in=30)
    stored = harmony_context.jobs.get(job.id)
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 1, "flaky")
    assert stored.available_at == harmony_clock.now() + timedelta(seconds=30)
    assert harmony_context.jobs.lease("a.job") == []
    harmony_clock.advance(30)
    assert _lease_one(harmony_context).attempts == 2


def test_fail_without_retry_dead_letters_the_job_with_a_stop_reason(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    harmony_context.jobs.enqueue("b.job", {})
    harmony_context.jobs.fail(_lease_one(harmony_context, "a.job"), ValueError("bad row"))
    harmony_context.jobs.fail(
        _lease_one(harmony_context, "b.job"), "gave up", stop_reason="max_attempts"
    )
    a, b = (harmony_context.jobs.list(type=t)[0] for t in ("a.job", "b.job"))
    assert (a.status, a.stop_reason, a.last_error) == ("failed", "failed", "ValueError: bad row")
    assert (b.status, b.stop_reason, b.last_error) == ("failed", "max_attempts", "gave up")
    harmony_clock.advance(3600)
    assert harmony_context.jobs.lease(None, limit=5) == []


def test_release_puts_the_job_back_without_counting_the_try(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    job = _lease_one(harmony_context)
    harmony_context.jobs.release(job)
    stored = harmony_context.jobs.get(job.id)
    assert (stored.status, stored.attempts, stored.lease_expires_at) == ("pending", 0, None)
    assert _lease_one(harmony_context).attempts == 1
    with pytest.raises(LeaseLost):
        harmony_context.jobs.release(job)


# --- many at once -------------------------------------------------------------------------


def test_heartbeat_many_extends_live_leases_and_leaves_out_lost_ones(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    _enqueue_n(harmony_context, 3)
    first, lost, third = harmony_context.jobs.lease("a.job", limit=3, lease_seconds=10)
    harmony_context.jobs.cancel(lost.id)
    harmony_clock.advance(5)
    extended = harmony_context.jobs.heartbeat_many([first, lost, third], lease_seconds=30)
    assert sorted(j.id for j in extended) == sorted([first.id, third.id])
    assert {j.lease_expires_at for j in extended} == {harmony_clock.now() + timedelta(seconds=30)}
    assert harmony_context.jobs.get(first.id).lease_expires_at == harmony_clock.now() + timedelta(
        seconds=30
    )


def test_complete_many_completes_live_leases_and_returns_the_lost_ids(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    stale, _fresh = _stale_and_fresh(harmony_context, harmony_clock)
    _enqueue_n(harmony_context, 2, "b.job")
    live = harmony_context.jobs.lease("b.job", limit=2)
    assert harmony_context.jobs.complete_many([*live, stale]) == [stale.id]
    assert [harmony_context.jobs.get(j.id).status for j in live] == ["completed", "completed"]
    assert harmony_context.jobs.get(stale.id).status == "leased"
