"""A job enqueued in one process starts at once in an idle worker of another process.

The worker process idles with a 60 s poll back-off; without a wake-up signal the job
would wait up to a minute. With one (PostgreSQL ``NOTIFY`` sent at commit, SQLite
``PRAGMA data_version``) it starts within milliseconds; the bound here is generous
(``docs/benchmarks.md`` has the measured latency).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harmony import HarmonyContext, JobSpec
from harmony.testing.pytest_plugin import SettingsFactory

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).with_name("idle_worker_process.py")
#: Far below the worker's 60 s back-off, far above the measured wake-up latency.
BOUND_SECONDS = 15.0


def _start_worker(settings: object, tmp_path: Path) -> subprocess.Popen[bytes]:
    ready = tmp_path / "ready"
    command = [
        sys.executable,
        str(SCRIPT),
        "--url",
        settings.database_url,  # type: ignore[attr-defined]
        "--ready-file",
        str(ready),
    ]
    if settings.database_schema:  # type: ignore[attr-defined]
        command += ["--schema", settings.database_schema]  # type: ignore[attr-defined]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=(tmp_path / "err").open("wb"))
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, (tmp_path / "err").read_text()
        assert time.monotonic() < deadline, "the worker process did not start"
        time.sleep(0.05)
    return proc


def _wait_completed(ctx: HarmonyContext, job_ids: list[int]) -> bool:
    deadline = time.monotonic() + BOUND_SECONDS
    while time.monotonic() < deadline:
        if all(ctx.jobs.get(job_id).status == "completed" for job_id in job_ids):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("how", ["enqueue", "enqueue_many", "in_host_transaction"])
def test_an_idle_worker_in_another_process_starts_a_new_job_at_once(
    harmony_settings_factory: SettingsFactory, tmp_path: Path, how: str
) -> None:
    settings = harmony_settings_factory(activity_events=())
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        proc = _start_worker(settings, tmp_path)
        try:
            for _ in range(3):  # the worker goes back to its long back-off each time
                if how == "enqueue":
                    ids = [ctx.jobs.enqueue("wake.job", {}).id]
                elif how == "enqueue_many":
                    ids = [job.id for job in ctx.jobs.enqueue_many([JobSpec("wake.job", {})] * 3)]
                else:
                    with ctx.db.transaction() as session:  # sent when the host commits
                        ids = [ctx.jobs.enqueue("wake.job", {}, session=session).id]
                assert _wait_completed(ctx, ids), "the job waited for the worker's back-off"
                time.sleep(0.3)
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
