"""ctx.sync.run_once on SQLite and PostgreSQL: create, skip, update, remove, reject, fail."""

from __future__ import annotations

import pytest

from harmony import HarmonyContext, NotFoundError, SyncFailed, UnknownProviderError
from harmony._cache import CallbackInvalidator
from harmony.testing import InMemoryProvider, ManualClock, RecordingEventLogger
from tests.sync.conftest import MakeContext, dump, track


def _provider(**kwargs: object) -> InMemoryProvider:
    provider = InMemoryProvider(**kwargs)  # type: ignore[arg-type]
    provider.set_playlist(
        "mix",
        "Morning mix",
        [track(1), track(2), track(1), track(3)],
        description="wake up",
        owner="ana",
    )
    provider.set_playlist("gym", "Gym", [track(4), track(5)])
    provider.set_playlist("empty", "Nothing yet", [])
    return provider


def _by_provider_id(ctx: HarmonyContext) -> dict[str, int]:
    return {
        p.provider_id: p.id for p in ctx.playlists.repository.list_page(status="all", limit=500)
    }


def test_first_sync_creates_playlists_with_ordered_tracks_and_duplicates(
    make_context: MakeContext,
) -> None:
    ctx = make_context({"memory": _provider()})
    report = ctx.sync.run_once()
    assert (report.created, report.updated, report.unchanged, report.removed) == (3, 0, 0, 0)
    assert report.rejected == 0 and report.providers == ("memory",)
    ids = _by_provider_id(ctx)
    mix = ctx.playlists.get(ids["mix"])
    assert [t.provider_id for t in mix.tracks] == ["t1", "t2", "t1", "t3"]
    assert [t.position for t in mix.tracks] == [0, 1, 2, 3]
    assert mix.tracks[0].id == mix.tracks[2].id  # one track row, two slots
    assert (mix.name, mix.description, mix.owner, mix.track_count) == (
        "Morning mix",
        "wake up",
        "ana",
        4,
    )
    assert mix.tracks[1].artists == ("Artist 2",) and mix.tracks[1].duration_ms == 2000
    assert ctx.tracks.count() == 5
    assert ctx.playlists.get(ids["empty"]).tracks == ()


@pytest.mark.parametrize("snapshots", [True, False], ids=["snapshot", "content-hash"])
def test_an_unchanged_resync_writes_nothing_and_invalidates_nothing(
    make_context: MakeContext,
    harmony_events: RecordingEventLogger,
    harmony_clock: ManualClock,
    snapshots: bool,
) -> None:
    provider = _provider(snapshots=snapshots)
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    ctx.playlists.list_page()  # something cached that an invalidation would drop
    before = dump(ctx)
    fetches = dict(provider.track_fetches)
    harmony_events.clear()
    harmony_clock.advance(60)
    report = ctx.sync.run_once()
    assert (report.created, report.updated, report.unchanged, report.removed) == (0, 0, 3, 0)
    assert report.invalidated == 0 and report.playlist_ids == ()
    assert dump(ctx) == before
    assert harmony_events.named("worker.playlists.cache.invalidate") == []
    if snapshots:  # same snapshot: the tracks are not even fetched
        assert provider.track_fetches == fetches
    assert ctx.cache is not None and len(ctx.cache) == 1


def test_a_renamed_playlist_gets_new_etags_on_list_and_detail(make_context: MakeContext) -> None:
    provider = _provider()
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    mix_id = _by_provider_id(ctx)["mix"]
    old_list, old_detail = ctx.playlists.list_page(), ctx.playlists.get(mix_id)
    gym_detail = ctx.playlists.get(_by_provider_id(ctx)["gym"])
    provider.rename("mix", "Evening mix")
    report = ctx.sync.run_once()
    assert (report.updated, report.unchanged, report.playlist_ids) == (1, 2, (mix_id,))
    new_list, new_detail = ctx.playlists.list_page(), ctx.playlists.get(mix_id)
    assert new_list.etag != old_list.etag and new_detail.etag != old_detail.etag
    assert new_detail.name == "Evening mix" and new_detail.version == old_detail.version + 1
    assert new_list.etag == ctx.playlists.repository.list_page().etag
    assert new_detail.etag == ctx.playlists.repository.get(mix_id).etag
    # Another playlist's detail entry was not touched.
    assert ctx.playlists.get(gym_detail.id).etag == gym_detail.etag
    assert report.invalidated == 2  # the list page and the mix detail


def test_a_metadata_only_change_with_the_same_snapshot_skips_the_track_fetch(
    make_context: MakeContext,
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1)], extra={"snapshot_id": "s1"})
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    provider.set_playlist("a", "A renamed", [track(1)], extra={"snapshot_id": "s1"})
    report = ctx.sync.run_once()
    assert report.updated == 1 and provider.track_fetches["a"] == 1
    detail = ctx.playlists.get(_by_provider_id(ctx)["a"])
    assert detail.name == "A renamed" and [t.provider_id for t in detail.tracks] == ["t1"]


