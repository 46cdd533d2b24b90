"""``harmony sync --dry-run``: the plan per playlist, nothing written, and then the same
numbers from the real sync."""

from __future__ import annotations

from pathlib import Path

from harmony import HarmonyContext, HarmonySettings
from tests.cli.support import Run
from tests.sync.conftest import dump


def _change_the_export(folder: Path) -> None:
    road = folder / "Road_Trip.csv"
    header, *rows = road.read_text(encoding="utf-8").splitlines(keepends=True)
    road.write_text(header + rows[-1] + "".join(rows[:-2]), encoding="utf-8")  # move, drop
    (folder / "Focus_Flow.csv").unlink()
    (folder / "Sunday_Jazz.csv").rename(folder / "Sunday_Jazz_Club.csv")


def test_dry_run_lists_the_changes_writes_nothing_and_the_sync_agrees(
    harmony_cli: Run,
    harmony_settings: HarmonySettings,
    exports: Path,
) -> None:
    harmony_cli("import", str(exports), "--name", "mine").ok()
    _change_the_export(exports)
    with HarmonyContext(harmony_settings) as ctx:
        before = dump(ctx)
        activity = len(ctx.activity.list(limit=1000))
    out = harmony_cli("sync", "--dry-run").ok().out
    assert "nothing is written" in out
    assert "update  'Road Trip' (mine:Road_Trip, id " in out and "+0 -1 ~1 tracks" in out
    assert "remove  'Focus Flow'" in out and "remove  'Sunday Jazz'" in out
    assert "create  'Sunday Jazz Club' (mine:Sunday_Jazz_Club)" in out
    assert "would create 1, update 1, remove 2, touch 0; 9 unchanged" in out
    plan = harmony_cli("sync", "--dry-run", "--json").ok().json()
    with HarmonyContext(harmony_settings) as ctx:
        assert dump(ctx) == before and len(ctx.activity.list(limit=1000)) == activity
    road = next(p for p in plan["playlists"] if p["provider_id"] == "Road_Trip")
    n = road["track_count"] + 1  # tracks before
    assert [(t["previous_position"], t["position"]) for t in road["tracks_moved"]] == [(n - 1, 0)]
    assert [t["previous_position"] for t in road["tracks_removed"]] == [n - 2]
    report = harmony_cli("sync", "--json").ok().json()
    assert [plan[k] for k in ("created", "updated", "removed", "unchanged")] == [
        report[k] for k in ("created", "updated", "removed", "unchanged")
    ]
    after = harmony_cli("sync", "--dry-run", "--json").ok().json()
    assert after["playlists"] == [] and after["unchanged"] == 11


def test_dry_run_of_one_source_and_of_a_missing_one(harmony_cli: Run, exports: Path) -> None:
    harmony_cli("import", str(exports), "--name", "mine").ok()
    harmony_cli("demo").ok()
    plan = harmony_cli("sync", "--dry-run", "--provider", "sample", "--json").ok().json()
    assert plan["providers"] == ["sample"] and plan["unchanged"] == 12
    harmony_cli("sync", "--dry-run", "--provider", "nope").error("no source named 'nope'")
    for path in exports.iterdir():
        path.unlink()
    exports.rmdir()
    result = harmony_cli("sync", "--dry-run")
    assert result.code == 1 and "mine" in result.err and "would create 0" in result.out


def test_dry_run_never_migrates(harmony_cli: Run, harmony_settings: HarmonySettings) -> None:
    if harmony_settings.backend == "sqlite":
        Path(str(harmony_settings.url.database)).touch()
    harmony_cli("sync", "--dry-run").error("run 'harmony migrate upgrade' first")
    with HarmonyContext(harmony_settings) as ctx:
        assert ctx.migrations.current() is None
