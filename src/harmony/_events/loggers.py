"""Event sinks: stdlib logging, recording, fan-out, null, activity.

They receive events that ``ctx.events`` has validated already and check nothing again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any, Protocol

from harmony._events.base import EventLogger, WantsFunction, wants_of
from harmony._events.registry import logger_name_for

__all__ = [
    "ActivityEventLogger",
    "ActivitySink",
    "FanOutEventLogger",
    "LoggingEventLogger",
    "NullEventLogger",
    "RecordedEvent",
    "RecordingEventLogger",
]

_WARNING_STATUSES = frozenset({"failed", "error", "partial", "lost", "dlq"})

# What a field may not be called on a logging.LogRecord: its own attributes (read from a
# real record, so a new Python's additions such as taskName are included), the two that
# formatters add, and the two this logger sets. Such fields are left off the record's
# attributes (``extra`` would raise KeyError or overwrite them) and kept in
# record.harmony_event, which holds every field.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("harmony", logging.INFO, __file__, 0, "", None, None).__dict__
) | {"message", "asctime", "event", "harmony_event"}


class LoggingEventLogger:
    """Sends events to stdlib :mod:`logging`, one logger per event family.

    ``orchestrator.*`` goes to ``harmony.orchestrator.metrics``, ``api.*`` to ``harmony.api``,
    ``worker.*`` to ``harmony.worker`` and any other ``family.*`` to ``harmony.family``. The
    record's message is the event name; the fields travel as ``extra`` (so ``caplog`` and
    JSON formatters see ``record.event``, ``record.status``, ...), and ``record.harmony_event``
    holds the whole event as one dict. A field named like a :class:`logging.LogRecord`
    attribute (``name``, ``msg``, ``created``, ``process``, ...) would clash with it: it is
    not set as an attribute and is found in ``record.harmony_event`` only. Events whose
    ``status`` is failed, error, partial, lost or dlq log at WARNING, the rest at INFO.
    """

    def __init__(
        self,
        *,
        prefix: str = "harmony",
        get_logger: Callable[[str], logging.Logger] = logging.getLogger,
    ) -> None:
        self._prefix = prefix
        self._get_logger = get_logger
        self._loggers: dict[str, logging.Logger] = {}

    def __repr__(self) -> str:
        return f"LoggingEventLogger(prefix={self._prefix!r})"

    def _logger(self, event: str) -> logging.Logger:
        logger = self._loggers.get(event)
        if logger is None:
            logger = self._loggers[event] = self._get_logger(logger_name_for(event, self._prefix))
        return logger

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether an ``event`` with ``status`` would be logged at the current levels."""
        level = logging.WARNING if status in _WARNING_STATUSES else logging.INFO
        return self._logger(event).isEnabledFor(level)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Log one event."""
        logger = self._logger(event)
        level = logging.WARNING if fields.get("status") in _WARNING_STATUSES else logging.INFO
        if not logger.isEnabledFor(level):
            return
        payload = {"event": event, **fields}
        if _RECORD_ATTRIBUTES.isdisjoint(fields):
            extra = dict(payload)
        else:
            extra = {"event": event}
            extra.update((k, v) for k, v in fields.items() if k not in _RECORD_ATTRIBUTES)
        extra["harmony_event"] = payload
        logger.log(level, event, extra=extra)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One event captured by :class:`RecordingEventLogger`."""

    name: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


