"""``wants``: hot paths skip per-job events no logger would receive."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from harmony import (
    ActivityEventLogger,
    FanOutEventLogger,
    HarmonyContext,
    HarmonySettings,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
    SafeEventLogger,
    Worker,
)
from harmony._events import EventLogger


def test_logging_logger_wants_what_its_level_lets_through(caplog: pytest.LogCaptureFixture) -> None:
    logger = LoggingEventLogger()
    caplog.set_level(logging.WARNING, logger="harmony.orchestrator.metrics")
    assert not logger.wants("orchestrator.commit", "completed")
    assert logger.wants("orchestrator.commit", "failed")
    caplog.set_level(logging.INFO, logger="harmony.orchestrator.metrics")
    assert logger.wants("orchestrator.commit", "completed")


def test_null_recording_and_composite_loggers() -> None:
    recording = RecordingEventLogger()
    assert not NullEventLogger().wants("a.b")
    assert recording.wants("a.b")
    assert FanOutEventLogger(NullEventLogger(), recording).wants("a.b")
    assert not FanOutEventLogger(NullEventLogger()).wants("a.b")
    activity = ActivityEventLogger(_Sink(), ["sync.*"], inner=NullEventLogger())
    assert activity.wants("sync.run") and not activity.wants("orchestrator.lease")


def test_every_shipped_logger_implements_the_whole_protocol() -> None:
    loggers: list[EventLogger] = [
        LoggingEventLogger(),
        RecordingEventLogger(),
        NullEventLogger(),
        FanOutEventLogger(),
        ActivityEventLogger(_Sink(), ["a.*"]),
        SafeEventLogger(NullEventLogger()),
    ]
    assert all(isinstance(logger, EventLogger) for logger in loggers)


class _EmitOnly:
    """A sink written before wants() joined the protocol."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def emit(self, event: str, /, **fields: Any) -> None:
        self.names.append(event)


def test_a_sink_without_wants_still_receives_everything_with_a_deprecation_warning() -> None:
    old = _EmitOnly()
    with pytest.warns(DeprecationWarning, match=r"_EmitOnly has no wants\(\)"):
        guard = SafeEventLogger(old)
    with pytest.warns(DeprecationWarning):
        fan_out = FanOutEventLogger(NullEventLogger(), old)
    assert guard.wants("orchestrator.commit", "completed")
    assert fan_out.wants("orchestrator.commit", "completed")
    guard.emit("a.b", status="ok")
    assert old.names == ["a.b"]


class _Sink:
    def record(self, type: str, status: str, details: object = None) -> None:
        return None


def test_a_worker_still_reports_every_try_when_no_logger_wants_the_events(
    harmony_settings: HarmonySettings,
) -> None:
    with HarmonyContext(harmony_settings, events=NullEventLogger()) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue_many([{"type": "quiet.job"} for _ in range(30)])
        report = Worker(ctx, {"quiet.job": lambda job: None}).run_until_idle()
        assert report.completed == 30
        assert ctx.jobs.stats().counts == {"quiet.job": {"completed": 30}}


def test_a_worker_emits_per_job_events_once_logging_is_enabled(
    harmony_settings: HarmonySettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="harmony")
    with HarmonyContext(harmony_settings) as ctx:
        ctx.migrate()
        ctx.jobs.enqueue_many([{"type": "loud.job"} for _ in range(3)])
        Worker(ctx, {"loud.job": lambda job: None}).run_until_idle()
    commits = [r for r in caplog.records if r.getMessage() == "orchestrator.commit"]
    assert [r.status for r in commits] == ["completed"] * 3
    assert len([r for r in caplog.records if r.getMessage() == "orchestrator.dispatch"]) == 3
