"""A PostgreSQL restart costs the caller no error: pooled connections the server closed
are noticed at checkout and replaced, even when they were used a moment ago.

The test runs its own throwaway cluster (``scripts/pg.sh``), since restarting the shared
one would cut every other test's connections."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import text

from harmony import HarmonyContext
from harmony.db import engine as engine_module

PG_SH = Path(__file__).resolve().parents[2] / "scripts" / "pg.sh"


def _pg(*args: str) -> str:
    done = subprocess.run(["bash", str(PG_SH), *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pg.sh {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


@pytest.fixture
def own_cluster() -> Iterator[tuple[str, str]]:
    if subprocess.run(["bash", str(PG_SH), "bindir"], capture_output=True).returncode != 0:
        pytest.skip("no PostgreSQL server binaries")
    folder = tempfile.mkdtemp(prefix="hpg-", dir="/tmp")  # short: Unix socket paths are limited
    try:
        yield _pg("start", folder), folder
    finally:
        _pg("stop", folder)


@pytest.mark.slow
def test_a_postgresql_restart_costs_the_caller_no_error(
    own_cluster: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, folder = own_cluster
    # Only the check for connections the server closed may save the calls below: none of
    # the pooled connections has sat idle long enough to be pinged anyway.
    monkeypatch.setattr(engine_module, "_PING_AFTER_IDLE_SECONDS", 3600.0)
    with HarmonyContext.from_url(url, settings={"activity_events": ()}) as ctx:
        ctx.migrate()
        ctx.credentials.set("spotify", client_id="id")
        with ExitStack() as held:  # three pooled connections, all used just now
            for _ in range(3):
                held.enter_context(ctx.db.connect()).execute(text("SELECT 1"))
        assert ctx.db.engine.pool.checkedin() >= 3  # type: ignore[attr-defined]

        _pg("restart", folder)

        job = ctx.jobs.enqueue("t", {"after": "restart"})
        assert ctx.credentials.get("spotify") is not None
        assert list(ctx.playlists.list_page().items) == []
        with ExitStack() as held:
            for _ in range(3):
                held.enter_context(ctx.db.connect()).execute(text("SELECT 1"))
        [leased] = ctx.jobs.lease("t")
        ctx.jobs.complete(leased)
        assert ctx.jobs.get(job.id).status == "completed"
        assert ctx.system.health().ready
