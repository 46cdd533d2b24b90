"""The one place public arguments are checked before anything reaches the database.

Both backends must accept and refuse the same inputs, so every check here is at least as
strict as the stricter backend: PostgreSQL refuses NUL characters and lone surrogates in
text and JSONB, ``INTEGER`` columns hold 32 bits and ``BIGINT`` 64, ``VARCHAR(n)`` holds n
characters; SQLite would store any of them, and code that works in tests would break in
production. Every refusal is an :class:`~harmony.errors.InvalidInputError` (or the
subclass the caller asks for) naming the argument and the fix; the refused value is
quoted only shortened, and never when it may be a secret.

The ``storable_*`` helpers are the other half: text harmony stores on its own account
(error messages, stop reasons) is made storable instead of refused, so recording a
failure can never fail because of what the failure said.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from harmony._checks import as_int
from harmony.errors import HarmonyError, InvalidInputError

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "MAX_JSON_DEPTH",
    "check_datetime",
    "check_int",
    "check_json",
    "check_seconds",
    "check_text",
    "describe_error",
    "error_summary",
    "storable_text",
    "unstorable_reason",
]

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Deepest nesting of a JSON value harmony stores (payloads, results, details). Deeper
#: values are refused before Python's JSON encoder recurses into them.
MAX_JSON_DEPTH = 64


def unstorable_reason(text: str, *, quote: bool = True) -> str | None:
    """Why ``text`` cannot be stored on every backend (NUL, a lone surrogate), or ``None``.

    With ``quote=False`` the reason shows nothing of the text (for secrets)."""
    if "\x00" in text:
        return "contains a NUL character (\\x00), which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = f" ({text[exc.start]!r} at position {exc.start})" if quote else ""
        return (
            f"contains a lone surrogate{where}, which is not valid Unicode (often a file "
            "name decoded with 'surrogateescape'); decode it properly or pass it as "
            "os.fsencode(name).hex()"
        )
    return None


def check_text(
    name: str,
    value: Any,
    *,
    max_length: int,
    allow_empty: bool = False,
    secret: bool = False,
    error: type[InvalidInputError] = InvalidInputError,
) -> str:
    """``value`` if it is a storable string of at most ``max_length`` characters.

    With ``secret=True`` the message never quotes the value.
    """
    if not isinstance(value, str):
        raise error(f"{name} must be a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise error(f"{name} must not be empty")
    if len(value) > max_length:
        shown = "the value is not shown" if secret else f"got {value!r:.80}"
        raise error(
            f"{name} is {len(value)} characters long; at most {max_length} are stored ({shown})"
        )
    reason = unstorable_reason(value, quote=not secret)
    if reason is not None:
        raise error(f"{name} {reason}" + ("; the value is not shown" if secret else ""))
    return value


def check_int(
    name: str,
    value: Any,
    *,
    low: int = 0,
    high: int | None = INT32_MAX,
    hint: str = "",
    error: type[HarmonyError] = InvalidInputError,
) -> int:
    """``value`` as an ``int`` if it is an integer from ``low`` to ``high`` (``None``: no
    upper bound); else raise ``error`` naming the field, the range and the value.

    Integers are ``int`` and anything with ``__index__`` (numpy's integers, from a
    notebook); never a bool.
    """
    number = as_int(value)
    if number is None or number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise error(f"{name} must be an integer {bounds}{hint}, got {value!r:.80}")
    return number


def check_seconds(
    name: str, value: Any, *, high: float, allow_zero: bool = False, hint: str = ""
) -> float:
    """``value`` as a float if it is a finite number of seconds in ``(0, high]`` (or
    ``[0, high]`` with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number of seconds{hint}, got {value!r:.80}")
    seconds = float(value)
    low_ok = seconds >= 0 if allow_zero else seconds > 0
    if not math.isfinite(seconds) or not low_ok or seconds > high:
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(
            f"{name} must be a finite number of seconds {bound} and at most {high:g}{hint}, "
            f"got {value!r:.80}"
        )
    return seconds


def check_datetime(name: str, value: Any) -> datetime:
    """``value`` converted to UTC if it is a timezone-aware :class:`datetime`."""
    if not isinstance(value, datetime):
        raise InvalidInputError(
            f"{name} must be a timezone-aware datetime, got {type(value).__name__} {value!r:.40}; "
            "e.g. datetime(2030, 1, 1, tzinfo=timezone.utc) or datetime.fromisoformat(text)"
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InvalidInputError(
            f"{name} {value.isoformat()!r} is naive; pass a timezone-aware datetime "
            "(e.g. datetime.now(timezone.utc))"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInputError(f"{name} {value.isoformat()!r} is out of range in UTC") from exc


def check_json(name: str, value: Any, *, max_bytes: int | None = None) -> str:
    """``value`` encoded as JSON, if every backend can store it; else refuse it.

    Refused: values JSON cannot encode (sets, objects, NaN and infinities), nesting deeper
    than :data:`MAX_JSON_DEPTH`, mapping keys that are not strings, NUL characters and lone
    surrogates anywhere (keys included), and, with ``max_bytes``, a UTF-8 encoding longer
    than that.
    """
    _check_depth(name, value)
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} is not JSON-serialisable: {exc}") from exc
    if "\\u0000" in encoded and _has_nul(value):
        raise InvalidInputError(
            f"{name} contains a NUL character (\\x00), which PostgreSQL cannot store; "
            "remove it or encode the value (e.g. base64)"
        )
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{name} contains a lone surrogate ({encoded[exc.start]!r}), which is not valid "
            "Unicode (often a file name decoded with 'surrogateescape'); decode it properly"
        ) from None
    if max_bytes is not None and size > max_bytes:
        raise InvalidInputError(
            f"{name} is {size} bytes as JSON; at most {max_bytes} are accepted (setting "
            "job_payload_max_bytes): store large data elsewhere and pass a reference"
        )
    return encoded


def _check_depth(name: str, value: Any) -> None:
    # Iterative, so a value nested thousands deep is refused instead of exhausting the stack.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise InvalidInputError(
                f"{name} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it"
            )
        stack.extend((child, depth + 1) for child in children)


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def storable_text(value: str, limit: int) -> str:
    """``value`` made storable on every backend: NUL and lone surrogates written as
    backslash escapes (``\\x00``, ``\\udcff``), then cut to ``limit`` characters."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def error_summary(exc: BaseException) -> str:
    """One line for an event's ``error`` field: a harmony error's own message (it is written
    for users), else ``"TypeName: message"``; only the first line (SQLAlchemy appends the
    statement, ``[SQL: ...]``, on later lines)."""
    text = str(exc) if isinstance(exc, HarmonyError) else f"{type(exc).__name__}: {exc}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def describe_error(error: BaseException | str, limit: int) -> str:
    """``"TypeName: message"`` for an exception (or the string), storable and at most
    ``limit`` characters, even when the exception's ``__str__`` raises."""
    if isinstance(error, BaseException):
        try:
            message = str(error)
        except Exception as exc:  # a broken __str__ must not hide the error itself
            message = f"<str() of the error raised {type(exc).__name__}>"
        text = f"{type(error).__name__}: {message}"
    else:
        try:
            text = str(error)
        except Exception as exc:  # as above
            text = f"<str() of the error raised {type(exc).__name__}>"
    return storable_text(text, limit)
