"""Two processes running ``ctx.matching.run`` at once, on one database (SQLite file or
PostgreSQL schema): both succeed, and what is stored is what one run alone stores.

Runs of the same pair wait for each other on PostgreSQL; runs of different pairs share
the keying of a catalogue, which one process at a time does there; on SQLite the single
writer serialises the writes, and keys a concurrent run stored in between are replaced.
Three rounds, each from an empty match state (keys included), give the races several
chances."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs this interpreter on a fixed script
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import text

from harmony import HarmonyContext, HarmonySettings
from harmony.providers import LocalFilesProvider, sample_provider
from harmony.providers.sample.music import write_sample_music

pytest.importorskip("mutagen")
pytest.importorskip("rapidfuzz")

# Each child runs one match per round: it opens a context, waits for the round's start
# file, matches and prints its report as one line. The parent resets the match state
# between rounds. One interpreter per child for all rounds: starting one costs more than
# a round.
CHILD = """
import json, os, sys, time
from harmony import HarmonyContext
folder, rounds, source, target = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for round_ in range(rounds):
    start = os.path.join(folder, f"go{round_}")
    with HarmonyContext.from_env() as ctx:
        while not os.path.exists(start):
            time.sleep(0.005)
        report = ctx.matching.run(source, target)
    print(json.dumps({"matched": report.matched, "unmatched": report.unmatched}), flush=True)
"""
ROUNDS = 3


def _pairs(ctx: HarmonyContext) -> dict[int, tuple[int, str]]:
    tracks = [
        t.id
        for summary in ctx.playlists.repository.list_page(provider="sample", limit=500)
        for t in ctx.playlists.get(summary.id).tracks
    ]
    found = ctx.matching.get_many(sorted(set(tracks)), "local")
    return {k: (m.target_track_id, m.method) for k, m in found.items()}


def _races(
    settings: HarmonySettings, folder: Path, pairs: list[tuple[str, str]]
) -> Iterator[list[dict[str, int]]]:
    """Start one child per pair; yield the children's reports of each round, resetting
    the match state before every round but the first."""
    env = _env(settings)
    logs = [(folder / f"child{i}.err").open("w+") for i in range(len(pairs))]
    children = [
        subprocess.Popen(  # nosec B603 - this interpreter, a fixed script
            [sys.executable, "-c", CHILD, str(folder), str(ROUNDS), source, target],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        for (source, target), log in zip(pairs, logs, strict=True)
    ]
    try:
        for round_ in range(ROUNDS):
            if round_:
                _forget_matching(settings)
            (folder / f"go{round_}").touch()
            yield [_report(child, log) for child, log in zip(children, logs, strict=True)]
        for child, log in zip(children, logs, strict=True):
            assert child.wait(timeout=120) == 0, _text(log)
    finally:
        for child in children:
            child.kill()
            child.wait()
        for log in logs:
            log.close()


def _report(child: subprocess.Popen[str], log: IO[str]) -> dict[str, int]:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, f"the child ended without a report: {_text(log)}"
    report: dict[str, int] = json.loads(line)
    return report


def _text(log: IO[str]) -> str:
    log.seek(0)
    return log.read()


def _synced(harmony_settings: HarmonySettings, tmp_path: Path) -> dict[str, Any]:
    """The sample and local catalogues synced; returns the providers."""
    music = write_sample_music(tmp_path / "music").folder
    providers = {"sample": sample_provider(), "local": LocalFilesProvider(music)}
    with HarmonyContext(harmony_settings, providers=providers) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
    return providers


def _env(harmony_settings: HarmonySettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env["HARMONY_DATABASE_URL"] = harmony_settings.database_url
    if harmony_settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = harmony_settings.database_schema
    return env


def _forget_matching(harmony_settings: HarmonySettings) -> None:
    """Drop every run, match and key: the next race starts from nothing."""
    with HarmonyContext(harmony_settings) as ctx, ctx.db.transaction() as tx:
        for table in ("track_matches", "track_match_checks", "match_runs", "track_match_keys"):
            tx.execute(text(f"DELETE FROM {table}"))  # constant table names


def test_processes_matching_the_same_pair_at_once_store_one_runs_result(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    providers = _synced(harmony_settings, tmp_path)
    reports: list[dict[str, int]] = []
    for reports in _races(harmony_settings, tmp_path, [("sample", "local")] * 2):
        assert all(r == reports[0] for r in reports) and reports[0]["matched"] > 0
    with HarmonyContext(harmony_settings, providers=providers) as ctx:
        after_both = _pairs(ctx)
        assert len(after_both) == reports[0]["matched"]
        again = ctx.matching.run("sample", "local")  # one more run finds nothing to change
        assert (again.checked, again.changed, again.matched) == (0, 0, reports[0]["matched"])
        assert _pairs(ctx) == after_both


def test_processes_matching_opposite_pairs_at_once_key_each_catalogue_once(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    # sample -> local and local -> sample hold different pair locks and both key both
    # catalogues: without the per-catalogue keying lock (PostgreSQL) or the replacing
    # insert (SQLite), one of them meets the other's keys as a duplicate primary key.
    providers = _synced(harmony_settings, tmp_path)
    pairs = [("sample", "local"), ("local", "sample")]
    for forward, backward in _races(harmony_settings, tmp_path, pairs):
        assert forward["matched"] > 0 and backward["matched"] > 0
    with HarmonyContext(harmony_settings, providers=providers) as ctx:
        for source, target in pairs:
            again = ctx.matching.run(source, target)  # the races left nothing to redo
            assert (again.checked, again.changed) == (0, 0)
        with ctx.db.connect() as conn:
            keys = conn.execute(
                text("SELECT provider, count(*) FROM track_match_keys GROUP BY provider")
            ).all()
            tracks = conn.execute(
                text("SELECT provider, count(*) FROM tracks GROUP BY provider")
            ).all()
        assert dict(keys) == dict(tracks)
