"""The activity log: record, filter, page (keyset, newest first) and export entries."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Literal

from sqlalchemy import Select, and_, insert, or_, select
from sqlalchemy.orm import Session

from harmony._clock import Clock, ensure_utc
from harmony._db.engine import Database
from harmony._db.models import ActivityEventRow
from harmony._repositories.paging import Page
from harmony._validation import check_datetime, check_int, check_json
from harmony._validation import check_text as _valid_text
from harmony.errors import InvalidInputError

__all__ = ["ActivityEvent", "ActivityPage", "ActivityRepository", "ExportFormat"]

ExportFormat = Literal["csv", "jsonl"]
_MAX_LIMIT = 1000
_STREAM_BATCH = 500
_CSV_COLUMNS = ("id", "timestamp", "type", "status", "details")


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One stored activity entry."""

    id: int
    timestamp: datetime
    type: str
    status: str
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamp in ISO 8601)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp.isoformat(),
            "type": self.type,
            "status": self.status,
            "details": dict(self.details),
        }


class ActivityPage(Page[ActivityEvent, str]):
    """A page of activity entries, newest first (cursor: an opaque string)."""

    __slots__ = ()


class ActivityRepository:
    """``ctx.activity``: the activity log in ``activity_events``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def __repr__(self) -> str:
        return f"ActivityRepository({self._db!r})"

    def record(
        self,
        type: str,
        status: str,
        details: Mapping[str, Any] | None = None,
        *,
        timestamp: datetime | None = None,
        session: Session | None = None,
    ) -> ActivityEvent:
        """Store one entry (in ``session``'s transaction when given) and return it.

        Raises:
            InvalidInputError: empty or over-long ``type``/``status``, or ``details`` that
                is not a JSON-serialisable mapping. Nothing is written.
        """
        _check_text("type", type, 128)
        _check_text("status", status, 32)
        payload = _json_mapping(details)
        when = (
            check_datetime("timestamp", timestamp) if timestamp is not None else self._clock.now()
        )
        values = {"timestamp": when, "type": type, "status": status, "details": payload}
        stmt = insert(ActivityEventRow).values(**values).returning(ActivityEventRow.id)
        if session is not None:
            new_id = session.execute(stmt).scalar_one()
        else:
            with self._db.transaction() as tx:
                new_id = tx.execute(stmt).scalar_one()
        return ActivityEvent(new_id, when, type, status, payload)

    def list(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ActivityPage:
        """Entries newest first, filtered; ``since`` inclusive, ``until`` exclusive.

        Pages are keyset-based: pass the previous page's ``next_cursor`` as ``cursor``.
        ``limit`` is 1..1000.
        """
        limit = check_int("limit", limit, low=1, high=_MAX_LIMIT)
        stmt = self._select(type, status, since, until)
        if cursor is not None:
            at, last_id = _decode_cursor(cursor)
            stmt = stmt.where(
                or_(
                    ActivityEventRow.timestamp < at,
                    and_(ActivityEventRow.timestamp == at, ActivityEventRow.id < last_id),
                )
            )
        with self._db.connect() as conn:
            rows = conn.execute(stmt.limit(limit + 1)).all()
        items = [_event(row) for row in rows[:limit]]
        next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
        return ActivityPage(items, next_cursor)

    def iter(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Generator[ActivityEvent, None, None]:
        """Every matching entry, newest first, streamed in batches (constant memory).

        The generator holds a database connection until it is exhausted or closed.
        """
        return self._stream(self._select(type, status, since, until))

    def _stream(self, stmt: Select[Any]) -> Generator[ActivityEvent, None, None]:
        with self._db.connect() as conn:
            result = conn.execution_options(yield_per=_STREAM_BATCH).execute(stmt)
            for row in result:
                yield _event(row)

    def iter_export(
        self,
        format: ExportFormat = "csv",
        *,
        type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[str]:
        """Matching entries as CSV (with a header line) or JSON lines, one string per line.

        Raises:
            InvalidInputError: an unknown ``format`` (at the call, not on first iteration).
        """
        if format not in ("csv", "jsonl"):
            raise InvalidInputError(f"export format must be 'csv' or 'jsonl', got {format!r}")
        entries = self.iter(type=type, status=status, since=since, until=until)
        return _jsonl_lines(entries) if format == "jsonl" else _csv_lines(entries)

    def export(
        self,
        dest: IO[str],
        format: ExportFormat = "csv",
        *,
        type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Write matching entries to ``dest`` as CSV or JSON lines; return the entry count."""
        count = 0
        for line in self.iter_export(format, type=type, status=status, since=since, until=until):
            dest.write(line)
            count += 1
        return count - 1 if format == "csv" else count

    def _select(
        self,
        type: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> Select[Any]:
        row = ActivityEventRow
        stmt = select(row.id, row.timestamp, row.type, row.status, row.details)
        if type is not None:
            stmt = stmt.where(row.type == _valid_text("type", type, max_length=128))
        if status is not None:
            stmt = stmt.where(row.status == _valid_text("status", status, max_length=32))
        if since is not None:
            stmt = stmt.where(row.timestamp >= check_datetime("since", since))
        if until is not None:
            stmt = stmt.where(row.timestamp < check_datetime("until", until))
        return stmt.order_by(row.timestamp.desc(), row.id.desc())


def _jsonl_lines(entries: Iterator[ActivityEvent]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry.to_dict(), separators=(",", ":"), sort_keys=True) + "\n"


def _csv_lines(entries: Iterator[ActivityEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    yield _drain(buffer)  # the header is a line of its own
    for entry in entries:
        row = entry.to_dict()
        row["details"] = json.dumps(row["details"], separators=(",", ":"), sort_keys=True)
        writer.writerow([row[c] for c in _CSV_COLUMNS])
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _event(row: Any) -> ActivityEvent:
    return ActivityEvent(row.id, row.timestamp, row.type, row.status, row.details or {})


def _check_text(name: str, value: Any, max_length: int) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise InvalidInputError(
            f"activity {name} must be a non-empty string of at most {max_length} "
            f"characters, got {value!r:.80}"
        )
    _valid_text(f"activity {name}", value, max_length=max_length)


def _json_mapping(details: Mapping[str, Any] | None) -> dict[str, Any]:
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise InvalidInputError(f"activity details must be a mapping, got {type(details).__name__}")
    return dict(json.loads(check_json("activity details", dict(details))))


def _encode_cursor(entry: ActivityEvent) -> str:
    raw = json.dumps([entry.timestamp.isoformat(), entry.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, last_id = json.loads(raw)
        if type(last_id) is not int or not 0 < last_id < 2**63:
            raise ValueError(f"cursor id {last_id!r:.40} is out of range")
        return ensure_utc(datetime.fromisoformat(stamp)), last_id
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"activity cursor {cursor!r:.80} is not valid; pass the next_cursor of a previous page"
        ) from exc
