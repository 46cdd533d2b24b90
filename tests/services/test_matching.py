"""ctx.matching: ISRC first, then title, artists and duration; editions, credits, accents,
typos; the unmatched report; the match.run and match.override events."""

from __future__ import annotations

import pytest

from harmony.testing import RecordingEventLogger
from tests.services.matching_support import Library, song

SPOTIFY = [
    song("s-isrc", "Yellow Submarine", ["The Beatles"], 160_000, isrc="GBAYE0601498"),
    song("s-remaster", "Paint It Black - Remastered 2011", ["The Rolling Stones"], 202_000),
    song(
        "s-live", "Hotel California - Live", ["Eagles"], 430_000, album="Hell Freezes Over (Live)"
    ),
    song("s-feat", "Golden Hour (feat. Mira Sol)", ["Kato Lane", "Mira Sol"], 215_000),
    song("s-accent", "Déjà Vu", ["Chloé Dufresne"], 181_000),
    song("s-typo", "Midnight City Lights", ["Aurora Vale"], 240_000),
    song("s-artist-typo", "Northern Skies", ["Jonathan Whitfield"], 250_000),
    song("s-far", "Running Up That Hill", ["Kate Bush"], 298_000),
    song("s-missing", "A Song Nobody Has", ["Someone Else"], 200_000),
]
LOCAL = [
    song(
        "/m/beatles/yellow.mp3",
        "Yellow Submarine (2009 Mix)",
        ["Beatles"],
        159_000,
        isrc="gb-aye-06-01498",
    ),
    song("/m/stones/paint.flac", "Paint It, Black", ["Rolling Stones"], 203_000),
    song("/m/stones/paint-live.flac", "Paint It Black (Live)", ["Rolling Stones"], 202_000),
    song("/m/eagles/hotel-studio.mp3", "Hotel California", ["Eagles"], 391_000),
    song(
        "/m/eagles/hotel-live.mp3",
        "Hotel California (Live)",
        ["Eagles"],
        431_000,
        album="Hell Freezes Over",
    ),
    song("/m/kato/golden.mp3", "Golden Hour", ["Kato Lane feat. Mira Sol"], 214_500),
    song("/m/chloe/deja.ogg", "Deja Vu", ["Chloe Dufresne"], 181_400),
    song("/m/aurora/midnite.m4a", "Midnite City Lights", ["Aurora Vale"], 239_200),
    song("/m/jon/northern.mp3", "Northern Skies", ["Jonathon Whitfeld"], 250_900),
    song("/m/kate/hill.mp3", "Running Up That Hill", ["Kate Bush"], 303_000),
    song("/m/other/yellow.mp3", "Yellow Submarine", ["Some Cover Band"], 160_000),
]

EXPECTED = {
    "s-isrc": "/m/beatles/yellow.mp3",  # ISRC, spelt differently, title differs
    "s-remaster": "/m/stones/paint.flac",  # "- Remastered 2011", punctuation, "The"
    "s-live": "/m/eagles/hotel-live.mp3",  # the live recording, not the studio one
    "s-feat": "/m/kato/golden.mp3",  # credit in the title vs in the artist tag
    "s-accent": "/m/chloe/deja.ogg",
    "s-typo": "/m/aurora/midnite.m4a",
    "s-artist-typo": "/m/jon/northern.mp3",
    "s-far": None,  # 5 s longer: beyond the 2 s tolerance
    "s-missing": None,
}


@pytest.mark.parametrize(("spotify_id", "local_id"), sorted(EXPECTED.items()))
def test_each_track_gets_its_recording_or_none(
    library: Library, spotify_id: str, local_id: str | None
) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    assert lib.matched(spotify_id) == local_id


