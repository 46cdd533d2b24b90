"""ctx.system: psutil precedence, failures, and the health report on both backends."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harmony import DiagnosticsUnavailable, HarmonyContext, HarmonySettings
from harmony.testing import FakePsutil


def test_an_argument_wins_over_the_context_which_wins_over_the_module(
    harmony_settings: HarmonySettings,
) -> None:
    injected, argument = FakePsutil(cores=8), FakePsutil(cores=64)
    with HarmonyContext(harmony_settings, psutil=injected) as ctx:
        assert ctx.system.stats(psutil=argument).cpu.logical_cores == 64
        assert ctx.system.stats().cpu.logical_cores == 8
    with HarmonyContext(harmony_settings) as plain:
        stats = plain.system.stats()
    assert stats.cpu.logical_cores == os.cpu_count()  # the real psutil module
    assert stats.process.pid == os.getpid() and stats.process.rss > 0


def test_stats_carry_every_figure(harmony_settings: HarmonySettings) -> None:
    fake = FakePsutil(cpu=40.0, memory_total=1000, memory_used=250)
    settings = harmony_settings.model_copy(update={"diagnostics_disk_path": "/srv/music"})
    with HarmonyContext(settings, psutil=fake) as ctx:
        stats = ctx.system.stats()
    assert (stats.cpu.percent, stats.cpu.user, stats.cpu.system) == (40.0, 32.0, 8.0)
    assert (stats.memory.used, stats.memory.free, stats.memory.percent) == (250, 750, 25.0)
    assert stats.disk.path == "/srv/music" and fake.disk_paths == ["/srv/music"]
    assert (stats.network.bytes_recv, stats.network.packets_sent) == (2000, 10)
    assert (stats.process.rss, stats.process.threads) == (fake.rss, 3)
    assert stats.collected_at.tzinfo is not None


def test_a_failing_psutil_raises_diagnostics_unavailable_with_the_cause(
    harmony_settings: HarmonySettings,
) -> None:
    with HarmonyContext(
        harmony_settings, psutil=FakePsutil(fail=PermissionError("no /proc"))
    ) as ctx:
        with pytest.raises(DiagnosticsUnavailable, match="PermissionError: no /proc") as info:
            ctx.system.stats()
    assert isinstance(info.value.__cause__, PermissionError)


def test_missing_psutil_raises_diagnostics_unavailable() -> None:
    script = (
        "import sys; sys.modules['psutil'] = None\n"  # as if psutil were not installed
        "from harmony import HarmonyContext, DiagnosticsUnavailable\n"
        "with HarmonyContext.from_url('sqlite://') as ctx:\n"
        "    try:\n"
        "        ctx.system.stats()\n"
        "    except DiagnosticsUnavailable as exc:\n"
        "        print('unavailable:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("unavailable: system statistics need psutil")


def test_health_is_not_ready_until_migrated(harmony_settings: HarmonySettings) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        before = ctx.system.health()
        assert before.parts["database"].status == "up"
        assert before.parts["migrations"].status == "down" and not before.ready
        ctx.migrate()
        after = ctx.system.health()
    assert after.ready
    assert after.parts["queue"].data == {"pending": 0, "oldest_ready_age_seconds": None}
    assert after.parts["sync"].data == {"last_sync": {}}


def test_health_reports_queue_depth_and_last_sync_per_provider(
    harmony_context: HarmonyContext,
) -> None:
    harmony_context.jobs.enqueue_many([{"type": "a.job"} for _ in range(3)])
    harmony_context.activity.record("sync.run", "ok", {"provider": "spotify"})
    report = harmony_context.system.health()
    assert report.parts["queue"].data["pending"] == 3
    assert set(report.parts["sync"].data["last_sync"]) == {"spotify"}


def test_health_of_an_unreachable_database_is_down_and_not_ready() -> None:
    settings = HarmonySettings(
        database_url="postgresql://user:hunter2@127.0.0.1:9/db", connect_timeout=2
    )
    with HarmonyContext(settings) as ctx:
        report = ctx.system.health(timeout=1)
    assert not report.ready
    assert report.parts["database"].status == "down"
    assert report.parts["migrations"].detail == "database unreachable"
    assert "hunter2" not in report.model_dump_json()
