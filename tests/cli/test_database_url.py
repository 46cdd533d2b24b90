"""--url before or after the command, an empty --url, read-only commands that never
create a database (a mistyped SQLite path is an error, and no file appears), and URLs
that are malformed, unsupported or unreachable: one error line, no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import Run

READ_ONLY = [
    ("info",),
    ("info", "--json"),
    ("migrate", "current"),
    ("migrate", "current", "--json"),
    ("migrate", "check"),
    ("migrate", "downgrade", "base"),
    ("playlists", "list"),
    ("playlists", "show", "1"),
    ("sources", "list"),
    ("sources", "forget", "x"),
    ("sync",),
    ("sync", "--dry-run"),
    ("search", "x"),
    ("status",),
    ("events", "tail"),
    ("activity", "list"),
    ("activity", "export"),
    ("jobs", "list"),
    ("jobs", "stats"),
    ("jobs", "cancel", "1"),
    ("jobs", "purge", "--older-than-days", "1"),
    ("worker", "--until-idle"),
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_mistyped_sqlite_path_is_an_error_and_creates_no_file(
    cli: Run, tmp_path: Path, args: tuple[str, ...]
) -> None:
    typo = tmp_path / "harmny.db"
    line = cli(*args, "--url", f"sqlite:///{typo}").error("no SQLite database at")
    assert str(typo) in line and "typo" in line and "harmony migrate upgrade" in line
    assert list(tmp_path.iterdir()) == []


def test_commands_that_create_the_database_still_do(cli: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert "-> " in cli("migrate", "upgrade", "--url", url).ok().out
    assert (tmp_path / "new.db").is_file()
    cli("demo", "--url", f"sqlite:///{tmp_path / 'demo.db'}").ok()
    assert (tmp_path / "demo.db").is_file()


def test_migrate_history_needs_no_database(cli: Run, tmp_path: Path) -> None:
    out = cli("migrate", "history", "--url", f"sqlite:///{tmp_path / 'none.db'}").ok().out
    assert "(head)" in out and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_url_is_refused_and_nothing_is_created(
    cli: Run, tmp_path: Path, value: str
) -> None:
    cli("migrate", "upgrade", "--url", value).error("--url is empty")
    cli("--url", value, "info").error("--url is empty")
    assert list(tmp_path.iterdir()) == []


def test_url_is_accepted_before_and_after_the_command(cli: Run, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    cli("--url", url, "migrate", "upgrade").ok()
    before = cli("--url", url, "info", "--json").ok().json()
    after = cli("info", "--json", "--url", url).ok().json()
    assert before == after and before["database"] == url and before["up_to_date"]
    # Given twice, the one after the command wins (it is the nearer one).
    other = f"sqlite:///{tmp_path / 'other.db'}"
    cli("--url", other, "info", "--url", url).ok()
    assert not (tmp_path / "other.db").exists()


def test_the_default_url_is_used_when_none_is_given(cli: Run, tmp_path: Path) -> None:
    cli("info").error("no SQLite database at")
    cli("migrate", "upgrade").ok()
    assert (tmp_path / "harmony.db").is_file()
    assert cli("info", "--json").ok().json()["database"] == "sqlite:///harmony.db"


SECRET = "hunter2"
#: Nothing listens on port 9 (discard) on the test machines: connecting is refused at once.
UNREACHABLE_PG = f"postgresql://user:{SECRET}@127.0.0.1:9/db"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ("migrate", "current", "--url", UNREACHABLE_PG),
            {},
            "cannot reach PostgreSQL at postgresql+psycopg://user:***@127.0.0.1:9/db",
            id="current-unreachable-postgresql",
        ),
        pytest.param(
            ("migrate", "history", "--url", f"postgresql://user:{SECRET}@127.0.0.1:notaport/db"),
            {},
            "is not a valid URL",
            id="history-malformed-url",
        ),
        pytest.param(
            ("info", "--url", f"user:{SECRET}@127.0.0.1/db"),
            {},
            "is not a valid URL",
            id="info-url-without-scheme",
        ),
        pytest.param(
            ("migrate", "check", "--url", f"mysql://user:{SECRET}@127.0.0.1/db"),
            {},
            "backend 'mysql' is not supported",
            id="check-unsupported-backend",
        ),
        pytest.param(
            ("activity", "list"),
            {"HARMONY_DATABASE_URL": UNREACHABLE_PG},
            "cannot reach PostgreSQL",
            id="activity-list-unreachable-postgresql-from-env",
        ),
        pytest.param(
            ("activity", "export", "--url", "sqlite+aiosqlite:///x.db"),
            {},
            "driver 'sqlite+aiosqlite' is not supported",
            id="export-unsupported-driver",
        ),
    ],
)
def test_bad_input_fails_with_one_line(
    cli: Run,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run = cli(*args)
    run.error(message)
    assert SECRET not in run.out + run.err
    assert list(tmp_path.iterdir()) == []  # no database file appeared in the working folder


@pytest.mark.parametrize(
    "args",
    [
        ("demo",),
        ("import", "exports/"),
        ("sync",),
        ("events", "tail"),
        ("stats",),
        ("search", "x"),
        ("status",),
        ("info",),
        ("activity", "list"),
        ("jobs", "list"),
        ("jobs", "stats"),
        ("jobs", "retry", "1"),
        ("migrate", "current"),
        ("migrate", "current", "--json"),
        ("info", "--json"),
        ("sync", "--dry-run"),
        ("playlists", "list"),
        ("playlists", "show", "1"),
        ("sources", "list"),
        ("sources", "forget", "x"),
        ("worker", "--until-idle"),
    ],
    ids=lambda args: " ".join(args),
)
def test_every_command_reports_an_unreachable_database_in_one_line(
    cli: Run, tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "a.csv").write_text("Track URI,Track Name,Artist Name(s)\n")
    run = cli(*args, "--url", UNREACHABLE_PG)
    line = run.error("127.0.0.1:9")
    assert SECRET not in line
