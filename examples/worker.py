"""A standalone worker process (PostgreSQL for several of them; SQLite works for one).

    python examples/worker.py DATABASE_URL [--concurrency 4] [--exports PATH]
                              [--demo-jobs 100] [--sync] [--until-idle]

Runs ``playlist.sync`` jobs (syncing the bundled sample library, or the export at
``--exports``) and ``report.build`` jobs until SIGTERM/SIGINT, or with ``--until-idle``
until no job is ready. ``--demo-jobs N`` first enqueues N ``report.build`` jobs and
``--sync`` one ``playlist.sync`` job, to have something to do. Web processes enqueue
``playlist.sync`` jobs; this process runs them. Settings beyond the URL come from
``HARMONY_*`` variables (e.g. ``HARMONY_DATABASE_SCHEMA``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from harmony import (
    SYNC_JOB_TYPE,
    Exponential,
    HarmonyContext,
    HarmonySettings,
    JobContext,
    RetryPolicy,
    Worker,
)
from harmony.providers import open_export, sample_provider


def build_report(job: JobContext) -> dict[str, Any]:
    """A handler: its writes through ``job.session`` commit together with the completion."""
    return {"kind": job.payload.get("kind", "daily"), "attempt": job.attempt}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--exports", help="an export file or folder to sync (default: the sample)")
    parser.add_argument("--demo-jobs", type=int, default=0)
    parser.add_argument("--sync", action="store_true", help="enqueue one playlist.sync job")
    parser.add_argument("--until-idle", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    provider = (
        open_export(args.exports, name="library") if args.exports else sample_provider("library")
    )
    settings = HarmonySettings.from_env(database_url=args.url)
    with HarmonyContext(settings, providers={"library": provider}) as ctx:
        ctx.migrate()
        if args.sync:
            ctx.jobs.enqueue(SYNC_JOB_TYPE, {"provider": "library"}, priority=5)
        if args.demo_jobs:
            demo = ({"type": "report.build", "payload": {"n": n}} for n in range(args.demo_jobs))
            ctx.jobs.enqueue_many(demo)
        # Handlers live on the context; the sync engine registered playlist.sync itself.
        ctx.jobs.register(
            "report.build",
            build_report,
            retry=RetryPolicy(max_attempts=5, wait=Exponential(maximum=60)),
        )
        worker = Worker(ctx, concurrency=args.concurrency, batch_size=50)
        if args.until_idle:
            report = worker.run_until_idle()
        else:
            worker.stop_on_signals()
            worker.run()
            report = worker.report
        print(f"worker {worker.worker_id}: {report}")
        print(f"library: {ctx.playlists.count()} playlists, {ctx.tracks.count()} tracks")


if __name__ == "__main__":
    main()
