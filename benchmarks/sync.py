"""Playlist sync and cache invalidation, on SQLite and PostgreSQL.

    HARMONY_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/sync.py [--write]

Sync: an :class:`~harmony.testing.InMemoryProvider` (snapshots on) holding ``--playlists``
(1,000) playlists of ``--tracks`` (100) tracks each, drawn from ``--distinct`` (30,000)
tracks so that tracks are shared between playlists the way they are in real libraries:
every track appears at least once, the remaining slots favour a popular head (a power law),
and a few playlists hold a track twice. The provider is registered on a fresh context
(``HarmonyContext(settings, providers={"bench": provider})``, default events and cache),
``ctx.migrate()`` runs, and then ``ctx.sync.run_once()`` is timed:

* initial sync (every playlist and track is new);
* unchanged re-sync (nothing changed at the provider; median of ``--resyncs``);
* re-sync after renaming 10 playlists and changing the tracks of 10 others.

Each sync's report is checked (created / unchanged / updated counts) and the stored rows
are counted afterwards. Every sync time also shows the part spent inside the provider's
iterators (measured in the same run by a thin wrapper): the in-memory provider hashes
each playlist's content into its snapshot id on every listing, a cost of this fake (a
real provider has its own: network round trips), not of harmony's sync engine.

Cache invalidation: a :class:`~harmony._cache.ResponseCache` filled with ``--small``
(1,000) and ``--large`` (100,000) entries: 20 list entries tagged ``PLAYLIST_LIST_TAG``
and detail entries (2 variants per playlist) keyed ``playlist_detail_key(id, variant)`` and
tagged ``playlist_tag(id)``. Timed: ``ResponseCacheInvalidator(cache).invalidate(ids)``
of 10 playlist ids (median of ``--reps``), the 40 removed entries put back between
repetitions outside the timed region.

SQLite runs on a file in a temporary folder, PostgreSQL in a temporary schema (dropped
afterwards) of ``--postgres`` / ``$HARMONY_TEST_POSTGRES_URL`` (skipped when neither is set).
``--profile DIR`` writes cProfile stats of the syncs (an extra pass per backend, not part
of the figures) and prints their top entries. ``--write`` replaces (or appends) the "Playlist sync and cache
invalidation" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _report import (
    command_line,
    machine,
    postgres_settings,
    sqlite_settings,
    write_section,
)
from sqlalchemy import func, select

from harmony import (
    HarmonyContext,
    HarmonySettings,
    ResponseCache,
    ResponseCacheInvalidator,
    SyncReport,
)
from harmony._cache import (
    PLAYLIST_LIST_TAG,
    playlist_detail_key,
    playlist_list_key,
    playlist_tag,
)
from harmony._db.models import PlaylistRow, PlaylistTrackRow, TrackRow
from harmony.testing import InMemoryProvider

SCRIPT = "benchmarks/sync.py"
SECTION = f"## Playlist sync and cache invalidation (`{SCRIPT}`)"
PROVIDER = "bench"
LIST_ENTRIES = 20
VARIANTS = ("full", "summary")
INVALIDATED_IDS = 10
CHANGED = 10  # playlists renamed, and playlists whose tracks change

#: The issue's targets.
INITIAL_SQLITE_SECONDS = 5.0
RESYNC_SHARE = 0.05
INVALIDATION_RATIO = 2.0


# -- the library -----------------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    """Playlists as lists of track dicts; the same track is the same dict everywhere."""

    tracks: list[dict[str, Any]]
    playlists: list[list[dict[str, Any]]]

    @property
    def slots(self) -> int:
        return sum(len(p) for p in self.playlists)

    @property
    def distinct(self) -> int:
        return len({t["id"] for p in self.playlists for t in p})

    @property
    def repeats(self) -> int:
        """Track entries that repeat a track already earlier in the same playlist."""
        return sum(len(p) - len({t["id"] for t in p}) for p in self.playlists)


def _track(i: int, rng: random.Random) -> dict[str, Any]:
    artist = f"Artist {i % 4_000:04d}"
    artists = [artist] if rng.random() < 0.8 else [artist, f"Artist {rng.randrange(4_000):04d}"]
    return {
        "id": f"trk{i:07d}",
        "title": f"Song {i}",
        "artists": artists,
        "album": f"Album {i // 12:05d}",
        "duration_ms": rng.randrange(90_000, 420_000),
        "isrc": f"XX{i:010d}",
    }


def make_library(playlists: int, per_playlist: int, distinct: int, seed: int) -> Library:
    """``playlists`` x ``per_playlist`` slots over a catalogue of ``distinct`` tracks.

    Every track fills one slot; the remaining slots are drawn from a power law (index ~
    u**3), so a head of popular tracks turns up in many playlists and a long tail in one
    or two. A track drawn twice for one playlist is replaced by a random other one, except
    in every 20th playlist, which holds one track twice (a common real-world accident).
    """
    rng = random.Random(seed)
    tracks = [_track(i, rng) for i in range(distinct)]
    slots = playlists * per_playlist
    if distinct > slots:
        raise SystemExit(f"--distinct {distinct:,} exceeds the {slots:,} track slots")
    pool = list(range(distinct)) + [
        int(distinct * rng.random() ** 3) for _ in range(slots - distinct)
    ]
    rng.shuffle(pool)
    result: list[list[dict[str, Any]]] = []
    for p in range(playlists):
        chosen: list[int] = []
        seen: set[int] = set()
        for index in pool[p * per_playlist : (p + 1) * per_playlist]:
            while index in seen:
                index = rng.randrange(distinct)
            seen.add(index)
            chosen.append(index)
        if p % 20 == 7 and per_playlist > 2:
            chosen[-1] = chosen[rng.randrange(per_playlist - 1)]
        result.append([tracks[i] for i in chosen])
    return Library(tracks, result)


class TimedProvider:
    """Wraps a provider and adds up the time spent inside its iterators (its own cost)."""

    def __init__(self, inner: InMemoryProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.seconds = 0.0

    def _timed(self, items: Iterator[Any]) -> Iterator[Any]:
        clock = time.perf_counter
        while True:
            began = clock()
            try:
                item = next(items)
            except StopIteration:
                self.seconds += clock() - began
                return
            self.seconds += clock() - began
            yield item

    def iter_playlists(self) -> Iterator[Any]:
        return self._timed(iter(self.inner.iter_playlists()))

    def iter_tracks(self, playlist_id: str) -> Iterator[Any]:
        return self._timed(iter(self.inner.iter_tracks(playlist_id)))


def make_provider(library: Library) -> InMemoryProvider:
    provider = InMemoryProvider(PROVIDER, snapshots=True)
    for p, tracks in enumerate(library.playlists):
        provider.set_playlist(f"pl{p:05d}", f"Playlist {p}", tracks, owner="bench-user")
    return provider


def change_provider(provider: InMemoryProvider, library: Library, seed: int) -> None:
    """Rename playlists 0..9; in playlists 10..19 replace 5 tracks and move 2."""
    rng = random.Random(seed + 1)
    for p in range(CHANGED):
        provider.rename(f"pl{p:05d}", f"Playlist {p} (renamed)")
    for p in range(CHANGED, 2 * CHANGED):
        tracks = list(library.playlists[p])
        for _ in range(5):
            tracks[rng.randrange(len(tracks))] = library.tracks[rng.randrange(len(library.tracks))]
        tracks.append(tracks.pop(0))
        tracks.insert(0, tracks.pop(len(tracks) // 2))
        provider.set_playlist(f"pl{p:05d}", f"Playlist {p}", tracks, owner="bench-user")


# -- sync ------------------------------------------------------------------------------


@dataclass
class SyncResult:
    """Seconds per sync, each with the part spent inside the provider's iterators."""

    backend: str
    initial: tuple[float, float] = (0.0, 0.0)
    unchanged: list[tuple[float, float]] = field(default_factory=list)
    changed: tuple[float, float] = (0.0, 0.0)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def resync(self) -> tuple[float, float]:
        """The median unchanged re-sync (by total time), with its provider part."""
        ordered = sorted(self.unchanged)
        return ordered[len(ordered) // 2]


def _timed_sync(
    ctx: HarmonyContext, provider: TimedProvider, profile: cProfile.Profile | None = None
) -> tuple[tuple[float, float], SyncReport]:
    """(total seconds, seconds inside the provider) of one ``run_once``, and its report."""
    gc.collect()
    provider.seconds = 0.0
    began = time.perf_counter()
    if profile is not None:
        profile.enable()
    report = ctx.sync.run_once()
    if profile is not None:
        profile.disable()
    return (time.perf_counter() - began, provider.seconds), report


def _expect(report: SyncReport, what: str, **counts: int) -> None:
    got = {name: getattr(report, name) for name in counts}
    if got != counts or not report.ok or report.rejected:
        raise SystemExit(f"{what}: expected {counts}, got {report!r}")


def _count_rows(ctx: HarmonyContext) -> dict[str, int]:
    with ctx.db.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (
                ("playlists", PlaylistRow),
                ("tracks", TrackRow),
                ("playlist_tracks", PlaylistTrackRow),
            )
        }


