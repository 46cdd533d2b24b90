"""``harmony jobs``: list, stats, cancel, retry, purge, and their bad-input errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony import HarmonyContext
from tests.cli.support import Run


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


def test_jobs_list_and_stats_show_the_queue(cli: Run, queue_db: str) -> None:
    lines = cli("jobs", "list", "--url", queue_db).ok().out.splitlines()
    assert "playlist.sync" in lines[0] and "failed" in lines[0]
    assert "report.build" in lines[1] and "pending" in lines[1] and "priority=3" in lines[1]
    only_failed = cli("jobs", "list", "--status", "failed", "--url", queue_db).ok()
    assert len(only_failed.out.splitlines()) == 1
    stats = cli("jobs", "stats", "--url", queue_db).ok()
    assert "playlist.sync            failed=1" in stats.out
    assert "report.build             pending=1" in stats.out


def test_jobs_retry_and_cancel_change_the_job(cli: Run, queue_db: str) -> None:
    retried = cli("jobs", "retry", "2", "--url", queue_db).ok()
    assert retried.out == "job 2 (playlist.sync) is now pending\n"
    cancelled = cli("jobs", "cancel", "1", "--url", queue_db).ok()
    assert cancelled.out == "job 1 (report.build) is now cancelled\n"
    with HarmonyContext.from_url(queue_db) as ctx:
        assert ctx.jobs.get(2).status == "pending" and ctx.jobs.get(2).attempts == 0
        assert ctx.jobs.get(1).status == "cancelled"


def test_jobs_purge_keeps_recent_jobs(cli: Run, queue_db: str) -> None:
    cli("jobs", "cancel", "1", "--url", queue_db).ok()
    purged = cli("jobs", "purge", "--older-than-days", "1", "--url", queue_db).ok()
    assert purged.out == "purged 0 jobs\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("jobs", "cancel", "99"), "job 99 does not exist"),
        (("jobs", "retry", "1"), "cannot retry job 1: it is pending"),
        (("jobs", "list", "--status", "exploded"), "unknown job status 'exploded'"),
    ],
)
def test_jobs_bad_input_prints_one_line_and_changes_nothing(
    cli: Run, queue_db: str, args: tuple[str, ...], message: str
) -> None:
    cli(*args, "--url", queue_db).error(message)
    with HarmonyContext.from_url(queue_db) as ctx:
        assert [j.status for j in ctx.jobs.list()] == ["failed", "pending"]


def test_jobs_list_and_stats_speak_json(cli: Run, queue_db: str) -> None:
    jobs = cli("jobs", "list", "--json", "--url", queue_db).ok().json_lines()
    assert {j["type"] for j in jobs} == {"report.build", "playlist.sync"}
    failed = next(j for j in jobs if j["type"] == "playlist.sync")
    assert failed["last_error"] == "provider down" and failed["created_at"].endswith("+00:00")
    assert cli("jobs", "stats", "--json", "--url", queue_db).ok().json()["total"] == 2


@pytest.mark.parametrize("days", ["-5", "nan", "inf", "1e10"])
def test_jobs_purge_refuses_impossible_ages(cli: Run, queue_db: str, days: str) -> None:
    line = cli("jobs", "purge", "--older-than-days", days, "--url", queue_db).error(
        "--older-than-days must be a number"
    )
    assert line.startswith("harmony: error: --older-than-days must be a number")
