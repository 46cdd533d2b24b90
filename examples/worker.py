"""A standalone worker process.

    python examples/worker.py DATABASE_URL [--concurrency 4] [--demo-jobs 100] [--until-idle]

Runs handlers for ``report.build`` jobs until SIGTERM/SIGINT (or, with ``--until-idle``,
until no job is ready). ``--demo-jobs N`` first enqueues N jobs to have something to do.
Settings beyond the URL come from ``HARMONY_*`` variables (e.g. ``HARMONY_DATABASE_SCHEMA``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from sqlalchemy.orm import Session
from tenacity import wait_exponential_jitter

from harmony import HarmonyContext, HarmonySettings, LeasedJob, RetryPolicy, Worker


def build_report(job: LeasedJob, session: Session) -> dict[str, Any]:
    """A handler: its writes through ``session`` commit together with the completion."""
    return {"kind": job.payload.get("kind", "daily"), "attempt": job.attempts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--demo-jobs", type=int, default=0)
    parser.add_argument("--until-idle", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    with HarmonyContext(HarmonySettings.from_env(database_url=args.url)) as ctx:
        ctx.migrate()
        if args.demo_jobs:
            demo = ({"type": "report.build", "payload": {"n": n}} for n in range(args.demo_jobs))
            ctx.jobs.enqueue_many(demo)
        worker = Worker(ctx, concurrency=args.concurrency, batch_size=50)
        worker.register(
            "report.build",
            build_report,
            retry=RetryPolicy(max_attempts=5, wait=wait_exponential_jitter(initial=1, max=60)),
        )
        if args.until_idle:
            report = worker.run_until_idle()
        else:
            worker.stop_on_signals()
            worker.run()
            report = worker.report
        print(f"worker {worker.worker_id}: {report}")


if __name__ == "__main__":
    main()
