"""Job queue throughput: harmony against procrastinate, pgqueuer and a raw SKIP LOCKED loop.

    HARMONY_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/bench_queue.py [--write]

In one run on one PostgreSQL server it measures, for each queue:

* enqueue one by one: ``--single`` (2,000) separate enqueue calls, each its own commit;
* bulk enqueue: ``--jobs`` (10,000) jobs through the bulk API (harmony
  ``ctx.jobs.enqueue_many``, procrastinate ``batch_defer_async``, pgqueuer ``enqueue``
  with lists, one ``INSERT ... SELECT unnest(...)`` for the raw loop); best of the
  enqueues that refill the queue before each drain;
* drain: wall time from releasing the workers until all ``--jobs`` no-op jobs are
  done, with 1 and ``--workers`` (4) workers, each worker run the way its library is
  meant to be run (harmony: ``Worker`` threads in one process, and also separate
  processes; procrastinate: one worker with ``concurrency=N`` (asyncio); pgqueuer: one
  ``QueueManager`` per process; raw loop: one connection per process).

Workers run in child processes (this script with ``--child``) that connect and warm up
first, then wait for a "go" line; the drain time is the latest child's finish minus the
moment "go" was sent, and every job is checked done afterwards. Each library gets its
own database (``bench_queue_*``, dropped at the end). harmony also runs on SQLite (a
temporary file). Peers that are not installed are skipped with a message: they are
benchmark-only, never dependencies of harmony (``pip install procrastinate pgqueuer
asyncpg``).

The raw loop is the reference limit: per batch one statement claims up to 100 jobs
(``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``), a no-op runs
per job, one statement marks them done, one commit.

``--write`` replaces (or appends) the "Job queue" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import json
import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from _report import command_line, host, postgres_server, write_section
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from harmony import (
    HarmonyContext,
    HarmonySettings,
    JobContext,
    JobSpec,
    NullEventLogger,
    Worker,
)

T = TypeVar("T")

SCRIPT = "benchmarks/bench_queue.py"
SECTION = f"## Job queue (`{SCRIPT}`)"
JOB_TYPE = "noop"
BATCH = 100  # jobs per lease / claim (harmony, raw loop, pgqueuer dequeue)
DB_PREFIX = "bench_queue_"


# -- helpers ---------------------------------------------------------------------------


def _libpq(url: str, database: str | None = None) -> str:
    """A libpq/psycopg URL (no ``+psycopg``), optionally for another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _sqlalchemy(url: str, database: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql+psycopg", database=database)
        .render_as_string(hide_password=False)
    )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _peer(module: str) -> Any:
    """Import a benchmark-only peer at run time (typed as Any: it is optional, and mypy
    need not analyse it)."""
    return importlib.import_module(module)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _pg_exec(dsn: str, *statements: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)  # fixed benchmark SQL, nothing interpolated from outside


def _pg_scalar(dsn: str, sql: str) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


@contextmanager
def _database(admin_dsn: str, name: str) -> Iterator[str]:
    """Create database ``name`` (dropping a leftover first); drop it afterwards."""
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    _pg_exec(admin_dsn, drop, f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _pg_exec(admin_dsn, drop)


# -- the queues under test (parent side) -----------------------------------------------


class Queue:
    """One queue implementation: enqueue paths, reset, done count and child specs."""

    key = ""
    label = ""

    def enqueue_single(self, n: int) -> float:
        raise NotImplementedError

    def enqueue_bulk(self, n: int) -> float:
        raise NotImplementedError

    def reset(self) -> None:
        """Remove every job."""
        raise NotImplementedError

    def analyze(self) -> None:
        """Vacuum and refresh planner statistics after a refill."""
        raise NotImplementedError

    def done(self) -> int:
        raise NotImplementedError

    def child(self, concurrency: int, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class HarmonyQueue(Queue):
    def __init__(self, url: str, label: str, sqlite_path: str | None = None) -> None:
        self.key, self.label = "harmony", label
        self.url = url
        self.sqlite_path = sqlite_path
        self.ctx = HarmonyContext(HarmonySettings(database_url=url))
        self.ctx.migrate()

    def enqueue_single(self, n: int) -> float:
        began = time.perf_counter()
        for i in range(n):
            self.ctx.jobs.enqueue(JOB_TYPE, {"i": i})
        return time.perf_counter() - began

    def enqueue_bulk(self, n: int) -> float:
        specs = [JobSpec(JOB_TYPE, {"i": i}) for i in range(n)]
        began = time.perf_counter()
        self.ctx.jobs.enqueue_many(specs)
        return time.perf_counter() - began

    def reset(self) -> None:
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None)
            try:
                conn.execute("DELETE FROM queue_jobs")
                conn.execute("VACUUM")
            finally:
                conn.close()
            return
        _pg_exec(_libpq(self.url), "TRUNCATE queue_jobs RESTART IDENTITY")

    def analyze(self) -> None:
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None)
            try:
                conn.execute("ANALYZE")
            finally:
                conn.close()
        else:
            _pg_exec(_libpq(self.url), "VACUUM ANALYZE queue_jobs")

    def done(self) -> int:
        sql = "SELECT count(*) FROM queue_jobs WHERE status = 'completed'"
        if self.sqlite_path is not None:
            conn = sqlite3.connect(self.sqlite_path)
            try:
                return int(conn.execute(sql).fetchone()[0])
            finally:
                conn.close()
        return int(_pg_scalar(_libpq(self.url), sql))

    def child(self, concurrency: int, **extra: Any) -> dict[str, Any]:
        return {"lib": "harmony", "url": self.url, "concurrency": concurrency, **extra}

    def close(self) -> None:
        self.ctx.close()


