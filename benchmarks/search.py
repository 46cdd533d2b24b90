"""Track search over a 1,000,000-track local library, on SQLite and PostgreSQL.

    HARMONY_TEST_POSTGRES_URL=postgresql+psycopg://... python benchmarks/search.py [--write]

The library: ``--size`` (1,000,000) distinct tracks, loaded into a fresh, migrated
database with bulk SQL (``benchmarks/_bulk.py``: ``COPY`` on PostgreSQL, ``executemany``
on SQLite; the same ``search_key`` the sync writes) with the candidate index of migration
``0006`` dropped, then built once from the loaded rows (``ctx.search.ensure_index()``, what
the migration does for an existing library). A sync through provider objects, or keeping
the index row by row, would take longer than everything measured here. The metadata is
generated to look like a real library: titles of 1-5 words drawn from a vocabulary of
``--words`` (3,000 per 100,000 tracks, growing with the square root of the size) words with a
Zipf law (a few dozen real, common song words such as "love", "night", "you" at the head,
invented words in the tail, a few percent of them accented), ``--artists`` (5,000 per 100,000 tracks) artists
(people with accented names among them, and bands) whose popularity also follows a power
law, albums of 8-14 tracks with a release year, "(feat. X)" credits (X also among the
track's artists), and editions of earlier tracks: "- Live" (on a live album),
"- 2011 Remaster" / "- Remastered 2009" (on the album's remaster, with the remaster's
year), a few "- Acoustic" and "- X Remix", and the same recording again on a compilation.

Timed: ``ctx.search.tracks(query, sources=["local"], limit=20)`` for a mix of
``--per-kind`` (30) queries of each kind below, shuffled (the same queries, in the same
order, on each backend), after a short untimed warm-up:

* title words: 1-4 consecutive words of a track's title;
* title + artist: 1-3 title words and the artist's last name;
* typo: like the two above, one word of 5+ letters misspelt (a letter dropped, doubled,
  swapped with its neighbour or replaced);
* accent-free: words of an accented title or artist typed without the accents;
* feat: title words, "feat" and the featured artist's last name;
* live / remaster: title words of a live or remastered edition and "live" /
  "remaster" (some "2011 remaster");
* year: title words and the track's release year;
* common word: one of the 40 most frequent words, each matching thousands of tracks.

Reported per backend: p50, p90, p99 and max of the wall time of each call, p50 / p90 of
its CPU time (the calling thread's), of ``SearchResult.total`` (candidates ranked) and of
the rows whose ``search_key`` contains any / every query word (counted once, untimed, on
the first backend). A second, untimed pass over the same queries splits each call into the
SQL pre-filter, building the ``Track`` models of its rows, scoring (``ranking.score``),
building the ``SearchHit`` models, and the rest (query preparation, sorting, the
``SearchResult``, the event), by wrapping those functions (a few microseconds of overhead
per call; the figures of the timed pass are unwrapped).

Ranking sanity (reported, never fatal), on ``--sanity`` (60) tracks: the full title and
artist should find that track first (hit@1; "or equivalent" also counts a track with the
same title and artists first, a compilation copy or a title the artist recorded twice);
the same for accent-free and misspelt queries (hit@1 and hit@5); and for a song with an
original, a live and a remastered version, "title artist" should rank the original first,
"title artist live" the live one and "title artist remaster" the remaster.

SQLite runs on a file in a temporary folder, PostgreSQL in a temporary schema (dropped
afterwards) of ``--postgres`` / ``$HARMONY_TEST_POSTGRES_URL`` (skipped when neither is set).
``--profile DIR`` profiles (cProfile) the slowest queries of each backend in an extra pass
and prints the top entries. ``--write`` replaces (or appends) the "Track search" section of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import math
import os
import pstats
import random
import re
import statistics
import sys
import textwrap
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _bulk import index_dropped, load_tracks
from _report import (
    command_line,
    machine,
    postgres_settings,
    sqlite_settings,
    write_section,
)
from sqlalchemy import and_, func, literal, or_, select

from harmony import HarmonyContext, HarmonySettings
from harmony._db.candidate_index import drop_candidate_index
from harmony._db.models import TrackRow

SCRIPT = "benchmarks/search.py"
SECTION = f"## Track search (`{SCRIPT}`)"
PROVIDER = "bench"
LIMIT = 20
SOURCES = ["local"]

#: The issue's target (at 1,000,000 tracks).
P50_SQLITE_MS = 20.0

# -- vocabulary ------------------------------------------------------------------------

#: The head of the title vocabulary, most frequent first (Zipf rank 1, 2, ...).
COMMON_WORDS = [
    "love",
    "you",
    "the",
    "me",
    "my",
    "night",
    "heart",
    "baby",
    "time",
    "girl",
    "world",
    "life",
    "dream",
    "fire",
    "light",
    "home",
    "down",
    "blue",
    "rain",
    "dance",
    "summer",
    "gold",
    "sun",
    "moon",
    "star",
    "road",
    "river",
    "tonight",
    "forever",
    "wild",
    "young",
    "free",
    "city",
    "one",
    "little",
    "again",
    "stay",
    "run",
    "alone",
    "never",
    "beautiful",
    "crazy",
    "sweet",
    "true",
    "black",
    "hold",
    "lost",
]
#: Real accented words, placed in the vocabulary's middle ranks.
ACCENTED_WORDS = [
    "café",
    "corazón",
    "canción",
    "mañana",
    "niño",
    "señorita",
    "fiancé",
    "naïve",
    "über",
    "déjà",
    "été",
    "amour",
    "cœur",
    "mélodie",
    "rêve",
    "chérie",
    "árbol",
    "bésame",
    "música",
    "días",
    "adiós",
    "sueño",
    "pájaro",
    "ça",
    "fête",
    "même",
    "où",
    "noël",
    "père",
    "mère",
    "fräulein",
    "schön",
    "straße",
    "mädchen",
    "för",
    "kärlek",
    "så",
    "ånga",
    "mörk",
    "søster",
    "ljós",
    "hjarta",
    "żegnaj",
    "miłość",
    "jaś",
]
_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cr",
    "dr",
    "fl",
    "gr",
    "kl",
    "pl",
    "pr",
    "st",
    "tr",
    "sh",
    "ch",
    "th",
]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ou"]
_CODAS = ["", "", "", "n", "r", "s", "l", "m", "t", "nd", "st", "x"]
_ACCENTS = {"a": "áàâä", "e": "éèêë", "i": "íï", "o": "óôöø", "u": "úüù", "n": "ñ", "c": "ç"}

FIRST_NAMES = [
    "James",
    "John",
    "Robert",
    "Michael",
    "David",
    "William",
    "Mary",
    "Patricia",
    "Linda",
    "Barbara",
    "Elizabeth",
    "Jennifer",
    "Maria",
    "Susan",
    "Carlos",
    "Juan",
    "Luis",
    "Ana",
    "Sofia",
    "Lucia",
    "Marco",
    "Luca",
    "Giulia",
    "Anna",
    "Emma",
    "Olivia",
    "Noah",
    "Liam",
    "Mia",
    "Lena",
    "Jonas",
    "Felix",
    "Nina",
    "Ivan",
    "Olga",
    "Yuki",
    "Kenji",
    "Ravi",
    "Priya",
    "Omar",
    "Leila",
    "Kofi",
    "Amara",
    "Sam",
    "Alex",
    "Max",
    "Ella",
    "Ruby",
    "Grace",
    "Jack",
    "Harry",
    "Oscar",
    "Leo",
    "Theo",
    "Ada",
    "Iris",
    "Nora",
    "Hugo",
    "Elena",
    "Paul",
    "José",
    "Zoë",
    "Renée",
    "Chloé",
    "André",
    "Søren",
    "Łukasz",
    "Agnès",
    "Joaquín",
    "Inés",
    "Björn",
    "Åsa",
    "Thérèse",
    "Héloïse",
    "François",
    "Mónica",
    "Jürgen",
    "Dvořák",
    "Ólafur",
    "Sinéad",
    "Beyoncé",
    "Rosalía",
    "Jõao",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Turner",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Morris",
    "Rossi",
    "Bianchi",
    "Romano",
    "Costa",
    "Silva",
    "Santos",
    "Pereira",
    "Kowalski",
    "Novak",
    "Horvat",
    "Petrov",
    "Ivanova",
    "Tanaka",
    "Sato",
    "Suzuki",
    "Kim",
    "Lee",
    "Park",
    "Chen",
    "Wang",
    "Singh",
    "Patel",
    "Khan",
    "Okafor",
    "Mensah",
    "Diallo",
    "Núñez",
    "Gómez",
    "Müller",
    "Ødegaard",
    "Sigurðsson",
    "Nováková",
    "Fernández",
    "Béranger",
    "Jiménez",
    "Løvland",
    "Björklund",
    "Ó'Connor",
    "Šimić",
    "Çelik",
    "Öztürk",
    "Fauré",
    "Brontë",
    "Zúñiga",
    "Lefèvre",
]
BAND_SUFFIXES = [
    "Lights",
    "Boys",
    "Kings",
    "Riders",
    "Machine",
    "Club",
    "Collective",
    "Brothers",
    "Sisters",
    "Band",
    "Echoes",
    "Wolves",
]


def _fold(text_: str) -> str:
    """``text_`` without accents (what someone types on a plain keyboard)."""
    folded = unicodedata.normalize(
        "NFKD", text_.translate(str.maketrans("øØłŁæÆœŒðß", "oOlLaAoOds"))
    )
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def _accented(text_: str) -> bool:
    return _fold(text_) != text_


def make_vocabulary(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct words, most frequent first: the common words, then invented ones
    (4% of them accented) with the real accented words spread over ranks 200-1,000."""
    words = list(COMMON_WORDS)
    seen = set(words) | set(ACCENTED_WORDS)
    invented: list[str] = []
    while len(words) + len(invented) + len(ACCENTED_WORDS) < size:
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.choice((1, 2, 2, 3)))
        )
        word += rng.choice(_CODAS)
        if len(word) < 3 or word in seen:
            continue
        if rng.random() < 0.04:
            spots = [i for i, ch in enumerate(word) if ch in _ACCENTS]
            if spots:
                i = rng.choice(spots)
                word = word[:i] + rng.choice(_ACCENTS[word[i]]) + word[i + 1 :]
        seen.add(word)
        invented.append(word)
    words += invented
    for word in ACCENTED_WORDS:
        words.insert(rng.randrange(200, min(1_000, len(words))), word)
    return words[:size]


