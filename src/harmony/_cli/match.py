"""``harmony match run|unmatched|confirm|reject``: ``ctx.matching`` from the command line.

Matching reads stored tracks only, so it needs no provider to be reachable: sync or import
both sides first (``harmony demo``, ``harmony import music/``), then
``harmony match run sample local``.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from harmony import HarmonyContext, TrackMatch, UnmatchedTrack
from harmony._cli._output import print_json, print_json_lines

__all__ = ["add_match_commands"]


def add_match_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``match run``, ``match unmatched``, ``match confirm`` and ``match reject``."""
    match = commands.add_parser(
        "match", help="match one provider's tracks to another's (e.g. sample -> local)"
    )
    actions = match.add_subparsers(title="match commands", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        parents=[common],
        help="match SOURCE's tracks to TARGET's catalogue (only what changed since the last run)",
    )
    _pair(run)
    run.set_defaults(command_fn=_run)
    unmatched = actions.add_parser(
        "unmatched",
        parents=[common],
        help="SOURCE's tracks without a match in TARGET, with TARGET's closest tracks",
    )
    _pair(unmatched)
    unmatched.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    unmatched.add_argument("--offset", type=int, default=0, help="skip this many first")
    unmatched.set_defaults(command_fn=_unmatched)
    for name, verb in (
        ("confirm", "pair them for good, whatever later runs find"),
        ("reject", "never pair them (a later run looks for another match)"),
    ):
        override = actions.add_parser(name, parents=[common], help=f"SOURCE_ID TARGET_ID: {verb}")
        override.add_argument(
            "source_track_id",
            type=int,
            metavar="SOURCE_ID",
            help="the source track's id (see 'harmony match unmatched')",
        )
        override.add_argument(
            "target_track_id", type=int, metavar="TARGET_ID", help="the target track's id"
        )
        override.add_argument("--json", action="store_true", help="print the pair as JSON")
        override.set_defaults(command_fn=_override, override=name)


def _pair(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the provider whose tracks are matched (e.g. sample)")
    parser.add_argument("target", help="the provider they are matched to (e.g. local)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _run(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    report = ctx.matching.run(args.source, args.target)
    if args.json:
        print_json(report, out)
        return 0
    print(
        f"{report.source} -> {report.target}: {report.matched} matched ({report.confirmed} "
        f"confirmed by hand), {report.unmatched} unmatched; {report.checked} tracks looked at, "
        f"{report.changed} matches changed",
        file=out,
    )
    if report.unmatched:
        print(f"see them with: harmony match unmatched {report.source} {report.target}", file=out)
    return 0


def _unmatched(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    items = ctx.matching.unmatched(args.source, args.target, limit=args.limit, offset=args.offset)
    if args.json:
        print_json_lines(items, out)
        return 0
    if not items:
        print(f"every track of {args.source!r} has a match in {args.target!r}", file=out)
    for item in items:
        print(f"{item.track.id}. {_describe(item.track)}", file=out)
        _print_candidates(item, out)
    return 0


def _print_candidates(item: UnmatchedTrack, out: TextIO) -> None:
    if not item.candidates:
        print("    no candidate", file=out)
    for candidate in item.candidates:
        why = candidate.why_not or "would match now (run again)"
        print(
            f"    {candidate.track.id}. {_describe(candidate.track)}  [{candidate.score:.0f}: {why}]",
            file=out,
        )


def _describe(track: Any) -> str:
    return f"{', '.join(track.artists)} - {track.title}"


def _override(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    act = ctx.matching.confirm if args.override == "confirm" else ctx.matching.reject
    pair: TrackMatch = act(args.source_track_id, args.target_track_id)
    if args.json:
        print_json(pair, out)
    else:
        print(
            f"{pair.status}: track {pair.source_track_id} -> {pair.target_provider} track "
            f"{pair.target_track_id}",
            file=out,
        )
    return 0
