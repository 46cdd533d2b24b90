"""``harmony playlists list`` and ``harmony playlists show ID|PROVIDER:PROVIDER_ID``."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from harmony import MAX_PAGE_SIZE, HarmonyContext, Playlist, PlaylistDetail
from harmony._cli._output import print_json, print_json_lines
from harmony.errors import InvalidInputError, NotFoundError

__all__ = ["add_playlist_commands"]

_MAX_LISTED = 1_000_000


def add_playlist_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``playlists list`` and ``playlists show``."""
    playlists = commands.add_parser("playlists", help="list the stored playlists or show one")
    actions = playlists.add_subparsers(title="playlists commands", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="playlists in id order")
    listing.add_argument("--provider", help="only this provider's (source's) playlists")
    listing.add_argument("--status", choices=("active", "removed", "all"), default="active")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument(
        "--cursor", help="continue after a previous listing (it prints the cursor)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(command_fn=_list)
    show = actions.add_parser("show", parents=[common], help="one playlist with its tracks")
    show.add_argument(
        "playlist",
        help="harmony's id (a number) or PROVIDER:PROVIDER_ID, e.g. spotify:37i9dQZF1DX0XUsuxWHRQd",
    )
    show.add_argument("--json", action="store_true", help="print the playlist as JSON")
    show.set_defaults(command_fn=_show)


def _list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.limit <= _MAX_LISTED:
        raise InvalidInputError(f"--limit must be from 1 to {_MAX_LISTED}, got {args.limit}")
    items: list[Playlist] = []
    cursor = args.cursor
    while len(items) < args.limit:
        page = ctx.playlists.list_page(
            provider=args.provider,
            status=args.status,
            cursor=cursor,
            limit=min(MAX_PAGE_SIZE, args.limit - len(items)),
        )
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if args.json:
        print_json_lines(items, out)
        return 0
    if not items:
        print("no playlists: 'harmony import PATH' or 'harmony demo' adds some", file=out)
        return 0
    id_width = max(len(str(p.id)) for p in items)
    name_width = min(40, max(len(p.name) for p in items))
    for p in items:
        removed = "  (removed)" if p.status == "removed" else ""
        print(
            f"{p.id:>{id_width}}  {_cut(p.name, name_width):<{name_width}}  "
            f"{p.track_count:>6} tracks  {p.provider}:{p.provider_id}{removed}",
            file=out,
        )
    if cursor is not None:
        print(f"(more: --cursor {cursor})", file=out)
    return 0


def _show(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    detail = ctx.playlists.get(_resolve(ctx, args.playlist))
    if args.json:
        print_json(detail, out)
        return 0
    _print_detail(detail, out)
    return 0


def _resolve(ctx: HarmonyContext, ref: str) -> int:
    """harmony's id for ``ref``: a number, or ``provider:provider_id``."""
    if ref.isascii() and ref.isdigit():
        return int(ref)
    provider, sep, provider_id = ref.partition(":")
    if not sep or not provider or not provider_id:
        raise InvalidInputError(
            f"playlist {ref!r} is neither harmony's id (a number) nor PROVIDER:PROVIDER_ID; "
            "'harmony playlists list' shows both"
        )
    found = ctx.playlists.find(provider, provider_id)
    if found is None:
        raise NotFoundError(
            f"no playlist {provider_id!r} from provider {provider!r}; "
            "'harmony playlists list --status all' shows the stored ones"
        )
    return found.id


def _print_detail(detail: PlaylistDetail, out: TextIO) -> None:
    print(f"{detail.name}  ({detail.provider}:{detail.provider_id}, id {detail.id})", file=out)
    if detail.description:
        print(f"  {detail.description}", file=out)
    owner = f"by {detail.owner}, " if detail.owner else ""
    removed = (
        f", removed {detail.removed_at.isoformat(timespec='seconds')}" if detail.removed_at else ""
    )
    print(
        f"  {owner}{len(detail.tracks)} tracks, {detail.status}{removed}, version "
        f"{detail.version}, updated {detail.updated_at.isoformat(timespec='seconds')}, "
        f"etag {detail.etag}",
        file=out,
    )
    width = len(str(len(detail.tracks)))
    for track in detail.tracks:
        album = f" · {track.album}" if track.album else ""
        length = ""
        if track.duration_ms is not None:
            minutes, seconds = divmod(round(track.duration_ms / 1000), 60)
            length = f" ({minutes}:{seconds:02d})"
        print(
            f"  {track.position + 1:>{width}}. {track.title} — {', '.join(track.artists)}"
            f"{album}{length}",
            file=out,
        )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
