"""Rendering an exported playlist as M3U8, XSPF or Exportify CSV bytes.

Private to :mod:`harmony._services.export`; the formats are described in ``docs/export.md``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree  # builds XML only; nothing untrusted is parsed

from harmony.providers.exportify import EXPORTIFY_HEADER

__all__ = ["CSV_HEADER", "Entry", "csv_uri", "render_csv", "render_m3u8", "render_xspf"]

#: The CSV header: a current Exportify export's, plus the ``ISRC`` column it reads back.
CSV_HEADER: tuple[str, ...] = (*EXPORTIFY_HEADER, "ISRC")
XSPF_NAMESPACE = "http://xspf.org/ns/0/"

_LINE_BREAKS = re.compile(r"[\r\n\u0085\u2028\u2029]+")
# Characters XML 1.0 cannot hold at all, escaped or not.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPOTIFY_ID = re.compile(r"[0-9A-Za-z]{22}")
_AMBIGUOUS_URI = re.compile(r"^(?:spotify:track:|https?://open\.spotify\.com/)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One playlist slot as it is exported: the track written, or why none is."""

    position: int
    title: str
    artists: tuple[str, ...]
    album: str | None
    duration_ms: int | None
    isrc: str | None
    year: int | None
    added_at: datetime | None
    provider_id: str  #: of the track written (or, when missing, of the playlist's own)
    file: Path | None = None  #: M3U8/XSPF: the absolute file
    location: str | None = None  #: M3U8: the path line as written
    missing: str | None = None  #: why nothing is written for this slot


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


def _label(entry: Entry) -> str:
    artists = ", ".join(_one_line(a) for a in entry.artists)
    title = _one_line(entry.title)
    return f"{artists} - {title}" if artists else title


def render_m3u8(name: str, entries: Sequence[Entry]) -> bytes:
    """Extended M3U in UTF-8: ``#EXTINF`` plus path per entry, a comment per missing one."""
    lines = ["#EXTM3U", f"#PLAYLIST:{_one_line(name)}"]
    for entry in entries:
        if entry.missing is not None:
            lines.append(
                f"# missing: {entry.position + 1}. {_label(entry)} ({_one_line(entry.missing)})"
            )
            continue
        seconds = round(entry.duration_ms / 1000) if entry.duration_ms is not None else -1
        lines.append(f"#EXTINF:{seconds},{_label(entry)}")
        assert entry.location is not None
        lines.append(entry.location)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_xspf(name: str, entries: Sequence[Entry]) -> bytes:
    """XSPF 1: ``file:`` URI locations; a missing entry is a track without a location."""
    playlist = ElementTree.Element("playlist", {"version": "1", "xmlns": XSPF_NAMESPACE})
    ElementTree.SubElement(playlist, "title").text = _xml_text(name)
    track_list = ElementTree.SubElement(playlist, "trackList")
    for entry in entries:
        track = ElementTree.SubElement(track_list, "track")
        if entry.missing is None:
            assert entry.file is not None
            ElementTree.SubElement(track, "location").text = entry.file.as_uri()
        ElementTree.SubElement(track, "title").text = _xml_text(entry.title)
        if entry.artists:
            ElementTree.SubElement(track, "creator").text = _xml_text(", ".join(entry.artists))
        if entry.album:
            ElementTree.SubElement(track, "album").text = _xml_text(entry.album)
        if entry.missing is not None:
            ElementTree.SubElement(track, "annotation").text = _xml_text(
                f"missing: {entry.missing}"
            )
        if entry.duration_ms is not None:
            ElementTree.SubElement(track, "duration").text = str(entry.duration_ms)
    ElementTree.indent(playlist, space="  ")
    body = ElementTree.tostring(playlist, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def csv_uri(provider_id: str) -> str:
    """The ``Track URI`` cell that the Exportify reader turns back into ``provider_id``.

    Spotify-shaped ids get the ``spotify:track:`` prefix, as Exportify writes them; other
    ids stay as they are, unless they would be read as a Spotify URI or URL themselves.
    """
    if _SPOTIFY_ID.fullmatch(provider_id) or _AMBIGUOUS_URI.match(provider_id):
        return f"spotify:track:{provider_id}"
    return provider_id


def _artists_cell(artists: Sequence[str]) -> str:
    # Exportify separates artists with commas; a comma inside a name is written "\,".
    return ",".join(artist.replace(",", "\\,") for artist in artists)


def _timestamp(value: datetime | None) -> str:
    if value is None:
        return ""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def render_csv(entries: Sequence[Entry]) -> bytes:
    """An Exportify CSV of the entries that have a track (missing ones are reported only)."""
    buffer = io.StringIO(newline="")
    # "\r\n" (RFC 4180): with it the writer quotes a lone "\r" too, which readers split on.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for entry in entries:
        if entry.missing is not None:
            continue
        row = {
            "Track URI": csv_uri(entry.provider_id),
            "Track Name": entry.title,
            "Album Name": entry.album or "",
            "Artist Name(s)": _artists_cell(entry.artists),
            "Release Date": str(entry.year) if entry.year is not None else "",
            "Duration (ms)": str(entry.duration_ms) if entry.duration_ms is not None else "",
            "Added At": _timestamp(entry.added_at),
            "ISRC": entry.isrc or "",
        }
        writer.writerow([row.get(column, "") for column in CSV_HEADER])
    return buffer.getvalue().encode("utf-8")
