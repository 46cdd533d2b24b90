"""``harmony sources list|forget``: the sources ``import`` and ``demo`` remembered.

A source is a settings row ``sources.<name>`` holding ``{"kind": "file", "path": ...}``
(or ``{"kind": "sample"}``); ``harmony sync`` and ``harmony worker`` sync every one.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from harmony import HarmonyContext
from harmony._cli._output import print_json_lines
from harmony.errors import UnknownProviderError

__all__ = [
    "SOURCE_PREFIX",
    "add_source_commands",
    "default_source_name",
    "remembered_sources",
]

#: Settings key prefix of a remembered source.
SOURCE_PREFIX = "sources."
_NAME_LIMIT = 48  # leaves room for "-<hash>" within the 63 characters of a provider name
_NOT_NAME = re.compile(r"[^a-z0-9_.-]+")


def add_source_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``sources list`` and ``sources forget NAME``."""
    sources = commands.add_parser("sources", help="the sources 'harmony import' remembered")
    actions = sources.add_subparsers(title="sources commands", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="every remembered source")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(command_fn=_list)
    forget = actions.add_parser(
        "forget",
        parents=[common],
        help="stop syncing a source (its playlists stay unless --remove-playlists)",
    )
    forget.add_argument("name", help="the source's name (see 'harmony sources list')")
    forget.add_argument(
        "--remove-playlists",
        action="store_true",
        help="also mark its playlists removed, as a sync would",
    )
    forget.set_defaults(command_fn=_forget)


def remembered_sources(ctx: HarmonyContext) -> dict[str, dict[str, Any]]:
    """Every remembered source by name, as stored (``kind``, ``path``)."""
    return {
        key[len(SOURCE_PREFIX) :]: source
        for key, source in ctx.options.with_prefix(SOURCE_PREFIX).items()
    }


def default_source_name(path: Path, kind: str, remembered: dict[str, dict[str, Any]]) -> str:
    """The name ``harmony import PATH`` stores a source under when ``--name`` is not given.

    A path imported before keeps its name. The first music folder is ``local``, the name
    ``harmony export`` matches against by default (most people have one music library).
    Otherwise the name is ``kind`` and the file or folder name (``exportify-road-trip``);
    when another path already has that name, a short hash of the full path follows, so
    two imports never share a name (a second import under the same name would mark the
    first one's playlists removed).
    """
    resolved = str(path)
    for name, source in sorted(remembered.items()):
        if source.get("kind") == "file" and source.get("path") == resolved:
            return name
    if kind == "local" and kind not in remembered:
        return kind
    stem = path.stem if path.is_file() else path.name
    slug = _NOT_NAME.sub("-", stem.lower()).strip("-._")[:_NAME_LIMIT].strip("-._")
    base = f"{kind}-{slug}" if slug else kind
    if base not in remembered:
        return base
    return f"{base}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def _list(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    sources = remembered_sources(ctx)
    rows = [
        {
            "name": name,
            "kind": source.get("kind"),
            "path": source.get("path"),
            "available": source.get("kind") != "file" or Path(str(source.get("path"))).exists(),
        }
        for name, source in sources.items()
    ]
    if args.json:
        print_json_lines(rows, out)
        return 0
    if not rows:
        print("no sources: 'harmony import PATH' remembers one", file=out)
    width = max((len(name) for name in sources), default=0)
    for row in rows:
        where = row["path"] or "(bundled)"
        missing = "" if row["available"] else "  (missing: moved or deleted?)"
        print(f"{row['name']:<{width}}  {row['kind']!s:<7} {where}{missing}", file=out)
    return 0


def _forget(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: library imports this module for the source names.
    from harmony._cli.library import with_providers

    known = remembered_sources(ctx)
    if args.name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise UnknownProviderError(f"no source named {args.name!r} (known: {names})")
    removed = 0
    if args.remove_playlists:
        # A sync against an empty source removes its playlists the way a sync does
        # (policy, versions, cache invalidation, activity log); it runs first, so a
        # failure leaves the source remembered.
        with with_providers(ctx, {args.name: _EmptySource(args.name)}) as forgetting:
            removed = forgetting.sync.run_once(args.name).removed
    ctx.options.delete(SOURCE_PREFIX + args.name)
    kept = "" if args.remove_playlists else "; its playlists stay (--remove-playlists removes them)"
    extra = f"; {removed} playlists removed" if args.remove_playlists else ""
    print(f"forgot source {args.name!r}{extra}{kept}", file=out)
    return 0


class _EmptySource:
    """A source with no playlists: syncing it removes every stored playlist of ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def iter_playlists(self) -> Iterator[Any]:
        """Nothing."""
        return iter(())

    def iter_tracks(self, playlist_id: str) -> Iterator[Any]:
        """Nothing."""
        return iter(())
