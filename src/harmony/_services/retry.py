"""Per-job-type retry policies: harmony's own wait descriptions, tenacity inside.

A handler's author describes the wait between tries with :class:`Fixed` or
:class:`Exponential` (small frozen values, no third-party import needed); the policy turns
them into tenacity wait strategies, which compute the delays.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from tenacity import RetryCallState, Retrying, wait_exponential_jitter, wait_fixed

from harmony._validation import check_int
from harmony.errors import InvalidInputError

__all__ = ["Exponential", "Fixed", "RetryPolicy", "Wait", "WaitStrategy"]

#: Longest wait between tries accepted: about three years (as ``fail(retry_in=)``).
_MAX_WAIT_SECONDS = 100_000_000.0


def _seconds(name: str, value: Any, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number of seconds, got {value!r:.80}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not low_ok or value > _MAX_WAIT_SECONDS:
        bound = "[0" if allow_zero else "(0"
        raise InvalidInputError(
            f"{name} must be in {bound}, {_MAX_WAIT_SECONDS:.0e}] seconds, got {value!r}"
        )
    return float(value)


@dataclass(frozen=True, slots=True)
class Fixed:
    """The same wait after every failed try: ``Fixed(30)`` waits 30 s each time."""

    seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", _seconds("Fixed(seconds)", self.seconds))


@dataclass(frozen=True, slots=True)
class Exponential:
    """A wait that grows: ``initial * multiplier ** (try - 1)``, at most ``maximum``,
    plus a random ``0 .. jitter`` seconds (so retries of many jobs do not fall in step).

    The default waits about 1 s, 2 s, 4 s, ... up to 5 minutes.
    """

    initial: float = 1.0
    maximum: float = 300.0
    multiplier: float = 2.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "initial", _seconds("Exponential(initial)", self.initial))
        set_(self, "maximum", _seconds("Exponential(maximum)", self.maximum))
        set_(self, "jitter", _seconds("Exponential(jitter)", self.jitter))
        multiplier = self.multiplier
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, (int, float))
            or not (math.isfinite(multiplier) and 1 <= multiplier <= 1000)
        ):
            raise InvalidInputError(
                f"Exponential(multiplier) must be a number from 1 to 1000, got {multiplier!r:.80}"
            )
        set_(self, "multiplier", float(multiplier))
        if self.maximum < self.initial:
            raise InvalidInputError(
                f"Exponential(maximum={self.maximum:g}) is below initial={self.initial:g}: "
                "raise maximum or lower initial"
            )


#: A wait description: :class:`Fixed` or :class:`Exponential`.
Wait: TypeAlias = "Fixed | Exponential"

#: A tenacity wait strategy (``wait_fixed(5)``, ...): the form :class:`RetryPolicy` took
#: before 0.2, still accepted for one release with a ``DeprecationWarning``.
WaitStrategy = Callable[[RetryCallState], float]


#: tenacity 9.2 renamed wait_exponential_jitter's ``initial`` to ``multiplier`` (and warns
#: on the old name); harmony supports tenacity from 8.2, which knows only ``initial``.
_INITIAL = (
    "multiplier"
    if "multiplier" in inspect.signature(wait_exponential_jitter.__init__).parameters
    else "initial"
)


def _tenacity_wait(wait: Fixed | Exponential) -> WaitStrategy:
    if isinstance(wait, Fixed):
        return wait_fixed(wait.seconds)
    return wait_exponential_jitter(
        max=wait.maximum, exp_base=wait.multiplier, jitter=wait.jitter, **{_INITIAL: wait.initial}
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a job type is tried and how long to wait between tries.

    ``max_attempts`` counts every try, the first included. ``wait`` is a
    :class:`Fixed` or :class:`Exponential` description (default ``Exponential()``: about
    1 s, 2 s, 4 s, ... up to 5 min, plus up to 1 s of jitter). Exceptions listed in
    ``give_up_on`` dead-letter the job at once.

    A tenacity wait strategy is still accepted as ``wait`` for one release, with a
    ``DeprecationWarning`` when the policy is built.
    """

    max_attempts: int = 5
    wait: Fixed | Exponential | WaitStrategy = field(default_factory=Exponential)
    give_up_on: tuple[type[BaseException], ...] = ()
    _strategy: WaitStrategy = field(init=False, repr=False, compare=False)
    _retrying: Retrying = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "max_attempts", check_int("max_attempts", self.max_attempts, low=1, high=None)
        )
        if isinstance(self.wait, (Fixed, Exponential)):
            strategy = _tenacity_wait(self.wait)
        elif callable(self.wait):
            warnings.warn(
                "RetryPolicy(wait=<tenacity wait strategy>) is deprecated and will be removed "
                "in the next release: describe the wait with harmony.Fixed(seconds) or "
                "harmony.Exponential(initial=, maximum=, multiplier=, jitter=)",
                DeprecationWarning,
                stacklevel=3,
            )
            strategy = self.wait
        else:
            raise InvalidInputError(
                f"RetryPolicy(wait=) must be harmony.Fixed or harmony.Exponential, got "
                f"{type(self.wait).__name__}"
            )
        if not isinstance(self.give_up_on, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in self.give_up_on
        ):
            raise InvalidInputError(
                f"RetryPolicy(give_up_on=) must be a tuple of exception classes, got {self.give_up_on!r:.80}"
            )
        object.__setattr__(self, "_strategy", strategy)
        # tenacity's strategies read a call state's attempt_number: the policy keeps a real
        # Retrying for the states it builds (no stand-in object).
        object.__setattr__(self, "_retrying", Retrying(wait=strategy))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after try number ``attempt`` failed."""
        state = RetryCallState(self._retrying, None, (), {})
        state.attempt_number = attempt
        return max(0.0, float(self._strategy(state)))

    def retries(self, attempt: int, error: BaseException) -> bool:
        """Whether a try numbered ``attempt`` that raised ``error`` is tried again."""
        return attempt < self.max_attempts and not isinstance(error, self.give_up_on)
