"""Migrations run from an installed wheel in a fresh virtual environment, not the checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest
import sqlalchemy

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, harmony
assert "fresh-venv" in harmony.__file__, harmony.__file__
from harmony.providers.sample import sample_provider
assert len(list(sample_provider().iter_playlists())) == 12
with harmony.HarmonyContext.from_url(sys.argv[1]) as ctx:
    print(ctx.migrate(), ctx.migrations.head())
    ctx.migrations.check()
"""


@pytest.mark.slow
def test_migrations_run_from_an_installed_wheel(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("harmony-*.whl")

    env_dir = tmp_path / "fresh-venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies come from this environment's site-packages, added as a plain path: its
    # .pth files (the editable install of the checkout among them) are not processed.
    Path(purelib, "deps.pth").write_text(_site_of_dependencies() + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'wheel.db'}"
    result = subprocess.run(
        [str(python), "-I", "-c", SCRIPT, url],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    migrated_to, head = result.stdout.split()
    assert migrated_to == head

    cli = subprocess.run(
        [str(env_dir / "bin" / "harmony"), "migrate", "current", "--url", url],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.startswith(f"{head} (head)")


def _site_of_dependencies() -> str:
    """The folder the dependencies are installed in: this environment's site-packages, or
    wherever a ``.pth`` file points it (the suite run from an installed sdist)."""
    return str(Path(sqlalchemy.__file__).resolve().parents[1])
