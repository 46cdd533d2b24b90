"""ctx.sync.plan(): what the next sync would do, per playlist, written nowhere; the plan
equals what the following run_once does, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from harmony import (
    HarmonyContext,
    PlaylistPlan,
    SyncPlan,
    SyncReport,
    UnknownProviderError,
)
from harmony._db.models import ActivityEventRow, PlaylistRow, PlaylistTrackRow, TrackRow
from harmony._repositories.sync_preview import StoredSlot
from harmony._services.sync_plan import diff_tracks
from harmony.providers.base import ProviderTrack
from harmony.testing import InMemoryProvider, RecordingEventLogger
from tests.sync.conftest import MakeContext, dump, track


def _t(n: int, title: str | None = None) -> dict[str, Any]:
    return track(n, **({"title": title} if title else {}))


def _lists(ctx: HarmonyContext) -> dict[str, list[str]]:
    """Every stored playlist's track ids in order, by provider id."""
    out: dict[str, list[str]] = {}
    for playlist in ctx.playlists.repository.list_page(status="all", limit=500):
        detail = ctx.playlists.repository.get(playlist.id)
        out[playlist.provider_id] = [t.provider_id for t in detail.tracks]
    return out


def _activity_rows(ctx: HarmonyContext) -> int:
    with ctx.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ActivityEventRow)).scalar_one())


def assert_plan_matches(
    ctx: HarmonyContext, plan: SyncPlan, report: SyncReport, before: dict[str, list[str]]
) -> None:
    """The plan predicted the report's counts, the ids it wrote and each new track list."""
    assert (plan.created, plan.updated, plan.removed, plan.unchanged) == (
        report.created,
        report.updated,
        report.removed,
        report.unchanged,
    )
    planned_ids = {p.playlist_id for p in plan.playlists if p.playlist_id is not None}
    created_ids = {
        p.id
        for p in ctx.playlists.repository.list_page(status="all", limit=500)
        if p.provider_id in {c.provider_id for c in plan.playlists if c.action == "create"}
    }
    assert planned_ids | created_ids == set(report.playlist_ids)
    after = _lists(ctx)
    for item in plan.playlists:
        if item.track_count is None:
            if item.action in ("update", "touch"):  # metadata only: the list is as it was
                assert after[item.provider_id] == before[item.provider_id]
            continue
        old, new = before.get(item.provider_id, []), after[item.provider_id]
        assert len(new) == item.track_count
        for t in item.tracks_added:
            assert new[t.position] == t.provider_id  # type: ignore[index]
        for t in item.tracks_removed:
            assert old[t.previous_position] == t.provider_id  # type: ignore[index]
        for t in item.tracks_moved:
            assert old[t.previous_position] == new[t.position] == t.provider_id  # type: ignore[index]
        kept = Counter(old) - Counter(t.provider_id for t in item.tracks_removed)
        assert kept + Counter(t.provider_id for t in item.tracks_added) == Counter(new)


@pytest.fixture
def library(make_context: MakeContext) -> tuple[HarmonyContext, InMemoryProvider]:
    provider = InMemoryProvider()
    provider.set_playlist("mix", "Mix", [_t(1), _t(2), _t(3), _t(4), _t(5)])
    provider.set_playlist("gym", "Gym", [_t(2), _t(6)])
    provider.set_playlist("old", "Old", [_t(7)])
    provider.set_playlist("calm", "Calm", [_t(8)])
    provider.set_playlist("back", "Back", [_t(9)])
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    provider.remove_playlist("back")
    ctx.sync.run_once()  # "back" is now marked removed
    return ctx, provider


def _by_id(plan: SyncPlan) -> dict[str, PlaylistPlan]:
    return {p.provider_id: p for p in plan.playlists}


def test_the_plan_describes_each_change_and_the_sync_does_exactly_that(
    library: tuple[HarmonyContext, InMemoryProvider],
    harmony_events: RecordingEventLogger,
) -> None:
    ctx, provider = library
    provider.set_playlist("mix", "Mix", [_t(5), _t(1), _t(2), _t(3), _t(4), _t(10)])  # move + add
    provider.rename("gym", "Gym 2")
    provider.remove_playlist("old")
    provider.set_playlist("new", "New", [_t(11), _t(12)])
    provider.set_playlist("back", "Back", [_t(9)])
    provider.set_playlist("calm", "Calm", [_t(8, title="Calmer")])  # t8 changes title
    assert ctx.cache is not None
    ctx.playlists.list_page()  # something in the cache, which the plan must leave there
    lists, activity = _lists(ctx), _activity_rows(ctx)
    before, cached = dump(ctx), ctx.cache.stats()
    harmony_events.clear()

    plan = ctx.sync.plan()

    assert dump(ctx) == before and ctx.cache.stats() == cached and len(ctx.cache) == 1
    assert _activity_rows(ctx) == activity and list(harmony_events) == []
    items = _by_id(plan)
    assert {k: v.action for k, v in items.items()} == {
        "mix": "update",
        "gym": "update",
        "old": "remove",
        "new": "create",
        "back": "update",
        "calm": "update",
    }
    mix = items["mix"]
    assert [(t.provider_id, t.previous_position, t.position) for t in mix.tracks_moved] == [
        ("t5", 4, 0)
    ]
    assert [(t.provider_id, t.position) for t in mix.tracks_added] == [("t10", 5)]
    assert mix.tracks_removed == () and mix.track_count == 6
    gym = items["gym"]
    assert (gym.renamed, gym.previous_name, gym.name, gym.changed_fields) == (
        True,
        "Gym",
        "Gym 2",
        ("name",),
    )
    assert items["back"].restored and items["new"].playlist_id is None
    assert [t.provider_id for t in items["new"].tracks_added] == ["t11", "t12"]
    assert [(u.provider_id, u.title, u.fields) for u in plan.tracks_updated] == [
        ("t8", "Calmer", ("title",))
    ]
    assert (plan.created, plan.updated, plan.removed, plan.unchanged, plan.ok) == (1, 4, 1, 0, True)

    report = ctx.sync.run_once()
    assert_plan_matches(ctx, plan, report, lists)