class Zipf:
    """Draws items with weight 1 / (rank + offset) ** s."""

    def __init__(self, items: Sequence[Any], s: float, offset: float, rng: random.Random) -> None:
        self.items = list(items)
        self.cum = list(
            itertools.accumulate(1.0 / (r + offset) ** s for r in range(1, len(items) + 1))
        )
        self.rng = rng

    def __call__(self, k: int = 1) -> list[Any]:
        return self.rng.choices(self.items, cum_weights=self.cum, k=k)


# -- the library -----------------------------------------------------------------------


@dataclass
class Library:
    tracks: list[dict[str, Any]]
    playlists: list[list[dict[str, Any]]]
    words: list[str]
    #: track index -> (kind, original's index) for editions and compilation copies
    editions: dict[int, tuple[str, int]] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.editions.values() if k == kind)


def make_artists(count: int, rng: random.Random, words: list[str]) -> list[str]:
    names: set[str] = set()
    result: list[str] = []
    while len(result) < count:
        roll = rng.random()
        if roll < 0.6:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        elif roll < 0.8:
            name = f"The {rng.choice(words[20:1500]).title()} {rng.choice(BAND_SUFFIXES)}"
        else:
            name = " ".join(w.title() for w in rng.sample(words[40:2500], rng.choice((1, 2, 2))))
        if name not in names:
            names.add(name)
            result.append(name)
    rng.shuffle(result)  # popularity must not follow the kind of name
    return result