def test_removed_playlists_are_marked_by_default(make_context: MakeContext) -> None:
    provider = _provider()
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    gym_id = _by_provider_id(ctx)["gym"]
    provider.remove_playlist("gym")
    report = ctx.sync.run_once()
    assert (report.removed, report.unchanged, report.playlist_ids) == (1, 2, (gym_id,))
    gym = ctx.playlists.get(gym_id)
    assert gym.status == "removed" and gym.removed_at is not None
    assert [t.provider_id for t in gym.tracks] == ["t4", "t5"]  # kept, as marked
    assert gym_id not in [p.id for p in ctx.playlists.list_page()]
    assert [p.id for p in ctx.playlists.list_page(status="removed")] == [gym_id]
    # It comes back when the provider has it again.
    provider.set_playlist("gym", "Gym", [track(4)])
    again = ctx.sync.run_once()
    assert again.updated == 1 and ctx.playlists.get(gym_id).status == "active"


def test_removed_playlists_are_deleted_with_the_delete_policy(make_context: MakeContext) -> None:
    provider = _provider()
    ctx = make_context({"memory": provider}, sync_removed_policy="delete")
    ctx.sync.run_once()
    gym_id = _by_provider_id(ctx)["gym"]
    ctx.playlists.get(gym_id)  # cached
    provider.remove_playlist("gym")
    assert ctx.sync.run_once().removed == 1
    with pytest.raises(NotFoundError):
        ctx.playlists.get(gym_id)
    assert ctx.tracks.count() == 5  # tracks stay in the library
    assert gym_id not in _by_provider_id(ctx).values()


def test_malformed_items_are_rejected_reported_and_do_not_abort_the_sync(
    make_context: MakeContext,
    harmony_events: RecordingEventLogger,
) -> None:
    provider = _provider()
    provider.set_playlist(
        "bad-tracks", "Some bad", [track(6), {"id": "t7", "title": ""}, None, track(8)]
    )
    provider.add_raw_playlist({"id": "no-name"})
    ctx = make_context({"memory": provider})
    report = ctx.sync.run_once()
    assert report.created == 4 and report.rejected == 3
    assert {(r.kind, r.item_id) for r in report.rejections} == {
        ("track", "t7"),
        ("track", None),
        ("playlist", "no-name"),
    }
    detail = ctx.playlists.get(_by_provider_id(ctx)["bad-tracks"])
    assert [t.provider_id for t in detail.tracks] == ["t6", "t8"]
    events = harmony_events.named("sync.item_rejected")
    assert len(events) == 3 and all(e["provider"] == "memory" and e["reason"] for e in events)
    run = harmony_events.named("sync.run")[-1]
    assert (run["status"], run["rejected_count"], run["created_count"]) == ("ok", 3, 4)


def test_a_rejected_playlist_is_not_taken_for_removed(make_context: MakeContext) -> None:
    provider = _provider()
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    provider.set_playlist("gym", "", [track(4)], extra={"name": None})  # now invalid
    report = ctx.sync.run_once()
    assert report.rejected == 1 and report.removed == 0
    assert ctx.playlists.get(_by_provider_id(ctx)["gym"]).status == "active"


def test_a_provider_failure_mid_sync_leaves_database_and_cache_as_before(
    make_context: MakeContext,
    harmony_events: RecordingEventLogger,
) -> None:
    provider = _provider()
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    ids = _by_provider_id(ctx)
    cached = (ctx.playlists.list_page().etag, ctx.playlists.get(ids["mix"]).etag)
    before = dump(ctx)
    provider.rename("mix", "Changed")
    provider.set_playlist("new", "New", [track(9), track(10)])
    provider.remove_playlist("empty")
    provider.fail_on.add("new")  # fails half way through its tracks
    harmony_events.clear()
    with pytest.raises(SyncFailed, match="injected") as info:
        ctx.sync.run_once()
    assert dump(ctx) == before
    assert ctx.cache is not None
    assert (ctx.playlists.list_page().etag, ctx.playlists.get(ids["mix"]).etag) == cached
    assert ctx.cache.stats().invalidated == 0
    assert harmony_events.named("worker.playlists.cache.invalidate") == []
    run = harmony_events.named("sync.run")[-1]
    assert run["status"] == "failed" and "injected" in run["error"]
    report = info.value.report
    assert report.failed == {"memory": run["error"]} and report.created == 0


def test_one_failing_provider_does_not_stop_the_others(make_context: MakeContext) -> None:
    good, bad = _provider(), InMemoryProvider("broken")
    bad.fail_on.add("*")
    ctx = make_context({"good": good, "broken": bad})
    with pytest.raises(SyncFailed) as info:
        ctx.sync.run_once()
    assert info.value.report.created == 3 and set(info.value.report.failed) == {"broken"}
    assert ctx.playlists.count() == 3


