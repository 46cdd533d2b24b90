"""ctx.jobs enqueue: the stored job, idempotency keys, batches, transactions and bad input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from harmony import HarmonyContext, Job, JobSpec
from harmony._db.models import QueueJobRow
from harmony.errors import InvalidInputError, NotFoundError
from harmony.testing import ManualClock, RecordingEventLogger


def _count_rows(ctx: HarmonyContext) -> int:
    with ctx.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(QueueJobRow)).scalar_one())


def _is_utc(value: datetime) -> bool:
    return value.utcoffset() == timedelta(0)


def _finish(ctx: HarmonyContext, job: Job, how: str) -> None:
    """Bring the (only ready) ``job`` to a final state: completed, cancelled or failed."""
    if how == "cancelled":
        ctx.jobs.cancel(job.id)
        return
    [leased] = ctx.jobs.lease(job.type)
    assert leased.id == job.id
    if how == "completed":
        ctx.jobs.complete(leased, {"done": True})
    else:
        ctx.jobs.fail(leased, "boom")


# --- enqueue ------------------------------------------------------------------------------


def test_enqueue_returns_the_stored_pending_job_stamped_by_the_clock(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    job = harmony_context.jobs.enqueue("playlist.sync", {"provider": "spotify"}, priority=5)
    now = harmony_clock.now()
    assert (job.type, dict(job.payload), job.priority) == (
        "playlist.sync",
        {"provider": "spotify"},
        5,
    )
    assert (job.status, job.attempts, job.deduped) == ("pending", 0, False)
    assert (job.idempotency_key, job.lease_expires_at, job.leased_by) == (None, None, None)
    assert (job.last_error, job.stop_reason, job.result) == (None, None, None)
    assert job.created_at == job.updated_at == job.available_at == now
    assert all(_is_utc(t) for t in (job.created_at, job.updated_at, job.available_at))
    assert harmony_context.jobs.get(job.id) == job


def test_enqueue_stores_an_aware_available_at_in_utc(harmony_context: HarmonyContext) -> None:
    later = datetime(2031, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    job = harmony_context.jobs.enqueue("report.build", {}, available_at=later)
    stored = harmony_context.jobs.get(job.id).available_at
    assert stored == later and _is_utc(stored)
    assert stored.hour == 7


def test_enqueue_emits_a_worker_job_event(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    job = harmony_context.jobs.enqueue("playlist.sync", {}, priority=2)
    [event] = harmony_events.named("worker.job")
    assert event["entity_id"] == job.id
    assert (event["job_type"], event["status"], event["priority"], event["deduped"]) == (
        "playlist.sync",
        "enqueued",
        2,
        False,
    )


# --- idempotency keys ---------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "leased"])
def test_same_key_while_pending_or_leased_returns_the_existing_job_unchanged(
    harmony_context: HarmonyContext, state: str
) -> None:
    first = harmony_context.jobs.enqueue("sync.one", {"v": 1}, idempotency_key="k-1")
    if state == "leased":
        harmony_context.jobs.lease("sync.one")
    again = harmony_context.jobs.enqueue("sync.one", {"v": 2}, priority=7, idempotency_key="k-1")
    assert (again.id, again.status, again.deduped) == (first.id, state, True)
    assert (dict(again.payload), again.priority) == ({"v": 1}, 0)
    assert _count_rows(harmony_context) == 1


def test_deduped_enqueue_emits_worker_job_with_deduped_true(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    harmony_context.jobs.enqueue("sync.one", {}, idempotency_key="k-1")
    harmony_context.jobs.enqueue("sync.one", {}, idempotency_key="k-1")
    assert [e["deduped"] for e in harmony_events.named("worker.job")] == [False, True]


@pytest.mark.parametrize("how", ["completed", "cancelled"])
def test_same_key_after_completion_or_cancel_rearms_the_job(
    harmony_context: HarmonyContext, harmony_clock: ManualClock, how: str
) -> None:
    first = harmony_context.jobs.enqueue("sync.one", {"v": 1}, idempotency_key="k-1")
    _finish(harmony_context, first, how)
    harmony_clock.advance(5)
    again = harmony_context.jobs.enqueue("sync.one", {"v": 2}, priority=3, idempotency_key="k-1")
    assert (again.id, again.status, again.attempts, again.deduped) == (
        first.id,
        "pending",
        0,
        False,
    )
    assert (dict(again.payload), again.priority, again.result) == ({"v": 2}, 3, None)
    assert again.available_at == harmony_clock.now()
    assert harmony_context.jobs.get(first.id).status == "pending"
    assert _count_rows(harmony_context) == 1


def test_same_key_after_dead_letter_returns_the_failed_job_deduped(
    harmony_context: HarmonyContext,
) -> None:
    first = harmony_context.jobs.enqueue("sync.one", {"v": 1}, idempotency_key="k-1")
    _finish(harmony_context, first, "failed")
    again = harmony_context.jobs.enqueue("sync.one", {"v": 2}, idempotency_key="k-1")
    assert (again.id, again.status, again.deduped, dict(again.payload)) == (
        first.id,
        "failed",
        True,
        {"v": 1},
    )


@pytest.mark.parametrize("how", ["completed", "cancelled"])
def test_enqueue_unique_never_rearms_a_finished_job(
    harmony_context: HarmonyContext, how: str
) -> None:
    first = harmony_context.jobs.enqueue_unique("sync.one", {"v": 1}, idempotency_key="k-1")
    _finish(harmony_context, first, how)
    again = harmony_context.jobs.enqueue_unique("sync.one", {"v": 2}, idempotency_key="k-1")
    assert (again.id, again.status, again.deduped, dict(again.payload)) == (
        first.id,
        how,
        True,
        {"v": 1},
    )
    assert harmony_context.jobs.get(first.id).status == how


# --- enqueue_many -------------------------------------------------------------------------


def test_enqueue_many_stores_every_job_in_the_order_given(harmony_context: HarmonyContext) -> None:
    jobs = harmony_context.jobs.enqueue_many(
        [
            JobSpec("a.job", {"n": 0}),
            {"type": "b.job", "payload": {"n": 1}, "priority": 4},
            JobSpec("a.job"),
        ]
    )
    assert [(j.type, dict(j.payload), j.priority) for j in jobs] == [
        ("a.job", {"n": 0}, 0),
        ("b.job", {"n": 1}, 4),
        ("a.job", {}, 0),
    ]
    assert all(j.status == "pending" and not j.deduped for j in jobs)
    assert [harmony_context.jobs.get(j.id) for j in jobs] == jobs


def test_enqueue_many_with_keys_dedupes_against_stored_jobs(
    harmony_context: HarmonyContext,
) -> None:
    existing = harmony_context.jobs.enqueue("a.job", {"v": "old"}, idempotency_key="k-1")
    jobs = harmony_context.jobs.enqueue_many(
        [
            JobSpec("a.job", {"v": "new"}, idempotency_key="k-1"),
            JobSpec("a.job", idempotency_key="k-2"),
        ]
    )
    assert (jobs[0].id, jobs[0].deduped, dict(jobs[0].payload)) == (existing.id, True, {"v": "old"})
    assert (jobs[1].deduped, jobs[1].idempotency_key) == (False, "k-2")
    assert _count_rows(harmony_context) == 2


def test_enqueue_many_mixes_keyed_and_plain_jobs_keeping_their_order(
    harmony_context: HarmonyContext,
) -> None:
    specs = [
        JobSpec("a.job", {"i": 0}),
        JobSpec("a.job", {"i": 1}, idempotency_key="k-1"),
        JobSpec("a.job", {"i": 2}),
        JobSpec("a.job", {"i": 3}, idempotency_key="k-2"),
    ]
    jobs = harmony_context.jobs.enqueue_many(specs)
    assert [j.payload["i"] for j in jobs] == [0, 1, 2, 3]
    assert [j.idempotency_key for j in jobs] == [None, "k-1", None, "k-2"]
    assert len({j.id for j in jobs}) == 4 == _count_rows(harmony_context)


def test_enqueue_many_emits_one_batch_event(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    harmony_context.jobs.enqueue("a.job", {}, idempotency_key="k-1")
    harmony_events.clear()
    harmony_context.jobs.enqueue_many(
        [JobSpec("a.job", idempotency_key="k-1"), JobSpec("a.job"), JobSpec("b.job")]
    )
    [event] = harmony_events.named("worker.job.batch")
    assert (event["status"], event["count"], event["deduped"]) == ("enqueued", 3, 1)
    assert event["meta"]["job_types"] == ["a.job", "b.job"]


def test_enqueue_many_rejects_a_key_given_twice_and_writes_nothing(
    harmony_context: HarmonyContext,
) -> None:
    specs = [
        JobSpec("a.job"),
        JobSpec("a.job", idempotency_key="k"),
        JobSpec("b.job", idempotency_key="k"),
    ]
    with pytest.raises(InvalidInputError, match="idempotency_key"):
        harmony_context.jobs.enqueue_many(specs)
    assert _count_rows(harmony_context) == 0


@pytest.mark.parametrize(
    "bad",
    [
        JobSpec("a.job", priority=-1),
        JobSpec("has space"),
        JobSpec("a.job", {"x": float("nan")}),
        {"type": "a.job", "colour": "red"},
        {"payload": {}},
    ],
    ids=["negative-priority", "bad-type", "nan-payload", "unknown-field", "missing-type"],
)
def test_enqueue_many_writes_nothing_when_one_item_is_invalid(
    harmony_context: HarmonyContext, bad: JobSpec | Mapping[str, Any]
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    good = [JobSpec("a.job", {"i": 1}), JobSpec("a.job", idempotency_key="k-1")]
    with pytest.raises(InvalidInputError):
        harmony_context.jobs.enqueue_many([*good, bad, JobSpec("a.job")])
    assert _count_rows(harmony_context) == 1


def test_enqueue_many_in_a_rolled_back_transaction_leaves_no_jobs(
    harmony_context: HarmonyContext,
) -> None:
    with pytest.raises(RuntimeError, match="host failed"):
        with harmony_context.db.transaction() as tx:
            harmony_context.jobs.enqueue_many(
                [JobSpec("a.job"), JobSpec("a.job", idempotency_key="k")], session=tx
            )
            raise RuntimeError("host failed")
    assert _count_rows(harmony_context) == 0


# --- transactional enqueue ----------------------------------------------------------------


def test_enqueue_in_a_rolled_back_transaction_leaves_no_job(
    harmony_context: HarmonyContext,
) -> None:
    with pytest.raises(RuntimeError, match="host failed"):
        with harmony_context.db.transaction() as tx:
            job = harmony_context.jobs.enqueue("a.job", {"n": 1}, session=tx)
            raise RuntimeError("host failed")
    with pytest.raises(NotFoundError):
        harmony_context.jobs.get(job.id)
    assert _count_rows(harmony_context) == 0


def test_enqueue_in_a_committed_transaction_stores_the_job_at_commit(
    harmony_context: HarmonyContext,
) -> None:
    with harmony_context.db.transaction() as tx:
        job = harmony_context.jobs.enqueue("a.job", {"n": 1}, session=tx)
        assert _count_rows(harmony_context) == 0  # not visible outside the transaction yet
    assert harmony_context.jobs.get(job.id) == job


# --- bad input ----------------------------------------------------------------------------

NAIVE = datetime(2030, 1, 1, 12, 0)

BAD_ENQUEUES: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("negative-priority", ("a.job", {}), {"priority": -1}),
    ("bool-priority", ("a.job", {}), {"priority": True}),
    ("float-priority", ("a.job", {}), {"priority": 1.5}),
    ("set-payload", ("a.job", {1, 2}), {}),
    ("set-in-payload", ("a.job", {"tags": {1, 2}}), {}),
    ("object-payload", ("a.job", object()), {}),
    ("object-in-payload", ("a.job", {"thing": object()}), {}),
    ("nan-in-payload", ("a.job", {"x": float("nan")}), {}),
    ("list-payload", ("a.job", [1, 2]), {}),
    ("empty-type", ("", {}), {}),
    ("type-with-spaces", ("playlist sync", {}), {}),
    ("naive-available-at", ("a.job", {}), {"available_at": NAIVE}),
    ("empty-idempotency-key", ("a.job", {}), {"idempotency_key": ""}),
]


BAD_ENQUEUE_PARAMS = [pytest.param(*c[1:], id=c[0]) for c in BAD_ENQUEUES] + [
    pytest.param(("a.job", []), {}, id="empty-list-payload"),
    pytest.param(("a.job", set()), {}, id="empty-set-payload"),
]


@pytest.mark.parametrize(("args", "kwargs"), BAD_ENQUEUE_PARAMS)
def test_enqueue_rejects_bad_input_and_writes_nothing(
    harmony_context: HarmonyContext,
    harmony_events: RecordingEventLogger,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    harmony_events.clear()
    with pytest.raises(InvalidInputError):
        harmony_context.jobs.enqueue(*args, **kwargs)
    assert _count_rows(harmony_context) == 1
    assert harmony_events.named("worker.job*") == []
