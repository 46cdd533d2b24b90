"""ctx.jobs.lease: order, availability, tokens, events, recovery, concurrency, bad arguments."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from harmony import HarmonyContext, HarmonySettings, Job, LeasedJob
from harmony._events.registry import EVENTS
from harmony._repositories.job_sql import EXPIRED_LEASE_ERROR
from harmony.errors import InvalidInputError
from harmony.testing import ManualClock, RecordingEventLogger

LEASE_FIELDS = EVENTS["orchestrator.lease"].required


def _enqueue_n(ctx: HarmonyContext, n: int, job_type: str = "a.job") -> list[Job]:
    return [ctx.jobs.enqueue(job_type, {"i": i}) for i in range(n)]


def _lease_one(ctx: HarmonyContext, job_type: str = "a.job", **kwargs: Any) -> LeasedJob:
    [job] = ctx.jobs.lease(job_type, **kwargs)
    return job


# --- lease order --------------------------------------------------------------------------


@pytest.fixture
def ordered_jobs(harmony_context: HarmonyContext, harmony_clock: ManualClock) -> list[int]:
    """Six jobs whose ids run against their lease order; returns their ids in lease order."""
    now, jobs = harmony_clock.now(), harmony_context.jobs
    low = jobs.enqueue("a.job", {"n": "low"}, priority=1, available_at=now - timedelta(seconds=99))
    newest = jobs.enqueue(
        "a.job", {"n": "newest"}, priority=5, available_at=now - timedelta(seconds=10)
    )
    middle = jobs.enqueue(
        "a.job", {"n": "middle"}, priority=5, available_at=now - timedelta(seconds=20)
    )
    oldest_1 = jobs.enqueue(
        "a.job", {"n": "oldest-1"}, priority=5, available_at=now - timedelta(seconds=30)
    )
    oldest_2 = jobs.enqueue(
        "a.job", {"n": "oldest-2"}, priority=5, available_at=now - timedelta(seconds=30)
    )
    high = jobs.enqueue("a.job", {"n": "high"}, priority=9)
    return [j.id for j in (high, oldest_1, oldest_2, middle, newest, low)]


def test_lease_takes_highest_priority_then_oldest_available_at_then_id(
    harmony_context: HarmonyContext, ordered_jobs: list[int]
) -> None:
    leased = [_lease_one(harmony_context).id for _ in ordered_jobs]
    assert leased == ordered_jobs
    assert harmony_context.jobs.lease("a.job") == []


def test_batch_lease_returns_the_first_jobs_in_lease_order(
    harmony_context: HarmonyContext, ordered_jobs: list[int]
) -> None:
    first = harmony_context.jobs.lease("a.job", limit=4)
    rest = harmony_context.jobs.lease("a.job", limit=10)
    assert [j.id for j in first] == ordered_jobs[:4]
    assert [j.id for j in rest] == ordered_jobs[4:]


def test_job_available_in_the_future_is_not_leased_until_the_clock_reaches_it(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    later = harmony_context.jobs.enqueue(
        "a.job", {}, available_at=harmony_clock.now() + timedelta(seconds=30)
    )
    assert harmony_context.jobs.lease("a.job") == []
    harmony_clock.advance(29)
    assert harmony_context.jobs.lease("a.job") == []
    harmony_clock.advance(2)
    assert _lease_one(harmony_context).id == later.id


def test_lease_only_takes_the_types_asked_for(harmony_context: HarmonyContext) -> None:
    a, b = harmony_context.jobs.enqueue("a.job", {}), harmony_context.jobs.enqueue("b.job", {})
    assert [j.id for j in harmony_context.jobs.lease(["b.job"], limit=5)] == [b.id]
    assert [j.id for j in harmony_context.jobs.lease(None, limit=5)] == [a.id]


# --- tokens, attempts, events -------------------------------------------------------------


def test_lease_hands_out_fresh_distinct_tokens_and_charges_no_attempt_yet(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    _enqueue_n(harmony_context, 3)
    leased = harmony_context.jobs.lease("a.job", limit=3, lease_seconds=30, worker_id="w-1")
    assert len({j.token for j in leased}) == 3 and all(j.token for j in leased)
    assert {(j.attempts, j.recovered) for j in leased} == {(1, False)}  # this try's number
    assert {j.lease_expires_at for j in leased} == {harmony_clock.now() + timedelta(seconds=30)}
    stored = [harmony_context.jobs.get(j.id) for j in leased]
    # Charged when settled (or recorded as started), never for only being leased.
    assert {(s.status, s.attempts, s.leased_by) for s in stored} == {("leased", 0, "w-1")}
    harmony_context.jobs.complete(leased[0])
    harmony_context.jobs.fail(leased[1], "boom", retry_in=0)
    assert [harmony_context.jobs.get(j.id).attempts for j in leased] == [1, 1, 0]


def test_lease_emits_one_orchestrator_lease_event_per_leased_job(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    _enqueue_n(harmony_context, 3)
    harmony_events.clear()
    leased = harmony_context.jobs.lease("a.job", limit=5, lease_seconds=30)
    events = harmony_events.named("orchestrator.lease")
    assert [e["entity_id"] for e in events] == [j.id for j in leased]
    for event in events:
        assert set(LEASE_FIELDS) <= set(event.fields)
        assert (event["status"], event["job_type"], event["lease_timeout"]) == (
            "leased",
            "a.job",
            30,
        )


def test_lease_with_nothing_ready_emits_one_skipped_event(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    assert harmony_context.jobs.lease("a.job", limit=5) == []
    [event] = harmony_events.named("orchestrator.lease")
    assert set(LEASE_FIELDS) <= set(event.fields)
    assert (event["status"], event["entity_id"]) == ("skipped", None)


@pytest.fixture
def logging_context(
    harmony_settings: HarmonySettings, harmony_clock: ManualClock
) -> Iterator[HarmonyContext]:
    """A context with the default (stdlib logging) event logger."""
    with HarmonyContext(harmony_settings, clock=harmony_clock) as ctx:
        ctx.migrate()
        yield ctx


def test_caplog_sees_orchestrator_lease_with_every_required_field_on_the_metrics_logger(
    logging_context: HarmonyContext, caplog: pytest.LogCaptureFixture
) -> None:
    _enqueue_n(logging_context, 2)
    caplog.set_level(logging.INFO, logger="harmony")
    leased = logging_context.jobs.lease("a.job", limit=5)
    logging_context.jobs.lease("a.job", limit=5)
    records = [r for r in caplog.records if getattr(r, "event", None) == "orchestrator.lease"]
    assert {r.name for r in records} == {"harmony.orchestrator.metrics"}
    for record in records:
        assert all(hasattr(record, name) for name in LEASE_FIELDS), vars(record)
    assert [(r.status, r.entity_id) for r in records] == [
        ("leased", leased[0].id),
        ("leased", leased[1].id),
        ("skipped", None),
    ]


def test_expired_lease_is_recovered_by_the_next_lease_call_marked_recovered(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    first = _lease_one(harmony_context, lease_seconds=10)
    harmony_clock.advance(9)
    assert harmony_context.jobs.lease("a.job") == []
    harmony_clock.advance(2)
    again = _lease_one(harmony_context, lease_seconds=10)
    assert (again.id, again.attempts, again.recovered) == (first.id, 1, True)
    stored = harmony_context.jobs.get(first.id)
    assert (stored.attempts, stored.last_error) == (0, EXPIRED_LEASE_ERROR)


def test_a_try_recorded_as_started_stays_charged_when_its_lease_expires(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_context.jobs.enqueue("a.job", {})
    first = _lease_one(harmony_context, lease_seconds=10)
    assert harmony_context.jobs.mark_started([first]) == [first.id]
    harmony_clock.advance(11)
    again = _lease_one(harmony_context, lease_seconds=10)
    assert (again.attempts, again.recovered) == (2, True)
    harmony_context.jobs.complete(again)
    assert harmony_context.jobs.get(first.id).attempts == 2
    assert harmony_context.jobs.mark_started([first]) == []  # a stale token marks nothing


def test_concurrent_lease_calls_never_hand_out_a_job_twice(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    ids = {j.id for j in _enqueue_n(harmony_context, 120)}
    harmony_context.jobs.lease("a.job", limit=40, lease_seconds=10)  # these expire: recovered below
    harmony_clock.advance(11)
    start = threading.Barrier(4, timeout=60)

    def drain(_: int) -> list[list[int]]:
        start.wait()
        batches = []
        while batch := harmony_context.jobs.lease("a.job", limit=7):
            batches.append([j.id for j in batch])
        return batches

    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = [b for result in pool.map(drain, range(4)) for b in result]
    leased = [job_id for batch in batches for job_id in batch]
    assert max(len(b) for b in batches) <= 7
    assert sorted(leased) == sorted(ids)


# --- bad lease arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "kwargs"),
    [
        ("a.job", {"limit": 0}),
        ("a.job", {"limit": 1001}),
        ([], {}),
        ("a.job", {"lease_seconds": 0}),
        ("bad type", {}),
    ],
    ids=["limit-0", "limit-1001", "no-types", "lease-seconds-0", "bad-type"],
)
def test_lease_rejects_bad_arguments_and_leases_nothing(
    harmony_context: HarmonyContext, types: Any, kwargs: dict[str, Any]
) -> None:
    job = harmony_context.jobs.enqueue("a.job", {})
    with pytest.raises(InvalidInputError):
        harmony_context.jobs.lease(types, **kwargs)
    stored = harmony_context.jobs.get(job.id)
    assert (stored.status, stored.attempts) == ("pending", 0)
