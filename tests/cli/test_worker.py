"""``harmony worker``: runs queued playlist.sync jobs for the remembered sources; and
``harmony jobs list`` showing when a job runs next and why it failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harmony import HarmonyContext, HarmonySettings
from tests.cli.support import Run


def _enqueue(settings: HarmonySettings, *payloads: dict[str, str]) -> list[int]:
    with HarmonyContext(settings) as ctx:
        return [ctx.jobs.enqueue("playlist.sync", payload).id for payload in payloads]


def test_worker_until_idle_runs_sync_jobs_and_reports(
    harmony_cli: Run,
    harmony_settings: HarmonySettings,
    exports: Path,
) -> None:
    harmony_cli("import", str(exports), "--name", "mine").ok()
    (exports / "Road_Trip.csv").unlink()
    ok, unknown = _enqueue(harmony_settings, {"provider": "mine"}, {"provider": "gone"})
    report = harmony_cli("worker", "--until-idle", "--json").ok().json()
    assert report == {
        "completed": 1,
        "retried": 0,
        "dead_lettered": 1,
        "lost": 0,
        "released": 0,
        "waiting_retry": 0,
    }
    with HarmonyContext(harmony_settings) as ctx:
        assert ctx.jobs.get(ok).result["removed"] == 1
        assert "no provider named 'gone'" in (ctx.jobs.get(unknown).last_error or "")
    out = harmony_cli("worker", "--until-idle").ok().out
    assert out.strip() == (
        "completed 0, retried 0, dead-lettered 0, lost 0, released 0; 0 waiting for a retry"
    )


def test_a_source_imported_while_the_worker_runs_is_synced(
    harmony_cli: Run,
    harmony_settings: HarmonySettings,
    exports: Path,
) -> None:
    harmony_cli("migrate", "upgrade").ok()
    _enqueue(harmony_settings, {"provider": "late"})
    # The worker reads the sources per job: import first, then the queued job finds it.
    harmony_cli("import", str(exports), "--name", "late").ok()
    assert harmony_cli("worker", "--until-idle", "--json").ok().json()["completed"] == 1


def test_a_failing_sync_waits_for_its_retry_and_jobs_list_says_when_and_why(
    harmony_cli: Run,
    harmony_settings: HarmonySettings,
    exports: Path,
) -> None:
    harmony_cli("import", str(exports), "--name", "mine").ok()
    for path in exports.iterdir():
        path.unlink()
    exports.rmdir()  # the source is gone: its sync fails, and is retried later
    (job,) = _enqueue(harmony_settings, {"provider": "mine"})
    report = harmony_cli("worker", "--until-idle", "--json").ok().json()
    assert (report["retried"], report["waiting_retry"]) == (1, 1)
    line = harmony_cli("jobs", "list").ok().out.splitlines()[0]
    assert line.split()[:3] == [str(job), "playlist.sync", "pending"]
    assert "available 20" in line and "last error: SyncFailed: sync failed for mine" in line
    (row,) = harmony_cli("jobs", "list", "--json").ok().json_lines()
    assert row["last_error"].startswith("SyncFailed") and row["available_at"].startswith("20")


def test_the_worker_command_runs_until_sigterm(cli: Run, tmp_path: Path, exports: Path) -> None:
    """Smoke test of the console script: a long-running worker stops cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env.update(
        HARMONY_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
        HARMONY_SCHEDULER_POLL_INTERVAL="0.1",
        HARMONY_SCHEDULER_MAX_POLL_INTERVAL="0.2",
    )
    harmony = [sys.executable, "-m", "harmony"]
    cli("import", str(exports), "--name", "mine", "--url", env["HARMONY_DATABASE_URL"]).ok()
    settings = HarmonySettings(database_url=env["HARMONY_DATABASE_URL"])
    (job,) = _enqueue(settings, {"provider": "mine"})
    worker = subprocess.Popen(
        [*harmony, "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        with HarmonyContext(settings) as ctx:
            while ctx.jobs.get(job).status != "completed":
                assert worker.poll() is None and time.monotonic() < deadline, worker.stderr
                time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert "running playlist.sync jobs" in err and "Traceback" not in err
    assert out.startswith("completed 1, retried 0")
