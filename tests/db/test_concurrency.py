"""Concurrent writers through one context: no lost rows, no 'database is locked'."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from harmony import HarmonyContext
from harmony._db.models import SettingRow
from harmony._repositories.settings import get_setting, upsert_setting


def test_threads_recording_activity_concurrently_lose_nothing(
    harmony_context: HarmonyContext,
) -> None:
    def write(worker: int) -> None:
        for n in range(40):
            harmony_context.activity.record("load.write", "ok", {"worker": worker, "n": n})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))
    rows = list(harmony_context.activity.iter(type="load.write"))
    assert len(rows) == 160
    assert {(r.details["worker"], r.details["n"]) for r in rows} == {
        (w, n) for w in range(4) for n in range(40)
    }


def test_read_modify_write_transactions_do_not_lose_updates(
    harmony_context: HarmonyContext,
) -> None:
    """Each transaction reads a counter and writes it back + 1. PostgreSQL serialises them
    with FOR UPDATE; SQLite (which ignores FOR UPDATE) by taking the write lock at BEGIN,
    so no transaction works from a stale read or fails to upgrade its lock."""
    now = harmony_context.clock.now()
    with harmony_context.db.transaction() as tx:
        upsert_setting(tx, "counter", {"n": 0}, is_secret=False, now=now)
    read_counter = select(SettingRow.value).where(SettingRow.key == "counter").with_for_update()

    def bump(_: int) -> None:
        for _ in range(25):
            with harmony_context.db.transaction() as tx:
                value = tx.execute(read_counter).scalar_one()
                upsert_setting(tx, "counter", {"n": value["n"] + 1}, is_secret=False, now=now)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(bump, range(4)))
    with harmony_context.db.read() as session:
        assert get_setting(session, "counter") == {"n": 100}
