"""The ``harmony`` command (also ``python -m harmony``).

Errors print one line to stderr and exit non-zero; no tracebacks for expected failures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TextIO

from sqlalchemy import func, inspect, select

from harmony import __version__
from harmony.cli.inspect import add_inspect_commands
from harmony.cli.library import add_library_commands
from harmony.context import HarmonyContext
from harmony.db.models import metadata
from harmony.errors import HarmonyError, InvalidInputError, MigrationError
from harmony.events.loggers import NullEventLogger
from harmony.settings import HarmonySettings, UnknownSettingWarning

__all__ = ["main"]

Command = Callable[[HarmonyContext, argparse.Namespace, TextIO], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 harmony error, 2 usage error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command_fn"):
        parser.print_help(sys.stderr)
        return 2
    try:
        overrides = {"database_url": args.url} if args.url else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownSettingWarning)
            settings = HarmonySettings.from_env(**overrides)
        _print_warnings(caught)
        # Outcomes are printed (and stored in the activity log); events are not logged twice.
        with HarmonyContext(settings, events=NullEventLogger()) as ctx:
            command: Command = args.command_fn
            if getattr(args, "needs_schema", True):
                _require_head(ctx)
            return command(ctx, args, sys.stdout)
    except HarmonyError as exc:
        print(f"harmony: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("harmony: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``harmony events tail | head``): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """One ``harmony: warning:`` line per unknown ``HARMONY_*`` variable; others as usual."""
    for warning in caught:
        if issubclass(warning.category, UnknownSettingWarning):
            print(f"harmony: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _require_head(ctx: HarmonyContext) -> None:
    """Commands that read or write harmony's tables need the current schema."""
    current, head = ctx.migrations.current(), ctx.migrations.head()
    if current != head:
        raise MigrationError(
            f"the database schema is at {current or 'base (empty)'} but this harmony needs "
            f"{head}; run 'harmony migrate upgrade' first"
        )


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        help="database URL (default: $HARMONY_DATABASE_URL, else sqlite:///harmony.db)",
    )
    parser = argparse.ArgumentParser(
        prog="harmony", description="harmony: an embeddable music-library sync core."
    )
    parser.add_argument("--version", action="version", version=f"harmony {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_library_commands(commands, common)
    add_inspect_commands(commands, common)

    migrate = commands.add_parser(
        "migrate", help="upgrade, downgrade or inspect the database schema"
    )
    steps = migrate.add_subparsers(title="migrate commands", metavar="ACTION", required=True)
    up = steps.add_parser("upgrade", parents=[common], help="upgrade to REV (default head)")
    up.add_argument("rev", nargs="?", default="head")
    up.set_defaults(command_fn=_upgrade, needs_schema=False)
    down = steps.add_parser("downgrade", parents=[common], help="downgrade to REV ('base' empties)")
    down.add_argument("rev")
    down.set_defaults(command_fn=_downgrade, needs_schema=False)
    steps.add_parser("current", parents=[common], help="print the database revision").set_defaults(
        command_fn=_current, needs_schema=False
    )
    steps.add_parser("history", parents=[common], help="list every revision").set_defaults(
        command_fn=_history, needs_schema=False
    )
    steps.add_parser(
        "check", parents=[common], help="fail when the schema and the models differ"
    ).set_defaults(command_fn=_check, needs_schema=False)

    commands.add_parser(
        "info", parents=[common], help="show the database: backend, revision, tables and rows"
    ).set_defaults(command_fn=_info, needs_schema=False)

    activity = commands.add_parser("activity", help="read the activity log")
    acts = activity.add_subparsers(title="activity commands", metavar="ACTION", required=True)
    listing = acts.add_parser("list", parents=[common], help="newest entries first")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=20)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(command_fn=_activity_list)
    export = acts.add_parser("export", parents=[common], help="stream entries as CSV or JSON lines")
    _filters(export)
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(command_fn=_activity_export)
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
    return parser


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", help="only entries of this type")
    parser.add_argument("--status", help="only entries with this status")


def _upgrade(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    before = ctx.migrations.current()
    after = ctx.migrations.upgrade(args.rev)
    if before == after:
        print(f"already at {after or 'base'}", file=out)
    else:
        print(f"upgraded {before or 'base'} -> {after}", file=out)
    return 0


def _downgrade(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    before = ctx.migrations.current()
    after = ctx.migrations.downgrade(args.rev)
    print(f"downgraded {before or 'base'} -> {after or 'base'}", file=out)
    return 0


def _current(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    current = ctx.migrations.current()
    head = ctx.migrations.head()
    print(f"{current or 'base'}{' (head)' if current == head else f' (head is {head})'}", file=out)
    return 0


def _history(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    for rev in ctx.migrations.history():
        marker = " (head)" if rev.is_head else ""
        print(f"{rev.down_revision or 'base'} -> {rev.revision}{marker}: {rev.message}", file=out)
    return 0


def _check(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    ctx.migrations.check()
    print(f"ok: schema at {ctx.migrations.head()} matches harmony's models", file=out)
    return 0


def _info(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    current = ctx.migrations.current()
    head = ctx.migrations.head()
    print(f"database: {ctx.settings.safe_database_url} ({ctx.db.backend})", file=out)
    if ctx.settings.database_schema:
        print(f"schema:   {ctx.settings.database_schema}", file=out)
    state = "up to date" if current == head else f"head is {head}; run 'harmony migrate upgrade'"
    print(f"revision: {current or 'base (empty)'} ({state})", file=out)
    with ctx.db.connect() as conn:
        present = set(inspect(conn).get_table_names())
        tables = [t for t in metadata.sorted_tables if t.name in present]
        print(f"tables:   {len(tables)}", file=out)
        for table in sorted(tables, key=lambda t: t.name):
            rows = conn.execute(select(func.count()).select_from(table)).scalar_one()
            print(f"  {table.name:<18} {rows:>8} rows", file=out)
    return 0


def _activity_list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    page = ctx.activity.list(type=args.type, status=args.status, limit=args.limit)
    if args.json:
        for entry in page:
            print(json.dumps(entry.to_dict()), file=out)
        return 0
    for entry in page:
        print(
            f"{entry.timestamp.isoformat()}  {entry.type:<24} {entry.status:<10} "
            f"{dict(entry.details)}",
            file=out,
        )
    return 0


def _activity_export(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as dest:
                count = ctx.activity.export(dest, args.format, type=args.type, status=args.status)
        except OSError as exc:
            raise HarmonyError(f"cannot write {args.output!r}: {exc.strerror}") from exc
        print(f"exported {count} entries to {args.output}", file=sys.stderr)
    else:
        ctx.activity.export(out, args.format, type=args.type, status=args.status)
    return 0


def _jobs_list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    jobs = ctx.jobs.list(status=args.status, type=args.type, limit=args.limit)
    if args.json:
        for job in jobs:
            print(json.dumps(dataclasses.asdict(job), default=_jsonable), file=out)
        return 0
    for job in jobs:
        reason = f"  {job.stop_reason}" if job.stop_reason else ""
        print(
            f"{job.id:>8}  {job.type:<24} {job.status:<10} priority={job.priority} "
            f"attempts={job.attempts}{reason}",
            file=out,
        )
    return 0


def _jobs_stats(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    stats = ctx.jobs.stats()
    if args.json:
        print(json.dumps({"counts": stats.counts, "total": stats.total(),
                          "oldest_ready_age_seconds": stats.oldest_ready_age_seconds},
                         default=_jsonable), file=out)  # fmt: skip
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
