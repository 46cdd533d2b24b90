"""An in-process runner for the ``harmony`` command, in the spirit of click's CliRunner.

``harmony_cli("playlists", "list")`` runs :func:`harmony.cli.main` in this process
against the test's database (a SQLite file or a PostgreSQL schema) with a clean
environment, and returns the exit code and what was printed. No interpreter start per
call, so a test may run many commands.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harmony import HarmonySettings
from harmony.cli import main
from harmony.providers.sample import sample_path
from tests.cli.support import Result, Run


@pytest.fixture
def harmony_cli(harmony_settings: HarmonySettings, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:  # fmt: skip
    """Run the CLI in-process against the test's database, in ``tmp_path``."""
    for key in list(os.environ):
        if key.startswith("HARMONY_") and key != "HARMONY_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("HARMONY_DATABASE_URL", harmony_settings.database_url)
    if harmony_settings.database_schema:
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", harmony_settings.database_schema)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(tuple(args), code, captured.out, captured.err)

    return run


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A copy of the bundled sample library's Exportify CSV files (12 playlists)."""
    folder = tmp_path / "exports"
    with sample_path() as sample:
        shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("__*"))
    return folder
