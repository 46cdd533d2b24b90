"""Generate harmony's sample library: Exportify-style CSVs in the package's sample data.

    python scripts/make_sample.py           # (re)write src/harmony/providers/sample/exportify
    python scripts/make_sample.py --check   # exit 1 if the committed files are out of date

Everything is made up (artists, titles, ids) and generated from a fixed seed, so the
output is byte-for-byte reproducible and committed. The library is small but holds the
cases search and sync need: tracks shared between playlists, a duplicate within one
playlist, accented and non-Latin names, "feat."/"ft." credits, live and remastered
editions of one song, years in titles and albums, commas and quotes that need CSV quoting,
and a local file.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import string
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from harmony.providers.exportify import EXPORTIFY_HEADER

SEED = 20240917
OUTPUT = Path(__file__).resolve().parents[1] / "src/harmony/providers/sample/exportify"
HEADER = (*EXPORTIFY_HEADER, "ISRC")
ADDED_BY = "spotify:user:harmony-sample"
BASE62 = string.digits + string.ascii_letters


@dataclass(frozen=True)
class Track:
    uri: str
    title: str
    album: str
    artists: tuple[str, ...]
    release_date: str
    duration_ms: int
    popularity: int
    explicit: bool
    genres: str
    label: str
    isrc: str


# artist -> (genres, label, ISRC registrant); all invented.
ARTISTS: dict[str, tuple[str, str, str]] = {
    "Aurora Vale": ("synth-pop,electropop", "Neon Harbor Records", "NHR"),
    "The Midnight Ferries": ("indie rock", "Lowlight Recordings", "LLR"),
    "Chloé Dufresne": ("chanson,french pop", "Maison Bleue", "MBL"),
    "Björn Ekström": ("electronic,ambient", "Nordlys Musik", "NLM"),
    "Ramón Iñárritu Trio": ("jazz,latin jazz", "Blue Corner Jazz", "BCJ"),
    "Mira Sol": ("r&b,neo soul", "Golden Hour Music", "GHM"),
    "Kato Lane": ("hip hop", "Golden Hour Music", "GHM"),
    "DJ Ørbit": ("house,dance", "Pulse Collective", "PLC"),
    "Hikari": ("j-pop", "Sakura Sound", "SKS"),
    "Sœur Lumière": ("dream pop,shoegaze", "Maison Bleue", "MBL"),
    "Los Hermanos Núñez": ("latin,cumbia", "Río Grande Discos", "RGD"),
    "Grey Atlas": ("post-rock", "Lowlight Recordings", "LLR"),
    "Nadia Okafor": ("afrobeats,afropop", "Lagos Lights", "LGL"),
    "The Velvet Parade": ("classic rock,rock", "Endless Highway Records", "EHR"),
    "Juniper & The Owls": ("folk,indie folk", "Timberline", "TBL"),
    "Sam Reyes": ("acoustic,singer-songwriter", "Timberline", "TBL"),
    "Motörbahn": ("metal,hard rock", "Iron Gate", "IRG"),
    "Lena Kowalczyk": ("classical,piano", "Wisła Classics", "WSC"),
    "Static Bloom": ("lo-fi,chillhop", "Tape Hiss", "TPH"),
    "Ivy Chen": ("pop,dance pop", "Pulse Collective", "PLC"),
    "Oskar Åberg": ("ambient,modern classical", "Nordlys Musik", "NLM"),
    "MC Delta": ("grime,uk hip hop", "Lagos Lights", "LGL"),
}

# (artist, album, year, [titles]); extra credited artists come from "(feat. X)"/"ft. X".
ALBUMS: list[tuple[str, str, int, list[str]]] = [
    ("Aurora Vale", "Neon Harbor", 2016, [
        "Neon Harbor", "Midnight City Lights", "Paper Hearts (feat. Kato Lane)",
        "Glass Ocean", "Afterglow",
    ]),
    ("Aurora Vale", "Glass Cities", 2019, ["Glass Cities", "Satellites", "Déjà Vu Again"]),
    ("The Midnight Ferries", "Low Tide Radio", 2011, [
        "Northern Lights", "Low Tide Radio", "Don't Look Back", "Harbour Walls",
        "Class of 2009",
    ]),
    ("The Midnight Ferries", "Northern Lights (Acoustic)", 2013, ["Northern Lights - Acoustic"]),
    ("The Midnight Ferries", "Live at Olympia", 2014, [
        "Northern Lights - Live at Olympia", "Don't Look Back - Live at Olympia",
    ]),
    ("Chloé Dufresne", "Café de Flore", 2018, [
        "Café de Flore", "Déjà Vu", "Naïve", "Rue des Lilas", "Ça ira mieux demain",
    ]),
    ("Björn Ekström", "Fjällvind", 2020, ["Fjällvind", "Ljus i mörkret", "Polar Drift"]),
    ("Ramón Iñárritu Trio", "Noches de Café", 2015, [
        "Noches de Café", "Blue Corner", "Señorita Luna", "Take the Night Train",
    ]),
    ("Mira Sol", "Golden", 2021, [
        "Golden", "Slow Burn", "It’s Alright", "Run It Back ft. Kato Lane",
    ]),
    ("Kato Lane", "Gold Rush", 2022, [
        "Golden Hour (feat. Mira Sol)", "Gold Rush", "No Ceilings", "City Never Sleeps",
    ]),
    ("DJ Ørbit", "Orbit Sessions", 2019, [
        "Satellite (feat. Nadia Okafor) - Radio Edit",
        "Satellite (feat. Nadia Okafor) - Extended Mix", "Gravity", "Zero G",
    ]),
    ("Hikari", "光", 2020, ["東京ナイト", "Sakura Drive", "夏の終わり"]),
    ("Sœur Lumière", "Lumière Pâle", 2017, ["Lumière Pâle", "Velours", "Halo"]),
    ("Los Hermanos Núñez", "Corazón de Neón", 2023, [
        "Corazón de Neón", "Cumbia del Río", "Mañana Será",
    ]),
    ("Grey Atlas", "Songs for Rain, Vol. 2", 2012, [
        "Rain Over Atlas", "The Long Quiet", "Cartographer",
    ]),
    ("Nadia Okafor", "Lagos to London", 2022, [
        "Lagos to London (feat. MC Delta)", "Sunday Jollof", "Shine",
    ]),
    ("The Velvet Parade", "Endless Highway", 1984, [
        "Summer 1984", "Endless Highway", "Radio Heart",
    ]),
    ("The Velvet Parade", "Endless Highway (2015 Remaster)", 2015, [
        "Summer 1984 - 2015 Remaster", "Endless Highway - 2015 Remaster",
        "Radio Heart - 2015 Remaster",
    ]),
    ("The Velvet Parade", "Live at Wembley 1986", 1986, [
        "Summer 1984 - Live at Wembley", "Endless Highway - Live at Wembley",
    ]),
    ("The Velvet Parade", "Greatest Hits 1980–1990", 1991, ["Summer 1984", "Midnight Train"]),
    ("Juniper & The Owls", "Pinecone Letters", 2016, [
        "Home", "Pinecone Letters", "The \"Blue\" Hour",
    ]),
    ("Sam Reyes", "Kitchen Table", 2018, ["Home", "Coffee & Cigarettes", "Morning Light"]),
    ("Motörbahn", "Überdrive", 2010, ["Überdrive", "Steel Horizon"]),
    ("Lena Kowalczyk", "Nocturnes", 2014, [
        "Piano Sonata No. 14 in C-sharp minor, Op. 27 No. 2: I. Adagio sostenuto",
        "Nocturne in E-flat major, Op. 9 No. 2", "Łódź Nocą",
    ]),
    ("Static Bloom", "Tape Loops", 2021, [
        "Midnight in the City", "Rainy Window", "Study Session", "Warm Static",
    ]),
    ("Ivy Chen", "Neon Bloom", 2024, ["Neon Bloom", "Dance It Out", "2049"]),
    ("Oskar Åberg", "Stilla", 2019, ["Fjärran", "Stilla vatten", "Morgondimma"]),
    ("MC Delta", "Delta Wave", 2023, ["Delta Wave", "Southside ft. Kato Lane"]),
]

LOCAL_FILE = Track(
    uri="spotify:local:Sam+Reyes:Kitchen+Demos:Voice+Memo+3:154",
    title="Voice Memo 3",
    album="Kitchen Demos",
    artists=("Sam Reyes",),
    release_date="",
    duration_ms=154000,
    popularity=0,
    explicit=False,
    genres="",
    label="",
    isrc="",
)

# name -> (track count, genres that fit, titles that must be in it)
PLAYLISTS: dict[str, tuple[int, tuple[str, ...], tuple[str, ...]]] = {
    "Road_Trip": (30, ("rock", "indie rock", "classic rock", "folk", "synth-pop"),
                  ("Endless Highway", "Northern Lights", "Summer 1984")),
    "Morning_Coffee": (20, ("chanson", "acoustic", "jazz", "folk", "neo soul"),
                       ("Café de Flore", "Coffee & Cigarettes", "Home", "Voice Memo 3")),
    "Late_Night_Drive": (25, ("synth-pop", "lo-fi", "dream pop", "r&b", "electronic"),
                         ("Midnight City Lights", "Midnight in the City", "東京ナイト")),
    "Workout_Mix": (35, ("hip hop", "house", "afrobeats", "grime", "dance pop", "metal"),
                    ("Golden Hour (feat. Mira Sol)", "Southside ft. Kato Lane")),
    "Focus_Flow": (40, ("ambient", "classical", "post-rock", "lo-fi", "modern classical",
                        "electronic", "jazz"), ("Łódź Nocą", "Study Session")),
    "Party_Starters": (28, ("house", "dance pop", "afrobeats", "latin", "hip hop", "r&b"),
                       ("Golden Hour (feat. Mira Sol)",)),
    "Sunday_Jazz": (12, ("jazz", "latin jazz", "neo soul"), ("Señorita Luna",)),
    "Classic_Rock_Remasters": (15, ("classic rock", "hard rock", "rock"),
                               ("Summer 1984 - 2015 Remaster", "Radio Heart - 2015 Remaster")),
    "Live_Sessions": (14, ("indie rock", "classic rock", "folk"),
                      ("Summer 1984 - Live at Wembley", "Northern Lights - Live at Olympia")),
    "Around_the_World": (22, ("latin", "j-pop", "afrobeats", "chanson", "cumbia"),
                         ("Déjà Vu", "Corazón de Neón", "東京ナイト",
                          "Lagos to London (feat. MC Delta)")),
    "Rainy_Days": (18, ("lo-fi", "post-rock", "dream pop", "acoustic", "ambient"),
                   ("Rain Over Atlas", "Rainy Window")),
    "Fresh_Finds_2024": (10, ("pop", "dance pop", "latin", "grime", "afrobeats"),
                         ("2049", "Neon Bloom")),
}
DUPLICATED = ("Party_Starters", "Golden Hour (feat. Mira Sol)")


def _featured(title: str) -> tuple[str, ...]:
    for marker in ("(feat. ", "ft. "):
        if marker in title:
            rest = title.split(marker, 1)[1]
            return (rest.split(")", 1)[0].strip(),)
    return ()


def build_catalogue(rng: random.Random) -> list[Track]:
    """Every track of every album, with ids, durations and popularity drawn from ``rng``."""
    tracks: list[Track] = []
    serial = 0
    for artist, album, year, titles in ALBUMS:
        genres, label, registrant = ARTISTS[artist]
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        long_form = "classical" in genres or "post-rock" in genres
        for title in titles:
            serial += 1
            duration = rng.randint(300_000, 620_000) if long_form else rng.randint(140_000, 330_000)
            tracks.append(Track(
                uri="spotify:track:" + "".join(rng.choice(BASE62) for _ in range(22)),
                title=title,
                album=album,
                artists=(artist, *_featured(title)),
                release_date=f"{year}-{month:02d}-{day:02d}",
                duration_ms=duration,
                popularity=rng.randint(8, 92),
                explicit=("hip hop" in genres or "grime" in genres) and rng.random() < 0.6,
                genres=genres,
                label=label,
                isrc=f"ZZ{registrant}{year % 100:02d}{serial:05d}",
            ))  # fmt: skip
    return tracks


def _pick(catalogue: list[Track], title: str) -> Track:
    # The first album holding the title wins: originals come before compilations.
    return next(track for track in catalogue if track.title == title)


def build_playlists(rng: random.Random) -> dict[str, list[Track]]:
    """Each playlist's tracks in order: its required titles plus a seeded draw by genre."""
    catalogue = build_catalogue(rng)
    playlists: dict[str, list[Track]] = {}
    for name, (count, genres, required) in PLAYLISTS.items():
        chosen = [LOCAL_FILE if t == LOCAL_FILE.title else _pick(catalogue, t) for t in required]
        fitting = [
            track for track in catalogue
            if track not in chosen and any(g in track.genres.split(",") for g in genres)
        ]  # fmt: skip
        others = [track for track in catalogue if track not in chosen and track not in fitting]
        rng.shuffle(fitting)
        rng.shuffle(others)
        chosen.extend((fitting + others)[: count - len(chosen)])
        rng.shuffle(chosen)
        playlists[name] = chosen
    name, title = DUPLICATED
    tracks = playlists[name]
    tracks.insert(len(tracks) - 3, _pick(catalogue, title))
    tracks.pop(0 if tracks[0].title != title else 1)  # keep the count
    return playlists


