"""Source names derived from the imported path, and ``harmony sources list|forget``."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.support import Run


def _single(exports: Path, stem: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(exports / f"{stem}.csv", into / f"{stem}.csv"))


def test_two_single_file_imports_keep_both_playlists_active(
    harmony_cli: Run, exports: Path, tmp_path: Path
) -> None:
    road = _single(exports, "Road_Trip", tmp_path / "a")
    jazz = _single(exports, "Sunday_Jazz", tmp_path / "a")
    first = harmony_cli("import", str(road)).ok().out
    second = harmony_cli("import", str(jazz)).ok().out
    assert "as provider 'exportify-road_trip'" in first
    assert "as provider 'exportify-sunday_jazz'" in second and "removed 0" in second
    listed = harmony_cli("playlists", "list", "--json").ok().json_lines()
    assert sorted((p["provider"], p["status"]) for p in listed) == [
        ("exportify-road_trip", "active"),
        ("exportify-sunday_jazz", "active"),
    ]
    # Syncing everything again changes nothing, and removes nothing.
    report = harmony_cli("sync", "--json").ok().json()
    assert (report["unchanged"], report["removed"]) == (2, 0)


def test_a_path_imported_again_keeps_its_name_and_a_same_named_file_gets_its_own(
    harmony_cli: Run,
    exports: Path,
    tmp_path: Path,
) -> None:
    one = _single(exports, "Road_Trip", tmp_path / "one")
    two = _single(exports, "Road_Trip", tmp_path / "two")
    harmony_cli("import", str(one)).ok()
    again = harmony_cli("import", str(one), "--json").ok().json()
    assert (again["providers"], again["unchanged"]) == (["exportify-road_trip"], 1)
    other = harmony_cli("import", str(two), "--json").ok().json()
    (name,) = other["providers"]
    assert name.startswith("exportify-road_trip-") and other["created"] == 1
    sources = harmony_cli("sources", "list", "--json").ok().json_lines()
    assert {s["name"]: s["path"] for s in sources} == {
        "exportify-road_trip": str(one.resolve()),
        name: str(two.resolve()),
    }


def test_an_explicit_name_wins_and_a_folder_is_named_after_the_folder(
    harmony_cli: Run, exports: Path
) -> None:
    assert "as provider 'exportify-exports'" in harmony_cli("import", str(exports)).ok().out
    mine = _single(exports, "Focus_Flow", exports.parent / "mine")
    assert "as provider 'focus'" in harmony_cli("import", str(mine), "--name", "focus").ok().out


def test_sources_list_shows_kind_path_and_missing_files(
    harmony_cli: Run, exports: Path, tmp_path: Path
) -> None:
    harmony_cli("migrate", "upgrade").ok()
    assert "no sources" in harmony_cli("sources", "list").ok().out
    road = _single(exports, "Road_Trip", tmp_path / "a")
    harmony_cli("import", str(road)).ok()
    harmony_cli("demo").ok()
    out = harmony_cli("sources", "list").ok().out
    assert "exportify-road_trip" in out and str(road.resolve()) in out and "(bundled)" in out
    road.unlink()
    assert "missing" in harmony_cli("sources", "list").ok().out
    rows = harmony_cli("sources", "list", "--json").ok().json_lines()
    assert {r["name"]: r["available"] for r in rows} == {
        "exportify-road_trip": False,
        "sample": True,
    }


def test_forget_stops_syncing_a_source_and_keeps_or_removes_its_playlists(
    harmony_cli: Run,
    exports: Path,
    tmp_path: Path,
) -> None:
    road = _single(exports, "Road_Trip", tmp_path / "a")
    jazz = _single(exports, "Sunday_Jazz", tmp_path / "b")
    harmony_cli("import", str(road)).ok()
    harmony_cli("import", str(jazz)).ok()
    out = harmony_cli("sources", "forget", "exportify-road_trip").ok().out
    assert "forgot source 'exportify-road_trip'" in out and "playlists stay" in out
    assert harmony_cli("sync", "--json").ok().json()["providers"] == ["exportify-sunday_jazz"]
    assert len(harmony_cli("playlists", "list", "--json").ok().json_lines()) == 2
    out = harmony_cli("sources", "forget", "exportify-sunday_jazz", "--remove-playlists").ok().out
    assert "1 playlists removed" in out
    active = harmony_cli("playlists", "list", "--json").ok().json_lines()
    assert [p["provider"] for p in active] == ["exportify-road_trip"]
    removed = harmony_cli("playlists", "list", "--status", "removed", "--json").ok().json_lines()
    assert [p["provider"] for p in removed] == ["exportify-sunday_jazz"]
    assert harmony_cli("sources", "list", "--json").ok().json_lines() == []


def test_forgetting_an_unknown_source_names_the_known_ones(
    harmony_cli: Run, exports: Path, tmp_path: Path
) -> None:
    harmony_cli("migrate", "upgrade").ok()
    harmony_cli("sources", "forget", "nope").error("no source named 'nope' (known: none)")
    harmony_cli("import", str(_single(exports, "Road_Trip", tmp_path / "a"))).ok()
    harmony_cli("sources", "forget", "nope").error("known: exportify-road_trip")