def _title(draw: Zipf, rng: random.Random) -> str:
    n = rng.choices((1, 2, 3, 4, 5), weights=(20, 35, 25, 13, 7))[0]
    picked: list[str] = []
    for word in draw(n * 2):
        if word not in picked:
            picked.append(word)
        if len(picked) == n:
            break
    return " ".join(w.capitalize() for w in picked)


def make_library(playlists: int, per_playlist: int, args: argparse.Namespace) -> Library:
    """``playlists`` x ``per_playlist`` distinct tracks, each in exactly one playlist."""
    rng = random.Random(args.seed)
    words = make_vocabulary(args.words, rng)
    word = Zipf(words, 1.0, 2.7, rng)
    artists = make_artists(args.artists, rng, words)
    artist = Zipf(artists, 0.8, 10.0, rng)
    total = playlists * per_playlist
    tracks: list[dict[str, Any]] = []
    editions: dict[int, tuple[str, int]] = {}
    originals: list[int] = []
    is_original: set[int] = set()

    def add(
        title: str, names: list[str], album: str, year: int, origin: tuple[str, int] | None
    ) -> None:
        i = len(tracks)
        tracks.append(
            {
                "id": f"trk{i:07d}",
                "title": title,
                "artists": names,
                "album": album,
                "duration_ms": rng.randrange(90_000, 420_000),
                "isrc": f"XX{i:010d}",
                "year": year,
            }
        )
        if origin is None:
            originals.append(i)
            is_original.add(i)
        else:
            editions[i] = origin

    while len(tracks) < total:
        roll = rng.random()
        if roll < 0.84 or len(originals) < 1_000:  # a studio album
            main = artist()[0]
            year = min(2025, int(rng.triangular(1960, 2026, 2018)))
            album = _title(word, rng) if rng.random() < 0.7 else None
            for n in range(rng.randint(8, 14)):
                title = _title(word, rng)
                names = [main]
                if rng.random() < 0.08:
                    guest = artist()[0]
                    if guest != main:
                        title += f" (feat. {guest})"
                        names.append(guest)
                elif rng.random() < 0.04:
                    names.append(artist()[0])
                    names = list(dict.fromkeys(names))
                add(title, names, album or (title if n == 0 else tracks[-n]["album"]), year, None)
        else:  # an edition of earlier tracks by one artist
            base = rng.choice(originals)
            main = tracks[base]["artists"][0]
            songs = [base] + [rng.choice(originals) for _ in range(rng.randint(2, 9))]
            songs = [i for i in dict.fromkeys(songs) if tracks[i]["artists"][0] == main] or [base]
            songs += [
                i
                for i in range(max(0, base - 6), base + 6)
                if i in is_original and tracks[i]["artists"][0] == main and i not in songs
            ][:8]
            origin = tracks[base]
            kind = rng.choices(
                ("live", "remaster", "acoustic", "remix", "compilation"), weights=(40, 40, 6, 6, 8)
            )[0]
            later = min(2025, origin["year"] + rng.randint(1, 30))
            if kind == "live":
                album = f"Live at the {rng.choice(words[40:800]).title()} {later}"
            elif kind == "remaster":
                album = f"{origin['album']} (Remastered {later})"
            elif kind == "compilation":
                album = rng.choice(("Greatest Hits", "The Best Of", "Essentials", "Anthology"))
            else:
                album = f"{origin['album']} ({kind.title()} Versions)"
            for i in songs:
                if len(tracks) >= total:
                    break
                t = tracks[i]
                title, year = t["title"], later
                if kind == "live":
                    title += " - Live"
                elif kind == "remaster":
                    title += (
                        f" - {later} Remaster" if rng.random() < 0.7 else f" - Remastered {later}"
                    )
                elif kind == "acoustic":
                    title += " - Acoustic"
                elif kind == "remix":
                    title += f" - {_fold(rng.choice(artists).split()[-1])} Remix"
                else:
                    year = t["year"]
                add(title, list(t["artists"]), album, year, (kind, i))
    # Sync order: one playlist per 100 tracks of a shuffled library.
    order = list(range(total))
    rng.shuffle(order)
    lists = [
        [tracks[i] for i in order[p * per_playlist : (p + 1) * per_playlist]]
        for p in range(playlists)
    ]
    return Library(tracks, lists, words, editions)


# -- queries ---------------------------------------------------------------------------

