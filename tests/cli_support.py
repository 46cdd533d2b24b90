"""The CLI run in-process against the test's database, for the library and inspect tests."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from harmony import HarmonyContext, HarmonySettings
from harmony.cli import main

CliRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(harmony_settings: HarmonySettings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> CliRun:  # fmt: skip
    """Run the CLI in-process against the test's database (SQLite file or PG schema)."""
    for key in list(os.environ):
        if key.startswith("HARMONY_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HARMONY_DATABASE_URL", harmony_settings.database_url)
    if harmony_settings.database_schema:
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", harmony_settings.database_schema)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def counts(settings: HarmonySettings) -> tuple[int, int]:
    with HarmonyContext(settings) as ctx:
        return ctx.playlists.count(status="all"), ctx.tracks.count()


def one_error_line(code: int, out: str, err: str, contains: str) -> None:
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("harmony: error: ") and contains in err, err
