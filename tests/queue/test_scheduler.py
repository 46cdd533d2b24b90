"""ctx.scheduler: idle back-off, schedule events, type weights and periodic jobs."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from harmony import HarmonyContext, HarmonySettings, Job
from harmony._events.registry import EVENTS
from harmony._services import PollBackoff
from harmony.errors import InvalidInputError
from harmony.testing import ManualClock, RecordingEventLogger
from harmony.testing.pytest_plugin import SettingsFactory

#: A whole minute (a multiple of 60 s since the epoch) plus 10 s.
START = datetime(2030, 1, 1, 0, 0, 10, tzinfo=UTC)


@contextmanager
def _context(settings: HarmonySettings, clock: ManualClock) -> Iterator[HarmonyContext]:
    with HarmonyContext(settings, events=RecordingEventLogger(), clock=clock) as ctx:
        ctx.migrate()
        yield ctx


def _jobs_of(ctx: HarmonyContext, job_type: str) -> list[Job]:
    return list(ctx.jobs.list(type=job_type, limit=1000))


# --- PollBackoff --------------------------------------------------------------------------


def test_backoff_grows_by_the_multiplier_up_to_the_maximum_while_idle() -> None:
    backoff = PollBackoff(0.5, 3.0, 2.0)
    assert [backoff.next(False) for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_snaps_back_to_the_initial_delay_after_work() -> None:
    backoff = PollBackoff(0.5, 3.0, 2.0)
    for _ in range(4):
        backoff.next(False)
    assert backoff.next(True) == 0.0
    assert [backoff.next(False) for _ in range(2)] == [0.5, 1.0]


@pytest.mark.parametrize(
    ("initial", "maximum", "multiplier"),
    [(0.0, 1.0, 2.0), (-1.0, 1.0, 2.0), (2.0, 1.0, 2.0), (0.5, 1.0, 0.5)],
    ids=["zero-initial", "negative-initial", "initial-above-maximum", "multiplier-below-1"],
)
def test_backoff_rejects_invalid_arguments(
    initial: float, maximum: float, multiplier: float
) -> None:
    with pytest.raises(InvalidInputError):
        PollBackoff(initial, maximum, multiplier)


def test_scheduler_backoff_is_built_from_the_settings(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory(
        scheduler_poll_interval=0.25,
        scheduler_max_poll_interval=2.0,
        scheduler_backoff_multiplier=3.0,
    )
    with HarmonyContext(settings) as ctx:
        backoff = ctx.scheduler.backoff()
    assert (backoff.initial, backoff.maximum, backoff.multiplier) == (0.25, 2.0, 3.0)
    assert [backoff.next(False) for _ in range(4)] == [0.25, 0.75, 2.0, 2.0]


# --- lease_ready_jobs ---------------------------------------------------------------------


def test_lease_ready_jobs_emits_orchestrator_schedule_per_job_with_its_ready_age(
    harmony_context: HarmonyContext,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
) -> None:
    first = harmony_context.jobs.enqueue("a.job", {}, priority=2)
    harmony_clock.advance(2.5)
    second = harmony_context.jobs.enqueue("a.job", {})
    harmony_clock.advance(1)
    harmony_events.clear()
    leased = harmony_context.scheduler.lease_ready_jobs(["a.job"], limit=10)
    events = harmony_events.named("orchestrator.schedule")
    assert [e["entity_id"] for e in events] == [j.id for j in leased] == [first.id, second.id]
    assert [e["ready_age_ms"] for e in events] == [3500.0, 1000.0]
    assert [(e["status"], e["priority"]) for e in events] == [("ready", 2), ("ready", 0)]
    for event in events:
        assert set(EVENTS["orchestrator.schedule"].required) <= set(event.fields)


def test_lease_ready_jobs_uses_the_visibility_timeout_from_the_settings(
    harmony_settings_factory: SettingsFactory, harmony_clock: ManualClock
) -> None:
    with _context(harmony_settings_factory(scheduler_visibility_timeout=45), harmony_clock) as ctx:
        ctx.jobs.enqueue("a.job", {})
        [job] = ctx.scheduler.lease_ready_jobs(["a.job"])
    assert job.lease_expires_at == harmony_clock.now() + timedelta(seconds=45)


@pytest.fixture
def weighted(
    harmony_settings_factory: SettingsFactory, harmony_clock: ManualClock
) -> Iterator[HarmonyContext]:
    """A context whose scheduler weighs type ``a`` 3 and type ``b`` 1."""
    with _context(
        harmony_settings_factory(scheduler_type_weights={"a": 3, "b": 1}), harmony_clock
    ) as ctx:
        yield ctx


def _lease_counts(ctx: HarmonyContext, limit: int) -> Counter[str]:
    return Counter(j.type for j in ctx.scheduler.lease_ready_jobs(["a", "b"], limit=limit))


def test_weights_split_a_batch_between_types(weighted: HarmonyContext) -> None:
    # b's jobs are older and would fill the whole batch without weights.
    weighted.jobs.enqueue_many(
        [{"type": "b"} for _ in range(20)] + [{"type": "a"} for _ in range(20)]
    )
    assert _lease_counts(weighted, 8) == {"a": 6, "b": 2}


@pytest.mark.parametrize("ready", ["a", "b"])
def test_a_type_with_no_ready_jobs_gives_its_slots_to_the_other(
    weighted: HarmonyContext, ready: str
) -> None:
    weighted.jobs.enqueue_many([{"type": ready} for _ in range(20)])
    assert _lease_counts(weighted, 8) == {ready: 8}


def test_a_type_with_few_ready_jobs_gives_its_unused_slots_to_the_other(
    weighted: HarmonyContext,
) -> None:
    weighted.jobs.enqueue_many(
        [{"type": "b"} for _ in range(20)] + [{"type": "a"} for _ in range(3)]
    )
    assert _lease_counts(weighted, 8) == {"a": 3, "b": 5}


# --- periodic jobs ------------------------------------------------------------------------


def test_every_enqueues_one_job_for_the_current_period(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_clock.set(START)
    harmony_context.scheduler.every(60, "report.periodic", {"scope": "all"})
    [job] = _jobs_of(harmony_context, "report.periodic")
    assert (job.status, dict(job.payload)) == ("pending", {"scope": "all"})


def test_every_called_again_in_the_same_period_adds_no_job(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_clock.set(START)
    harmony_context.scheduler.every(60, "report.periodic", {"scope": "all"})
    harmony_clock.advance(49)  # the last second of the same period
    harmony_context.scheduler.every(60, "report.periodic", {"scope": "all"})
    harmony_context.scheduler.lease_ready_jobs(["other.job"])
    assert len(_jobs_of(harmony_context, "report.periodic")) == 1


def test_a_tick_in_the_next_period_adds_exactly_one_job(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    harmony_clock.set(START)
    harmony_context.scheduler.every(60, "report.periodic", {"scope": "all"})
    harmony_clock.advance(50)  # the first second of the next period
    harmony_context.scheduler.lease_ready_jobs(["other.job"])
    harmony_context.scheduler.lease_ready_jobs(["other.job"])
    jobs = _jobs_of(harmony_context, "report.periodic")
    assert len(jobs) == 2 and len({j.idempotency_key for j in jobs}) == 2


def test_two_schedulers_on_one_database_enqueue_one_job_per_period(
    harmony_settings: HarmonySettings,
) -> None:
    clocks = [ManualClock(START), ManualClock(START)]
    barrier = threading.Barrier(2, timeout=60)
    periods = 5

    def run(ctx: HarmonyContext, clock: ManualClock) -> None:
        barrier.wait()
        ctx.scheduler.every(60, "report.periodic", {"scope": "all"})
        for _ in range(periods - 1):
            clock.advance(60)
            barrier.wait()
            ctx.scheduler.enqueue_due()

    with _context(harmony_settings, clocks[0]) as one, _context(harmony_settings, clocks[1]) as two:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(run, ctx, clock) for ctx, clock in ((one, clocks[0]), (two, clocks[1]))
            ]
            for future in futures:
                future.result()
        jobs = _jobs_of(one, "report.periodic")
    assert len(jobs) == periods
    assert len({j.idempotency_key for j in jobs}) == periods


def test_a_completed_periodic_job_is_not_rearmed_within_its_period(
    harmony_settings: HarmonySettings,
) -> None:
    with _context(harmony_settings, ManualClock(START)) as ctx:
        ctx.scheduler.every(60, "report.periodic", {"scope": "all"})
        [leased] = ctx.scheduler.lease_ready_jobs(["report.periodic"])
        ctx.jobs.complete(leased)
        # Another scheduler (a restarted process) registers the same schedule in the period.
        with _context(harmony_settings, ManualClock(START + timedelta(seconds=30))) as other:
            other.scheduler.every(60, "report.periodic", {"scope": "all"})
            assert other.scheduler.lease_ready_jobs(["report.periodic"]) == []
        [job] = _jobs_of(ctx, "report.periodic")
    assert (job.id, job.status) == (leased.id, "completed")


# --- bad periodic schedules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_type", "payload", "priority"),
    [("bad type", {}, 0), ("report.periodic", {}, -1), ("report.periodic", {"x": float("nan")}, 0)],
    ids=["bad-type", "negative-priority", "nan-payload"],
)
def test_a_rejected_schedule_does_not_break_later_ticks(
    harmony_context: HarmonyContext, job_type: str, payload: dict[str, float], priority: int
) -> None:
    with pytest.raises(InvalidInputError):
        harmony_context.scheduler.every(60, job_type, payload, priority=priority)
    harmony_context.jobs.enqueue("other.job", {})
    assert [j.type for j in harmony_context.scheduler.lease_ready_jobs(limit=5)] == ["other.job"]
    assert harmony_context.jobs.stats().total() == 1


def test_every_with_a_non_json_payload_raises_invalid_input(
    harmony_context: HarmonyContext,
) -> None:
    with pytest.raises(InvalidInputError):
        harmony_context.scheduler.every(60, "report.periodic", {"thing": object()})
    assert harmony_context.jobs.stats().total() == 0
