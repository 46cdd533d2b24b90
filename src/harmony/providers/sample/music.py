"""Sample music files for the sample library: tiny tagged audio files in a folder.

``write_sample_music(folder)`` writes one file for most of the sample library's tracks, as
a local collection would have them: ``Artist/Album/NN Title.ext`` in FLAC, MP3, Ogg and
M4A, some without an ISRC tag, some titled without the streaming service's edition suffix
("- 2015 Remaster") or ``feat.`` credit, durations off by up to a second, and a few tracks
not there at all. Matching the sample playlists to this folder and exporting them shows
every case (ISRC matches, fuzzy matches, missing entries)::

    from harmony.providers import LocalFilesProvider
    from harmony.providers.sample.music import write_sample_music

    write_sample_music("music")
    local = LocalFilesProvider("music")

Needs mutagen (extra ``local``). Deterministic: the same files every time.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harmony.errors import ConfigurationError
from harmony.providers.base import ProviderTrack, coerce_track
from harmony.providers.exportify import ExportifyProvider
from harmony.providers.sample import sample_files

__all__ = ["SampleMusic", "write_sample_music"]

_FORMATS = (".flac", ".mp3", ".ogg", ".m4a")
_EDITION = re.compile(
    r"\s+-\s+(?:\d{4}\s+)?(?:Remaster(?:ed)?|Live.*|Radio Edit|Single Version)(?:\s+\d{4})?$", re.I
)
_FEAT = re.compile(r"\s+[\(\[](?:feat\.|ft\.|featuring)[^\)\]]*[\)\]]$", re.I)
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True, slots=True)
class SampleMusic:
    """What :func:`write_sample_music` wrote."""

    folder: Path
    files: tuple[Path, ...]  #: the audio files, in the order written
    left_out: tuple[str, ...]  #: sample track ids that have no file on purpose


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip(" .") or "_"


def _sample_tracks() -> list[ProviderTrack]:
    provider = ExportifyProvider(sample_files(), name="sample")
    seen: dict[str, ProviderTrack] = {}
    for playlist in provider.iter_playlists():
        for item in provider.iter_tracks(playlist.id):
            track = coerce_track(item)
            if isinstance(track, ProviderTrack):
                seen.setdefault(track.id, track)
    return sorted(seen.values(), key=lambda t: t.id)


def write_sample_music(folder: str | os.PathLike[str]) -> SampleMusic:
    """Write the sample music files into ``folder`` (created if needed); returns them."""
    if importlib.util.find_spec("mutagen") is None:
        raise ConfigurationError(
            "the sample music is tagged with mutagen, which is not installed; install it "
            "with: pip install 'harmony[local]'"
        )
    from harmony.testing.audio import write_audio

    root = Path(folder)
    tracks = _sample_tracks()
    numbers: dict[str, int] = {}
    by_album: dict[tuple[str, str], list[ProviderTrack]] = defaultdict(list)
    for track in tracks:
        by_album[(track.artists[0] if track.artists else "Unknown", track.album or "")].append(
            track
        )
    for album_tracks in by_album.values():
        for number, track in enumerate(sorted(album_tracks, key=lambda t: t.title), start=1):
            numbers[track.id] = number
    written: list[Path] = []
    left_out: list[str] = []
    for index, track in enumerate(tracks):
        if index % 11 == 10:
            left_out.append(track.id)
            continue
        title, isrc = track.title, track.isrc
        if index % 5 == 0:  # the plain album version's title, as a rip would carry it
            title = _FEAT.sub("", _EDITION.sub("", title)) or title
        if index % 3 == 2:
            isrc = None
        duration = track.duration_ms or 180_000
        duration += (index % 7 - 3) * 300  # a different rip, within a second
        artist = track.artists[0] if track.artists else "Unknown"
        album = track.album or "Singles"
        name = f"{numbers[track.id]:02d} {_safe(title)}{_FORMATS[index % len(_FORMATS)]}"
        path = root / _safe(artist) / _safe(album) / name
        written.append(
            write_audio(
                path,
                title=title,
                artists=track.artists,
                album=track.album,
                isrc=isrc,
                track_number=numbers[track.id],
                year=track.year,
                duration_ms=max(duration, 1000),
            )
        )
    return SampleMusic(root, tuple(written), tuple(left_out))
