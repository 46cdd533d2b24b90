"""Syncing a music folder (LocalFilesProvider) on SQLite and PostgreSQL: what is stored,
what is rejected, and that a rescan reads only what changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harmony import HarmonyContext, SyncFailed, SyncProgress
from harmony.providers import LocalFilesProvider
from harmony.providers.sample.music import write_sample_music
from harmony.testing import RecordingEventLogger
from harmony.testing.audio import write_flac, write_m4a, write_mp3, write_ogg
from tests.sync.conftest import MakeContext


def _library(root: Path) -> None:
    write_flac(
        root / "Aurora Vale" / "Neon Harbor" / "01 Glass Ocean.flac",
        title="Glass Ocean",
        artists=["Aurora Vale"],
        album="Neon Harbor",
        isrc="ZZNHR1600004",
        track_number=1,
        year=2016,
        duration_ms=271_702,
    )
    write_mp3(
        root / "Aurora Vale" / "Neon Harbor" / "02 Afterglow.mp3",
        title="Afterglow",
        artists=["Aurora Vale"],
        album="Neon Harbor",
        track_number=2,
        duration_ms=183_840,
    )
    write_ogg(
        root / "Hikari" / "光" / "01 東京ナイト.ogg",
        title="東京ナイト",
        artists=["Hikari"],
        album="光",
        isrc="ZZSKS2000041",
        duration_ms=164_252,
    )
    write_m4a(
        root / "Singles" / "Golden Hour.m4a",
        title="Golden Hour",
        artists=["Kato Lane", "Mira Sol"],
        duration_ms=143_070,
    )
    write_ogg(root / "Singles" / "untagged.ogg")


def _ids(ctx: HarmonyContext) -> dict[str, int]:
    page = ctx.playlists.repository.list_page(provider="local", status="all", limit=500)
    return {p.provider_id: p.id for p in page}


def _bump(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 5 * 10**9))


def test_a_music_folder_syncs_folders_as_playlists_with_paths_as_track_ids(
    make_context: MakeContext, tmp_path: Path
) -> None:
    _library(tmp_path / "music")
    ctx = make_context({"local": LocalFilesProvider(tmp_path / "music")})
    report = ctx.sync.run_once()
    assert (report.created, report.rejected) == (3, 1)
    (rejection,) = report.rejections
    assert (rejection.item_id, rejection.playlist_id) == ("Singles/untagged.ogg", "Singles")
    assert "no title tag" in rejection.reason
    ids = _ids(ctx)
    assert set(ids) == {"Aurora Vale/Neon Harbor", "Hikari/光", "Singles"}
    album = ctx.playlists.get(ids["Aurora Vale/Neon Harbor"])
    assert [(t.provider_id, t.title, t.duration_ms, t.isrc, t.year) for t in album.tracks] == [
        (
            "Aurora Vale/Neon Harbor/01 Glass Ocean.flac",
            "Glass Ocean",
            271_702,
            "ZZNHR1600004",
            2016,
        ),
        ("Aurora Vale/Neon Harbor/02 Afterglow.mp3", "Afterglow", 183_840, None, None),
    ]
    single = ctx.playlists.get(ids["Singles"]).tracks[0]
    assert single.artists == ("Kato Lane", "Mira Sol") and single.provider == "local"


def test_a_rescan_skips_unchanged_folders_without_reading_a_tag(
    make_context: MakeContext, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    _library(music)
    ctx = make_context({"local": LocalFilesProvider(music)})
    ctx.sync.run_once()
    # A new provider object, as a new process would have: no tag cache to lean on.
    fresh = LocalFilesProvider(music)
    seen: list[SyncProgress] = []
    with HarmonyContext(ctx.settings, providers={"local": fresh}) as again:
        report = again.sync.run_once(progress=seen.append)
        assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
        assert fresh.tag_reads == 0 and seen[-1].tracks_fetched == 0
        # Retag one file: only its folder is read, and of that folder only what changed
        # since this provider last read it (here: all of it, this provider never read it).
        write_mp3(
            music / "Aurora Vale" / "Neon Harbor" / "02 Afterglow.mp3",
            title="Afterglow",
            artists=["Aurora Vale"],
            album="Neon Harbor",
            track_number=2,
            year=2016,
            duration_ms=183_840,
        )
        _bump(music / "Aurora Vale" / "Neon Harbor" / "02 Afterglow.mp3")
        report = again.sync.run_once()
        assert (report.updated, report.unchanged) == (1, 2)
        assert fresh.tag_reads == 2
        # Within a long-lived provider an unchanged file is not read twice.
        _bump(music / "Aurora Vale" / "Neon Harbor" / "01 Glass Ocean.flac")
        report = again.sync.run_once()
        assert fresh.tag_reads == 3
        album = again.playlists.get(_ids(again)["Aurora Vale/Neon Harbor"])
        assert [t.year for t in album.tracks] == [2016, 2016]


def test_a_removed_file_and_a_removed_folder_are_synced(
    make_context: MakeContext, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    _library(music)
    ctx = make_context({"local": LocalFilesProvider(music)})
    ctx.sync.run_once()
    (music / "Aurora Vale" / "Neon Harbor" / "02 Afterglow.mp3").unlink()
    for path in (music / "Hikari" / "光").iterdir():
        path.unlink()
    report = ctx.sync.run_once()
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 1)
    album = ctx.playlists.get(_ids(ctx)["Aurora Vale/Neon Harbor"])
    assert [t.title for t in album.tracks] == ["Glass Ocean"]


def test_an_unmounted_music_folder_fails_the_sync_and_removes_nothing(
    make_context: MakeContext, tmp_path: Path, harmony_events: RecordingEventLogger
) -> None:
    music = tmp_path / "music"
    _library(music)
    ctx = make_context({"local": LocalFilesProvider(music)})
    ctx.sync.run_once()
    music.rename(tmp_path / "elsewhere")
    with pytest.raises(SyncFailed, match="does not exist") as failed:
        ctx.sync.run_once()
    assert failed.value.report.failed.keys() == {"local"}  # type: ignore[attr-defined]
    assert ctx.playlists.count(status="active") == 3 and ctx.playlists.count(status="removed") == 0


def test_an_unreadable_folder_protects_every_stored_playlist_from_removal(
    make_context: MakeContext, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    _library(music)
    ctx = make_context({"local": LocalFilesProvider(music)})
    ctx.sync.run_once()
    # A folder whose name is not UTF-8 cannot be a playlist; its subtree is unknown, so the
    # sync removes nothing while it is there (the Singles folder is gone meanwhile).
    write_flac(music / os.fsdecode(b"d\xe9mos") / "x.flac", title="X")
    for path in (music / "Singles").iterdir():
        path.unlink()
    report = ctx.sync.run_once()
    assert report.rejected == 1 and report.removed == 0
    assert "not valid UTF-8" in report.rejections[0].reason


def test_the_sample_music_syncs_without_rejections(
    make_context: MakeContext, tmp_path: Path
) -> None:
    music = write_sample_music(tmp_path / "music")
    assert len(music.files) == 81 and len(music.left_out) == 8
    ctx = make_context({"local": LocalFilesProvider(music.folder)})
    report = ctx.sync.run_once()
    assert report.rejected == 0 and ctx.tracks.count() == 81
    # Deterministic: writing again gives the same files, so a rescan changes nothing.
    assert write_sample_music(tmp_path / "again").files == tuple(
        tmp_path / "again" / p.relative_to(music.folder) for p in music.files
    )
