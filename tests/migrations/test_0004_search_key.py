"""Migration 0004 adds tracks.year and tracks.search_key and backfills the key."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from harmony import HarmonyContext, HarmonySettings
from harmony._db.models import TrackRow


def test_upgrading_to_0004_backfills_search_keys_and_downgrade_drops_them(
    harmony_settings: HarmonySettings,
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with HarmonyContext(harmony_settings) as ctx:
        ctx.migrations.upgrade("0003")
        with ctx.db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO tracks (provider, provider_id, title, artists, album, "
                    "created_at, updated_at) VALUES ('p', 'x', 'Déjà Vu (feat. Ørbit)', "
                    ":artists, 'Café', :now, :now)"
                ),
                {"artists": '["Chloé"]', "now": now},
            )
        ctx.migrations.upgrade("0004")
        with ctx.db.connect() as conn:
            key, year = conn.execute(select(TrackRow.search_key, TrackRow.year)).one()
        assert (key, year) == ("deja vu feat orbit chloe cafe", None)
        ctx.migrations.downgrade("0003")
        ctx.migrate()
        ctx.migrations.check()
