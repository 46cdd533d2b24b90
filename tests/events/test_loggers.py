"""The event sinks: logging, recording, null, fan-out and activity.

They receive events that ``ctx.events`` validated; a bad event is refused there, before any
sink sees it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from harmony import HarmonyContext
from harmony._events import (
    EVENTS,
    ActivityEventLogger,
    FanOutEventLogger,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
    SafeEventLogger,
)
from harmony.errors import EventValidationError
from harmony.testing import ManualClock, capture_events
from harmony.testing.pytest_plugin import SettingsFactory


def _fields(event: str, **extra: Any) -> dict[str, Any]:
    """``extra`` plus every field the registry requires for ``event`` (if it is registered)."""
    spec = EVENTS.get(event)
    required = {f: {} if f == "meta" else "x" for f in spec.required} if spec else {}
    return {**required, **extra}


class _ListSink:
    """An EventLogger that stores whatever it gets."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, /, **fields: Any) -> None:
        self.events.append((event, fields))

    def wants(self, event: str, status: str | None = None) -> bool:
        return True


class _BrokenSink:
    """An EventLogger whose backend is down."""

    def __init__(self, message: str = "sink is down") -> None:
        self.error = RuntimeError(message)

    def emit(self, event: str, /, **fields: Any) -> None:
        raise self.error

    def wants(self, event: str, status: str | None = None) -> bool:
        return True


def _new_rows(ctx: HarmonyContext, before: set[int]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.type, e.status, dict(e.details))
        for e in reversed(ctx.activity.list(limit=1000).items)
        if e.id not in before
    ]


def _ids(ctx: HarmonyContext) -> set[int]:
    return {e.id for e in ctx.activity.list(limit=1000)}


# --- LoggingEventLogger ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "logger_name"),
    [
        ("orchestrator.x", "harmony.orchestrator.metrics"),
        ("api.x", "harmony.api"),
        ("worker.x", "harmony.worker"),
        ("worker.playlists.cache.invalidate", "harmony.worker"),
        ("sync.run", "harmony.sync"),
    ],
)
def test_logging_logger_routes_each_family_to_its_logger(
    caplog: pytest.LogCaptureFixture, event: str, logger_name: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="harmony")
    LoggingEventLogger().emit(event, **_fields(event, status="ok"))
    assert [(r.name, r.getMessage()) for r in caplog.records] == [(logger_name, event)]


def test_logging_logger_puts_fields_on_the_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="harmony")
    LoggingEventLogger().emit("api.x", status="ok", duration_ms=1.5, meta={"ids": [1, 2]})
    (record,) = caplog.records
    assert record.event == "api.x"  # type: ignore[attr-defined]
    assert record.status == "ok"  # type: ignore[attr-defined]
    assert record.duration_ms == 1.5  # type: ignore[attr-defined]
    assert record.meta == {"ids": [1, 2]}  # type: ignore[attr-defined]
    assert record.harmony_event == {  # type: ignore[attr-defined]
        "event": "api.x",
        "status": "ok",
        "duration_ms": 1.5,
        "meta": {"ids": [1, 2]},
    }


@pytest.mark.parametrize(
    ("status", "level"),
    [("failed", logging.WARNING), ("ok", logging.INFO), (None, logging.INFO)],
)
def test_logging_logger_level_follows_status(
    caplog: pytest.LogCaptureFixture, status: str | None, level: int
) -> None:
    caplog.set_level(logging.DEBUG, logger="harmony")
    LoggingEventLogger().emit("api.x", status=status)
    assert [r.levelno for r in caplog.records] == [level]


def test_logging_logger_without_status_logs_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="harmony")
    LoggingEventLogger().emit("api.x", count=1)
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_logging_logger_prefix_changes_logger_names(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="host.harmony")
    LoggingEventLogger(prefix="host.harmony").emit("orchestrator.x", status="ok")
    assert [r.name for r in caplog.records] == ["host.harmony.orchestrator.metrics"]


