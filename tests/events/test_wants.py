"""``wants``: hot paths skip per-job events no logger would receive."""

from __future__ import annotations

import logging

import pytest

from harmony import (
    ActivityEventLogger,
    FanOutEventLogger,
    HarmonyContext,
    HarmonySettings,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
    Worker,
)
from harmony.events.base import wants


def test_logging_logger_wants_what_its_level_lets_through(caplog: pytest.LogCaptureFixture) -> None:
    logger = LoggingEventLogger()
    caplog.set_level(logging.WARNING, logger="harmony.orchestrator.metrics")
    assert not wants(logger, "orchestrator.commit", "completed")
    assert wants(logger, "orchestrator.commit", "failed")
    caplog.set_level(logging.INFO, logger="harmony.orchestrator.metrics")
    assert wants(logger, "orchestrator.commit", "completed")


def test_null_recording_and_composite_loggers() -> None:
    recording = RecordingEventLogger()
    assert not wants(NullEventLogger(), "a.b")
    assert wants(recording, "a.b")  # no wants(): receives everything
    assert wants(FanOutEventLogger(NullEventLogger(), recording), "a.b")
    assert not wants(FanOutEventLogger(NullEventLogger()), "a.b")
    activity = ActivityEventLogger(_Sink(), ["sync.*"], inner=NullEventLogger())
    assert wants(activity, "sync.run") and not wants(activity, "orchestrator.lease")


class _Sink:
    def record(self, type: str, status: str, details: object = None) -> None:
        return None


def test_a_worker_still_reports_every_try_when_no_logger_wants_the_events(
    harmony_settings: HarmonySettings,
) -> None:
    with HarmonyContext(harmony_settings, events=NullEventLogger()) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue_many([{"type": "quiet.job"} for _ in range(30)])
        report = Worker(ctx, {"quiet.job": lambda job, session: None}).run_until_idle()
        assert report.completed == 30
        assert ctx.jobs.stats().counts == {"quiet.job": {"completed": 30}}


def test_a_worker_emits_per_job_events_once_logging_is_enabled(
    harmony_settings: HarmonySettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="harmony")
    with HarmonyContext(harmony_settings) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue_many([{"type": "loud.job"} for _ in range(3)])
        Worker(ctx, {"loud.job": lambda job, session: None}).run_until_idle()
    commits = [r for r in caplog.records if r.getMessage() == "orchestrator.commit"]
    assert [getattr(r, "status") for r in commits] == ["completed"] * 3
    assert len([r for r in caplog.records if r.getMessage() == "orchestrator.dispatch"]) == 3
