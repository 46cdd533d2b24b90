"""What the fake Spotify server answers when told to misbehave, and what it records.

:class:`Fault` is a scheduled bad answer and :class:`RecordedRequest` a request as the fake
saw it; :class:`_FaultSchedule` hands out scheduled faults in order. :class:`_Answer` is
the status, body and headers the HTTP handler sends, built here for faults and errors alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Any

__all__ = ["Fault", "RecordedRequest"]

_ERROR_MESSAGES: Mapping[int, str] = MappingProxyType(
    {
        400: "Bad request",
        401: "Invalid access token",
        403: "Forbidden",
        404: "Resource not found",
        429: "API rate limit exceeded",
        500: "Server error",
        502: "Bad gateway",
        503: "Service unavailable",
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    """A scheduled bad answer: a status (with ``Retry-After`` and body), or a dropped connection.

    ``delay`` seconds pass before answering (for client timeouts); ``body`` is JSON-encoded
    unless it is ``str``/``bytes``; ``None`` gives Spotify's error object for ``status``.
    """

    status: int = 500
    retry_after: float | None = None
    body: Any = None
    disconnect: bool = False
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the fake received. ``headers`` has the Authorization value redacted;
    ``status`` is what was answered (``None`` for a dropped connection)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None


@dataclass(slots=True)
class _Scheduled:
    method: str
    pattern: str
    query: Mapping[str, str]
    fault: Fault
    remaining: int

    def matches(self, method: str, path: str, query: Mapping[str, str]) -> bool:
        return (
            self.method in ("*", method)
            and fnmatchcase(path, self.pattern)
            and all(query.get(k) == v for k, v in self.query.items())
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    disconnect: bool = False
    delay: float = 0.0


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def answer(self) -> _Answer:
        """Spotify's error object for this status and message."""
        return _json_answer(self.status, _error(self.status, self.message))


class _FaultSchedule:
    # Not locked itself: FakeSpotifyServer calls it only while holding its own lock.

    def __init__(self) -> None:
        self._scheduled: list[_Scheduled] = []

    def add(
        self, method: str, pattern: str, query: Mapping[str, str], fault: Fault, times: int
    ) -> None:
        self._scheduled.append(_Scheduled(method, pattern, query, fault, times))

    def clear(self) -> None:
        self._scheduled.clear()

    @property
    def pending(self) -> int:
        return sum(s.remaining for s in self._scheduled)

    def take(self, method: str, path: str, query: Mapping[str, str]) -> _Answer | None:
        """Use up the first fault matching the request and return its answer, if any."""
        for scheduled in self._scheduled:
            if scheduled.matches(method, path, query):
                scheduled.remaining -= 1
                if not scheduled.remaining:
                    self._scheduled.remove(scheduled)
                return _fault_answer(scheduled.fault)
        return None


def _fault_answer(fault: Fault) -> _Answer:
    headers = {} if fault.retry_after is None else {"Retry-After": _number(fault.retry_after)}
    if isinstance(fault.body, str | bytes):
        raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
        return _Answer(
            fault.status,
            raw,
            {"Content-Type": "text/plain", **headers},
            fault.disconnect,
            fault.delay,
        )
    body = _error(fault.status) if fault.body is None else fault.body
    answer = _json_answer(fault.status, body, headers)
    return replace(answer, disconnect=fault.disconnect, delay=fault.delay)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error(status: int, message: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "message": message or _ERROR_MESSAGES.get(status, "Error")}}


def _json_answer(status: int, body: Any, headers: Mapping[str, str] | None = None) -> _Answer:
    raw = json.dumps(body).encode()
    content_type = {"Content-Type": "application/json; charset=utf-8"}
    return _Answer(status, raw, {**content_type, **(headers or {})})


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} <redacted>".strip()
        out[name] = value
    return out