KINDS = (
    "title words",
    "title + artist",
    "typo",
    "accent-free",
    "feat",
    "live",
    "remaster",
    "year",
    "common word",
)
_FEAT = re.compile(r"\s*\(feat\. ([^)]*)\)")
_SUFFIX = re.compile(r" - .*$")


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    #: the provider id of the track it was made from (None for a common word)
    target: str | None = None


def _plain_title(title: str) -> str:
    """The title without its credit and edition suffix."""
    return _SUFFIX.sub("", _FEAT.sub("", title)).strip()


def _words(text_: str) -> list[str]:
    return text_.split()


def _some_words(words: list[str], rng: random.Random, low: int, high: int) -> list[str]:
    n = min(len(words), rng.randint(low, high))
    start = rng.randrange(len(words) - n + 1)
    return words[start : start + n]


def typo(word: str, rng: random.Random) -> str:
    """``word`` with one letter dropped, doubled, swapped with the next or replaced."""
    i = rng.randrange(1, len(word) - 1)
    how = rng.choice(("drop", "double", "swap", "replace"))
    if how == "drop":
        return word[:i] + word[i + 1 :]
    if how == "double":
        return word[:i] + word[i] + word[i:]
    if how == "swap" and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    letters = [c for c in "aeioustrnl" if c != word[i].lower()]
    return word[:i] + rng.choice(letters) + word[i + 1 :]


def _last_name(track: dict[str, Any]) -> str:
    return str(track["artists"][0].split()[-1])


def _with_typo(words: list[str], rng: random.Random) -> list[str] | None:
    spots = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not spots:
        return None
    i = rng.choice(spots)
    return [*words[:i], typo(words[i], rng), *words[i + 1 :]]


def make_queries(library: Library, per_kind: int, seed: int) -> list[Query]:
    """``per_kind`` queries of each kind in :data:`KINDS`, shuffled."""
    rng = random.Random(seed + 7)
    tracks = library.tracks
    by_kind: dict[str, list[int]] = {}
    for i, (kind, _) in library.editions.items():
        by_kind.setdefault(kind, []).append(i)
    originals = [i for i in range(len(tracks)) if i not in library.editions]
    featured = [i for i in originals if _FEAT.search(tracks[i]["title"])]
    accented = [
        i for i in originals if _accented(tracks[i]["title"]) or _accented(tracks[i]["artists"][0])
    ]
    queries: list[Query] = []

    def make(
        kind: str, pool: list[int], build: Callable[[dict[str, Any]], list[str] | None]
    ) -> None:
        made = 0
        while made < per_kind:
            t = tracks[rng.choice(pool)]
            words = build(t)
            if words:
                queries.append(Query(kind, " ".join(words), t["id"]))
                made += 1

    make(
        "title words", originals, lambda t: _some_words(_words(_plain_title(t["title"])), rng, 1, 4)
    )
    make(
        "title + artist",
        originals,
        lambda t: [*_some_words(_words(_plain_title(t["title"])), rng, 1, 3), _last_name(t)],
    )
    make(
        "typo",
        originals,
        lambda t: _with_typo(
            _some_words(_words(_plain_title(t["title"])), rng, 1, 3)
            + ([_last_name(t)] if rng.random() < 0.5 else []),
            rng,
        ),
    )

    def accent_free(t: dict[str, Any]) -> list[str] | None:
        words = _words(_plain_title(t["title"])) + _words(t["artists"][0])
        marked = [i for i, w in enumerate(words) if _accented(w)]
        if not marked:
            return None
        i = rng.choice(marked)
        lo = max(0, i - rng.randint(0, 2))
        return [_fold(w) for w in words[lo : lo + rng.randint(1, 4)] if w] if i < lo + 4 else None

    make("accent-free", accented, accent_free)

    def feat(t: dict[str, Any]) -> list[str]:
        guest = _FEAT.search(t["title"]).group(1)  # type: ignore[union-attr]
        return [
            *_some_words(_words(_plain_title(t["title"])), rng, 1, 2),
            "feat",
            guest.split()[-1],
        ]

    make("feat", featured, feat)
    make(
        "live",
        by_kind["live"],
        lambda t: [*_some_words(_words(_plain_title(t["title"])), rng, 1, 3), "live"],
    )

    def remaster(t: dict[str, Any]) -> list[str]:
        tail = ["remaster"] if rng.random() < 0.6 else [str(t["year"]), "remaster"]
        return _some_words(_words(_plain_title(t["title"])), rng, 1, 4 - len(tail)) + tail

    make("remaster", by_kind["remaster"], remaster)
    make(
        "year",
        originals,
        lambda t: [*_some_words(_words(_plain_title(t["title"])), rng, 1, 3), str(t["year"])],
    )
    head = [w for w in library.words[:40] if len(w) >= 3][:25]
    for n in range(per_kind):
        queries.append(Query("common word", head[n % len(head)].capitalize()))
    rng.shuffle(queries)
    return queries


@dataclass(frozen=True)
class Case:
    """A ranking sanity check: ``query`` should put one of ``expect`` (provider ids) first."""

    group: str
    query: str
    expect: frozenset[str]
    #: ids of tracks the query cannot tell from the expected one (same title and artists)
    same: frozenset[str] = frozenset()
    #: what is expected, for the report of misses
    want: str = ""


