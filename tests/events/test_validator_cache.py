"""EventValidator remembers names, never values: the second event is checked as strictly."""

from __future__ import annotations

import pytest

from harmony import (
    EventValidationError,
    LoggingEventLogger,
    RecordingEventLogger,
    SafeEventLogger,
)
from harmony._events import EventLogger

LEASE = {
    "entity_id": 1,
    "job_type": "a.b",
    "status": "leased",
    "priority": 0,
    "lease_timeout": 30.0,
    "duration_ms": 0.5,
}


@pytest.mark.parametrize(
    "logger", [SafeEventLogger(RecordingEventLogger()), SafeEventLogger(LoggingEventLogger())]
)
@pytest.mark.parametrize(
    "bad",
    [
        {"priority": [1, 2]},
        {"duration_ms": float("nan")},
        {"meta": {"x": object()}},
        {"entity_id": None, "extra_field": {"nested": 1}},
    ],
)
def test_a_seen_event_with_a_bad_value_is_still_refused(
    logger: EventLogger, bad: dict[str, object]
) -> None:
    logger.emit("orchestrator.lease", **LEASE)
    with pytest.raises(EventValidationError):
        logger.emit("orchestrator.lease", **{**LEASE, **bad})


def test_a_seen_event_missing_a_required_field_is_still_refused() -> None:
    logger = SafeEventLogger(RecordingEventLogger())
    logger.emit("orchestrator.lease", **LEASE)
    partial = {k: v for k, v in LEASE.items() if k != "lease_timeout"}
    with pytest.raises(EventValidationError, match="lease_timeout"):
        logger.emit("orchestrator.lease", **partial)


def test_a_new_field_name_on_a_seen_event_is_checked() -> None:
    recording = RecordingEventLogger()
    logger = SafeEventLogger(recording)
    logger.emit("orchestrator.lease", **LEASE)
    with pytest.raises(EventValidationError, match="Bad"):
        logger.emit("orchestrator.lease", **LEASE, Bad="not a lowercase identifier")
    assert len(recording) == 1
