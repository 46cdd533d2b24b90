"""The examples in examples/ run as users would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harmony import HarmonySettings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_and_never_prints_the_secret(harmony_settings: HarmonySettings) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), harmony_settings.database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ)
        | (
            {"HARMONY_DATABASE_SCHEMA": harmony_settings.database_schema}
            if harmony_settings.database_schema
            else {}
        ),
    )
    assert result.returncode == 0, result.stderr
    assert "activity: import.finished ok {'playlists': 3}" in result.stdout
    assert "events: ['db.migrate', 'credentials.set']" in result.stdout
    assert "s3cr3t" not in result.stdout + result.stderr


def test_worker_example_drains_its_demo_jobs(harmony_settings: HarmonySettings) -> None:
    env = dict(os.environ)
    if harmony_settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = harmony_settings.database_schema
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "worker.py"),
            harmony_settings.database_url,
            "--demo-jobs",
            "120",
            "--sync",
            "--until-idle",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "completed=121" in result.stdout and "dead_lettered=0" in result.stdout
    assert "library: 12 playlists, 89 tracks" in result.stdout
