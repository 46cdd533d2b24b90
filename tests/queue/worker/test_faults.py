"""Faults in one job, in an event sink or in the database's idea of a storable value
never change another job's outcome (in-process workers; workers killed outright are in
tests/queue/test_process_faults.py)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from harmony import Fixed, HarmonyContext, JobContext, RetryPolicy, SystemClock, Worker
from harmony.testing.pytest_plugin import ContextFactory
from tests.events.test_guard import RaisingEventLogger
from tests.queue.worker.support import create_writes_table, record_write, written_ids

RETRY = RetryPolicy(max_attempts=2, wait=Fixed(0))


def _outcomes(ctx: HarmonyContext, ids: list[int]) -> list[tuple[str, int, str | None]]:
    return [
        (job.status, job.attempts, job.last_error)
        for job in (ctx.jobs.get(job_id) for job_id in ids)
    ]


def _run_mixed_batch(ctx: HarmonyContext) -> tuple[list[int], Any]:
    create_writes_table(ctx)
    ids = [ctx.jobs.enqueue("ok", {"n": n}).id for n in range(3)]
    ids.append(ctx.jobs.enqueue("bad", {}).id)
    ids += [ctx.jobs.enqueue("ok", {"n": n}).id for n in range(3, 6)]

    def bad(job: JobContext) -> None:
        raise ValueError("bad job")

    worker = Worker(ctx, {"ok": record_write, "bad": bad}, retry=RETRY, batch_size=50)
    return ids, worker.run_until_idle()


def test_an_event_logger_raising_on_every_call_changes_no_job_outcome(
    harmony_context_factory: ContextFactory,
) -> None:
    recorded = harmony_context_factory(settings={"activity_events": ()})
    ids, report = _run_mixed_batch(recorded)
    expected = _outcomes(recorded, ids)

    failing = harmony_context_factory(events=RaisingEventLogger(), settings={"activity_events": ()})
    failing_ids, failing_report = _run_mixed_batch(failing)

    assert _outcomes(failing, failing_ids) == expected
    assert (
        expected
        == [("completed", 1, None)] * 3
        + [("failed", 2, "ValueError: bad job")]
        + [("completed", 1, None)] * 3
    )
    assert (
        (failing_report.completed, failing_report.retried, failing_report.dead_lettered)
        == (
            report.completed,
            report.retried,
            report.dead_lettered,
        )
        == (6, 1, 1)
    )
    assert written_ids(failing) == [i for i in failing_ids if i != failing_ids[3]]
    assert failing.events.failures > 0


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


@pytest.mark.parametrize(
    ("error", "stored"),
    [
        (ValueError("file caf\udce9.mp3 is broken"), "ValueError: file caf\\udce9.mp3 is broken"),
        (ValueError("nul \x00 inside"), "ValueError: nul \\x00 inside"),
        (_Unprintable(), "_Unprintable: <str() of the error raised RuntimeError>"),
        (
            ValueError("x" * 20_000),
            "ValueError: " + "x" * (8_000 - len("ValueError: ") - 1) + "\u2026",
        ),
    ],
    ids=["lone-surrogate", "nul", "unprintable", "huge"],
)
def test_an_unstorable_error_text_fails_only_its_job_and_keeps_a_readable_error(
    ctx: HarmonyContext, error: Exception, stored: str
) -> None:
    def bad(job: JobContext) -> None:
        raise error

    ok = [ctx.jobs.enqueue("ok", {"n": n}).id for n in range(2)]
    broken = ctx.jobs.enqueue("bad", {}, priority=1).id  # first in the batch
    ok += [ctx.jobs.enqueue("ok", {"n": n}).id for n in range(2, 4)]

    worker = Worker(ctx, {"ok": record_write, "bad": bad}, retry=RetryPolicy(max_attempts=1))
    report = worker.run_until_idle()

    assert (report.completed, report.dead_lettered, report.lost) == (4, 1, 0)
    job = ctx.jobs.get(broken)
    assert (job.status, job.attempts, job.last_error) == ("failed", 1, stored)
    assert written_ids(ctx) == ok


def test_fail_stores_any_error_and_stop_reason_it_is_given(ctx: HarmonyContext) -> None:
    job = ctx.jobs.enqueue("t", {})
    [leased] = ctx.jobs.lease("t")
    ctx.jobs.fail(leased, "bad \udcff text \x00", stop_reason="why \x00" + "y" * 300)
    stored = ctx.jobs.get(job.id)
    assert stored.last_error == "bad \\udcff text \\x00"
    assert stored.stop_reason is not None and len(stored.stop_reason) == 255
    assert stored.stop_reason.startswith("why \\x00y")


def test_long_handlers_holding_the_write_lock_past_their_lease_run_once_each(
    harmony_context_factory: ContextFactory,
) -> None:
    """On SQLite a handler that wrote holds the database write lock until its job commits;
    here each holds it for 0.6 s, past the 0.3 s lease, so no heartbeat of either worker can
    get through meanwhile. Every job must still be started once: a long transaction gives
    the time it held the lock back to every live lease when it commits. (The total time
    the lock is held stays under SQLite's busy timeout: a writer kept out longer fails.)"""
    ctx = harmony_context_factory(
        clock=SystemClock(),
        settings={
            "activity_events": (),
            "scheduler_poll_interval": 0.01,
            "scheduler_max_poll_interval": 0.05,
        },
    )
    create_writes_table(ctx)
    starts: list[int] = []
    lock = threading.Lock()

    def slow_writer(job: JobContext) -> None:
        with lock:
            starts.append(job.job.id)
        record_write(job)
        job.session.flush()  # the write lock is taken here (SQLite) ...
        time.sleep(0.6)  # ... and held past the lease

    ids = [ctx.jobs.enqueue("slow", {"n": n}).id for n in range(6)]
    workers = [
        Worker(
            ctx,
            {"slow": slow_writer},
            batch_size=2,
            lease_seconds=0.3,
            worker_id=f"w{n}",
            retry=RetryPolicy(max_attempts=1),
        )
        for n in range(2)
    ]
    threads = [threading.Thread(target=worker.run_until_idle) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(starts) == ids  # each handler started once
    totals = [(w.report.completed, w.report.dead_lettered, w.report.lost) for w in workers]
    assert tuple(map(sum, zip(*totals, strict=True))) == (6, 0, 0)
    assert [(j.status, j.attempts) for j in map(ctx.jobs.get, ids)] == [("completed", 1)] * 6
    assert written_ids(ctx) == ids


def test_closing_the_context_stops_its_started_worker(
    harmony_context_factory: ContextFactory, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = harmony_context_factory(
        clock=SystemClock(),
        settings={
            "activity_events": (),
            "scheduler_poll_interval": 60.0,
            "scheduler_max_poll_interval": 60.0,
        },
    )
    # Idle, the worker waits a minute between polls: only the close can end it sooner.
    worker = Worker(ctx, {"t": lambda job: None}).start()
    [thread] = worker._threads
    ctx.jobs.enqueue("t", {})
    worker.wake()
    deadline = time.monotonic() + 30
    while ctx.jobs.stats().total("completed") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    caplog.set_level(logging.WARNING, logger="harmony")

    ctx.close()
    thread.join(20)

    assert not thread.is_alive()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("harmony")] == []


def test_a_result_the_database_cannot_store_fails_only_its_job(ctx: HarmonyContext) -> None:
    def bad_result(job: JobContext) -> dict[str, str]:
        return {"file": "caf\udce9.mp3"}

    ok = [ctx.jobs.enqueue("ok", {"n": n}).id for n in range(3)]
    broken = ctx.jobs.enqueue("bad", {}, priority=1).id
    report = Worker(
        ctx, {"ok": record_write, "bad": bad_result}, retry=RetryPolicy(max_attempts=1)
    ).run_until_idle()

    assert (report.completed, report.dead_lettered, report.lost) == (3, 1, 0)
    job = ctx.jobs.get(broken)
    assert (job.status, job.result) == ("failed", None)
    assert job.last_error is not None and job.last_error.startswith(
        "InvalidInputError: result contains a lone surrogate"
    )
    assert written_ids(ctx) == ok


def test_a_job_whose_connection_the_server_drops_is_retried_and_every_write_happens_once(
    ctx: HarmonyContext, harmony_backend: str
) -> None:
    # A restart, a fail-over or an idle-connection killer in the middle of a job: that
    # job's write rolls back and it is retried, the rest of its batch completes on a new
    # connection, and every write happens exactly once (the table's primary key would
    # refuse a second one).
    if harmony_backend != "postgresql":
        pytest.skip("connections the server drops are PostgreSQL's")
    ids = [ctx.jobs.enqueue("w", {"n": n}).id for n in range(5)]
    dropped: list[int] = []

    def write_then_drop_once(job: JobContext) -> None:
        record_write(job)
        if not dropped:
            pid = job.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with ctx.db.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            dropped.append(job.job.id)

    worker = Worker(ctx, {"w": write_then_drop_once}, batch_size=10, retry=RETRY)
    report = worker.run_until_idle()  # RETRY waits 0 s: the retry runs in this call
    assert dropped == ids[:1]
    assert (report.completed, report.retried, report.lost) == (5, 1, 0)
    assert written_ids(ctx) == ids  # once each: the dropped try's write rolled back
    assert [(j.status, j.attempts) for j in map(ctx.jobs.get, ids)] == [("completed", 2)] + [
        ("completed", 1)
    ] * 4
