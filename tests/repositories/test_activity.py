"""ctx.activity: record, filter, keyset pages, streaming and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from harmony import ActivityEvent, HarmonyContext, HarmonySettings
from harmony.errors import InvalidInputError
from harmony.testing import ManualClock
from harmony.testing.pytest_plugin import SettingsFactory


@pytest.fixture
def harmony_settings(harmony_settings_factory: SettingsFactory) -> HarmonySettings:
    """Store no events, so each test starts with an empty activity log."""
    return harmony_settings_factory(activity_events=())


def _count(ctx: HarmonyContext) -> int:
    return sum(1 for _ in ctx.activity.iter())


def _record_many(
    ctx: HarmonyContext, clock: ManualClock, n: int, type_: str = "test.entry"
) -> list[ActivityEvent]:
    """``n`` entries one second apart, oldest first."""
    entries = []
    for i in range(n):
        clock.advance(1)
        entries.append(ctx.activity.record(type_, "ok", {"i": i}))
    return entries


def _all_pages(ctx: HarmonyContext, limit: int, **filters: Any) -> list[ActivityEvent]:
    items: list[ActivityEvent] = []
    cursor = None
    while True:
        page = ctx.activity.list(limit=limit, cursor=cursor, **filters)
        items.extend(page)
        cursor = page.next_cursor
        if cursor is None:
            return items


# --- record and list ------------------------------------------------------------------


def test_record_returns_the_stored_entry_stamped_by_the_clock(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    entry = harmony_context.activity.record("sync.run", "ok", {"playlists": 3})
    assert entry.timestamp == harmony_clock.now()
    assert (entry.type, entry.status, dict(entry.details)) == ("sync.run", "ok", {"playlists": 3})
    assert list(harmony_context.activity.list()) == [entry]


def test_list_returns_newest_first(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    entries = _record_many(harmony_context, harmony_clock, 3)
    assert list(harmony_context.activity.list()) == entries[::-1]


def test_equal_timestamps_are_ordered_by_id_newest_first(
    harmony_context: HarmonyContext,
) -> None:
    entries = [harmony_context.activity.record("same.time", "ok", {"i": i}) for i in range(4)]
    assert len({e.timestamp for e in entries}) == 1
    listed = harmony_context.activity.list()
    assert [e.id for e in listed] == sorted((e.id for e in entries), reverse=True)


def test_timestamps_come_back_aware_utc(harmony_context: HarmonyContext) -> None:
    plus_five = timezone(timedelta(hours=5))
    when = datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=plus_five)
    harmony_context.activity.record("tz.test", "ok", timestamp=when)
    (stored,) = harmony_context.activity.list()
    assert stored.timestamp == when
    assert stored.timestamp.utcoffset() == timedelta(0)
    assert stored.timestamp.hour == 7


def test_details_round_trip_nested_json(harmony_context: HarmonyContext) -> None:
    details = {"ids": [1, 2], "nested": {"ok": True, "none": None}, "text": "naïve ✓"}
    harmony_context.activity.record("json.test", "ok", details)
    assert dict(harmony_context.activity.list()[0].details) == details


def test_missing_details_are_stored_as_an_empty_mapping(harmony_context: HarmonyContext) -> None:
    harmony_context.activity.record("no.details", "ok")
    assert dict(harmony_context.activity.list()[0].details) == {}


def test_record_in_a_session_rolls_back_with_it(harmony_context: HarmonyContext) -> None:
    with pytest.raises(RuntimeError), harmony_context.db.transaction() as tx:
        harmony_context.activity.record("tx.test", "ok", session=tx)
        raise RuntimeError("host transaction fails")
    assert _count(harmony_context) == 0


# --- filters --------------------------------------------------------------------------


def test_list_filters_by_type_and_status(harmony_context: HarmonyContext) -> None:
    record = harmony_context.activity.record
    a = record("sync.run", "ok")
    b = record("sync.run", "failed")
    c = record("db.migrate", "ok")
    activity = harmony_context.activity
    assert {e.id for e in activity.list(type="sync.run")} == {a.id, b.id}
    assert {e.id for e in activity.list(status="ok")} == {a.id, c.id}
    assert [e.id for e in activity.list(type="sync.run", status="failed")] == [b.id]
    assert list(activity.list(type="nothing.here")) == []


def test_since_is_inclusive_and_until_is_exclusive(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    entries = _record_many(harmony_context, harmony_clock, 5)
    stamps = [e.timestamp for e in entries]
    activity = harmony_context.activity
    assert [e.details["i"] for e in activity.list(since=stamps[2])] == [4, 3, 2]
    assert [e.details["i"] for e in activity.list(until=stamps[2])] == [1, 0]
    assert [e.details["i"] for e in activity.list(since=stamps[1], until=stamps[3])] == [2, 1]


def test_since_in_another_timezone_means_the_same_instant(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    entries = _record_many(harmony_context, harmony_clock, 3)
    since = entries[1].timestamp.astimezone(timezone(timedelta(hours=-7)))
    assert [e.id for e in harmony_context.activity.list(since=since)] == [
        entries[2].id,
        entries[1].id,
    ]


# --- keyset pagination ----------------------------------------------------------------


def test_pages_cover_everything_once_newest_first(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    expected = []
    for i in range(25):  # groups of three share a timestamp, so ties span page boundaries
        if i % 3 == 0:
            harmony_clock.advance(1)
        expected.append(harmony_context.activity.record("page.test", "ok", {"i": i}))
    first = harmony_context.activity.list(limit=10)
    assert len(first) == 10 and first.next_cursor is not None
    assert _all_pages(harmony_context, limit=10) == expected[::-1]


def test_last_page_has_no_cursor(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    _record_many(harmony_context, harmony_clock, 4)
    assert harmony_context.activity.list(limit=4).next_cursor is None
    assert harmony_context.activity.list(limit=3).next_cursor is not None


def test_pages_keep_their_filters(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    wanted = []
    for i in range(12):
        harmony_clock.advance(1)
        entry = harmony_context.activity.record("kept" if i % 2 else "other", "ok", {"i": i})
        if i % 2:
            wanted.append(entry)
    assert _all_pages(harmony_context, limit=2, type="kept") == wanted[::-1]


def test_rows_inserted_between_page_reads_cause_no_duplicates_or_gaps(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    activity = harmony_context.activity
    original = _record_many(harmony_context, harmony_clock, 12)
    page = activity.list(limit=5)
    seen = list(page)
    _record_many(harmony_context, harmony_clock, 3, "newer")  # above the cursor
    older = activity.record("older", "ok", timestamp=original[0].timestamp - timedelta(hours=1))
    while page.next_cursor is not None:
        page = activity.list(limit=5, cursor=page.next_cursor)
        seen.extend(page)
    assert [e.id for e in seen] == [e.id for e in original[::-1]] + [older.id]


# --- invalid input --------------------------------------------------------------------


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("!!!", id="not-base64"),
        pytest.param("", id="empty"),
        pytest.param(_b64("[1]"), id="one-item"),
        pytest.param(_b64("null"), id="null"),
        pytest.param(_b64('["not a date", 1]'), id="bad-date"),
        pytest.param(_b64('["2024-01-01T00:00:00", 1]'), id="naive-date"),
        pytest.param(_b64('["2024-01-01T00:00:00+00:00", 1e400]'), id="inf-id"),
        pytest.param(_b64(f'["2024-01-01T00:00:00+00:00", {10**30}]'), id="huge-id"),
    ],
)
def test_invalid_cursor_is_rejected(harmony_context: HarmonyContext, cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="cursor"):
        harmony_context.activity.list(cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_limit_outside_1_to_1000_is_rejected(harmony_context: HarmonyContext, limit: int) -> None:
    with pytest.raises(InvalidInputError, match="limit"):
        harmony_context.activity.list(limit=limit)


@pytest.mark.parametrize("limit", [1, 1000])
def test_limit_bounds_are_accepted(harmony_context: HarmonyContext, limit: int) -> None:
    harmony_context.activity.record("x.y", "ok")
    assert len(harmony_context.activity.list(limit=limit)) == 1


@pytest.mark.parametrize(
    ("type_", "status", "details"),
    [
        ("", "ok", None),
        ("   ", "ok", None),
        ("t" * 129, "ok", None),
        ("x.y", "", None),
        ("x.y", "s" * 33, None),
        ("x.y", "ok", {"when": datetime(2024, 1, 1, tzinfo=UTC)}),
        ("x.y", "ok", {"nan": float("nan")}),
        ("x.y", "ok", [("a", 1)]),
    ],
    ids=[
        "empty-type",
        "blank-type",
        "long-type",
        "empty-status",
        "long-status",
        "datetime-details",
        "nan-details",
        "list-details",
    ],
)
def test_invalid_record_is_rejected_and_writes_nothing(
    harmony_context: HarmonyContext, type_: str, status: str, details: Any
) -> None:
    harmony_context.activity.record("before", "ok")
    with pytest.raises(InvalidInputError):
        harmony_context.activity.record(type_, status, details)
    assert _count(harmony_context) == 1


def test_naive_timestamp_is_rejected_and_writes_nothing(harmony_context: HarmonyContext) -> None:
    with pytest.raises(InvalidInputError, match="naive"):
        harmony_context.activity.record("x.y", "ok", timestamp=datetime(2024, 1, 1))
    assert _count(harmony_context) == 0


@pytest.mark.parametrize("bound", ["since", "until"])
def test_naive_filter_bound_is_rejected(harmony_context: HarmonyContext, bound: str) -> None:
    with pytest.raises(InvalidInputError, match=bound):
        bounds: dict[str, Any] = {bound: datetime(2024, 1, 1)}
        harmony_context.activity.list(**bounds)


# --- export ---------------------------------------------------------------------------


def test_csv_export_has_a_header_and_one_row_per_entry(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    activity = harmony_context.activity
    ok = activity.record("sync.run", "ok", {"ids": [1, 2], "note": 'a "quoted", text'})
    harmony_clock.advance(1)
    activity.record("db.migrate", "ok")
    out = io.StringIO()
    activity.export(out, "csv", type="sync.run")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["id", "timestamp", "type", "status", "details"]
    ((id_, stamp, type_, status, details),) = rows[1:]
    assert (int(id_), type_, status) == (ok.id, "sync.run", "ok")
    assert datetime.fromisoformat(stamp) == ok.timestamp
    assert json.loads(details) == {"ids": [1, 2], "note": 'a "quoted", text'}


@pytest.mark.parametrize("format_", ["csv", "jsonl"])
def test_export_returns_the_entry_count(
    harmony_context: HarmonyContext, harmony_clock: ManualClock, format_: Any
) -> None:
    _record_many(harmony_context, harmony_clock, 3)
    assert harmony_context.activity.export(io.StringIO(), format_) == 3


def test_iter_export_yields_one_csv_line_per_string(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    _record_many(harmony_context, harmony_clock, 2)
    lines = list(harmony_context.activity.iter_export("csv"))
    assert len(lines) == 3
    assert all(line.count("\n") == 1 for line in lines)


def test_jsonl_export_writes_one_json_object_per_line(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    entries = _record_many(harmony_context, harmony_clock, 4)
    harmony_context.activity.record("test.entry", "failed", {"i": 99})
    out = io.StringIO()
    count = harmony_context.activity.export(out, "jsonl", status="ok", since=entries[1].timestamp)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines) == 3
    assert [line["details"]["i"] for line in lines] == [3, 2, 1]
    assert lines[0] == {
        "id": entries[3].id,
        "timestamp": entries[3].timestamp.isoformat(),
        "type": "test.entry",
        "status": "ok",
        "details": {"i": 3},
    }


def test_csv_export_of_an_empty_log_is_only_the_header(harmony_context: HarmonyContext) -> None:
    out = io.StringIO()
    assert harmony_context.activity.export(out, "csv") == 0
    assert out.getvalue() == "id,timestamp,type,status,details\n"


def test_jsonl_export_of_an_empty_log_is_empty(harmony_context: HarmonyContext) -> None:
    out = io.StringIO()
    assert harmony_context.activity.export(out, "jsonl") == 0
    assert out.getvalue() == ""


def test_unknown_export_format_is_rejected(harmony_context: HarmonyContext) -> None:
    with pytest.raises(InvalidInputError, match="format"):
        harmony_context.activity.export(io.StringIO(), "xml")  # type: ignore[arg-type]


# --- streaming ------------------------------------------------------------------------


def test_iter_streams_every_row_newest_first(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    n = 3000
    with harmony_context.db.transaction() as tx:
        for i in range(n):
            harmony_clock.advance(0.001)
            harmony_context.activity.record("bulk.row", "ok", {"i": i}, session=tx)
    streamed = [e.details["i"] for e in harmony_context.activity.iter(type="bulk.row")]
    assert streamed == list(range(n - 1, -1, -1))


def test_closing_a_partly_read_iterator_returns_its_connection(
    harmony_context: HarmonyContext, harmony_clock: ManualClock
) -> None:
    _record_many(harmony_context, harmony_clock, 5)
    stream = harmony_context.activity.iter()
    assert next(stream).details["i"] == 4
    assert harmony_context.db.checked_out_connections() == 1
    stream.close()  # type: ignore[attr-defined]  # iter() is a generator
    assert harmony_context.db.checked_out_connections() == 0
