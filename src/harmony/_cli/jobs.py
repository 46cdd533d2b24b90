"""``harmony jobs ...`` (inspect and manage the queue) and ``harmony worker``."""

from __future__ import annotations

import argparse
import math
import sys
import threading
from datetime import timedelta
from typing import Any, TextIO

from harmony import (
    SYNC_JOB_TYPE,
    HarmonyContext,
    Job,
    JobContext,
    RetryPolicy,
    Worker,
    WorkerReport,
)
from harmony._cli._output import print_json, print_json_lines
from harmony._cli.library import stored_sources
from harmony.errors import InvalidInputError

__all__ = ["add_job_commands"]

_ERROR_WIDTH = 100


def add_job_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``jobs`` and ``worker`` to the CLI's subcommands."""
    jobs = commands.add_parser("jobs", help="inspect and manage the job queue")
    job_cmds = jobs.add_subparsers(title="jobs commands", metavar="ACTION", required=True)
    job_list = job_cmds.add_parser("list", parents=[common], help="newest jobs first")
    job_list.add_argument("--status", help="pending, leased, completed, failed or cancelled")
    job_list.add_argument("--type", help="only jobs of this type")
    job_list.add_argument("--limit", type=int, default=20)
    job_list.add_argument("--json", action="store_true", help="one JSON object per line")
    job_list.set_defaults(command_fn=_jobs_list)
    job_stats = job_cmds.add_parser("stats", parents=[common], help="counts by type and status")
    job_stats.add_argument("--json", action="store_true", help="print the counts as JSON")
    job_stats.set_defaults(command_fn=_jobs_stats)
    for action, text in (("cancel", "cancel a job"), ("retry", "retry a failed job")):
        cmd = job_cmds.add_parser(action, parents=[common], help=text)
        cmd.add_argument("job_id", type=int)
        cmd.set_defaults(command_fn=_jobs_change, action=action)
    purge = job_cmds.add_parser(
        "purge", parents=[common], help="delete completed and cancelled jobs older than N days"
    )
    purge.add_argument("--older-than-days", type=float, required=True)
    purge.set_defaults(command_fn=_jobs_purge)

    worker = commands.add_parser(
        "worker",
        parents=[common],
        help="run queued playlist.sync jobs for the remembered sources (Ctrl-C stops)",
    )
    worker.add_argument("--concurrency", type=int, default=1, help="worker threads (default 1)")
    worker.add_argument(
        "--until-idle",
        action="store_true",
        help="stop when no job is ready instead of waiting for more",
    )
    worker.add_argument("--json", action="store_true", help="print the final report as JSON")
    worker.set_defaults(command_fn=_worker)


def _jobs_list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    jobs = ctx.jobs.list(status=args.status, type=args.type, limit=args.limit)
    if args.json:
        print_json_lines(jobs, out)
        return 0
    now = ctx.clock.now()
    for job in jobs:
        print(_job_line(job, now), file=out)
    return 0


def _job_line(job: Job, now: Any) -> str:
    line = (
        f"{job.id:>8}  {job.type:<24} {job.status:<10} priority={job.priority} "
        f"attempts={job.attempts}"
    )
    if job.status == "pending":
        wait = (job.available_at - now).total_seconds()
        when = job.available_at.isoformat(timespec="seconds")
        line += f"  available {when}" + (f" (in {wait:.0f} s)" if wait >= 1 else "")
    if job.stop_reason:
        line += f"  {job.stop_reason}"
    if job.last_error:
        error = job.last_error.strip().splitlines()[0] if job.last_error.strip() else ""
        if len(error) > _ERROR_WIDTH:
            error = error[: _ERROR_WIDTH - 3] + "..."
        line += f"  last error: {error}"
    return line


def _jobs_stats(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    stats = ctx.jobs.stats()
    if args.json:
        print_json(
            {
                "counts": stats.counts,
                "total": stats.total(),
                "oldest_ready_age_seconds": stats.oldest_ready_age_seconds,
            },
            out,
        )
        return 0
    for job_type in sorted(stats.counts):
        counts = ", ".join(f"{s}={n}" for s, n in sorted(stats.counts[job_type].items()))
        print(f"{job_type:<24} {counts}", file=out)
    age = stats.oldest_ready_age_seconds
    print(f"oldest ready job: {'none' if age is None else f'{age:.1f} s'}", file=out)
    return 0


def _jobs_change(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    job = ctx.jobs.cancel(args.job_id) if args.action == "cancel" else ctx.jobs.retry(args.job_id)
    print(f"job {job.id} ({job.type}) is now {job.status}", file=out)
    return 0


def _jobs_purge(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    days = args.older_than_days
    if not (math.isfinite(days) and 0 <= days <= 36_500):
        raise InvalidInputError(
            f"--older-than-days must be a number of days from 0 to 36500, got {days}"
        )
    cutoff = ctx.clock.now() - timedelta(days=days)
    print(f"purged {ctx.jobs.purge(completed_before=cutoff)} jobs", file=out)
    return 0


def _worker(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.concurrency <= 64:
        raise InvalidInputError(f"--concurrency must be from 1 to 64, got {args.concurrency}")
    worker = Worker(ctx, concurrency=args.concurrency)
    lock = threading.Lock()
    registered: set[str] = set()

    def refresh_sources() -> None:
        # Read for every job: a source imported while the worker runs is synced too, one
        # forgotten is not. Swapped in place, so a job running in another thread keeps
        # seeing its provider.
        with lock:
            sources = stored_sources(ctx)
            for name in sorted(registered - set(sources)):
                ctx.remove_provider(name)
                registered.discard(name)
            for name, provider in sources.items():
                if name in registered or name not in ctx.provider_registry:
                    ctx.add_provider(name, provider, replace=True)
                    registered.add(name)

    def sync(job: JobContext) -> Any:
        refresh_sources()
        return ctx.sync.handle_job(job)

    # As SyncEngine.register: a bad payload or an unknown source cannot succeed later.
    worker.register(SYNC_JOB_TYPE, sync, retry=RetryPolicy(give_up_on=(InvalidInputError,)))
    if args.until_idle:
        report = worker.run_until_idle()
    else:
        print(
            f"harmony worker {worker.worker_id}: running {SYNC_JOB_TYPE} jobs on "
            f"{ctx.settings.safe_database_url}; Ctrl-C or SIGTERM stops it",
            file=sys.stderr,
            flush=True,
        )
        worker.stop_on_signals()
        worker.run()
        report = worker.report
        report.waiting_retry = ctx.jobs.waiting_retry(worker.types)
    _print_report(report, args.json, out)
    return 0


def _print_report(report: WorkerReport, as_json: bool, out: TextIO) -> None:
    fields = {
        name: getattr(report, name)
        for name in ("completed", "retried", "dead_lettered", "lost", "released", "waiting_retry")
    }
    if as_json:
        print_json(fields, out)
        return
    print(
        f"completed {report.completed}, retried {report.retried}, dead-lettered "
        f"{report.dead_lettered}, lost {report.lost}, released {report.released}; "
        f"{report.waiting_retry} waiting for a retry",
        file=out,
    )
