"""``harmony demo``, ``harmony import PATH`` and ``harmony sync``: the library commands.

Imported export files are remembered (setting ``sources.<name>``), so ``harmony sync``
brings every imported source up to date again later.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from harmony import (
    SYNC_JOB_TYPE,
    HarmonyContext,
    ProgressCallback,
    SyncProgress,
    SyncReport,
    Worker,
)
from harmony._cli._checks import require_head
from harmony._cli._output import print_json
from harmony._cli.plan import print_plan
from harmony._cli.sources import SOURCE_PREFIX, default_source_name, remembered_sources
from harmony._validation import unstorable_reason
from harmony.errors import HarmonyError, UnknownProviderError
from harmony.providers.base import PlaylistProvider
from harmony.providers.files import open_export
from harmony.providers.sample import sample_provider

__all__ = ["add_library_commands", "stored_sources", "with_providers"]

_SOURCE_PREFIX = SOURCE_PREFIX
_DEMO_PROVIDER = "sample"


def add_library_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``demo``, ``import`` and ``sync`` to the CLI's subcommands."""
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="migrate, import the bundled sample library through the queue and show it",
    )
    demo.add_argument("--json", action="store_true", help="print the report as JSON")
    demo.set_defaults(command_fn=_demo, needs_schema=False, creates_database=True)  # it migrates

    imp = commands.add_parser(
        "import",
        parents=[common],
        help="sync an export (Exportify CSV file/folder, MPD slice JSON) into the database",
    )
    imp.add_argument("path", help="an export file or a folder of them")
    imp.add_argument(
        "--name",
        help="source name to store it under (default: from the path, "
        "e.g. exportify-road-trip; a path imported before keeps its name)",
    )
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.set_defaults(command_fn=_import, needs_schema=False, creates_database=True)

    sync = commands.add_parser(
        "sync", parents=[common], help="sync every imported source again (or one: --provider)"
    )
    sync.add_argument("--provider", help="only this source")
    sync.add_argument(
        "--full", action="store_true", help="fetch and rewrite every playlist, even unchanged ones"
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="show what the sync would change, per playlist, and write nothing",
    )
    sync.add_argument("--json", action="store_true", help="print the report (or plan) as JSON")
    sync.set_defaults(command_fn=_sync, needs_schema=False)


