"""Structured events: the :class:`EventLogger` protocol, its implementations and contract."""

from harmony._events.base import EventLogger, FieldValue, validate_event
from harmony._events.guard import SafeEventLogger
from harmony._events.loggers import (
    ActivityEventLogger,
    ActivitySink,
    FanOutEventLogger,
    LoggingEventLogger,
    NullEventLogger,
    RecordedEvent,
    RecordingEventLogger,
)
from harmony._events.registry import EVENTS, EventSpec, logger_name_for

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
