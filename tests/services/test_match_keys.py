"""The keys matching compares tracks by, and the rules on them (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harmony._services.match_keys import (
    KeyMaker,
    canonical_isrc,
    match_key,
    split_artists,
)
from harmony._services.match_rules import MatchRules


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("USRC17607839", "USRC17607839"),
        ("us-rc1-76-07839", "USRC17607839"),
        (" gb aye 06 01498 ", "GBAYE0601498"),
        ("N/A", None),
        ("", None),
        (None, None),
        ("USRC1760783", None),
        ("12RC17607839", None),
    ],
)
def test_isrcs_are_compared_in_canonical_form(raw: str | None, canonical: str | None) -> None:
    assert canonical_isrc(raw) == canonical


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Paint It Black - Remastered 2011", "paint it black"),
        ("Paint It, Black", "paint it black"),
        ("Yellow Submarine (2009 Mix)", "yellow submarine"),
        ("Déjà Vu (Radio Edit)", "deja vu"),
        ("Golden Hour (feat. Mira Sol)", "golden hour"),
        ("Run It Back ft. Kato Lane", "run it back"),
        ("Hotel California - Live at the Forum", "hotel california"),
        ("Song (From the Movie)", "song from the movie"),
        ("Part 2 - Mono", "part 2"),
    ],
)
def test_titles_lose_credits_and_recording_descriptions(title: str, key: str) -> None:
    assert match_key(title, ["A"], None, None, None).title == key


def test_artists_are_split_normalised_and_joined_by_the_credit() -> None:
    key = match_key(
        "Song (feat. Mira Sól & Bo)", ["The Kato Lane; Ada", "Cy feat. Di"], None, None, None
    )
    assert key.artists == ("kato lane", "ada", "cy", "di", "mira sol", "bo")
    assert key.artist == "kato lane"
    assert split_artists(["Tyler, The Creator"]) == ["tyler the creator"]  # commas stay


def test_recording_tags_come_from_title_and_album_and_a_remaster_is_only_marked() -> None:
    live = match_key("Song", ["A"], "MTV Unplugged", None, None)
    remaster = match_key("Song - 2011 Remaster", ["A"], None, None, None)
    assert live.tags == frozenset({"live"}) and not live.remaster
    assert remaster.tags == frozenset() and remaster.remaster


@given(
    st.text(max_size=40),
    st.lists(st.text(max_size=20), max_size=3),
    st.none() | st.text(max_size=20),
)
def test_the_key_maker_gives_what_match_key_gives(
    title: str, artists: list[str], album: str | None
) -> None:
    maker = KeyMaker()
    first = maker.key(title, artists, album, None, 1)
    again = maker.key(title, artists, album, None, 1)  # from its memory this time
    assert first == again == match_key(title, artists, album, None, 1)


def test_the_rules_explain_why_a_pair_does_not_match() -> None:
    rules = MatchRules(2000)
    a = match_key("Blue", ["Ada"], None, "USAAA1111111", 200_000)
    assert rules.judge(a, match_key("Blue", ["Ada"], None, "USBBB2222222", 200_000)).why_not == (
        "ISRCs differ (USAAA1111111 / USBBB2222222)"
    )
    assert rules.judge(a, match_key("Blue", ["Ada"], None, None, 202_500)).why_not == (
        "durations 2.5 s apart (tolerance 2.0 s)"
    )
    assert rules.judge(a, match_key("Blue (Live)", ["Ada"], None, None, 200_000)).why_not == (
        "editions differ (studio / live)"
    )
    assert rules.judge(a, match_key("Blues Song", ["Ada"], None, None, 200_000)).why_not == (
        "title similarity 57 < 88"
    )
    assert rules.judge(a, match_key("Blue", ["Bo"], None, None, 200_000)).why_not == (
        "artist similarity 0 < 85"
    )
    assert rules.fingerprint == "v1:tolerance=2000"


def test_two_equally_close_different_recordings_are_ambiguous() -> None:
    rules = MatchRules(2000)
    source = match_key("Down - Live", ["Ada"], None, None, None)
    twins = [
        (1, match_key("Down - Live", ["Ada"], None, None, 200_000)),
        (2, match_key("Down - Live", ["Ada"], None, None, 260_000)),
    ]
    assert rules.best(source, twins) is None
    copies = [
        (1, match_key("Down - Live", ["Ada"], None, None, 200_000)),
        (2, match_key("Down - Live", ["Ada"], None, None, 200_300)),
    ]
    best = rules.best(source, copies)
    assert best is not None and best[0] == 1  # the same recording twice: the lower id
