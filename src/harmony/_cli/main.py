"""The ``harmony`` command (also ``python -m harmony``).

Errors print one line to stderr and exit non-zero; no tracebacks for expected failures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from harmony import (
    HarmonyContext,
    HarmonySettings,
    NullEventLogger,
    UnknownSettingWarning,
    __version__,
)
from harmony._cli._checks import require_head
from harmony._cli._output import print_json, print_json_lines, text_value
from harmony._cli.export import add_export_commands
from harmony._cli.inspect import add_inspect_commands
from harmony._cli.jobs import add_job_commands
from harmony._cli.library import add_library_commands
from harmony._cli.match import add_match_commands
from harmony._cli.playlists import add_playlist_commands
from harmony._cli.sources import add_source_commands
from harmony.errors import ConfigurationError, HarmonyError

__all__ = ["main"]

Command = Callable[[HarmonyContext, argparse.Namespace, TextIO], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 harmony error, 2 usage error)."""
    _tolerant_stdio()
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command_fn"):
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownSettingWarning)
            settings = _settings(args)
        _print_warnings(caught)
        if getattr(args, "needs_database", True) and not getattr(args, "creates_database", False):
            _require_existing_file(settings)
        # Outcomes are printed (and stored in the activity log); events are not logged twice.
        with HarmonyContext(settings, events=NullEventLogger()) as ctx:
            command: Command = args.command_fn
            if getattr(args, "needs_schema", True):
                require_head(ctx)
            code = command(ctx, args, sys.stdout)
            sys.stdout.flush()  # a full disk shows here, not at interpreter exit
            return code
    except HarmonyError as exc:
        print(f"harmony: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``harmony events tail | head``): stop quietly, and keep
        # Python from complaining again when it flushes stdout at exit.
        _silence_stdout()
        return 141
    except OSError as exc:  # e.g. ``> /dev/full``: no space left on the output's device
        _silence_stdout()
        where = f" {exc.filename!r}" if exc.filename else " the output"
        print(f"harmony: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except UnicodeError as exc:  # a value the terminal's encoding cannot show
        print(f"harmony: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("harmony: interrupted", file=sys.stderr)
        return 130


def _tolerant_stdio() -> None:
    """Print what cannot be encoded (a non-UTF-8 file name's surrogates) as backslash
    escapes instead of failing with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot change
                reconfigure(errors="backslashreplace")


def _silence_stdout() -> None:
    # Drop what is still buffered and point stdout at /dev/null, so Python does not
    # complain again when it flushes stdout at exit.
    with contextlib.suppress(OSError, ValueError):  # not a real file (tests): nothing to do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    """One ``harmony: warning:`` line per unknown ``HARMONY_*`` variable; others as usual."""
    for warning in caught:
        if issubclass(warning.category, UnknownSettingWarning):
            print(f"harmony: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _settings(args: argparse.Namespace) -> HarmonySettings:
    url = getattr(args, "url", None)
    if url is not None and not url.strip():
        raise ConfigurationError(
            "--url is empty; pass a database URL such as 'sqlite:///harmony.db' or "
            "'postgresql+psycopg://user@host/db', or leave --url out to use "
            "$HARMONY_DATABASE_URL"
        )
    return HarmonySettings.from_env(**({"database_url": url} if url is not None else {}))


def _require_existing_file(settings: HarmonySettings) -> None:
    """Refuse a SQLite path that does not exist, instead of creating an empty database.

    Only commands that set ``creates_database`` (``migrate upgrade``, ``demo``,
    ``import``) may create the file; for every other command a missing file is a typo.
    """
    url = settings.url
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return
    path = url.database
    if path in (None, "", ":memory:") or Path(path).exists():
        return
    raise ConfigurationError(
        f"no SQLite database at {str(Path(path).resolve())!r}; check the path in --url or "
        "HARMONY_DATABASE_URL for a typo, or create the database with 'harmony migrate "
        "upgrade' (or 'harmony import PATH')"
    )


def _parser() -> argparse.ArgumentParser:
    url_help = "database URL (default: $HARMONY_DATABASE_URL, else sqlite:///harmony.db)"
    # Accepted before the command and after it; SUPPRESS keeps a subcommand's absent
    # --url from overwriting one given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help=url_help)
    parser = argparse.ArgumentParser(
        prog="harmony", description="harmony: an embeddable music-library sync core."
    )
    parser.add_argument("--version", action="version", version=f"harmony {__version__}")
    parser.add_argument("--url", default=argparse.SUPPRESS, help=url_help)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_library_commands(commands, common)
    add_source_commands(commands, common)
    add_playlist_commands(commands, common)
    add_inspect_commands(commands, common)
    add_export_commands(commands, common)
    add_match_commands(commands, common)
    add_job_commands(commands, common)

    migrate = commands.add_parser(
        "migrate", help="upgrade, downgrade or inspect the database schema"
    )
    steps = migrate.add_subparsers(title="migrate commands", metavar="ACTION", required=True)
    up = steps.add_parser("upgrade", parents=[common], help="upgrade to REV (default head)")
    up.add_argument("rev", nargs="?", default="head")
    up.set_defaults(command_fn=_upgrade, needs_schema=False, creates_database=True)
    down = steps.add_parser("downgrade", parents=[common], help="downgrade to REV ('base' empties)")
    down.add_argument("rev")
    down.set_defaults(command_fn=_downgrade, needs_schema=False)
    current = steps.add_parser("current", parents=[common], help="print the database revision")
    current.add_argument("--json", action="store_true", help="print the revisions as JSON")
    current.set_defaults(command_fn=_current, needs_schema=False)
    # The history is the packaged scripts: no database is needed, none is created.
    steps.add_parser("history", parents=[common], help="list every revision").set_defaults(
        command_fn=_history, needs_schema=False, needs_database=False
    )
    steps.add_parser(
        "check", parents=[common], help="fail when the schema and the models differ"
    ).set_defaults(command_fn=_check, needs_schema=False)

    info = commands.add_parser(
        "info", parents=[common], help="show the database: backend, revision, tables and rows"
    )
    info.add_argument("--json", action="store_true", help="print the information as JSON")
    info.set_defaults(command_fn=_info, needs_schema=False)

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
    if args.json:
        print_json({"current": current, "head": head, "up_to_date": current == head}, out)
        return 0
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
    rows = ctx.system.table_rows()
    if args.json:
        print_json(
            {
                "database": ctx.settings.safe_database_url,
                "backend": ctx.db.backend,
                "schema": ctx.settings.database_schema,
                "revision": current,
                "head": head,
                "up_to_date": current == head,
                "tables": rows,
            },
            out,
        )
        return 0
    print(f"database: {ctx.settings.safe_database_url} ({ctx.db.backend})", file=out)
    if ctx.settings.database_schema:
        print(f"schema:   {ctx.settings.database_schema}", file=out)
    state = "up to date" if current == head else f"head is {head}; run 'harmony migrate upgrade'"
    print(f"revision: {current or 'base (empty)'} ({state})", file=out)
    print(f"tables:   {len(rows)}", file=out)
    for name, count in rows.items():
        print(f"  {name:<18} {count:>8} rows", file=out)
    return 0


def _activity_list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    page = ctx.activity.list(type=args.type, status=args.status, limit=args.limit)
    if args.json:
        print_json_lines((entry.to_dict() for entry in page), out)
        return 0
    for entry in page:
        print(
            f"{entry.timestamp.isoformat()}  {entry.type:<24} {entry.status:<10} "
            f"{_details(entry.details)}".rstrip(),
            file=out,
        )
    return 0


def _details(details: Any) -> str:
    return " ".join(f"{key}={text_value(value)}" for key, value in details.items())


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