def test_updated_at_is_strictly_increasing_within_one_clock_tick(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    for n in range(20):
        provider.set_playlist(f"p{n}", f"P{n}", [track(n)])
    ctx = make_context({"memory": provider})  # the manual clock never moves here
    ctx.sync.run_once()
    first = [p.updated_at for p in ctx.playlists.list_page()]
    assert len(set(first)) == 20 and first == sorted(first)
    for n in range(0, 20, 2):
        provider.rename(f"p{n}", f"P{n}'")
    ctx.sync.run_once()
    second = {p.id: p.updated_at for p in ctx.playlists.list_page()}
    changed = sorted(t for t in second.values() if t not in first)
    assert len(changed) == 10 and min(changed) > max(first) and len(set(changed)) == 10


def test_a_track_changed_through_one_playlist_bumps_every_playlist_showing_it(
    make_context: MakeContext,
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1), track(2)])
    provider.set_playlist("b", "B", [track(2), track(3)])
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    ids = _by_provider_id(ctx)
    b_before = ctx.playlists.get(ids["b"])
    provider.set_playlist("a", "A", [track(1), track(2, title="Song 2 (Remastered)")])
    report = ctx.sync.run_once()
    assert set(report.playlist_ids) == {ids["a"], ids["b"]} and report.updated == 1
    b_after = ctx.playlists.get(ids["b"])
    assert b_after.tracks[0].title == "Song 2 (Remastered)" and b_after.etag != b_before.etag


def test_the_invalidator_runs_after_commit_with_each_id_once(make_context: MakeContext) -> None:
    provider = _provider()
    seen: list[frozenset[int]] = []
    holder: dict[str, HarmonyContext] = {}

    def invalidate(ids: frozenset[int]) -> int:
        # Called after commit: a fresh read already sees the new state.
        names = {p.name for p in holder["ctx"].playlists.repository.list_page()}
        assert "Renamed" in names or len(names) == 3
        seen.append(ids)
        return len(ids)

    ctx = make_context(
        {"memory": provider}, collaborators={"invalidator": CallbackInvalidator(invalidate)}
    )
    holder["ctx"] = ctx
    first = ctx.sync.run_once()
    assert seen == [frozenset(first.playlist_ids)] and len(first.playlist_ids) == 3
    provider.rename("mix", "Renamed")
    provider.rename("gym", "Renamed")
    second = ctx.sync.run_once()
    assert len(seen) == 2 and len(seen[1]) == 2 and second.invalidated == 2


def test_an_invalidator_that_raises_is_reported_and_the_sync_stands(
    make_context: MakeContext,
    harmony_events: RecordingEventLogger,
) -> None:
    def boom(ids: frozenset[int]) -> int:
        raise RuntimeError("cache cluster down")

    ctx = make_context(
        {"memory": _provider()}, collaborators={"invalidator": CallbackInvalidator(boom)}
    )
    report = ctx.sync.run_once()
    assert report.created == 3 and report.invalidated == 0
    event = harmony_events.named("worker.playlists.cache.invalidate")[-1]
    assert event["status"] == "error" and "cache cluster down" in event["error"]
    assert event["playlist_count"] == 3 and sorted(event["meta"]["playlist_ids"]) == sorted(
        report.playlist_ids
    )
    assert ctx.playlists.count() == 3


def test_an_unknown_provider_name_is_a_clear_error_and_writes_nothing(
    make_context: MakeContext,
) -> None:
    ctx = make_context({"memory": _provider()})
    with pytest.raises(UnknownProviderError, match=r"'spotify'.*registered: memory"):
        ctx.sync.run_once("spotify")
    assert ctx.playlists.count(status="all") == 0


def test_each_run_is_recorded_in_the_activity_log(make_context: MakeContext) -> None:
    ctx = make_context({"memory": _provider()})
    ctx.sync.run_once()
    entries = ctx.activity.list(type="sync.run")
    assert len(entries) == 1 and entries[0].status == "ok"
    assert entries[0].details["provider"] == "memory" and entries[0].details["created_count"] == 3
    assert "memory" in ctx.system.health().parts["sync"].data["last_sync"]


def test_progress_is_reported_per_playlist_and_per_phase(make_context: MakeContext) -> None:
    ctx = make_context({"memory": _provider()})
    seen: list[tuple[str, int, int, int]] = []
    ctx.sync.run_once(
        progress=lambda p: seen.append(
            (p.phase, p.playlists_seen, p.playlists_changed, p.tracks_fetched)
        )
    )
    assert seen == [
        ("fetch", 1, 1, 4),
        ("fetch", 2, 2, 6),
        ("fetch", 3, 3, 6),
        ("write", 3, 3, 6),
        ("done", 3, 3, 6),
    ]
