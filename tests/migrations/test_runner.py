"""The packaged migrations: round trips, drift checks, host isolation, data survival."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, inspect, text

from harmony import (
    HarmonyContext,
    HarmonySettings,
    RecordingEventLogger,
    SchemaDriftError,
    UnknownRevisionError,
)
from harmony._db.models import metadata as harmony_metadata
from harmony._migrations import VERSION_TABLE, MigrationRunner, script_location

HARMONY_TABLES = {
    "activity_events",
    "change_feed",
    "change_feed_head",
    "sync_state",
    "playlist_tracks",
    "playlists",
    "queue_jobs",
    "settings",
    "tracks",
}


def _tables(ctx: HarmonyContext) -> set[str]:
    return set(ctx.db.table_names())


def test_upgrade_downgrade_upgrade_leaves_a_working_schema(
    harmony_settings: HarmonySettings,
) -> None:
    with HarmonyContext(harmony_settings, events=RecordingEventLogger()) as ctx:
        assert ctx.migrations.current() is None
        assert ctx.migrate() == ctx.migrations.head()
        assert _tables(ctx) >= HARMONY_TABLES
        ctx.migrations.downgrade("base")
        assert ctx.migrations.current() is None
        assert not HARMONY_TABLES & _tables(ctx)
        ctx.migrate()
        ctx.migrations.check()
        entry = ctx.activity.record("roundtrip.done", "ok", {"n": 1})
        assert ctx.activity.list()[0].id == entry.id


def test_migrate_twice_is_a_no_op(
    harmony_context: HarmonyContext, harmony_events: RecordingEventLogger
) -> None:
    rows_before = len(harmony_context.activity.list(limit=1000))
    tables_before = _tables(harmony_context)
    assert harmony_context.migrate() == harmony_context.migrations.head()
    assert harmony_context.migrate() == harmony_context.migrations.head()
    assert harmony_events.named("db.migrate") == []
    assert len(harmony_context.activity.list(limit=1000)) == rows_before
    assert _tables(harmony_context) == tables_before


def test_migrate_emits_db_migrate_and_records_it_as_activity(
    harmony_settings: HarmonySettings,
) -> None:
    events = RecordingEventLogger()
    with HarmonyContext(harmony_settings, events=events) as ctx:
        ctx.migrate()
        (event,) = events.named("db.migrate")
        assert event["from_revision"] is None
        assert event["to_revision"] == ctx.migrations.head()
        assert event["direction"] == "upgrade"
        (stored,) = ctx.activity.list(type="db.migrate")
        assert stored.details["to_revision"] == ctx.migrations.head()


def test_processes_migrating_at_once_all_succeed_and_migrate_once(
    harmony_settings: HarmonySettings,
) -> None:
    contexts = [HarmonyContext(harmony_settings) for _ in range(4)]
    barrier = threading.Barrier(len(contexts))
    errors: list[BaseException] = []

    def migrate(ctx: HarmonyContext) -> None:
        barrier.wait()
        try:
            ctx.migrate()
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(c,)) for c in contexts]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        contexts[0].migrations.check()
        # One run did the work; the others queued behind it and found the schema at head.
        assert len(contexts[0].activity.list(type="db.migrate")) == 1
    finally:
        for ctx in contexts:
            ctx.close()


def test_check_passes_at_head(harmony_context: HarmonyContext) -> None:
    harmony_context.migrations.check()


def test_check_raises_when_the_database_is_behind(harmony_settings: HarmonySettings) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        with pytest.raises(SchemaDriftError, match="run ctx.migrate"):
            ctx.migrations.check()


def _copy_metadata() -> MetaData:
    copy = MetaData(naming_convention=harmony_metadata.naming_convention)
    for table in harmony_metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_check_lists_differences_when_models_drift(harmony_context: HarmonyContext) -> None:
    drifted = _copy_metadata()
    drifted.tables["activity_events"].append_column(Column("severity", String(16)))
    runner = MigrationRunner(harmony_context.db, harmony_context.events, metadata=drifted)
    with pytest.raises(SchemaDriftError) as info:
        runner.check()
    assert any("add_column" in d and "severity" in d for d in info.value.differences)
    assert "severity" in str(info.value)


def test_check_notices_a_dropped_index(harmony_context: HarmonyContext) -> None:
    with harmony_context.db.transaction() as tx:
        tx.execute(text("DROP INDEX ix_activity_events_type_status_timestamp"))
    with pytest.raises(SchemaDriftError) as info:
        harmony_context.migrations.check()
    assert any("ix_activity_events_type_status_timestamp" in d for d in info.value.differences)


def test_hosts_own_alembic_version_table_is_untouched(harmony_settings: HarmonySettings) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        if ctx.db.schema:  # the host's table lives where harmony's tables go
            with ctx.db.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{ctx.db.schema}"'))
        with ctx.db.transaction() as tx:
            tx.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            tx.execute(text("INSERT INTO alembic_version VALUES ('host_rev_42')"))
        ctx.migrate()
        ctx.migrations.check()  # the host's table is not reported as drift
        ctx.migrations.downgrade("base")
        ctx.migrate()
        with ctx.db.connect() as conn:
            host = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            ours = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        assert host == ["host_rev_42"]
        assert ours == [ctx.migrations.head()]


def test_unknown_revision_raises_and_changes_nothing(harmony_context: HarmonyContext) -> None:
    head = harmony_context.migrations.head()
    with pytest.raises(UnknownRevisionError, match="'nope'.*known revisions"):
        harmony_context.migrations.upgrade("nope")
    with pytest.raises(UnknownRevisionError):
        harmony_context.migrations.downgrade("zzzz")
    assert harmony_context.migrations.current() == head
    harmony_context.migrations.check()


def test_history_lists_revisions_oldest_first_ending_at_head(
    harmony_context: HarmonyContext,
) -> None:
    history = harmony_context.migrations.history()
    assert history[0].down_revision is None
    assert history[-1].is_head and history[-1].revision == harmony_context.migrations.head()
    assert all(rev.message for rev in history)


LATER_REVISION = '''
"""test-only: rebuild playlists with an extra column"""
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    # On SQLite force the copy-and-drop rebuild that batch mode uses for most changes.
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("playlists", recreate=recreate) as batch:
        batch.add_column(sa.Column("extra", sa.String(20), nullable=True))


def downgrade():
    recreate = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("playlists", recreate=recreate) as batch:
        batch.drop_column("extra")
'''


def _seed_library(ctx: HarmonyContext) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with ctx.db.transaction() as tx:
        tx.execute(
            text(
                "INSERT INTO playlists (id, provider, provider_id, name, created_at, updated_at)"
                " VALUES (1, 'spotify', 'p1', 'Mix', :now, :now)"
            ),
            {"now": now},
        )
        tx.execute(
            text(
                "INSERT INTO tracks (id, provider, provider_id, title, artists, created_at, "
                "updated_at) VALUES (1, 'spotify', 't1', 'Song', '[\"A\"]', :now, :now)"
            ),
            {"now": now},
        )
        for position in (0, 1):  # the same track twice
            tx.execute(
                text(
                    "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (1, :p, 1)"
                ),
                {"p": position},
            )
    ctx.activity.record("seed.done", "ok", {"rows": 4})


def _counts(ctx: HarmonyContext) -> dict[str, int]:
    with ctx.db.connect() as conn:
        return {
            table: conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("playlists", "tracks", "playlist_tracks", "activity_events")
        }


def test_rows_written_at_an_earlier_revision_survive_upgrading_and_downgrading(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(script_location(), scripts, ignore=shutil.ignore_patterns("__pycache__"))
    with HarmonyContext(harmony_settings) as ctx:
        head = ctx.migrations.head()
        (scripts / "versions" / "9001_test_extra.py").write_text(LATER_REVISION.format(head=head))
        extended = _copy_metadata()
        extended.tables["playlists"].append_column(Column("extra", String(20)))
        runner = MigrationRunner(ctx.db, ctx.events, metadata=extended, scripts=scripts)

        runner.upgrade(head)
        _seed_library(ctx)
        before = _counts(ctx)
        assert runner.upgrade() == "9001"
        runner.check()
        with ctx.db.connect() as conn:
            assert "extra" in {c["name"] for c in inspect(conn).get_columns("playlists")}
        # On SQLite the rebuild dropped the old playlists table: the cascade must not fire.
        assert _counts(ctx) == {**before, "activity_events": before["activity_events"] + 1}
        assert runner.downgrade(head) == head
        ctx.migrations.check()
        assert _counts(ctx)["playlist_tracks"] == 2
