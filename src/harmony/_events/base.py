"""The event-logger protocol and the event contract, checked once where events are emitted.

Validation happens in one place: ``ctx.events`` (a :class:`~harmony._events.SafeEventLogger`)
checks each event with an :class:`EventValidator` and hands it on; the loggers behind it
(the *sinks*) only receive events that already passed.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from harmony._events.registry import EVENTS
from harmony.errors import EventValidationError

__all__ = [
    "RESERVED_FIELDS",
    "EventLogger",
    "EventValidator",
    "FieldValue",
    "validate_event",
    "wants_of",
]

FieldValue = str | int | float | bool | None

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")

#: Field names the contract refuses: every serialised form of an event (a logging record,
#: a JSON line, a stored row's export) carries the event's name under ``event``. Names that
#: clash with :class:`logging.LogRecord` attributes are no longer refused here:
#: :class:`~harmony._events.LoggingEventLogger` handles them itself.
RESERVED_FIELDS = frozenset({"event"})


@runtime_checkable
class EventLogger(Protocol):
    """Receives harmony's structured events: a *sink*.

    ``event`` is a dotted name (``orchestrator.lease``); fields are flat JSON values
    (str, int, float, bool, None) and ``meta`` may hold a JSON mapping. Events reach a
    sink through ``ctx.events``, which has checked them against the contract already
    (:func:`validate_event`): a sink only receives, it does not validate.

    ``wants(event, status)`` tells whether the sink would do anything with such an event
    right now; hot paths (an event per job) ask once per batch and skip building events
    nobody receives. A sink that keeps everything returns ``True``.
    """

    def emit(self, event: str, /, **fields: Any) -> None:
        """Receive one event."""
        ...

    def wants(self, event: str, status: str | None = None) -> bool:
        """Whether an ``event`` with ``status`` would be used by this sink now."""
        ...


WantsFunction = Callable[[str, "str | None"], bool]


def _wants_everything(event: str, status: str | None = None) -> bool:
    return True


def wants_of(logger: EventLogger) -> WantsFunction:
    """``logger.wants``, looked up once when a sink is wired in (not on every event).

    A sink written before ``wants`` joined the protocol (one with ``emit`` only) still
    works: it is assumed to want every event, with a :class:`DeprecationWarning` (the
    method will be required in a later release).
    """
    method = getattr(logger, "wants", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    warnings.warn(
        f"{type(logger).__name__} has no wants() method; harmony assumes it wants every "
        "event. Add `def wants(self, event, status=None): return True` to it: the "
        "EventLogger protocol requires wants() and this fallback will be removed",
        DeprecationWarning,
        stacklevel=3,
    )
    return _wants_everything


def validate_event(event: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check ``event`` and ``fields`` against the event contract; return the fields, frozen.

    Rules: the name is lowercase dotted words with at least one dot; field names are
    lowercase identifiers other than ``event``; values are flat JSON (``str``, ``int``,
    finite ``float``, ``bool``, ``None``); ``meta`` is a JSON-serialisable mapping with
    string keys; events listed in :data:`harmony._events.registry.EVENTS` carry all their
    required fields. ``ctx.events`` applies these rules to every event; call this
    function to check an event yourself (a sink used on its own checks nothing).

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
                "identifier (a-z, 0-9, underscore) other than 'event', which holds the "
                "event's name wherever an event is written out"
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
    """:func:`validate_event` with a memory: each emitter (``ctx.events``) owns one.

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