@pytest.mark.parametrize(
    "field", ["msg", "name", "args", "created", "process", "module", "message", "harmony_event"]
)
def test_a_field_named_like_a_record_attribute_is_kept_in_harmony_event_only(
    caplog: pytest.LogCaptureFixture, field: str
) -> None:
    caplog.set_level(logging.INFO, logger="harmony")
    SafeEventLogger(LoggingEventLogger()).emit("api.x", status="ok", **{field: "from the event"})
    (record,) = caplog.records
    assert record.harmony_event == {  # type: ignore[attr-defined]
        "event": "api.x",
        "status": "ok",
        field: "from the event",
    }
    assert record.name == "harmony.api" and record.getMessage() == "api.x"
    assert record.status == "ok"  # type: ignore[attr-defined]
    if field != "harmony_event":
        assert getattr(record, field, None) != "from the event"


def test_the_guard_refuses_a_bad_event_before_the_logging_logger_sees_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(EventValidationError):
        SafeEventLogger(LoggingEventLogger()).emit("api.x", payload=["not", "flat"])
    assert caplog.records == []


# --- RecordingEventLogger -------------------------------------------------------------


def test_recording_logger_keeps_events_in_order_with_fields() -> None:
    rec = RecordingEventLogger()
    rec.emit("a.one", status="ok", n=1)
    rec.emit("b.two", meta={"k": [1]})
    assert [(e.name, dict(e.fields)) for e in rec] == [
        ("a.one", {"status": "ok", "n": 1}),
        ("b.two", {"meta": {"k": [1]}}),
    ]
    assert rec.events[0]["n"] == 1
    assert len(rec) == 2


def test_recording_logger_named_matches_exact_names_and_patterns() -> None:
    rec = RecordingEventLogger()
    for name in ("db.migrate", "db.other", "credentials.set", "credentials.clear_all"):
        rec.emit(name, **_fields(name))
    assert [e.name for e in rec.named("db.migrate")] == ["db.migrate"]
    assert [e.name for e in rec.named("db.*")] == ["db.migrate", "db.other"]
    assert [e.name for e in rec.named("*.set")] == ["credentials.set"]
    assert rec.named("api.*") == []


def test_recording_logger_clear_forgets_everything() -> None:
    rec = RecordingEventLogger()
    rec.emit("a.b")
    rec.clear()
    rec.emit("c.d")
    assert [e.name for e in rec.events] == ["c.d"]


def test_recording_logger_events_is_a_snapshot() -> None:
    rec = RecordingEventLogger()
    rec.emit("a.b")
    rec.events.clear()
    assert len(rec.events) == 1


def test_recording_logger_keeps_fields_read_only() -> None:
    rec = RecordingEventLogger()
    rec.emit("a.b", status="ok")
    with pytest.raises(TypeError):
        rec.events[0].fields["status"] = "changed"  # type: ignore[index]


