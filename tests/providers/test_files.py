"""Export-file providers (Exportify CSV, MPD slices), open_export and the sample library."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import runpy
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harmony.errors import ImportFileError, ProviderError
from harmony.providers import (
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    coerce_playlist,
    coerce_track,
)
from harmony.providers.exportify import (
    EXPORTIFY_HEADER,
    ExportifyProvider,
    track_id_from_uri,
)
from harmony.providers.files import open_export
from harmony.providers.mpd import MpdSliceProvider
from harmony.providers.sample import sample_files, sample_path, sample_provider

ROOT = Path(__file__).resolve().parents[2]

# -- helpers ------------------------------------------------------------------------------

HEADER = (
    "Track URI",
    "Track Name",
    "Album Name",
    "Artist Name(s)",
    "Duration (ms)",
    "ISRC",
    "Added At",
)


def row(
    uri: str,
    name: str,
    artists: str = "Artist",
    *,
    album: str = "Album",
    duration: str = "200000",
    isrc: str = "",
    added: str = "2024-01-02T03:04:05Z",
) -> list[str]:
    return [uri, name, album, artists, duration, isrc, added]


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def tracks_of(provider: PlaylistProvider, playlist_id: str) -> list[ProviderTrack | Rejection]:
    return [coerce_track(item, playlist_id) for item in provider.iter_tracks(playlist_id)]


def valid(items: Sequence[ProviderTrack | Rejection]) -> list[ProviderTrack]:
    assert all(isinstance(item, ProviderTrack) for item in items), items
    return [item for item in items if isinstance(item, ProviderTrack)]


def as_playlist(item: object) -> ProviderPlaylist:
    result = coerce_playlist(item)
    assert isinstance(result, ProviderPlaylist), result
    return result


def import_error(provider: PlaylistProvider) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        for item in provider.iter_playlists():
            list(provider.iter_tracks(as_playlist(item).id))
    return caught.value


# -- Exportify ----------------------------------------------------------------------------


def test_exportify_file_is_one_playlist_named_after_the_file(tmp_path: Path) -> None:
    rows = [row("spotify:track:a1", "One"), row("spotify:track:b2", "Two")]
    path = write(tmp_path / "road_trip.csv", csv_text(rows))
    (listed,) = ExportifyProvider(path).iter_playlists()
    assert (listed.id, listed.name, listed.track_count) == ("road_trip", "road trip", 2)
    assert listed.snapshot_id == hashlib.sha256(path.read_bytes()).hexdigest()


def test_exportify_rows_become_tracks_with_every_field(tmp_path: Path) -> None:
    text = csv_text(
        [
            row(
                "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
                "Golden Hour (feat. Mira Sol)",
                "Kato Lane, Mira Sol",
                album="Gold Rush",
                duration="215000",
                isrc="ZZGHM2200001",
                added="2023-05-06T07:08:09Z",
            )
        ]
    )
    provider = ExportifyProvider(write(tmp_path / "mix.csv", text))
    (track,) = valid(tracks_of(provider, "mix"))
    assert track == ProviderTrack(
        id="4uLU6hMCjMI75M1A2tKUQC",
        title="Golden Hour (feat. Mira Sol)",
        artists=("Kato Lane", "Mira Sol"),
        album="Gold Rush",
        duration_ms=215000,
        isrc="ZZGHM2200001",
        added_at=datetime(2023, 5, 6, 7, 8, 9, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("cell", "artists"),
    [
        ("Solo", ("Solo",)),
        ("A, B", ("A", "B")),
        ("A,B,C", ("A", "B", "C")),
        (r"Earth\, Wind & Fire,Guest", ("Earth, Wind & Fire", "Guest")),
        ("", ()),
    ],
)
def test_exportify_splits_artists_on_commas(
    tmp_path: Path, cell: str, artists: tuple[str, ...]
) -> None:
    provider = ExportifyProvider(write(tmp_path / "p.csv", csv_text([row("x1", "T", cell)])))
    (track,) = valid(tracks_of(provider, "p"))
    assert track.artists == artists


@pytest.mark.parametrize(
    ("uri", "track_id"),
    [
        ("spotify:track:4uLU6hMCjMI75M1A2tKUQC", "4uLU6hMCjMI75M1A2tKUQC"),
        ("https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=abc", "4uLU6hMCjMI75M1A2tKUQC"),
        ("https://open.spotify.com/intl-de/track/4uLU6hMCjMI75M1A2tKUQC", "4uLU6hMCjMI75M1A2tKUQC"),
        ("4uLU6hMCjMI75M1A2tKUQC", "4uLU6hMCjMI75M1A2tKUQC"),
        (
            "spotify:local:Sam+Reyes:Demos:Voice+Memo:154",
            "spotify:local:Sam+Reyes:Demos:Voice+Memo:154",
        ),
        ("  spotify:track:abc  ", "abc"),
    ],
)
def test_track_id_comes_from_the_uri(uri: str, track_id: str) -> None:
    assert track_id_from_uri(uri) == track_id


def test_exportify_keeps_file_order_and_duplicates(tmp_path: Path) -> None:
    rows = [
        row("spotify:track:b", "B"),
        row("spotify:track:a", "A"),
        row("spotify:track:b", "B"),
        row("spotify:local:X:Y:Z:100", "Z"),
    ]
    provider = ExportifyProvider(write(tmp_path / "p.csv", csv_text(rows)))
    ids = [t.id for t in valid(tracks_of(provider, "p"))]
    assert ids == ["b", "a", "b", "spotify:local:X:Y:Z:100"]


def test_exportify_folder_reads_csv_files_sorted_by_name_not_recursively(tmp_path: Path) -> None:
    for name in ("b_side.csv", "A_list.csv", "sub/deeper.csv", ".hidden.csv", "c.CSV"):
        write(tmp_path / name, csv_text([row("spotify:track:x", name)]))
    write(tmp_path / "notes.txt", "not a playlist")
    provider = ExportifyProvider(tmp_path)
    assert [p.id for p in provider.iter_playlists()] == ["A_list", "b_side", "c"]
    (track,) = valid(tracks_of(provider, "b_side"))
    assert track.title == "b_side.csv"


def test_exportify_reads_a_file_with_a_utf8_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", csv_text([row("spotify:track:x", "Déjà Vu")]), bom=True)
    provider = ExportifyProvider(path)
    (playlist,) = provider.iter_playlists()
    (track,) = valid(tracks_of(provider, playlist.id))
    assert (track.id, track.title) == ("x", "Déjà Vu")


def test_exportify_accepts_older_and_current_column_names(tmp_path: Path) -> None:
    old = (
        "Spotify URI",
        "Track Name",
        "Artist Name",
        "Album Name",
        "Track Duration (ms)",
        "Added By",
        "Added At",
    )
    text = csv_text([["spotify:track:x", "Old", "Band", "LP", "1000", "me", ""]], header=old)
    provider = ExportifyProvider(write(tmp_path / "old.csv", text))
    (track,) = valid(tracks_of(provider, "old"))
    assert (track.artists, track.album, track.duration_ms) == (("Band",), "LP", 1000)

    current = csv_text(
        [
            [
                "spotify:track:y",
                "New",
                "Record",
                "A,B",
                "2020",
                "1000",
                "1",
                "false",
                "me",
                "2024-01-01T00:00:00Z",
                "pop",
                "Label",
            ]
        ],
        header=EXPORTIFY_HEADER,
    )
    provider = ExportifyProvider(write(tmp_path / "new.csv", current))
    (track,) = valid(tracks_of(provider, "new"))
    assert (track.id, track.artists, track.album) == ("y", ("A", "B"), "Record")


def test_exportify_bad_values_are_yielded_and_rejected_not_raised(tmp_path: Path) -> None:
    rows = [
        row("spotify:track:ok", "Fine"),
        row("spotify:track:noname", "  "),
        row("spotify:track:dur", "Bad duration", duration="3:35"),
        row("", "No id"),
        row("spotify:track:date", "Bad date", added="yesterday"),
        row("spotify:track:neg", "Negative", duration="-5"),
        row("spotify:track:ok2", "Also fine", duration=""),
    ]
    provider = ExportifyProvider(write(tmp_path / "mixed.csv", csv_text(rows)))
    (playlist,) = provider.iter_playlists()
    assert playlist.track_count == len(rows)
    results = tracks_of(provider, "mixed")
    assert len(results) == len(rows)
    rejected = [r for r in results if isinstance(r, Rejection)]
    assert [(r.item_id, r.playlist_id) for r in rejected] == [
        ("noname", "mixed"),
        ("dur", "mixed"),
        (None, "mixed"),
        ("date", "mixed"),
        ("neg", "mixed"),
    ]
    assert "title" in rejected[0].reason and "duration_ms" in rejected[1].reason
    accepted = [r for r in results if isinstance(r, ProviderTrack)]
    assert [(t.id, t.duration_ms) for t in accepted] == [("ok", 200000), ("ok2", None)]


def test_exportify_snapshot_changes_only_when_the_bytes_change(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", csv_text([row("spotify:track:a", "A")]))
    provider = ExportifyProvider(path)
    first = next(iter(provider.iter_playlists())).snapshot_id
    assert next(iter(provider.iter_playlists())).snapshot_id == first
    write(path, csv_text([row("spotify:track:a", "A"), row("spotify:track:b", "B")]))
    (playlist,) = provider.iter_playlists()
    assert playlist.snapshot_id != first and playlist.track_count == 2
    assert [t.id for t in valid(tracks_of(provider, "p"))] == ["a", "b"]


def test_exportify_header_only_file_is_an_empty_playlist(tmp_path: Path) -> None:
    provider = ExportifyProvider(write(tmp_path / "empty_list.csv", csv_text([])))
    (playlist,) = provider.iter_playlists()
    assert playlist.track_count == 0 and list(provider.iter_tracks("empty_list")) == []


def test_exportify_unknown_playlist_id_is_a_provider_error(tmp_path: Path) -> None:
    provider = ExportifyProvider(write(tmp_path / "p.csv", csv_text([])))
    with pytest.raises(ProviderError, match="'nope'"):
        list(provider.iter_tracks("nope"))


@pytest.mark.parametrize("playlist_id", ["../outside", "sub/inner", ".hidden"])
def test_exportify_playlist_ids_never_reach_outside_the_folder(
    tmp_path: Path, playlist_id: str
) -> None:
    for name in ("outside.csv", "lists/sub/inner.csv", "lists/.hidden.csv", "lists/p.csv"):
        write(tmp_path / name, csv_text([row("spotify:track:x", name)]))
    provider = ExportifyProvider(tmp_path / "lists")
    with pytest.raises(ProviderError):
        list(provider.iter_tracks(playlist_id))
    assert [t.title for t in valid(tracks_of(provider, "p"))] == ["lists/p.csv"]


# -- Exportify: structural errors ---------------------------------------------------------


def test_exportify_missing_path_names_the_path(tmp_path: Path) -> None:
    error = import_error(ExportifyProvider(tmp_path / "gone.csv"))
    assert str(tmp_path / "gone.csv") in str(error) and "does not exist" in str(error)


def test_exportify_non_utf8_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(csv_text([row("a", "ok"), row("b", "Caf\u00e9")]).encode("latin-1"))
    error = import_error(ExportifyProvider(path))
    assert (error.path, error.line) == (str(path), 3)
    assert "UTF-8" in str(error) and f"{path}, line 3" in str(error)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n \r\n"])
def test_exportify_empty_file_is_an_import_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    error = import_error(ExportifyProvider(path))
    assert error.path == str(path) and "empty" in str(error) and "Track URI" in str(error)


def test_exportify_missing_columns_are_listed_with_the_expected_header(tmp_path: Path) -> None:
    path = write(tmp_path / "odd.csv", csv_text([["x", "y"]], header=("Track URI", "Album")))
    provider = ExportifyProvider(path)
    with pytest.raises(ImportFileError) as caught:
        next(iter(provider.iter_playlists()))  # the header is checked while listing
    message = str(caught.value)
    assert caught.value.line == 1 and str(path) in message
    assert "'Track Name'" in message and "'Artist Name(s)'" in message
    assert "'Track URI'" not in message.split("the header has")[0]
    assert ",".join(EXPORTIFY_HEADER) in message


def test_exportify_row_with_wrong_field_count_names_its_first_line(tmp_path: Path) -> None:
    # The second record spans lines 3-4 (a quoted newline), so the broken one starts on 5.
    text = csv_text([row("a", "ok"), row("b", "two\nlines")]) + "c,too,few\n"
    path = write(tmp_path / "broken.csv", text)
    error = import_error(ExportifyProvider(path))
    assert (error.path, error.line) == (str(path), 5)
    assert "3 fields" in str(error) and f"{len(HEADER)}" in str(error)


def test_exportify_bad_file_in_a_folder_fails_the_listing(tmp_path: Path) -> None:
    write(tmp_path / "a_good.csv", csv_text([row("a", "ok")]))
    write(tmp_path / "b_bad.csv", "Name,Artist\nx,y\n")
    with pytest.raises(ImportFileError, match="b_bad.csv"):
        list(ExportifyProvider(tmp_path).iter_playlists())


def test_exportify_empty_folder_is_an_import_error(tmp_path: Path) -> None:
    write(tmp_path / "readme.txt", "hi")
    error = import_error(ExportifyProvider(tmp_path))
    assert error.path == str(tmp_path) and "no .csv files" in str(error)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs file permissions")
def test_exportify_unreadable_file_is_an_import_error(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.csv", csv_text([]))
    path.chmod(0)
    try:
        error = import_error(ExportifyProvider(path))
    finally:
        path.chmod(0o600)
    assert error.path == str(path) and "cannot read" in str(error)


# -- MPD slices ---------------------------------------------------------------------------


def mpd_track(pos: int, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "pos": pos,
        "artist_name": "Artist",
        "track_uri": f"spotify:track:{name.lower()}",
        "artist_uri": "spotify:artist:a",
        "track_name": name,
        "album_uri": "spotify:album:b",
        "duration_ms": 200000 + pos,
        "album_name": "Album",
        **extra,
    }


def mpd_playlist(pid: int, name: str, tracks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "collaborative": "false",
        "pid": pid,
        "modified_at": 1493424000,
        "num_tracks": len(tracks),
        "num_albums": 1,
        "num_followers": 1,
        "num_edits": 1,
        "duration_ms": 0,
        "num_artists": 1,
        "tracks": tracks,
        **extra,
    }


def write_slice(path: Path, playlists: list[dict[str, Any]], **dump: Any) -> Path:
    document = {"info": {"slice": "0-999", "version": "v1"}, "playlists": playlists}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, **dump), encoding="utf-8")
    return path


def test_mpd_slice_lists_its_playlists(tmp_path: Path) -> None:
    path = write_slice(
        tmp_path / "mpd.slice.0-999.json",
        [
            mpd_playlist(5, "musical", [mpd_track(0, "A")], description="show tunes"),
            mpd_playlist(7, "Throwbacks", []),
        ],
    )
    playlists = [as_playlist(p) for p in MpdSliceProvider(path).iter_playlists()]
    assert [(p.id, p.name, p.description, p.track_count) for p in playlists] == [
        ("5", "musical", "show tunes", 1),
        ("7", "Throwbacks", None, 0),
    ]
    assert all(len(p.snapshot_id or "") == 64 for p in playlists)


def test_mpd_tracks_are_ordered_by_pos_with_fields_mapped(tmp_path: Path) -> None:
    tracks = [mpd_track(2, "C"), mpd_track(0, "A"), mpd_track(1, "B"), mpd_track(3, "A")]
    path = write_slice(tmp_path / "s.json", [mpd_playlist(1, "p", tracks)])
    result = valid(tracks_of(MpdSliceProvider(path), "1"))
    assert [t.id for t in result] == ["a", "b", "c", "a"]
    assert result[0] == ProviderTrack(
        id="a", title="A", artists=("Artist",), album="Album", duration_ms=200000
    )


def test_mpd_snapshot_follows_content_not_formatting(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    playlists = [mpd_playlist(1, "p", [mpd_track(0, "A")])]
    provider = MpdSliceProvider(write_slice(path, playlists))
    first = as_playlist(next(iter(provider.iter_playlists())))
    write_slice(path, playlists, indent=2)
    assert as_playlist(next(iter(provider.iter_playlists()))) == first
    playlists[0]["tracks"].append(mpd_track(1, "B"))
    write_slice(path, playlists)
    changed = as_playlist(next(iter(provider.iter_playlists())))
    assert changed.snapshot_id != first.snapshot_id
    assert [t.id for t in valid(tracks_of(provider, "1"))] == ["a", "b"]


def test_mpd_folder_serves_tracks_while_listing(tmp_path: Path) -> None:
    write_slice(
        tmp_path / "mpd.slice.1000-1999.json", [mpd_playlist(1000, "late", [mpd_track(0, "Z")])]
    )
    write_slice(
        tmp_path / "mpd.slice.0-999.json",
        [
            mpd_playlist(1, "early", [mpd_track(0, "A")]),
            mpd_playlist(2, "two", [mpd_track(0, "B")]),
        ],
    )
    write_slice(tmp_path / "sub" / "mpd.slice.9-9.json", [mpd_playlist(9, "nested", [])])
    provider = MpdSliceProvider(tmp_path)
    seen = []
    for item in provider.iter_playlists():  # the sync engine fetches tracks mid-listing
        playlist_id = as_playlist(item).id
        seen.append((playlist_id, [t.id for t in valid(tracks_of(provider, playlist_id))]))
    assert seen == [("1", ["a"]), ("2", ["b"]), ("1000", ["z"])]
    assert [t.id for t in valid(tracks_of(provider, "1"))] == ["a"]  # back to the first slice
    assert [t.id for t in valid(tracks_of(MpdSliceProvider(tmp_path), "1000"))] == ["z"]


def test_mpd_bad_track_values_are_rejections(tmp_path: Path) -> None:
    tracks: list[Any] = [
        mpd_track(0, "A"),
        mpd_track(1, "B", track_name=""),
        mpd_track(2, "C", duration_ms="long"),
        "not a track",
    ]
    path = write_slice(tmp_path / "s.json", [mpd_playlist(3, "p", tracks)])
    results = tracks_of(MpdSliceProvider(path), "3")
    assert [type(r).__name__ for r in results] == [
        "ProviderTrack",
        "Rejection",
        "Rejection",
        "Rejection",
    ]


def test_mpd_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "info": {},\n  "playlists": [\n    {"pid": 1,,}\n  ]\n}\n')
    error = import_error(MpdSliceProvider(path))
    assert (error.path, error.line) == (str(path), 4)
    assert "not valid JSON" in str(error) and f"{path}, line 4" in str(error)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"info": {}}, "no 'playlists' key"),
        ({"playlists": {}}, "'playlists' is not a list"),
        ([1, 2], "found a list"),
        (
            {"playlists": [{"pid": 1, "tracks": []}, {"name": "x", "tracks": []}]},
            "playlists[1] has no 'pid' key",
        ),
        ({"playlists": [{"pid": 1, "name": "x"}]}, "playlists[0] has no 'tracks' key"),
        (
            {"playlists": [{"pid": 1, "tracks": []}, {"pid": 1, "tracks": []}]},
            "pid 1 appears twice",
        ),
    ],
)
def test_mpd_wrong_shape_names_the_missing_key(
    tmp_path: Path, document: Any, expected: str
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    error = import_error(MpdSliceProvider(path))
    assert error.path == str(path) and expected in str(error)


def test_mpd_pid_repeated_across_slices_is_an_import_error(tmp_path: Path) -> None:
    write_slice(tmp_path / "a.json", [mpd_playlist(1, "one", [])])
    write_slice(tmp_path / "b.json", [mpd_playlist(1, "again", [])])
    error = import_error(MpdSliceProvider(tmp_path))
    assert error.path == str(tmp_path / "b.json") and "also in a.json" in str(error)


def test_mpd_unknown_pid_is_a_provider_error(tmp_path: Path) -> None:
    provider = MpdSliceProvider(write_slice(tmp_path / "s.json", [mpd_playlist(1, "p", [])]))
    with pytest.raises(ProviderError, match="'42'"):
        list(provider.iter_tracks("42"))


# -- open_export --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "target", "kind", "name"),
    [
        (["p.csv"], "p.csv", ExportifyProvider, "exportify"),
        (["P.CSV"], "P.CSV", ExportifyProvider, "exportify"),
        (["s.json"], "s.json", MpdSliceProvider, "mpd"),
        (["a.csv", "b.csv", "notes.md"], ".", ExportifyProvider, "exportify"),
        (["a.json", "readme.txt"], ".", MpdSliceProvider, "mpd"),
    ],
)
def test_open_export_picks_the_provider_by_suffix(
    tmp_path: Path, files: list[str], target: str, kind: type, name: str
) -> None:
    for file in files:
        if file.lower().endswith(".json"):
            write_slice(tmp_path / file, [mpd_playlist(1, "p", [mpd_track(0, "A")])])
        else:
            write(tmp_path / file, csv_text([row("spotify:track:a", "A")]))
    provider = open_export(tmp_path / target)
    assert isinstance(provider, kind) and provider.name == name
    assert isinstance(provider, PlaylistProvider)
    assert list(provider.iter_playlists())
    assert open_export(str(tmp_path / target), name="mine").name == "mine"


@pytest.mark.parametrize(
    ("files", "target", "expected"),
    [
        (["list.txt"], "list.txt", "unknown export format '.txt'"),
        (["noext"], "noext", "unknown export format '(no suffix)'"),
        (["a.txt"], ".", "no .csv, .json or audio files"),
        ([], ".", "no .csv, .json or audio files"),
        (["a.csv", "b.json"], ".", "mixes .csv and .json"),
        ([], "missing.csv", "does not exist"),
    ],
)
def test_open_export_rejects_what_it_cannot_read(
    tmp_path: Path, files: list[str], target: str, expected: str
) -> None:
    for file in files:
        write(tmp_path / file, "x")
    with pytest.raises(ImportFileError) as caught:
        open_export(tmp_path / target)
    assert expected in str(caught.value)
    assert caught.value.path == str(tmp_path / target).removesuffix("/.")


# -- the sample library -------------------------------------------------------------------


def test_sample_provider_yields_twelve_playlists_of_valid_tracks() -> None:
    provider = sample_provider()
    assert provider.name == "sample"
    playlists = list(provider.iter_playlists())
    assert len(playlists) == 12
    memberships: Counter[str] = Counter()
    titles: set[str] = set()
    artists: set[str] = set()
    for playlist in playlists:
        tracks = valid(tracks_of(provider, playlist.id))
        assert len(tracks) == playlist.track_count and 10 <= len(tracks) <= 40
        memberships.update({t.id for t in tracks})
        titles.update(t.title for t in tracks)
        artists.update(a for t in tracks for a in t.artists)
        if playlist.id == "Party_Starters":
            assert max(Counter(t.id for t in tracks).values()) == 2  # one duplicate
        else:
            assert len({t.id for t in tracks}) == len(tracks)
    assert sum(1 for n in memberships.values() if n > 1) >= 10  # shared between playlists
    assert {
        "Déjà Vu",
        "東京ナイト",
        "Summer 1984 - 2015 Remaster",
        "Summer 1984 - Live at Wembley",
        "Golden Hour (feat. Mira Sol)",
    } <= titles
    assert {"Chloé Dufresne", "DJ Ørbit", "Mira Sol"} <= artists


def test_sample_path_is_a_folder_that_open_export_reads() -> None:
    with sample_path() as folder:
        assert len(list(folder.glob("*.csv"))) == 12
        provider = open_export(folder, name="demo")
        assert len(list(provider.iter_playlists())) == 12


def test_sample_files_match_the_generator_script() -> None:
    script = ROOT / "scripts" / "make_sample.py"
    if not script.is_file():
        pytest.skip("scripts/ is not part of this tree (sdist)")
    rendered = runpy.run_path(str(script))["render"]()
    shipped = {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sample_files().iterdir()
        if entry.name.endswith(".csv")
    }
    assert shipped == rendered, "run: python scripts/make_sample.py"
