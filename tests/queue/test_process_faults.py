"""Faults that kill a worker process, under a supervisor that restarts it.

A job whose handler kills its own process (an out-of-memory kill, a segfault in a C
extension) must cost only itself: its batch-mates were leased with it but never started,
so they are not charged, and the crash-loop guard dead-letters the killer alone.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from harmony import HarmonyContext, HarmonySettings, JobSpec
from tests.queue.test_processes import (
    _CREATE_PROCESSED,
    JOB_TYPE,
    _attempts_by_status,
    _processed,
    worker_processes,
)

MAX_ATTEMPTS = 3


@pytest.mark.slow
def test_a_job_that_kills_its_worker_is_the_only_one_dead_lettered_under_a_restarting_supervisor(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    total, killer_at = 30, 4  # the fifth job of the first batch of ten kills its process
    with HarmonyContext(harmony_settings) as ctx, worker_processes(tmp_path) as procs:
        ctx.migrate()
        with ctx.db.write() as conn:
            conn.execute(_CREATE_PROCESSED)
        jobs = ctx.jobs.enqueue_many(
            [JobSpec(JOB_TYPE, {"n": n, "kill": n == killer_at}) for n in range(total)]
        )
        killer = jobs[killer_at].id

        kills = 0
        deadline = time.monotonic() + 180
        while True:  # the supervisor: restart the worker whenever it dies
            proc = procs.start(
                f"supervised-{kills}",
                settings=harmony_settings,
                mode="drain",
                batch_size=10,
                lease_seconds=1,
                max_attempts=MAX_ATTEMPTS,
                deadline=120,
            )
            code = proc.wait(max(1.0, deadline - time.monotonic()))
            if code != -signal.SIGKILL:
                break
            kills += 1
            assert kills <= 2 * MAX_ATTEMPTS, "the crash-loop guard never stopped the killer"
        report = procs.finish(f"supervised-{kills}", timeout=10)

        stored = ctx.jobs.get(killer)
        assert (stored.status, stored.attempts) == ("failed", MAX_ATTEMPTS)
        assert stored.stop_reason is not None
        assert stored.stop_reason.startswith(f"exceeded {MAX_ATTEMPTS} attempts")
        # Its first crash was too quick to be recorded (a try is recorded before a
        # recovered job starts, or once a handler ran 0.1 s); each later one was.
        assert kills == MAX_ATTEMPTS + 1
        assert report["dead_lettered"] == 1
        # Every other job ran exactly once and was charged one try.
        assert _attempts_by_status(ctx) == {
            ("completed", 1): total - 1,
            ("failed", MAX_ATTEMPTS): 1,
        }
        assert sorted(job_id for job_id, _ in _processed(ctx)) == sorted(
            job.id for job in jobs if job.id != killer
        )
