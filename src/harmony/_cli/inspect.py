"""``harmony events tail``, ``harmony stats``, ``harmony search`` and ``harmony status``."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from harmony import HarmonyContext
from harmony._cli._output import print_json, text_value
from harmony._cli.library import stored_sources, with_providers
from harmony.errors import InvalidInputError

__all__ = ["add_inspect_commands"]

_FOLLOW_POLL_SECONDS = 1.0


def add_inspect_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``events``, ``stats``, ``search`` and ``status`` to the CLI's subcommands."""
    events = commands.add_parser("events", help="the activity log (sync runs, migrations, ...)")
    actions = events.add_subparsers(title="events commands", metavar="ACTION", required=True)
    tail = actions.add_parser("tail", parents=[common], help="the newest entries, oldest first")
    tail.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    tail.add_argument("--type", help="only entries of this type (e.g. sync.run)")
    tail.add_argument("--status", help="only entries with this status")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new entries")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(command_fn=_events_tail)

    stats = commands.add_parser(
        "stats", parents=[common], help="CPU, memory, disk and network of this machine"
    )
    stats.add_argument("--json", action="store_true", help="print the stats as JSON")
    stats.set_defaults(command_fn=_stats)

    search = commands.add_parser("search", parents=[common], help="ranked track search")
    search.add_argument("query", help="words to look for (title, artists, album, edition, year)")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--offset", type=int, default=0)
    search.add_argument("--json", action="store_true", help="print the result as JSON")
    search.set_defaults(command_fn=_search)

    status = commands.add_parser(
        "status", parents=[common], help="what harmony can do with a provider (credentials)"
    )
    status.add_argument("provider", nargs="?", help="one provider (default: every known one)")
    status.add_argument("--json", action="store_true", help="print the statuses as JSON")
    status.set_defaults(command_fn=_status)


def _events_tail(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {args.limit}")
    page = ctx.activity.list(type=args.type, status=args.status, limit=min(args.limit, 1000))
    entries = list(reversed(page.items))
    for entry in entries:
        _print_entry(entry, args.json, out)
    if not args.follow:
        return 0
    last_id = entries[-1].id if entries else 0
    while True:  # until Ctrl-C (exit 130)
        time.sleep(_FOLLOW_POLL_SECONDS)
        fresh = [
            e
            for e in ctx.activity.list(type=args.type, status=args.status, limit=1000)
            if e.id > last_id
        ]
        for entry in reversed(fresh):
            _print_entry(entry, args.json, out)
            last_id = max(last_id, entry.id)
        out.flush()


def _print_entry(entry: Any, as_json: bool, out: TextIO) -> None:
    if as_json:
        print_json(entry.to_dict(), out)
        return
    details = " ".join(f"{k}={text_value(v)}" for k, v in entry.details.items() if k != "meta")
    print(
        f"{entry.timestamp.isoformat(timespec='seconds')}  {entry.type:<18} "
        f"{entry.status:<8} {details}",
        file=out,
    )


def _stats(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    stats = ctx.system.stats()
    if args.json:
        print_json(stats, out)
        return 0
    gib = 1024**3
    print(f"cpu      {stats.cpu.percent:5.1f}%  of {stats.cpu.logical_cores} cores", file=out)
    print(
        f"memory   {stats.memory.percent:5.1f}%  {stats.memory.used / gib:.1f} of "
        f"{stats.memory.total / gib:.1f} GiB used",
        file=out,
    )
    print(
        f"disk     {stats.disk.percent:5.1f}%  {stats.disk.free / gib:.1f} GiB free on "
        f"{stats.disk.path}",
        file=out,
    )
    print(
        f"network  {stats.network.bytes_sent:,} bytes sent, {stats.network.bytes_recv:,} received",
        file=out,
    )
    print(
        f"process  {stats.process.rss / 1024**2:.0f} MiB resident, {stats.process.threads} threads",
        file=out,
    )
    return 0


def _search(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    result = ctx.search.tracks(args.query, limit=args.limit, offset=args.offset)
    if args.json:
        print_json(result, out)
        return 0
    if not result.items:
        print(f"no tracks match {args.query!r}", file=out)
    for rank, hit in enumerate(result.items, start=args.offset + 1):
        year = f" ({hit.year})" if hit.year else ""
        album = f" · {hit.album}" if hit.album else ""
        print(
            f"{rank:>3}. {hit.title} — {', '.join(hit.artists)}{album}{year}  "
            f"[{hit.provider}, score {hit.score:.0f}]",
            file=out,
        )
    for source, error in result.errors.items():
        print(f"  (source {source} failed: {error})", file=out)
    return 0


def _status(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    # Sources imported through the CLI count as registered providers here.
    with with_providers(ctx, stored_sources(ctx)) as known:
        names = [args.provider] if args.provider else known.providers.names()
        statuses = [known.providers.status(name) for name in names]
    if args.json:
        print_json(statuses, out)
        return 0
    if not statuses:
        print("no providers: import an export or store credentials first", file=out)
    for s in statuses:
        keys = ", ".join(s.credential_keys) or "none"
        print(
            f"{s.name:<12} configured={'yes' if s.configured else 'no':<3} "
            f"pro={'yes' if s.pro_features else 'no':<3} credentials: {keys}",
            file=out,
        )
    return 0
