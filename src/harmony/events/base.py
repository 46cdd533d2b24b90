"""The event-logger protocol and the validation every implementation shares."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from harmony.errors import EventValidationError
from harmony.events.registry import EVENTS

__all__ = ["EventLogger", "EventValidator", "FieldValue", "validate_event", "wants"]

FieldValue = str | int | float | bool | None

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")

# Attributes of logging.LogRecord (plus what formatters add): an event field with one of
# these names would clash when the fields are passed to logging as ``extra``.
RESERVED_FIELDS = frozenset(
    {
        "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName",
        "levelname", "levelno", "lineno", "message", "module", "msecs", "msg", "name",
        "pathname", "process", "processName", "relativeCreated", "stack_info", "taskName",
        "thread", "threadName", "event", "harmony_event",
    }
)  # fmt: skip


@runtime_checkable
class EventLogger(Protocol):
    """Receives harmony's structured events.

    ``event`` is a dotted name (``orchestrator.lease``); fields are flat JSON values
    (str, int, float, bool, None) and ``meta`` may hold a JSON mapping. Implementations
    call :func:`validate_event` and raise :class:`~harmony.errors.EventValidationError` on
    bad input.
    """

    def emit(self, event: str, /, **fields: Any) -> None:
        """Record one event."""
        ...


def validate_event(event: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check ``event`` and ``fields`` against the event contract; return the fields, frozen.

    Rules: the name is lowercase dotted words with at least one dot; field names are
    lowercase identifiers that do not clash with :mod:`logging` record attributes; values
    are flat JSON (``str``, ``int``, finite ``float``, ``bool``, ``None``); ``meta`` is a
    JSON-serialisable mapping with string keys; events listed in
    :data:`harmony.events.registry.EVENTS` carry all their required fields.

    Raises:
        EventValidationError: naming the event, the field and what was wrong.
    """
    if not isinstance(event, str) or not _NAME.match(event):
        raise EventValidationError(
            f"event name {event!r} is invalid: use lowercase dotted words with at least "
            "one dot, e.g. 'orchestrator.lease'"
        )
    for name, value in fields.items():
        if not _FIELD.match(name) or name in RESERVED_FIELDS:
            raise EventValidationError(
                f"event {event!r}: field name {name!r} is not allowed; use a lowercase "
                f"identifier that is not a logging record attribute ({', '.join(sorted(RESERVED_FIELDS))})"
            )
        _check_value(event, name, value)
    _check_required(event, fields)
    return MappingProxyType(dict(fields))


def _check_value(event: str, name: str, value: Any) -> None:
    if name == "meta":
        _check_meta(event, value)
    elif not _is_flat(value):
        raise EventValidationError(
            f"event {event!r}: field {name!r} has a {type(value).__name__} value; fields "
            "take str, int, float, bool or None (put nested data under 'meta')"
        )


def _check_required(event: str, fields: Mapping[str, Any]) -> None:
    spec = EVENTS.get(event)
    if spec is not None:
        missing = [f for f in spec.required if f not in fields]
        if missing:
            raise EventValidationError(
                f"event {event!r} is missing required field(s) {', '.join(missing)} "
                f"(contract: {', '.join(spec.required)}; see docs/observability.md)"
            )


class EventValidator:
    """:func:`validate_event` with a memory: each logger owns one.

    Event names and field names are checked once per event name; after that only the
    values (and required fields) are, which keeps hot paths that emit an event per job
    cheap. The rules and errors are exactly those of :func:`validate_event`.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, frozenset[str]] = {}

    def __call__(self, event: str, fields: dict[str, Any]) -> Mapping[str, Any]:
        """Validate ``fields`` (a dict the caller owns, as ``**fields`` gives) and return
        a read-only view of it."""
        known = self._seen.get(event)
        if known is None or not known.issuperset(fields):
            validate_event(event, fields)
            self._seen[event] = (known or frozenset()) | frozenset(fields)
            return MappingProxyType(fields)
        for name, value in fields.items():
            kind = type(value)
            if kind is str or kind is int or kind is bool or value is None:
                continue
            if kind is float and math.isfinite(value):
                continue
            _check_value(event, name, value)
        _check_required(event, fields)
        return MappingProxyType(fields)


def _is_flat(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _check_meta(event: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise EventValidationError(
            f"event {event!r}: 'meta' must be a mapping with string keys, "
            f"got {type(value).__name__}"
        )
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EventValidationError(
            f"event {event!r}: 'meta' is not JSON-serialisable ({exc})"
        ) from exc


def wants(logger: EventLogger, event: str, status: str | None = None) -> bool:
    """Whether ``logger`` would do anything with ``event`` of ``status`` right now.

    Hot paths (an event per job) ask once per batch and skip building events nobody
    receives. A logger without a ``wants`` method is assumed to want everything.
    """
    check = getattr(logger, "wants", None)
    return True if check is None else bool(check(event, status))
