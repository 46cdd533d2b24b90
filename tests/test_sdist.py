"""The sdist is complete: installed into a fresh virtual environment, its own tests pass."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest
import sqlalchemy

from harmony.testing import POSTGRES_URL_ENV

ROOT = Path(__file__).resolve().parents[1]

#: Folders the test suite reads; the sdist must hold every file of theirs.
SHIPPED = ("src", "tests", "docs", "examples", "benchmarks", "scripts")

#: Tests run from the unpacked sdist: ones that read examples/ and docs/ and the installed
#: package's data (the whole suite runs there too, but would take minutes here).
SDIST_TESTS = (
    "tests/examples/test_asgi_app.py",
    "tests/test_configuration_docs.py",
    "tests/events/test_contract_docs.py",
    "tests/test_http.py",
)


def _files(root: Path) -> set[str]:
    found = set()
    for folder in SHIPPED:
        for path in (root / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(path.relative_to(root).as_posix())
    return found


@pytest.mark.slow
def test_the_sdist_installs_into_a_fresh_venv_and_its_tests_pass(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "--target", "sdist", "--directory", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (sdist,) = dist.glob("harmony-*.tar.gz")
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    missing = sorted(_files(ROOT) - _files(source))
    assert missing == [], "files the tests read are missing from the sdist"

    env_dir = tmp_path / "fresh-venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies (pytest, FastAPI, ...) come from this environment's site-packages as a
    # plain path: its .pth files, the editable install of the checkout among them, are
    # not processed, so `import harmony` can only find the sdist's installed copy.
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
            "--no-build-isolation",
            "-q",
            str(sdist),
        ],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARMONY_", "PYTEST_"))}
    if os.environ.get(POSTGRES_URL_ENV):
        env[POSTGRES_URL_ENV] = os.environ[POSTGRES_URL_ENV]
    # One interpreter both says where `import harmony` finds the package and runs the
    # tests (as `python -m pytest` would, from the unpacked sdist): a second start-up
    # importing harmony only to print its path cost a second.
    run_tests = (
        "import sys, harmony, pytest; print(harmony.__file__, flush=True);"
        " sys.exit(pytest.main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [
            str(python),
            "-c",
            run_tests,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            *SDIST_TESTS,
        ],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    where = result.stdout.partition("\n")[0]
    assert where.startswith(str(env_dir)), where or result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary


def _site_of_dependencies() -> str:
    """The folder the dependencies are installed in: this environment's site-packages, or
    wherever a ``.pth`` file points it (the suite run from an installed sdist)."""
    return str(Path(sqlalchemy.__file__).resolve().parents[1])
