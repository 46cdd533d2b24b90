"""ctx.jobs administration: cancel, retry, get, list, stats and purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harmony import HarmonyContext, Job
from harmony.errors import InvalidInputError, JobStateError, NotFoundError
from harmony.testing import ManualClock

MISSING_ID = 987_654


def _in_state(ctx: HarmonyContext, state: str, job_type: str = "a.job") -> Job:
    """A new job of ``job_type`` brought to ``state`` (it must be the only ready one)."""
    job = ctx.jobs.enqueue(job_type, {})
    if state == "pending":
        return job
    if state == "cancelled":
        return ctx.jobs.cancel(job.id)
    [leased] = ctx.jobs.lease(job_type)
    if state == "completed":
        ctx.jobs.complete(leased)
    elif state == "failed":
        ctx.jobs.fail(leased, "boom")
    return ctx.jobs.get(job.id)


# --- cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "leased", "failed"])
def test_cancel_cancels_a_pending_leased_or_failed_job(
    harmony_context: HarmonyContext, state: str
) -> None:
    job = _in_state(harmony_context, state)
    assert job.status == state
    cancelled = harmony_context.jobs.cancel(job.id)
    assert (cancelled.id, cancelled.status, cancelled.lease_expires_at) == (
        job.id,
        "cancelled",
        None,
    )
    assert harmony_context.jobs.get(job.id).status == "cancelled"


@pytest.mark.parametrize("state", ["completed", "cancelled"])
def test_cancel_of_a_finished_job_raises_job_state_error(
    harmony_context: HarmonyContext, state: str
) -> None:
    job = _in_state(harmony_context, state)
    with pytest.raises(JobStateError, match=state):
        harmony_context.jobs.cancel(job.id)
    assert harmony_context.jobs.get(job.id).status == state


def test_cancel_of_an_unknown_job_raises_not_found(harmony_context: HarmonyContext) -> None:
    with pytest.raises(NotFoundError):
        harmony_context.jobs.cancel(MISSING_ID)


# --- retry --------------------------------------------------------------------------------


def test_retry_puts_a_failed_job_back_in_line_with_attempts_reset(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    job = _in_state(harmony_context, "failed")
    harmony_clock.advance(60)
    retried = harmony_context.jobs.retry(job.id)
    assert (retried.status, retried.attempts, retried.stop_reason) == ("pending", 0, None)
    assert retried.available_at == harmony_clock.now()
    [leased] = harmony_context.jobs.lease("a.job")
    assert (leased.id, leased.attempts) == (job.id, 1)


@pytest.mark.parametrize("state", ["pending", "leased", "completed", "cancelled"])
def test_retry_of_a_job_that_is_not_failed_raises_job_state_error(
    harmony_context: HarmonyContext, state: str
) -> None:
    job = _in_state(harmony_context, state)
    with pytest.raises(JobStateError):
        harmony_context.jobs.retry(job.id)
    assert harmony_context.jobs.get(job.id).status == state


def test_retry_of_an_unknown_job_raises_not_found(harmony_context: HarmonyContext) -> None:
    with pytest.raises(NotFoundError):
        harmony_context.jobs.retry(MISSING_ID)


# --- get and list -------------------------------------------------------------------------


def test_get_of_an_unknown_job_raises_not_found(harmony_context: HarmonyContext) -> None:
    with pytest.raises(NotFoundError, match=str(MISSING_ID)):
        harmony_context.jobs.get(MISSING_ID)


def test_list_pages_newest_first_with_a_cursor(harmony_context: HarmonyContext) -> None:
    ids = [harmony_context.jobs.enqueue("a.job", {"i": i}).id for i in range(5)]
    pages, cursor = [], None
    while True:
        page = harmony_context.jobs.list(limit=2, cursor=cursor)
        pages.append([j.id for j in page])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [ids[:-3:-1], ids[-3:-5:-1], ids[:1]]


def test_list_filters_by_status_and_type(harmony_context: HarmonyContext) -> None:
    done = _in_state(harmony_context, "completed", "a.job")
    pending_a = _in_state(harmony_context, "pending", "a.job")
    pending_b = _in_state(harmony_context, "pending", "b.job")
    jobs = harmony_context.jobs
    assert [j.id for j in jobs.list(status="pending")] == [pending_b.id, pending_a.id]
    assert [j.id for j in jobs.list(type="a.job")] == [pending_a.id, done.id]
    assert [j.id for j in jobs.list(status="completed", type="a.job")] == [done.id]
    assert list(jobs.list(status="failed")) == []


def test_list_with_an_unknown_status_raises_invalid_input(harmony_context: HarmonyContext) -> None:
    with pytest.raises(InvalidInputError, match="running"):
        harmony_context.jobs.list(status="running")


# --- stats --------------------------------------------------------------------------------


def test_stats_counts_jobs_by_type_and_status(harmony_context: HarmonyContext) -> None:
    for state in ("pending", "pending", "leased", "failed"):
        _in_state(harmony_context, state, "a.job")
    _in_state(harmony_context, "completed", "b.job")
    stats = harmony_context.jobs.stats()
    assert {t: dict(c) for t, c in stats.counts.items()} == {
        "a.job": {"pending": 2, "leased": 1, "failed": 1},
        "b.job": {"completed": 1},
    }
    assert (stats.total(), stats.total("pending")) == (5, 2)


def test_stats_reports_how_long_the_oldest_ready_job_has_waited(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    first = harmony_context.jobs.enqueue("a.job", {})
    harmony_clock.advance(10)
    harmony_context.jobs.enqueue("a.job", {})
    harmony_context.jobs.enqueue(
        "b.job", {}, available_at=first.available_at + timedelta(seconds=1)
    )
    harmony_context.jobs.enqueue("c.job", {}, available_at=harmony_clock.now() + timedelta(hours=1))
    harmony_clock.advance(5)
    assert harmony_context.jobs.stats().oldest_ready_age_seconds == 15.0
    harmony_context.jobs.lease("a.job")  # the oldest is no longer waiting
    assert harmony_context.jobs.stats().oldest_ready_age_seconds == 14.0


def test_stats_oldest_ready_age_is_none_when_nothing_is_ready(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue(
        "a.job", {}, available_at=harmony_clock.now() + timedelta(seconds=5)
    )
    _in_state(harmony_context, "completed", "b.job")
    assert harmony_context.jobs.stats().oldest_ready_age_seconds is None


# --- purge --------------------------------------------------------------------------------


def test_purge_removes_only_completed_and_cancelled_jobs_finished_before_the_cutoff(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    old_done = _in_state(harmony_context, "completed", "old.done")
    old_cancelled = _in_state(harmony_context, "cancelled", "old.cancelled")
    kept = [_in_state(harmony_context, s, f"old.{s}") for s in ("failed", "pending", "leased")]
    harmony_clock.advance(100)
    cutoff = harmony_clock.now()
    harmony_clock.advance(1)
    kept.append(_in_state(harmony_context, "completed", "new.done"))
    assert harmony_context.jobs.purge(completed_before=cutoff) == 2
    for gone in (old_done, old_cancelled):
        with pytest.raises(NotFoundError):
            harmony_context.jobs.get(gone.id)
    assert [harmony_context.jobs.get(j.id).status for j in kept] == [
        "failed",
        "pending",
        "leased",
        "completed",
    ]


def test_purge_refuses_a_naive_cutoff(harmony_context: HarmonyContext) -> None:
    _in_state(harmony_context, "completed")
    with pytest.raises(InvalidInputError):
        harmony_context.jobs.purge(completed_before=datetime(2999, 1, 1))
    assert harmony_context.jobs.stats().total() == 1
    assert harmony_context.jobs.purge(completed_before=datetime(2999, 1, 1, tzinfo=UTC)) == 1


def test_job_ids_out_of_range_are_not_found_and_non_integers_invalid(
    harmony_context: HarmonyContext,
) -> None:
    for call in (harmony_context.jobs.get, harmony_context.jobs.cancel, harmony_context.jobs.retry):
        with pytest.raises(NotFoundError):
            call(2**63)
        with pytest.raises(InvalidInputError, match="job ids are integers"):
            call("1")  # type: ignore[arg-type]
