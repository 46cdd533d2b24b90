"""Incremental runs: only new or changed source tracks are looked at; a failed lookup is
retried only when the target's catalogue changed; the rules' fingerprint re-checks all."""

from __future__ import annotations

from sqlalchemy import func, select

from harmony import HarmonyContext
from harmony._db.models import MatchCheckRow, TrackMatchKeyRow, TrackMatchRow
from tests.services.matching_support import Library, song

SPOTIFY = [
    song(f"s{n}", f"Song Number {word}", ["Ada Lovelace"], 200_000 + n * 10_000)
    for n, word in enumerate(("One", "Two", "Three", "Four"), 1)
]
LOCAL = [
    song(f"l{n}", f"Song Number {word}", ["Ada Lovelace"], 200_500 + n * 10_000)
    for n, word in enumerate(("One", "Two", "Three"), 1)
]


def _count(ctx: HarmonyContext, table: type) -> int:
    with ctx.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_re_run_with_nothing_changed_looks_at_nothing_and_writes_nothing(
    library: Library,
) -> None:
    lib = library(SPOTIFY, LOCAL)
    first = lib.run()
    assert (first.checked, first.matched, first.unmatched) == (4, 3, 1)
    with lib.ctx.db.connect() as conn:
        before = conn.execute(select(MatchCheckRow.source_track_id, MatchCheckRow.checked_at)).all()
    lib.clock.advance(60)
    second = lib.run()
    assert (second.checked, second.changed, second.catalogue_changed) == (0, 0, False)
    assert (second.matched, second.unmatched) == (3, 1)
    with lib.ctx.db.connect() as conn:
        assert (
            conn.execute(select(MatchCheckRow.source_track_id, MatchCheckRow.checked_at)).all()
            == before
        )


def test_a_failed_lookup_is_not_retried_until_the_target_catalogue_changes(
    library: Library,
) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    # A new source track: only it is looked at; s4 (unmatched) is not tried again.
    lib.sync(spotify=[*SPOTIFY, song("s5", "Brand New", ["Ada Lovelace"], 100_000)])
    report = lib.run()
    assert (report.checked, report.catalogue_changed) == (1, False)
    # The local catalogue gains s4's file: now the unmatched ones are tried again.
    lib.sync(local=[*LOCAL, song("l4", "Song Number Four", ["Ada Lovelace"], 240_300)])
    report = lib.run()
    assert report.catalogue_changed and report.checked == 2  # s4 and s5, the unmatched
    assert (lib.matched("s4"), lib.matched("s5")) == ("l4", None)


def test_a_changed_source_track_is_matched_again_and_only_it(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    changed = [*SPOTIFY]
    changed[0] = song("s1", "Song Number Three", ["Ada Lovelace"], 230_000)  # now s3's twin
    lib.sync(spotify=changed)
    report = lib.run()
    assert (report.checked, report.changed) == (1, 1)
    assert lib.matched("s1") == "l3"


def test_a_changed_target_track_re_checks_the_sources_matched_to_it(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    moved = [*LOCAL]
    moved[1] = song("l2", "Song Number Two", ["Ada Lovelace"], 260_000)  # now far too long
    lib.sync(local=moved)
    report = lib.run()
    assert report.catalogue_changed and report.checked == 2  # s2 (its target changed), s4
    assert lib.matched("s2") is None and lib.matched("s1") == "l1"


def test_a_new_target_track_with_the_same_isrc_replaces_a_fuzzy_match(library: Library) -> None:
    lib = library(
        [song("s1", "Blue", ["Ada"], 200_000, isrc="USAAA1111111")],
        [song("l1", "Blue", ["Ada"], 200_000)],
    )
    lib.run()
    assert lib.matched("s1") == "l1"
    lib.sync(
        local=[
            song("l1", "Blue", ["Ada"], 200_000),
            song("l2", "Blue (Mono)", ["Ada"], 201_000, isrc="USAAA1111111"),
        ]
    )
    report = lib.run()
    assert report.checked == 1 and lib.matched("s1") == "l2"


def test_a_new_tolerance_re_checks_every_automatic_match(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    with HarmonyContext(
        lib.ctx.settings.model_copy(update={"matching_duration_tolerance_ms": 100}), clock=lib.clock
    ) as strict:
        report = strict.matching.run("spotify", "local")
    assert report.checked == 4 and report.matched == 0


def test_keys_are_computed_once_and_again_only_for_changed_tracks(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    assert _count(lib.ctx, TrackMatchKeyRow) == 7
    with lib.ctx.db.connect() as conn:
        before = {
            r[0]: r[1]
            for r in conn.execute(select(TrackMatchKeyRow.track_id, TrackMatchKeyRow.title))
        }
    changed = [*LOCAL]
    changed[0] = song("l1", "Song Number Uno", ["Ada Lovelace"], 210_500)
    lib.sync(local=changed)
    lib.run()
    with lib.ctx.db.connect() as conn:
        after = {
            r[0]: r[1]
            for r in conn.execute(select(TrackMatchKeyRow.track_id, TrackMatchKeyRow.title))
        }
    assert {k for k in after if after[k] != before[k]} == {lib.id("local", "l1")}
    assert lib.matched("s1") is None


def test_matches_of_deleted_tracks_go_with_them(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    assert _count(lib.ctx, TrackMatchRow) == 3
    with lib.ctx.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM playlist_tracks")
        conn.exec_driver_sql("DELETE FROM tracks WHERE provider = 'local'")
    assert _count(lib.ctx, TrackMatchRow) == 0
    report = lib.run()
    assert report.matched == 0 and report.unmatched == 4


def test_a_confirmed_pair_counts_and_one_file_may_serve_two_sources(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.ctx.matching.confirm(lib.id("spotify", "s4"), lib.id("local", "l1"))
    report = lib.run()
    assert (report.matched, report.confirmed) == (4, 1)
    assert lib.matched("s4") == "l1" and lib.matched("s1") == "l1"  # a file may serve two
