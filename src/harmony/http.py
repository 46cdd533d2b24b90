"""Framework-free HTTP helpers for hosts: an error's status and body, conditional GET.

:mod:`harmony.contrib.fastapi` and :mod:`harmony.contrib.flask` are thin layers over this
module; a host on any other framework (or plain ASGI/WSGI) uses it directly::

    status, body = status_for(exc), error_body(exc)        # any exception
    result = check_conditional(Preconditions.from_headers(headers), method="GET",
                               etag=detail.etag, last_modified=detail.last_modified)
    if result.status != 200: ...                            # 304 or 412, send result.headers

Every :class:`~harmony.errors.HarmonyError` subclass has one status in
:data:`ERROR_STATUS`; every error body has one shape,
``{"error": {"type": "NotFoundError", "message": "no playlist with id 7"}}`` (a failed sync
adds ``"report"``, what the other providers did). Unexpected exceptions are 500 with a
fixed message, never their own text. Nothing here imports a web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from harmony.errors import (
    ConfigurationError,
    ContextClosed,
    CredentialsError,
    DatabaseError,
    DatabaseUnavailable,
    DiagnosticsUnavailable,
    EventValidationError,
    HarmonyError,
    ImportFileError,
    InvalidInputError,
    JobStateError,
    LeaseLost,
    MigrationError,
    MissingExtraError,
    NotFoundError,
    ProviderError,
    RateLimited,
    RetryLater,
    SchemaDriftError,
    SyncFailed,
    UnknownProviderError,
    UnknownRevisionError,
)

__all__ = [
    "ERROR_STATUS",
    "INTERNAL_ERROR_TYPE",
    "Conditional",
    "EntityTag",
    "ErrorBody",
    "ErrorDetail",
    "Preconditions",
    "check_conditional",
    "error_body",
    "format_http_date",
    "parse_entity_tags",
    "parse_http_date",
    "precondition_failed_body",
    "status_for",
]

#: The HTTP status of every harmony error. A class missing here (a host's own subclass)
#: gets the status of its nearest listed base class; anything that is no
#: ``HarmonyError`` is 500.
ERROR_STATUS: Mapping[type[HarmonyError], int] = MappingProxyType(
    {
        # Base: harmony cannot serve this now ("not running", a host's own error).
        HarmonyError: 503,
        # The context was closed (the app is shutting down): not available now.
        ContextClosed: 503,
        # The server's settings or installation are wrong; retrying will not help.
        ConfigurationError: 500,
        MissingExtraError: 500,
        InvalidInputError: 400,
        CredentialsError: 400,
        ImportFileError: 400,
        UnknownProviderError: 400,
        # Raised by the host's own emit() calls: a server bug, not the client's input.
        EventValidationError: 500,
        NotFoundError: 404,
        # The resource is not in a state that allows the operation.
        JobStateError: 409,
        LeaseLost: 409,
        DatabaseError: 503,
        DatabaseUnavailable: 503,
        # The schema is not at head (yet): the service is not ready.
        MigrationError: 503,
        SchemaDriftError: 503,
        # The caller named a revision that does not exist (admin routes).
        UnknownRevisionError: 400,
        DiagnosticsUnavailable: 503,
        # The provider upstream failed: a gateway error.
        ProviderError: 502,
        # A provider failed: a gateway error too (503 when only the database failed,
        # see status_for).
        SyncFailed: 502,
        # The provider asked us to wait: the service cannot answer now, later it can.
        RateLimited: 503,
        # A job handler's "run me later", should it ever reach a request.
        RetryLater: 503,
    }
)

#: ``error.type`` of unexpected (non-harmony) exceptions, whose details are never sent.
INTERNAL_ERROR_TYPE = "InternalServerError"
_INTERNAL_MESSAGE = "internal server error"


def status_for(exc: BaseException) -> int:
    """The HTTP status for ``exc``: from :data:`ERROR_STATUS`, 500 for anything else.

    A :class:`~harmony.errors.SyncFailed` raised because only the database failed (its
    ``__cause__`` is a :class:`~harmony.errors.DatabaseError`) answers with that error's
    status (503), not the 502 of a failed provider.
    """
    if isinstance(exc, SyncFailed) and isinstance(exc.__cause__, DatabaseError):
        return status_for(exc.__cause__)
    for cls in type(exc).__mro__:
        status = ERROR_STATUS.get(cls)
        if status is not None:
            return status
    return 500


class ErrorDetail(BaseModel):
    """What went wrong: the error's class name and its message."""

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    report: dict[str, Any] | None = None
    """A failed sync's report (what the other providers did); absent otherwise."""


