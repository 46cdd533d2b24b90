"""--url before or after the command, an empty --url, and read-only commands that never
create a database (a mistyped SQLite path is an error, and no file appears)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harmony.cli import main
from tests.cli.support import Result, Run

READ_ONLY = [
    ("info",), ("info", "--json"), ("migrate", "current"), ("migrate", "current", "--json"),
    ("migrate", "check"), ("migrate", "downgrade", "base"), ("playlists", "list"),
    ("playlists", "show", "1"), ("sources", "list"), ("sources", "forget", "x"),
    ("sync",), ("sync", "--dry-run"), ("search", "x"), ("status",), ("events", "tail"),
    ("activity", "list"), ("activity", "export"), ("jobs", "list"), ("jobs", "stats"),
    ("jobs", "cancel", "1"), ("jobs", "purge", "--older-than-days", "1"),
    ("worker", "--until-idle"),
]  # fmt: skip


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    for key in list(os.environ):
        if key.startswith("HARMONY_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)

    def go(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(args, code, captured.out, captured.err)

    return go


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_mistyped_sqlite_path_is_an_error_and_creates_no_file(run: Run, tmp_path: Path, args: tuple[str, ...]) -> None:
    typo = tmp_path / "harmny.db"
    line = run(*args, "--url", f"sqlite:///{typo}").error("no SQLite database at")
    assert str(typo) in line and "typo" in line and "harmony migrate upgrade" in line
    assert list(tmp_path.iterdir()) == []


def test_commands_that_create_the_database_still_do(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert "-> " in run("migrate", "upgrade", "--url", url).ok().out
    assert (tmp_path / "new.db").is_file()
    run("demo", "--url", f"sqlite:///{tmp_path / 'demo.db'}").ok()
    assert (tmp_path / "demo.db").is_file()


def test_migrate_history_needs_no_database(run: Run, tmp_path: Path) -> None:
    out = run("migrate", "history", "--url", f"sqlite:///{tmp_path / 'none.db'}").ok().out
    assert "(head)" in out and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_url_is_refused_and_nothing_is_created(run: Run, tmp_path: Path, value: str) -> None:
    run("migrate", "upgrade", "--url", value).error("--url is empty")
    run("--url", value, "info").error("--url is empty")
    assert list(tmp_path.iterdir()) == []


def test_url_is_accepted_before_and_after_the_command(run: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    run("--url", url, "migrate", "upgrade").ok()
    before = run("--url", url, "info", "--json").ok().json()
    after = run("info", "--json", "--url", url).ok().json()
    assert before == after and before["database"] == url and before["up_to_date"]
    # Given twice, the one after the command wins (it is the nearer one).
    other = f"sqlite:///{tmp_path / 'other.db'}"
    run("--url", other, "info", "--url", url).ok()
    assert not (tmp_path / "other.db").exists()


def test_the_default_url_is_used_when_none_is_given(run: Run, tmp_path: Path) -> None:
    run("info").error("no SQLite database at")
    run("migrate", "upgrade").ok()
    assert (tmp_path / "harmony.db").is_file()
    assert run("info", "--json").ok().json()["database"] == "sqlite:///harmony.db"
