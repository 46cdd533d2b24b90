"""Time as a collaborator: everything time-based in a context reads its :class:`Clock`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from harmony.errors import InvalidInputError

__all__ = ["Clock", "SystemClock", "ensure_utc"]


@runtime_checkable
class Clock(Protocol):
    """Source of the current time."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The wall clock of this machine, in UTC."""

    def now(self) -> datetime:
        """Return ``datetime.now(timezone.utc)``."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


def ensure_utc(value: datetime, *, name: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is refused.

    Raises:
        InvalidInputError: ``value`` has no timezone.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInputError(
            f"{name} {value.isoformat()!r} is naive; pass a timezone-aware datetime "
            "(e.g. datetime.now(timezone.utc))"
        )
    return value.astimezone(UTC)
