"""Helpers shared by the worker tests: a table handlers write to, and bounded waits.

The fixtures (``harmony_settings``, ``ctx``) are in ``conftest.py``."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text

from harmony import HarmonyContext, JobContext
from harmony._events.loggers import RecordedEvent, RecordingEventLogger
from harmony._repositories.job_types import Job

#: Generous upper bound for waits on other threads; tests never assert on durations.
WAIT_SECONDS = 30.0


def create_writes_table(ctx: HarmonyContext) -> None:
    """A table handlers insert their job id into; the primary key refuses a second insert."""
    with ctx.db.write() as conn:
        conn.execute(text("CREATE TABLE worker_writes (job_id BIGINT PRIMARY KEY)"))


def record_write(job: JobContext) -> None:
    """A handler whose only work is a database write through the session it was given."""
    job.session.execute(
        text("INSERT INTO worker_writes (job_id) VALUES (:job_id)"), {"job_id": job.job.id}
    )


def written_ids(ctx: HarmonyContext) -> list[int]:
    """Job ids whose handler write was committed, ascending."""
    with ctx.db.connect() as conn:
        return sorted(conn.execute(text("SELECT job_id FROM worker_writes")).scalars())


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.01)


def wait_for_status(ctx: HarmonyContext, job_id: int, status: str) -> Job:
    """Poll ``ctx.jobs.get(job_id)`` until the job has ``status``; return it."""
    wait_until(lambda: ctx.jobs.get(job_id).status == status, f"job {job_id} to be {status}")
    return ctx.jobs.get(job_id)


def events_for(events: RecordingEventLogger, name: str, job_id: int) -> list[RecordedEvent]:
    """Recorded ``name`` events about ``job_id``, in order."""
    return [event for event in events.named(name) if event.fields.get("entity_id") == job_id]
