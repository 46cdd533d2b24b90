"""Tiny, valid, tagged audio files written by code: MP3, FLAC, Ogg Vorbis and MP4/M4A.

For tests of anything that reads a music folder (``LocalFilesProvider``) and for the
sample music of the README demo. Nothing is downloaded and no binary blob is shipped: each
writer builds the smallest stream its format's readers accept, then tags it with mutagen
(the ``local`` extra, also in ``testing``)::

    from harmony.testing.audio import write_audio

    write_audio(tmp_path / "a.flac", title="Glass Ocean", artists=["Aurora Vale"],
                isrc="ZZNHR1600004", duration_ms=271_702)

The stream headers *declare* the duration (an MP3 Xing frame count, the FLAC STREAMINFO
sample count, the granule position of the last Ogg page, the MP4 ``mdhd`` duration) while
the files stay a few hundred bytes: what a tag reader sees is a file of that length, what a
player plays is a moment of silence. Durations are exact to the millisecond except for MP3,
which counts whole frames of 24 ms.

A writer called without any tag writes a valid, *tagless* file.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "AUDIO_WRITERS",
    "MP3_FRAME_MS",
    "write_audio",
    "write_flac",
    "write_m4a",
    "write_mp3",
    "write_ogg",
]

#: MP3 durations are whole MPEG frames: 1152 samples at 48 kHz.
MP3_FRAME_MS = 24
_RATE = 48_000
_DEFAULT_MS = 180_000


def _check(duration_ms: int) -> int:
    if (
        isinstance(duration_ms, bool)
        or not isinstance(duration_ms, int)
        or not (0 < duration_ms <= 24 * 3600 * 1000)
    ):
        raise ValueError(
            f"duration_ms must be a positive number of milliseconds, got {duration_ms!r}"
        )
    return duration_ms


def _prepare(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


# -- streams -------------------------------------------------------------------------------


def _mp3_stream(duration_ms: int) -> bytes:
    # MPEG-1 layer III, 128 kbit/s, 48 kHz, mono, no CRC: 384-byte frames of 1152 samples.
    # The first frame carries a Xing header with the frame count, which readers take as
    # the length instead of estimating it from the file size.
    header = bytes((0xFF, 0xFB, 0x94, 0xC0))
    frames = max(1, round(duration_ms / MP3_FRAME_MS))
    side_info = bytes(17)  # mono: the Xing header starts 4 + 17 bytes into the frame
    first = (header + side_info + b"Xing" + struct.pack(">II", 0x1, frames)).ljust(384, b"\0")
    silent = header.ljust(384, b"\0")
    return first + silent * 3


def _flac_stream(duration_ms: int) -> bytes:
    samples = duration_ms * _RATE // 1000
    # STREAMINFO: block sizes, frame sizes (0 = unknown), then 20 bits sample rate, 3 bits
    # channels - 1, 5 bits bits-per-sample - 1, 36 bits total samples; then the MD5 (0).
    packed = (_RATE << 44) | (0 << 41) | (15 << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes((0x80,)) + len(info).to_bytes(3, "big") + info


def _ogg_stream(duration_ms: int) -> bytes:
    from mutagen.ogg import OggPage

    identification = (
        b"\x01vorbis"
        + struct.pack("<IBIiiiB", 0, 1, _RATE, 0, 96_000, 0, 0xB8)  # blocksizes 256/2048
        + b"\x01"
    )
    comment = b"\x03vorbis" + struct.pack("<I", 7) + b"harmony" + struct.pack("<I", 0) + b"\x01"
    setup = b"\x05vorbis" + bytes(32)
    pages = []
    for sequence, (packets, position) in enumerate(
        (
            ([identification], 0),
            ([comment, setup], 0),
            ([b"\x00"], duration_ms * _RATE // 1000),
        )  # the last granule is the length
    ):
        page = OggPage()
        page.serial, page.sequence, page.position = 0x4841524D, sequence, position
        page.packets = packets
        page.first = sequence == 0
        page.last = sequence == 2
        pages.append(page.write())
    return b"".join(pages)


def _atom(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_atom(kind: bytes, payload: bytes, *, version: int = 0, flags: int = 0) -> bytes:
    return _atom(kind, bytes((version,)) + flags.to_bytes(3, "big") + payload)


def _descriptor(tag: int, payload: bytes) -> bytes:
    return bytes((tag, len(payload))) + payload


def _m4a_stream(duration_ms: int) -> bytes:
    samples = duration_ms * _RATE // 1000
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _full_atom(
        b"mvhd",
        struct.pack(">IIII", 0, 0, 1000, duration_ms)
        + struct.pack(">IH", 0x10000, 0x100)
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    tkhd = _full_atom(
        b"tkhd",
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms)
        + bytes(8)
        + struct.pack(">HHHH", 0, 0, 0x100, 0)
        + matrix
        + bytes(8),
        flags=7,
    )
    mdhd = _full_atom(b"mdhd", struct.pack(">IIIIHH", 0, 0, _RATE, samples, 0x55C4, 0))
    hdlr = _full_atom(b"hdlr", bytes(4) + b"soun" + bytes(12) + b"SoundHandler\0")
    # AAC LC, 48 kHz, mono: AudioSpecificConfig 00010 0011 0001 000.
    decoder_config = _descriptor(
        0x04,
        bytes((0x40, 0x15))
        + bytes(3)
        + struct.pack(">II", 96_000, 96_000)
        + _descriptor(0x05, bytes((0x11, 0x88))),
    )
    esds = _full_atom(
        b"esds",
        _descriptor(0x03, struct.pack(">HB", 1, 0) + decoder_config + _descriptor(0x06, b"\x02")),
    )
    mp4a = _atom(
        b"mp4a",
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(8)
        + struct.pack(">HHHHI", 1, 16, 0, 0, _RATE << 16)
        + esds,
    )
    stbl = _atom(
        b"stbl",
        _full_atom(b"stsd", struct.pack(">I", 1) + mp4a)
        + _full_atom(b"stts", struct.pack(">I", 0))
        + _full_atom(b"stsc", struct.pack(">I", 0))
        + _full_atom(b"stsz", struct.pack(">II", 0, 0))
        + _full_atom(b"stco", struct.pack(">I", 0)),
    )
    dinf = _atom(
        b"dinf", _full_atom(b"dref", struct.pack(">I", 1) + _full_atom(b"url ", b"", flags=1))
    )
    minf = _atom(b"minf", _full_atom(b"smhd", bytes(4)) + dinf + stbl)
    trak = _atom(b"trak", tkhd + _atom(b"mdia", mdhd + hdlr + minf))
    ftyp = _atom(b"ftyp", b"M4A " + struct.pack(">I", 0) + b"M4A mp42isom")
    return ftyp + _atom(b"moov", mvhd + trak) + _atom(b"mdat", b"")


# -- tags ----------------------------------------------------------------------------------


class _Tags:
    """The tags a writer was asked for, each ``None`` when not given."""

    def __init__(
        self,
        title: str | None,
        artists: Sequence[str],
        album: str | None,
        isrc: str | None,
        track_number: int | None,
        year: int | None,
    ) -> None:
        if isinstance(artists, str):
            artists = [artists]
        self.title, self.artists, self.album = title, list(artists), album
        self.isrc, self.track_number, self.year = isrc, track_number, year

    def vorbis(self) -> dict[str, list[str]]:
        """As Vorbis comments (FLAC and Ogg)."""
        values = {
            "title": [self.title] if self.title is not None else [],
            "artist": self.artists,
            "album": [self.album] if self.album is not None else [],
            "isrc": [self.isrc] if self.isrc is not None else [],
            "tracknumber": [str(self.track_number)] if self.track_number is not None else [],
            "date": [str(self.year)] if self.year is not None else [],
        }
        return {key: value for key, value in values.items() if value}


def _tag_vorbis(audio: Any, tags: _Tags) -> None:
    comments = tags.vorbis()
    if not comments:
        return
    if audio.tags is None:  # a FLAC file without a VORBIS_COMMENT block
        audio.add_tags()
    for key, value in comments.items():
        audio[key] = value
    audio.save()


def _tag_mp3(path: Path, tags: _Tags) -> None:
    from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TRCK, TSRC

    frames = [
        TIT2(encoding=3, text=[tags.title]) if tags.title is not None else None,
        TPE1(encoding=3, text=tags.artists) if tags.artists else None,
        TALB(encoding=3, text=[tags.album]) if tags.album is not None else None,
        TSRC(encoding=3, text=[tags.isrc]) if tags.isrc is not None else None,
        TRCK(encoding=3, text=[str(tags.track_number)]) if tags.track_number is not None else None,
        TDRC(encoding=3, text=[str(tags.year)]) if tags.year is not None else None,
    ]
    present = [frame for frame in frames if frame is not None]
    if not present:
        return
    id3 = ID3()
    for frame in present:
        id3.add(frame)
    id3.save(path, v2_version=4)


def _tag_m4a(path: Path, tags: _Tags) -> None:
    from mutagen.mp4 import MP4, MP4FreeForm

    values: dict[str, list[object]] = {}
    if tags.title is not None:
        values["\xa9nam"] = [tags.title]
    if tags.artists:
        values["\xa9ART"] = list(tags.artists)
    if tags.album is not None:
        values["\xa9alb"] = [tags.album]
    if tags.year is not None:
        values["\xa9day"] = [str(tags.year)]
    if tags.track_number is not None:
        values["trkn"] = [(tags.track_number, 0)]
    if tags.isrc is not None:
        values["----:com.apple.iTunes:ISRC"] = [MP4FreeForm(tags.isrc.encode("utf-8"))]
    if not values:
        return
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    assert audio.tags is not None
    for key, value in values.items():
        audio.tags[key] = value
    audio.save()


# -- writers -------------------------------------------------------------------------------


def write_mp3(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    artists: Sequence[str] = (),
    album: str | None = None,
    isrc: str | None = None,
    track_number: int | None = None,
    year: int | None = None,
    duration_ms: int = _DEFAULT_MS,
) -> Path:
    """Write an MP3 (MPEG-1 layer III) with ID3v2.4 tags; returns the path.

    The duration is rounded to whole 24 ms frames.
    """
    target = _prepare(path)
    target.write_bytes(_mp3_stream(_check(duration_ms)))
    _tag_mp3(target, _Tags(title, artists, album, isrc, track_number, year))
    return target


def write_flac(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    artists: Sequence[str] = (),
    album: str | None = None,
    isrc: str | None = None,
    track_number: int | None = None,
    year: int | None = None,
    duration_ms: int = _DEFAULT_MS,
) -> Path:
    """Write a FLAC file (STREAMINFO only) with Vorbis comments; returns the path."""
    from mutagen.flac import FLAC

    target = _prepare(path)
    target.write_bytes(_flac_stream(_check(duration_ms)))
    _tag_vorbis(FLAC(target), _Tags(title, artists, album, isrc, track_number, year))
    return target


def write_ogg(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    artists: Sequence[str] = (),
    album: str | None = None,
    isrc: str | None = None,
    track_number: int | None = None,
    year: int | None = None,
    duration_ms: int = _DEFAULT_MS,
) -> Path:
    """Write an Ogg Vorbis file with Vorbis comments; returns the path."""
    from mutagen.oggvorbis import OggVorbis

    target = _prepare(path)
    target.write_bytes(_ogg_stream(_check(duration_ms)))
    _tag_vorbis(OggVorbis(target), _Tags(title, artists, album, isrc, track_number, year))
    return target


def write_m4a(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    artists: Sequence[str] = (),
    album: str | None = None,
    isrc: str | None = None,
    track_number: int | None = None,
    year: int | None = None,
    duration_ms: int = _DEFAULT_MS,
) -> Path:
    """Write an MP4 audio file (AAC, ``.m4a``) with iTunes-style tags; returns the path.

    The ISRC goes into the ``----:com.apple.iTunes:ISRC`` freeform atom, as taggers write it.
    """
    target = _prepare(path)
    target.write_bytes(_m4a_stream(_check(duration_ms)))
    _tag_m4a(target, _Tags(title, artists, album, isrc, track_number, year))
    return target


#: The writer for each file suffix :func:`write_audio` understands.
AUDIO_WRITERS = {
    ".mp3": write_mp3,
    ".flac": write_flac,
    ".ogg": write_ogg,
    ".oga": write_ogg,
    ".m4a": write_m4a,
    ".mp4": write_m4a,
}


def write_audio(
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    artists: Sequence[str] = (),
    album: str | None = None,
    isrc: str | None = None,
    track_number: int | None = None,
    year: int | None = None,
    duration_ms: int = _DEFAULT_MS,
) -> Path:
    """Write a tagged audio file whose format follows the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    writer = AUDIO_WRITERS.get(suffix)
    if writer is None:
        raise ValueError(
            f"cannot write {suffix or 'a file without suffix'!r}; "
            f"use one of {', '.join(sorted(AUDIO_WRITERS))}"
        )
    return writer(
        path,
        title=title,
        artists=artists,
        album=album,
        isrc=isrc,
        track_number=track_number,
        year=year,
        duration_ms=duration_ms,
    )