def test_a_bad_event_reaches_no_recording_through_ctx_events(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    with capture_events(harmony_context) as captured, pytest.raises(EventValidationError):
        harmony_context.events.emit("a.b", payload=[1, 2])
    assert captured.events == [] and harmony_events.named("a.*") == []


def test_recording_logger_keeps_every_event_from_concurrent_threads() -> None:
    rec = RecordingEventLogger()
    threads_n, per_thread = 8, 300
    start = threading.Barrier(threads_n)

    def work(thread: int) -> None:
        start.wait()
        for seq in range(per_thread):
            rec.emit("load.test", worker=thread, seq=seq)
            if seq % 50 == 0:
                rec.named("load.*")  # readers run alongside writers

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(rec) == threads_n * per_thread
    for thread in range(threads_n):
        seqs = [e["seq"] for e in rec.events if e["worker"] == thread]
        assert seqs == list(range(per_thread))


# --- NullEventLogger and FanOutEventLogger --------------------------------------------


def test_null_logger_drops_events_and_wants_none() -> None:
    null = NullEventLogger()
    null.emit("a.b", status="ok")
    assert not null.wants("a.b", "ok")


def test_fan_out_forwards_each_event_to_every_logger() -> None:
    first, second = RecordingEventLogger(), _ListSink()
    FanOutEventLogger(first, second).emit("a.b", status="ok")
    assert [(e.name, dict(e.fields)) for e in first] == [("a.b", {"status": "ok"})]
    assert second.events == [("a.b", {"status": "ok"})]


def test_behind_the_guard_a_bad_event_reaches_no_sink_of_a_fan_out() -> None:
    plain, rec = _ListSink(), RecordingEventLogger()
    with pytest.raises(EventValidationError):
        SafeEventLogger(FanOutEventLogger(plain, rec)).emit("a.b", event="reserved")
    assert plain.events == []
    assert rec.events == []


def test_fan_out_sink_error_does_not_stop_the_others_and_is_reraised() -> None:
    broken, rec = _BrokenSink(), RecordingEventLogger()
    with pytest.raises(RuntimeError) as info:
        FanOutEventLogger(broken, rec).emit("a.b", status="ok")
    assert info.value is broken.error
    assert [e.name for e in rec] == ["a.b"]


def test_fan_out_reraises_the_first_of_several_sink_errors() -> None:
    first, second, rec = _BrokenSink("first"), _BrokenSink("second"), RecordingEventLogger()
    with pytest.raises(RuntimeError) as info:
        FanOutEventLogger(first, rec, second).emit("a.b")
    assert info.value is first.error
    assert len(rec) == 1


# --- ActivityEventLogger --------------------------------------------------------------


def test_activity_logger_persists_only_chosen_names_and_patterns(
    harmony_context: HarmonyContext,
) -> None:
    inner = RecordingEventLogger()
    logger = ActivityEventLogger(harmony_context.activity, ["import.*", "probe.exact"], inner=inner)
    before = _ids(harmony_context)
    for name in ("import.run", "probe.exact", "probe.other", "api.request_x", "importx.run"):
        logger.emit(name, status="ok")
    assert [row[0] for row in _new_rows(harmony_context, before)] == ["import.run", "probe.exact"]
    assert [e.name for e in inner] == [
        "import.run",
        "probe.exact",
        "probe.other",
        "api.request_x",
        "importx.run",
    ]


def test_activity_logger_maps_status_and_details(harmony_context: HarmonyContext) -> None:
    logger = ActivityEventLogger(harmony_context.activity, ["import.*"])
    before = _ids(harmony_context)
    logger.emit("import.run", status="partial", playlists=2, meta={"ids": ["a", "b"]})
    logger.emit("import.tick", count=1)
    assert _new_rows(harmony_context, before) == [
        ("import.run", "partial", {"playlists": 2, "meta": {"ids": ["a", "b"]}}),
        ("import.tick", "ok", {"count": 1}),
    ]


def test_context_persists_the_events_named_in_its_settings(
    harmony_settings_factory: SettingsFactory, harmony_clock: ManualClock
) -> None:
    settings = harmony_settings_factory(activity_events=("import.*",))
    rec = RecordingEventLogger()
    with HarmonyContext(settings, events=rec, clock=harmony_clock) as ctx:
        ctx.migrate()
        ctx.events.emit("import.run", status="ok", playlists=1)
        ctx.events.emit("other.thing", status="ok")
        rows = [(e.type, e.timestamp) for e in ctx.activity.list()]
    assert rows == [("import.run", harmony_clock.now())]
    assert [e.name for e in rec] == ["db.migrate", "import.run", "other.thing"]


def test_activity_logger_reports_a_refused_row_and_does_not_raise(
    harmony_context: HarmonyContext,
) -> None:
    inner = RecordingEventLogger()
    logger = ActivityEventLogger(harmony_context.activity, ["import.*"], inner=inner)
    before = _ids(harmony_context)
    logger.emit("import.run", status="s" * 40)  # longer than activity status allows
    assert _new_rows(harmony_context, before) == []
    (failure,) = inner.named("events.persist_failed")
    assert failure["failed_event"] == "import.run"
    assert failure["status"] == "failed"
    assert failure["error"].startswith("InvalidInputError: ")
    assert [e.name for e in inner] == ["import.run", "events.persist_failed"]


def test_activity_logger_reports_a_database_failure_and_does_not_raise(
    harmony_settings_factory: SettingsFactory,
) -> None:
    inner = RecordingEventLogger()
    with HarmonyContext(harmony_settings_factory(), events=NullEventLogger()) as unmigrated:
        logger = ActivityEventLogger(unmigrated.activity, ["import.*"], inner=inner)
        logger.emit("import.run", status="ok")  # the activity_events table does not exist
    (failure,) = inner.named("events.persist_failed")
    assert failure["failed_event"] == "import.run"
    assert "activity_events" in failure["error"]
    assert "\n" not in failure["error"]


def test_behind_the_guard_a_bad_event_reaches_neither_inner_nor_storage(
    harmony_context: HarmonyContext,
) -> None:
    inner = _ListSink()
    logger = ActivityEventLogger(harmony_context.activity, ["import.*"], inner=inner)
    before = _ids(harmony_context)
    with pytest.raises(EventValidationError):
        SafeEventLogger(logger).emit("import.run", status="ok", payload={"nested": True})
    assert inner.events == []
    assert _new_rows(harmony_context, before) == []


def test_activity_logger_stores_the_event_when_inner_raises_then_reraises(
    harmony_context: HarmonyContext,
) -> None:
    broken = _BrokenSink()
    logger = ActivityEventLogger(harmony_context.activity, ["import.*"], inner=broken)
    before = _ids(harmony_context)
    with pytest.raises(RuntimeError) as info:
        logger.emit("import.run", status="ok", playlists=3)
    assert info.value is broken.error
    assert _new_rows(harmony_context, before) == [("import.run", "ok", {"playlists": 3})]


def test_a_context_stores_its_events_when_the_hosts_logger_is_down(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory(activity_events=("import.*",))
    with HarmonyContext(settings, events=_BrokenSink()) as ctx:
        ctx.migrate()
        failures = ctx.events.failures
        ctx.events.emit("import.run", status="ok")
        assert [e.type for e in ctx.activity.list(type="import.run")] == ["import.run"]
        assert ctx.events.failures == failures + 1


def test_a_context_reports_a_refused_row_through_ctx_events(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory(activity_events=("import.*", "events.*"))
    rec = RecordingEventLogger()
    with HarmonyContext(settings, events=rec) as ctx:
        ctx.migrate()
        with capture_events(ctx) as captured:
            ctx.events.emit("import.run", status="s" * 40)  # longer than the status column
        names = ["import.run", "events.persist_failed"]
        assert [e.name for e in captured] == names
        assert [e.name for e in rec.named("[ie]*.*")] == names
        (stored,) = ctx.activity.list(type="events.persist_failed")
        assert stored.details["failed_event"] == "import.run"


# --- isolation ------------------------------------------------------------------------


def test_two_contexts_never_see_each_others_events(
    harmony_settings_factory: SettingsFactory,
) -> None:
    rec_a, rec_b = RecordingEventLogger(), RecordingEventLogger()
    with (
        HarmonyContext(harmony_settings_factory(), events=rec_a) as ctx_a,
        HarmonyContext(harmony_settings_factory(), events=rec_b) as ctx_b,
    ):
        ctx_a.migrate()
        ctx_b.migrate()
        rec_a.clear()
        rec_b.clear()
        ctx_a.credentials.set("spotify", token="a-token")
        ctx_b.credentials.clear("tidal")
        ctx_b.events.emit("probe.only_b", status="ok")
        assert [e.name for e in rec_a] == ["credentials.set"]
        assert [e.name for e in rec_b] == ["credentials.clear", "probe.only_b"]
        assert [e.type for e in ctx_a.activity.list(type="credentials.clear")] == []
        assert [e.type for e in ctx_b.activity.list(type="credentials.set")] == []
