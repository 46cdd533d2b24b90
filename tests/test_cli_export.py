"""``harmony sample-music``, ``harmony import MUSIC`` and ``harmony export`` in-process, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harmony import HarmonySettings
from tests.cli_support import (  # noqa: F401 (fixture)
    CliRun,
    cli,
    counts,
    one_error_line,
)


@pytest.fixture
def imported(cli: CliRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo library and the sample music, both synced; the working folder is tmp_path."""
    monkeypatch.chdir(tmp_path)
    assert cli("demo")[0] == 0
    code, out, err = cli("sample-music", "music")
    assert (code, err) == (0, "")
    assert out == ("wrote 81 sample music files into music (8 sample tracks left out on "
                   "purpose); sync them with: harmony import music\n")  # fmt: skip
    code, out, err = cli("import", "music")
    assert (code, err) == (0, "") and "as provider 'local'" in out and "rejected 0" in out
    return tmp_path


def test_export_writes_a_folder_playlist_and_reports_json(cli: CliRun, imported: Path) -> None:
    code, out, err = cli("export", "local:Aurora Vale/Neon Harbor", "neon.m3u8", "--base", ".", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report | {"duration_ms": 0, "playlist_id": 0} == {
        "path": str(imported / "neon.m3u8"), "playlist_id": 0, "format": "m3u8",
        "target": "local", "written": 5, "missing": [], "changed": True, "duration_ms": 0,
    }  # fmt: skip
    lines = (imported / "neon.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == [
        "#EXTM3U", "#PLAYLIST:Aurora Vale/Neon Harbor", "#EXTINF:184,Aurora Vale - Afterglow",
        "music/Aurora Vale/Neon Harbor/01 Afterglow.m4a",
    ]  # fmt: skip
    code, out, _ = cli("export", str(report["playlist_id"]), "neon.m3u8", "--base", ".")
    assert code == 0 and out.startswith(f"unchanged (already up to date): {imported / 'neon.m3u8'}")


def test_export_of_a_sample_playlist_lists_what_is_missing(cli: CliRun, imported: Path) -> None:
    code, out, _ = cli("export", "sample:Sunday_Jazz", "jazz.xspf", "--json")
    report = json.loads(out)
    assert code == 0 and report["format"] == "xspf"  # from the suffix
    assert report["written"] == 0 and len(report["missing"]) == 12
    assert report["missing"][0]["reason"].startswith("not matched to 'local'")
    code, out, _ = cli("export", "sample:Sunday_Jazz", "jazz.m3u8")
    assert code == 0 and out.splitlines()[0].startswith("wrote ") and "0 of 12 tracks" in out
    assert out.splitlines()[1].startswith("  missing 1. ")


def test_export_own_writes_the_playlist_itself_as_csv(cli: CliRun, imported: Path) -> None:
    code, out, _ = cli("export", "sample:Road_Trip", "Road_Trip.csv", "--own", "--json")
    report = json.loads(out)
    assert code == 0 and (report["target"], report["written"]) == ("sample", 30)
    code, out, err = cli("import", "Road_Trip.csv", "--name", "copy", "--json")
    assert (code, err) == (0, "") and json.loads(out)["created"] == 1


def test_bad_exports_print_one_line_and_write_nothing(
    cli: CliRun, imported: Path, harmony_settings: HarmonySettings
) -> None:
    before = sorted(p.name for p in imported.iterdir())
    one_error_line(*cli("export", "999999", "x.m3u8"), contains="no playlist with id 999999")
    one_error_line(*cli("export", "sample:Nope", "x.m3u8"), contains="no playlist 'Nope' of provider 'sample'")
    one_error_line(*cli("export", "road trip", "x.m3u8"), contains="neither an id nor PROVIDER:PROVIDER_ID")
    one_error_line(*cli("export", "sample:Road_Trip", str(imported.parent / "x.m3u8"), "--base", "."),
                   contains="is outside the export base")  # fmt: skip
    one_error_line(*cli("export", "sample:Road_Trip", "x.m3u8", "--target", "spotify"),
                   contains="no provider named 'spotify' is registered")  # fmt: skip
    one_error_line(*cli("export", "sample:Road_Trip", "x.m3u8", "--target", "sample"),
                   contains="has no files")  # fmt: skip
    assert sorted(p.name for p in imported.iterdir()) == before
    with pytest.raises(SystemExit) as usage:  # argparse's usage error
        cli("export", "1", "x.m3u8", "--own", "--target", "local")
    assert usage.value.code == 2


def test_export_of_a_moved_music_folder_says_why(cli: CliRun, imported: Path) -> None:
    (imported / "music").rename(imported / "moved")
    one_error_line(*cli("export", "local:Aurora Vale/Neon Harbor", "x.m3u8"),
                   contains="does not exist")  # fmt: skip
    assert not (imported / "x.m3u8").exists()
