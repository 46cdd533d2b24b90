"""The ``library`` fixture of the matching tests: synced "spotify" and "local" catalogues."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from harmony import HarmonyContext
from harmony.testing import InMemoryProvider, ManualClock, RecordingEventLogger
from harmony.testing.pytest_plugin import SettingsFactory
from tests.services.matching_support import Catalogues, Library


@pytest.fixture
def library(
    harmony_settings_factory: SettingsFactory,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
) -> Iterator[Library]:
    """``library(spotify_tracks, local_tracks, **settings)``: synced catalogues."""
    made: list[Catalogues] = []

    def make(
        spotify: Sequence[dict[str, Any]], local: Sequence[dict[str, Any]], **fields: Any
    ) -> Catalogues:
        providers = {"spotify": InMemoryProvider("spotify"), "local": InMemoryProvider("local")}
        ctx = HarmonyContext(
            harmony_settings_factory(**fields),
            events=harmony_events,
            clock=harmony_clock,
            providers=providers,
        )
        ctx.migrate()
        found = Catalogues(ctx, providers["spotify"], providers["local"], harmony_clock)
        made.append(found)
        found.sync(spotify, local)
        harmony_events.clear()
        return found

    yield make
    for found in made:
        found.ctx.close()
