"""A harmony worker in a process of its own, started by ``tests/queue/test_processes.py``.

::

    python tests/queue/worker_process.py --url URL [--schema S] --mode MODE --worker-id ID

Modes:

``drain``
    The handler inserts ``(job.id, job.leased_by)`` into the table ``processed`` through
    the session it receives (a duplicate would raise a unique violation). A payload
    ``{"fail": true}`` makes it raise instead; ``{"sleep": s}`` makes it sleep first (and
    touch ``--holding-file``); ``{"kill": true}`` makes the process SIGKILL itself (an
    out-of-memory kill, a segfault in a C extension). The process runs ``run_until_idle()`` rounds until the
    queue has no pending or leased job of the type, then prints a JSON report on stdout
    and exits 0 (3 when ``--deadline`` passes first).
``hold``
    The handler marks ``--holding-file`` and sleeps forever, so the process keeps its
    batch leased (and heart-beaten) until it is killed.
``write-and-hold``
    Like ``hold``, but the handler first inserts its row into ``processed`` through its
    session (an uncommitted write the kill must roll back).

With ``--ready-file`` the process touches that file once it is connected and set up; with
``--wait-for-go`` it then waits for a line on stdin before working, so several processes
start leasing together.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from harmony import Fixed, HarmonyContext, JobContext, RetryPolicy, Worker

_INSERT = text("INSERT INTO processed (job_id, worker_id) VALUES (:job_id, :worker_id)")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema", default=None)
    parser.add_argument(
        "--mode", required=True, choices=("drain", "hold", "write-and-hold", "serve")
    )
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--job-type", default="proc.job")
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--ready-file", type=Path, default=None)
    parser.add_argument("--wait-for-go", action="store_true")
    parser.add_argument("--holding-file", type=Path, default=None)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds (drain mode)")
    parser.add_argument("--max-attempts", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # The worker id names the process's PostgreSQL connections (pg_stat_activity).
    settings: dict[str, Any] = {"application_name": args.worker_id}
    if args.schema:
        settings["database_schema"] = args.schema
    with HarmonyContext.from_url(args.url, settings=settings) as ctx:
        worker = Worker(
            ctx,
            concurrency=args.concurrency,
            batch_size=args.batch_size,
            lease_seconds=args.lease_seconds,
            worker_id=args.worker_id,
            retry=RetryPolicy(max_attempts=args.max_attempts, wait=Fixed(0.1)),
        )
        worker.register(args.job_type, _handler(args))
        ctx.db.ping()  # connect before reporting ready
        if args.ready_file is not None:
            args.ready_file.touch()
        if args.wait_for_go and not sys.stdin.readline():
            return 2  # the test went away before saying go
        if args.mode == "drain":
            return _drain(ctx, worker, args)
        if args.mode == "serve":  # like a service: run until SIGTERM
            worker.stop_on_signals()
            worker.run()
            print(json.dumps({"worker_id": args.worker_id, "released": worker.report.released}))
            return 0
        worker.run_until_idle(max_batches=1)  # the handler never returns
        return 4


def _handler(args: argparse.Namespace) -> Any:
    def drain(job: JobContext) -> None:
        if job.payload.get("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        if job.payload.get("fail"):
            raise RuntimeError(f"job {job.job.id} fails on purpose")
        if job.payload.get("sleep"):
            if args.holding_file is not None:
                args.holding_file.touch()
            time.sleep(float(job.payload["sleep"]))  # outside any write of this handler
        job.session.execute(_INSERT, {"job_id": job.job.id, "worker_id": job.job.leased_by})

    def hold(job: JobContext) -> None:
        if args.mode == "write-and-hold":
            job.session.execute(_INSERT, {"job_id": job.job.id, "worker_id": job.job.leased_by})
            job.session.flush()
        if args.holding_file is not None:
            args.holding_file.write_text(json.dumps({"job_id": job.job.id, "token": job.job.token}))
        while True:  # hold the lease until SIGKILL
            time.sleep(3600)

    return hold if args.mode in ("hold", "write-and-hold") else drain


def _drain(ctx: HarmonyContext, worker: Worker, args: argparse.Namespace) -> int:
    totals = {"completed": 0, "retried": 0, "dead_lettered": 0, "lost": 0, "released": 0}
    deadline = time.monotonic() + args.deadline
    rounds = 0
    while True:
        report = worker.run_until_idle()
        rounds += 1
        for name in totals:
            totals[name] += getattr(report, name)
        by_status = ctx.jobs.stats().counts.get(args.job_type, {})
        # Other processes may still hold leases (and could die): wait until nothing is
        # pending or leased, so every job is accounted for before this process leaves.
        if not by_status.get("pending") and not by_status.get("leased"):
            break
        if time.monotonic() > deadline:
            print(json.dumps({"worker_id": args.worker_id, "error": "deadline", **totals}))
            return 3
        time.sleep(0.05)
    print(json.dumps({"worker_id": args.worker_id, "rounds": rounds, **totals}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
