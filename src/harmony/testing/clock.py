"""A clock that moves only when told to."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from harmony._clock import ensure_utc

__all__ = ["ManualClock"]


class ManualClock:
    """A :class:`~harmony._clock.Clock` for tests: frozen until :meth:`advance` or :meth:`set`.

    ``ManualClock()`` starts at the current time, ``ManualClock(start)`` at ``start`` (an
    aware datetime). Thread-safe.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start, name="start") if start else datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The clock's current time (aware, UTC)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move forward by ``seconds`` (and/or ``timedelta`` keywords); return the new time."""
        step = timedelta(seconds=seconds, **delta)
        if step < timedelta(0):
            raise ValueError(f"a clock only moves forward; got {step}")
        with self._lock:
            self._now += step
            return self._now

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` at once, by moving the clock forward (what a
        :class:`~harmony.providers.RateBudget` on this clock calls instead of sleeping)."""
        self.advance(max(0.0, seconds))

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware datetime), forwards or backwards."""
        value = ensure_utc(when, name="when")
        with self._lock:
            self._now = value

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()!r})"
