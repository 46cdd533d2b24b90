"""Structured events: the :class:`EventLogger` protocol, its implementations and contract."""

from harmony.events.base import EventLogger, FieldValue, validate_event
from harmony.events.guard import SafeEventLogger
from harmony.events.loggers import (
    ActivityEventLogger,
    ActivitySink,
    FanOutEventLogger,
    LoggingEventLogger,
    NullEventLogger,
    RecordedEvent,
    RecordingEventLogger,
)
from harmony.events.registry import EVENTS, EventSpec, logger_name_for

__all__ = [
    "EVENTS",
    "ActivityEventLogger",
    "ActivitySink",
    "EventLogger",
    "EventSpec",
    "FanOutEventLogger",
    "FieldValue",
    "LoggingEventLogger",
    "NullEventLogger",
    "RecordedEvent",
    "RecordingEventLogger",
    "SafeEventLogger",
    "logger_name_for",
    "validate_event",
]
