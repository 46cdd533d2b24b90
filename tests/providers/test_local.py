"""LocalFilesProvider on real tagged files: tags, order, rejections, M3U files, safety."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harmony.errors import ImportFileError, InvalidInputError, ProviderError
from harmony.providers import (
    LocalFilesProvider,
    PlaylistProvider,
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    open_export,
)
from harmony.testing.audio import write_audio, write_flac, write_mp3, write_ogg


def tracks(provider: LocalFilesProvider, playlist_id: str) -> list[ProviderTrack | Rejection]:
    return list(provider.iter_tracks(playlist_id))


def accepted(items: list[Any]) -> list[ProviderTrack]:
    return [item for item in items if isinstance(item, ProviderTrack)]


def rejected(items: list[Any]) -> dict[str | None, str]:
    return {item.item_id: item.reason for item in items if isinstance(item, Rejection)}


def playlists(provider: LocalFilesProvider) -> dict[str | None, ProviderPlaylist | Rejection]:
    return {
        item.id if isinstance(item, ProviderPlaylist) else item.item_id: item
        for item in provider.iter_playlists()
    }


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    root.mkdir()
    return root


# -- tags ------------------------------------------------------------------------------------


def test_is_a_playlist_provider_named_local_by_default(music: Path) -> None:
    provider = LocalFilesProvider(music)
    assert isinstance(provider, PlaylistProvider) and provider.name == "local"
    assert LocalFilesProvider(music, name="nas").name == "nas"
    assert provider.root == music


def test_reads_title_artists_album_duration_isrc_and_year_from_every_format(music: Path) -> None:
    album = music / "Chloé Dufresne" / "Café de Flore"
    write_flac(
        album / "a.flac",
        title="Rue des Lilas",
        artists=["Chloé Dufresne"],
        album="Café de Flore",
        isrc="ZZMBL1800020",
        track_number=1,
        year=2018,
        duration_ms=262_072,
    )
    write_mp3(
        album / "b.mp3",
        title="Déjà Vu",
        artists=["Chloé Dufresne", "Kato Lane"],
        album="Café de Flore",
        isrc="ZZMBL1800018",
        track_number=2,
        year=2018,
        duration_ms=286_776,
    )
    write_ogg(
        album / "c.ogg",
        title="Naïve",
        artists=["Chloé Dufresne"],
        album="Café de Flore",
        track_number=3,
        year=2018,
        duration_ms=265_620,
    )
    write_audio(
        album / "d.m4a",
        title="東京ナイト",
        artists=["Hikari"],
        album="光",
        isrc="ZZSKS2000041",
        track_number=4,
        year=2020,
        duration_ms=164_252,
    )
    provider = LocalFilesProvider(music)
    (playlist,) = provider.iter_playlists()
    assert isinstance(playlist, ProviderPlaylist)
    assert (playlist.id, playlist.name, playlist.track_count) == (
        "Chloé Dufresne/Café de Flore",
        "Chloé Dufresne/Café de Flore",
        4,
    )
    got = tracks(provider, playlist.id)
    assert [t.model_dump(exclude={"added_at"}) for t in accepted(got)] == [
        {
            "id": "Chloé Dufresne/Café de Flore/a.flac",
            "title": "Rue des Lilas",
            "artists": ("Chloé Dufresne",),
            "album": "Café de Flore",
            "duration_ms": 262_072,
            "isrc": "ZZMBL1800020",
            "year": 2018,
        },
        {
            "id": "Chloé Dufresne/Café de Flore/b.mp3",
            "title": "Déjà Vu",
            "artists": ("Chloé Dufresne", "Kato Lane"),
            "album": "Café de Flore",
            "duration_ms": 286_776,
            "isrc": "ZZMBL1800018",
            "year": 2018,
        },
        {
            "id": "Chloé Dufresne/Café de Flore/c.ogg",
            "title": "Naïve",
            "artists": ("Chloé Dufresne",),
            "album": "Café de Flore",
            "duration_ms": 265_620,
            "isrc": None,
            "year": 2018,
        },
        {
            "id": "Chloé Dufresne/Café de Flore/d.m4a",
            "title": "東京ナイト",
            "artists": ("Hikari",),
            "album": "光",
            "duration_ms": 164_252,
            "isrc": "ZZSKS2000041",
            "year": 2020,
        },
    ]


def test_a_folder_is_ordered_by_disc_then_track_number_then_natural_file_name(music: Path) -> None:
    write_flac(music / "z.flac", title="Two", track_number=2)
    write_flac(music / "a.flac", title="Three", track_number=3)
    write_flac(music / "m.flac", title="One", track_number=1)
    write_flac(music / "track 10.flac", title="No number, 10")
    write_flac(music / "track 9.flac", title="No number, 9")
    provider = LocalFilesProvider(music)
    assert [t.title for t in accepted(tracks(provider, "."))] == [
        "One",
        "Two",
        "Three",
        "No number, 9",
        "No number, 10",
    ]


def test_isrcs_are_normalised_and_bad_ones_dropped_and_picard_artists_preferred(
    music: Path,
) -> None:
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3, TXXX

    write_mp3(
        music / "a.mp3", title="A", artists=["Kato Lane feat. Mira Sol"], isrc="us-rc1-76-07839"
    )
    id3 = ID3(music / "a.mp3")
    id3.add(TXXX(encoding=3, desc="ARTISTS", text=["Kato Lane", "Mira Sol"]))
    id3.save()
    write_flac(music / "b.flac", title="B", artists=["X"], isrc="not an isrc", year=1999)
    flac = FLAC(music / "b.flac")
    flac["artists"] = ["X", "Y"]
    flac["date"] = ["1999-05-02"]
    flac.save()
    a, b = accepted(tracks(LocalFilesProvider(music), "."))
    assert (a.isrc, a.artists) == ("USRC17607839", ("Kato Lane", "Mira Sol"))
    assert (b.isrc, b.artists, b.year) == (None, ("X", "Y"), 1999)


# -- rejections ------------------------------------------------------------------------------


def test_unreadable_and_tagless_files_are_rejected_one_by_one_with_the_reason(music: Path) -> None:
    write_flac(music / "01 good.flac", title="Good", artists=["A"])
    (music / "02 garbage.mp3").write_bytes(b"this is not audio at all" * 20)
    truncated = write_flac(music / "03 truncated.flac", title="T").read_bytes()[:20]
    (music / "03 truncated.flac").write_bytes(truncated)
    write_ogg(music / "04 tagless.ogg")
    write_mp3(music / "05 artist only.mp3", artists=["Someone"])
    (music / "06 empty.m4a").write_bytes(b"")
    got = tracks(LocalFilesProvider(music), ".")
    assert [t.title for t in accepted(got)] == ["Good"]
    reasons = rejected(got)
    assert set(reasons) == {
        "02 garbage.mp3",
        "03 truncated.flac",
        "04 tagless.ogg",
        "05 artist only.mp3",
        "06 empty.m4a",
    }
    assert reasons["02 garbage.mp3"] == "cannot read the audio file (can't sync to MPEG frame)"
    assert reasons["03 truncated.flac"].startswith("cannot read the audio file")
    assert reasons["06 empty.m4a"].startswith(("cannot read the audio file", "not a readable"))
    assert "no title tag" in reasons["04 tagless.ogg"]
    assert "no title tag" in reasons["05 artist only.mp3"]
    assert all(item.playlist_id == "." for item in got if isinstance(item, Rejection))


def test_non_utf8_names_are_rejected_not_stored_and_never_crash(music: Path) -> None:
    bad = os.fsdecode(b"caf\xe9.flac")  # Latin-1, as an old Windows share writes it
    write_flac(music / "ok.flac", title="Fine")
    write_flac(music / bad, title="Bad name")
    bad_folder = music / os.fsdecode(b"d\xe9mos")
    write_flac(bad_folder / "x.flac", title="In a bad folder")
    provider = LocalFilesProvider(music)
    listed = list(provider.iter_playlists())
    assert [p.id for p in listed if isinstance(p, ProviderPlaylist)] == ["."]
    (folder_rejection,) = [p for p in listed if isinstance(p, Rejection)]
    # No id: the sync then removes nothing, since what the folder holds is unknown.
    assert folder_rejection.item_id is None and "d\ufffdmos" in folder_rejection.reason
    assert "not valid UTF-8" in folder_rejection.reason
    got = tracks(provider, ".")
    assert [t.id for t in accepted(got)] == ["ok.flac"]
    assert rejected(got) == {
        "caf\ufffd.flac": "the file name is not valid UTF-8; rename it (harmony stores names "
        "as UTF-8 text)"
    }


def test_symbolic_links_never_lead_out_of_the_root(tmp_path: Path, music: Path) -> None:
    outside = tmp_path / "outside"
    write_flac(outside / "secret.flac", title="Outside")
    write_flac(music / "inside.flac", title="Inside")
    (music / "escape.flac").symlink_to(outside / "secret.flac")
    (music / "alias.flac").symlink_to(music / "inside.flac")
    (music / "dangling.flac").symlink_to(tmp_path / "nowhere.flac")
    (music / "linked folder").symlink_to(outside, target_is_directory=True)
    provider = LocalFilesProvider(music)
    assert set(playlists(provider)) == {"."}  # the linked folder is not followed
    got = tracks(provider, ".")
    assert sorted(t.id for t in accepted(got)) == ["alias.flac", "inside.flac"]
    reasons = rejected(got)
    assert "outside the music folder" in reasons["escape.flac"]
    assert "dangling.flac" in reasons
    with pytest.raises(ProviderError, match="no folder playlist 'linked folder'"):
        tracks(provider, "linked folder")


@pytest.mark.parametrize("bad_id", ["..", "../outside", "/etc", "a/../..", "a//b", "", "x\x00"])
def test_playlist_and_track_ids_cannot_name_paths_outside_the_root(
    music: Path, bad_id: str
) -> None:
    provider = LocalFilesProvider(music)
    with pytest.raises(ProviderError, match="no playlist|no folder playlist"):
        tracks(provider, bad_id)
    with pytest.raises(InvalidInputError):
        provider.path_of(bad_id)


def test_hidden_entries_and_other_files_are_ignored(music: Path) -> None:
    write_flac(music / "a.flac", title="A")
    write_flac(music / ".hidden.flac", title="Hidden")
    write_flac(music / ".Trash" / "old.flac", title="Old")
    (music / "cover.jpg").write_bytes(b"\xff\xd8")
    (music / "notes.txt").write_text("hi")
    provider = LocalFilesProvider(music)
    assert set(playlists(provider)) == {"."}
    assert [t.title for t in accepted(tracks(provider, "."))] == ["A"]


# -- M3U playlists ---------------------------------------------------------------------------


def test_m3u_files_in_the_tree_are_playlists_in_their_own_order(
    tmp_path: Path, music: Path
) -> None:
    write_flac(music / "Artist" / "Album" / "01 a.flac", title="A")
    write_mp3(music / "Artist" / "Album" / "02 b.mp3", title="B")
    write_flac(tmp_path / "elsewhere.flac", title="Elsewhere")
    lists = music / "Playlists"
    lists.mkdir()
    (lists / "Mix.m3u8").write_text(
        "#EXTM3U\n#EXTINF:10,whatever\n../Artist/Album/02 b.mp3\n"
        f"{music}/Artist/Album/01 a.flac\n"
        f"{(music / 'Artist' / 'Album' / '02 b.mp3').as_uri()}\n"
        "../Artist/Album/02 b.mp3\n"  # duplicates keep their place
        "https://example.com/stream.mp3\n../../elsewhere.flac\n../Artist/missing.flac\n"
        "../Artist/Album\nC:\\Music\\x.mp3\n",
        encoding="utf-8",
    )
    (lists / "old.m3u").write_bytes("Artist\\Album\\01 a.flac\r\n".encode("latin-1"))
    provider = LocalFilesProvider(music)
    found = playlists(provider)
    assert set(found) == {"Artist/Album", "Playlists/Mix.m3u8", "Playlists/old.m3u"}
    mix = found["Playlists/Mix.m3u8"]
    assert isinstance(mix, ProviderPlaylist) and (mix.name, mix.track_count) == ("Mix", 9)
    got = tracks(provider, "Playlists/Mix.m3u8")
    assert [t.id for t in accepted(got)] == [
        "Artist/Album/02 b.mp3",
        "Artist/Album/01 a.flac",
        "Artist/Album/02 b.mp3",
        "Artist/Album/02 b.mp3",
    ]
    reasons = rejected(got)
    assert reasons["https://example.com/stream.mp3"].startswith("not a local file")
    assert "outside the music folder" in reasons["../../elsewhere.flac"]
    assert reasons["../Artist/missing.flac"].startswith("the file cannot be found")
    assert reasons["../Artist/Album"].startswith("not an audio file")
    assert reasons["C:\\Music\\x.mp3"].startswith("a Windows path")
    # A Windows-written .m3u in Latin-1 with backslashes resolves relative to its folder.
    assert [r for r in tracks(provider, "Playlists/old.m3u") if isinstance(r, Rejection)]
    (lists / "old.m3u").write_bytes("../Artist/Album/01 a.flac\r\n".encode("latin-1"))
    assert [t.id for t in accepted(tracks(provider, "Playlists/old.m3u"))] == [
        "Artist/Album/01 a.flac"
    ]


def test_an_m3u_snapshot_changes_when_a_listed_file_is_retagged(music: Path) -> None:
    write_flac(music / "a" / "x.flac", title="X")
    (music / "list.m3u8").write_text("a/x.flac\n", encoding="utf-8")
    provider = LocalFilesProvider(music)
    before = playlists(provider)["list.m3u8"]
    write_flac(music / "a" / "x.flac", title="X, retagged")
    _bump_mtime(music / "a" / "x.flac")
    after = playlists(provider)["list.m3u8"]
    assert isinstance(before, ProviderPlaylist) and isinstance(after, ProviderPlaylist)
    assert before.snapshot_id != after.snapshot_id


def test_an_undecodable_m3u8_is_a_rejected_playlist(music: Path) -> None:
    (music / "bad.m3u8").write_bytes(b"caf\xe9.flac\n")
    found = playlists(LocalFilesProvider(music))
    assert isinstance(found["bad.m3u8"], Rejection)
    assert "cannot read the playlist file" in found["bad.m3u8"].reason


# -- the root --------------------------------------------------------------------------------


def test_a_missing_root_or_a_file_as_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"music folder .*missing.* does not exist"):
        LocalFilesProvider(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvalidInputError, match="is not a folder"):
        LocalFilesProvider(tmp_path / "file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its mode")
def test_an_unreadable_root_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        with pytest.raises(InvalidInputError, match="cannot read the music folder"):
            LocalFilesProvider(locked)
    finally:
        locked.chmod(0o755)


def test_a_root_that_disappears_fails_the_listing_instead_of_looking_empty(music: Path) -> None:
    write_flac(music / "a.flac", title="A")
    provider = LocalFilesProvider(music)
    music.rename(music.with_name("unmounted"))
    with pytest.raises(ProviderError, match="does not exist"):
        list(provider.iter_playlists())


def test_path_of_gives_the_file_of_a_track_id(music: Path) -> None:
    write_flac(music / "A" / "x y.flac", title="X")
    provider = LocalFilesProvider(music)
    (track,) = accepted(tracks(provider, "A"))
    assert provider.path_of(track.id) == music / "A" / "x y.flac"


# -- incremental reads -----------------------------------------------------------------------


def _bump_mtime(path: Path, seconds: int = 5) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + seconds * 10**9))


def test_listing_playlists_reads_no_tags_and_unchanged_files_are_not_read_again(
    music: Path,
) -> None:
    for n in range(3):
        write_flac(music / f"{n}.flac", title=f"T{n}")
    provider = LocalFilesProvider(music)
    snapshot = playlists(provider)["."]
    assert provider.tag_reads == 0  # stat() only
    assert len(accepted(tracks(provider, "."))) == 3 and provider.tag_reads == 3
    # Same size and mtime: the cached tags are used, even though the bytes now differ.
    target = music / "1.flac"
    info = target.stat()
    target.write_bytes(b"x" * info.st_size)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert playlists(provider)["."] == snapshot
    assert [t.title for t in accepted(tracks(provider, "."))] == ["T0", "T1", "T2"]
    assert provider.tag_reads == 3
    # A changed file is read again, alone.
    write_flac(music / "2.flac", title="T2 retagged")
    _bump_mtime(music / "2.flac")
    assert playlists(provider)["."] != snapshot
    assert [t.title for t in accepted(tracks(provider, "."))] == ["T0", "T1", "T2 retagged"]
    assert provider.tag_reads == 4


def test_cache_size_zero_reads_every_time(music: Path) -> None:
    write_flac(music / "a.flac", title="A")
    provider = LocalFilesProvider(music, cache_size=0)
    tracks(provider, ".")
    tracks(provider, ".")
    assert provider.tag_reads == 2
    with pytest.raises(InvalidInputError, match="cache_size"):
        LocalFilesProvider(music, cache_size=-1)


# -- open_export -----------------------------------------------------------------------------


def test_open_export_takes_a_folder_of_music_files_for_the_local_provider(
    tmp_path: Path, music: Path
) -> None:
    write_flac(music / "Artist" / "Album" / "a.flac", title="A")
    provider = open_export(music)
    assert isinstance(provider, LocalFilesProvider) and provider.name == "local"
    assert open_export(music, name="nas").name == "nas"
    with pytest.raises(ImportFileError, match="one audio file is not a library"):
        open_export(music / "Artist" / "Album" / "a.flac")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFileError, match="no .csv, .json or audio files"):
        open_export(tmp_path / "empty")


def test_an_absurd_declared_length_drops_the_duration_not_the_track(music: Path) -> None:
    path = write_mp3(music / "a.mp3", title="Endless", duration_ms=1000)
    data = bytearray(path.read_bytes())
    at = data.index(b"Xing") + 8
    data[at : at + 4] = b"\xff\xff\xff\xff"  # 4.3 billion frames: about 3.3 years
    path.write_bytes(bytes(data))
    (track,) = accepted(tracks(LocalFilesProvider(music), "."))
    assert (track.title, track.duration_ms) == ("Endless", None)
