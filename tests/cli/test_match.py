"""``harmony match run|unmatched|confirm|reject`` and an export through the matches, in
process, on SQLite and PostgreSQL: the README's music walk-through."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import Run

pytest.importorskip("mutagen")
pytest.importorskip("rapidfuzz")


@pytest.fixture
def music(harmony_cli: Run, tmp_path: Path) -> Path:
    """The demo library and the sample music, both synced (the working folder is tmp_path)."""
    harmony_cli("demo").ok()
    harmony_cli("sample-music", "music").ok()
    harmony_cli("import", "music").ok()
    return tmp_path


def test_match_then_export_writes_the_matched_files(harmony_cli: Run, music: Path) -> None:
    before = harmony_cli("export", "sample:Road_Trip", "road.m3u8", "--json").ok().json()
    assert before["written"] == 0
    report = harmony_cli("match", "run", "sample", "local", "--json").ok().json()
    assert (report["source"], report["target"]) == ("sample", "local")
    assert report["matched"] > 0 and report["unmatched"] > 0  # the sample music leaves 8 out
    assert report["checked"] == report["matched"] + report["unmatched"]
    again = harmony_cli("match", "run", "sample", "local").ok().out
    assert "0 tracks looked at" in again and "harmony match unmatched sample local" in again
    after = (
        harmony_cli("export", "sample:Road_Trip", "road.m3u8", "--base", ".", "--json").ok().json()
    )
    assert after["changed"] and after["written"] > 0
    assert after["written"] + len(after["missing"]) == before["written"] + len(before["missing"])
    lines = (music / "road.m3u8").read_text(encoding="utf-8").splitlines()
    assert sum(line.startswith("music/") for line in lines) == after["written"]


def test_unmatched_lists_candidates_and_overrides_stick(harmony_cli: Run, music: Path) -> None:
    harmony_cli("match", "run", "sample", "local").ok()
    items = harmony_cli("match", "unmatched", "sample", "local", "--json").ok().json_lines()
    assert items and all(item["track"]["provider"] == "sample" for item in items)
    with_candidate = next(item for item in items if item["candidates"])
    source_id = with_candidate["track"]["id"]
    target_id = with_candidate["candidates"][0]["track"]["id"]
    text = harmony_cli("match", "unmatched", "sample", "local", "--limit", "1").ok().out
    assert text.splitlines()[0].startswith(f"{items[0]['track']['id']}. ")
    pair = harmony_cli("match", "confirm", str(source_id), str(target_id), "--json").ok().json()
    assert (pair["status"], pair["target_track_id"]) == ("confirmed", target_id)
    harmony_cli("match", "run", "sample", "local").ok()  # a re-run keeps the hand-set pair
    left = harmony_cli("match", "unmatched", "sample", "local", "--json").ok().json_lines()
    assert source_id not in {item["track"]["id"] for item in left}
    rejected = harmony_cli("match", "reject", str(source_id), str(target_id)).ok().out
    assert rejected.startswith(f"rejected: track {source_id} -> local track {target_id}")


def test_bad_match_input_is_one_error_line(harmony_cli: Run, music: Path) -> None:
    harmony_cli("match", "run", "sample", "nowhere").error("no provider named 'nowhere'")
    harmony_cli("match", "run", "sample", "sample").error(
        "match one provider's tracks to another's"
    )
    harmony_cli("match", "unmatched", "sample", "local", "--limit", "0").error("limit must be")
    harmony_cli("match", "confirm", "999999", "1").error("999999")
