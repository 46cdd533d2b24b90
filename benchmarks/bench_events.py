"""What one event costs through ``ctx.events``: validation, the sinks, and how often an
event is validated on its way.

    python benchmarks/bench_events.py [--n N] [--repeat R] [--write]

Each row emits ``N`` ``orchestrator.commit`` events (the per-job event of the worker, six
required fields plus two extras) through a context's ``ctx.events`` and reports the best
of ``R`` runs in microseconds per event, and the number of times the event contract was
checked per event (counted by wrapping the validator, outside the timed runs). Contexts use
an in-memory SQLite database: none of these events is stored, so no row is written. The
rows: the default context (``LoggingEventLogger`` behind the activity logger, with the
``harmony`` loggers at the default ``WARNING``, so INFO events are dropped, and at
``INFO`` into a handler that discards records), a ``RecordingEventLogger`` (cleared
between runs) and a ``NullEventLogger``. ``--write`` replaces this script's section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from _report import command_line, host, write_section

import harmony._events.base as events_base
from harmony import (
    HarmonyContext,
    LoggingEventLogger,
    NullEventLogger,
    RecordingEventLogger,
)
from harmony._events import EventLogger

FIELDS: dict[str, Any] = {
    "entity_id": 42,
    "job_type": "playlist.sync",
    "status": "completed",
    "attempts": 1,
    "duration_ms": 3.25,
    "retry_in": None,
    "error": None,
    "worker_id": "host:1:abc123",
}


class _Discard(logging.Handler):
    """A handler that formats nothing and keeps nothing: the cost is harmony's and
    logging's record creation, not I/O."""

    def emit(self, record: logging.LogRecord) -> None:
        return None


@contextmanager
def _harmony_logging(level: int) -> Iterator[None]:
    logger = logging.getLogger("harmony")
    handler = _Discard()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(level)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _checks_per_event(ctx: HarmonyContext) -> float:
    """How many times one event is checked against the contract on its way to the sink."""
    calls = 0
    validator_call = events_base.EventValidator.__call__

    def counting(self: Any, event: str, fields: Any) -> Any:
        nonlocal calls
        calls += 1
        return validator_call(self, event, fields)

    events_base.EventValidator.__call__ = counting  # type: ignore[method-assign]
    try:
        for _ in range(100):
            ctx.events.emit("orchestrator.commit", **FIELDS)
    finally:
        events_base.EventValidator.__call__ = validator_call  # type: ignore[method-assign]
    return calls / 100


def _time(emit: Callable[..., None], n: int, repeat: int, between: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeat):
        between()
        started = time.perf_counter()
        for _ in range(n):
            emit("orchestrator.commit", **FIELDS)
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="events per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per row; the best counts")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)

    rows: list[tuple[str, float, float]] = []

    def measure(label: str, events: EventLogger, level: int | None = None) -> None:
        clear = getattr(events, "clear", lambda: None)
        with (
            HarmonyContext.from_url("sqlite://", events=events) as ctx,
            _harmony_logging(level if level is not None else logging.WARNING),
        ):
            checks = _checks_per_event(ctx)
            per_event = _time(ctx.events.emit, args.n, args.repeat, clear)
        rows.append((label, per_event, checks))
        print(f"{label:<58} {per_event:7.2f} us/event  {checks:.0f} check(s)", flush=True)

    measure("default context, logging at WARNING (INFO dropped)", LoggingEventLogger())
    measure(
        "default context, logging at INFO (discarding handler)", LoggingEventLogger(), logging.INFO
    )
    measure("RecordingEventLogger", RecordingEventLogger())
    measure("NullEventLogger", NullEventLogger())

    table = "\n".join(
        [
            "| `ctx.events` over | µs per event | contract checks per event |",
            "| --- | ---: | ---: |",
        ]
        + [f"| {label} | {cost:.2f} | {checks:.0f} |" for label, cost, checks in rows]
    )
    print()
    print(table)
    if args.write:
        write_section(
            "## Event emission (`benchmarks/bench_events.py`)",
            __doc__.split("\n\n", 2)[2].strip(),
            host() + "; in-memory SQLite.",
            command_line("benchmarks/bench_events.py", sys.argv[1:] if argv is None else argv),
            table,
        )


if __name__ == "__main__":
    main()