def _procrastinate_app(dsn: str, pool_size: int) -> tuple[Any, Any]:
    procrastinate = _peer("procrastinate")

    # It warns that the app lives in ``__main__``; harmless here (the children define the
    # same app and task), so keep the benchmark's output clean.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=dsn, min_size=pool_size, max_size=pool_size
        )
    )

    async def noop(i: int) -> None:
        return None

    return app, app.task(name=JOB_TYPE)(noop)


class ProcrastinateQueue(Queue):
    key = label = "procrastinate"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        app, _ = _procrastinate_app(dsn, 2)

        async def install() -> None:
            async with app.open_async():
                await app.schema_manager.apply_schema_async()

        _run(install())

    def _timed(self, body: Callable[[Any], Coroutine[Any, Any, None]]) -> float:
        async def main() -> float:
            app, task = _procrastinate_app(self.dsn, 2)
            async with app.open_async():
                await app.check_connection_async()
                began = time.perf_counter()
                await body(task)
                return time.perf_counter() - began

        return _run(main())

    def enqueue_single(self, n: int) -> float:
        async def body(task: Any) -> None:
            for i in range(n):
                await task.defer_async(i=i)

        return self._timed(body)

    def enqueue_bulk(self, n: int) -> float:
        async def body(task: Any) -> None:
            await task.batch_defer_async(*({"i": i} for i in range(n)))

        return self._timed(body)

    def reset(self) -> None:
        _pg_exec(self.dsn, "TRUNCATE procrastinate_jobs RESTART IDENTITY CASCADE")

    def analyze(self) -> None:
        _pg_exec(self.dsn, "VACUUM ANALYZE procrastinate_jobs")

    def done(self) -> int:
        return int(
            _pg_scalar(
                self.dsn, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
            )
        )

    def child(self, concurrency: int, **extra: Any) -> dict[str, Any]:
        return {"lib": "procrastinate", "dsn": self.dsn, "concurrency": concurrency, **extra}


async def _pgqueuer_queries(dsn: str) -> tuple[Any, Callable[[], Coroutine[Any, Any, None]]]:
    """pgqueuer ``Queries`` on asyncpg when installed (its fastest driver), else psycopg."""
    pgqueuer = _peer("pgqueuer")
    if _installed("asyncpg"):
        conn = await _peer("asyncpg").connect(dsn)
        return pgqueuer.Queries(pgqueuer.AsyncpgDriver(conn)), conn.close
    aconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    return pgqueuer.Queries(pgqueuer.PsycopgDriver(aconn)), aconn.close