def test_a_run_reports_counts_and_each_match_its_method_score_and_reasons(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    report = lib.run()
    assert (report.source, report.target) == ("spotify", "local")
    assert (report.matched, report.unmatched, report.checked, report.changed) == (7, 2, 9, 7)
    assert report.catalogue_changed and report.confirmed == 0 and report.duration_ms > 0
    by_isrc = lib.ctx.matching.get(lib.id("spotify", "s-isrc"), "local")
    assert by_isrc is not None and (by_isrc.method, by_isrc.score, by_isrc.status) == (
        "isrc",
        100.0,
        "auto",
    )
    assert by_isrc.reasons[0] == "ISRC GBAYE0601498 on both"
    fuzzy = lib.ctx.matching.get(lib.id("spotify", "s-typo"), "local")
    assert fuzzy is not None and fuzzy.method == "fuzzy" and 88 <= fuzzy.score < 100
    assert any("midnite city lights" in reason for reason in fuzzy.reasons)


def test_two_known_isrcs_that_differ_never_match_however_alike_the_rest(library: Library) -> None:
    lib = library(
        [song("s1", "Same Song", ["Same Artist"], 200_000, isrc="USAAA1111111")],
        [
            song("l1", "Same Song", ["Same Artist"], 200_000, isrc="USBBB2222222"),
            song("l2", "Same Song", ["Same Artist"], 200_500),
        ],
    )
    lib.run()
    assert lib.matched("s1") == "l2"  # the one without an ISRC


def test_an_isrc_match_wins_over_a_closer_looking_fuzzy_one(library: Library) -> None:
    lib = library(
        [song("s1", "Blue", ["Ada"], 200_000, isrc="USAAA1111111")],
        [
            song("exact-text", "Blue", ["Ada"], 200_000),
            song("by-isrc", "Blue (Album Version)", ["Ada"], 201_000, isrc="USAAA1111111"),
        ],
    )
    lib.run()
    assert lib.matched("s1") == "by-isrc"


def test_a_duration_beyond_the_tolerance_does_not_match_even_by_isrc(library: Library) -> None:
    lib = library(
        [
            song("s1", "Blue", ["Ada"], 200_000, isrc="USAAA1111111"),
            song("s2", "Green", ["Ada"], 200_000),
        ],
        [
            song("l1", "Blue", ["Ada"], 203_000, isrc="USAAA1111111"),
            song("l2", "Green", ["Ada"], 202_001),
        ],
    )
    lib.run()
    assert (lib.matched("s1"), lib.matched("s2")) == (None, None)


def test_the_tolerance_is_a_setting(library: Library) -> None:
    lib = library(
        [song("s1", "Green", ["Ada"], 200_000)],
        [song("l1", "Green", ["Ada"], 204_000)],
        matching_duration_tolerance_ms=5000,
    )
    lib.run()
    assert lib.matched("s1") == "l1"


def test_an_unknown_duration_needs_a_near_exact_title_and_artist(library: Library) -> None:
    lib = library(
        [
            song("s1", "Green Light", ["Ada"], None),
            song("s2", "Midnight City Lights", ["Ada"], None),
        ],
        [
            song("l1", "Green Light", ["Ada"], 200_000),
            song("l2", "Midnite City Lights", ["Ada"], 240_000),
        ],
    )
    lib.run()
    assert (lib.matched("s1"), lib.matched("s2")) == ("l1", None)


def test_titles_naming_different_numbers_never_match_fuzzily(library: Library) -> None:
    lib = library(
        [song("s1", "Symphony No. 5", ["Ada"], 200_000)],
        [song("l1", "Symphony No. 6", ["Ada"], 200_000)],
    )
    lib.run()
    assert lib.matched("s1") is None


def test_the_same_title_by_another_artist_is_not_a_match(library: Library) -> None:
    lib = library(
        [song("s1", "Hallelujah", ["Leonard Cohen"], 280_000)],
        [song("l1", "Hallelujah", ["Jeff Buckley"], 280_500)],
    )
    lib.run()
    assert lib.matched("s1") is None


def test_the_unmatched_report_lists_each_track_with_its_closest_candidates(
    library: Library,
) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    report = {u.track.provider_id: u for u in lib.ctx.matching.unmatched("spotify", "local")}
    assert sorted(report) == ["s-far", "s-missing"]
    far = report["s-far"].candidates
    assert far[0].track.provider_id == "/m/kate/hill.mp3"
    assert far[0].why_not == "durations 5.0 s apart (tolerance 2.0 s)"
    assert far[0].score == 100.0 and far[0].track.provider == "local"
    assert all(c.track.provider == "local" for c in report["s-missing"].candidates)
    assert len(lib.ctx.matching.unmatched("spotify", "local", limit=1)) == 1
    assert [
        u.track.provider_id for u in lib.ctx.matching.unmatched("spotify", "local", offset=1)
    ] == ["s-missing"]


def test_runs_emit_match_run_with_the_counts(
    library: Library, harmony_events: RecordingEventLogger
) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    lib.run()
    first, second = harmony_events.named("match.run")
    assert (
        first["status"],
        first["checked_count"],
        first["matched_count"],
        first["unmatched_count"],
    ) == ("ok", 9, 7, 2)
    assert (second["checked_count"], second["changed_count"], second["catalogue_changed"]) == (
        0,
        0,
        False,
    )
    assert first["source"] == "spotify" and first["target"] == "local" and first["duration_ms"] > 0


def test_get_many_returns_the_matches_of_a_whole_playlist(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    ids = [lib.id("spotify", s["id"]) for s in SPOTIFY]
    found = lib.ctx.matching.get_many(ids, "local")
    assert len(found) == 7 and all(found[i].source_track_id == i for i in found)
    assert set(found) == {i for i in ids if lib.ctx.matching.get(i, "local") is not None}


def test_a_run_needs_two_pooled_connections_at_most(library: Library) -> None:
    # PostgreSQL: the pair lock and the catalogue-key locks share one session, beside the
    # connection that writes; a third would wait for the pool and time out.
    lib = library(SPOTIFY, LOCAL, pool_size=2, max_overflow=0, pool_timeout=2)
    assert lib.run().matched == 7
    assert lib.ctx.db.checked_out_connections() == 0
