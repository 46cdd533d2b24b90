"""A PostgreSQL restart costs the caller no error: pooled connections the server closed
are noticed at checkout and replaced, even when they were used a moment ago.

The test runs its own throwaway cluster (``scripts/pg.sh``), since restarting the shared
one would cut every other test's connections."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import text

from harmony import HarmonyContext
from harmony._db import engine as engine_module

from ..conftest import pg_script


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

        pg_script("restart", folder)

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
