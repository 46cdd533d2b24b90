"""harmony.testing.audio writes files mutagen reads back: right format, duration and tags."""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggvorbis import OggVorbis

from harmony.testing.audio import (
    MP3_FRAME_MS,
    write_audio,
    write_flac,
    write_m4a,
    write_mp3,
    write_ogg,
)

FORMATS = [(".mp3", MP3), (".flac", FLAC), (".ogg", OggVorbis), (".m4a", MP4)]


@pytest.mark.parametrize(("suffix", "kind"), FORMATS)
def test_each_format_is_detected_by_content_with_its_declared_duration(
    tmp_path: Path, suffix: str, kind: type
) -> None:
    path = write_audio(tmp_path / f"a{suffix}", title="T", duration_ms=215_016)
    audio = mutagen.File(path)
    assert type(audio) is kind
    # 215,016 ms is a whole number of 24 ms MP3 frames, so every format is exact.
    assert round(audio.info.length * 1000) == 215_016
    assert path.stat().st_size < 4096


def test_mp3_durations_are_whole_frames(tmp_path: Path) -> None:
    audio = MP3(write_mp3(tmp_path / "a.mp3", duration_ms=1000))
    assert round(audio.info.length * 1000) == 1008 == 42 * MP3_FRAME_MS
    assert audio.info.sample_rate == 48_000 and audio.info.layer == 3


def test_mp3_tags_are_id3v24_with_one_frame_per_field(tmp_path: Path) -> None:
    path = write_mp3(
        tmp_path / "a.mp3",
        title="Déjà Vu",
        artists=["Chloé", "Kato Lane"],
        album="Café",
        isrc="ZZMBL1800018",
        track_number=7,
        year=2018,
    )
    tags = MP3(path).tags
    assert tags is not None and tags.version[:2] == (2, 4)
    assert tags["TIT2"].text == ["Déjà Vu"]
    assert tags["TPE1"].text == ["Chloé", "Kato Lane"]
    assert tags["TALB"].text == ["Café"] and tags["TSRC"].text == ["ZZMBL1800018"]
    assert tags["TRCK"].text == ["7"] and str(tags["TDRC"].text[0]) == "2018"


@pytest.mark.parametrize("writer", [write_flac, write_ogg])
def test_flac_and_ogg_tags_are_vorbis_comments(tmp_path: Path, writer: object) -> None:
    path = writer(  # type: ignore[operator]
        tmp_path / "a.bin",
        title="Rue des Lilas",
        artists=["A", "B"],
        album="Alb",
        isrc="ZZMBL1800020",
        track_number=3,
        year=2018,
        duration_ms=1000,
    )
    audio = mutagen.File(path)
    assert audio is not None
    assert audio["title"] == ["Rue des Lilas"] and audio["artist"] == ["A", "B"]
    assert audio["album"] == ["Alb"] and audio["isrc"] == ["ZZMBL1800020"]
    assert audio["tracknumber"] == ["3"] and audio["date"] == ["2018"]


def test_m4a_tags_use_the_itunes_atoms_and_the_isrc_freeform(tmp_path: Path) -> None:
    path = write_m4a(
        tmp_path / "a.m4a",
        title="東京ナイト",
        artists=["Hikari"],
        album="光",
        isrc="ZZSKS2000041",
        track_number=2,
        year=2020,
    )
    audio = MP4(path)
    assert audio.tags is not None
    assert audio.tags["\xa9nam"] == ["東京ナイト"] and audio.tags["\xa9ART"] == ["Hikari"]
    assert audio.tags["trkn"] == [(2, 0)] and audio.tags["\xa9day"] == ["2020"]
    assert bytes(audio.tags["----:com.apple.iTunes:ISRC"][0]) == b"ZZSKS2000041"
    assert audio.info.codec == "mp4a.40.2" and audio.info.sample_rate == 48_000


@pytest.mark.parametrize(("suffix", "kind"), FORMATS)
def test_a_writer_without_tags_writes_a_valid_tagless_file(
    tmp_path: Path, suffix: str, kind: type
) -> None:
    audio = mutagen.File(write_audio(tmp_path / f"a{suffix}", duration_ms=2000))
    assert type(audio) is kind and audio.info.length > 1.9
    assert not audio.tags  # None, or an empty comment block (Ogg always has one)


def test_write_audio_refuses_an_unknown_suffix_and_a_bad_duration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'.wav'"):
        write_audio(tmp_path / "a.wav", title="x")
    with pytest.raises(ValueError, match="duration_ms"):
        write_audio(tmp_path / "a.mp3", duration_ms=0)
    assert list(tmp_path.iterdir()) == []


def test_the_audio_example_from_the_docs_writes_what_it_says(tmp_path: Path) -> None:
    from tests.testing.test_plugin import docs_example

    exec(docs_example("audio"), {"tmp_path": tmp_path})
    song = mutagen.File(tmp_path / "Artist" / "Album" / "01 Song.flac")
    assert song["artist"] == ["Artist", "Guest"] and round(song.info.length) == 215
    assert not mutagen.File(tmp_path / "untagged.ogg").tags
