"""``harmony sample-music``, ``harmony import MUSIC`` and ``harmony export``, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import Run


@pytest.fixture
def imported(harmony_cli: Run, tmp_path: Path) -> Path:
    """The demo library and the sample music, both synced; the working folder is tmp_path."""
    harmony_cli("demo").ok()
    out = harmony_cli("sample-music", "music").ok().out
    assert out == (
        "wrote 81 sample music files into music (8 sample tracks left out on "
        "purpose); sync them with: harmony import music\n"
    )
    out = harmony_cli("import", "music").ok().out
    assert "as provider 'local'" in out and "rejected 0" in out
    return tmp_path


def test_export_writes_a_folder_playlist_and_reports_json(harmony_cli: Run, imported: Path) -> None:
    run = harmony_cli(
        "export", "local:Aurora Vale/Neon Harbor", "neon.m3u8", "--base", ".", "--json"
    )
    report = json.loads(run.ok().out)
    assert report | {"duration_ms": 0, "playlist_id": 0} == {
        "path": str(imported / "neon.m3u8"),
        "playlist_id": 0,
        "format": "m3u8",
        "target": "local",
        "written": 5,
        "missing": [],
        "changed": True,
        "duration_ms": 0,
    }
    lines = (imported / "neon.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[:4] == [
        "#EXTM3U",
        "#PLAYLIST:Aurora Vale/Neon Harbor",
        "#EXTINF:184,Aurora Vale - Afterglow",
        "music/Aurora Vale/Neon Harbor/01 Afterglow.m4a",
    ]
    again = harmony_cli("export", str(report["playlist_id"]), "neon.m3u8", "--base", ".").ok()
    assert again.out.startswith(f"unchanged (already up to date): {imported / 'neon.m3u8'}")


def test_export_of_a_sample_playlist_lists_what_is_missing(
    harmony_cli: Run, imported: Path
) -> None:
    report = json.loads(harmony_cli("export", "sample:Sunday_Jazz", "jazz.xspf", "--json").ok().out)
    assert report["format"] == "xspf"  # from the suffix
    assert report["written"] == 0 and len(report["missing"]) == 12
    assert report["missing"][0]["reason"].startswith("not matched to 'local'")
    out = harmony_cli("export", "sample:Sunday_Jazz", "jazz.m3u8").ok().out
    assert out.splitlines()[0].startswith("wrote ") and "0 of 12 tracks" in out
    assert out.splitlines()[1].startswith("  missing 1. ")


def test_export_own_writes_the_playlist_itself_as_csv(harmony_cli: Run, imported: Path) -> None:
    run = harmony_cli("export", "sample:Road_Trip", "Road_Trip.csv", "--own", "--json")
    report = json.loads(run.ok().out)
    assert (report["target"], report["written"]) == ("sample", 30)
    copied = harmony_cli("import", "Road_Trip.csv", "--name", "copy", "--json").ok().json()
    assert copied["created"] == 1


def test_bad_exports_print_one_line_and_write_nothing(harmony_cli: Run, imported: Path) -> None:
    before = sorted(p.name for p in imported.iterdir())
    harmony_cli("export", "999999", "x.m3u8").error("no playlist with id 999999")
    harmony_cli("export", "sample:Nope", "x.m3u8").error("no playlist 'Nope' of provider 'sample'")
    harmony_cli("export", "road trip", "x.m3u8").error("neither an id nor PROVIDER:PROVIDER_ID")
    harmony_cli("export", "sample:Road_Trip", str(imported.parent / "x.m3u8"), "--base", ".").error(
        "is outside the export base"
    )
    harmony_cli("export", "sample:Road_Trip", "x.m3u8", "--target", "spotify").error(
        "no provider named 'spotify' is registered"
    )
    harmony_cli("export", "sample:Road_Trip", "x.m3u8", "--target", "sample").error("has no files")
    assert sorted(p.name for p in imported.iterdir()) == before
    usage = harmony_cli("export", "1", "x.m3u8", "--own", "--target", "local")  # argparse's
    assert usage.code == 2 and usage.out == "" and "usage: harmony export" in usage.err
    assert sorted(p.name for p in imported.iterdir()) == before


def test_export_of_a_moved_music_folder_says_why(harmony_cli: Run, imported: Path) -> None:
    (imported / "music").rename(imported / "moved")
    harmony_cli("export", "local:Aurora Vale/Neon Harbor", "x.m3u8").error("does not exist")
    assert not (imported / "x.m3u8").exists()
