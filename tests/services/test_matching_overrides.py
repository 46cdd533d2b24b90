"""ctx.matching.confirm / reject: hand-set pairs survive re-runs and re-syncs; a rejected
pair is never proposed again."""

from __future__ import annotations

from harmony.testing import RecordingEventLogger
from tests.services.matching_support import Library, song

SPOTIFY = [
    song("s1", "Blue Monday", ["New Order"], 448_000),
    song("s2", "Temptation", ["New Order"], 420_000),
]
LOCAL = [
    song("l-blue", "Blue Monday", ["New Order"], 448_200),
    song("l-blue-88", "Blue Monday '88", ["New Order"], 449_000),
    song("l-temptation", "Temptation", ["New Order"], 421_000),
    song("l-other", "Something Else", ["New Order"], 300_000),
]


def test_a_confirmed_pair_is_the_match_and_survives_re_runs_and_re_syncs(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    assert lib.matched("s1") == "l-blue"
    confirmed = lib.ctx.matching.confirm(lib.id("spotify", "s1"), lib.id("local", "l-other"))
    assert (confirmed.status, confirmed.method, confirmed.score) == ("confirmed", "manual", 100.0)
    assert lib.matched("s1") == "l-other"
    lib.run()
    assert lib.matched("s1") == "l-other"
    # The source track changes at the provider (a re-sync writes it again), so does the
    # target's catalogue: the confirmed pair stays.
    lib.sync(
        spotify=[song("s1", "Blue Monday - 2015 Remaster", ["New Order"], 447_000), SPOTIFY[1]],
        local=[*LOCAL, song("l-new", "Blue Monday", ["New Order"], 447_000)],
    )
    report = lib.run()
    assert report.checked >= 1 and report.confirmed == 1
    match = lib.ctx.matching.get(lib.id("spotify", "s1"), "local")
    assert match is not None and match.status == "confirmed"
    assert lib.matched("s1") == "l-other"


def test_confirming_another_target_replaces_the_match_in_use(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    s1 = lib.id("spotify", "s1")
    lib.ctx.matching.confirm(s1, lib.id("local", "l-blue-88"))
    lib.ctx.matching.confirm(s1, lib.id("local", "l-blue"))
    assert lib.matched("s1") == "l-blue"
    assert len(lib.ctx.matching.get_many([s1], "local")) == 1


def test_a_rejected_pair_is_never_proposed_again(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    lib.run()
    s1, blue = lib.id("spotify", "s1"), lib.id("local", "l-blue")
    rejected = lib.ctx.matching.reject(s1, blue)
    assert (rejected.status, rejected.method) == ("rejected", "fuzzy")
    assert lib.ctx.matching.get(s1, "local") is None  # until the next run looks again
    report = lib.run()
    assert report.checked == 1
    assert lib.matched("s1") is None  # "Blue Monday '88" is not close enough either
    # Re-synced, re-run, the catalogue changed: still never that pair.
    lib.sync(
        spotify=[song("s1", "Blue Monday", ["New Order"], 448_100), SPOTIFY[1]],
        local=[*LOCAL, song("l-later", "Temptation (Live)", ["New Order"], 500_000)],
    )
    lib.run()
    assert lib.matched("s1") is None
    candidates = lib.ctx.matching.unmatched("spotify", "local")[0].candidates
    assert blue not in [c.track.id for c in candidates]


def test_after_a_reject_the_next_run_proposes_the_next_best(library: Library) -> None:
    lib = library(
        [song("s1", "Blue", ["Ada"], 200_000)],
        [song("l1", "Blue", ["Ada"], 200_000), song("l2", "Blue", ["Ada"], 201_000)],
    )
    lib.run()
    assert lib.matched("s1") == "l1"  # the closer duration
    lib.ctx.matching.reject(lib.id("spotify", "s1"), lib.id("local", "l1"))
    lib.run()
    assert lib.matched("s1") == "l2"


def test_a_confirmed_pair_that_was_rejected_before_becomes_the_match(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    s1, blue = lib.id("spotify", "s1"), lib.id("local", "l-blue")
    lib.ctx.matching.reject(s1, blue)
    lib.ctx.matching.confirm(s1, blue)
    lib.run()
    assert lib.matched("s1") == "l-blue"


def test_overrides_emit_match_override(
    library: Library, harmony_events: RecordingEventLogger
) -> None:
    lib = library(SPOTIFY, LOCAL)
    s1, blue, other = lib.id("spotify", "s1"), lib.id("local", "l-blue"), lib.id("local", "l-other")
    lib.ctx.matching.confirm(s1, other)
    lib.ctx.matching.reject(s1, blue)
    events = harmony_events.named("match.override")
    assert [
        (e["source_track_id"], e["target_track_id"], e["target"], e["status"]) for e in events
    ] == [
        (s1, other, "local", "confirmed"),
        (s1, blue, "local", "rejected"),
    ]


def test_overrides_of_a_pair_work_in_both_directions(library: Library) -> None:
    lib = library(SPOTIFY, LOCAL)
    s1, blue = lib.id("spotify", "s1"), lib.id("local", "l-blue")
    lib.ctx.matching.confirm(blue, s1)  # local -> spotify is a pair of its own
    lib.ctx.matching.run("local", "spotify")
    back = lib.ctx.matching.get(blue, "spotify")
    assert back is not None and (back.target_track_id, back.status) == (s1, "confirmed")
    assert lib.ctx.matching.get(s1, "local") is None
