"""docs/sync.md's Exportify table lists exactly the columns ExportifyProvider reads, and a
file built from the documented rules syncs as documented."""

from __future__ import annotations

import re
from pathlib import Path

from harmony import HarmonyContext
from harmony.providers import ExportifyProvider
from harmony.providers.exportify import _COLUMNS, _REQUIRED

DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"
_ROW = re.compile(r"^\| `(?P<field>[a-z_]+)` \| (?P<names>[^|]+) \| (?P<required>yes|no)\b")


def test_the_documented_columns_are_the_ones_read() -> None:
    text = DOC.read_text(encoding="utf-8").split("### Exportify CSV files", 1)[1]
    rows = {m["field"]: m for m in map(_ROW.match, text.splitlines()) if m}
    assert set(rows) == set(_COLUMNS)
    for field, names in _COLUMNS.items():
        assert re.findall(r"`([^`]+)`", rows[field]["names"]) == list(names), field
        assert (rows[field]["required"] == "yes") == (field in _REQUIRED), field


def test_rows_are_kept_or_rejected_as_documented(tmp_path: Path) -> None:
    (tmp_path / "Road_Trip.csv").write_text(
        "\ufeffTrack URI, track name ,Artist Name(s),Popularity,Duration (ms),Release Date\n"
        "spotify:track:A1,Kept,Solo,5,215000,1984-06-01\n"
        'spotify:track:D4,Split,"Earth\\, Wind & Fire, Ray,",5,1000,1984-06\n'
        "\n"
        "https://open.spotify.com/track/B2?si=x,No artists,,5,,0000\n"
        "spotify:local:Band:Album:Song:180,Local file,Band,5,,\n"
        "spotify:track:C3,Clock duration,Band,5,3:35,\n"
        ",No id,Band,5,,\n"
        "spotify:track:A1,Kept,Ray,5,215000,1984\n",
        encoding="utf-8",
    )
    with HarmonyContext.from_url("sqlite://", providers={"e": ExportifyProvider(tmp_path)}) as ctx:
        ctx.migrate()
        report = ctx.sync.run_once()
        (playlist,) = ctx.playlists.list_page().items
        detail = ctx.playlists.get(playlist.id)
    assert (playlist.name, report.rejected) == ("Road Trip", 2)
    assert sorted(r.item_id or "" for r in report.rejections) == ["", "C3"]
    kept = [(t.provider_id, t.artists, t.duration_ms, t.year) for t in detail.tracks]
    # One track per id: it fills both of its positions, with its last row's details.
    assert kept == [
        ("A1", ("Ray",), 215000, 1984),
        ("D4", ("Earth, Wind & Fire", "Ray"), 1000, 1984),
        ("B2", (), None, None),
        ("spotify:local:Band:Album:Song:180", ("Band",), None, None),
        ("A1", ("Ray",), 215000, 1984),
    ]
