"""A raising event logger (a metrics backend that is down) changes no outcome."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from harmony import HarmonyContext, SafeEventLogger
from harmony._events.loggers import RecordingEventLogger
from harmony.errors import EventValidationError
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import ContextFactory


class RaisingEventLogger:
    """Raises on every call, as a sink whose backend is down does."""

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event: str, /, **fields: Any) -> None:
        self.calls += 1
        raise ConnectionError("metrics backend is down")

    def wants(self, event: str, status: str | None = None) -> bool:
        raise ConnectionError("metrics backend is down")


def test_a_raising_logger_is_counted_and_reported_once_per_event_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RaisingEventLogger()
    guard = SafeEventLogger(sink)
    caplog.set_level(logging.DEBUG, logger="harmony.events")
    for _ in range(3):
        guard.emit(
            "worker.job", entity_id=1, job_type="t", status="enqueued", priority=0, deduped=False
        )
    guard.emit("sync.item_rejected", provider="p", kind="track", item_id=None, reason="x")
    assert guard.wants("worker.job") is True  # asking failed: emitting is tried
    assert (sink.calls, guard.failures) == (4, 5)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        "harmony could not deliver worker.job",
        "harmony could not deliver sync.item_rejected",
    ]
    assert all(r.exc_info is not None for r in warnings)


def test_a_malformed_event_still_raises_through_the_guard() -> None:
    guard = SafeEventLogger(RecordingEventLogger())
    with pytest.raises(EventValidationError):
        guard.emit("NotAName", status="ok")
    assert guard.failures == 0


def test_the_guard_forwards_the_wrapped_loggers_own_methods() -> None:
    recording = RecordingEventLogger()
    guard = SafeEventLogger(recording)
    guard.emit("probe.event", status="ok")
    assert [e.name for e in guard.named("probe.*")] == ["probe.event"]
    assert guard.inner is recording


def test_context_events_count_failures_of_the_hosts_logger(
    harmony_context_factory: ContextFactory,
) -> None:
    sink = RaisingEventLogger()
    ctx = harmony_context_factory(events=sink)  # the migration's events failed too
    assert isinstance(ctx.events, SafeEventLogger)
    before = ctx.events.failures
    assert before > 0 and ctx.migrations.current() == ctx.migrations.head()
    ctx.activity.record("note", "ok", {"text": "hello"})
    ctx.credentials.set("spotify", client_id="id", client_secret="secret")  # emits credentials.set
    assert ctx.events.failures > before
    assert ctx.credentials.get("spotify") is not None


def test_a_sync_goes_through_with_a_raising_logger_and_a_raising_progress_callback(
    harmony_context_factory: ContextFactory,
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("p1", "One", tracks=[{"id": "t1", "title": "T", "artists": ["A"]}])
    ctx: HarmonyContext = harmony_context_factory(
        events=RaisingEventLogger(), providers={"memory": provider}
    )

    def progress(_: object) -> None:
        raise RuntimeError("the progress bar broke")

    report = ctx.sync.run_once(progress=progress)
    assert (report.created, report.ok) == (1, True)
    assert [p.name for p in ctx.playlists.list_page().items] == ["One"]
