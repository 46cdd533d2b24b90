"""Bad input over the public API: both backends refuse the same inputs, with
``InvalidInputError``, before anything is written.

Each case is one call that SQLite would have accepted (or answered with a raw
``OverflowError``, ``ValueError``, ``TypeError``, ``AttributeError``, ``RecursionError`` or
``UnicodeEncodeError``) and PostgreSQL refused, or that both answered with a raw error.
After each call every row of every harmony table is compared with what was there before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from harmony import HarmonyContext, HarmonySettings, JobSpec, LeasedJob
from harmony._db.models import metadata
from harmony.errors import ConfigurationError, InvalidInputError


@dataclass
class World:
    """A context with a bit of everything stored, and a job in hand."""

    ctx: HarmonyContext
    leased: LeasedJob
    job_id: int


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


BIG = 2**31  # one past a PostgreSQL INTEGER
NOW = datetime(2030, 1, 1, tzinfo=UTC)

CASES: dict[str, Callable[[World], object]] = {
    # enqueue
    "enqueue priority beyond 32 bits": lambda w: w.ctx.jobs.enqueue("t", {}, priority=BIG),
    "enqueue priority float": lambda w: w.ctx.jobs.enqueue("t", {}, priority=1.5),  # type: ignore[arg-type]
    "enqueue available_at str": lambda w: w.ctx.jobs.enqueue("t", {}, available_at="2030-01-01"),  # type: ignore[arg-type]
    "enqueue available_at naive": lambda w: w.ctx.jobs.enqueue(
        "t", {}, available_at=datetime(2030, 1, 1)
    ),
    "enqueue payload nested 2000 deep": lambda w: w.ctx.jobs.enqueue("t", _nested(2000)),
    "enqueue payload nested 65 deep": lambda w: w.ctx.jobs.enqueue("t", _nested(65)),
    "enqueue payload lone surrogate": lambda w: w.ctx.jobs.enqueue("t", {"path": "caf\udce9"}),
    "enqueue payload surrogate key": lambda w: w.ctx.jobs.enqueue("t", {"\udce9": 1}),
    "enqueue payload NUL": lambda w: w.ctx.jobs.enqueue("t", {"s": "a\x00b"}),
    "enqueue payload NaN": lambda w: w.ctx.jobs.enqueue("t", {"x": math.nan}),
    "enqueue payload infinity": lambda w: w.ctx.jobs.enqueue("t", {"x": math.inf}),
    "enqueue payload a set": lambda w: w.ctx.jobs.enqueue("t", {"x": {1, 2}}),
    "enqueue payload too large": lambda w: w.ctx.jobs.enqueue("t", {"x": "y" * 70_000}),
    "enqueue payload a list": lambda w: w.ctx.jobs.enqueue("t", [1, 2]),  # type: ignore[arg-type]
    "enqueue idempotency key NUL": lambda w: w.ctx.jobs.enqueue("t", {}, idempotency_key="k\x00"),
    "enqueue idempotency key surrogate": lambda w: w.ctx.jobs.enqueue(
        "t", {}, idempotency_key="k\udce9"
    ),
    "enqueue idempotency key 256 chars": lambda w: w.ctx.jobs.enqueue(
        "t", {}, idempotency_key="k" * 256
    ),
    "enqueue lease_seconds inf": lambda w: w.ctx.jobs.enqueue("t", {}, lease_seconds=math.inf),
    "enqueue lease_seconds nan": lambda w: w.ctx.jobs.enqueue("t", {}, lease_seconds=math.nan),
    "enqueue type with surrogate": lambda w: w.ctx.jobs.enqueue("t\udce9", {}),
    "enqueue_many one bad item": lambda w: w.ctx.jobs.enqueue_many(
        [JobSpec("t", {}), JobSpec("t", {"s": "\udce9"})]
    ),
    "enqueue_many bad mapping": lambda w: w.ctx.jobs.enqueue_many([{"type": "t", "priority": BIG}]),
    "enqueue_unique bad key": lambda w: w.ctx.jobs.enqueue_unique("t", {}, idempotency_key="\x00"),
    # leases
    "lease lease_seconds inf": lambda w: w.ctx.jobs.lease("t", lease_seconds=math.inf),
    "lease lease_seconds 1e12": lambda w: w.ctx.jobs.lease("t", lease_seconds=1e12),
    "lease lease_seconds str": lambda w: w.ctx.jobs.lease("t", lease_seconds="abc"),  # type: ignore[arg-type]
    "lease lease_seconds nan": lambda w: w.ctx.jobs.lease("t", lease_seconds=math.nan),
    "lease worker_id 256 chars": lambda w: w.ctx.jobs.lease("t", worker_id="w" * 256),
    "lease worker_id NUL": lambda w: w.ctx.jobs.lease("t", worker_id="w\x00"),
    "lease worker_id surrogate": lambda w: w.ctx.jobs.lease("t", worker_id="w\udce9"),
    "lease limit str": lambda w: w.ctx.jobs.lease("t", limit="5"),  # type: ignore[arg-type]
    "scheduler lease lease_seconds inf": lambda w: w.ctx.scheduler.lease_ready_jobs(
        ["t"], lease_seconds=math.inf
    ),
    "heartbeat lease_seconds inf": lambda w: w.ctx.jobs.heartbeat(w.leased, lease_seconds=math.inf),
    "heartbeat lease_seconds nan": lambda w: w.ctx.jobs.heartbeat(w.leased, lease_seconds=math.nan),
    # settling
    "fail retry_in nan": lambda w: w.ctx.jobs.fail(w.leased, "x", retry_in=math.nan),
    "fail retry_in inf": lambda w: w.ctx.jobs.fail(w.leased, "x", retry_in=math.inf),
    "fail retry_in 1e12": lambda w: w.ctx.jobs.fail(w.leased, "x", retry_in=1e12),
    "fail retry_in str": lambda w: w.ctx.jobs.fail(w.leased, "x", retry_in="5"),  # type: ignore[arg-type]
    "fail retry_in negative": lambda w: w.ctx.jobs.fail(w.leased, "x", retry_in=-1),
    "complete result surrogate": lambda w: w.ctx.jobs.complete(w.leased, {"x": "\udce9"}),
    "complete result NUL": lambda w: w.ctx.jobs.complete(w.leased, {"x": "\x00"}),
    "complete result nested 2000 deep": lambda w: w.ctx.jobs.complete(w.leased, _nested(2000)),
    "complete result NaN": lambda w: w.ctx.jobs.complete(w.leased, math.nan),
    "complete result too large": lambda w: w.ctx.jobs.complete(w.leased, ["y" * 70_000]),
    "complete not a LeasedJob": lambda w: w.ctx.jobs.complete(w.job_id),  # type: ignore[arg-type]
    # administration
    "jobs.list limit str": lambda w: w.ctx.jobs.list(limit="5"),  # type: ignore[arg-type]
    "jobs.list limit 0": lambda w: w.ctx.jobs.list(limit=0),
    "jobs.list cursor str": lambda w: w.ctx.jobs.list(cursor="abc"),  # type: ignore[arg-type]
    "jobs.list cursor beyond 64 bits": lambda w: w.ctx.jobs.list(cursor=2**64),
    "jobs.list type NUL": lambda w: w.ctx.jobs.list(type="t\x00"),
    "jobs.get str id": lambda w: w.ctx.jobs.get("1"),  # type: ignore[arg-type]
    "jobs.purge naive": lambda w: w.ctx.jobs.purge(completed_before=datetime(2030, 1, 1)),
    "jobs.purge str": lambda w: w.ctx.jobs.purge(completed_before="2030-01-01"),  # type: ignore[arg-type]
    "every period inf": lambda w: w.ctx.scheduler.every(math.inf, "t"),
    "every period nan": lambda w: w.ctx.scheduler.every(math.nan, "t"),
    "every payload surrogate": lambda w: w.ctx.scheduler.every(60, "t", {"x": "\udce9"}),
    "every priority beyond 32 bits": lambda w: w.ctx.scheduler.every(60, "t", priority=BIG),
    # activity
    "activity type surrogate": lambda w: w.ctx.activity.record("t\udce9", "ok"),
    "activity status NUL": lambda w: w.ctx.activity.record("t", "ok\x00"),
    "activity details surrogate": lambda w: w.ctx.activity.record("t", "ok", {"x": "\udce9"}),
    "activity details NUL key": lambda w: w.ctx.activity.record("t", "ok", {"\x00": 1}),
    "activity details nested 2000 deep": lambda w: w.ctx.activity.record("t", "ok", _nested(2000)),
    "activity details NaN": lambda w: w.ctx.activity.record("t", "ok", {"x": math.nan}),
    "activity timestamp str": lambda w: w.ctx.activity.record("t", "ok", timestamp="2030-01-01"),  # type: ignore[arg-type]
    "activity.list limit str": lambda w: w.ctx.activity.list(limit="5"),  # type: ignore[arg-type]
    "activity.list since str": lambda w: w.ctx.activity.list(since="2030-01-01"),  # type: ignore[arg-type]
    "activity.list type NUL": lambda w: w.ctx.activity.list(type="t\x00"),
    "activity.list cursor junk": lambda w: w.ctx.activity.list(cursor="\udce9"),
    # credentials
    "credentials value NUL": lambda w: w.ctx.credentials.set("spotify", client_secret="s\x00"),
    "credentials value surrogate": lambda w: w.ctx.credentials.set(
        "spotify", client_secret="s\udce9"
    ),
    "credentials value not a string": lambda w: w.ctx.credentials.set("spotify", client_secret=5),  # type: ignore[arg-type]
    # reads
    "health timeout nan": lambda w: w.ctx.system.health(timeout=math.nan),
    "health timeout inf": lambda w: w.ctx.system.health(timeout=math.inf),
    "health timeout str": lambda w: w.ctx.system.health(timeout="2"),  # type: ignore[arg-type]
    "health timeout 0": lambda w: w.ctx.system.health(timeout=0),
    "playlists.list_page limit str junk": lambda w: w.ctx.playlists.list_page(limit="x"),  # type: ignore[arg-type]
    "playlists.list_page provider surrogate": lambda w: w.ctx.playlists.list_page(
        provider="p\udce9"
    ),
    "search query surrogate": lambda w: w.ctx.search.tracks("caf\udce9"),
}


def _snapshot(ctx: HarmonyContext) -> dict[str, list[tuple[Any, ...]]]:
    with ctx.db.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in metadata.sorted_tables
        }


@pytest.fixture
def world(harmony_context_factory: Any) -> Iterator[World]:
    ctx: HarmonyContext = harmony_context_factory(settings={"job_payload_max_bytes": 65_536})
    ctx.credentials.set("spotify", client_id="id", client_secret="secret")
    ctx.activity.record("note", "ok", {"text": "hello"})
    job = ctx.jobs.enqueue("t", {"n": 1})
    ctx.jobs.enqueue("t", {"n": 2})
    [leased] = ctx.jobs.lease("t", worker_id="w-1")
    yield World(ctx, leased, job.id)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_with_invalid_input_error_and_nothing_is_written(
    world: World, case: str
) -> None:
    before = _snapshot(world.ctx)
    with pytest.raises(InvalidInputError):
        CASES[case](world)
    assert _snapshot(world.ctx) == before


SETTINGS_CASES: dict[str, dict[str, Any]] = {
    "visibility timeout inf": {"scheduler_visibility_timeout": math.inf},
    "visibility timeout nan": {"scheduler_visibility_timeout": math.nan},
    "visibility timeout 1e12": {"scheduler_visibility_timeout": 1e12},
    "poll interval inf": {
        "scheduler_poll_interval": math.inf,
        "scheduler_max_poll_interval": math.inf,
    },
    "backoff multiplier inf": {"scheduler_backoff_multiplier": math.inf},
    "pool timeout inf": {"pool_timeout": math.inf},
    "cache ttl inf": {"cache_ttl_seconds": math.inf},
    "cache ttl nan": {"cache_ttl_seconds": math.nan},
    "busy timeout a year": {"sqlite_busy_timeout_ms": 31_536_000_000},
    "type weight inf": {"scheduler_type_weights": {"t": math.inf}},
    "type weight negative": {"scheduler_type_weights": {"t": -1.0}},
    "payload bound too small": {"job_payload_max_bytes": 10},
}


@pytest.mark.parametrize("case", sorted(SETTINGS_CASES))
def test_settings_without_a_sane_finite_bound_are_refused(case: str) -> None:
    with pytest.raises(ConfigurationError):
        HarmonySettings(**SETTINGS_CASES[case])
