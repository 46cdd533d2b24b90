"""``ctx.export``: a stored playlist written as an M3U8, XSPF or Exportify CSV file.

See ``docs/export.md``. The tracks written are the *target* provider's: the playlist's own
tracks when the target is the playlist's provider, else the tracks the matching engine
paired with them (a :class:`MatchLookup`). Files are replaced atomically, and only when
their content changes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from harmony._events.base import EventLogger
from harmony._repositories.playlist_types import PlaylistDetail, PlaylistTrack, Track
from harmony._repositories.playlists import PlaylistRepository, check_playlist_id
from harmony._repositories.track_lookup import TrackLookup
from harmony._services._atomic import write_if_changed
from harmony._services._export_formats import (
    Entry,
    render_csv,
    render_m3u8,
    render_xspf,
)
from harmony._timing import elapsed_ms
from harmony.errors import InvalidInputError, UnknownProviderError
from harmony.providers.base import PlaylistProvider

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "ExportReport",
    "ExportService",
    "FileLocator",
    "MatchLookup",
    "MissingEntry",
    "TrackMatchLike",
]

ExportFormat = Literal["m3u8", "xspf", "csv"]
#: Each format and the file suffixes that mean it.
EXPORT_FORMATS: Mapping[str, tuple[str, ...]] = {
    "m3u8": (".m3u8", ".m3u"),
    "xspf": (".xspf",),
    "csv": (".csv",),
}
#: Match statuses that count: a rejected pair is never exported.
_USABLE = frozenset({"auto", "confirmed"})


class TrackMatchLike(Protocol):
    """What the export reads of a match (``ctx.matching``'s ``TrackMatch``)."""

    @property
    def target_track_id(self) -> int | str:
        """The matched track: its harmony id (or its provider id in the target)."""
        ...

    @property
    def status(self) -> str:
        """``"auto"``, ``"confirmed"`` or ``"rejected"``."""
        ...


class MatchLookup(Protocol):
    """Which track of ``target`` a stored track was matched to (``ctx.matching.get``)."""

    def get(self, source_track_id: int, target: str) -> TrackMatchLike | None:
        """The match of harmony track ``source_track_id`` in provider ``target``, if any."""
        ...


@runtime_checkable
class FileLocator(Protocol):
    """A provider whose tracks are files (``LocalFilesProvider``): M3U8/XSPF targets."""

    name: str

    def path_of(self, track_id: str) -> Path:
        """The absolute path of the file of track ``track_id``."""
        ...


class MissingEntry(BaseModel):
    """A playlist slot the export could not write, and why."""

    model_config = ConfigDict(frozen=True)

    position: int  #: 0-based slot in the playlist
    track_id: int  #: the playlist's track (harmony id)
    provider_id: str
    title: str
    artists: tuple[str, ...]
    reason: str


class ExportReport(BaseModel):
    """What :meth:`ExportService.playlist` did."""

    model_config = ConfigDict(frozen=True)

    path: Path  #: the file, absolute
    playlist_id: int
    format: ExportFormat
    target: str  #: whose tracks the file lists
    written: int  #: playlist slots written into the file
    missing: tuple[MissingEntry, ...]  #: slots that could not be written, in order
    changed: bool  #: whether the file on disk was created or replaced
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``harmony export --json`` prints)."""
        return self.model_dump(mode="json")


class ExportService:
    """``ctx.export``: write stored playlists to playlist files.

    ``matches`` (usually ``ctx.matching``) maps tracks of one provider to another's; without
    it only a playlist's own provider can be the target, and every other slot is reported
    missing. It may be set after construction.
    """

    def __init__(
        self,
        playlists: PlaylistRepository,
        tracks: TrackLookup,
        providers: Mapping[str, PlaylistProvider],
        events: EventLogger,
        matches: MatchLookup | None = None,
    ) -> None:
        self._playlists = playlists
        self._tracks = tracks
        self.providers = providers
        self._events = events
        self.matches = matches

    def __repr__(self) -> str:
        return f"ExportService(providers={sorted(self.providers)!r})"

    def playlist(
        self,
        playlist_id: int,
        path: str | os.PathLike[str],
        *,
        format: ExportFormat = "m3u8",
        target: str | None = "local",
        base: str | os.PathLike[str] | None = None,
    ) -> ExportReport:
        """Write stored playlist ``playlist_id`` to ``path``; returns an :class:`ExportReport`.

        ``format`` is ``"m3u8"`` (extended M3U, UTF-8), ``"xspf"`` or ``"csv"`` (Exportify).
        ``target`` names the provider whose tracks the file lists: ``"local"`` (the default)
        for the files of a :class:`~harmony.providers.LocalFilesProvider`, or ``None`` for
        the playlist's own provider. M3U8 and XSPF need a target with files, registered on
        the context; a CSV in the playlist's own terms needs no provider at all. With
        ``base``, ``path`` must lie inside that folder and M3U8 paths are written relative
        to it; otherwise they are absolute.

        Slots that cannot be written are listed in ``missing`` (and commented in M3U8,
        location-less in XSPF); they are never dropped silently. The file is replaced
        atomically, and left untouched when its content would not change.

        Raises :class:`~harmony.errors.NotFoundError` for an unknown playlist,
        :class:`~harmony.errors.UnknownProviderError` for an unregistered target and
        :class:`~harmony.errors.InvalidInputError` for a bad format, path or base; in every
        case nothing is written.
        """
        started = time.perf_counter()
        fmt = _check_format(format)
        playlist_id = check_playlist_id(playlist_id)
        out, base_dir = _destination(path, base, fmt)
        detail = self._playlists.get(playlist_id)
        own = detail.provider
        chosen = own if target is None else _check_target(target)
        locator = self._locator(chosen, own, fmt)
        entries = self._entries(detail, chosen, locator, base_dir)
        if fmt == "m3u8":
            data = render_m3u8(detail.name, entries)
        elif fmt == "xspf":
            data = render_xspf(detail.name, entries)
        else:
            data = render_csv(entries)
        try:
            changed = write_if_changed(str(out), data)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot write {str(out)!r} ({exc.strerror or exc}); check that its folder "
                "is writable"
            ) from exc
        missing = tuple(
            MissingEntry(
                position=e.position,
                track_id=detail.tracks[e.position].id,
                provider_id=detail.tracks[e.position].provider_id,
                title=e.title,
                artists=e.artists,
                reason=e.missing,
            )
            for e in entries
            if e.missing is not None
        )
        report = ExportReport(
            path=out,
            playlist_id=playlist_id,
            format=fmt,
            target=chosen,
            written=len(entries) - len(missing),
            missing=missing,
            changed=changed,
            duration_ms=elapsed_ms(started),
        )
        self._events.emit(
            "export.playlist",
            entity_id=playlist_id,
            status="written" if changed else "unchanged",
            format=fmt,
            target=chosen,
            written_count=report.written,
            missing_count=len(missing),
            duration_ms=report.duration_ms,
        )
        return report

    # -- steps --------------------------------------------------------------------------

    def _locator(self, target: str, own: str, fmt: str) -> FileLocator | None:
        if target == own and fmt == "csv":
            return None  # the playlist's own tracks, straight from the database
        provider = self.providers.get(target)
        if provider is None:
            known = ", ".join(sorted(self.providers)) or "none"
            raise UnknownProviderError(
                f"no provider named {target!r} is registered (registered: {known}); register "
                "it on the context (e.g. providers={'local': LocalFilesProvider(folder)}), "
                "or pass target=None to export the playlist's own tracks as CSV"
            )
        if fmt == "csv":
            return None
        if not isinstance(provider, FileLocator):
            raise InvalidInputError(
                f"provider {target!r} ({type(provider).__name__}) has no files, and {fmt} "
                "lists files; pick a target such as a LocalFilesProvider, or format='csv'"
            )
        return provider

    def _entries(
        self,
        detail: PlaylistDetail,
        target: str,
        locator: FileLocator | None,
        base: Path | None,
    ) -> list[Entry]:
        chosen = self._targets(detail, target)
        return [
            _entry(position, slot, chosen[position], locator, base)
            for position, slot in enumerate(detail.tracks)
        ]

    def _targets(self, detail: PlaylistDetail, target: str) -> list[Track | str]:
        """Per slot: the target track to write, or the reason there is none."""
        if target == detail.provider:
            return list(detail.tracks)
        matches = self.matches
        if matches is None:
            reason = f"not matched to {target!r}: no match lookup is configured on this context"
            return [reason] * len(detail.tracks)
        wanted: dict[int, int | str | None] = {}
        reasons: dict[int, str] = {}
        for slot in detail.tracks:
            if slot.id in wanted or slot.id in reasons:
                continue
            match = matches.get(slot.id, target)
            if match is None:
                reasons[slot.id] = f"not matched to {target!r}"
            elif match.status not in _USABLE:
                reasons[slot.id] = f"the match to {target!r} was rejected"
            else:
                wanted[slot.id] = match.target_track_id
        by_id = self._tracks.by_ids(t for t in wanted.values() if isinstance(t, int))
        by_provider_id = self._tracks.by_provider_ids(
            target, (t for t in wanted.values() if isinstance(t, str))
        )
        chosen: list[Track | str] = []
        for slot in detail.tracks:
            if slot.id in reasons:
                chosen.append(reasons[slot.id])
                continue
            key = wanted[slot.id]
            track = by_id.get(key) if isinstance(key, int) else by_provider_id.get(str(key))
            if track is None or track.provider != target:
                chosen.append(f"the matched track of {target!r} is no longer stored")
            else:
                chosen.append(track)
        return chosen


def _entry(
    position: int,
    slot: PlaylistTrack,
    chosen: Track | str,
    locator: FileLocator | None,
    base: Path | None,
) -> Entry:
    if isinstance(chosen, str):
        return _missing(position, slot, chosen)
    file = location = None
    if locator is not None:
        try:
            file = locator.path_of(chosen.provider_id)
        except InvalidInputError as exc:
            return _missing(position, slot, str(exc))
        if not file.is_file():
            return _missing(
                position,
                slot,
                f"the file {str(file)!r} no longer exists; sync {chosen.provider!r} again",
            )
        location = _location(file, base)
        if "\n" in location or "\r" in location:
            return _missing(position, slot, "the file name has a line break, which M3U cannot hold")
    return Entry(
        position=position,
        title=chosen.title,
        artists=chosen.artists,
        album=chosen.album,
        duration_ms=chosen.duration_ms,
        isrc=chosen.isrc,
        year=chosen.year,
        added_at=slot.added_at,
        provider_id=chosen.provider_id,
        file=file,
        location=location,
    )


def _missing(position: int, slot: PlaylistTrack, reason: str) -> Entry:
    return Entry(
        position=position,
        title=slot.title,
        artists=slot.artists,
        album=slot.album,
        duration_ms=slot.duration_ms,
        isrc=slot.isrc,
        year=slot.year,
        added_at=slot.added_at,
        provider_id=slot.provider_id,
        missing=reason,
    )


def _location(file: Path, base: Path | None) -> str:
    if base is None:
        return str(file)
    relative = os.path.relpath(file, base)
    if os.sep != "/":
        relative = relative.replace(os.sep, "/")
    # A line starting with '#' is a comment in M3U.
    return f"./{relative}" if relative.startswith("#") else relative


# -- argument checks --------------------------------------------------------------------------


def _check_format(value: Any) -> ExportFormat:
    if value not in EXPORT_FORMATS:
        raise InvalidInputError(
            f"format must be one of {', '.join(repr(f) for f in EXPORT_FORMATS)}, got {value!r:.80}"
        )
    fmt: ExportFormat = value
    return fmt


def _check_target(value: Any) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise InvalidInputError(
            f"target must be a provider name (or None for the playlist's own), got {value!r:.80}"
        )
    return value


def _as_path(value: Any, what: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInputError(f"{what} must be a file system path, got {value!r:.80}")
    raw = os.fspath(value)
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise InvalidInputError(f"{what} must be a non-empty path, got {raw!r:.200}")
    return Path(os.path.abspath(os.path.expanduser(raw)))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _destination(path: Any, base: Any, fmt: ExportFormat) -> tuple[Path, Path | None]:
    """The absolute output file and base folder, checked before anything is read."""
    out = _as_path(path, "path")
    suffix = out.suffix.lower()
    for other, suffixes in EXPORT_FORMATS.items():
        if suffix in suffixes and other != fmt:
            raise InvalidInputError(
                f"{str(out)!r} ends in {out.suffix!r}, which means {other}, but the format is "
                f"{fmt!r}; pass format={other!r} or change the file name"
            )
    if out.is_dir():
        raise InvalidInputError(f"{str(out)!r} is a folder; pass the path of the file to write")
    if not out.parent.is_dir():
        raise InvalidInputError(f"the folder {str(out.parent)!r} does not exist; create it first")
    if base is None:
        return out, None
    base_dir = _as_path(base, "base")
    if not base_dir.is_dir():
        raise InvalidInputError(f"the export base {str(base_dir)!r} is not an existing folder")
    # Compared through symbolic links: a link inside the base may not lead out of it.
    if not _within(os.path.realpath(out.parent), os.path.realpath(base_dir)):
        raise InvalidInputError(
            f"{str(out)!r} is outside the export base {str(base_dir)!r}; write inside the "
            "base or choose another base"
        )
    return out, base_dir
