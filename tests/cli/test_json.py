"""Every ``--json`` output parses as JSON and is written in one style (compact, ASCII,
one document per line); text output shows values, not Python reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmony import HarmonyContext, HarmonySettings
from tests.cli.support import Result, Run

#: Commands with --json that print one document.
DOCUMENTS = [
    ("demo",),
    ("sync",),
    ("sync", "--dry-run"),
    ("search", "ocean"),
    ("stats",),
    ("status",),
    ("jobs", "stats"),
    ("info",),
    ("migrate", "current"),
    ("playlists", "show", "1"),
    ("worker", "--until-idle"),
]
#: Commands with --json that print one object per line.
LISTINGS = [
    ("events", "tail"),
    ("activity", "list"),
    ("jobs", "list"),
    ("playlists", "list"),
    ("sources", "list"),
]


@pytest.fixture
def demo(harmony_cli: Run, harmony_settings: HarmonySettings) -> Run:
    harmony_cli("demo").ok()
    with HarmonyContext(harmony_settings) as ctx:
        ctx.activity.record(
            "note", "ok", {"text": "naïve café", "n": 3, "tags": ["a"], "none": None}
        )
        ctx.credentials.set("spotify", client_id="id", client_secret="s3cret")
    return harmony_cli


@pytest.mark.parametrize("args", DOCUMENTS, ids=" ".join)
def test_json_documents_parse_in_the_one_style(demo: Run, args: tuple[str, ...]) -> None:
    result = demo(*args, "--json").ok()
    assert result.json() is not None


@pytest.mark.parametrize("args", LISTINGS, ids=" ".join)
def test_json_listings_print_one_object_per_line(demo: Run, args: tuple[str, ...]) -> None:
    rows = demo(*args, "--json").ok().json_lines()
    assert rows and all(isinstance(row, dict) for row in rows)


def test_import_prints_json_too(harmony_cli: Run, exports: Path) -> None:
    assert harmony_cli("import", str(exports), "--json").ok().json()["created"] == 12


def test_non_ascii_is_escaped_so_any_pipe_can_carry_it(demo: Run) -> None:
    result = demo("activity", "list", "--type", "note", "--json").ok()
    assert result.out.isascii() and result.json_lines()[0]["details"]["text"] == "naïve café"


def test_the_documents_say_what_they_should(demo: Run) -> None:
    info = demo("info", "--json").ok().json()
    assert info["backend"] in ("sqlite", "postgresql") and info["up_to_date"] is True
    assert info["tables"]["playlists"] == 12 and info["revision"] == info["head"]
    current = demo("migrate", "current", "--json").ok().json()
    assert current == {"current": info["head"], "head": info["head"], "up_to_date": True}
    (status,) = [s for s in demo("status", "--json").ok().json() if s["name"] == "spotify"]
    assert status["credential_keys"] == ["client_id", "client_secret"]
    assert "s3cret" not in demo("status", "--json").out


def test_activity_list_prints_values_not_python_reprs(demo: Run) -> None:
    result: Result = demo("activity", "list", "--type", "note").ok()
    pairs = result.out.split(" ok ", 1)[1].strip()
    for pair in ('text="naïve café"', "n=3", 'tags=["a"]', "none=null"):  # in any order:
        assert pair in pairs  # PostgreSQL's JSONB orders keys itself
    assert "{'" not in result.out and "None" not in result.out
    tail = demo("events", "tail", "--type", "note").ok().out
    assert 'tags=["a"]' in tail and "'a'" not in tail
