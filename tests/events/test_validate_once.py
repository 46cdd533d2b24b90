"""An event is checked against the contract once, where it is emitted; sinks only receive."""

from __future__ import annotations

from typing import Any

import pytest

import harmony._events.base as events_base
from harmony import (
    ActivityEventLogger,
    FanOutEventLogger,
    HarmonyContext,
    HarmonySettings,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
)
from harmony._events import EventLogger
from harmony.testing import capture_events
from harmony.testing.pytest_plugin import SettingsFactory

COMMIT: dict[str, Any] = {
    "entity_id": 1,
    "job_type": "a.b",
    "status": "completed",
    "attempts": 1,
    "duration_ms": 1.5,
    "retry_in": None,
    "error": None,
}


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The event name of every contract check made from now on (a validator's first full
    check of an event calls validate_event: that is one check, not two)."""
    seen: list[str] = []
    inside: list[bool] = []
    check, validate = events_base.EventValidator.__call__, events_base.validate_event

    def counted_check(self: Any, event: str, fields: Any) -> Any:
        seen.append(event)
        inside.append(True)
        try:
            return check(self, event, fields)
        finally:
            inside.pop()

    def counted_validate(event: str, fields: Any) -> Any:
        if not inside:
            seen.append(event)
        return validate(event, fields)

    monkeypatch.setattr(events_base.EventValidator, "__call__", counted_check)
    monkeypatch.setattr(events_base, "validate_event", counted_validate)
    return seen


@pytest.mark.parametrize(
    "make_logger",
    [
        LoggingEventLogger,
        RecordingEventLogger,
        NullEventLogger,
        lambda: FanOutEventLogger(LoggingEventLogger(), RecordingEventLogger()),
    ],
    ids=["logging", "recording", "null", "fan-out"],
)
def test_the_default_context_checks_each_event_once(
    harmony_settings: HarmonySettings, checks: list[str], make_logger: Any
) -> None:
    logger: EventLogger = make_logger()
    assert harmony_settings.activity_events  # the activity logger sits behind the guard too
    with HarmonyContext(harmony_settings, events=logger) as ctx:
        ctx.migrate()
        checks.clear()
        with capture_events(ctx):
            for _ in range(3):
                ctx.events.emit("orchestrator.commit", **COMMIT)
            ctx.credentials.clear("spotify")  # a persisted event
    assert checks == ["orchestrator.commit"] * 3 + ["credentials.clear"]


def test_sinks_used_on_their_own_check_nothing(
    harmony_settings_factory: SettingsFactory, checks: list[str]
) -> None:
    recording = RecordingEventLogger()
    with HarmonyContext(harmony_settings_factory(), events=NullEventLogger()) as ctx:
        ctx.migrate()
        checks.clear()
        sinks: list[EventLogger] = [
            LoggingEventLogger(),
            recording,
            NullEventLogger(),
            FanOutEventLogger(recording),
            ActivityEventLogger(ctx.activity, ["probe.*"], inner=recording),
        ]
        for sink in sinks:
            sink.emit("probe.event", status="ok")
    assert checks == []
    assert len(recording) == 3
