"""Fail-safe event emission: a sink that raises never changes what harmony was doing."""

from __future__ import annotations

import logging
import threading
from typing import Any

from harmony.events.base import EventLogger, EventValidator, wants

__all__ = ["SafeEventLogger", "record_failure"]

_log = logging.getLogger("harmony.events")


class _Failures:
    """Failure count and the names already reported, shared by guards of one context."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.reported: set[str] = set()


class SafeEventLogger:
    """Wraps an :class:`~harmony.events.EventLogger` so that emitting never raises
    because of the sink.

    A :class:`~harmony.HarmonyContext` puts one around its event logger (``ctx.events``):
    a metrics backend that is down, a handler that raises, a full disk under a log file,
    none of them changes a job's outcome, a sync or a migration. The event is validated
    first (a malformed event still raises
    :class:`~harmony.errors.EventValidationError`: that is a bug in the caller); then the
    wrapped logger's failure is counted in :attr:`failures` and reported once per event
    name through the stdlib logger ``harmony.events`` (WARNING, with the traceback). The
    same applies to callbacks reported through :meth:`record_failure` (sync progress
    callbacks). Other attributes are those of the wrapped logger (``ctx.events.named(...)``
    on a recording logger still works).
    """

    def __init__(self, inner: EventLogger, *, _failures: _Failures | None = None) -> None:
        self.inner = inner
        self._validate = EventValidator()
        self._failures = _failures if _failures is not None else _Failures()

    def __repr__(self) -> str:
        return f"SafeEventLogger({self.inner!r}, failures={self.failures})"

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class lacks: forward them to the wrapped logger.
        if name.startswith("_") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def failures(self) -> int:
        """How many emits (and reported callbacks) failed since the context was built."""
        with self._failures.lock:
            return self._failures.count

    def guarding(self, inner: EventLogger) -> SafeEventLogger:
        """A guard around another logger that counts into this one's :attr:`failures`."""
        return SafeEventLogger(inner, _failures=self._failures)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate ``event`` and hand it to the wrapped logger; its failures are
        counted and reported, never raised."""
        self._validate(event, fields)
        try:
            self.inner.emit(event, **fields)
        except Exception as exc:  # counted and reported once: the sink must not decide outcomes
            self.record_failure(event, exc)

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether the wrapped logger wants the event (``True`` when asking it fails)."""
        try:
            return wants(self.inner, event, status)
        except Exception as exc:  # counted and reported once; emitting is then tried
            self.record_failure(event, exc)
            return True

    def record_failure(self, what: str, exc: BaseException) -> None:
        """Count a failure of the sink (or of a callback called ``what``); the first one
        per ``what`` is logged at WARNING with its traceback, later ones at DEBUG."""
        with self._failures.lock:
            self._failures.count += 1
            first = what not in self._failures.reported
            self._failures.reported.add(what)
        level = logging.WARNING if first else logging.DEBUG
        _log.log(
            level,
            "harmony could not deliver %s (%s: %s); the operation went on. Later failures "
            "of it are counted in ctx.events.failures and logged at DEBUG",
            what, type(exc).__name__, exc, exc_info=exc if first else None,
        )  # fmt: skip


def record_failure(events: EventLogger, what: str, exc: BaseException) -> None:
    """Report a failed callback through ``events`` when it is a :class:`SafeEventLogger`,
    else through the stdlib logger ``harmony.events``."""
    if isinstance(events, SafeEventLogger):
        events.record_failure(what, exc)
    else:
        _log.warning("harmony: %s failed (%s: %s); the operation went on", what, type(exc).__name__, exc)