class PgqueuerQueue(Queue):
    key = label = "pgqueuer"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.enqueued = 0

        async def install() -> None:
            queries, close = await _pgqueuer_queries(dsn)
            try:
                await queries.install()
            finally:
                await close()

        _run(install())

    def _timed(self, body: Callable[[Any], Coroutine[Any, Any, None]]) -> float:
        async def main() -> float:
            queries, close = await _pgqueuer_queries(self.dsn)
            try:
                began = time.perf_counter()
                await body(queries)
                return time.perf_counter() - began
            finally:
                await close()

        return _run(main())

    def enqueue_single(self, n: int) -> float:
        async def body(queries: Any) -> None:
            for i in range(n):
                await queries.enqueue(JOB_TYPE, json.dumps({"i": i}).encode())

        return self._timed(body)

    def enqueue_bulk(self, n: int) -> float:
        self.enqueued = n

        async def body(queries: Any) -> None:
            await queries.enqueue(
                [JOB_TYPE] * n, [json.dumps({"i": i}).encode() for i in range(n)], [0] * n
            )

        return self._timed(body)

    def reset(self) -> None:
        _pg_exec(self.dsn, "TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics RESTART IDENTITY")

    def analyze(self) -> None:
        _pg_exec(self.dsn, "VACUUM ANALYZE pgqueuer")

    def done(self) -> int:
        # pgqueuer deletes a finished job from its queue table (and logs it).
        left = int(_pg_scalar(self.dsn, "SELECT count(*) FROM pgqueuer"))
        return self.enqueued - left

    def child(self, concurrency: int, **extra: Any) -> dict[str, Any]:
        return {"lib": "pgqueuer", "dsn": self.dsn, "concurrency": concurrency, **extra}


RAW_SCHEMA = """
CREATE TABLE raw_jobs (
    id bigserial PRIMARY KEY,
    type text NOT NULL,
    payload jsonb NOT NULL,
    priority integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    lease_token text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_jobs_claim ON raw_jobs (status, priority DESC, available_at, id)
"""

RAW_CLAIM = """
UPDATE raw_jobs SET status = 'leased', attempts = attempts + 1,
    lease_token = md5(random()::text), updated_at = now()
WHERE id IN (
    SELECT id FROM raw_jobs WHERE status = 'pending' AND available_at <= now()
    ORDER BY priority DESC, available_at, id LIMIT %s FOR UPDATE SKIP LOCKED
)
RETURNING id, type, payload, lease_token
"""

RAW_DONE = """
UPDATE raw_jobs SET status = 'completed', lease_token = NULL, updated_at = now()
WHERE id = ANY(%s)
"""


class RawQueue(Queue):
    key = "raw"
    label = "raw psycopg SKIP LOCKED loop"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        _pg_exec(dsn, *RAW_SCHEMA.split(";"))

    def enqueue_single(self, n: int) -> float:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            began = time.perf_counter()
            for i in range(n):
                conn.execute(
                    "INSERT INTO raw_jobs (type, payload) VALUES (%s, %s) RETURNING id",
                    (JOB_TYPE, Jsonb({"i": i})),
                ).fetchone()
            return time.perf_counter() - began

    def enqueue_bulk(self, n: int) -> float:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            began = time.perf_counter()
            conn.execute(
                "INSERT INTO raw_jobs (type, payload) SELECT %s, p FROM unnest(%s::jsonb[]) AS p"
                " RETURNING id",
                (JOB_TYPE, [Jsonb({"i": i}) for i in range(n)]),
            ).fetchall()
            return time.perf_counter() - began

    def reset(self) -> None:
        _pg_exec(self.dsn, "TRUNCATE raw_jobs RESTART IDENTITY")

    def analyze(self) -> None:
        _pg_exec(self.dsn, "VACUUM ANALYZE raw_jobs")

    def done(self) -> int:
        return int(_pg_scalar(self.dsn, "SELECT count(*) FROM raw_jobs WHERE status = 'completed'"))

    def child(self, concurrency: int, **extra: Any) -> dict[str, Any]:
        return {"lib": "raw", "dsn": self.dsn, "concurrency": concurrency, **extra}


# -- workers (child side) --------------------------------------------------------------


def _ready_then_wait() -> None:
    """Tell the parent this worker is warmed up; block until it says go."""
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("benchmark child: parent went away")


def _finished(processed: int) -> None:
    # time.monotonic() is one system-wide clock (CLOCK_MONOTONIC on Linux), so the parent
    # can compare it with the moment it said go.
    print(json.dumps({"end": time.monotonic(), "processed": processed}), flush=True)


def _harmony_noop(job: JobContext) -> None:
    return None


def _raw_noop(row: Any) -> None:
    return None


