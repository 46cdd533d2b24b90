"""Reading one audio file's tags with mutagen into a track mapping, or the reason it cannot be.

Private to :mod:`harmony.providers.local`. mutagen is imported here only, when the first
file is read, so ``import harmony`` never needs it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AUDIO_SUFFIXES", "FileTags", "read_tags"]

#: File suffixes taken for audio files; everything else in the tree is ignored.
AUDIO_SUFFIXES = frozenset({".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".m4b", ".mp4"})

_MAX_SECONDS = (2**31 - 1) / 1000  # what the tracks table holds, in milliseconds
_NUMBER = re.compile(r"\s*(\d+)")
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}\d{7}")
_ISRC_SEPARATORS = re.compile(r"[\s\-_.]")


@dataclass(frozen=True, slots=True)
class FileTags:
    """What a file's tags say, or ``error`` when they cannot be used."""

    fields: dict[str, Any] | None  #: the track mapping (without ``id``)
    track_number: int | None = None
    disc_number: int | None = None
    error: str | None = None


def _first(values: Sequence[Any] | None) -> str | None:
    for value in values or ():
        text = str(value).strip()
        if text:
            return text
    return None


def _texts(values: Sequence[Any] | None) -> list[str]:
    return [text for text in (str(v).strip() for v in values or ()) if text]


def _number(value: Any) -> int | None:
    # "3", "3/12", "03 of 12"; MP4 gives (3, 12) tuples.
    if isinstance(value, tuple):
        value = value[0] if value else None
    if isinstance(value, int):
        return value if value > 0 else None
    match = _NUMBER.match(str(value)) if value is not None else None
    return int(match.group(1)) or None if match else None


def _isrc(value: str | None) -> str | None:
    # Taggers write "US-RC1-76-07839" as often as "USRC17607839"; anything that is not an
    # ISRC once separators are gone is dropped, like an unreadable year.
    if value is None:
        return None
    code = _ISRC_SEPARATORS.sub("", value).upper()
    return code if _ISRC.fullmatch(code) else None


class _Found:
    """Tag values gathered from one tag format."""

    def __init__(self) -> None:
        self.title: str | None = None
        self.artists: list[str] = []
        self.album: str | None = None
        self.isrc: str | None = None
        self.year: str | None = None
        self.track: Any = None
        self.disc: Any = None


def _from_id3(tags: Any) -> _Found:
    found = _Found()

    def texts(key: str) -> list[str]:
        frame = tags.get(key)
        return _texts(getattr(frame, "text", None)) if frame is not None else []

    found.title = _first(texts("TIT2"))
    # MusicBrainz Picard keeps the separate credited artists in TXXX:ARTISTS.
    found.artists = texts("TXXX:ARTISTS") or texts("TPE1")
    found.album = _first(texts("TALB"))
    found.isrc = _first(texts("TSRC"))
    found.year = _first(texts("TDRC")) or _first(texts("TYER")) or _first(texts("TDOR"))
    found.track = _first(texts("TRCK"))
    found.disc = _first(texts("TPOS"))
    return found


def _from_vorbis(tags: Any) -> _Found:
    found = _Found()

    def texts(key: str) -> list[str]:
        return _texts(tags.get(key)) if key in tags else []

    found.title = _first(texts("title"))
    found.artists = texts("artists") or texts("artist")
    found.album = _first(texts("album"))
    found.isrc = _first(texts("isrc"))
    found.year = _first(texts("date")) or _first(texts("year")) or _first(texts("originaldate"))
    found.track = _first(texts("tracknumber"))
    found.disc = _first(texts("discnumber"))
    return found


def _freeform(tags: Any, name: str) -> list[str]:
    values = tags.get(f"----:com.apple.iTunes:{name}") or []
    return _texts([bytes(v).decode("utf-8", "replace") for v in values])


def _from_mp4(tags: Any) -> _Found:
    found = _Found()
    found.title = _first(tags.get("\xa9nam"))
    found.artists = _freeform(tags, "ARTISTS") or _texts(tags.get("\xa9ART"))
    found.album = _first(tags.get("\xa9alb"))
    found.isrc = _first(_freeform(tags, "ISRC"))
    found.year = _first(tags.get("\xa9day"))
    found.track = (tags.get("trkn") or [None])[0]
    found.disc = (tags.get("disk") or [None])[0]
    return found


def _reader(tags: Any) -> Callable[[Any], _Found] | None:
    from mutagen._vorbis import VComment
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4Tags

    if isinstance(tags, ID3):
        return _from_id3
    if isinstance(tags, VComment):
        return _from_vorbis
    if isinstance(tags, MP4Tags):
        return _from_mp4
    return None


def read_tags(path: Path) -> FileTags:
    """The tags of the audio file at ``path``; never raises for a bad file."""
    import mutagen
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    try:
        audio = mutagen.File(path, options=[MP3, FLAC, OggVorbis, OggOpus, MP4])
        info_length = getattr(audio.info, "length", 0) if audio is not None else 0
    except Exception as exc:  # a parser bug on one odd file must not end the whole scan
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return FileTags(None, error=f"cannot read the audio file ({reason})")
    if audio is None:
        return FileTags(None, error="not a readable MP3, FLAC, Ogg Vorbis/Opus or MP4 audio file")
    reader = _reader(audio.tags) if audio.tags is not None else None
    found = reader(audio.tags) if reader is not None else _Found()
    if found.title is None:
        return FileTags(
            None,
            error="the file has no title tag; tag it (title, artist) or move it out "
            "of the music folder",
        )
    length = info_length if isinstance(info_length, (int, float)) else 0
    # A broken header can claim an infinite or absurd length: no duration then, not a
    # rejected file.
    duration = round(length * 1000) if math.isfinite(length) and 0 < length < _MAX_SECONDS else None
    fields = {
        "title": found.title,
        "artists": found.artists,
        "album": found.album,
        "duration_ms": duration,
        "isrc": _isrc(found.isrc),
        "year": found.year,
    }
    return FileTags(fields, _number(found.track), _number(found.disc))
