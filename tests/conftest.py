"""harmony's own suite uses harmony's pytest plugin, the same fixtures users get.

The plugin is registered by the ``pytest11`` entry point of the installed package, so
nothing needs to load it here.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_SH = Path(__file__).resolve().parents[1] / "scripts" / "pg.sh"


def pg_script(*args: str) -> str:
    """Run ``scripts/pg.sh`` with ``args``; its stdout (the URL for ``start``)."""
    done = subprocess.run(["bash", str(PG_SH), *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pg.sh {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


@pytest.fixture
def own_cluster() -> Iterator[tuple[str, str]]:
    """``(url, folder)`` of a PostgreSQL cluster of the test's own, for restarting it
    (``pg_script("restart", folder)``) without cutting every other test's connections."""
    if subprocess.run(["bash", str(PG_SH), "bindir"], capture_output=True).returncode != 0:
        pytest.skip("no PostgreSQL server binaries")
    folder = tempfile.mkdtemp(prefix="hpg-", dir="/tmp")  # short: Unix socket paths are limited
    try:
        yield pg_script("start", folder), folder
    finally:
        pg_script("stop", folder)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``slow`` first, the rest in their usual order.

    Under ``scripts/test.sh`` (pytest-xdist, ``--dist worksteal``) a long multi-process
    test that starts last keeps one worker busy after the others ran out of work. Listed
    first, the slow tests start early and run beside the short ones, which fill the gaps
    (a worker that runs out takes queued tests from the other). Serial runs are
    unaffected but for the order.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