def _child_harmony(spec: dict[str, Any]) -> None:
    concurrency = int(spec["concurrency"])
    settings = HarmonySettings(database_url=spec["url"], pool_size=max(5, concurrency + 2))
    events = NullEventLogger() if spec.get("events") == "null" else None
    with HarmonyContext(settings, events=events) as ctx:
        ctx.db.ping()
        worker = Worker(ctx, {JOB_TYPE: _harmony_noop}, concurrency=concurrency, batch_size=BATCH)
        profile = spec.get("profile")
        _ready_then_wait()
        if profile:
            profiler = cProfile.Profile()
            report = profiler.runcall(worker.run_until_idle)
            end = time.monotonic()
            profiler.dump_stats(profile)
        else:
            report = worker.run_until_idle()
            end = time.monotonic()
    print(json.dumps({"end": end, "processed": report.completed}), flush=True)


def _child_procrastinate(spec: dict[str, Any]) -> None:
    concurrency = int(spec["concurrency"])

    async def main() -> None:
        # Room for every concurrent job plus the listener and the heartbeat.
        app, _ = _procrastinate_app(spec["dsn"], concurrency + 3)
        async with app.open_async():
            await app.check_connection_async()
            await asyncio.to_thread(_ready_then_wait)
            await app.run_worker_async(
                concurrency=concurrency, wait=False, install_signal_handlers=False
            )
            _finished(-1)

    _run(main())


def _child_pgqueuer(spec: dict[str, Any]) -> None:
    pgqueuer = _peer("pgqueuer")
    drain_mode = _peer("pgqueuer.domain.types").QueueExecutionMode.drain

    async def main() -> None:
        queries, close = await _pgqueuer_queries(spec["dsn"])
        qm = pgqueuer.QueueManager(queries)
        count = 0

        async def noop(job: Any) -> None:
            nonlocal count
            count += 1

        qm.entrypoint(JOB_TYPE)(noop)

        await asyncio.to_thread(_ready_then_wait)
        try:
            await qm.run(
                mode=drain_mode,
                batch_size=BATCH,
                dequeue_timeout=timedelta(seconds=1),
            )
            _finished(count)
        finally:
            await close()

    _run(main())


def _child_raw(spec: dict[str, Any]) -> None:
    processed = 0
    with psycopg.connect(spec["dsn"]) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        _ready_then_wait()
        while True:
            rows = conn.execute(RAW_CLAIM, (BATCH,)).fetchall()
            if not rows:
                conn.commit()
                break
            for row in rows:
                _raw_noop(row)  # the "handler"
            conn.execute(RAW_DONE, ([row[0] for row in rows],))
            conn.commit()
            processed += len(rows)
    _finished(processed)


CHILDREN: dict[str, Callable[[dict[str, Any]], None]] = {
    "harmony": _child_harmony,
    "procrastinate": _child_procrastinate,
    "pgqueuer": _child_pgqueuer,
    "raw": _child_raw,
}


# -- orchestration ---------------------------------------------------------------------


@dataclass
class Drain:
    queue: str
    backend: str
    workers: int
    how: str
    seconds: float | None
    jobs: int
    note: str = ""

    @property
    def rate(self) -> float | None:
        return None if self.seconds is None else self.jobs / self.seconds


@dataclass
class Enqueue:
    single: float | None = None  # jobs/s
    bulk: list[float] = field(default_factory=list)  # jobs/s, one per refill


Setup = tuple[int, str, list[dict[str, Any]]]  # workers, how they run, one spec per child


