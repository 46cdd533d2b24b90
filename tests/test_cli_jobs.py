"""``harmony jobs``: list, stats, cancel, retry, purge, and their bad-input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harmony import HarmonyContext

HARMONY = [sys.executable, "-m", "harmony"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    return subprocess.run(
        [*HARMONY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def queue_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    with HarmonyContext.from_url(url) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue("report.build", {"n": 1}, priority=3)
        failed = ctx.jobs.enqueue("playlist.sync", {"n": 2})
        (leased,) = ctx.jobs.lease("playlist.sync")
        assert leased.id == failed.id
        ctx.jobs.fail(leased, "provider down")
    return url


def test_jobs_list_and_stats_show_the_queue(queue_db: str, tmp_path: Path) -> None:
    listing = _run("jobs", "list", "--url", queue_db, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert "playlist.sync" in lines[0] and "failed" in lines[0]
    assert "report.build" in lines[1] and "pending" in lines[1] and "priority=3" in lines[1]
    only_failed = _run("jobs", "list", "--status", "failed", "--url", queue_db, cwd=tmp_path)
    assert len(only_failed.stdout.splitlines()) == 1
    stats = _run("jobs", "stats", "--url", queue_db, cwd=tmp_path)
    assert "playlist.sync            failed=1" in stats.stdout
    assert "report.build             pending=1" in stats.stdout


def test_jobs_retry_and_cancel_change_the_job(queue_db: str, tmp_path: Path) -> None:
    retried = _run("jobs", "retry", "2", "--url", queue_db, cwd=tmp_path)
    assert retried.stdout == "job 2 (playlist.sync) is now pending\n"
    cancelled = _run("jobs", "cancel", "1", "--url", queue_db, cwd=tmp_path)
    assert cancelled.stdout == "job 1 (report.build) is now cancelled\n"
    with HarmonyContext.from_url(queue_db) as ctx:
        assert ctx.jobs.get(2).status == "pending" and ctx.jobs.get(2).attempts == 0
        assert ctx.jobs.get(1).status == "cancelled"


def test_jobs_purge_keeps_recent_jobs(queue_db: str, tmp_path: Path) -> None:
    _run("jobs", "cancel", "1", "--url", queue_db, cwd=tmp_path)
    purged = _run("jobs", "purge", "--older-than-days", "1", "--url", queue_db, cwd=tmp_path)
    assert purged.stdout == "purged 0 jobs\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("jobs", "cancel", "99"), "job 99 does not exist"),
        (("jobs", "retry", "1"), "cannot retry job 1: it is pending"),
        (("jobs", "list", "--status", "exploded"), "unknown job status 'exploded'"),
    ],
)
def test_jobs_bad_input_prints_one_line_and_changes_nothing(
    queue_db: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = _run(*args, "--url", queue_db, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("harmony: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    with HarmonyContext.from_url(queue_db) as ctx:
        assert [j.status for j in ctx.jobs.list()] == ["failed", "pending"]


def test_jobs_list_and_stats_speak_json(queue_db: str, tmp_path: Path) -> None:
    listing = _run("jobs", "list", "--json", "--url", queue_db, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    jobs = [json.loads(line) for line in listing.stdout.splitlines()]
    assert {j["type"] for j in jobs} == {"report.build", "playlist.sync"}
    failed = next(j for j in jobs if j["type"] == "playlist.sync")
    assert failed["last_error"] == "provider down" and failed["created_at"].endswith("+00:00")
    stats = _run("jobs", "stats", "--json", "--url", queue_db, cwd=tmp_path)
    assert json.loads(stats.stdout)["total"] == 2


@pytest.mark.parametrize("days", ["-5", "nan", "inf", "1e10"])
def test_jobs_purge_refuses_impossible_ages(queue_db: str, tmp_path: Path, days: str) -> None:
    result = _run("jobs", "purge", "--older-than-days", days, "--url", queue_db, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("harmony: error: --older-than-days must be a number")
