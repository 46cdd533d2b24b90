"""Edge cases of the sync and the reads around it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from harmony import HarmonyError, InvalidInputError, NotFoundError
from harmony.providers import MpdSliceProvider, coerce_track
from harmony.testing import InMemoryProvider
from tests.sync.conftest import MakeContext, track


@pytest.mark.parametrize("stamp", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_an_added_at_without_a_utc_equivalent_rejects_the_track_not_the_sync(
    make_context: MakeContext, stamp: str
) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1), track(2, added_at=stamp), track(3)])
    ctx = make_context({"memory": provider})
    report = ctx.sync.run_once()
    assert (report.created, report.rejected) == (1, 1)
    assert "out of range" in report.rejections[0].reason
    detail = ctx.playlists.get(report.playlist_ids[0])
    assert [t.provider_id for t in detail.tracks] == ["t1", "t3"]


def test_added_at_is_stored_in_utc_whatever_its_offset(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1, added_at="2024-05-01T12:00:00+02:00")])
    ctx = make_context({"memory": provider})
    (playlist_id,) = ctx.sync.run_once().playlist_ids
    added = ctx.playlists.get(playlist_id).tracks[0].added_at
    assert added is not None and added.isoformat() == "2024-05-01T10:00:00+00:00"


def test_an_unknown_release_year_is_dropped_not_the_track() -> None:
    for raw in ("0000", "0000-00-00", 0, 12345):
        checked = coerce_track({"id": "x", "title": "T", "year": raw})
        assert not isinstance(checked, type(None)) and getattr(checked, "year", "rejected") is None


def test_a_half_emoji_in_an_mpd_slice_rejects_that_playlist_only(
    make_context: MakeContext, tmp_path: Path
) -> None:
    good = {
        "name": "Fine",
        "pid": 1,
        "num_tracks": 1,
        "tracks": [
            {"pos": 0, "track_uri": "spotify:track:a", "track_name": "A", "artist_name": "X"}
        ],
    }
    bad = {"name": "Broken \ud83c", "pid": 2, "num_tracks": 0, "tracks": []}
    path = tmp_path / "slice.json"
    path.write_text(json.dumps({"info": {}, "playlists": [good, bad]}), encoding="ascii")
    ctx = make_context({"mpd": MpdSliceProvider(path)})
    report = ctx.sync.run_once()
    assert (report.created, report.rejected) == (1, 1)


def test_unchanged_never_counts_removed_or_touched_playlists(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1)])
    provider.set_playlist("b", "B", [track(1), track(2)])
    provider.set_playlist("c", "C", [track(2)])
    ctx = make_context({"memory": provider})
    ctx.sync.run_once()
    provider.remove_playlist("b")  # removed in the same run as ...
    provider.set_playlist("a", "A", [track(1, title="Song 1 (Live)")])  # ... a retitle b shows
    report = ctx.sync.run_once()
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 1)
    provider.set_playlist("a", "A", [track(2, title="Song 2 (Remix)")])  # touches c
    again = ctx.sync.run_once()
    assert again.unchanged == 0 and again.updated == 1 and len(again.playlist_ids) >= 2


def test_a_full_sync_rewrites_unchanged_playlists(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1)])
    ctx = make_context({"memory": provider})
    (playlist_id,) = ctx.sync.run_once().playlist_ids
    before = ctx.playlists.get(playlist_id)
    assert ctx.sync.run_once().unchanged == 1
    report = ctx.sync.run_once(full=True)
    assert (report.updated, report.unchanged) == (1, 0)
    after = ctx.playlists.get(playlist_id)
    assert after.version == before.version + 1 and after.etag != before.etag


def test_a_detail_read_never_pairs_an_old_etag_with_new_tracks(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1), track(2)])
    ctx = make_context({"memory": provider}, cache_enabled=False)
    (playlist_id,) = ctx.sync.run_once().playlist_ids
    armed = [True]

    def sync_between_the_two_reads(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if armed[0] and "FROM playlists" in statement and "playlist_tracks" not in statement:
            armed[0] = False
            provider.set_playlist("a", "A", [track(n) for n in range(3, 8)])
            worker = threading.Thread(target=ctx.sync.run_once)  # commits in between
            worker.start()
            worker.join()

    event.listen(ctx.db.engine, "after_cursor_execute", sync_between_the_two_reads)
    try:
        detail = ctx.playlists.get(playlist_id)
    finally:
        event.remove(ctx.db.engine, "after_cursor_execute", sync_between_the_two_reads)
    assert not armed[0]  # the sync really ran between the reads
    assert len(detail.tracks) == detail.track_count == 2 and detail.version == 1
    assert ctx.playlists.get(playlist_id).version == 2


def test_bad_ids_and_argument_types_are_clear_errors(make_context: MakeContext) -> None:
    ctx = make_context({"memory": InMemoryProvider()})
    with pytest.raises(NotFoundError):
        ctx.tracks.get(2**63)
    with pytest.raises(InvalidInputError, match="track ids are positive integers"):
        ctx.tracks.get("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="sources must be a list"):
        ctx.search.tracks("song", sources=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="provider must be a provider name"):
        ctx.sync.run_once(["memory"])  # type: ignore[arg-type]


def test_a_closed_context_refuses_cached_reads_too(make_context: MakeContext) -> None:
    provider = InMemoryProvider()
    provider.set_playlist("a", "A", [track(1)])
    ctx = make_context({"memory": provider})
    (playlist_id,) = ctx.sync.run_once().playlist_ids
    ctx.playlists.get(playlist_id)
    ctx.playlists.list_page()
    assert ctx.cache is not None and len(ctx.cache) == 2
    ctx.close()
    assert len(ctx.cache) == 0
    with pytest.raises(HarmonyError, match="closed"):
        ctx.playlists.get(playlist_id)
    with pytest.raises(HarmonyError, match="closed"):
        ctx.playlists.list_page()