def _demo(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    ctx.migrate()
    with with_providers(ctx, {_DEMO_PROVIDER: sample_provider(_DEMO_PROVIDER)}) as demo:
        job = demo.jobs.enqueue(SYNC_JOB_TYPE, {"provider": _DEMO_PROVIDER})
        Worker(demo).run_until_idle()  # runs playlist.sync, registered by the context
        done = demo.jobs.get(job.id)
        if done.status != "completed" or done.result is None:
            print(
                f"harmony: error: the demo sync job ended {done.status}: {done.last_error}",
                file=sys.stderr,
            )
            return 1
        report = SyncReport.model_validate(done.result)
        _remember(ctx, _DEMO_PROVIDER, {"kind": "sample"})
        if args.json:
            print_json({"job_id": job.id, "report": done.result}, out)
            return 0
        print(f"synced the bundled sample library through job {job.id} ({SYNC_JOB_TYPE})", file=out)
        _print_report(report, out)
        _print_playlists(demo, _DEMO_PROVIDER, out)
    return 0


def _import(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    provider = open_export(args.path, name=args.name)  # a bad path fails before migrating
    path = Path(args.path).expanduser().resolve()
    # Worked out before anything is written, so the source can always be remembered.
    source = _file_source(path)
    ctx.migrate()
    if args.name is None:
        name = default_source_name(path, provider.name, remembered_sources(ctx))
        provider = open_export(path, name=name)
    with with_providers(ctx, {provider.name: provider}) as importing:
        report = importing.sync.run_once(provider.name, progress=_progress_display())
    _remember(ctx, provider.name, source)
    _emit(report, args, out, f"imported {args.path} as provider {provider.name!r}")
    return 0


def _sync(ctx: HarmonyContext, args: argparse.Namespace, out: TextIO) -> int:
    if args.dry_run:
        require_head(ctx)  # a preview writes nothing, a migration included
    else:
        ctx.migrate()
    providers = stored_sources(ctx)
    if args.provider is not None and args.provider not in providers:
        known = ", ".join(sorted(providers)) or "none; run 'harmony import PATH' first"
        raise UnknownProviderError(f"no source named {args.provider!r} (known: {known})")
    if not providers:
        raise UnknownProviderError("nothing to sync: run 'harmony import PATH' first")
    with with_providers(ctx, providers) as syncing:
        if args.dry_run:
            plan = syncing.sync.plan(args.provider, full=args.full, progress=_progress_display())
            return print_plan(plan, args.json, out)
        report = syncing.sync.run_once(args.provider, full=args.full, progress=_progress_display())
    _emit(report, args, out, f"synced {', '.join(report.providers)}")
    return 0


def stored_sources(ctx: HarmonyContext) -> dict[str, PlaylistProvider]:
    """The sources ``harmony import`` and ``harmony demo`` remembered, as providers.

    A source that cannot be opened any more (its folder moved, say) becomes a provider
    that fails with that error, so it fails its own sync without blocking the others.
    """
    providers: dict[str, PlaylistProvider] = {}
    for key, source in ctx.options.with_prefix(_SOURCE_PREFIX).items():
        name = key[len(_SOURCE_PREFIX) :]
        try:
            if source.get("kind") == "file":
                providers[name] = open_export(_source_path(source), name=name)
            elif source.get("kind") == "sample":
                providers[name] = sample_provider(name)
        except HarmonyError as exc:
            providers[name] = _UnavailableSource(name, exc)
    return providers


class _UnavailableSource:
    """A remembered source that cannot be opened: its sync fails with the reason."""

    def __init__(self, name: str, error: HarmonyError) -> None:
        self.name = name
        self.error = error

    def iter_playlists(self) -> Iterator[Any]:
        """Fail with the reason the source could not be opened."""
        raise self.error

    def iter_tracks(self, playlist_id: str) -> Iterator[Any]:
        """Fail with the reason the source could not be opened."""
        raise self.error


def _file_source(path: Path) -> dict[str, Any]:
    """How a file source is remembered. A path that is not valid UTF-8 (its name came
    from the file system as bytes) is kept as the hex of those bytes: PostgreSQL cannot
    store the lone surrogates Python decodes such bytes to."""
    text = str(path)
    if unstorable_reason(text) is None:
        return {"kind": "file", "path": text}
    return {"kind": "file", "path_hex": os.fsencode(text).hex()}


def _source_path(source: Mapping[str, Any]) -> str:
    if isinstance(source.get("path_hex"), str):
        return os.fsdecode(bytes.fromhex(source["path_hex"]))
    return str(source["path"])


def _remember(ctx: HarmonyContext, name: str, source: dict[str, Any]) -> None:
    ctx.options.set(_SOURCE_PREFIX + name, source)


@contextmanager
def with_providers(
    ctx: HarmonyContext, providers: Mapping[str, PlaylistProvider]
) -> Iterator[HarmonyContext]:
    """``ctx`` with these providers registered for the block, then unregistered again
    (one context per command: never a second one on the same database)."""
    added: list[str] = []
    try:
        for name, provider in providers.items():
            if name not in ctx.provider_registry:
                ctx.add_provider(name, provider)
                added.append(name)
        yield ctx
    finally:
        for name in added:
            ctx.remove_provider(name)


def _progress_display() -> ProgressCallback | None:
    """A one-line progress display on stderr, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(progress: SyncProgress) -> None:
        line = (
            f"{progress.provider}: {progress.playlists_seen} playlists looked at, "
            f"{progress.playlists_changed} changed, {progress.tracks_fetched} tracks fetched"
            f"{' - writing' if progress.phase == 'write' else ''}"
        )
        end = "\n" if progress.phase == "done" else ""
        print(f"\r{line:<100}", end=end, file=sys.stderr, flush=True)

    return show


def _emit(report: SyncReport, args: argparse.Namespace, out: TextIO, headline: str) -> None:
    if args.json:
        print_json(report, out)
        return
    print(headline, file=out)
    _print_report(report, out)


def _print_report(report: SyncReport, out: TextIO) -> None:
    print(
        f"  created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, rejected {report.rejected}, "
        f"cache entries invalidated {report.invalidated} ({report.duration_ms:.0f} ms)",
        file=out,
    )
    for item in report.rejections[:10]:
        where = f" in playlist {item.playlist_id}" if item.playlist_id else ""
        print(f"  rejected {item.kind} {item.item_id or '(no id)'}{where}: {item.reason}", file=out)
    if report.rejected > len(report.rejections[:10]):
        print(f"  ... {report.rejected - len(report.rejections[:10])} more rejected", file=out)


def _print_playlists(ctx: HarmonyContext, provider: str, out: TextIO) -> None:
    page = ctx.playlists.list_page(provider=provider, limit=50)
    width = max((len(p.name) for p in page), default=10)
    print(f"\n  {'playlist':<{width}}  tracks  version  etag", file=out)
    for playlist in page:
        print(
            f"  {playlist.name:<{width}}  {playlist.track_count:>6}  {playlist.version:>7}  "
            f"{playlist.etag}",
            file=out,
        )
    print(
        f"\n  {ctx.playlists.count()} playlists, {ctx.tracks.count()} tracks in "
        f"{ctx.settings.safe_database_url}",
        file=out,
    )
