"""Per-job-type retry policies built on tenacity's wait strategies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tenacity import RetryCallState, wait_exponential_jitter

from harmony.errors import InvalidInputError

__all__ = ["RetryPolicy", "WaitStrategy"]

#: A tenacity wait strategy: ``wait_exponential_jitter(...)``, ``wait_fixed(5)``, sums of them.
WaitStrategy = Callable[[RetryCallState], float]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a job type is tried and how long to wait between tries.

    ``max_attempts`` counts every try, the first included. ``wait`` is any tenacity wait
    strategy (exponential with jitter by default: about 1 s, 2 s, 4 s, ... up to 5 min).
    Exceptions listed in ``give_up_on`` dead-letter the job at once.
    """

    max_attempts: int = 5
    wait: WaitStrategy = field(default_factory=lambda: wait_exponential_jitter(max=300))
    give_up_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidInputError(f"max_attempts must be an integer >= 1, got {self.max_attempts!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after try number ``attempt`` failed."""
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        return max(0.0, float(self.wait(state)))

    def retries(self, attempt: int, error: BaseException) -> bool:
        """Whether a try numbered ``attempt`` that raised ``error`` is tried again."""
        return attempt < self.max_attempts and not isinstance(error, self.give_up_on)