def render_csv(tracks: list[Track], rng: random.Random, start: datetime) -> str:
    """One playlist as Exportify-style CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    added = start
    for track in tracks:
        added += timedelta(hours=rng.randint(1, 240), minutes=rng.randint(0, 59))
        writer.writerow([
            track.uri, track.title, track.album, ",".join(track.artists), track.release_date,
            track.duration_ms, track.popularity, str(track.explicit).lower(), ADDED_BY,
            added.strftime("%Y-%m-%dT%H:%M:%SZ"), track.genres, track.label, track.isrc,
        ])  # fmt: skip
    return out.getvalue()


def render() -> dict[str, str]:
    """File name -> CSV text of the whole sample library (deterministic)."""
    rng = random.Random(SEED)
    playlists = build_playlists(rng)
    start = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
    return {f"{name}.csv": render_csv(tracks, rng, start) for name, tracks in playlists.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed files")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    files = render()
    existing = {path.name for path in args.output.glob("*.csv")}
    if args.check:
        stale = sorted(
            name for name, text in files.items()
            if not (args.output / name).is_file()
            or (args.output / name).read_bytes() != text.encode("utf-8")
        ) + sorted(existing - files.keys())  # fmt: skip
        if stale:
            print(f"out of date: {', '.join(stale)}; run python scripts/make_sample.py")
            return 1
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name in existing - files.keys():
        (args.output / name).unlink()
    for name, text in files.items():
        (args.output / name).write_bytes(text.encode("utf-8"))
    print(f"wrote {len(files)} playlists to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
