"""Event logger implementations: stdlib logging, recording, fan-out, null, activity."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

from harmony.events.base import EventLogger, EventValidator, wants
from harmony.events.registry import logger_name_for

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


class LoggingEventLogger:
    """Sends events to stdlib :mod:`logging`, one logger per event family.

    ``orchestrator.*`` goes to ``harmony.orchestrator.metrics``, ``api.*`` to ``harmony.api``,
    ``worker.*`` to ``harmony.worker`` and any other ``family.*`` to ``harmony.family``. The
    record's message is the event name; the fields travel as ``extra`` (so ``caplog`` and
    JSON formatters see ``record.event``, ``record.status``, ...), and ``record.harmony_event``
    holds the whole event as one dict. Events whose ``status`` is failed, error, partial,
    lost or dlq log at WARNING, the rest at INFO.
    """

    def __init__(
        self,
        *,
        prefix: str = "harmony",
        get_logger: Callable[[str], logging.Logger] = logging.getLogger,
    ) -> None:
        self._prefix = prefix
        self._get_logger = get_logger
        self._validate = EventValidator()
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
        """Validate and log one event."""
        checked = self._validate(event, fields)
        logger = self._logger(event)
        level = logging.WARNING if checked.get("status") in _WARNING_STATUSES else logging.INFO
        if not logger.isEnabledFor(level):
            return
        payload = {"event": event, **checked}
        extra = dict(payload)
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
        self._validate = EventValidator()

    def __repr__(self) -> str:
        return f"RecordingEventLogger(events={len(self)})"

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate and record one event."""
        checked = self._validate(event, fields)
        with self._lock:
            self._events.append(RecordedEvent(event, checked))

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
    """Validates events and drops them."""

    def __init__(self) -> None:
        self._validate = EventValidator()

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate one event and discard it."""
        self._validate(event, fields)

    def wants(self, event: str, status: str | None = None) -> bool:
        """Never: callers that ask may skip the event."""
        return False

    def __repr__(self) -> str:
        return "NullEventLogger()"


class FanOutEventLogger:
    """Sends each event to several loggers.

    The event is validated once up front, so a bad event reaches none of them. Every
    logger gets the event even if an earlier one raised; the first error is re-raised
    after all have been called.
    """

    def __init__(self, *loggers: EventLogger) -> None:
        self.loggers: tuple[EventLogger, ...] = loggers
        self._validate = EventValidator()

    def __repr__(self) -> str:
        return f"FanOutEventLogger({', '.join(map(repr, self.loggers))})"

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether any of the loggers wants the event."""
        return any(wants(logger, event, status) for logger in self.loggers)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate once and forward to every logger."""
        self._validate(event, fields)
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
    and ``details`` = the other fields. Storing must not break the operation that emitted
    the event: when the database refuses the row, an ``events.persist_failed`` event goes
    to ``inner`` instead.
    """

    def __init__(
        self, sink: ActivitySink, names: Iterable[str], *, inner: EventLogger | None = None
    ) -> None:
        self._sink = sink
        self._patterns = tuple(names)
        self._inner: EventLogger = inner if inner is not None else NullEventLogger()
        self._validate = EventValidator()
        self._persisted: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"ActivityEventLogger(names={self._patterns!r}, inner={self._inner!r})"

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
        return self.persists(event) or wants(self._inner, event, status)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate, forward to ``inner`` and, for chosen names, store."""
        checked = self._validate(event, fields)
        self._inner.emit(event, **fields)
        if not self.persists(event):
            return
        details = {k: v for k, v in checked.items() if k != "status"}
        status = checked.get("status")
        try:
            self._sink.record(event, str(status) if status is not None else "ok", details)
        except Exception as exc:  # reported, not raised: the emitting operation succeeded
            self._inner.emit(
                "events.persist_failed",
                failed_event=event,
                status="failed",
                error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            )
