"""An in-process runner for the ``harmony`` command, in the spirit of click's CliRunner.

``cli("info", "--url", url)`` runs :func:`harmony._cli.main` in this process, in the
test's ``tmp_path`` with no ``HARMONY_*`` variable set, and returns the exit code and
what was printed (:class:`tests.cli.support.Result`); ``harmony_cli(...)`` does the same
against the test's database (a SQLite file or a PostgreSQL schema). No interpreter start
per call, so a test may run many commands. What needs a fresh process (the console
script itself, signals, a closed pipe, a full disk, the terminal's encoding) is in
``test_console_script.py``.
"""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harmony import HarmonyContext, HarmonySettings
from harmony._cli import main
from harmony.providers.sample import sample_path
from harmony.testing import ManualClock
from tests.cli.support import Result, Run, SeededDatabase


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    """Run the CLI in-process in ``tmp_path``, with no ``HARMONY_*`` variable set."""
    for key in list(os.environ):
        if key.startswith("HARMONY_") and key != "HARMONY_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --version, --help and usage errors
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        captured = capsys.readouterr()
        return Result(tuple(args), code, captured.out, captured.err)

    return run


@pytest.fixture
def harmony_cli(
    cli: Run, harmony_settings: HarmonySettings, monkeypatch: pytest.MonkeyPatch
) -> Run:
    """Run the CLI in-process against the test's database, in ``tmp_path``."""
    monkeypatch.setenv("HARMONY_DATABASE_URL", harmony_settings.database_url)
    if harmony_settings.database_schema:
        monkeypatch.setenv("HARMONY_DATABASE_SCHEMA", harmony_settings.database_schema)
    return cli


@pytest.fixture
def exports(tmp_path: Path) -> Path:
    """A copy of the bundled sample library's Exportify CSV files (12 playlists)."""
    folder = tmp_path / "exports"
    with sample_path() as sample:
        shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("__*"))
    return folder


@pytest.fixture
def seeded(tmp_path: Path) -> SeededDatabase:
    """A migrated SQLite file (in its own folder) holding four activity entries."""
    path = tmp_path / "db" / "seeded.db"
    path.parent.mkdir()
    url = f"sqlite:///{path}"
    clock = ManualClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    with HarmonyContext.from_url(url, clock=clock) as ctx:
        ctx.migrate()
        seed: list[tuple[str, str, dict[str, object]]] = [
            ("sync.run", "ok", {"created": 2}),
            ("sync.run", "failed", {"error": "timeout, retried"}),
            ("note", "ok", {"text": 'quotes " and, commas'}),
        ]
        for type_, status, details in seed:
            clock.advance(1)
            ctx.activity.record(type_, status, details)
        entries = list(ctx.activity.list(limit=1000))
        csv_text = io.StringIO()
        ctx.activity.export(csv_text, "csv")
    assert len(entries) == 4  # db.migrate + the three above
    return SeededDatabase(path, url, entries, csv_text.getvalue())
