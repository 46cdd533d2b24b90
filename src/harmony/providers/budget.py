"""A per-provider rate budget: a token bucket and a cap on concurrent requests.

Why not a library: pyrate-limiter (a sliding-window log) and limits (fixed and moving
windows) decide *whether* a call may go; waiting is left to ``time.sleep`` inside
pyrate-limiter and to the caller with limits, and neither caps concurrency. harmony needs
the wait to run on the context's :class:`~harmony._clock.Clock` with an injectable
``sleep``, so that a test with :class:`~harmony.testing.ManualClock` measures the rate
without sleeping. A token bucket with reservations is a few lines on that clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from harmony._clock import Clock, SystemClock
from harmony._settings import ProviderRateLimit

__all__ = ["DEFAULT_RATE_LIMITS", "RateBudget"]

#: Budgets providers get when the settings name none (Spotify documents no number: its
#: limit is a rolling 30-second window per app; these stay well below what apps report).
DEFAULT_RATE_LIMITS = {
    "spotify": ProviderRateLimit(requests_per_second=5.0, burst=10, max_concurrency=4),
}


class RateBudget:
    """Requests per second (a token bucket of ``burst`` tokens) and at most
    ``max_concurrency`` requests at once, for one provider.

    ::

        budget = RateBudget(5, burst=10, max_concurrency=2, clock=ctx.clock)
        with budget.acquire():
            ...                      # one request

    ``acquire()`` first waits for a free slot (when capped), then takes a token: up to
    ``burst`` requests go at once, after that one every ``1/requests_per_second``
    seconds. A caller that must wait *reserves* its token and sleeps once, so waiting
    callers are served in order and the rate holds over any window: at most
    ``burst + rate * seconds`` requests start in any span of ``seconds``. Time is read
    from ``clock`` and waited with ``sleep`` (default: the clock's own ``sleep`` if it
    has one, as :class:`~harmony.testing.ManualClock` does, else :func:`time.sleep`).
    Thread-safe; one budget is meant to be shared by everything calling one provider.
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        burst: int = 1,
        max_concurrency: int | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        limit = ProviderRateLimit(
            requests_per_second=requests_per_second, burst=burst, max_concurrency=max_concurrency
        )
        self.requests_per_second = limit.requests_per_second
        self.burst = limit.burst
        self.max_concurrency = limit.max_concurrency
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._sleep: Callable[[float], None] = (
            sleep if sleep is not None else getattr(self._clock, "sleep", time.sleep)
        )
        self._slots = (
            threading.BoundedSemaphore(limit.max_concurrency)
            if limit.max_concurrency is not None
            else None
        )
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._updated = self._seconds()
        #: Requests let through, and seconds waited for tokens in total.
        self.acquired = 0
        self.waited = 0.0

    @classmethod
    def from_limit(
        cls,
        limit: ProviderRateLimit,
        *,
        clock: Clock | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> RateBudget:
        """A budget for a :class:`~harmony._settings.ProviderRateLimit` from the settings."""
        return cls(
            limit.requests_per_second,
            burst=limit.burst,
            max_concurrency=limit.max_concurrency,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return (
            f"RateBudget({self.requests_per_second:g}/s, burst={self.burst}, "
            f"max_concurrency={self.max_concurrency})"
        )

    @contextmanager
    def acquire(self) -> Iterator[None]:
        """Wait for a slot and a token; the slot is held until the block ends."""
        if self._slots is None:
            self._take()
            yield
            return
        with self._slots:
            self._take()
            yield

    def _take(self) -> None:
        with self._lock:
            now = self._seconds()
            # A clock set backwards (ManualClock.set) must not drain the bucket.
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.requests_per_second)
            self._updated = max(now, self._updated)
            self._tokens -= 1.0
            wait = -self._tokens / self.requests_per_second if self._tokens < 0 else 0.0
            self.acquired += 1
            self.waited += wait
        if wait > 0:
            self._sleep(wait)

    def _seconds(self) -> float:
        return self._clock.now().timestamp()
