"""Two in-memory catalogues ("spotify" tracks matched to "local" files) on both backends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from harmony import HarmonyContext
from harmony._db.models import TrackRow
from harmony.testing import InMemoryProvider, ManualClock

Library = Callable[..., "Catalogues"]


def song(
    track_id: str,
    title: str,
    artists: Sequence[str],
    duration_ms: int | None = 200_000,
    **fields: Any,
) -> dict[str, Any]:
    """A provider track mapping."""
    return {
        "id": track_id,
        "title": title,
        "artists": list(artists),
        "duration_ms": duration_ms,
        **fields,
    }


class Catalogues:
    """A migrated context with a ``spotify`` and a ``local`` provider, and helpers."""

    def __init__(
        self,
        ctx: HarmonyContext,
        spotify: InMemoryProvider,
        local: InMemoryProvider,
        clock: ManualClock,
    ) -> None:
        self.ctx, self.spotify, self.local, self.clock = ctx, spotify, local, clock

    def sync(
        self,
        spotify: Sequence[dict[str, Any]] | None = None,
        local: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Replace what the providers hold (when given) and sync both, a second later."""
        if spotify is not None:
            self.spotify.set_playlist("liked", "Liked", list(spotify))
        if local is not None:
            self.local.set_playlist("music", "music", list(local))
        self.clock.advance(1)
        self.ctx.sync.run_once()

    def id(self, provider: str, provider_id: str) -> int:
        """The stored track id of a provider's track."""
        with self.ctx.db.connect() as conn:
            return int(
                conn.execute(
                    select(TrackRow.id).where(
                        TrackRow.provider == provider, TrackRow.provider_id == provider_id
                    )
                ).scalar_one()
            )

    def matched(self, spotify_id: str) -> str | None:
        """The local provider id a spotify track is matched to (``None``: unmatched)."""
        match = self.ctx.matching.get(self.id("spotify", spotify_id), "local")
        if match is None:
            return None
        return self.ctx.tracks.get(match.target_track_id).provider_id

    def run(self) -> Any:
        return self.ctx.matching.run("spotify", "local")