def run_sync(
    backend: str,
    settings: HarmonySettings,
    library: Library,
    args: argparse.Namespace,
    profiles: dict[str, cProfile.Profile] | None = None,
) -> SyncResult:
    """One fresh database: initial sync, unchanged re-syncs, re-sync after changes."""
    n = len(library.playlists)
    inner = make_provider(library)
    provider = TimedProvider(inner)
    result = SyncResult(backend)

    def profile(phase: str) -> cProfile.Profile | None:
        return None if profiles is None else profiles.setdefault(phase, cProfile.Profile())

    with HarmonyContext(settings, providers={PROVIDER: provider}) as ctx:
        ctx.migrate()
        result.initial, report = _timed_sync(ctx, provider, profile("initial"))
        _expect(report, "initial sync", created=n, updated=0, unchanged=0)
        result.rows = _count_rows(ctx)
        if result.rows != {
            "playlists": n,
            "tracks": library.distinct,
            "playlist_tracks": library.slots,
        }:
            raise SystemExit(f"initial sync stored {result.rows}")
        for _ in range(args.resyncs):
            seconds, report = _timed_sync(ctx, provider, profile("unchanged"))
            _expect(report, "unchanged re-sync", created=0, updated=0, unchanged=n)
            result.unchanged.append(seconds)
        change_provider(inner, library, args.seed)
        result.changed, report = _timed_sync(ctx, provider, profile("changed"))
        _expect(
            report,
            "re-sync after changes",
            created=0,
            updated=2 * CHANGED,
            unchanged=n - 2 * CHANGED,
        )
    return result


