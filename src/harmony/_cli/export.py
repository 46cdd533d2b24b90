"""``harmony export`` (a playlist to M3U8/XSPF/CSV) and ``harmony sample-music DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO, cast

from harmony import EXPORT_FORMATS, ExportFormat, ExportReport, HarmonyContext
from harmony._cli._output import print_json
from harmony._cli.library import stored_sources, with_providers
from harmony.errors import HarmonyError, InvalidInputError, NotFoundError

__all__ = ["add_export_commands", "resolve_playlist"]


def add_export_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``export`` and ``sample-music`` to the CLI's subcommands."""
    export = commands.add_parser(
        "export",
        parents=[common],
        help="write a stored playlist as an M3U8, XSPF or Exportify CSV file",
    )
    export.add_argument(
        "playlist",
        metavar="PLAYLIST",
        help="the playlist: its id, or PROVIDER:PROVIDER_ID (e.g. sample:Road_Trip)",
    )
    export.add_argument("path", metavar="PATH", help="the file to write")
    export.add_argument(
        "--format",
        choices=tuple(EXPORT_FORMATS),
        help="file format (default: from PATH's suffix, else m3u8)",
    )
    whose = export.add_mutually_exclusive_group()
    whose.add_argument(
        "--target",
        help="the provider whose tracks the file lists (default: local)",
    )
    whose.add_argument(
        "--own",
        action="store_true",
        help="list the playlist's own tracks (a CSV copy of the playlist itself)",
    )
    export.add_argument(
        "--base",
        metavar="DIR",
        help="write PATH inside DIR only, with M3U8 paths relative to DIR",
    )
    export.add_argument("--json", action="store_true", help="print the report as JSON")
    export.set_defaults(command_fn=_export)

    music = commands.add_parser(
        "sample-music",
        parents=[common],
        help="write tiny tagged audio files for the sample library into DIR (extra 'local')",
    )
    music.add_argument("folder", metavar="DIR", help="where to write them (created if needed)")
    music.add_argument("--json", action="store_true", help="print what was written as JSON")
    music.set_defaults(command_fn=_sample_music, needs_schema=False)


def resolve_playlist(ctx: HarmonyContext, text: str) -> int:
    """The stored id of ``"42"`` or ``"provider:provider_id"``; :class:`NotFoundError` if none."""
    value = text.strip()
    if value.isascii() and value.isdigit():
        return int(value)
    provider, sep, provider_id = value.partition(":")
    if not sep or not provider or not provider_id:
        raise InvalidInputError(
            f"playlist {text!r:.200} is neither an id nor PROVIDER:PROVIDER_ID "
            "(e.g. 42 or sample:Road_Trip)"
        )
    cursor: str | None = None
    while True:
        page = ctx.playlists.repository.list_page(
            provider=provider, status="all", limit=500, cursor=cursor
        )
        for playlist in page.items:
            if playlist.provider_id == provider_id:
                return playlist.id
        cursor = page.next_cursor
        if cursor is None:
            raise NotFoundError(
                f"no playlist {provider_id!r:.200} of provider {provider!r:.80} is stored; "
                "sync or import it first"
            )


def _format_for(path: str, given: str | None) -> ExportFormat:
    if given is None:
        suffix = Path(path).suffix.lower()
        given = next((f for f, suffixes in EXPORT_FORMATS.items() if suffix in suffixes), "m3u8")
    return cast(ExportFormat, given)  # argparse's choices are EXPORT_FORMATS


def _export(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    playlist_id = resolve_playlist(ctx, args.playlist)
    target = None if args.own else (args.target or "local")
    providers = stored_sources(ctx)
    # A remembered source that cannot be opened says why, rather than "not registered".
    error = getattr(providers.get(target or ""), "error", None)
    if isinstance(error, HarmonyError):
        raise error
    with with_providers(ctx, providers) as exporting:
        report = exporting.export.playlist(
            playlist_id,
            args.path,
            format=_format_for(args.path, args.format),
            target=target,
            base=args.base,
        )
    if args.json:
        print_json(report.to_dict(), out)
    else:
        _print_report(report, out)
    return 0


def _print_report(report: ExportReport, out: TextIO) -> None:
    total = report.written + len(report.missing)
    verb = "wrote" if report.changed else "unchanged (already up to date):"
    print(
        f"{verb} {report.path} ({report.format}, {report.written} of {total} tracks from "
        f"{report.target!r})",
        file=out,
    )
    for entry in report.missing[:20]:
        artists = ", ".join(entry.artists)
        print(
            f"  missing {entry.position + 1}. {artists} - {entry.title}: {entry.reason}", file=out
        )
    if len(report.missing) > 20:
        print(f"  ... {len(report.missing) - 20} more missing", file=out)


def _sample_music(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    from harmony.providers.sample.music import write_sample_music

    music = write_sample_music(args.folder)
    if args.json:
        print_json(
            {
                "folder": str(music.folder),
                "files": [str(p) for p in music.files],
                "left_out": list(music.left_out),
            },
            out,
        )
        return 0
    print(
        f"wrote {len(music.files)} sample music files into {music.folder} "
        f"({len(music.left_out)} sample tracks left out on purpose); "
        f"sync them with: harmony import {music.folder}",
        file=out,
    )
    return 0