def make_cases(library: Library, count: int, seed: int) -> list[Case]:
    rng = random.Random(seed + 11)
    tracks = library.tracks
    key_of = {i: (t["title"], tuple(t["artists"])) for i, t in enumerate(tracks)}
    same: dict[tuple[Any, ...], set[str]] = {}
    for i, key in key_of.items():
        same.setdefault(key, set()).add(tracks[i]["id"])

    def case(group: str, query: str, i: int) -> Case:
        t = tracks[i]
        return Case(
            group,
            query,
            frozenset({t["id"]}),
            frozenset(same[key_of[i]]),
            f"{t['title']!r} by {', '.join(t['artists'])} ({t['year']}, {t['album']!r})",
        )

    def full(t: dict[str, Any]) -> str:
        return f"{t['title']} {t['artists'][0]}"

    cases = [
        case("full title + artist", full(tracks[i]), i)
        for i in rng.sample(range(len(tracks)), count)
    ]
    originals = [i for i in range(len(tracks)) if i not in library.editions]
    accented = [i for i in originals if _accented(full(tracks[i]))]
    cases += [
        case("full title + artist, no accents", _fold(full(tracks[i])), i)
        for i in rng.sample(accented, count // 2)
    ]
    for i in rng.sample(originals, count):
        words = _with_typo(full(tracks[i]).split(), rng)
        if (
            words
            and len([c for c in cases if c.group == "full title + artist, one typo"]) < count // 2
        ):
            cases.append(case("full title + artist, one typo", " ".join(words), i))
    # Songs with an original and both a live and a remastered version (any of them counts).
    versions: dict[int, dict[str, set[str]]] = {}
    for i, (kind, origin) in library.editions.items():
        versions.setdefault(origin, {}).setdefault(kind, set()).add(tracks[i]["id"])
    songs = sorted(o for o, v in versions.items() if "live" in v and "remaster" in v)
    for o in rng.sample(songs, min(len(songs), count // 3)):
        t = tracks[o]
        base = f"{_plain_title(t['title'])} {t['artists'][0]}"
        cases.append(case("versions: original", base, o))
        for kind in ("live", "remaster"):
            cases.append(Case(f"versions: {kind}", f"{base} {kind}", frozenset(versions[o][kind])))
    return cases


# -- running ---------------------------------------------------------------------------


@dataclass
class Timed:
    query: Query
    ms: float
    total: int
    #: CPU time of the calling thread (SQLite runs in it; PostgreSQL's server does not)
    cpu_ms: float = 0.0
    #: rows containing any / every query word (the pre-filter's words), counted untimed
    matching: int = 0
    every: int = 0


@dataclass
class Sanity:
    group: str
    hit1: int = 0
    same1: int = 0
    hit5: int = 0
    count: int = 0
    misses: list[str] = field(default_factory=list)


@dataclass
class BackendResult:
    backend: str
    load_seconds: float = 0.0
    tracks: int = 0
    index: str = ""
    timed: list[Timed] = field(default_factory=list)
    parts: dict[str, dict[str, float]] = field(default_factory=dict)  # kind -> part -> ms
    sanity: dict[str, Sanity] = field(default_factory=dict)
    slowest: list[Timed] = field(default_factory=list)


def search(ctx: HarmonyContext, query: str) -> Any:
    return ctx.search.tracks(query, sources=SOURCES, limit=LIMIT)


def count_matches(ctx: HarmonyContext, timed: list[Timed]) -> None:
    """Fill in how many rows contain any / every word the pre-filter looks for."""
    from harmony._services.ranking import prepare_query

    contains = func.strpos if ctx.db.backend == "postgresql" else func.instr
    with ctx.db.connect() as conn:
        for t in timed:
            words = prepare_query(t.query.text).words
            words = tuple(w for w in words if len(w) >= 2) or words
            tests = [contains(TrackRow.search_key, literal(w)) > 0 for w in words]
            stmt = select(func.count().filter(or_(*tests)), func.count().filter(and_(*tests)))
            t.matching, t.every = conn.execute(stmt.select_from(TrackRow)).one()


PARTS = ("SQL pre-filter", "Track models", "scoring", "SearchHit models", "rest")


@contextmanager
def wrapped(ctx: HarmonyContext) -> Iterator[dict[str, float] | None]:
    """Adds up, into the yielded dict, the time spent in the parts of a search, by wrapping
    the functions it calls; yields None when the service's internals are not as expected."""
    import harmony._repositories.track_search as repo_module
    import harmony._services.ranking as ranking_module
    import harmony._services.search as search_module

    repo: Any = getattr(ctx.search, "_tracks", None)
    #: (owner, attribute, part): what is wrapped, restored afterwards
    targets: list[tuple[Any, str, str]] = [
        (repo, "candidates", "SQL pre-filter"),
        (repo_module, "Track", "Track models"),
        (ranking_module, "score", "scoring"),
        (search_module, "_hit", "SearchHit models"),
    ]
    if any(getattr(owner, name, None) is None for owner, name, _ in targets):
        yield None
        return
    originals = [getattr(owner, name) for owner, name, _ in targets]
    spent = dict.fromkeys(PARTS, 0.0)
    clock = time.perf_counter

    def timing(fn: Callable[..., Any], part: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] += clock() - began

        return call

    for (owner, name, part), original in zip(targets, originals):
        setattr(owner, name, timing(original, part))
    try:
        yield spent
    finally:
        del repo.candidates  # the instance attribute; the class's method shows again
        for (owner, name, _), original in zip(targets[1:], originals[1:]):
            setattr(owner, name, original)


def run_backend(
    backend: str,
    settings: HarmonySettings,
    library: Library,
    queries: list[Query],
    cases: list[Case],
    args: argparse.Namespace,
    counted: list[Timed] | None = None,
) -> BackendResult:
    """Load, time the queries, measure their parts, check the ranking. ``counted``: the
    timed queries of an earlier backend, whose matching-row counts (same data, same
    substring test) are reused instead of counted again."""
    result = BackendResult(backend)
    with HarmonyContext(settings) as ctx:
        ctx.migrate()
        began = time.perf_counter()
        if args.no_index:
            with ctx.db.write() as conn:
                drop_candidate_index(conn)
            load_tracks(ctx, PROVIDER, library.tracks)
        else:
            with index_dropped(ctx):
                load_tracks(ctx, PROVIDER, library.tracks)
        result.load_seconds = time.perf_counter() - began
        with ctx.db.connect() as conn:
            result.tracks = int(
                conn.execute(select(func.count()).select_from(TrackRow)).scalar_one()
            )
        if result.tracks != len(library.tracks):
            raise SystemExit(
                f"{backend}: stored {result.tracks:,} tracks of {len(library.tracks):,}"
            )
        result.index = ctx.search.index_state()
        gc.collect()
        print(
            f"{backend}: loaded {result.tracks:,} tracks in {result.load_seconds:.1f} s, candidate "
            f"index {result.index}",
            flush=True,
        )

        phase = time.perf_counter()
        for q in queries[: args.warmup]:
            search(ctx, q.text)
        gc.collect()
        clock, cpu = time.perf_counter, time.thread_time
        for q in queries:
            began, began_cpu = clock(), cpu()
            found = search(ctx, q.text)
            elapsed, elapsed_cpu = clock() - began, cpu() - began_cpu
            result.timed.append(Timed(q, elapsed * 1000, found.total, elapsed_cpu * 1000))
        print(
            f"{backend}: timed {len(queries)} queries, p50 {_pct([t.ms for t in result.timed], 50):.1f} ms "
            f"({clock() - phase:.0f} s)",
            flush=True,
        )
        phase = clock()

        if counted is None:
            count_matches(ctx, result.timed)
        else:
            for mine, theirs in zip(result.timed, counted):
                mine.matching, mine.every = theirs.matching, theirs.every
        with wrapped(ctx) as spent:
            if spent is not None:
                for q in queries:
                    for part in spent:
                        spent[part] = 0.0
                    began = clock()
                    search(ctx, q.text)
                    whole = clock() - began
                    spent["rest"] = max(
                        0.0, whole - sum(v for k, v in spent.items() if k != "rest")
                    )
                    spent["SQL pre-filter"] -= spent["Track models"]
                    into = result.parts.setdefault(q.kind, dict.fromkeys(PARTS, 0.0))
                    for part, seconds in spent.items():
                        into[part] += seconds * 1000
        print(
            f"{backend}: {'matching rows counted, ' if counted is None else ''}parts measured "
            f"({clock() - phase:.0f} s)",
            flush=True,
        )
        phase = clock()

        for c in cases:
            found = search(ctx, c.query)
            ids = [hit.provider_id for hit in found.items]
            s = result.sanity.setdefault(c.group, Sanity(c.group))
            s.count += 1
            s.hit1 += bool(ids) and ids[0] in c.expect
            s.same1 += bool(ids) and ids[0] in (c.expect | c.same)
            s.hit5 += any(i in c.expect | c.same for i in ids[:5])
            if not (ids and ids[0] in c.expect | c.same) and len(s.misses) < 3:
                top = found.items[0] if found.items else None
                rank = next((n for n, i in enumerate(ids, 1) if i in c.expect | c.same), None)
                s.misses.append(
                    f"{c.query!r}: first {(top.title, top.artists) if top else None}; wanted {c.want or c.expect}"
                    f" {f'at {rank}' if rank else f'not in the first {LIMIT}'} (candidates {found.total})"
                )

        print(f"{backend}: {len(cases)} sanity cases ({clock() - phase:.0f} s)", flush=True)
        result.slowest = sorted(result.timed, key=lambda t: -t.ms)[: args.slowest]
        if args.profile:
            profile = cProfile.Profile()
            for t in result.slowest:
                profile.enable()
                search(ctx, t.query.text)
                profile.disable()
            _print_profile(backend, profile, args)
    return result


def _print_profile(backend: str, profile: cProfile.Profile, args: argparse.Namespace) -> None:
    Path(args.profile).mkdir(parents=True, exist_ok=True)
    path = Path(args.profile) / f"search_{backend.lower()}_slowest.pstats"
    profile.dump_stats(str(path))
    print(
        f"\n-- cProfile, {backend}, the {args.slowest} slowest queries ({path}), top {args.top} by own time --"
    )
    pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(args.top)
    print(f"-- same, top {args.top} by cumulative time --")
    pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(args.top)


# -- report ----------------------------------------------------------------------------


def _pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _spread(timed: list[Timed], name: str, digits: int = 0) -> str:
    values = [getattr(t, name) for t in timed]
    return f"{_pct(values, 50):,.{digits}f} / {_pct(values, 90):,.{digits}f}"


def table(
    args: argparse.Namespace,
    library: Library,
    queries: list[Query],
    cases: list[Case],
    results: list[BackendResult],
) -> str:
    t = library.tracks
    feats = sum(1 for x in t if "(feat. " in x["title"])
    accented = sum(1 for x in t if _accented(x["title"]) or any(_accented(a) for a in x["artists"]))
    lines = [
        f"Library: {len(t):,} tracks, "
        f"{len({a for x in t for a in x['artists']}):,} artists, "
        f"{len({(x['artists'][0], x['album']) for x in t}):,} albums, {feats:,} with a feat. credit, "
        f"{accented:,} with an accented title or artist; editions: {library.count('live'):,} live, "
        f"{library.count('remaster'):,} remastered, "
        f"{library.count('acoustic') + library.count('remix'):,} acoustic or remix, "
        f"{library.count('compilation'):,} compilation copies. Bulk load (not the subject here; "
        "it includes building the candidate index once): "
        + ", ".join(f"{r.backend} {r.load_seconds:.1f} s" for r in results)
        + ". Candidate index: "
        + ", ".join(f"{r.backend} {r.index}" for r in results)
        + (" (dropped on purpose: `--no-index`)" if args.no_index else "")
        + ".",
        "",
        f"Queries: {len(queries)} ({args.per_kind} of each of {len(KINDS)} kinds, shuffled), "
        f'`ctx.search.tracks(q, sources=["local"], limit={LIMIT})`, each timed once after '
        f"{args.warmup} untimed warm-up calls. 1-minute load average at the start / end of the "
        f"run: {args.load[0]:.2f} / {args.load[1]:.2f}. Candidates = `SearchResult.total` (tracks "
        f"ranked; the service ranks at most 200 for limit {LIMIT}); matching = rows whose "
        "`search_key` contains any of the words the pre-filter looks for (words of 2+ "
        'letters), of which "every" contain all of them (counted separately, untimed). CPU = '
        "CPU time of the calling thread in ms: all of the work on SQLite, which runs in it "
        "(so it shows what the machine's other load added to the wall time), the client's "
        "part only on PostgreSQL.",
        "",
        "| backend | p50 | p90 | p95 | p99 | max | mean | CPU p50 / p90 | candidates p50 / p90 "
        "| matching p50 / p90 | every p50 / p90 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        ms = [x.ms for x in r.timed]
        lines.append(
            f"| {r.backend} | {_ms(_pct(ms, 50))} | {_ms(_pct(ms, 90))} | {_ms(_pct(ms, 95))} | "
            f"{_ms(_pct(ms, 99))} | "
            f"{_ms(max(ms))} | {_ms(statistics.fmean(ms))} | {_spread(r.timed, 'cpu_ms', 1)} | "
            f"{_spread(r.timed, 'total')} | "
            f"{_spread(r.timed, 'matching')} | {_spread(r.timed, 'every')} |"
        )
    lines += [
        "",
        "By kind of query, p50 / p90 in ms; candidates, matching and every as above (p50 / p90):",
        "",
    ]
    header = (
        "| kind | " + " | ".join(r.backend for r in results) + " | candidates | matching | every |"
    )
    lines += [header, "| --- |" + " ---: |" * (len(results) + 3)]
    for kind in KINDS:
        cells = []
        for r in results:
            ms = [x.ms for x in r.timed if x.query.kind == kind]
            cells.append(f"{_pct(ms, 50):.1f} / {_pct(ms, 90):.1f}")
        mine = [x for x in results[0].timed if x.query.kind == kind]
        counts = " | ".join(_spread(mine, name) for name in ("total", "matching", "every"))
        lines.append(f"| {kind} | " + " | ".join(cells) + f" | {counts} |")
    if any(r.parts for r in results):
        lines += [
            "",
            "Where the time goes (second pass over the same queries, functions wrapped), "
            "share of the total:",
            "",
            "| backend | " + " | ".join(PARTS) + " | total per query |",
            "| --- |" + " ---: |" * (len(PARTS) + 1),
        ]
        for r in results:
            if not r.parts:
                continue
            sums = {p: sum(k[p] for k in r.parts.values()) for p in PARTS}
            whole = sum(sums.values())
            lines.append(
                f"| {r.backend} | "
                + " | ".join(f"{sums[p] / whole:.0%}" for p in PARTS)
                + f" | {whole / len(queries):.1f} ms |"
            )
        for r in results:
            if not r.parts:
                continue
            lines += [
                "",
                f"{r.backend}, per kind, mean ms per query:",
                "",
                "| kind | " + " | ".join(PARTS) + " |",
                "| --- |" + " ---: |" * len(PARTS),
            ]
            per_kind = {k: sum(1 for q in queries if q.kind == k) for k in KINDS}
            for kind in KINDS:
                of_kind = r.parts.get(kind, {})
                row = " | ".join(f"{of_kind.get(p, 0) / per_kind[kind]:.1f}" for p in PARTS)
                lines.append(f"| {kind} | {row} |")
    lines += [
        "",
        "Ranking sanity (reported, not asserted): hit@1 = the queried track first; "
        '"or equivalent" also counts a track the query cannot tell from it (same title '
        "and artists: a compilation copy, or the same title recorded twice) first; hit@5 = "
        "the queried or an equivalent track among the first five.",
        "",
        "| check | "
        + " | ".join(f"{r.backend} hit@1 (or equivalent) | hit@5" for r in results)
        + " |",
        "| --- |" + " ---: | ---: |" * len(results),
    ]
    for group in dict.fromkeys(c.group for c in cases):
        cells = []
        for r in results:
            s = r.sanity[group]
            cells.append(
                f"{s.hit1}/{s.count} = {s.hit1 / s.count:.0%} ({s.same1 / s.count:.0%}) | "
                f"{s.hit5 / s.count:.0%}"
            )
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines += ["", "| target | measured | result |", "| --- | --- | --- |"]
    sqlite = next((r for r in results if r.backend == "SQLite"), None)
    if sqlite is not None:
        p50 = _pct([x.ms for x in sqlite.timed], 50)
        lines.append(
            f"| p50 per query on SQLite < {P50_SQLITE_MS:.0f} ms ({args.size:,} tracks) | {_ms(p50)} | "
            f"{'met' if p50 < P50_SQLITE_MS else 'missed'} |"
        )
    for r in results:
        if r.backend != "SQLite":
            p50 = _pct([x.ms for x in r.timed], 50)
            lines.append(
                f"| (reported) p50 per query on {r.backend} | {_ms(p50)} | "
                f"{'under' if p50 < P50_SQLITE_MS else 'over'} {P50_SQLITE_MS:.0f} ms |"
            )
    return "\n".join(lines)


def _print_details(results: list[BackendResult]) -> None:
    for r in results:
        print(f"\n{r.backend}: slowest queries")
        for t in r.slowest:
            print(f"  {t.ms:7.1f} ms  total {t.total:5d}  [{t.query.kind}] {t.query.text!r}")
        for s in r.sanity.values():
            for miss in s.misses:
                print(f"  miss [{s.group}] {miss}")


def _write_docs(args: argparse.Namespace, command: str, machine_line: str, body_table: str) -> None:
    about = (
        'What it measures: `ctx.search.tracks(query, sources=["local"], limit=20)` on a '
        f"library of {args.size:,} tracks loaded with bulk SQL into a fresh, migrated database "
        "(the candidate index of migration 0006 built once after the load). "
        f"Generated metadata: titles of 1-5 words from a {args.words:,}-word vocabulary drawn "
        'with a Zipf law (common song words such as "love", "night", "you" at the head, '
        "invented words in the tail, some accented), artists from a pool of "
        f"{args.artists:,} (people, some with accented names, and bands) with a power-law "
        'popularity, albums of 8-14 tracks with release years, "(feat. X)" credits, and '
        'editions of earlier tracks ("- Live", "- 2011 Remaster", "- Remastered 2009", a '
        "few acoustic and remix versions, compilation copies). The query mix: 1-4 words of a "
        "track's title, with or without the artist's last name, misspelt, typed without "
        'accents, with "feat X", "live", "remaster" or a year, and single common words '
        "that match thousands of tracks. A second, untimed pass splits each call into its "
        "parts by wrapping the functions the service calls. The script's docstring has the "
        "details."
    )
    write_section(
        SECTION,
        textwrap.fill(about, 90, break_on_hyphens=False),
        machine_line,
        command,
        body_table,
        args.notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HARMONY_TEST_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL server (default: $HARMONY_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="tracks in the library")
    parser.add_argument(
        "--words",
        type=int,
        help="vocabulary of the titles (default: 3,000 per "
        "100,000 tracks x the square root of size / 100,000)",
    )
    parser.add_argument(
        "--artists", type=int, help="artist pool (default: 5,000 per 100,000 tracks)"
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="drop the candidate index first: measure the scan it replaces",
    )
    parser.add_argument(
        "--per-kind", type=int, default=30, help=f"timed queries of each of the {len(KINDS)} kinds"
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    parser.add_argument("--sanity", type=int, default=60, help="tracks for the ranking checks")
    parser.add_argument(
        "--slowest", type=int, default=8, help="slowest queries listed (and profiled)"
    )
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument(
        "--sqlite-only", action="store_true", help="skip PostgreSQL even when a URL is set"
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="profile the slowest queries (extra pass); stats go to DIR"
    )
    parser.add_argument("--top", type=int, default=25, help="profile entries to print")
    parser.add_argument("--notes", help="a Markdown file appended to the written section")
    parser.add_argument(
        "--write", action="store_true", help="write the section into docs/benchmarks.md"
    )
    args = parser.parse_args()
    scale = args.size / 100_000
    args.words = args.words or round(3_000 * max(1.0, scale) ** 0.5)
    args.artists = args.artists or max(50, round(5_000 * scale))
    if args.sqlite_only:
        args.postgres = None
    if args.write and not args.postgres:
        parser.error(
            "--write needs PostgreSQL: give --postgres URL or set HARMONY_TEST_POSTGRES_URL"
        )

    command = command_line(SCRIPT, sys.argv[1:])
    machine_line = machine(args.postgres)
    args.load = [os.getloadavg()[0], 0.0]
    print(machine_line, f"Load average at start: {args.load[0]:.2f}.", flush=True)
    began = time.perf_counter()
    library = make_library(args.size // 100, 100, args)
    queries = make_queries(library, args.per_kind, args.seed)
    cases = make_cases(library, args.sanity, args.seed)
    print(
        f"library: {len(library.tracks):,} tracks, {len(queries)} timed queries, {len(cases)} "
        f"sanity cases ({time.perf_counter() - began:.1f} s)",
        flush=True,
    )
    backends: list[tuple[str, Callable[[], Any]]] = [("SQLite", sqlite_settings)]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_settings(args.postgres)))
    else:
        print("no PostgreSQL URL: SQLite only", flush=True)
    results: list[BackendResult] = []
    for name, settings_of in backends:
        with settings_of() as settings:
            counted = results[0].timed if results else None
            results.append(run_backend(name, settings, library, queries, cases, args, counted))
    args.load[1] = os.getloadavg()[0]
    output = table(args, library, queries, cases, results)
    _print_details(results)
    print(f"\n{output}\n\n(took {time.perf_counter() - began:.0f} s)", flush=True)
    if args.write:
        _write_docs(args, command, machine_line, output)


if __name__ == "__main__":
    main()