def _drain(
    queue: Queue, specs: list[dict[str, Any]], n: int, timeout: float
) -> tuple[float | None, str]:
    """Run one drain with one child process per spec; return (seconds or None, note)."""
    lib = specs[0]["lib"]
    children = [
        subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    ends: list[float] = []
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline().strip()
            if line != "ready":
                return None, f"a {lib} worker did not start (said {line!r})"
        started = time.monotonic()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, _ = child.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
            reports = [ln for ln in out.splitlines() if ln.startswith("{")]
            if child.returncode != 0 or not reports:
                return None, f"a {lib} worker exited with status {child.returncode}"
            ends.append(json.loads(reports[-1])["end"])
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    seconds = max(ends) - started
    done = queue.done()
    return seconds, "" if done == n else f"only {done:,} of {n:,} done"


def _measure(
    queue: Queue, backend: str, setups: list[Setup], enqueue: Enqueue, args: argparse.Namespace
) -> list[Drain]:
    """Enqueue one by one (once per queue); then per setup: refill (bulk, timed) and drain,
    --repeat times; the fastest drain counts."""
    if enqueue.single is None:
        queue.reset()
        enqueue.single = args.single / queue.enqueue_single(args.single)
        print(f"  enqueue one by one: {enqueue.single:,.0f} jobs/s", flush=True)
    results = []
    for workers, how, specs in setups:
        best: float | None = None
        notes = []
        for _ in range(args.repeat):
            queue.reset()
            enqueue.bulk.append(args.jobs / queue.enqueue_bulk(args.jobs))
            queue.analyze()
            seconds, note = _drain(queue, specs, args.jobs, args.timeout)
            if note:
                notes.append(note)
            elif seconds is not None and (best is None or seconds < best):
                best = seconds
        row = Drain(
            queue.label, backend, workers, how, best, args.jobs, "; ".join(sorted(set(notes)))
        )
        results.append(row)
        rate = "failed" if row.rate is None else f"{row.rate:,.0f} jobs/s"
        print(f"  drain, {how}: {rate} {row.note}".rstrip(), flush=True)
    if enqueue.bulk:
        print(
            f"  bulk enqueue: {max(enqueue.bulk):,.0f} jobs/s (best of {len(enqueue.bulk)})",
            flush=True,
        )
    return results


#: harmony with its queue_jobs NOTIFY triggers dropped (scratch database): what they cost.
NO_TRIGGERS = "harmony, NOTIFY triggers dropped"


def _single_enqueues(args: argparse.Namespace, admin: str) -> dict[str, float]:
    """Enqueue one by one, for every PostgreSQL queue, in ``--single-rounds`` interleaved
    rounds (so a stretch of slow disk flushes hits them all alike); the best round counts.
    Returns jobs/s by queue label."""
    makers: list[tuple[str, Callable[[str], Queue]]] = [
        (
            "harmony",
            lambda dsn: HarmonyQueue(_sqlalchemy(args.postgres, _dsn_database(dsn)), "harmony"),
        ),
        (
            NO_TRIGGERS,
            lambda dsn: _without_triggers(
                HarmonyQueue(_sqlalchemy(args.postgres, _dsn_database(dsn)), NO_TRIGGERS)
            ),
        ),
        ("procrastinate", ProcrastinateQueue),
        ("pgqueuer", PgqueuerQueue),
        ("raw", RawQueue),
    ]
    best: dict[str, float] = {}
    with ExitStack() as stack:
        queues: list[Queue] = []
        for i, (key, make) in enumerate(makers):
            if key in args.skip or (key in ("procrastinate", "pgqueuer") and not _installed(key)):
                continue
            name = stack.enter_context(_database(admin, f"{DB_PREFIX}single_{i}"))
            queue = make(_libpq(args.postgres, name))
            stack.callback(queue.close)
            queues.append(queue)
        for _ in range(args.single_rounds):
            for queue in queues:
                queue.reset()
                rate = args.single / queue.enqueue_single(args.single)
                best[queue.label] = max(best.get(queue.label, 0.0), rate)
    for label, rate in best.items():
        print(
            f"  enqueue one by one, {label}: {rate:,.0f} jobs/s (best of {args.single_rounds})",
            flush=True,
        )
    return best


def _dsn_database(dsn: str) -> str:
    return str(make_url(dsn).database)


def _without_triggers(queue: HarmonyQueue) -> HarmonyQueue:
    _pg_exec(
        _libpq(queue.url),
        "DROP TRIGGER queue_jobs_notify_inserted ON queue_jobs",
        "DROP TRIGGER queue_jobs_notify_rearmed ON queue_jobs",
    )
    return queue


def run(args: argparse.Namespace) -> tuple[list[Drain], dict[str, Enqueue]]:
    """Every measurement; returns the drains and the enqueue rates by queue."""
    n = args.workers
    admin = _libpq(args.postgres)
    drains: list[Drain] = []
    enqueues: dict[str, Enqueue] = {}
    print("enqueue one by one (PostgreSQL)", flush=True)
    for label, rate in _single_enqueues(args, admin).items():
        enqueues.setdefault(label, Enqueue()).single = rate

    def profiled(tag: str) -> dict[str, Any]:
        if not args.profile:
            return {}
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        return {"profile": str(Path(args.profile) / f"{tag}.pstats")}

    with _database(admin, DB_PREFIX + "harmony") as name:
        print("harmony (PostgreSQL)", flush=True)
        h = HarmonyQueue(_sqlalchemy(args.postgres, name), "harmony")
        try:
            setups: list[Setup] = [
                (1, "1 worker", [h.child(1, **profiled("harmony_pg_1"))]),
                (n, f"1 process, concurrency={n} (threads)", [h.child(n)]),
                (n, f"{n} processes, concurrency=1", [h.child(1) for _ in range(n)]),
            ]
            drains += _measure(
                h, "PostgreSQL", setups, enqueues.setdefault("harmony", Enqueue()), args
            )
            if args.null_events:
                h.label = "harmony, NullEventLogger"
                setups = [
                    (1, "1 worker", [h.child(1, events="null")]),
                    (n, f"1 process, concurrency={n} (threads)", [h.child(n, events="null")]),
                    (
                        n,
                        f"{n} processes, concurrency=1",
                        [h.child(1, events="null") for _ in range(n)],
                    ),
                ]
                drains += _measure(
                    h, "PostgreSQL", setups, enqueues.setdefault("harmony", Enqueue()), args
                )
        finally:
            h.close()

    peers: list[tuple[str, Callable[[str], Queue], Callable[[Queue], list[Setup]]]] = [
        (
            "procrastinate",
            ProcrastinateQueue,
            lambda q: [
                (1, "1 worker", [q.child(1)]),
                (n, f"1 worker, concurrency={n} (asyncio)", [q.child(n)]),
            ],
        ),
        (
            "pgqueuer",
            PgqueuerQueue,
            lambda q: [
                (1, "1 QueueManager", [q.child(1)]),
                (n, f"{n} processes, 1 QueueManager each", [q.child(1) for _ in range(n)]),
            ],
        ),
        (
            "raw",
            RawQueue,
            lambda q: [
                (1, "1 connection", [q.child(1)]),
                (n, f"{n} processes, 1 connection each", [q.child(1) for _ in range(n)]),
            ],
        ),
    ]
    for key, make, setups_of in peers:
        if key in args.skip:
            continue
        if key != "raw" and not _installed(key):
            print(
                f"{key} is not installed: skipping it. To compare, install it into the venv "
                f"(pip install {key}); it is a benchmark-only package, never a harmony dependency.",
                flush=True,
            )
            continue
        with _database(admin, DB_PREFIX + key) as name:
            queue = make(_libpq(args.postgres, name))
            driver = " (asyncpg driver)" if key == "pgqueuer" and _installed("asyncpg") else ""
            print(queue.label + driver, flush=True)
            try:
                enq = enqueues.setdefault(queue.label, Enqueue())
                drains += _measure(queue, "PostgreSQL", setups_of(queue), enq, args)
            finally:
                queue.close()

    if "sqlite" in args.skip:
        return drains, enqueues
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "bench.db")
        print("harmony (SQLite)", flush=True)
        s = HarmonyQueue(f"sqlite:///{path}", "harmony", sqlite_path=path)
        try:
            setups = [
                (1, "1 worker", [s.child(1, **profiled("harmony_sqlite_1"))]),
                (n, f"1 process, concurrency={n} (threads)", [s.child(n)]),
            ]
            drains += _measure(
                s, "SQLite", setups, enqueues.setdefault("harmony SQLite", Enqueue()), args
            )
        finally:
            s.close()
    return drains, enqueues