# -- cache invalidation ----------------------------------------------------------------


@dataclass
class CacheResult:
    entries: int
    median_us: float
    p90_us: float
    removed: int


def _fill(cache: ResponseCache, entries: int) -> list[tuple[str, dict[str, Any]]]:
    """Fill to ``entries``; returns (key, kwargs) of every entry, to put removed ones back."""
    made: list[tuple[str, dict[str, Any]]] = []
    body = {"ok": True}
    for i in range(LIST_ENTRIES):
        made.append((playlist_list_key(page=i, limit=50), {"tags": (PLAYLIST_LIST_TAG,)}))
    playlist_id = 0
    while len(made) < entries:
        playlist_id += 1
        for variant in VARIANTS:
            if len(made) < entries:
                made.append(
                    (
                        playlist_detail_key(playlist_id, variant),
                        {"tags": (playlist_tag(playlist_id),)},
                    )
                )
    for key, kwargs in made:
        cache.set(key, body, etag='"bench"', **kwargs)
    return made


def run_cache(entries: int, reps: int, seed: int) -> CacheResult:
    cache = ResponseCache(max_entries=entries * 2, ttl_seconds=24 * 3600.0)
    made = _fill(cache, entries)
    if len(cache) != entries:
        raise SystemExit(f"cache holds {len(cache)} entries, expected {entries}")
    by_key = dict(made)
    playlists = (entries - LIST_ENTRIES + len(VARIANTS) - 1) // len(VARIANTS)
    invalidator = ResponseCacheInvalidator(cache)
    rng = random.Random(seed)
    body = {"ok": True}
    timings: list[float] = []
    removed = 0
    for rep in range(reps + 50):  # the first 50 warm up
        ids = rng.sample(range(1, playlists + 1), INVALIDATED_IDS)
        # What this invalidation removes, so it can be put back untimed afterwards.
        keys = [key for key, _ in made[:LIST_ENTRIES]] + [
            playlist_detail_key(pid, variant) for pid in ids for variant in VARIANTS
        ]
        began = time.perf_counter()
        removed = invalidator.invalidate(ids)
        elapsed = time.perf_counter() - began
        if rep >= 50:
            timings.append(elapsed)
        for key in keys:
            cache.set(key, body, etag='"bench"', **by_key[key])
        if len(cache) != entries:
            raise SystemExit(f"refill left {len(cache)} entries, expected {entries}")
    timings.sort()
    return CacheResult(
        entries, statistics.median(timings) * 1e6, timings[int(len(timings) * 0.9)] * 1e6, removed
    )


