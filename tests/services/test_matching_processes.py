"""Two processes running ``ctx.matching.run`` of the same pair at once, on one database
(SQLite file or PostgreSQL schema): both succeed, and what is stored is what one run alone
stores (PostgreSQL: the runs wait for each other; SQLite: its single writer serialises
them). Three rounds, each from an empty match state, give the race several chances."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs this interpreter on a fixed script
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from harmony import HarmonyContext, HarmonySettings
from harmony.providers import LocalFilesProvider, sample_provider
from harmony.providers.sample.music import write_sample_music

pytest.importorskip("mutagen")
pytest.importorskip("rapidfuzz")

# The children wait for the same start file, then match; each prints its report.
CHILD = """
import json, os, sys, time
from harmony import HarmonyContext
start = sys.argv[1]
with HarmonyContext.from_env() as ctx:
    while not os.path.exists(start):
        time.sleep(0.005)
    report = ctx.matching.run("sample", "local")
    print(json.dumps({"matched": report.matched, "unmatched": report.unmatched}))
"""


def _pairs(ctx: HarmonyContext) -> dict[int, tuple[int, str]]:
    tracks = [
        t.id
        for summary in ctx.playlists.repository.list_page(provider="sample", limit=500)
        for t in ctx.playlists.get(summary.id).tracks
    ]
    found = ctx.matching.get_many(sorted(set(tracks)), "local")
    return {k: (m.target_track_id, m.method) for k, m in found.items()}


def _race(env: dict[str, str], start: Path) -> list[dict[str, int]]:
    children = [
        subprocess.Popen(  # nosec B603 - this interpreter, a fixed script
            [sys.executable, "-c", CHILD, str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    start.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, outputs):
        assert child.returncode == 0, err
    return [json.loads(out) for out, _ in outputs]


def test_processes_matching_the_same_pair_at_once_store_one_runs_result(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    music = write_sample_music(tmp_path / "music").folder
    providers = {"sample": sample_provider(), "local": LocalFilesProvider(music)}
    with HarmonyContext(harmony_settings, providers=providers) as ctx:
        ctx.migrate()
        ctx.sync.run_once()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env["HARMONY_DATABASE_URL"] = harmony_settings.database_url
    if harmony_settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = harmony_settings.database_schema
    reports: list[dict[str, int]] = []
    for round_ in range(3):
        if round_:  # forget every run and match: the next race starts from nothing
            with HarmonyContext(harmony_settings) as ctx, ctx.db.transaction() as tx:
                for table in ("track_matches", "track_match_checks", "match_runs"):
                    tx.execute(text(f"DELETE FROM {table}"))  # constant table names
        reports = _race(env, tmp_path / f"go{round_}")
        assert all(r == reports[0] for r in reports) and reports[0]["matched"] > 0
    with HarmonyContext(harmony_settings, providers=providers) as ctx:
        after_both = _pairs(ctx)
        assert len(after_both) == reports[0]["matched"]
        again = ctx.matching.run("sample", "local")  # one more run finds nothing to change
        assert (again.checked, again.changed, again.matched) == (0, 0, reports[0]["matched"])
        assert _pairs(ctx) == after_both
