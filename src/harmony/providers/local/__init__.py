"""A music folder as a playlist provider: :class:`LocalFilesProvider` (extra ``local``).

Folders holding audio files are playlists, and so are the M3U/M3U8 files found in the
tree. Tags are read with mutagen; see ``docs/sync.md`` ("Local music files").
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from cachetools import LRUCache

from harmony._validation import check_int
from harmony.errors import ConfigurationError, InvalidInputError, ProviderError
from harmony.providers.base import (
    ProviderPlaylist,
    ProviderTrack,
    Rejection,
    coerce_playlist,
    coerce_track,
)
from harmony.providers.local._paths import (
    PLAYLIST_SUFFIXES,
    FileStat,
    display,
    inside,
    is_utf8,
    list_folder,
    parse_m3u,
    relative_id,
    walk,
)
from harmony.providers.local._tags import AUDIO_SUFFIXES, read_tags

__all__ = ["AUDIO_SUFFIXES", "PLAYLIST_SUFFIXES", "LocalFilesProvider"]

# Part of every snapshot: a harmony that reads tags differently re-reads every folder once.
_SNAPSHOT_VERSION = b"harmony-local-files/1\n"
_DIGITS = re.compile(r"(\d+)")
_MAX_ID = 255


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p.casefold() for p in _DIGITS.split(name))


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ID else text[: _MAX_ID - 3] + "..."


@dataclasses.dataclass(frozen=True, slots=True)
class _Read:
    """One file's tags as last read: valid while the file's mtime and size are unchanged."""

    mtime_ns: int
    size: int
    result: ProviderTrack | Rejection
    track_number: int | None
    disc_number: int | None


class LocalFilesProvider:
    """Playlists from a folder of music files, read with mutagen.

    * **Tracks** are the audio files (``.mp3``, ``.flac``, ``.ogg``/``.oga``, ``.opus``,
      ``.m4a``/``.m4b``/``.mp4``); a track's id is its path relative to ``root`` with ``/``
      separators (``"Aurora Vale/Neon Harbor/01 Glass Ocean.flac"``), so the stored track
      says where its file is. Title, artists, album, duration, ISRC and year come from the
      tags; track and disc numbers order a folder.
    * **Playlists** are the folders that hold audio files directly (id: the folder's
      relative path, ``"."`` for ``root`` itself), and every ``.m3u``/``.m3u8`` file in the
      tree (id: its relative path), whose entries may be relative paths, absolute paths or
      ``file:`` URIs inside ``root``.
    * **Incremental**: :meth:`iter_playlists` only lists folders and ``stat``\\ s files; a
      playlist's ``snapshot_id`` is a hash of its files' names, sizes and modification
      times, so the sync engine skips unchanged folders without reading a tag. Within one
      provider object, a file whose size and modification time are unchanged is not read
      again either (an LRU of ``cache_size`` files).
    * **Rejections**: a file that cannot be read, has no title tag, has a name that is not
      UTF-8, or is a symbolic link leading out of ``root`` is rejected alone, with the
      reason; M3U entries that name no file in ``root`` likewise.
    * **Safety**: nothing outside ``root`` is read; symbolic links to folders are not
      followed; hidden files and folders (``.name``) are skipped.

    A missing or unreadable ``root`` raises :class:`~harmony.errors.InvalidInputError`
    here, and :class:`~harmony.errors.ProviderError` from :meth:`iter_playlists` if it
    disappears later (an unmounted drive), so a sync then fails without marking anything
    removed. Needs mutagen: ``pip install 'harmony[local]'``.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, name: str = "local", cache_size: int = 100_000
    ) -> None:
        if importlib.util.find_spec("mutagen") is None:
            raise ConfigurationError(
                "LocalFilesProvider reads tags with mutagen, which is not installed; "
                "install it with: pip install 'harmony[local]'"
            )
        cache_size = check_int("cache_size", cache_size, high=None)
        self.name = name
        #: The music folder, absolute (symbolic links in it are kept as given).
        self.root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
        self._root = str(self.root)
        self._check_root(InvalidInputError)
        self._real_root = os.path.realpath(self._root)
        self._cache: LRUCache[str, _Read] = LRUCache(maxsize=max(cache_size, 1))
        self._cache_enabled = cache_size > 0
        self._lock = threading.Lock()
        self._tag_reads = 0

    def __repr__(self) -> str:
        return f"LocalFilesProvider({self._root!r}, name={self.name!r})"

    @property
    def tag_reads(self) -> int:
        """How many times this provider has opened a file to read its tags."""
        return self._tag_reads

    def _check_root(self, error: type[InvalidInputError] | type[ProviderError]) -> None:
        where = display(self._root)
        if not os.path.exists(where):
            raise error(
                f"the music folder {where!r} does not exist; pass the folder that holds your "
                "music files (is the drive mounted?)"
            )
        if not os.path.isdir(where):
            raise error(f"the music folder {where!r} is not a folder; pass the folder itself")
        try:
            with os.scandir(where):
                pass
        except OSError as exc:
            raise error(
                f"cannot read the music folder {where!r} ({exc.strerror or exc}); "
                "check its permissions"
            ) from exc

    # -- playlists --------------------------------------------------------------------

    def iter_playlists(self) -> Iterator[ProviderPlaylist | Rejection]:
        """Every folder playlist, then every M3U playlist, in id order; ``stat`` only."""
        self._check_root(ProviderError)
        listing = walk(self._root)
        for folder_id, reason in listing.unreadable:
            # Without an id the sync removes nothing this run: what the folder held is
            # unknown, not gone.
            yield Rejection("playlist", None, f"cannot read the folder {folder_id!r} ({reason})")
        for bad in listing.bad_names:
            yield Rejection(
                "playlist",
                None,
                f"the name of {bad!r} is not valid UTF-8; rename it (harmony stores names as "
                "UTF-8 text)",
            )
        for folder in listing.folders:
            digest = hashlib.sha256(_SNAPSHOT_VERSION)
            for file_stat in folder.files:
                digest.update(file_stat.key())
            name = self.root.name if folder.id == "." else folder.id
            # Validated here, not by the engine: an id too long for the database becomes a
            # rejection of that folder instead of an error ending the walk.
            yield coerce_playlist(
                {
                    "id": folder.id,
                    "name": name or self._root,
                    "snapshot_id": digest.hexdigest(),
                    "track_count": len(folder.files),
                }
            )
        for playlist_id, file_stat in listing.playlists:
            yield self._m3u_playlist(playlist_id, file_stat)

    def _m3u_playlist(self, playlist_id: str, file_stat: FileStat) -> ProviderPlaylist | Rejection:
        path = os.path.join(self._root, *PurePosixPath(playlist_id).parts)
        digest = hashlib.sha256(_SNAPSHOT_VERSION + file_stat.key())
        count = 0
        try:
            for entry in parse_m3u(path):
                count += 1
                # The entries' files are part of the snapshot: retagging one changes it.
                try:
                    info = os.stat(entry.path) if entry.path is not None else None
                except OSError:
                    info = None
                marker = f"{info.st_mtime_ns}:{info.st_size}" if info else "-"
                digest.update(f"{entry.text}\0{marker}\n".encode("utf-8", "surrogateescape"))
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            return Rejection("playlist", playlist_id, f"cannot read the playlist file ({reason})")
        stem = PurePosixPath(playlist_id).stem
        return coerce_playlist(
            {
                "id": playlist_id,
                "name": stem or playlist_id,
                "snapshot_id": digest.hexdigest(),
                "track_count": count,
            }
        )

    # -- tracks -----------------------------------------------------------------------

    def iter_tracks(self, playlist_id: str) -> Iterator[ProviderTrack | Rejection]:
        """The tracks of one folder (by disc, track number, then file name) or M3U file
        (in its order); unreadable files come as :class:`Rejection`\\ s."""
        parts = self._parts(playlist_id)
        if parts is None:
            raise ProviderError(f"{self.name}: no playlist {playlist_id!r} in {self._root}")
        path = os.path.join(self._root, *parts)
        if os.path.splitext(path)[1].lower() in PLAYLIST_SUFFIXES and os.path.isfile(path):
            yield from self._m3u_tracks(playlist_id, path)
            return
        if not os.path.isdir(path) or os.path.realpath(path) != os.path.join(
            self._real_root, *parts
        ):  # a symbolic link in the way: walk() never offers such a folder
            raise ProviderError(f"{self.name}: no folder playlist {playlist_id!r} in {self._root}")
        try:
            files = list_folder(path)
        except OSError as exc:
            raise ProviderError(
                f"{self.name}: cannot read the folder {playlist_id!r} ({exc.strerror or exc})"
            ) from exc
        prefix = "" if playlist_id == "." else playlist_id + "/"
        reads = [
            (
                file_stat.name,
                self._read(prefix + file_stat.name, os.path.join(path, file_stat.name), file_stat),
            )
            for file_stat in files
        ]
        reads.sort(
            key=lambda r: (r[1].disc_number or 0, r[1].track_number or 1 << 30, _natural(r[0]))
        )
        for _name, read in reads:
            yield _for_playlist(read.result, playlist_id)

    def _m3u_tracks(self, playlist_id: str, path: str) -> Iterator[ProviderTrack | Rejection]:
        try:
            entries = list(parse_m3u(path))
        except (OSError, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ProviderError(
                f"{self.name}: cannot read the playlist file {playlist_id!r} ({reason})"
            ) from exc
        for entry in entries:
            item_id = _short(display(entry.text))
            if entry.path is None:
                yield Rejection("track", item_id, entry.error or "unusable entry", playlist_id)
                continue
            lexical = entry.path
            if not (
                lexical == self._root or lexical.startswith(self._root.rstrip(os.sep) + os.sep)
            ):
                yield Rejection(
                    "track",
                    item_id,
                    "the entry names a file outside the music folder "
                    f"{self._root}; harmony never reads outside it",
                    playlist_id,
                )
                continue
            if os.path.splitext(lexical)[1].lower() not in AUDIO_SUFFIXES:
                yield Rejection(
                    "track",
                    item_id,
                    f"not an audio file harmony reads (one of {', '.join(sorted(AUDIO_SUFFIXES))})",
                    playlist_id,
                )
                continue
            try:
                info = os.stat(lexical)
            except OSError as exc:
                yield Rejection(
                    "track",
                    item_id,
                    f"the file cannot be found ({exc.strerror or exc})",
                    playlist_id,
                )
                continue
            file_stat = FileStat(os.path.basename(lexical), info.st_mtime_ns, info.st_size)
            read = self._read(relative_id(lexical, self._root), lexical, file_stat)
            yield _for_playlist(read.result, playlist_id)

    def _read(self, track_id: str, path: str, file_stat: FileStat) -> _Read:
        if not is_utf8(track_id):
            return _Read(
                file_stat.mtime_ns,
                file_stat.size,
                Rejection(
                    "track",
                    _short(display(track_id)),
                    "the file name is not valid UTF-8; rename it (harmony stores names "
                    "as UTF-8 text)",
                ),
                None,
                None,
            )
        if not inside(path, self._real_root):
            return _Read(
                file_stat.mtime_ns,
                file_stat.size,
                Rejection(
                    "track",
                    _short(track_id),
                    "a symbolic link to a file outside the music folder; harmony never "
                    "reads outside it",
                ),
                None,
                None,
            )
        with self._lock:
            cached = self._cache.get(track_id) if self._cache_enabled else None
        if cached is not None and (cached.mtime_ns, cached.size) == (
            file_stat.mtime_ns,
            file_stat.size,
        ):
            return cached
        tags = read_tags(Path(path))
        with self._lock:
            self._tag_reads += 1
        if tags.fields is None:
            result: ProviderTrack | Rejection = Rejection(
                "track", _short(track_id), tags.error or "unreadable"
            )
        else:
            result = coerce_track({"id": track_id, **tags.fields})
        read = _Read(
            file_stat.mtime_ns, file_stat.size, result, tags.track_number, tags.disc_number
        )
        if self._cache_enabled:
            with self._lock:
                self._cache[track_id] = read
        return read

    # -- files ------------------------------------------------------------------------

    def _parts(self, relative: str) -> tuple[str, ...] | None:
        if not isinstance(relative, str) or not relative or "\x00" in relative:
            return None
        if relative == ".":
            return ()
        pure = PurePosixPath(relative)
        if pure.is_absolute() or any(p in ("..", ".") for p in pure.parts):
            return None
        if pure.as_posix() != relative:  # "a//b", "a/": not an id this provider gives
            return None
        return pure.parts

    def path_of(self, track_id: str) -> Path:
        """The file of one of this provider's tracks (which may since have been removed).

        Raises :class:`~harmony.errors.InvalidInputError` for an id that is not a relative
        path inside ``root``.
        """
        parts = self._parts(track_id)
        if not parts:
            raise InvalidInputError(
                f"{track_id!r:.300} is not a track id of {self.name!r}: ids are file paths "
                "relative to the music folder, such as 'Artist/Album/01 Title.flac'"
            )
        path = os.path.join(self._root, *parts)
        if not inside(path, self._real_root):
            raise InvalidInputError(
                f"track {track_id!r:.300} leads outside the music folder {self._root}"
            )
        return Path(path)


def _for_playlist(result: ProviderTrack | Rejection, playlist_id: str) -> ProviderTrack | Rejection:
    if isinstance(result, Rejection):
        return dataclasses.replace(result, playlist_id=playlist_id)
    return result