# -- report ----------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def table(
    args: argparse.Namespace, library: Library, syncs: list[SyncResult], caches: list[CacheResult]
) -> str:
    lines = [
        f"Sync: {len(library.playlists):,} playlists x {args.tracks} tracks = {library.slots:,} "
        f"entries, {library.distinct:,} distinct tracks, {library.repeats} repeated within a "
        f"playlist. Unchanged re-sync: median of {args.resyncs}. After changes: {CHANGED} "
        f"playlists renamed, {CHANGED} with 5 tracks replaced and 2 moved.",
        "",
        "Each time is the whole `run_once`; in brackets, the part spent inside the provider's "
        "iterators. \"harmony's part\" is the unchanged re-sync without the provider's part.",
        "",
        "| backend | initial sync | unchanged re-sync | re-sync / initial | harmony's part / initial "
        "| after changes |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in syncs:
        (initial, initial_p), (resync, resync_p), (changed, changed_p) = (
            r.initial,
            r.resync,
            r.changed,
        )
        lines.append(
            f"| {r.backend} | {_s(initial)} ({_s(initial_p)}) | {_s(resync)} ({_s(resync_p)}) | "
            f"{resync / initial:.1%} | {(resync - resync_p) / initial:.1%} | "
            f"{_s(changed)} ({_s(changed_p)}) |"
        )
    lines += [
        "",
        f"Cache invalidation: `ResponseCacheInvalidator.invalidate` of {INVALIDATED_IDS} "
        f"playlist ids ({LIST_ENTRIES} list entries and {INVALIDATED_IDS * len(VARIANTS)} detail "
        f"entries removed), median of {args.reps:,}.",
        "",
        "| cache entries | median | p90 | entries removed |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for c in caches:
        lines.append(f"| {c.entries:,} | {c.median_us:.1f} us | {c.p90_us:.1f} us | {c.removed} |")
    lines += ["", "| target | measured | result |", "| --- | --- | --- |"]
    sqlite = next((r for r in syncs if r.backend == "SQLite"), None)
    if sqlite is not None:
        ok = sqlite.initial[0] < INITIAL_SQLITE_SECONDS
        lines.append(
            f"| initial sync on SQLite < {INITIAL_SQLITE_SECONDS:.0f} s | {_s(sqlite.initial[0])} | "
            f"{'met' if ok else 'missed'} |"
        )
    for r in syncs:
        share = r.resync[0] / r.initial[0]
        lines.append(
            f"| unchanged re-sync < {RESYNC_SHARE:.0%} of the initial sync ({r.backend}) | "
            f"{share:.1%} | {'met' if share < RESYNC_SHARE else 'missed'} |"
        )
    if len(caches) == 2:
        small, large = caches
        ratio = large.median_us / small.median_us
        lines.append(
            f"| invalidation within {INVALIDATION_RATIO:.0f}x from {small.entries:,} to "
            f"{large.entries:,} entries | {large.median_us:.1f} / {small.median_us:.1f} us = "
            f"{ratio:.2f}x | {'met' if ratio <= INVALIDATION_RATIO else 'missed'} |"
        )
    return "\n".join(lines)


def _write_docs(args: argparse.Namespace, command: str, machine_line: str, body_table: str) -> None:
    about = (
        f"What it measures: `ctx.sync.run_once()` with an `InMemoryProvider` (snapshots on) "
        f"holding {args.playlists:,} playlists of {args.tracks} tracks over {args.distinct:,} "
        "distinct tracks (every track used at least once, the rest drawn from a power law so "
        "popular tracks are shared by many playlists; every 20th playlist holds one track "
        "twice), on a fresh database after `ctx.migrate()`, with the context's default events "
        f"and cache: the initial sync, an unchanged re-sync, and a re-sync after renaming "
        f"{CHANGED} playlists and changing the tracks of {CHANGED} others. Every report is "
        "checked and the stored rows counted. Each sync time also shows (in brackets) the part "
        "spent inside the provider's iterators, measured in the same run by a thin wrapper. "
        "Cache invalidation: a "
        f"`ResponseCache` with {LIST_ENTRIES} list entries (tag `PLAYLIST_LIST_TAG`) and detail "
        f"entries ({len(VARIANTS)} variants per playlist, tag `playlist_tag(id)`), "
        f"{args.small:,} and {args.large:,} entries in all; "
        f"`ResponseCacheInvalidator(cache).invalidate(ids)` of {INVALIDATED_IDS} random ids is "
        "timed, and the removed entries are put back, untimed, between repetitions."
    )
    write_section(
        SECTION,
        textwrap.fill(about, 90, break_on_hyphens=False),
        machine_line,
        command,
        body_table,
        args.notes,
    )


def _print_profiles(
    backend: str, profiles: dict[str, cProfile.Profile], folder: str, top: int
) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    for name, profile in profiles.items():
        path = Path(folder) / f"sync_{backend.lower()}_{name}.pstats"
        profile.dump_stats(str(path))
        print(f"\n-- cProfile, {backend} {name} sync ({path}), top {top} by own time --")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(top)
        print(f"-- same, top {top} by cumulative time --")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HARMONY_TEST_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL server (default: $HARMONY_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--playlists", type=int, default=1_000)
    parser.add_argument("--tracks", type=int, default=100, help="tracks per playlist")
    parser.add_argument(
        "--distinct", type=int, default=30_000, help="distinct tracks in the library"
    )
    parser.add_argument(
        "--resyncs", type=int, default=5, help="unchanged re-syncs; the median counts"
    )
    parser.add_argument("--small", type=int, default=1_000, help="entries of the small cache")
    parser.add_argument("--large", type=int, default=100_000, help="entries of the large cache")
    parser.add_argument(
        "--reps", type=int, default=2_001, help="timed invalidations per cache size"
    )
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="profile the syncs (extra pass per backend); stats go to DIR",
    )
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    parser.add_argument("--notes", help="a Markdown file appended to the written section")
    parser.add_argument(
        "--write", action="store_true", help="write the section into docs/benchmarks.md"
    )
    args = parser.parse_args()
    if args.write and not args.postgres:
        parser.error(
            "--write needs PostgreSQL: give --postgres URL or set HARMONY_TEST_POSTGRES_URL"
        )

    command = command_line(SCRIPT, sys.argv[1:])
    machine_line = machine(args.postgres)
    print(machine_line, f"Load average at start: {os.getloadavg()[0]:.2f}.", flush=True)
    began = time.perf_counter()
    library = make_library(args.playlists, args.tracks, args.distinct, args.seed)
    print(
        f"library: {len(library.playlists):,} playlists, {library.slots:,} entries, "
        f"{library.distinct:,} distinct tracks, {library.repeats} repeats within playlists",
        flush=True,
    )
    backends: list[tuple[str, Callable[[], Any]]] = [("SQLite", sqlite_settings)]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_settings(args.postgres)))
    else:
        print("no PostgreSQL URL: SQLite only", flush=True)
    syncs = []
    for name, settings_of in backends:
        with settings_of() as settings:
            result = run_sync(name, settings, library, args)
        syncs.append(result)
        print(
            f"{name}: initial {_s(result.initial[0])}, unchanged "
            f"{', '.join(_s(total) for total, _ in result.unchanged)}, after changes "
            f"{_s(result.changed[0])}; rows {result.rows}",
            flush=True,
        )
    caches = []
    for entries in (args.small, args.large):
        caches.append(run_cache(entries, args.reps, args.seed))
        print(f"cache {entries:,}: median {caches[-1].median_us:.1f} us", flush=True)
    output = table(args, library, syncs, caches)
    print(f"\n{output}\n\n(took {time.perf_counter() - began:.0f} s)", flush=True)
    if args.profile:
        for name, settings_of in backends:
            profiles: dict[str, cProfile.Profile] = {}
            with settings_of() as settings:
                run_sync(name, settings, library, args, profiles)
            _print_profiles(name, profiles, args.profile, args.top)
    if args.write:
        _write_docs(args, command, machine_line, output)


if __name__ == "__main__":
    main()
