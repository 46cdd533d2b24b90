"""Shared by the tests of :mod:`harmony.http` and of the adapters under real servers.

- ``CASES``: conditional GET cases and the status RFC 9110 (13.1, 13.2.2) requires for
  each. A case builds request headers from the representation's current ``etag`` (a strong
  tag such as ``"abc"``) and ``last_modified`` (the ``Last-Modified`` instant).
- ``harmony_error_classes()`` and ``make_error(cls)``: every harmony error, instantiated.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import harmony
from harmony import HarmonyError, SyncReport
from harmony.errors import (
    ImportFileError,
    MissingExtraError,
    RateLimited,
    RetryLater,
    SyncFailed,
)
from harmony.http import format_http_date

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Case:
    id: str
    headers: Callable[[str, datetime], Headers]
    status: int


def _date(value: datetime) -> str:
    return format_http_date(value)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc850(value: datetime) -> str:  # obsolete form: full day name, two-digit year
    day, month = _DAYS[value.weekday()], _MONTHS[value.month - 1]
    return f"{day}, {value.day:02d}-{month}-{value.year % 100:02d} {value:%H:%M:%S} GMT"


def _asctime(value: datetime) -> str:  # obsolete form: C's asctime()
    day, month = _DAYS[value.weekday()][:3], _MONTHS[value.month - 1]
    return f"{day} {month} {value.day:>2} {value:%H:%M:%S} {value.year}"


def _weak(etag: str) -> str:
    return f"W/{etag}"


HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)

CASES: tuple[Case, ...] = (
    Case("unconditional", lambda e, t: [], 200),
    # If-None-Match: weak comparison, lists, "*" (13.1.2)
    Case("inm-same-tag", lambda e, t: [("If-None-Match", e)], 304),
    Case("inm-weak-form-of-tag", lambda e, t: [("If-None-Match", _weak(e))], 304),
    Case("inm-other-tag", lambda e, t: [("If-None-Match", '"other"')], 200),
    Case("inm-list-with-tag", lambda e, t: [("If-None-Match", f'"a", W/"b" ,{e}')], 304),
    Case("inm-list-without-tag", lambda e, t: [("If-None-Match", '"a", "b"')], 200),
    Case("inm-comma-inside-tag", lambda e, t: [("If-None-Match", f'"a,b", {e}')], 304),
    Case("inm-repeated-lines", lambda e, t: [("If-None-Match", '"a"'), ("If-None-Match", e)], 304),
    Case("inm-star", lambda e, t: [("If-None-Match", "*")], 304),
    Case("inm-star-in-a-list-is-no-star", lambda e, t: [("If-None-Match", '"a", *')], 200),
    Case("inm-unquoted-is-no-tag", lambda e, t: [("If-None-Match", e.strip('"'))], 200),
    Case("inm-empty", lambda e, t: [("If-None-Match", "")], 200),
    # If-Modified-Since (13.1.3): second resolution, three date forms, ignored when invalid
    Case("ims-at-last-modified", lambda e, t: [("If-Modified-Since", _date(t))], 304),
    Case("ims-after", lambda e, t: [("If-Modified-Since", _date(t + HOUR))], 304),
    Case("ims-a-second-before", lambda e, t: [("If-Modified-Since", _date(t - SECOND))], 200),
    Case("ims-rfc850-form", lambda e, t: [("If-Modified-Since", _rfc850(t))], 304),
    Case("ims-asctime-form", lambda e, t: [("If-Modified-Since", _asctime(t))], 304),
    Case("ims-not-a-date", lambda e, t: [("If-Modified-Since", "yesterday")], 200),
    Case("ims-lower-case-is-invalid", lambda e, t: [("If-Modified-Since", _date(t).lower())], 200),
    Case(
        "ims-two-dates",
        lambda e, t: [("If-Modified-Since", _date(t)), ("If-Modified-Since", _date(t + HOUR))],
        200,
    ),
    # If-None-Match wins over If-Modified-Since (13.2.2 step 3 before step 4)
    Case(
        "inm-miss-beats-ims-hit",
        lambda e, t: [("If-None-Match", '"other"'), ("If-Modified-Since", _date(t + HOUR))],
        200,
    ),
    Case(
        "inm-hit-beats-ims-miss",
        lambda e, t: [("If-None-Match", e), ("If-Modified-Since", _date(t - HOUR))],
        304,
    ),
    # If-Match: strong comparison (13.1.1), then If-Unmodified-Since (13.1.4)
    Case("im-same-tag", lambda e, t: [("If-Match", e)], 200),
    Case("im-weak-form-fails-strong-comparison", lambda e, t: [("If-Match", _weak(e))], 412),
    Case("im-other-tag", lambda e, t: [("If-Match", '"other"')], 412),
    Case("im-list-with-tag", lambda e, t: [("If-Match", f'"other", {e}')], 200),
    Case("im-star", lambda e, t: [("If-Match", "*")], 200),
    Case("ius-at-last-modified", lambda e, t: [("If-Unmodified-Since", _date(t))], 200),
    Case("ius-a-second-before", lambda e, t: [("If-Unmodified-Since", _date(t - SECOND))], 412),
    Case("ius-not-a-date", lambda e, t: [("If-Unmodified-Since", "soon")], 200),
    Case(
        "im-hit-makes-ius-ignored",
        lambda e, t: [("If-Match", e), ("If-Unmodified-Since", _date(t - HOUR))],
        200,
    ),
    Case(
        "im-miss-beats-inm-hit", lambda e, t: [("If-Match", '"other"'), ("If-None-Match", e)], 412
    ),
    Case("im-hit-then-inm-hit", lambda e, t: [("If-Match", e), ("If-None-Match", e)], 304),
)


# Modules that run when imported: the CLI entry point, Alembic's environment and revisions.
_SCRIPTS = ("harmony._migrations.env", "harmony._migrations.versions")


def harmony_error_classes() -> list[type[HarmonyError]]:
    """Every HarmonyError subclass defined in harmony (all its modules imported first)."""
    for module in pkgutil.walk_packages(harmony.__path__, "harmony."):
        if module.name.endswith("__main__") or module.name.startswith(_SCRIPTS):
            continue
        try:
            importlib.import_module(module.name)
        except MissingExtraError:  # an optional part whose extra is not installed
            continue
    found: list[type[HarmonyError]] = []
    pending: list[type[HarmonyError]] = [HarmonyError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("harmony.") and cls not in found:
            found.append(cls)
        pending += cls.__subclasses__()
    return found


def make_error(cls: type[HarmonyError]) -> HarmonyError:
    """An instance of ``cls`` with a recognisable message."""
    if issubclass(cls, SyncFailed):
        return cls("sync failed: boom", SyncReport(created=1))
    if issubclass(cls, ImportFileError):
        return cls("bad row", path="export.csv", line=3)
    if issubclass(cls, RateLimited):
        return cls(f"{cls.__name__} says no", retry_after=120.0)
    if issubclass(cls, RetryLater):
        return cls(f"{cls.__name__} says no", retry_in=120.0)
    return cls(f"{cls.__name__} says no")
