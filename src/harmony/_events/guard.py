"""The emitter every context's events go through: checked once, delivered, never raised.

A :class:`SafeEventLogger` is where harmony's events are *emitted*: it checks each event
against the contract (once, here) and hands it to the sink, which only receives. A sink
that raises never changes what harmony was doing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harmony._events.base import EventLogger, EventValidator, wants_of

__all__ = ["SafeEventLogger", "record_failure"]

_log = logging.getLogger("harmony.events")


class _Shared:
    """What the guards of one context share: the failure count, the names already
    reported, and the sinks teed in for a while (:meth:`SafeEventLogger.tee`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.reported: set[str] = set()
        # Replaced as a whole under the lock and read without it: emit() takes one
        # snapshot, so a tee added or removed by another thread never tears a delivery.
        self.tees: tuple[EventLogger, ...] = ()


class SafeEventLogger:
    """Where events are emitted: validates each one, then hands it to the wrapped sink,
    whose failures are counted instead of raised.

    A :class:`~harmony.HarmonyContext` puts one around its event logger (``ctx.events``).
    The event is checked against the contract here, once
    (:func:`~harmony._events.validate_event`; a malformed event raises
    :class:`~harmony.errors.EventValidationError`: that is a bug in the caller), and the
    sinks behind it receive it as it is. A metrics backend that is down, a handler that
    raises, a full disk under a log file: none of them changes a job's outcome, a sync or
    a migration. The sink's failure is counted in :attr:`failures` and reported once per
    event name through the stdlib logger ``harmony.events`` (WARNING, with the traceback).
    The same applies to callbacks reported through :meth:`record_failure` (sync progress
    callbacks). Other attributes are those of the wrapped logger (``ctx.events.named(...)``
    on a recording logger still works).
    """

    def __init__(self, inner: EventLogger, *, _shared: _Shared | None = None) -> None:
        self._inner = inner
        self._inner_wants = wants_of(inner)
        self._validate = EventValidator()
        self._shared = _shared if _shared is not None else _Shared()

    def __repr__(self) -> str:
        return f"SafeEventLogger({self._inner!r}, failures={self.failures})"

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class lacks: forward them to the wrapped logger.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def inner(self) -> EventLogger:
        """The sink behind this guard (the logger given to the context, or the activity
        logger around it)."""
        return self._inner

    @property
    def failures(self) -> int:
        """How many emits (and reported callbacks) failed since the context was built."""
        with self._shared.lock:
            return self._shared.count

    def guarding(self, inner: EventLogger) -> SafeEventLogger:
        """A guard around another sink that shares this one's :attr:`failures` and tees."""
        return SafeEventLogger(inner, _shared=self._shared)

    def emit(self, event: str, /, **fields: Any) -> None:
        """Validate ``event`` and hand it to the sink (and any teed sinks); their
        failures are counted and reported, never raised."""
        self._validate(event, fields)
        tees = self._shared.tees
        if tees:  # first: an event the sink emits in turn (events.persist_failed) comes after
            for sink in tees:
                try:
                    sink.emit(event, **fields)
                except Exception as exc:  # a teed sink is a sink like the others
                    self.record_failure(event, exc)
        try:
            self._inner.emit(event, **fields)
        except Exception as exc:  # counted and reported once: the sink must not decide outcomes
            self.record_failure(event, exc)

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether the sink wants the event: always while a sink is teed in, and
        ``True`` when asking the sink fails."""
        if self._shared.tees:
            return True
        try:
            return bool(self._inner_wants(event, status))
        except Exception as exc:  # counted and reported once; emitting is then tried
            self.record_failure(event, exc)
            return True

    @contextmanager
    def tee(self, sink: EventLogger) -> Iterator[EventLogger]:
        """Deliver every event of this context to ``sink`` too, until the ``with`` ends.

        Events emitted from any thread (a worker's included) through any guard of the
        context reach it, just before the context's own sink; they are validated once, as
        always. While a sink is teed in, :meth:`wants` is true for every event, so hot
        paths build their per-job events for it. Several tees may overlap, in any order.
        :func:`harmony.testing.capture_events` is this with a recording logger.
        """
        with self._shared.lock:
            self._shared.tees = (*self._shared.tees, sink)
        try:
            yield sink
        finally:
            with self._shared.lock:
                tees = self._shared.tees
                index = next(i for i, teed in enumerate(tees) if teed is sink)
                self._shared.tees = tees[:index] + tees[index + 1 :]

    def record_failure(self, what: str, exc: BaseException) -> None:
        """Count a failure of the sink (or of a callback called ``what``); the first one
        per ``what`` is logged at WARNING with its traceback, later ones at DEBUG."""
        with self._shared.lock:
            self._shared.count += 1
            first = what not in self._shared.reported
            self._shared.reported.add(what)
        level = logging.WARNING if first else logging.DEBUG
        _log.log(
            level,
            "harmony could not deliver %s (%s: %s); the operation went on. Later failures "
            "of it are counted in ctx.events.failures and logged at DEBUG",
            what,
            type(exc).__name__,
            exc,
            exc_info=exc if first else None,
        )


def record_failure(events: EventLogger, what: str, exc: BaseException) -> None:
    """Report a failed callback through ``events`` when it is a :class:`SafeEventLogger`,
    else through the stdlib logger ``harmony.events``."""
    if isinstance(events, SafeEventLogger):
        events.record_failure(what, exc)
    else:
        _log.warning(
            "harmony: %s failed (%s: %s); the operation went on", what, type(exc).__name__, exc
        )
