"""``harmony playlists list`` and ``harmony playlists show``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import Run


@pytest.fixture
def library(harmony_cli: Run, exports: Path) -> Run:
    harmony_cli("import", str(exports), "--name", "mine").ok()
    return harmony_cli


def test_list_shows_every_playlist_with_ids_and_provider_ids(library: Run) -> None:
    out = library("playlists", "list").ok().out
    lines = out.splitlines()
    assert len(lines) == 12 and "mine:Road_Trip" in out and "tracks" in lines[0]
    rows = library("playlists", "list", "--json").ok().json_lines()
    assert len(rows) == 12 and {r["provider"] for r in rows} == {"mine"}
    assert rows == sorted(rows, key=lambda r: r["id"]) and all(r["etag"] for r in rows)


def test_list_pages_with_limit_and_cursor_and_filters(library: Run) -> None:
    first = library("playlists", "list", "--limit", "5").ok().out.splitlines()
    assert len(first) == 6 and first[-1].startswith("(more: --cursor ")
    cursor = first[-1].removeprefix("(more: --cursor ").rstrip(")")
    rest = library("playlists", "list", "--cursor", cursor, "--json").ok().json_lines()
    assert len(rest) == 7 and rest[0]["id"] > int(cursor)
    assert library("playlists", "list", "--provider", "other", "--json").ok().json_lines() == []
    assert library("playlists", "list", "--status", "removed").ok().out.startswith("no playlists")
    library("playlists", "list", "--limit", "0").error("--limit must be from 1")
    library("playlists", "list", "--cursor", "x").error("next_cursor of a previous page")


def test_show_by_id_or_by_provider_id(library: Run) -> None:
    rows = library("playlists", "list", "--json").ok().json_lines()
    road = next(r for r in rows if r["provider_id"] == "Road_Trip")
    by_id = library("playlists", "show", str(road["id"]), "--json").ok().json()
    by_key = library("playlists", "show", "mine:Road_Trip", "--json").ok().json()
    assert by_id == by_key and by_id["etag"] == road["etag"]
    assert len(by_id["tracks"]) == road["track_count"] > 0
    assert [t["position"] for t in by_id["tracks"]] == list(range(road["track_count"]))
    text = library("playlists", "show", "mine:Road_Trip").ok().out.splitlines()
    assert text[0].startswith("Road Trip  (mine:Road_Trip, id ")
    first = by_id["tracks"][0]
    assert text[2].lstrip().startswith(f"1. {first['title']} — {', '.join(first['artists'])}")
    assert len(text) == 2 + road["track_count"]


@pytest.mark.parametrize(
    "ref, message",
    [
        ("mine:Nope", "no playlist 'Nope' from provider 'mine'"),
        ("999999", "no playlist with id 999999"),
        ("Road_Trip", "neither harmony's id"),
        (":x", "neither harmony's id"),
        ("mine:", "neither harmony's id"),
    ],
)
def test_show_explains_what_it_cannot_find(library: Run, ref: str, message: str) -> None:
    library("playlists", "show", ref).error(message)
