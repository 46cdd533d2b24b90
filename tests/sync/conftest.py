"""Contexts with in-memory providers on both backends, and a dump of the synced tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from harmony import HarmonyContext
from harmony._db.models import PlaylistRow, PlaylistTrackRow, TrackRow
from harmony.testing import ManualClock, RecordingEventLogger
from harmony.testing.pytest_plugin import SettingsFactory

MakeContext = Callable[..., HarmonyContext]


def track(n: int, **fields: Any) -> dict[str, Any]:
    """A valid provider track mapping."""
    return {
        "id": f"t{n}",
        "title": f"Song {n}",
        "artists": [f"Artist {n % 7}"],
        "album": f"Album {n % 5}",
        "duration_ms": 1000 * n,
        **fields,
    }


@pytest.fixture
def make_context(
    harmony_settings_factory: SettingsFactory,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
) -> Iterator[MakeContext]:
    """``make_context(providers, **settings)``: a migrated context on a fresh database."""
    contexts: list[HarmonyContext] = []

    def make(
        providers: dict[str, Any], *, collaborators: dict[str, Any] | None = None, **fields: Any
    ) -> HarmonyContext:
        ctx = HarmonyContext(
            harmony_settings_factory(**fields),
            events=harmony_events,
            clock=harmony_clock,
            providers=providers,
            **(collaborators or {}),
        )
        contexts.append(ctx)
        ctx.migrate()
        harmony_events.clear()
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def dump(ctx: HarmonyContext) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the synced tables, in a stable order."""
    with ctx.db.connect() as conn:
        return {
            "playlists": [
                tuple(r) for r in conn.execute(select(PlaylistRow).order_by(PlaylistRow.id))
            ],
            "tracks": [tuple(r) for r in conn.execute(select(TrackRow).order_by(TrackRow.id))],
            "playlist_tracks": [
                tuple(r)
                for r in conn.execute(
                    select(PlaylistTrackRow).order_by(
                        PlaylistTrackRow.playlist_id, PlaylistTrackRow.position
                    )
                )
            ],
        }
