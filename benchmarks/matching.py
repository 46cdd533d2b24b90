"""Matching 100,000 source tracks against a 1,000,000-track catalogue, SQLite and PostgreSQL.

    HARMONY_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/matching.py [--write]

The catalogue (provider ``local``, ``--catalogue`` tracks): the generated library of
``benchmarks/search.py`` (Zipf titles and artists, albums, "(feat. X)" credits, live /
remastered / acoustic / remix editions and compilation copies), with ISRCs as a local
library has them: half the files carry one (compilation copies the original's), durations
of a compilation copy within 0.3 s of the original's, of a remaster within 3 s; plus 2%
covers (another artist's track with the title of an existing one).

The sources (provider ``spotify``, ``--sources`` tracks), labelled: 90% are copies of a
catalogue track (the truth) with ISRC on 85% of them, a duration off by up to 1 s (95%),
1-2 s (the rest), and one variation each: none; an edition suffix added or dropped ("-
Remastered 2011", "(Radio Edit)"); the featured artist moved between the title and the
artists ("Song (feat. X)" / "A feat. X" in one artist field); accents dropped; upper or
lower case and "&" for "and"; a typo in the title; a typo in the artist; typos in both;
the duration unknown; the duration 2.1-5 s off (never matchable, by the rules); the
title in other words with the same ISRC. 10% have no counterpart: a new title by a
catalogue artist, a cover (a catalogue title by another artist), or a live version of a
catalogue song whose live version the catalogue lacks. A match is correct when it is the
truth or the same recording (a compilation copy of it).

Timed: ``ctx.matching.run("spotify", "local")`` on a fresh database after a bulk load
(``benchmarks/_bulk.py``), split into its phases; precision (correct / matched) and recall
(correct / sources with a counterpart), by variation; a re-run with nothing changed (median
of 3); a re-run after 100 source tracks changed and 100 catalogue tracks were added.
``--write`` replaces (or appends) the "Track matching" section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from _bulk import index_dropped, load_tracks
from _report import (
    command_line,
    machine,
    postgres_settings,
    sqlite_settings,
    write_section,
)
from search import _fold, make_library, typo
from sqlalchemy import select, update

from harmony import HarmonyContext, HarmonySettings
from harmony._db.models import TrackRow
from harmony._repositories.match_pairs import MatchPairs
from harmony._repositories.match_store import MatchStore
from harmony._services.match_engine import MatchEngine

SCRIPT = "benchmarks/matching.py"
SECTION = f"## Track matching (`{SCRIPT}`)"
#: The issue's targets.
PRECISION, RECALL, FIRST_RUN_S, RERUN_S = 0.99, 0.95, 120.0, 2.0

VARIATIONS = {  # kind: weight among sources with a counterpart
    "none": 36,
    "edition suffix": 12,
    "feat credit": 8,
    "accents dropped": 8,
    "case and &": 8,
    "title typo": 10,
    "artist typo": 6,
    "both typos": 2,
    "duration unknown": 2,
    "duration 2.1-5 s off": 2,
    "other title, same ISRC": 2,
    "small changes only": 4,
}
ABSENT = {"new title, known artist": 5, "cover by another artist": 3, "missing live version": 2}


@dataclass
class Source:
    track: dict[str, Any]
    kind: str
    truth: int | None  # catalogue index


@dataclass
class Result:
    backend: str
    load_s: float = 0.0
    first_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    matched: int = 0
    correct: int = 0
    expected: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [n, matched, correct]
    methods: Counter[str] = field(default_factory=Counter)
    rerun_ms: list[float] = field(default_factory=list)
    changed_ms: float = 0.0
    changed_checked: int = 0
    misses: list[str] = field(default_factory=list)


# -- data ------------------------------------------------------------------------------


def make_catalogue(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """The catalogue and, for each compilation copy, the index of its original."""
    rng = random.Random(args.seed + 1)
    covers = args.catalogue // 50
    lib = make_library(
        (args.catalogue - covers) // 100,
        100,
        argparse.Namespace(seed=args.seed, words=args.words, artists=args.artists),
    )
    tracks = lib.tracks[: args.catalogue - covers]
    same: dict[int, int] = {}
    for i, (kind, origin) in lib.editions.items():
        if i >= len(tracks):
            continue
        base = tracks[origin]
        if kind == "compilation":
            same[i] = origin
            tracks[i]["duration_ms"] = base["duration_ms"] + rng.randint(-300, 300)
            tracks[i]["isrc"] = base["isrc"]
        elif kind == "remaster":
            tracks[i]["duration_ms"] = base["duration_ms"] + rng.randint(-3000, 3000)
    for t in tracks:
        if rng.random() < 0.5:
            t["isrc"] = None
    artists = sorted({a for t in tracks[:50_000] for a in t["artists"]})
    for n in range(covers):
        base = tracks[rng.randrange(len(tracks))]
        tracks.append(
            {
                "id": f"cov{n:07d}",
                "title": base["title"].split(" (feat.")[0],
                "artists": [rng.choice(artists)],
                "album": "Covers",
                "year": base["year"],
                "duration_ms": base["duration_ms"] + rng.randint(-20_000, 20_000),
                "isrc": f"CV{n:010d}" if rng.random() < 0.5 else None,
            }
        )
    return tracks, same


def _case(text_: str, rng: random.Random) -> str:
    text_ = text_.replace(" and ", " & ") if " and " in text_ else text_
    return text_.upper() if rng.random() < 0.5 else text_.lower()


def _typo_in(text_: str, rng: random.Random) -> str:
    words = text_.split(" ")
    spots = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()] or [
        i for i, w in enumerate(words) if len(w) >= 3
    ]
    if not spots:
        return text_
    i = rng.choice(spots)
    words[i] = typo(words[i], rng)
    return " ".join(words)


def derive(base: dict[str, Any], kind: str, rng: random.Random, words: list[str]) -> dict[str, Any]:
    """A source copy of catalogue track ``base`` with the variation ``kind``."""
    t = {k: base[k] for k in ("title", "artists", "album", "year", "duration_ms", "isrc")}
    t["artists"] = list(t["artists"])
    # The source has its ISRC 85% of the time: the catalogue's when the file carries one,
    # else one the matcher cannot check (the file has none).
    t["isrc"] = (t["isrc"] or f"SP{rng.randrange(10**10):010d}") if rng.random() < 0.85 else None
    jitter = (
        rng.randint(-1000, 1000)
        if rng.random() < 0.95
        else rng.choice((-1, 1)) * rng.randint(1000, 2000)
    )
    t["duration_ms"] = max(1000, t["duration_ms"] + jitter)
    title = t["title"]
    if kind == "edition suffix":
        if " - " in title:
            t["title"] = title.split(" - ")[0] if "Remaster" in title else title
        else:
            t["title"] = title + rng.choice(
                (
                    " - Remastered 2011",
                    " - 2011 Remaster",
                    " (Radio Edit)",
                    " (Album Version)",
                    " - Mono",
                )
            )
    elif kind == "feat credit" and " (feat. " in title:
        t["title"] = title.split(" (feat. ")[0]
        t["artists"] = (
            [f"{t['artists'][0]} feat. {', '.join(t['artists'][1:])}"]
            if rng.random() < 0.5
            else t["artists"]
        )
    elif kind == "feat credit":  # no credit in the title: the artists in one tag field
        t["artists"] = ["; ".join(t["artists"])]
    elif kind == "accents dropped":
        t["title"], t["artists"] = _fold(title), [_fold(a) for a in t["artists"]]
    elif kind == "case and &":
        t["title"], t["artists"] = _case(title, rng), [_case(a, rng) for a in t["artists"]]
    elif kind in ("title typo", "both typos"):
        t["title"] = _typo_in(title, rng)
    if kind in ("artist typo", "both typos"):
        t["artists"][0] = _typo_in(t["artists"][0], rng)
    if kind == "duration unknown":
        t["duration_ms"] = None
    elif kind == "duration 2.1-5 s off":
        t["duration_ms"] = base["duration_ms"] + rng.choice((-1, 1)) * rng.randint(2100, 5000)
    elif kind == "other title, same ISRC":
        t["title"] = " ".join(rng.sample(words[100:2000], 2)).title()
        t["isrc"] = base["isrc"]
    return t


def make_sources(catalogue: list[dict[str, Any]], args: argparse.Namespace) -> list[Source]:
    rng = random.Random(args.seed + 2)
    words = sorted(
        {w for t in catalogue[:20_000] for w in t["title"].lower().split() if w.isalpha()}
    )
    kinds, weights = list(VARIATIONS), list(VARIATIONS.values())
    absent_kinds, absent_weights = list(ABSENT), list(ABSENT.values())
    titles = {(t["title"].lower(), t["artists"][0]) for t in catalogue}
    live = {
        (t["title"].split(" - ")[0].lower(), t["artists"][0])
        for t in catalogue
        if " - Live" in t["title"]
    }
    sources: list[Source] = []
    picked = rng.sample(range(len(catalogue)), args.sources)
    for n, i in enumerate(picked):
        base = catalogue[i]
        if rng.random() >= args.absent:
            kind = rng.choices(kinds, weights)[0]
            if kind == "other title, same ISRC" and not base["isrc"]:
                kind = "none"
            track = derive(base, kind, rng, words)
            sources.append(Source({**track, "id": f"sp{n:07d}"}, kind, i))
            continue
        kind = rng.choices(absent_kinds, absent_weights)[0]
        track = {k: base[k] for k in ("title", "artists", "album", "year", "duration_ms")}
        track["isrc"] = f"NX{n:010d}" if rng.random() < 0.85 else None
        if kind == "new title, known artist":
            while (track["title"].lower(), track["artists"][0]) in titles:
                track["title"] = " ".join(rng.sample(words, rng.randint(1, 3))).title()
        elif kind == "cover by another artist":
            track["artists"] = [catalogue[rng.randrange(len(catalogue))]["artists"][0]]
            if (track["title"].lower(), track["artists"][0]) in titles:
                continue
        else:
            plain = base["title"].split(" - ")[0]
            if (plain.lower(), base["artists"][0]) in live:
                continue
            track["title"] = f"{plain} - Live"
        sources.append(Source({**track, "id": f"sp{n:07d}"}, f"absent: {kind}", None))
    return sources


# -- running ---------------------------------------------------------------------------


@contextmanager
def phases(into: dict[str, float]) -> Iterator[None]:
    """Time the parts of a run by wrapping the methods it calls."""
    targets = [
        (MatchEngine, "refresh_keys", "keys"),
        (MatchStore, "sources_to_check", "work"),
        (MatchStore, "overrides", "work"),
        (MatchEngine, "match", "match"),
        (MatchStore, "save", "save"),
        (MatchPairs, "counts", "counts"),
    ]
    originals = [getattr(owner, name) for owner, name, _ in targets]

    def timing(fn: Callable[..., Any], part: str) -> Callable[..., Any]:
        def call(*a: Any, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                into[part] = into.get(part, 0.0) + time.perf_counter() - began

        return call

    for (owner, name, part), original in zip(targets, originals):
        setattr(owner, name, timing(original, part))
    try:
        yield
    finally:
        for (owner, name, _), original in zip(targets, originals):
            setattr(owner, name, original)


def _ids(ctx: HarmonyContext, provider: str) -> dict[str, int]:
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(TrackRow.provider_id, TrackRow.id).where(TrackRow.provider == provider)
        )
        return {pid: tid for pid, tid in rows}  # noqa: C416 (a Result is not a mapping)


def run_backend(
    name: str,
    settings: HarmonySettings,
    catalogue: list[dict[str, Any]],
    same: dict[int, int],
    sources: list[Source],
) -> Result:
    result = Result(name)
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        began = time.perf_counter()
        with index_dropped(ctx):
            load_tracks(ctx, "local", catalogue)
            load_tracks(ctx, "spotify", [s.track for s in sources])
        result.load_s = time.perf_counter() - began
        gc.collect()
        print(
            f"{name}: loaded {len(catalogue):,} + {len(sources):,} tracks in {result.load_s:.0f} s",
            flush=True,
        )

        began = time.perf_counter()
        with phases(result.phases):
            report = ctx.matching.run("spotify", "local")
        result.first_s = time.perf_counter() - began
        print(f"{name}: first run {result.first_s:.1f} s {report!r}", flush=True)

        local = {tid: pid for pid, tid in _ids(ctx, "local").items()}
        index_of = {t["id"]: i for i, t in enumerate(catalogue)}
        spotify = _ids(ctx, "spotify")
        ids = [spotify[s.track["id"]] for s in sources]
        found: dict[int, Any] = {}
        for start in range(0, len(ids), 10_000):
            found.update(ctx.matching.get_many(ids[start : start + 10_000], "local"))
        for source, track_id in zip(sources, ids):
            kind = result.by_kind.setdefault(source.kind, [0, 0, 0])
            kind[0] += 1
            result.expected += source.truth is not None
            match = found.get(track_id)
            if match is None:
                if (
                    source.truth is not None
                    and len(result.misses) < 12
                    and source.kind != "duration 2.1-5 s off"
                ):
                    base = catalogue[source.truth]
                    result.misses.append(
                        f"[{source.kind}] {source.track['title']!r} / {source.track['artists']} "
                        f"{source.track['duration_ms']} vs {base['title']!r} / {base['artists']} {base['duration_ms']}"
                    )
                continue
            result.matched += 1
            kind[1] += 1
            result.methods[match.method] += 1
            got = index_of[local[match.target_track_id]]
            truth = source.truth
            ok = truth is not None and (
                got == truth or same.get(got, got) == same.get(truth, truth)
            )
            result.correct += ok
            kind[2] += ok
            if not ok and len(result.misses) < 24:
                want = catalogue[truth]["title"] if truth is not None else None
                result.misses.append(
                    f"WRONG [{source.kind}] {source.track['title']!r} / {source.track['artists']} -> "
                    f"{catalogue[got]['title']!r} / {catalogue[got]['artists']} (want {want!r}); {match.reasons}"
                )

        for _ in range(3):
            began = time.perf_counter()
            again = ctx.matching.run("spotify", "local")
            result.rerun_ms.append((time.perf_counter() - began) * 1000)
            assert again.checked == 0, again
        print(f"{name}: re-runs {', '.join(f'{ms:.0f}' for ms in result.rerun_ms)} ms", flush=True)

        now = datetime.now(UTC) + timedelta(seconds=1)
        with ctx.db.write() as conn:
            for track_id in ids[:100]:
                conn.execute(
                    update(TrackRow)
                    .where(TrackRow.id == track_id)
                    .values(title=TrackRow.title + " (Remastered)", updated_at=now)
                )
        load_tracks(ctx, "local", [{**catalogue[i], "id": f"new{i}"} for i in range(100)], now=now)
        began = time.perf_counter()
        changed = ctx.matching.run("spotify", "local")
        result.changed_ms = (time.perf_counter() - began) * 1000
        result.changed_checked = changed.checked
        print(f"{name}: after changes {result.changed_ms:.0f} ms, {changed!r}", flush=True)
    return result


# -- report ----------------------------------------------------------------------------


def _pct(a: int, b: int) -> str:
    return f"{a / b:.2%}" if b else "-"


def table(args: argparse.Namespace, sources: list[Source], results: list[Result]) -> str:
    absent = sum(1 for s in sources if s.truth is None)
    lines = [
        f"Catalogue: {args.catalogue:,} tracks; sources: {len(sources):,} ({len(sources) - absent:,} with a "
        f"counterpart, {absent:,} without). Tolerance 2.0 s (the default). Load (bulk SQL, then the "
        "candidate index built once; not the subject): "
        + ", ".join(f"{r.backend} {r.load_s:.0f} s" for r in results)
        + f". 1-minute load average of the machine at the start / end: {args.load[0]:.2f} / "
        f"{args.load[1]:.2f}. Phases: keys = normalising and storing both catalogues' matching "
        "keys; work = finding the source tracks to look at; match = candidate lookups and "
        "rules; save = writing the results.",
        "",
        "| backend | first run | keys | work | match | save | precision | recall | matched (isrc / fuzzy) "
        "| re-run, nothing changed (median of 3) | re-run after 100 + 100 changes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        p = r.phases
        lines.append(
            f"| {r.backend} | {r.first_s:.1f} s | {p.get('keys', 0):.1f} s | {p.get('work', 0):.1f} s | "
            f"{p.get('match', 0):.1f} s | {p.get('save', 0):.1f} s | {_pct(r.correct, r.matched)} | "
            f"{_pct(r.correct, r.expected)} | {r.matched:,} ({r.methods['isrc']:,} / {r.methods['fuzzy']:,}) | "
            f"{statistics.median(r.rerun_ms):.0f} ms | {r.changed_ms:.0f} ms ({r.changed_checked} checked) |"
        )
    lines += [
        "",
        "By variation (first backend; the others agree unless listed below): sources, matched, "
        "correct, and recall (or, for sources without a counterpart, false matches):",
        "",
        "| variation | sources | matched | correct | recall / false |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    first = results[0]
    for kind in [*VARIATIONS, *(f"absent: {k}" for k in ABSENT)]:
        n, matched, correct = first.by_kind.get(kind, [0, 0, 0])
        last = f"{matched} false" if kind.startswith("absent") else _pct(correct, n)
        lines.append(f"| {kind} | {n:,} | {matched:,} | {correct:,} | {last} |")
    for r in results[1:]:
        if r.by_kind != first.by_kind:
            lines.append(f"\n{r.backend} differs by variation: {json.dumps(r.by_kind)}")
    lines += ["", "| target | measured | result |", "| --- | --- | --- |"]
    for r in results:
        precision = r.correct / max(r.matched, 1)
        recall = r.correct / max(r.expected, 1)
        rerun = statistics.median(r.rerun_ms) / 1000
        lines += [
            f"| {r.backend}: precision >= 99% | {precision:.2%} | {'met' if precision >= PRECISION else 'missed'} |",
            f"| {r.backend}: recall >= 95% | {recall:.2%} | {'met' if recall >= RECALL else 'missed'} |",
            f"| {r.backend}: 100k x 1M run < 2 min | {r.first_s:.1f} s | {'met' if r.first_s < FIRST_RUN_S else 'missed'} |",
            f"| {r.backend}: re-run with nothing changed < 2 s | {rerun * 1000:.0f} ms | {'met' if rerun < RERUN_S else 'missed'} |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default=os.environ.get("HARMONY_TEST_POSTGRES_URL"))
    parser.add_argument("--catalogue", type=int, default=1_000_000)
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument(
        "--absent", type=float, default=0.1, help="share of sources without a counterpart"
    )
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--notes", help="a Markdown file appended to the written section")
    parser.add_argument(
        "--write", action="store_true", help="write the section into docs/benchmarks.md"
    )
    args = parser.parse_args()
    scale = args.catalogue / 100_000
    args.words, args.artists = round(3_000 * max(1.0, scale) ** 0.5), max(50, round(5_000 * scale))
    if args.sqlite_only:
        args.postgres = None
    if args.write and not args.postgres:
        parser.error(
            "--write needs PostgreSQL: give --postgres URL or set HARMONY_TEST_POSTGRES_URL"
        )
    command, machine_line = command_line(SCRIPT, sys.argv[1:]), machine(args.postgres)
    args.load = [os.getloadavg()[0], 0.0]
    print(machine_line, f"Load average at start: {args.load[0]:.2f}.", flush=True)
    began = time.perf_counter()
    catalogue, same = make_catalogue(args)
    sources = make_sources(catalogue, args)
    print(
        f"generated {len(catalogue):,} + {len(sources):,} tracks ({time.perf_counter() - began:.0f} s)",
        flush=True,
    )
    backends: list[tuple[str, Callable[[], Any]]] = (
        [] if args.postgres_only else [("SQLite", sqlite_settings)]
    )
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_settings(args.postgres)))
    results = []
    for name, settings_of in backends:
        with settings_of() as settings:
            results.append(run_backend(name, settings, catalogue, same, sources))
    args.load[1] = os.getloadavg()[0]
    output = table(args, sources, results)
    for r in results:
        print(f"\n{r.backend}: misses and wrong matches (first ones)")
        for miss in r.misses:
            print("  " + miss)
    print(
        f"\n{output}\n\n(took {time.perf_counter() - began:.0f} s; load average now {os.getloadavg()[0]:.2f})"
    )
    if args.write:
        about = textwrap.fill(
            f'What it measures: `ctx.matching.run("spotify", "local")` of {len(sources):,} source '
            f"tracks against a catalogue of {args.catalogue:,}, on a fresh database, split into its "
            "phases (keys: normalising and storing both catalogues' matching keys; work: finding the "
            "source tracks to look at; match: candidate lookups and rules; save: one transaction of "
            "results); precision and recall on a labelled set with realistic variations (editions, "
            "credits, accents, case, typos, unknown and far-off durations, missing ISRCs, covers and "
            "live versions the catalogue lacks); incremental re-runs. The script's docstring has the "
            "details.",
            90,
            break_on_hyphens=False,
        )
        write_section(SECTION, about, machine_line, command, output, args.notes)


if __name__ == "__main__":
    main()