def test_a_track_change_touches_the_playlists_that_show_it(
    library: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, provider = library
    # t2 is in "mix" and "gym"; only "gym" changes, with t2's new title.
    provider.set_playlist("gym", "Gym", [_t(2, title="Two!"), _t(6)])
    lists = _lists(ctx)
    plan = ctx.sync.plan()
    items = _by_id(plan)
    assert items["mix"].action == "touch" and items["gym"].action == "update"
    assert items["gym"].tracks_added == items["gym"].tracks_removed == ()
    assert plan.touched == 1 and plan.unchanged == 2  # old, calm
    report = ctx.sync.run_once()
    assert_plan_matches(ctx, plan, report, lists)


def test_an_unchanged_library_plans_nothing(
    library: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, _ = library
    plan = ctx.sync.plan()
    assert plan.changes_nothing and plan.unchanged == 4 and plan.providers == ("memory",)
    assert ctx.sync.run_once().unchanged == 4


def test_full_plans_every_playlist_as_an_update(
    library: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, _ = library
    plan = ctx.sync.plan(full=True)
    assert plan.updated == 4 and all(not p.tracks_added for p in plan.playlists)
    assert plan.updated == ctx.sync.run_once(full=True).updated


def test_a_failing_provider_is_reported_in_the_plan_and_nothing_raises(
    library: tuple[HarmonyContext, InMemoryProvider],
) -> None:
    ctx, provider = library
    provider.fail_on.add("*")
    plan = ctx.sync.plan()
    assert not plan.ok and "listing playlists failed" in plan.failed["memory"]
    with pytest.raises(UnknownProviderError):
        ctx.sync.plan("nope")


def test_rejected_items_are_counted_but_not_emitted(
    library: tuple[HarmonyContext, InMemoryProvider],
    harmony_events: RecordingEventLogger,
) -> None:
    ctx, provider = library
    provider.set_playlist("mix", "Mix", [_t(1), {"id": "bad", "title": None}])
    harmony_events.clear()
    plan = ctx.sync.plan()
    assert plan.rejected == 1 and plan.rejections[0].item_id == "bad"
    assert harmony_events.named("sync.item_rejected") == []


def test_the_delete_policy_is_in_the_plan(make_context: MakeContext) -> None:
    provider = InMemoryProvider(snapshots=False)
    provider.set_playlist("a", "A", [_t(1)])
    ctx = make_context({"memory": provider}, sync_removed_policy="delete")
    ctx.sync.run_once()
    provider.remove_playlist("a")
    plan = ctx.sync.plan()
    assert plan.removed_policy == "delete" and plan.removed == 1
    assert ctx.sync.run_once().removed == 1 and ctx.playlists.find("memory", "a") is None


def test_diff_tracks_handles_duplicates_and_replacements() -> None:
    def slots(ids: str) -> list[StoredSlot]:
        return [StoredSlot(i, i.upper()) for i in ids]

    def tracks(ids: str) -> list[ProviderTrack]:
        return [ProviderTrack(id=i, title=i.upper(), artists=["x"]) for i in ids]

    added, removed, _moved = diff_tracks(slots("abca"), tracks("aacbd"))
    assert Counter("abca") - Counter(t.provider_id for t in removed) + Counter(
        t.provider_id for t in added
    ) == Counter("aacbd")
    assert [t.provider_id for t in added] == ["d"] and removed == ()
    assert diff_tracks(slots(""), tracks("ab"))[0][1].position == 1
    assert [t.previous_position for t in diff_tracks(slots("ab"), tracks(""))[1]] == [0, 1]


PLAYLISTS = ["a", "b", "c"]
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from(PLAYLISTS),
            st.sampled_from(["N1", "N2"]),
            st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["x", "y"])), max_size=6),
        ),
        st.tuples(st.just("remove"), st.sampled_from(PLAYLISTS)),
        st.tuples(st.just("sync")),
    ),
    max_size=12,
)


@pytest.mark.parametrize("snapshots", [True, False])
def test_property_the_plan_always_equals_the_following_sync(
    make_context: MakeContext, snapshots: bool
) -> None:
    provider = InMemoryProvider(snapshots=snapshots)
    ctx = make_context({"memory": provider})

    @settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(steps=ops)
    def run(steps: list[tuple[Any, ...]]) -> None:
        provider.clear()
        with ctx.db.write() as conn:
            for table in (PlaylistTrackRow, PlaylistRow, TrackRow):
                conn.execute(delete(table))
        for step in [*steps, ("sync",)]:
            if step[0] == "set":
                provider.set_playlist(
                    step[1],
                    step[2],
                    [{"id": f"t{n}", "title": title, "artists": ["X"]} for n, title in step[3]],
                )
            elif step[0] == "remove":
                provider.remove_playlist(step[1])
            else:
                lists, stored = _lists(ctx), dump(ctx)
                plan = ctx.sync.plan()
                assert dump(ctx) == stored
                assert_plan_matches(ctx, plan, ctx.sync.run_once(), lists)

    run()
