"""Property: whatever the catalogues and the hand-set pairs, matching never pairs two tracks
whose ISRCs are both known and differ, a confirmed pair is always the match returned, and
a rejected pair is never in use."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from harmony import HarmonyContext
from harmony._db.models import (
    MatchCheckRow,
    MatchRunRow,
    PlaylistRow,
    PlaylistTrackRow,
    TrackMatchKeyRow,
    TrackMatchRow,
    TrackRow,
)
from harmony._services.match_keys import canonical_isrc
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import ContextFactory

TITLES = [
    "Blue",
    "Blue (Live)",
    "Blue - Remastered 2011",
    "Blu",
    "Green Light",
    "Gren Light",
    "Part 2",
]
ARTISTS = [["Ada"], ["Ada", "Bo"], ["Adda"], ["Cy"]]
ISRCS = [None, None, "USAAA1111111", "us-aaa-11-11111", "USBBB2222222", "GBCCC3333333"]
DURATIONS = [200_000, 200_500, 201_900, 203_000, None]

tracks = st.lists(
    st.tuples(
        st.sampled_from(TITLES),
        st.sampled_from(ARTISTS),
        st.sampled_from(ISRCS),
        st.sampled_from(DURATIONS),
    ),
    min_size=1,
    max_size=7,
)
overrides = st.lists(
    st.tuples(st.sampled_from(["confirm", "reject"]), st.integers(0, 6), st.integers(0, 6)),
    max_size=5,
)


def _songs(prefix: str, items: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{n}", "title": t, "artists": a, "isrc": i, "duration_ms": d}
        for n, (t, a, i, d) in enumerate(items)
    ]


def _reset(ctx: HarmonyContext, *providers: InMemoryProvider) -> None:
    for provider in providers:
        provider.clear()
    with ctx.db.write() as conn:
        for table in (
            MatchRunRow,
            MatchCheckRow,
            TrackMatchRow,
            TrackMatchKeyRow,
            PlaylistTrackRow,
            PlaylistRow,
            TrackRow,
        ):
            conn.execute(delete(table))


def _ids(ctx: HarmonyContext, provider: str) -> list[int]:
    with ctx.db.connect() as conn:
        stmt = (
            select(TrackRow.id).where(TrackRow.provider == provider).order_by(TrackRow.provider_id)
        )
        return list(conn.execute(stmt).scalars())


def _check(ctx: HarmonyContext, hand: dict[tuple[int, int], str]) -> None:
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(
                TrackMatchRow.source_track_id, TrackMatchRow.target_track_id, TrackMatchRow.status
            )
        ).all()
        isrc = {
            r.id: canonical_isrc(r.isrc) for r in conn.execute(select(TrackRow.id, TrackRow.isrc))
        }
    for source_id, target_id, status in rows:
        if status == "auto":
            a, b = isrc[source_id], isrc[target_id]
            assert not (a and b and a != b), f"paired differing ISRCs {a} / {b}"
    for (source_id, target_id), status in hand.items():
        match = ctx.matching.get(source_id, "local")
        if status == "confirmed":
            assert match is not None and (match.target_track_id, match.status) == (
                target_id,
                "confirmed",
            )
        else:
            assert match is None or match.target_track_id != target_id


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=tracks, target=tracks, later=tracks, hand=overrides)
def test_matching_keeps_isrcs_apart_and_hand_set_pairs(
    harmony_context_factory: ContextFactory,
    source: list[tuple[Any, ...]],
    target: list[tuple[Any, ...]],
    later: list[tuple[Any, ...]],
    hand: list[tuple[str, int, int]],
) -> None:
    spotify, local = InMemoryProvider("spotify"), InMemoryProvider("local")
    with harmony_context_factory(providers={"spotify": spotify, "local": local}) as ctx:
        _reset(ctx, spotify, local)
        spotify.set_playlist("p", "P", _songs("s", source))
        local.set_playlist("f", "F", _songs("l", target))
        ctx.sync.run_once()
        ctx.matching.run("spotify", "local")
        sources, targets = _ids(ctx, "spotify"), _ids(ctx, "local")
        set_by_hand: dict[tuple[int, int], str] = {}
        for action, s, t in hand:
            source_id, target_id = sources[s % len(sources)], targets[t % len(targets)]
            if action == "confirm":
                ctx.matching.confirm(source_id, target_id)
                for pair in [
                    p
                    for p, status in set_by_hand.items()
                    if p[0] == source_id and status == "confirmed"
                ]:
                    del set_by_hand[pair]  # a new confirmation replaces the previous one
                set_by_hand[(source_id, target_id)] = "confirmed"
            else:
                ctx.matching.reject(source_id, target_id)
                set_by_hand[(source_id, target_id)] = "rejected"
        _check(ctx, set_by_hand)
        ctx.matching.run("spotify", "local")
        _check(ctx, set_by_hand)
        # The target catalogue changes (tracks added), the source re-syncs: still so.
        local.set_playlist("g", "G", _songs("m", later))
        ctx.clock.advance(1)  # type: ignore[attr-defined]
        ctx.sync.run_once()
        ctx.matching.run("spotify", "local")
        _check(ctx, set_by_hand)
