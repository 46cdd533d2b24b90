"""ctx.export.playlist on SQLite and PostgreSQL: M3U8, XSPF and CSV content line by line,
the Exportify round trip, atomic change-only rewrites, missing entries and bad input."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from harmony import (
    HarmonyContext,
    InvalidInputError,
    NotFoundError,
    PlaylistDetail,
    UnknownProviderError,
)
from harmony.providers import (
    ExportifyProvider,
    LocalFilesProvider,
    coerce_track,
    sample_provider,
)
from harmony.providers.sample.music import write_sample_music
from harmony.testing import InMemoryProvider, RecordingEventLogger
from harmony.testing.audio import write_flac, write_mp3, write_ogg
from harmony.testing.pytest_plugin import ContextFactory


@dataclass(frozen=True)
class Match:
    target_track_id: int | str
    status: str


class Matches:
    """The smallest real match lookup: a table of (source track id, target) -> match."""

    def __init__(self, pairs: dict[tuple[int, str], Match]) -> None:
        self.pairs = pairs

    def get(self, source_track_id: int, target: str) -> Match | None:
        return self.pairs.get((source_track_id, target))


def _album(music: Path) -> Path:
    album = music / "Aurora Vale" / "Neon Harbor"
    write_flac(
        album / "01 Glass Ocean.flac",
        title="Glass Ocean",
        artists=["Aurora Vale"],
        album="Neon Harbor",
        isrc="ZZNHR1600004",
        track_number=1,
        duration_ms=271_702,
    )
    write_mp3(
        album / "#2 hash & more.mp3",
        title='Afterglow <"live">',
        track_number=2,
        artists=["Aurora Vale", "Kato Lane"],
        duration_ms=183_840,
    )
    write_ogg(
        album / "03 line.ogg",
        title="Line\nbreak",
        artists=["Aurora Vale"],
        track_number=3,
        duration_ms=1_500,
    )
    return album


def _playlist_id(ctx: HarmonyContext, provider: str, provider_id: str) -> int:
    page = ctx.playlists.repository.list_page(provider=provider, status="all", limit=500)
    return next(p.id for p in page if p.provider_id == provider_id)


@pytest.fixture
def library(harmony_context_factory: ContextFactory, tmp_path: Path) -> tuple[HarmonyContext, Path]:
    music = tmp_path / "music"
    _album(music)
    ctx = harmony_context_factory(providers={"local": LocalFilesProvider(music)})
    ctx.sync.run_once()
    return ctx, music


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# -- M3U8 ------------------------------------------------------------------------------------


def test_m3u8_of_a_folder_playlist_lists_its_files_with_extinf(
    library: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    report = ctx.export.playlist(pid, tmp_path / "neon.m3u8")
    album = music / "Aurora Vale" / "Neon Harbor"
    assert (tmp_path / "neon.m3u8").read_text(encoding="utf-8").split("\n") == [
        "#EXTM3U",
        "#PLAYLIST:Aurora Vale/Neon Harbor",
        "#EXTINF:272,Aurora Vale - Glass Ocean",
        f"{album}/01 Glass Ocean.flac",
        '#EXTINF:184,Aurora Vale, Kato Lane - Afterglow <"live">',
        f"{album}/#2 hash & more.mp3",
        "#EXTINF:2,Aurora Vale - Line break",
        f"{album}/03 line.ogg",
        "",
    ]
    assert (report.path, report.format, report.target) == (tmp_path / "neon.m3u8", "m3u8", "local")
    assert (report.written, report.missing, report.changed) == (3, (), True)


def test_m3u8_paths_are_relative_to_the_base_and_never_read_as_comments(
    library: tuple[HarmonyContext, Path],
) -> None:
    ctx, music = library
    album = music / "Aurora Vale" / "Neon Harbor"
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    (music / "lists").mkdir()
    ctx.export.playlist(pid, music / "lists" / "x.m3u8", base=music)
    lines = (music / "lists" / "x.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[3::2] == [
        "Aurora Vale/Neon Harbor/01 Glass Ocean.flac",
        "Aurora Vale/Neon Harbor/#2 hash & more.mp3",
        "Aurora Vale/Neon Harbor/03 line.ogg",
    ]
    ctx.export.playlist(pid, album / "here.m3u8", base=album)
    lines = (album / "here.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[3::2] == ["01 Glass Ocean.flac", "./#2 hash & more.mp3", "03 line.ogg"]


# -- XSPF ------------------------------------------------------------------------------------


def test_xspf_is_escaped_xml_with_file_uris(
    library: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    ctx.export.playlist(pid, tmp_path / "neon.xspf", format="xspf")
    text = (tmp_path / "neon.xspf").read_text(encoding="utf-8")
    uri = (music / "Aurora Vale" / "Neon Harbor").as_uri()
    assert text.split("\n")[:16] == [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<playlist version="1" xmlns="http://xspf.org/ns/0/">',
        "  <title>Aurora Vale/Neon Harbor</title>",
        "  <trackList>",
        "    <track>",
        f"      <location>{uri}/01%20Glass%20Ocean.flac</location>",
        "      <title>Glass Ocean</title>",
        "      <creator>Aurora Vale</creator>",
        "      <album>Neon Harbor</album>",
        "      <duration>271702</duration>",
        "    </track>",
        "    <track>",
        f"      <location>{uri}/%232%20hash%20%26%20more.mp3</location>",
        '      <title>Afterglow &lt;"live"&gt;</title>',
        "      <creator>Aurora Vale, Kato Lane</creator>",
        "      <duration>183840</duration>",
    ]
    ns = {"x": "http://xspf.org/ns/0/"}
    tracks = ElementTree.fromstring(text.encode()).findall("x:trackList/x:track", ns)
    assert [t.findtext("x:title", namespaces=ns) for t in tracks] == [
        "Glass Ocean",
        'Afterglow <"live">',
        "Line\nbreak",
    ]


def test_xspf_replaces_characters_xml_cannot_hold(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> None:
    memory = InMemoryProvider()
    memory.set_playlist(
        "p", "Bell\x07 list", [{"id": "t", "title": "Ding\x07dong", "artists": ["A"]}]
    )
    (tmp_path / "music").mkdir()
    ctx = harmony_context_factory(
        providers={"memory": memory, "local": LocalFilesProvider(tmp_path / "music")}
    )
    ctx.sync.run_once()
    pid = _playlist_id(ctx, "memory", "p")
    with pytest.raises(InvalidInputError, match="'memory' .* has no files"):
        ctx.export.playlist(pid, tmp_path / "p.xspf", format="xspf", target="memory")
    # Unmatched, the track is still written: a track without a location, its title made valid.
    report = ctx.export.playlist(pid, tmp_path / "p.xspf", format="xspf")
    root = ElementTree.fromstring((tmp_path / "p.xspf").read_bytes())
    ns = {"x": "http://xspf.org/ns/0/"}
    assert root.findtext("x:title", namespaces=ns) == "Bell\ufffd list"
    assert root.findtext("x:trackList/x:track/x:title", namespaces=ns) == "Ding\ufffddong"
    assert len(report.missing) == 1 and report.written == 0


# -- CSV -------------------------------------------------------------------------------------


_TRICKY = [
    {
        "id": "4uLU6hMCjMI75M1A2tKUQC",
        "title": "Plain",
        "artists": ["Solo"],
        "album": "Alb",
        "duration_ms": 215000,
        "isrc": "ZZNHR1600004",
        "year": 2016,
        "added_at": datetime(2023, 1, 3, 10, 55, tzinfo=UTC),
    },
    {
        "id": "local/Some Artist/x.flac",
        "title": 'Say "Hi", then leave',
        "album": None,
        "artists": ["Crosby, Stills & Nash", "Young"],
        "duration_ms": None,
        "isrc": None,
        "year": None,
        "added_at": datetime(2023, 1, 4, 0, 0, 0, 250000, tzinfo=UTC),
    },
    {
        "id": "spotify:track:odd",
        "title": "Multi\nline",
        "artists": ["Ñandú"],
        "album": "光",
        "duration_ms": 1,
        "isrc": None,
        "year": 1999,
        "added_at": None,
    },
]


def _detail_tracks(detail: PlaylistDetail) -> list[dict[str, Any]]:
    return [
        t.model_dump(
            include={
                "provider_id",
                "title",
                "artists",
                "album",
                "duration_ms",
                "isrc",
                "year",
                "added_at",
            }
        )
        for t in detail.tracks
    ]


def test_csv_is_exportify_shaped_line_by_line_and_reads_back_the_same(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> None:
    memory = InMemoryProvider()
    memory.set_playlist("p", "Tricky", [*_TRICKY, _TRICKY[0]])  # a duplicate keeps its slot
    ctx = harmony_context_factory(providers={"memory": memory})
    ctx.sync.run_once()
    pid = _playlist_id(ctx, "memory", "p")
    report = ctx.export.playlist(pid, tmp_path / "Tricky.csv", format="csv", target=None)
    assert (report.target, report.written, report.missing) == ("memory", 4, ())
    header = (
        "Track URI,Track Name,Album Name,Artist Name(s),Release Date,Duration (ms),"
        "Popularity,Explicit,Added By,Added At,Genres,Record Label,ISRC"
    )
    plain = "spotify:track:4uLU6hMCjMI75M1A2tKUQC,Plain,Alb,Solo,2016,215000,,,,2023-01-03T10:55:00Z,,,ZZNHR1600004"
    # RFC 4180 line ends; the line break inside a title stays inside its quoted cell.
    assert (tmp_path / "Tricky.csv").read_bytes().decode("utf-8").split("\r\n") == [
        header,
        plain,
        'local/Some Artist/x.flac,"Say ""Hi"", then leave",,"Crosby\\, Stills & Nash,Young",,,'
        ",,,2023-01-04T00:00:00.250000Z,,,",
        'spotify:track:spotify:track:odd,"Multi\nline",光,Ñandú,1999,1,,,,,,,',
        plain,
        "",
    ]
    # Through the Exportify provider: the same tracks, in the same order.
    back = [
        coerce_track(t) for t in ExportifyProvider(tmp_path / "Tricky.csv").iter_tracks("Tricky")
    ]
    original = _detail_tracks(ctx.playlists.get(pid))
    assert [t.model_dump(exclude={"id"}) | {"provider_id": t.id} for t in back] == original  # type: ignore[union-attr]


def test_every_sample_playlist_round_trips_through_an_exportify_import(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> None:
    ctx = harmony_context_factory(providers={"sample": sample_provider()})
    ctx.sync.run_once()
    out = tmp_path / "exports"
    out.mkdir()
    page = ctx.playlists.repository.list_page(provider="sample", limit=500)
    for playlist in page:
        ctx.export.playlist(
            playlist.id, out / f"{playlist.provider_id}.csv", format="csv", target=None
        )
    again = harmony_context_factory(
        providers={"reimported": ExportifyProvider(out, name="reimported")}
    )
    assert again.sync.run_once().created == 12
    for playlist in page:
        back = again.playlists.get(_playlist_id(again, "reimported", playlist.provider_id))
        assert _detail_tracks(back) == _detail_tracks(ctx.playlists.get(playlist.id))
        assert back.name == playlist.name


# -- writes ----------------------------------------------------------------------------------


def test_a_re_export_of_an_unchanged_playlist_rewrites_nothing(
    library: tuple[HarmonyContext, Path], tmp_path: Path, harmony_events: RecordingEventLogger
) -> None:
    ctx, _music = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    target = tmp_path / "neon.m3u8"
    assert ctx.export.playlist(pid, target).changed
    target.chmod(0o640)
    before = target.stat()
    report = ctx.export.playlist(pid, target)
    after = target.stat()
    assert not report.changed and report.written == 3
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    statuses = [e.fields["status"] for e in harmony_events if e.name == "export.playlist"]
    assert statuses == ["written", "unchanged"]
    event = [e for e in harmony_events if e.name == "export.playlist"][-1]
    assert event.fields | {"duration_ms": 0} == {
        "entity_id": pid,
        "status": "unchanged",
        "format": "m3u8",
        "target": "local",
        "written_count": 3,
        "missing_count": 0,
        "duration_ms": 0,
    }


def test_a_changed_playlist_replaces_the_file_atomically(
    library: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    target = tmp_path / "neon.m3u8"
    ctx.export.playlist(pid, target)
    target.chmod(0o640)
    old_text = target.read_text(encoding="utf-8")
    before = target.stat()
    (music / "Aurora Vale" / "Neon Harbor" / "03 line.ogg").unlink()
    assert ctx.sync.run_once().updated == 1
    with open(target, encoding="utf-8") as reader:  # a player that had the file open
        report = ctx.export.playlist(pid, target)
        assert reader.read() == old_text  # still the whole old file: it was replaced, not edited
    after = target.stat()
    assert report.changed and report.written == 2
    assert after.st_ino != before.st_ino and stat.S_IMODE(after.st_mode) == 0o640
    assert "03 line.ogg" not in target.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_new_file_gets_the_usual_permissions(
    library: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, _ = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    ctx.export.playlist(pid, tmp_path / "new.m3u8")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "new.m3u8").stat().st_mode) == 0o666 & ~umask


# -- missing entries -------------------------------------------------------------------------


@pytest.fixture
def two_providers(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> tuple[HarmonyContext, Path]:
    music = write_sample_music(tmp_path / "music").folder
    ctx = harmony_context_factory(
        providers={"sample": sample_provider(), "local": LocalFilesProvider(music)}
    )
    ctx.sync.run_once()
    return ctx, music


def _isrc_matches(ctx: HarmonyContext, playlist: PlaylistDetail) -> dict[tuple[int, str], Match]:
    local: dict[str, int] = {}
    for summary in ctx.playlists.repository.list_page(provider="local", limit=500):
        for track in ctx.playlists.get(summary.id).tracks:
            if track.isrc:
                local[track.isrc] = track.id
    return {
        (t.id, "local"): Match(local[t.isrc], "auto") for t in playlist.tracks if t.isrc in local
    }


def test_unmatched_entries_are_reported_and_commented_never_dropped(
    two_providers: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = two_providers
    road = ctx.playlists.get(_playlist_id(ctx, "sample", "Road_Trip"))
    pairs = _isrc_matches(ctx, road)
    # One match rejected by hand, one given as a provider id rather than a harmony id.
    rejected_slot, by_provider_id = road.tracks[0], road.tracks[1]
    pairs[(rejected_slot.id, "local")] = Match(
        pairs[(rejected_slot.id, "local")].target_track_id, "rejected"
    )
    local_track = ctx.tracks.get(int(pairs[(by_provider_id.id, "local")].target_track_id))
    pairs[(by_provider_id.id, "local")] = Match(local_track.provider_id, "confirmed")
    ctx.export.matches = Matches(pairs)
    report = ctx.export.playlist(road.id, tmp_path / "road.m3u8")
    matched = {key[0] for key, m in pairs.items() if m.status != "rejected"}
    expected_missing = [i for i, t in enumerate(road.tracks) if t.id not in matched]
    assert [m.position for m in report.missing] == expected_missing and 0 in expected_missing
    assert report.written + len(report.missing) == len(road.tracks) == 30
    assert report.missing[0].reason == "the match to 'local' was rejected"
    assert {m.reason for m in report.missing[1:]} == {"not matched to 'local'"}
    lines = (tmp_path / "road.m3u8").read_text(encoding="utf-8").splitlines()
    first = road.tracks[0]
    assert (
        lines[2]
        == f"# missing: 1. {', '.join(first.artists)} - {first.title} (the match to 'local' was rejected)"
    )
    assert lines[3].startswith("#EXTINF:") and lines[4] == str(music / local_track.provider_id)
    assert sum(line.startswith("# missing: ") for line in lines) == len(report.missing)
    assert sum(line.startswith("#EXTINF:") for line in lines) == report.written
    # XSPF: the missing ones are tracks without a location; CSV: only the matched rows.
    ctx.export.playlist(road.id, tmp_path / "road.xspf", format="xspf")
    ns = {"x": "http://xspf.org/ns/0/"}
    xspf = ElementTree.parse(tmp_path / "road.xspf").getroot().findall("x:trackList/x:track", ns)
    assert [i for i, t in enumerate(xspf) if t.find("x:location", ns) is None] == expected_missing
    assert (
        xspf[0].findtext("x:annotation", namespaces=ns)
        == "missing: the match to 'local' was rejected"
    )
    report = ctx.export.playlist(road.id, tmp_path / "road.csv", format="csv")
    rows = (tmp_path / "road.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == report.written and rows[0].startswith(f"{local_track.provider_id},")


def test_entries_are_missing_until_ctx_matching_has_matched_them(
    two_providers: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = two_providers
    pid = _playlist_id(ctx, "sample", "Sunday_Jazz")
    report = ctx.export.playlist(pid, tmp_path / "jazz.m3u8")
    assert report.written == 0 and len(report.missing) == 12
    assert {m.reason for m in report.missing} == {"not matched to 'local'"}
    assert (tmp_path / "jazz.m3u8").read_text(encoding="utf-8").count("\n# missing: ") == 12
    # The export reads ctx.matching: after a run, the matched files are written.
    ctx.matching.run("sample", "local")
    jazz = ctx.playlists.get(pid)
    matched = ctx.matching.get_many([t.id for t in jazz.tracks], "local")
    assert matched, "the sample music holds files for most sample tracks"
    report = ctx.export.playlist(pid, tmp_path / "jazz.m3u8")
    assert report.changed and report.written == len(matched)
    assert [m.position for m in report.missing] == [
        i for i, t in enumerate(jazz.tracks) if t.id not in matched
    ]
    paths = [
        line
        for line in (tmp_path / "jazz.m3u8").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    expected = [
        str(music / ctx.tracks.get(matched[t.id].target_track_id).provider_id)
        for t in jazz.tracks
        if t.id in matched
    ]
    assert paths == expected


def test_a_file_deleted_since_the_sync_is_reported_missing(
    library: tuple[HarmonyContext, Path], tmp_path: Path
) -> None:
    ctx, music = library
    (music / "Aurora Vale" / "Neon Harbor" / "01 Glass Ocean.flac").unlink()
    report = ctx.export.playlist(
        _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor"), tmp_path / "x.m3u8"
    )
    (missing,) = report.missing
    assert (missing.position, missing.title, missing.provider_id) == (
        0,
        "Glass Ocean",
        "Aurora Vale/Neon Harbor/01 Glass Ocean.flac",
    )
    assert "no longer exists" in missing.reason and report.written == 2


# -- bad input: a clear error, nothing written -----------------------------------------------


def test_bad_input_raises_clearly_and_writes_nothing(
    library: tuple[HarmonyContext, Path], tmp_path: Path, harmony_events: RecordingEventLogger
) -> None:
    ctx, _music = library
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    base = tmp_path / "base"
    base.mkdir()
    (base / "keep.m3u8").write_text("old\n", encoding="utf-8")
    (base / "escape").symlink_to(tmp_path, target_is_directory=True)
    before = _files(tmp_path)
    cases: list[tuple[type[Exception], str, dict[str, Any]]] = [
        (InvalidInputError, "outside the export base", {"path": tmp_path / "x.m3u8", "base": base}),
        (
            InvalidInputError,
            "outside the export base",
            {"path": base / ".." / "x.m3u8", "base": base},
        ),
        (
            InvalidInputError,
            "outside the export base",
            {"path": base / "escape" / "x.m3u8", "base": base},
        ),
        (
            InvalidInputError,
            "is not an existing folder",
            {"path": base / "x.m3u8", "base": tmp_path / "nope"},
        ),
        (
            NotFoundError,
            "no playlist with id 999999",
            {"playlist_id": 999_999, "path": base / "keep.m3u8"},
        ),
        (InvalidInputError, "positive integers", {"playlist_id": 0, "path": base / "keep.m3u8"}),
        (
            UnknownProviderError,
            "no provider named 'spotify' is registered",
            {"path": base / "keep.m3u8", "target": "spotify"},
        ),
        (InvalidInputError, "format must be one of", {"path": base / "keep.m3u8", "format": "pls"}),
        (InvalidInputError, "which means csv", {"path": base / "x.csv"}),
        (InvalidInputError, "does not exist; create it first", {"path": base / "sub" / "x.m3u8"}),
        (InvalidInputError, "is a folder", {"path": base}),
        (
            InvalidInputError,
            "target must be a provider name",
            {"path": base / "keep.m3u8", "target": ""},
        ),
    ]
    for error, message, kwargs in cases:
        call = {"playlist_id": pid, **kwargs}
        with pytest.raises(error, match=message):
            ctx.export.playlist(call.pop("playlist_id"), call.pop("path"), **call)
    assert _files(tmp_path) == before
    assert not [e for e in harmony_events if e.name == "export.playlist"]


def test_an_m3u8_exported_into_the_music_folder_reads_back_as_the_same_playlist(
    harmony_context_factory: ContextFactory, tmp_path: Path
) -> None:
    music = tmp_path / "music"
    album = _album(music)
    write_flac(album / "04 form\x0cfeed.flac", title="Odd name", track_number=4)
    provider = LocalFilesProvider(music)
    ctx = harmony_context_factory(providers={"local": provider})
    ctx.sync.run_once()
    pid = _playlist_id(ctx, "local", "Aurora Vale/Neon Harbor")
    report = ctx.export.playlist(pid, music / "Neon.m3u8", base=music)
    assert report.written == 4
    # The export is a playlist of the same folder now, with the same tracks in order.
    assert ctx.sync.run_once().created == 1
    exported = ctx.playlists.get(_playlist_id(ctx, "local", "Neon.m3u8"))
    assert [t.id for t in exported.tracks] == [t.id for t in ctx.playlists.get(pid).tracks]