class ErrorBody(BaseModel):
    """The JSON body of every error response: ``{"error": {"type": ..., "message": ...}}``."""

    model_config = ConfigDict(frozen=True)

    error: ErrorDetail


def error_body(exc: BaseException) -> dict[str, Any]:
    """The JSON body for ``exc``.

    A :class:`~harmony.errors.HarmonyError` is described by its class name and message
    (harmony's messages never hold secrets); a :class:`~harmony.errors.SyncFailed` adds its
    ``report``. Any other exception gives a fixed ``internal server error``: its text may
    hold anything and stays in the server's log.
    """
    if not isinstance(exc, HarmonyError):
        return {"error": {"type": INTERNAL_ERROR_TYPE, "message": _INTERNAL_MESSAGE}}
    detail: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
    if isinstance(exc, SyncFailed):
        detail["report"] = exc.report.model_dump(mode="json")
    return {"error": detail}


def precondition_failed_body() -> dict[str, Any]:
    """The body of a ``412 Precondition Failed`` answer, in the same shape as errors."""
    return {
        "error": {
            "type": "PreconditionFailed",
            "message": "the representation changed: If-Match or If-Unmodified-Since does "
            "not hold; fetch it again and retry with its current ETag",
        }
    }


# -- dates ------------------------------------------------------------------------------------

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_LONG_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "|".join(_MONTHS)
_TIME = r"(\d\d):(\d\d):(\d\d)"
# RFC 9110 5.6.7: the preferred IMF-fixdate and the two obsolete forms recipients accept.
_IMF_FIXDATE = re.compile(rf"(?:{_DAYS}), (\d\d) ({_MONTH}) (\d{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(rf"(?:{_LONG_DAYS}), (\d\d)-({_MONTH})-(\d\d) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"(?:{_DAYS}) ({_MONTH}) ( \d|\d\d) {_TIME} (\d{{4}})")


def format_http_date(value: datetime) -> str:
    """``value`` as an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``); it must be aware."""
    return format_datetime(_utc(value), usegmt=True)


def parse_http_date(value: str, *, now: datetime | None = None) -> datetime | None:
    """An HTTP-date (any of RFC 9110's three forms) as an aware UTC datetime, else ``None``.

    A two-digit rfc850 year more than 50 years ahead of ``now`` (the current time by
    default) is read as the most recent past year with those digits, as RFC 9110 requires.
    Anything else, a list of dates included, is not a date.
    """
    text = value.strip()
    try:
        if match := _IMF_FIXDATE.fullmatch(text):
            day, month, year, hh, mm, ss = match.groups()
            return _date(int(year), month, int(day), hh, mm, ss)
        if match := _ASCTIME_DATE.fullmatch(text):
            month, day, hh, mm, ss, year = match.groups()
            return _date(int(year), month, int(day), hh, mm, ss)
        if match := _RFC850_DATE.fullmatch(text):
            day, month, yy, hh, mm, ss = match.groups()
            this_year = (now or datetime.now(UTC)).year
            year = this_year - this_year % 100 + int(yy)
            if year > this_year + 50:
                year -= 100
            return _date(year, month, int(day), hh, mm, ss)
    except ValueError:  # 31 Feb, hour 24, a leap second: not a date
        return None
    return None


