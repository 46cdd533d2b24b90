"""``harmony demo``, ``harmony import PATH`` and ``harmony sync`` on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

from harmony import HarmonySettings
from harmony.providers.sample import sample_path
from tests.cli.support import Run, counts


def test_demo_syncs_the_sample_through_the_queue_and_shows_it(
    harmony_cli: Run, harmony_settings: HarmonySettings
) -> None:
    out = harmony_cli("demo").ok().out
    assert "through job 1 (playlist.sync)" in out and "created 12, updated 0" in out
    assert "Road Trip" in out and "12 playlists" in out
    assert harmony_cli("demo", "--json").ok().json()["report"]["unchanged"] == 12
    assert "unchanged 12" in harmony_cli("sync").ok().out  # the demo remembered its source
    assert counts(harmony_settings)[0] == 12


def test_import_syncs_a_folder_and_sync_picks_up_changed_files(
    harmony_cli: Run, exports: Path
) -> None:
    out = harmony_cli("import", str(exports), "--name", "mine").ok().out
    assert "as provider 'mine'" in out and "created 12" in out
    csv_file = sorted(exports.glob("*.csv"))[0]
    lines = csv_file.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_file.write_text("".join(lines[:-1]), encoding="utf-8")  # drop the last track
    report = harmony_cli("sync", "--provider", "mine", "--json").ok().json()
    assert (report["updated"], report["unchanged"]) == (1, 11)


def test_bad_imports_print_one_line_and_write_nothing(
    harmony_cli: Run, harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    harmony_cli("demo").ok()
    before = counts(harmony_settings)
    harmony_cli("import", str(tmp_path / "missing.csv")).error("does not exist")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("Title,Singer\nA,B\n", encoding="utf-8")
    harmony_cli("import", str(bad_csv)).error("bad.csv, line 1: missing required column")
    bad_json = tmp_path / "slice.json"
    bad_json.write_text('{"info": {},\n "playlists": [\n  {"name": "x",,}\n]}', encoding="utf-8")
    harmony_cli("import", str(bad_json)).error("slice.json, line 3")
    harmony_cli("sync", "--provider", "nope").error("no source named 'nope'")
    assert counts(harmony_settings) == before


def test_sync_with_nothing_imported_says_what_to_do(harmony_cli: Run) -> None:
    harmony_cli("migrate", "upgrade").ok()  # a missing SQLite file is refused before this
    harmony_cli("sync").error("run 'harmony import PATH' first")


def test_a_moved_source_fails_alone_and_full_sync_rewrites(
    harmony_cli: Run, harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with sample_path() as sample:
        for folder, name in ((first, "Road_Trip.csv"), (second, "Sunday_Jazz.csv")):
            folder.mkdir()
            shutil.copy(sample / name, folder / name)
    harmony_cli("import", str(first), "--name", "first").ok()
    harmony_cli("import", str(second), "--name", "second").ok()
    shutil.rmtree(first)
    assert (
        harmony_cli("sync", "--provider", "second", "--full", "--json").ok().json()["updated"] == 1
    )
    harmony_cli("sync").error("sync failed for first:")
    assert counts(harmony_settings)[0] == 2  # nothing of either was lost
