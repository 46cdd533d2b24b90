"""Handlers take a JobContext; the (job, session) form still runs and warns once; retry
policies take harmony's own wait descriptions, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tenacity import wait_fixed

from harmony import (
    Exponential,
    Fixed,
    HarmonyContext,
    HarmonySettings,
    InvalidInputError,
    JobContext,
    LeasedJob,
    RetryPolicy,
    Worker,
)
from tests.queue.worker.support import written_ids


def _write(session: Session, job_id: int) -> None:
    session.execute(text("INSERT INTO worker_writes (job_id) VALUES (:job_id)"), {"job_id": job_id})


def test_a_job_context_handler_and_an_old_style_handler_both_run_the_old_one_warning_once(
    ctx: HarmonyContext,
) -> None:
    seen: list[tuple[str, int, int, str]] = []

    def new_style(job: JobContext) -> dict[str, int]:
        seen.append(("new", job.job.id, job.attempt, job.worker_id))
        _write(job.session, job.job.id)
        return {"n": job.payload["n"]}

    def old_style(job: LeasedJob, session: Session) -> None:
        seen.append(("old", job.id, job.attempts, ""))
        _write(session, job.id)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ctx.jobs.register("new.job", new_style)
        worker = Worker(ctx, {"old.job": old_style}, worker_id="w-1")
        jobs = ctx.jobs.enqueue_many(
            [{"type": "new.job", "payload": {"n": i}} for i in range(3)]
            + [{"type": "old.job"} for _ in range(3)]
        )
        report = worker.run_until_idle()
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1
    assert "old_style" in str(deprecations[0].message)
    assert "JobContext" in str(deprecations[0].message)
    assert deprecations[0].filename == __file__  # points at the registration, not at harmony
    assert report.completed == 6
    assert written_ids(ctx) == sorted(job.id for job in jobs)
    assert sorted(kind for kind, *_ in seen) == ["new"] * 3 + ["old"] * 3
    assert {(attempt, worker_id) for kind, _, attempt, worker_id in seen if kind == "new"} == {
        (1, "w-1")
    }
    assert [ctx.jobs.get(job.id).result for job in jobs[:3]] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_the_context_decorator_takes_a_job_context_handler_without_warning(
    ctx: HarmonyContext,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)

        @ctx.jobs.handler("ctx.job", retry=RetryPolicy(max_attempts=2, wait=Fixed(0)))
        def handle(job: JobContext) -> None:
            _write(job.session, job.job.id)

        job = ctx.jobs.enqueue("ctx.job")
        assert Worker(ctx).run_until_idle().completed == 1
    assert written_ids(ctx) == [job.id]


def test_a_failed_try_rolls_back_the_writes_and_the_jobs_it_enqueued(ctx: HarmonyContext) -> None:
    attempts: list[int] = []

    def fails_first(job: JobContext) -> None:
        attempts.append(job.attempt)
        _write(job.session, job.job.id)
        job.enqueue("child.job", {"from": job.job.id})
        if job.attempt == 1:
            raise RuntimeError("first try fails")

    worker = Worker(ctx, retry=RetryPolicy(max_attempts=2, wait=Fixed(0)))
    worker.register("parent.job", fails_first)
    parent = ctx.jobs.enqueue("parent.job")
    worker.run_until_idle()
    assert attempts == [1, 2]
    assert ctx.jobs.get(parent.id).status == "completed"
    assert written_ids(ctx) == [parent.id]
    children = ctx.jobs.list(type="child.job").items
    assert [child.payload for child in children] == [{"from": parent.id}]  # the second try's only


def test_a_job_context_handler_may_not_commit_its_session(ctx: HarmonyContext) -> None:
    def commits(job: JobContext) -> None:
        _write(job.session, job.job.id)
        job.session.commit()

    worker = Worker(ctx, {"commit.job": commits}, retry=RetryPolicy(max_attempts=1))
    job = ctx.jobs.enqueue("commit.job")
    assert worker.run_until_idle().dead_lettered == 1
    stored = ctx.jobs.get(job.id)
    assert stored.status == "failed"
    assert "must not call session.commit()" in (stored.last_error or "")
    assert written_ids(ctx) == []


class _CallableHandler:
    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self, job: JobContext) -> None:
        self.ids.append(job.job.id)

    def method(self, job: JobContext) -> None:
        self.ids.append(-job.job.id)


def _two_args_with_default(job: JobContext, extra: int = 0) -> None:
    return None


def _annotated_two(job: JobContext, tag: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("make", "legacy"),
    [
        (lambda: _CallableHandler(), False),
        (lambda: _CallableHandler().method, False),
        (lambda: functools.partial(lambda prefix, job: None, "p"), False),
        (lambda: _two_args_with_default, False),
        (lambda: lambda job, session: None, True),
        (lambda: functools.partial(lambda prefix, job, session: None, "p"), True),
    ],
    ids=[
        "callable-object",
        "bound-method",
        "partial-one-left",
        "default-second",
        "lambda-two",
        "partial-two-left",
    ],
)
def test_a_handler_form_is_recognised_by_its_positional_parameters(make: Any, legacy: bool) -> None:
    from harmony._services.handlers import HandlerRegistry

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HandlerRegistry().register("some.job", make())
    assert any(issubclass(w.category, DeprecationWarning) for w in caught) is legacy


def test_a_handler_taking_three_arguments_is_called_with_a_job_context_and_fails_its_try(
    ctx: HarmonyContext,
) -> None:
    def three(job: Any, session: Any, more: Any) -> None:
        return None

    worker = Worker(ctx, {"three.job": three}, retry=RetryPolicy(max_attempts=1))
    job = ctx.jobs.enqueue("three.job")
    assert worker.run_until_idle().dead_lettered == 1
    assert "TypeError" in (ctx.jobs.get(job.id).last_error or "")


def test_wait_descriptions_give_the_delays_they_describe() -> None:
    assert [RetryPolicy(wait=Fixed(30)).delay(n) for n in (1, 2, 5)] == [30.0, 30.0, 30.0]
    no_jitter = RetryPolicy(wait=Exponential(initial=2, maximum=60, multiplier=3, jitter=0))
    assert [no_jitter.delay(n) for n in (1, 2, 3, 4, 5)] == [2.0, 6.0, 18.0, 54.0, 60.0]
    jittered = RetryPolicy(wait=Exponential(initial=1, maximum=300, jitter=1))
    delays = [jittered.delay(3) for _ in range(50)]
    assert all(4.0 <= d <= 5.0 for d in delays) and len(set(delays)) > 1
    assert RetryPolicy().wait == Exponential()  # about 1 s, 2 s, 4 s ... up to 5 min


def test_a_tenacity_wait_still_works_and_warns_once_when_the_policy_is_built() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = RetryPolicy(max_attempts=3, wait=wait_fixed(7))
        delays = [policy.delay(n) for n in (1, 2)]
    assert delays == [7.0, 7.0]
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "harmony.Fixed" in str(caught[0].message)
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: Fixed(-1), "Fixed(seconds)"),
        (lambda: Fixed(math.nan), "Fixed(seconds)"),
        (lambda: Fixed("5"), "Fixed(seconds)"),
        (lambda: Fixed(True), "Fixed(seconds)"),
        (lambda: Exponential(initial=10, maximum=5), "maximum=5"),
        (lambda: Exponential(multiplier=0.5), "Exponential(multiplier)"),
        (lambda: Exponential(jitter=math.inf), "Exponential(jitter)"),
        (lambda: RetryPolicy(wait="5"), "RetryPolicy(wait=)"),
        (lambda: RetryPolicy(give_up_on=ValueError), "give_up_on"),
        (lambda: RetryPolicy(max_attempts=0), "max_attempts"),
    ],
)
def test_bad_wait_descriptions_are_refused_naming_the_value(build: Any, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_a_retried_job_waits_as_its_policy_describes(
    harmony_settings: HarmonySettings,
) -> None:
    from harmony.testing import ManualClock

    clock = ManualClock()
    with HarmonyContext(harmony_settings, clock=clock) as context:
        context.migrate()

        def flaky(job: JobContext) -> None:
            raise RuntimeError("not yet")

        worker = Worker(
            context, {"flaky.job": flaky}, retry=RetryPolicy(max_attempts=3, wait=Fixed(45))
        )
        job = context.jobs.enqueue("flaky.job")
        before = clock.now()
        worker.run_until_idle()
        stored = context.jobs.get(job.id)
        assert (stored.status, stored.attempts) == ("pending", 1)
        assert (stored.available_at - before).total_seconds() == pytest.approx(45, abs=1)
