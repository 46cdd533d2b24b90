"""``harmony demo``, ``harmony import PATH`` and ``harmony sync`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harmony import HarmonySettings
from harmony.providers.sample import sample_path
from tests.cli_support import (  # noqa: F401 (fixture)
    CliRun,
    cli,
    counts,
    one_error_line,
)


def test_demo_syncs_the_sample_through_the_queue_and_shows_it(cli: CliRun, harmony_settings: HarmonySettings) -> None:
    code, out, err = cli("demo")
    assert (code, err) == (0, "")
    assert "through job 1 (playlist.sync)" in out and "created 12, updated 0" in out
    assert "Road Trip" in out and "12 playlists" in out
    code, out, _ = cli("demo", "--json")
    assert code == 0
    assert json.loads(out)["report"]["unchanged"] == 12
    code, out, _ = cli("sync")  # the demo remembered its source
    assert code == 0 and "unchanged 12" in out
    assert counts(harmony_settings)[0] == 12


def test_import_syncs_a_folder_and_sync_picks_up_changed_files(
    cli: CliRun, harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    with sample_path() as sample:
        shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("__*"))
    code, out, err = cli("import", str(folder), "--name", "mine")
    assert (code, err) == (0, "") and "as provider 'mine'" in out and "created 12" in out
    csv_file = sorted(folder.glob("*.csv"))[0]
    lines = csv_file.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_file.write_text("".join(lines[:-1]), encoding="utf-8")  # drop the last track
    code, out, _ = cli("sync", "--provider", "mine", "--json")
    report = json.loads(out)
    assert code == 0 and (report["updated"], report["unchanged"]) == (1, 11)


def test_bad_imports_print_one_line_and_write_nothing(
    cli: CliRun, harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    assert cli("demo")[0] == 0
    before = counts(harmony_settings)
    one_error_line(*cli("import", str(tmp_path / "missing.csv")), contains="does not exist")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("Title,Singer\nA,B\n", encoding="utf-8")
    one_error_line(*cli("import", str(bad_csv)), contains="bad.csv, line 1: missing required column")
    bad_json = tmp_path / "slice.json"
    bad_json.write_text('{"info": {},\n "playlists": [\n  {"name": "x",,}\n]}', encoding="utf-8")
    one_error_line(*cli("import", str(bad_json)), contains="slice.json, line 3")
    one_error_line(*cli("sync", "--provider", "nope"), contains="no source named 'nope'")
    assert counts(harmony_settings) == before


def test_sync_with_nothing_imported_says_what_to_do(cli: CliRun) -> None:
    assert cli("migrate", "upgrade")[0] == 0  # a missing SQLite file is refused before this
    one_error_line(*cli("sync"), contains="run 'harmony import PATH' first")


def test_the_readme_demo_command_runs_as_a_subprocess(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    result = subprocess.run(
        [sys.executable, "-m", "harmony", "demo", "--url", "sqlite:///harmony.db"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, ""), result
    assert "created 12" in result.stdout and (tmp_path / "harmony.db").is_file()


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "harmony", "demo", "--url", "sqlite:///harmony.db"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141 and stderr == ""


def test_a_moved_source_fails_alone_and_full_sync_rewrites(
    cli: CliRun, harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with sample_path() as sample:
        for folder, name in ((first, "Road_Trip.csv"), (second, "Sunday_Jazz.csv")):
            folder.mkdir()
            shutil.copy(sample / name, folder / name)
    assert cli("import", str(first), "--name", "first")[0] == 0
    assert cli("import", str(second), "--name", "second")[0] == 0
    shutil.rmtree(first)
    code, out, err = cli("sync", "--provider", "second", "--full", "--json")
    assert (code, err) == (0, "") and json.loads(out)["updated"] == 1
    one_error_line(*cli("sync"), contains="sync failed for first:")
    assert counts(harmony_settings)[0] == 2  # nothing of either was lost