class RecordingEventLogger:
    """Keeps every event in memory, in order; for tests and notebooks. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[RecordedEvent] = []

    def __repr__(self) -> str:
        return f"RecordingEventLogger(events={len(self)})"

    def emit(self, event: str, /, **fields: Any) -> None:
        """Record one event (its fields as a read-only mapping)."""
        recorded = RecordedEvent(event, MappingProxyType(fields))
        with self._lock:
            self._events.append(recorded)

    def wants(self, event: str, status: str | None = None) -> bool:
        """Always: a recording keeps every event."""
        return True

    @property
    def events(self) -> list[RecordedEvent]:
        """A snapshot of the recorded events."""
        with self._lock:
            return list(self._events)

    def named(self, name: str) -> list[RecordedEvent]:
        """Recorded events called ``name`` (``fnmatch`` patterns such as ``"db.*"`` work)."""
        return [e for e in self.events if fnmatchcase(e.name, name)]

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def __iter__(self) -> Iterator[RecordedEvent]:
        return iter(self.events)


class NullEventLogger:
    """Drops every event."""

    def emit(self, event: str, /, **fields: Any) -> None:
        """Discard one event."""

    def wants(self, event: str, status: str | None = None) -> bool:
        """Never: callers that ask may skip the event."""
        return False

    def __repr__(self) -> str:
        return "NullEventLogger()"


class FanOutEventLogger:
    """Sends each event to several loggers.

    Every logger gets the event even if an earlier one raised; the first error is
    re-raised after all have been called (``ctx.events`` then counts it).
    """

    def __init__(self, *loggers: EventLogger) -> None:
        self.loggers: tuple[EventLogger, ...] = loggers
        self._wants: tuple[WantsFunction, ...] = tuple(wants_of(logger) for logger in loggers)

    def __repr__(self) -> str:
        return f"FanOutEventLogger({', '.join(map(repr, self.loggers))})"

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether any of the loggers wants the event."""
        return any(wants(event, status) for wants in self._wants)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Forward the event to every logger."""
        first_error: Exception | None = None
        for logger in self.loggers:
            try:
                logger.emit(event, **fields)
            except Exception as exc:  # every sink gets the event; report the first failure
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error


class ActivitySink(Protocol):
    """Where :class:`ActivityEventLogger` stores events (``ctx.activity`` in practice)."""

    def record(self, type: str, status: str, details: Mapping[str, Any] | None = None) -> Any:
        """Store one activity entry."""
        ...


class ActivityEventLogger:
    """Persists chosen events into ``activity_events`` and forwards all events to ``inner``.

    ``names`` are event names or ``fnmatch`` patterns (``"sync.*"``). The stored entry has
    ``type`` = event name, ``status`` = the event's ``status`` field (``"ok"`` when absent)
    and ``details`` = the other fields. A chosen event is stored even when ``inner``
    raised (the error is re-raised afterwards). Storing must not break the operation that
    emitted the event: when the database refuses the row, an ``events.persist_failed``
    event goes to ``inner`` instead (to the context's ``ctx.events`` in a context, see
    :meth:`report_failures_to`).
    """

    def __init__(
        self, sink: ActivitySink, names: Iterable[str], *, inner: EventLogger | None = None
    ) -> None:
        self._sink = sink
        self._patterns = tuple(names)
        self._inner: EventLogger = inner if inner is not None else NullEventLogger()
        self._inner_wants = wants_of(self._inner)
        self._report: EventLogger = self._inner
        self._persisted: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"ActivityEventLogger(names={self._patterns!r}, inner={self._inner!r})"

    @property
    def inner(self) -> EventLogger:
        """The logger every event is forwarded to."""
        return self._inner

    def report_failures_to(self, events: EventLogger) -> None:
        """Emit ``events.persist_failed`` through ``events`` rather than straight to
        ``inner``: a context passes its ``ctx.events``, so the report is validated and
        reaches teed sinks (:func:`harmony.testing.capture_events`) like any event."""
        self._report = events

    def persists(self, event: str) -> bool:
        """Whether ``event`` is stored in ``activity_events``."""
        chosen = self._persisted.get(event)
        if chosen is None:
            chosen = self._persisted[event] = any(
                fnmatchcase(event, pattern) for pattern in self._patterns
            )
        return chosen

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether the event is stored or the inner logger wants it."""
        return self.persists(event) or self._inner_wants(event, status)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Forward to ``inner`` and, for chosen names, store."""
        if not self.persists(event):
            self._inner.emit(event, **fields)
            return
        try:
            self._inner.emit(event, **fields)
        finally:  # ctx.activity and ctx.system.health() read the row: a failing log must not lose it
            self._store(event, fields)

    def _store(self, event: str, fields: Mapping[str, Any]) -> None:
        details = {k: v for k, v in fields.items() if k != "status"}
        status = fields.get("status")
        try:
            self._sink.record(event, str(status) if status is not None else "ok", details)
        except Exception as exc:  # reported, not raised: the emitting operation succeeded
            if event == "events.persist_failed":
                return  # storing the report failed too: it reached inner, go no further
            self._report.emit(
                "events.persist_failed",
                failed_event=event,
                status="failed",
                error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            )