def _date(year: int, month: str, day: int, hh: str, mm: str, ss: str) -> datetime:
    return datetime(year, _MONTHS.index(month) + 1, day, int(hh), int(mm), int(ss), tzinfo=UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(
            f"last_modified {value.isoformat()} has no time zone; pass an aware datetime "
            "(harmony's timestamps are UTC)"
        )
    return value.astimezone(UTC)


# -- entity-tags ------------------------------------------------------------------------------

# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


@dataclass(frozen=True, slots=True)
class EntityTag:
    """One entity-tag: its opaque value (without quotes) and whether it is weak."""

    opaque: str
    weak: bool = False

    @classmethod
    def parse(cls, value: str) -> EntityTag | None:
        """``"abc"`` or ``W/"abc"``; ``None`` for anything that is no entity-tag."""
        match = _ENTITY_TAG.fullmatch(value.strip())
        return cls(match.group(2), bool(match.group(1))) if match else None

    def strong_match(self, other: EntityTag) -> bool:
        """RFC 9110 8.8.3.2: both strong and character for character the same."""
        return not self.weak and not other.weak and self.opaque == other.opaque

    def weak_match(self, other: EntityTag) -> bool:
        """RFC 9110 8.8.3.2: the same opaque value, weak or not."""
        return self.opaque == other.opaque

    def __str__(self) -> str:
        return f'{"W/" if self.weak else ""}"{self.opaque}"'


def parse_entity_tags(value: str) -> Literal["*"] | list[EntityTag]:
    """An ``If-Match``/``If-None-Match`` value: ``"*"``, or its entity-tags in order.

    Members are separated by commas (a comma may sit inside a tag's quotes); members that
    are not entity-tags (unquoted words, stray text) are skipped, so they match nothing.
    ``*`` counts only as the whole field value.
    """
    if value.strip() == "*":
        return "*"
    tags: list[EntityTag] = []
    position, end = 0, len(value)
    while position < end:
        while position < end and value[position] in " \t,":
            position += 1
        match = _ENTITY_TAG.match(value, position)
        if match is not None:
            after = match.end()
            while after < end and value[after] in " \t":
                after += 1
            if after == end or value[after] == ",":
                tags.append(EntityTag(match.group(2), bool(match.group(1))))
                position = after
                continue
        comma = value.find(",", position + 1)  # a malformed member: skip to the next one
        position = end if comma < 0 else comma
    return tags


# -- conditional requests ---------------------------------------------------------------------


class _HeaderList(Protocol):
    def getlist(self, key: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class Preconditions:
    """The conditional header fields of one request; ``None`` where a field is absent.

    A field sent several times is one comma-separated list (RFC 9110 5.3), so repeated
    ``If-None-Match`` lines combine and repeated date fields stop being valid dates.
    """

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_unmodified_since: str | None = None

    @classmethod
    def from_headers(
        cls, headers: _HeaderList | Mapping[str, str] | Iterable[tuple[bytes, bytes]]
    ) -> Preconditions:
        """Read the fields from a request's headers.

        ``headers`` is a framework's header object with ``getlist`` (Starlette, Werkzeug,
        ...), a mapping of names to values (names compared case-insensitively), or an
        ASGI scope's raw ``headers`` list of ``(name, value)`` byte pairs.
        """
        values: dict[str, list[str]] = {}
        if hasattr(headers, "getlist"):
            for name in ("if-match", "if-none-match", "if-modified-since", "if-unmodified-since"):
                values[name] = list(headers.getlist(name))
        elif isinstance(headers, Mapping):
            for name, value in headers.items():
                values.setdefault(str(name).lower(), []).append(str(value))
        else:
            for raw_name, raw_value in headers:
                values.setdefault(raw_name.decode("latin-1").lower(), []).append(
                    raw_value.decode("latin-1")
                )

        def joined(name: str) -> str | None:
            found = values.get(name)
            return ", ".join(found) if found else None

        return cls(
            if_match=joined("if-match"),
            if_none_match=joined("if-none-match"),
            if_modified_since=joined("if-modified-since"),
            if_unmodified_since=joined("if-unmodified-since"),
        )


@dataclass(frozen=True, slots=True)
class Conditional:
    """What to answer a conditional request with.

    ``status`` is 200 (send the representation), 304 (Not Modified, no body) or 412
    (Precondition Failed). ``headers`` are the response header fields to set: for 200 the
    validators and ``Cache-Control``; for 304 the subset RFC 9110 15.4.5 asks for.
    """

    status: Literal[200, 304, 412]
    headers: Mapping[str, str] = field(default_factory=dict)


def check_conditional(
    preconditions: Preconditions,
    *,
    etag: str | None,
    last_modified: datetime | None = None,
    method: str = "GET",
    cache_control: str | None = "no-cache",
    now: datetime | None = None,
) -> Conditional:
    """Evaluate a request's preconditions against the current representation (RFC 9110 13.2.2).

    ``etag`` is the representation's entity-tag (harmony's are strong, e.g. ``page.etag``);
    ``last_modified`` its modification time, or ``None`` when it has no reliable one (a
    list page's newest ``updated_at`` does not move when an item leaves the page, so pass
    ``None`` there). In order:

    1. ``If-Match`` (strong comparison; ``*`` matches any representation): false → 412.
    2. Without ``If-Match``, ``If-Unmodified-Since``: modified after the date → 412.
    3. ``If-None-Match`` (weak comparison; ``*`` matches any): a match → 304 for GET and
       HEAD, 412 for other methods.
    4. Without ``If-None-Match``, for GET and HEAD, ``If-Modified-Since``: not modified
       after the date → 304.

    Dates compare at whole seconds, the resolution of HTTP-dates; invalid dates are
    ignored. ``cache_control`` (``no-cache`` by default: clients revalidate, a 304 is
    cheap) is sent with 200 and 304; ``None`` sends none.
    """
    tag = EntityTag.parse(etag) if etag is not None else None
    if etag is not None and tag is None:
        raise InvalidInputError(
            f"etag {etag!r:.80} is not an entity-tag; quote it, e.g. '\"v1\"' or 'W/\"v1\"'"
        )
    modified = _utc(last_modified).replace(microsecond=0) if last_modified is not None else None
    safe = method.upper() in ("GET", "HEAD")

    headers: dict[str, str] = {}
    if etag is not None:
        headers["ETag"] = etag
    if cache_control is not None:
        headers["Cache-Control"] = cache_control
    full = dict(headers)
    if modified is not None:
        full["Last-Modified"] = format_http_date(modified)
    # RFC 9110 15.4.5: without an ETag, Last-Modified helps caches update a 304's entry.
    not_modified_headers = headers if etag is not None else full

    if preconditions.if_match is not None:
        if not _any_match(preconditions.if_match, tag, strong=True):
            return Conditional(412)
    elif preconditions.if_unmodified_since is not None and modified is not None:
        date = parse_http_date(preconditions.if_unmodified_since, now=now)
        if date is not None and modified > date:
            return Conditional(412)

    if preconditions.if_none_match is not None:
        if _any_match(preconditions.if_none_match, tag, strong=False):
            return Conditional(304, not_modified_headers) if safe else Conditional(412)
    elif safe and preconditions.if_modified_since is not None and modified is not None:
        date = parse_http_date(preconditions.if_modified_since, now=now)
        if date is not None and modified <= date:
            return Conditional(304, not_modified_headers)
    return Conditional(200, full)


def _any_match(field_value: str, current: EntityTag | None, *, strong: bool) -> bool:
    tags = parse_entity_tags(field_value)
    if tags == "*":
        return True  # the representation exists: the caller has it in hand
    if current is None:
        return False
    return any(t.strong_match(current) if strong else t.weak_match(current) for t in tags)
