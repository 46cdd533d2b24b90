"""Exportify CSV exports as a playlist provider.

`Exportify <https://exportify.net>`_ writes one CSV file per playlist and names the file
after the playlist. :class:`ExportifyProvider` reads one such file or a folder of them.

Column names changed between Exportify versions; each column harmony uses is found under
any of its known names (case and surrounding spaces ignored):

========== ====================================================== ========
field      header names                                           required
========== ====================================================== ========
id         ``Track URI``, ``Spotify URI``, ``Spotify ID``, ``URI`` yes
title      ``Track Name``                                         yes
artists    ``Artist Name(s)``, ``Artist Name``, ``Artist Names``  yes
album      ``Album Name``                                         no
duration   ``Duration (ms)``, ``Track Duration (ms)``             no
isrc       ``ISRC``, ``Track ISRC``                               no
added_at   ``Added At``                                           no
year       ``Release Date``, ``Album Release Date``               no
========== ====================================================== ========

Other columns are ignored. Artists are comma-separated in one cell (``\\,`` is a literal
comma). Structural problems (unreadable or non-UTF-8 file, empty file, missing columns, a
row with the wrong number of fields) raise :class:`~harmony.errors.ImportFileError`; a
row whose *values* are bad is still yielded, so the sync engine rejects and counts it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from harmony.errors import ImportFileError, ProviderError
from harmony.providers._exportfiles import LastFile, list_sources, read_bytes
from harmony.providers.base import ProviderPlaylist

__all__ = [
    "EXPORTIFY_HEADER",
    "ExportifyProvider",
    "track_id_from_uri",
]

#: The header of a current Exportify export, quoted in error messages as the expected form.
EXPORTIFY_HEADER: tuple[str, ...] = (
    "Track URI",
    "Track Name",
    "Album Name",
    "Artist Name(s)",
    "Release Date",
    "Duration (ms)",
    "Popularity",
    "Explicit",
    "Added By",
    "Added At",
    "Genres",
    "Record Label",
)

# field -> accepted header names, the first being the one named in error messages.
_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "id": ("Track URI", "Spotify URI", "Spotify ID", "URI"),
        "title": ("Track Name",),
        "artists": ("Artist Name(s)", "Artist Name", "Artist Names"),
        "album": ("Album Name",),
        "duration_ms": ("Duration (ms)", "Track Duration (ms)"),
        "isrc": ("ISRC", "Track ISRC"),
        "added_at": ("Added At",),
        "year": ("Release Date", "Album Release Date"),
    }
)
_REQUIRED = ("id", "title", "artists")

_T = TypeVar("_T")

_TRACK_URL = re.compile(r"^https?://open\.spotify\.com/(?:[\w-]+/)*track/([A-Za-z0-9]+)")
_ARTIST_SPLIT = re.compile(r"(?<!\\),")
_PLAIN_STEM = re.compile(r"[^./\\][^/\\]*")


def track_id_from_uri(uri: str) -> str:
    """The provider track id in a Spotify URI or URL.

    ``spotify:track:ID`` and ``https://open.spotify.com/track/ID?si=...`` give ``ID``;
    anything else (a bare id, a ``spotify:local:...`` URI of a local file) is returned
    stripped but otherwise unchanged, so local files keep their full URI as id.
    """
    value = uri.strip()
    if value.startswith("spotify:track:"):
        return value.removeprefix("spotify:track:")
    match = _TRACK_URL.match(value)
    return match.group(1) if match else value


def _split_artists(cell: str) -> list[str]:
    parts = (part.replace("\\,", ",").strip() for part in _ARTIST_SPLIT.split(cell))
    return [part for part in parts if part]


@dataclass(frozen=True, slots=True)
class _Table:
    """One parsed export file: its digest, where each field lives, and its data rows."""

    digest: str
    columns: Mapping[str, int]
    rows: Sequence[tuple[int, list[str]]]  # (first line of the record, its fields)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded); "
            "re-export it from Exportify or save it as UTF-8",
            path=where,
            line=line,
        ) from exc


def _locate_columns(header: Sequence[str], where: str) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        positions.setdefault(raw.strip().casefold(), index)
    columns: dict[str, int] = {}
    missing: list[str] = []
    for field, names in _COLUMNS.items():
        found = next((positions[n.casefold()] for n in names if n.casefold() in positions), None)
        if found is not None:
            columns[field] = found
        elif field in _REQUIRED:
            aliases = " / ".join(repr(n) for n in names[1:])
            missing.append(repr(names[0]) + (f" (or {aliases})" if aliases else ""))
    if missing:
        seen = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise ImportFileError(
            f"missing required column(s) {', '.join(missing)}; the header has {seen}. "
            "Is this an Exportify export? Its header looks like: " + ",".join(EXPORTIFY_HEADER),
            path=where,
            line=1,
        )
    return columns


def _parse(source: Path | Traversable) -> _Table:
    data = read_bytes(source)
    where = str(source)
    text = _decode(data, where)
    if not text.strip():
        raise ImportFileError(
            "the file is empty; expected a header row such as "
            + ",".join(EXPORTIFY_HEADER)
            + " followed by one row per track",
            path=where,
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[str]]] = []
    header: list[str] | None = None
    columns: dict[str, int] = {}
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip()):  # a blank line
                continue
            if header is None:
                header = record
                columns = _locate_columns(header, where)
                continue
            if len(record) != len(header):
                raise ImportFileError(
                    f"the row has {len(record)} fields but the header has {len(header)}; "
                    "check for an unquoted comma or a missing quote in this row",
                    path=where,
                    line=start,
                )
            rows.append((start, record))
    except csv.Error as exc:
        raise ImportFileError(
            f"the file is not valid CSV ({exc}); re-export it from Exportify",
            path=where,
            line=reader.line_num,
        ) from exc
    if header is None:  # only blank lines (whitespace-only files are caught above)
        raise ImportFileError("the file has no header row", path=where)
    return _Table(hashlib.sha256(data).hexdigest(), columns, rows)


def _track(table: _Table, record: list[str]) -> dict[str, Any]:
    columns = table.columns

    def cell(field: str) -> str | None:
        index = columns.get(field)
        return None if index is None else record[index].strip()

    # Values stay text: the model converts "215000" and rejects "3:35" with a clear reason.
    return {
        "id": track_id_from_uri(cell("id") or ""),
        "title": cell("title") or "",
        "artists": _split_artists(cell("artists") or ""),
        "album": cell("album") or None,
        "duration_ms": cell("duration_ms") or None,
        "isrc": cell("isrc") or None,
        "added_at": cell("added_at") or None,
        "year": cell("year") or None,
    }


def _stem(source: Path | Traversable) -> str:
    name = source.name
    return name[: -len(".csv")] if name.lower().endswith(".csv") else name


class ExportifyProvider:
    """Playlists from Exportify CSV exports: one file, or every ``.csv`` in a folder.

    ``path`` may also be an :mod:`importlib.resources` ``Traversable`` (packaged data).
    Each file is one playlist: its id is the file stem (stable across re-exports), its name
    the stem with underscores as spaces, its ``snapshot_id`` the SHA-256 of the file's
    bytes, so the sync engine skips unchanged files without reading their tracks.

    :meth:`iter_playlists` reads every file and checks its structure, so a broken file
    raises :class:`~harmony.errors.ImportFileError` before anything is written; the last
    file it read is kept (while unchanged on disk) for the :meth:`iter_tracks` call that
    usually follows, so tracks come from the same bytes as the snapshot.
    """

    def __init__(
        self, path: str | os.PathLike[str] | Traversable, *, name: str = "exportify"
    ) -> None:
        self.name = name
        self._root: Path | Traversable = (
            Path(path).expanduser() if isinstance(path, (str, os.PathLike)) else path
        )
        self._last = LastFile(_parse)

    def __repr__(self) -> str:
        return f"ExportifyProvider({str(self._root)!r}, name={self.name!r})"

    def _sources(self) -> dict[str, Path | Traversable]:
        by_id: dict[str, Path | Traversable] = {}
        for source in list_sources(self._root, ".csv", "an Exportify .csv"):
            playlist_id = _stem(source)
            if playlist_id in by_id:
                raise ImportFileError(
                    f"two files give the playlist id {playlist_id!r} "
                    f"({by_id[playlist_id].name} and {source.name}); "
                    "rename one of them",
                    path=str(self._root),
                )
            by_id[playlist_id] = source
        return by_id

    def iter_playlists(self) -> Iterator[ProviderPlaylist]:
        """One playlist per export file, in file-name order."""
        for playlist_id, source in self._sources().items():
            table = self._last.get(source)
            yield ProviderPlaylist(
                id=playlist_id,
                name=playlist_id.replace("_", " ").strip() or playlist_id,
                snapshot_id=table.digest,
                track_count=len(table.rows),
            )

    def _source(self, playlist_id: str) -> Path | Traversable | None:
        # A plain stem is looked up directly; anything else (a path separator, a leading
        # dot) goes through the listing, which never leaves the folder.
        if _PLAIN_STEM.fullmatch(playlist_id) and self._root.is_dir():
            candidate = self._root / f"{playlist_id}.csv"
            if candidate.is_file():
                return candidate
        return self._sources().get(playlist_id)

    def iter_tracks(self, playlist_id: str) -> Iterator[dict[str, Any]]:
        """The rows of one export file as track mappings, in file order, duplicates kept."""
        source = self._source(playlist_id)
        if source is None:
            raise ProviderError(
                f"{self.name}: no export file for playlist {playlist_id!r} in {self._root!s}"
            )
        table = self._last.get(source)
        for _line, record in table.rows:
            yield _track(table, record)
