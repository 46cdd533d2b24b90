"""``capture_events(ctx)``: the events of an existing context, whatever its logger."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from harmony import (
    FanOutEventLogger,
    HarmonyContext,
    InvalidInputError,
    JobContext,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
    Worker,
)
from harmony._events import EventLogger
from harmony.testing import capture_events
from harmony.testing.pytest_plugin import ContextFactory


class _Counting:
    """A host's own sink: counts what it receives, wants everything."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def emit(self, event: str, /, **fields: Any) -> None:
        self.names.append(event)

    def wants(self, event: str, status: str | None = None) -> bool:
        return True


class _Raising:
    def emit(self, event: str, /, **fields: Any) -> None:
        raise ConnectionError("down")

    def wants(self, event: str, status: str | None = None) -> bool:
        return False


@pytest.mark.parametrize(
    "make_logger",
    [
        LoggingEventLogger,
        NullEventLogger,
        RecordingEventLogger,
        _Counting,
        _Raising,
        lambda: FanOutEventLogger(NullEventLogger(), _Counting()),
    ],
    ids=["logging", "null", "recording", "host-sink", "raising", "fan-out"],
)
def test_capture_works_on_a_context_built_with_any_logger_and_restores_it(
    harmony_context_factory: ContextFactory, make_logger: Any
) -> None:
    logger: EventLogger = make_logger()
    ctx = harmony_context_factory(events=logger)
    sink_before = ctx.events.inner
    with capture_events(ctx) as captured:
        ctx.credentials.clear("spotify")
        ctx.events.emit("probe.inside", status="ok")
    ctx.events.emit("probe.after", status="ok")
    assert [(e.name, e["status"]) for e in captured.events] == [
        ("credentials.clear", "absent"),
        ("probe.inside", "ok"),
    ]
    assert ctx.events.inner is sink_before
    assert ctx.events.wants("probe.after") == sink_before.wants("probe.after")
    if isinstance(logger, _Counting):  # the context's own sink got every event as before
        assert logger.names[-3:] == ["credentials.clear", "probe.inside", "probe.after"]


def test_capture_sees_the_migration_of_an_unmigrated_context(
    harmony_context_factory: ContextFactory,
) -> None:
    ctx = harmony_context_factory(events=NullEventLogger(), migrate=False)
    with capture_events(ctx) as captured:
        ctx.migrate()
    (migrated,) = captured.named("db.migrate")
    assert migrated["direction"] == "upgrade" and migrated["to_revision"] == ctx.migrations.head()


def test_capture_records_a_workers_per_job_events_though_the_logger_wants_none(
    harmony_context_factory: ContextFactory,
) -> None:
    ctx = harmony_context_factory(events=NullEventLogger())
    ctx.jobs.enqueue_many([{"type": "quiet.job"} for _ in range(12)])
    ctx.jobs.enqueue("loud.job", {}, priority=1)

    def fail(job: JobContext) -> None:
        raise ValueError("no")

    with capture_events(ctx) as captured:
        worker = Worker(ctx, concurrency=2, batch_size=3)
        worker.register("quiet.job", lambda job: None)
        worker.register("loud.job", fail)
        worker.run_until_idle()
    commits = captured.named("orchestrator.commit")
    assert sorted(e["entity_id"] for e in commits if e["status"] == "completed") == sorted(
        job.id for job in ctx.jobs.list(type="quiet.job").items
    )
    assert len(captured.named("orchestrator.dispatch")) >= 13
    assert {
        e["job_type"] for e in captured.named("orchestrator.lease") if e["status"] == "leased"
    } == {
        "quiet.job",
        "loud.job",
    }


def test_overlapping_captures_each_see_what_was_emitted_while_open(
    harmony_context: HarmonyContext,
) -> None:
    events = harmony_context.events
    first = capture_events(harmony_context)
    second = capture_events(harmony_context)
    a = first.__enter__()
    events.emit("probe.one")
    b = second.__enter__()
    events.emit("probe.two")
    first.__exit__(None, None, None)  # closed before the capture opened after it
    events.emit("probe.three")
    second.__exit__(None, None, None)
    events.emit("probe.four")
    assert [e.name for e in a] == ["probe.one", "probe.two"]
    assert [e.name for e in b] == ["probe.two", "probe.three"]


def test_a_capture_keeps_every_event_of_concurrent_threads(harmony_context: HarmonyContext) -> None:
    threads_n, per_thread = 6, 400
    start = threading.Barrier(threads_n + 1)
    stop = threading.Event()

    def emitter(thread: int) -> None:
        start.wait()
        for seq in range(per_thread):
            harmony_context.events.emit("load.test", thread=thread, seq=seq)

    def churn() -> None:  # other captures come and go meanwhile
        start.wait()
        while not stop.is_set():
            with capture_events(harmony_context):
                pass

    with capture_events(harmony_context) as captured:
        threads = [threading.Thread(target=emitter, args=(t,)) for t in range(threads_n)]
        churner = threading.Thread(target=churn)
        for t in [*threads, churner]:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        churner.join()
    assert len(captured) == threads_n * per_thread
    for thread in range(threads_n):
        assert [e["seq"] for e in captured if e["thread"] == thread] == list(range(per_thread))
    assert harmony_context.events.failures == 0


def test_a_raising_tee_is_counted_and_changes_nothing(harmony_context: HarmonyContext) -> None:
    recorded = RecordingEventLogger()
    with harmony_context.events.tee(_Raising()), harmony_context.events.tee(recorded):
        harmony_context.credentials.set("spotify", token="t")
    assert harmony_context.events.failures == 1
    assert [e.name for e in recorded] == ["credentials.set"]
    assert harmony_context.credentials.get("spotify") is not None


def test_capture_needs_a_context() -> None:
    with pytest.raises(InvalidInputError, match="needs a HarmonyContext.*got RecordingEventLogger"):
        with capture_events(RecordingEventLogger()):  # type: ignore[arg-type]
            pass
