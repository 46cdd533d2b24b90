"""``harmony events tail``, ``stats``, ``search`` and ``status``, and the schema check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harmony import HarmonyContext, HarmonySettings
from harmony.cli import main
from tests.cli_support import CliRun, cli, one_error_line  # noqa: F401 (fixture)


@pytest.fixture
def demo(cli: CliRun) -> CliRun:
    assert cli("demo")[0] == 0
    return cli


def test_events_tail_shows_the_newest_entries_oldest_first(demo: CliRun) -> None:
    assert demo("sync")[0] == 0
    code, out, err = demo("events", "tail", "-n", "2", "--type", "sync.run")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2 and all("sync.run" in line and "provider=sample" in line for line in lines)
    assert "created_count=12" in lines[0] and "unchanged_count=12" in lines[1]
    code, out, _ = demo("events", "tail", "-n", "1", "--json")
    assert code == 0 and json.loads(out)["type"] == "sync.run"
    one_error_line(*demo("events", "tail", "-n", "0"), contains="--limit must be at least 1")


def test_stats_prints_the_machine_and_json_on_request(demo: CliRun) -> None:
    code, out, err = demo("stats")
    assert (code, err) == (0, "") and out.startswith("cpu ") and "memory" in out and "disk" in out
    code, out, _ = demo("stats", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["cpu"]["logical_cores"] >= 1 and stats["memory"]["total"] > 0


def test_search_ranks_and_reports_bad_queries(demo: CliRun) -> None:
    code, out, err = demo("search", "deja vu", "--limit", "2")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith("  1. Déjà Vu — Chloé Dufresne")
    code, out, _ = demo("search", "summer 1984 live", "--json")
    assert code == 0 and json.loads(out)["items"][0]["title"] == "Summer 1984 - Live at Wembley"
    one_error_line(*demo("search", "  "), contains="query is empty")
    one_error_line(*demo("search", "x", "--limit", "0"), contains="limit must be between 1")


def test_status_lists_sources_and_credentials_without_secrets(
    demo: CliRun, harmony_settings: HarmonySettings
) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        ctx.credentials.set("spotify", client_id="app", client_secret="hush-123")
    code, out, err = demo("status")
    assert (code, err) == (0, "")
    assert "sample       configured=yes" in out and "spotify      configured=yes pro=no" in out
    assert "hush-123" not in out
    code, out, _ = demo("status", "spotify", "--json")
    assert json.loads(out)[0]["credential_keys"] == ["client_id", "client_secret"]


def test_commands_refuse_a_database_that_is_not_migrated(
    cli: CliRun, harmony_settings: HarmonySettings
) -> None:
    if harmony_settings.backend == "sqlite":  # an empty file: a database without tables
        Path(str(harmony_settings.url.database)).touch()
    one_error_line(*cli("search", "x"), contains="run 'harmony migrate upgrade' first")
    one_error_line(*cli("events", "tail"), contains="schema is at base (empty)")


UNREACHABLE = "postgresql://user:pw-5ecret@127.0.0.1:9/db"  # nothing listens on port 9


@pytest.mark.parametrize(
    "args",
    [
        ("demo",), ("import", "exports/"), ("sync",), ("events", "tail"), ("stats",),
        ("search", "x"), ("status",), ("info",), ("activity", "list"), ("jobs", "list"),
        ("jobs", "stats"), ("jobs", "retry", "1"), ("migrate", "current"),
        ("migrate", "current", "--json"), ("info", "--json"), ("sync", "--dry-run"),
        ("playlists", "list"), ("playlists", "show", "1"), ("sources", "list"),
        ("sources", "forget", "x"), ("worker", "--until-idle"),
    ],
    ids=lambda args: " ".join(args),
)
def test_every_command_reports_an_unreachable_database_in_one_line(
    args: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_text("Track URI,Track Name,Artist Name(s)\n")
    code = main([*args, "--url", UNREACHABLE])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("harmony: error: ")
    assert "127.0.0.1:9" in err and "pw-5ecret" not in err
