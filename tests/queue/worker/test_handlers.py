"""Worker: handler registration, the handler's session, retries, dead letter, results,
unknown types, events and reports, on SQLite and PostgreSQL.

Running workers (threads, stop, asyncio, heartbeats, lost leases) are in
``test_lifecycle.py``; how a batch's tries are settled in ``test_settlement.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from harmony import (
    Fixed,
    HarmonyContext,
    InvalidInputError,
    JobContext,
    LeasedJob,
    RetryPolicy,
    Worker,
)
from harmony._events.loggers import RecordingEventLogger
from harmony._events.registry import EVENTS
from harmony.testing import ManualClock
from tests.queue.worker.support import (
    events_for,
    record_write,
    written_ids,
)

#: Every retry waits exactly this long, so ``available_at`` is predictable.
WAIT = 7
FLAKY = RetryPolicy(max_attempts=3, wait=Fixed(WAIT))


def _noop(job: JobContext) -> None:
    return None


def _boom(job: JobContext) -> None:
    raise RuntimeError(f"boom {job.job.id}")


# --- registration and what a handler gets ----------------------------------------------


def test_handler_registered_by_decorator_runs_for_its_type(ctx: HarmonyContext) -> None:
    worker = Worker(ctx)
    seen: list[int] = []

    @worker.handler("playlist.sync")
    def sync(job: JobContext) -> None:
        seen.append(job.job.id)

    job = ctx.jobs.enqueue("playlist.sync", {"provider": "spotify"})
    worker.run_until_idle()

    assert seen == [job.id]
    assert ctx.jobs.get(job.id).status == "completed"


def test_handlers_registered_by_mapping_run_for_their_types(ctx: HarmonyContext) -> None:
    seen: list[tuple[str, int]] = []

    def handle(job: JobContext) -> None:
        seen.append((job.job.type, job.job.id))

    worker = Worker(ctx, {"type.a": handle, "type.b": handle})
    a = ctx.jobs.enqueue("type.a")
    b = ctx.jobs.enqueue("type.b")
    worker.run_until_idle()

    assert sorted(seen) == [("type.a", a.id), ("type.b", b.id)]
    assert {ctx.jobs.get(a.id).status, ctx.jobs.get(b.id).status} == {"completed"}


def test_handler_receives_the_leased_job_and_a_session(ctx: HarmonyContext) -> None:
    received: list[tuple[Any, Any]] = []

    def handle(job: JobContext) -> None:
        received.append((job.job, job.session))

    job = ctx.jobs.enqueue("t", {"provider": "spotify"}, priority=3)
    Worker(ctx, {"t": handle}).run_until_idle()

    [(leased, session)] = received
    assert isinstance(leased, LeasedJob)
    assert isinstance(session, Session)
    assert (leased.id, leased.type, dict(leased.payload)) == (job.id, "t", {"provider": "spotify"})
    assert (leased.priority, leased.attempts) == (3, 1)


def test_handler_session_writes_commit_with_the_completion(ctx: HarmonyContext) -> None:
    jobs = [ctx.jobs.enqueue("t", {"i": i}) for i in range(3)]

    report = Worker(ctx, {"t": record_write}).run_until_idle()

    assert report.completed == 3
    assert written_ids(ctx) == [job.id for job in jobs]
    assert {ctx.jobs.get(job.id).status for job in jobs} == {"completed"}


# --- failures: retry, dead letter ---------------------------------------------------------


def test_handler_that_writes_then_raises_leaves_no_write_and_is_retried_after_the_policy_wait(
    ctx: HarmonyContext, harmony_clock: ManualClock
) -> None:
    def write_then_raise(job: JobContext) -> None:
        record_write(job)
        job.session.flush()
        raise RuntimeError("provider timed out")

    worker = Worker(ctx)
    worker.register("t", write_then_raise, retry=FLAKY)
    job = ctx.jobs.enqueue("t")

    report = worker.run_until_idle()

    stored = ctx.jobs.get(job.id)
    assert report.retried == 1
    assert written_ids(ctx) == []
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.available_at == harmony_clock.now() + timedelta(seconds=WAIT)
    assert stored.last_error == "RuntimeError: provider timed out"


def test_job_is_dead_lettered_after_max_attempts(
    ctx: HarmonyContext, harmony_clock: ManualClock, harmony_events: RecordingEventLogger
) -> None:
    worker = Worker(ctx)
    worker.register("t", _boom, retry=FLAKY)
    job = ctx.jobs.enqueue("t")

    worker.run_until_idle()
    for _ in range(FLAKY.max_attempts - 1):
        assert ctx.jobs.get(job.id).status == "pending"
        harmony_clock.advance(WAIT)
        worker.run_until_idle()

    stored = ctx.jobs.get(job.id)
    assert (stored.status, stored.attempts) == ("failed", 3)
    assert stored.stop_reason == "gave up after 3 attempts"
    [dlq] = events_for(harmony_events, "orchestrator.dlq", job.id)
    assert (dlq["status"], dlq["attempts"], dlq["stop_reason"]) == (
        "failed",
        3,
        "gave up after 3 attempts",
    )


def test_give_up_on_exception_dead_letters_at_once(ctx: HarmonyContext) -> None:
    def reject(job: JobContext) -> None:
        raise ValueError("playlist id is malformed")

    worker = Worker(ctx)
    worker.register("t", reject, retry=RetryPolicy(max_attempts=5, give_up_on=(ValueError,)))
    job = ctx.jobs.enqueue("t")

    report = worker.run_until_idle()

    stored = ctx.jobs.get(job.id)
    assert (report.dead_lettered, report.retried) == (1, 0)
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert stored.stop_reason == "ValueError is not retried"
    assert stored.last_error == "ValueError: playlist id is malformed"


# --- results ------------------------------------------------------------------------------


def test_json_result_returned_by_the_handler_is_stored(ctx: HarmonyContext) -> None:
    job = ctx.jobs.enqueue("t")

    Worker(ctx, {"t": lambda job: {"tracks": 3, "ids": ["a", "b"]}}).run_until_idle()

    stored = ctx.jobs.get(job.id)
    assert stored.status == "completed"
    assert stored.result == {"tracks": 3, "ids": ["a", "b"]}


def test_non_json_result_is_a_failed_try_not_a_crash(ctx: HarmonyContext) -> None:
    def handle(job: JobContext) -> Any:
        record_write(job)
        return object() if job.job.payload["bad"] else {"ok": True}

    worker = Worker(ctx)
    worker.register("t", handle, retry=RetryPolicy(max_attempts=1))
    bad = ctx.jobs.enqueue("t", {"bad": True}, priority=1)
    good = ctx.jobs.enqueue("t", {"bad": False})

    report = worker.run_until_idle()

    stored = ctx.jobs.get(bad.id)
    assert (report.dead_lettered, report.completed) == (1, 1)
    assert stored.status == "failed"
    assert stored.last_error is not None and "not JSON-serialisable" in stored.last_error
    assert ctx.jobs.get(good.id).status == "completed"
    assert written_ids(ctx) == [good.id]


def test_a_result_postgresql_cannot_store_is_a_failed_try_on_both_backends(
    ctx: HarmonyContext,
) -> None:
    def handle(job: JobContext) -> Any:
        record_write(job)
        return {"title": "nul\x00byte"} if job.job.payload["bad"] else {"ok": True}

    worker = Worker(ctx)
    worker.register("t", handle, retry=RetryPolicy(max_attempts=1))
    bad = ctx.jobs.enqueue("t", {"bad": True}, priority=1)
    good = ctx.jobs.enqueue("t", {"bad": False})

    report = worker.run_until_idle()

    assert (report.dead_lettered, report.completed) == (1, 1)
    failed = ctx.jobs.get(bad.id)
    assert failed.status == "failed" and "NUL character" in (failed.last_error or "")
    assert ctx.jobs.get(good.id).status == "completed"
    assert written_ids(ctx) == [good.id]


def test_a_payload_with_a_nul_character_is_refused_on_both_backends(ctx: HarmonyContext) -> None:
    with pytest.raises(InvalidInputError, match="NUL character"):
        ctx.jobs.enqueue("t", {"nested": ["ok", {"k": "a\x00b"}]})
    with pytest.raises(InvalidInputError, match="NUL character"):
        ctx.jobs.enqueue("t", {"key\x00": 1})
    assert (
        ctx.jobs.enqueue("t", {"text": "a literal \\u0000 is fine"})
        .payload["text"]
        .endswith("fine")
    )
    assert ctx.jobs.stats().total() == 1


# --- job types ----------------------------------------------------------------------------


def test_unknown_type_with_lease_any_type_is_dead_lettered_and_the_worker_keeps_going(
    ctx: HarmonyContext,
) -> None:
    unknown = ctx.jobs.enqueue("mystery.type", priority=5)
    known = ctx.jobs.enqueue("known")

    report = Worker(ctx, {"known": _noop}, lease_any_type=True).run_until_idle()

    stored = ctx.jobs.get(unknown.id)
    assert (stored.status, stored.attempts) == ("failed", 0)  # no handler ever started
    assert stored.stop_reason is not None and "'mystery.type'" in stored.stop_reason
    assert ctx.jobs.get(known.id).status == "completed"
    assert (report.dead_lettered, report.completed) == (1, 1)


def test_worker_without_lease_any_type_leaves_other_types_pending(ctx: HarmonyContext) -> None:
    other = ctx.jobs.enqueue("other.type", priority=5)
    known = ctx.jobs.enqueue("known")

    Worker(ctx, {"known": _noop}).run_until_idle()

    stored = ctx.jobs.get(other.id)
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert ctx.jobs.get(known.id).status == "completed"


# --- events and reports -------------------------------------------------------------------


def _three_outcomes(ctx: HarmonyContext) -> dict[str, int]:
    """Run one job that completes, one that is retried and one that is dead-lettered."""
    worker = Worker(ctx)
    worker.register("ok", _noop)
    worker.register("flaky", _boom, retry=FLAKY)
    worker.register("fatal", _boom, retry=RetryPolicy(give_up_on=(RuntimeError,)))
    ids = {name: ctx.jobs.enqueue(name).id for name in ("ok", "flaky", "fatal")}
    worker.run_until_idle()
    return ids


@pytest.mark.parametrize("event", ["orchestrator.dispatch", "orchestrator.commit"])
def test_each_job_emits_one_event_per_stage_with_the_required_fields(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger, event: str
) -> None:
    ids = _three_outcomes(ctx)

    for name, job_id in ids.items():
        [emitted] = events_for(harmony_events, event, job_id)
        missing = set(EVENTS[event].required) - set(emitted.fields)
        assert not missing, f"{event} for {name} lacks {missing}"
        assert (emitted["job_type"], emitted["attempts"]) == (name, 1)


def test_commit_event_status_names_the_outcome(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    ids = _three_outcomes(ctx)

    statuses = {
        name: [e["status"] for e in events_for(harmony_events, "orchestrator.commit", job_id)]
        for name, job_id in ids.items()
    }
    assert statuses == {"ok": ["completed"], "flaky": ["retry"], "fatal": ["failed"]}
    [retry] = events_for(harmony_events, "orchestrator.commit", ids["flaky"])
    assert retry["retry_in"] == WAIT
    assert retry["error"] == f"RuntimeError: boom {ids['flaky']}"


def test_dispatch_event_precedes_the_commit_event_of_the_same_job(
    ctx: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    job = ctx.jobs.enqueue("ok")

    Worker(ctx, {"ok": _noop}).run_until_idle()

    stages = [
        e.name
        for e in harmony_events.named("orchestrator.*")
        if e.name in ("orchestrator.dispatch", "orchestrator.commit") and e["entity_id"] == job.id
    ]
    assert stages == ["orchestrator.dispatch", "orchestrator.commit"]


def test_run_until_idle_reports_only_the_tries_of_that_call(
    ctx: HarmonyContext, harmony_clock: ManualClock
) -> None:
    worker = Worker(ctx)
    worker.register("ok", _noop)
    worker.register("flaky", _boom, retry=FLAKY)
    ctx.jobs.enqueue("ok")
    ctx.jobs.enqueue("ok")
    ctx.jobs.enqueue("flaky")

    first = worker.run_until_idle()
    ctx.jobs.enqueue("ok")
    harmony_clock.advance(WAIT)
    second = worker.run_until_idle()

    assert (first.completed, first.retried, first.processed) == (2, 1, 3)
    assert (second.completed, second.retried, second.processed) == (1, 1, 2)
    assert first is not second


def test_run_until_idle_with_nothing_ready_reports_nothing(ctx: HarmonyContext) -> None:
    report = Worker(ctx, {"ok": _noop}).run_until_idle()

    assert (report.processed, report.released) == (0, 0)