# -- report ----------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _best(
    drains: list[Drain], queue: str, workers: int, backend: str = "PostgreSQL"
) -> Drain | None:
    rows = [
        d
        for d in drains
        if d.queue == queue and d.workers == workers and d.backend == backend and d.rate
    ]
    return max(rows, key=lambda d: d.rate or 0.0, default=None)


def _table(args: argparse.Namespace, drains: list[Drain], enqueues: dict[str, Enqueue]) -> str:
    n = args.workers
    lines = [
        f"Drain: {args.jobs:,} no-op jobs, fastest of {args.repeat}. Enqueue one by one: "
        f"{args.single:,} calls, one commit each. Bulk enqueue: {args.jobs:,} jobs per call, "
        "fastest of the refills before the drains. All figures in jobs/s.",
        "",
        "| queue | backend | workers | drain | enqueue one by one | bulk enqueue | note |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    shown: set[str] = set()
    for row in drains:
        key = "harmony" if row.queue.startswith("harmony") else row.queue
        key += " SQLite" if row.backend == "SQLite" else ""
        enq = enqueues.get(key)
        single = bulk = ""
        if enq is not None and key not in shown:
            shown.add(key)
            single, bulk = _fmt(enq.single), _fmt(max(enq.bulk) if enq.bulk else None)
        lines.append(
            f"| {row.queue} | {row.backend} | {row.how} | {_fmt(row.rate)} | {single} | {bulk} | {row.note} |"
        )

    def faster_peer(workers: int) -> Drain | None:
        found = [_best(drains, q, workers) for q in ("procrastinate", "pgqueuer")]
        return max((d for d in found if d), key=lambda d: d.rate or 0.0, default=None)

    def compare(label: str, mine: Drain | None, other: Drain | None, target: float) -> str:
        if mine is None or other is None or not mine.rate or not other.rate:
            return f"| {label} | not measured | - |"
        ratio = mine.rate / other.rate
        return (
            f"| {label} | {_fmt(mine.rate)} ({mine.how}) / {_fmt(other.rate)} ({other.queue}, "
            f"{other.how}) = {ratio:.2f}x | {'met' if ratio >= target else 'missed'} |"
        )

    def single(label: str, other: str, target: float | None) -> str:
        mine = enqueues.get("harmony", Enqueue()).single
        theirs = enqueues.get(other, Enqueue()).single
        if not mine or not theirs:
            return f"| {label} | not measured | - |"
        ratio = mine / theirs
        verdict = "-" if target is None else ("met" if ratio >= target else "missed")
        return f"| {label} | {_fmt(mine)} / {_fmt(theirs)} ({other}) = {ratio:.2f}x | {verdict} |"

    def absolute(label: str, value: float | None, target: float) -> str:
        if value is None:
            return f"| {label} | not measured | - |"
        return f"| {label} | {_fmt(value)} jobs/s | {'met' if value >= target else 'missed'} |"

    raw = RawQueue.label
    h1, hn = _best(drains, "harmony", 1), _best(drains, "harmony", n)
    harmony_enqueue = enqueues.get("harmony")
    sqlite = _best(drains, "harmony", 1, "SQLite")
    lines += [
        "",
        "harmony with its default event logger; with several setups for N workers the fastest counts.",
        "",
        "| target | measured | result |",
        "| --- | --- | --- |",
        compare("PostgreSQL drain, 1 worker: >= 1.5x the faster peer", h1, faster_peer(1), 1.5),
        compare(f"PostgreSQL drain, {n} workers: >= 1.5x the faster peer", hn, faster_peer(n), 1.5),
        compare(
            "PostgreSQL drain, 1 worker: >= 50% of the raw loop", h1, _best(drains, raw, 1), 0.5
        ),
        compare(
            f"PostgreSQL drain, {n} workers: >= 50% of the raw loop", hn, _best(drains, raw, n), 0.5
        ),
        absolute(
            "PostgreSQL bulk enqueue: >= 20,000 jobs/s",
            max(harmony_enqueue.bulk) if harmony_enqueue and harmony_enqueue.bulk else None,
            20_000,
        ),
        absolute(
            "SQLite drain, 1 process: >= 5,000 jobs/s", sqlite.rate if sqlite else None, 5_000
        ),
        single("PostgreSQL enqueue one by one: >= pgqueuer's", "pgqueuer", 1.0),
        single("PostgreSQL enqueue one by one: against the raw insert loop", RawQueue.label, None),
    ]
    with_triggers = enqueues.get("harmony", Enqueue()).single
    without = enqueues.get(NO_TRIGGERS, Enqueue()).single
    if with_triggers and without:
        cost = (1 / with_triggers - 1 / without) * 1e6
        lines += [
            "",
            f"NOTIFY triggers (migration 0005): harmony enqueues one by one at {_fmt(with_triggers)} "
            f"jobs/s with them and {_fmt(without)} jobs/s with them dropped (a scratch database), "
            f"{cost:+.0f} us per enqueue.",
        ]
    return "\n".join(lines)


def _machine(args: argparse.Namespace) -> str:
    version, fsync, sync_commit = postgres_server(args.postgres)
    return (
        f"{host()}; PostgreSQL {version} throwaway cluster on the same "
        f"machine (`scripts/pg.sh`, fsync {fsync}, synchronous_commit {sync_commit}); SQLite "
        "file on local disk (WAL, synchronous=NORMAL)."
    )


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("harmony", "procrastinate", "pgqueuer", "asyncpg", "psycopg", "sqlalchemy"):
        with suppress(PackageNotFoundError):
            found.append(f"{name} {version(name)}")
    return ", ".join(found)


def _write_docs(args: argparse.Namespace, command: str, machine: str, table: str) -> None:
    about = f"""\
What it measures, in one run against one PostgreSQL server, each queue in its own
database: enqueueing {args.single:,} jobs one call (and one commit) at a time, the queues
taking turns for {args.single_rounds} rounds (best round counts; harmony also with its
`NOTIFY` triggers dropped, to show what they cost); bulk enqueue
of {args.jobs:,} jobs (harmony `ctx.jobs.enqueue_many`, procrastinate `batch_defer_async`,
pgqueuer `enqueue` with lists); and draining {args.jobs:,} jobs with a no-op handler,
timed from releasing the warmed-up worker processes until the last one finds the queue
empty (every job is checked done in the database afterwards). Workers run as each
library is meant to be run: harmony `Worker(ctx, {{"noop": handler}}, concurrency=N,
batch_size={BATCH})` with a `JobContext` handler (N threads in one process), and also N processes with
`concurrency=1`; procrastinate one worker with `concurrency=N` and an async task;
pgqueuer one `QueueManager` per process (`batch_size={BATCH}`, drain mode, asyncpg driver
when installed). The reference limit is a raw psycopg loop: one `UPDATE ... WHERE id IN
(SELECT ... LIMIT {BATCH} FOR UPDATE SKIP LOCKED) RETURNING` claims a batch, one `UPDATE`
marks it done, one commit. harmony runs with its default event logger
(`LoggingEventLogger` behind the activity logger, logging unconfigured) except in the
NullEventLogger rows. procrastinate, pgqueuer and asyncpg are installed for the benchmark
only, never as harmony dependencies; the script skips a peer that is missing. The
machine was shared with other work, so figures move by 20% or more between runs."""
    write_section(SECTION, about, f"{machine} {_versions()}.", command, table, args.notes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HARMONY_TEST_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL server whose user may CREATE DATABASE "
        "(default: $HARMONY_TEST_POSTGRES_URL)",
    )
    parser.add_argument(
        "--jobs", type=int, default=10_000, help="jobs per drain and per bulk enqueue"
    )
    parser.add_argument(
        "--single", type=int, default=2_000, help="jobs enqueued one call at a time"
    )
    parser.add_argument(
        "--single-rounds",
        type=int,
        default=3,
        help="interleaved rounds of enqueue one by one; the best counts",
    )
    parser.add_argument("--workers", type=int, default=4, help="workers of the multi-worker drains")
    parser.add_argument(
        "--repeat", type=int, default=3, help="drains per setup; the fastest counts"
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds before a drain is given up"
    )
    parser.add_argument(
        "--no-null-events",
        dest="null_events",
        action="store_false",
        help="skip the harmony rows with NullEventLogger",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write cProfile stats of the 1-worker harmony drains to DIR",
    )
    parser.add_argument(
        "--skip",
        type=lambda text: {part.strip() for part in text.split(",") if part.strip()},
        default=set(),
        help="comma-separated parts to leave out, for quick comparisons: procrastinate, "
        "pgqueuer, raw, sqlite (a --write run should measure everything)",
    )
    parser.add_argument(
        "--write", action="store_true", help="write the section into docs/benchmarks.md"
    )
    parser.add_argument("--notes", help="a Markdown file appended to the section written")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        CHILDREN[spec["lib"]](spec)
        return
    if not args.postgres:
        parser.error("give --postgres URL or set HARMONY_TEST_POSTGRES_URL")
    if args.write and args.skip:
        parser.error("--write records a whole run: drop --skip")
    command = command_line(SCRIPT, sys.argv[1:])  # without the URL and the notes path
    machine = _machine(args)
    print(machine)
    print(_versions(), "\n", flush=True)
    load_start = os.getloadavg()[0]
    print(f"Load average at start: {load_start:.2f}.", flush=True)
    began = time.perf_counter()
    drains, enqueues = run(args)
    took = time.perf_counter() - began
    table = _table(args, drains, enqueues)
    # The machine is shared: the load says how much the figures may have been disturbed.
    load = f"Load average (1 min) {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end; the run took {took:.0f} s."
    print(f"\n{table}\n\n{load}")
    if args.write:
        _write_docs(args, command, f"{machine} {load}", table)


if __name__ == "__main__":
    main()
