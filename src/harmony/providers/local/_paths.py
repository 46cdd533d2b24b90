"""Paths inside the music folder: walking it by ``stat`` only, and reading M3U playlists.

Private to :mod:`harmony.providers.local`. Track and playlist ids are paths relative to
the root with ``/`` separators; nothing here ever leaves the root, through ``..`` or
through a symbolic link.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from harmony.providers.local._tags import AUDIO_SUFFIXES

__all__ = [
    "PLAYLIST_SUFFIXES",
    "FileStat",
    "Folder",
    "Listing",
    "M3uEntry",
    "display",
    "inside",
    "is_utf8",
    "list_folder",
    "parse_m3u",
    "relative_id",
    "walk",
]

#: Playlist files found in the tree become playlists of their own.
PLAYLIST_SUFFIXES = frozenset({".m3u", ".m3u8"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_LINE_END = re.compile(r"\r\n|\r|\n")


def is_utf8(name: str) -> bool:
    """Whether a file name from the OS decodes as UTF-8 (no surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display(name: str) -> str:
    """A name for messages: undecodable bytes shown as U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def inside(path: str, real_root: str) -> bool:
    """Whether ``path`` (resolved through every symbolic link) lies within ``real_root``."""
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def relative_id(path: str, root: str) -> str:
    """The id of ``path`` (lexically inside ``root``): relative, ``/``-separated."""
    rel = os.path.relpath(path, root)
    return "." if rel == os.curdir else PurePosixPath(*Path(rel).parts).as_posix()


@dataclass(frozen=True, slots=True)
class FileStat:
    """One file as ``stat`` sees it: enough to tell whether it changed."""

    name: str
    mtime_ns: int
    size: int

    def key(self) -> bytes:
        """The bytes a snapshot hashes for this file."""
        raw = self.name.encode("utf-8", "surrogateescape")
        return raw + b"\0" + f"{self.mtime_ns}:{self.size}".encode() + b"\n"


@dataclass(slots=True)
class Folder:
    """A folder with audio files directly in it (a folder playlist)."""

    id: str
    files: list[FileStat] = field(default_factory=list)


@dataclass(slots=True)
class Listing:
    """Everything one walk of the tree found."""

    folders: list[Folder] = field(default_factory=list)
    playlists: list[tuple[str, FileStat]] = field(default_factory=list)  #: (id, stat)
    bad_names: list[str] = field(default_factory=list)  #: folders, playlist files
    unreadable: list[tuple[str, str]] = field(default_factory=list)  #: (folder, reason)


def _stat_of(entry: os.DirEntry[str]) -> FileStat | None:
    try:
        # Follows a link: a link's target changing is the file changing. Links leaving
        # the root are listed too; reading them is refused, one by one, with the reason.
        info = entry.stat()
    except OSError:
        if not entry.is_symlink():
            return None  # gone since the folder was listed
        try:
            info = entry.stat(follow_symlinks=False)  # a dangling link: rejected when read
        except OSError:
            return None
        return FileStat(entry.name, info.st_mtime_ns, info.st_size)
    if not stat.S_ISREG(info.st_mode):
        return None
    return FileStat(entry.name, info.st_mtime_ns, info.st_size)


def list_folder(path: str) -> list[FileStat]:
    """The audio files directly in ``path``, by ``stat`` only; raises ``OSError``."""
    found = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith(".") or entry.is_dir(follow_symlinks=False):
                continue
            if os.path.splitext(entry.name)[1].lower() in AUDIO_SUFFIXES:
                file_stat = _stat_of(entry)
                if file_stat is not None:
                    found.append(file_stat)
    found.sort(key=lambda f: f.name)
    return found


def walk(root: str) -> Listing:
    """Walk ``root`` without following symbolic links to folders; ``stat`` calls only."""
    listing = Listing()
    pending = [root]
    while pending:
        path = pending.pop()
        folder_id = relative_id(path, root)
        folder = Folder(folder_id)
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.name.startswith("."):  # hidden files, .Trash, ._ AppleDouble
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if is_utf8(entry.name):
                            pending.append(entry.path)
                        else:
                            listing.bad_names.append(display(relative_id(entry.path, root)))
                        continue
                    suffix = os.path.splitext(entry.name)[1].lower()
                    if suffix in AUDIO_SUFFIXES:
                        file_stat = _stat_of(entry)
                        if file_stat is not None:
                            folder.files.append(file_stat)
                    elif suffix in PLAYLIST_SUFFIXES:
                        if not is_utf8(entry.name):
                            listing.bad_names.append(display(relative_id(entry.path, root)))
                            continue
                        file_stat = _stat_of(entry)
                        if file_stat is not None:
                            listing.playlists.append((relative_id(entry.path, root), file_stat))
        except OSError as exc:
            listing.unreadable.append((display(folder_id), exc.strerror or str(exc)))
            continue
        if folder.files:
            folder.files.sort(key=lambda f: f.name)
            listing.folders.append(folder)
    listing.folders.sort(key=lambda f: f.id)
    listing.playlists.sort()
    return listing


@dataclass(frozen=True, slots=True)
class M3uEntry:
    """One entry of an M3U playlist: the file it names (absolute), or why it names none."""

    text: str
    path: str | None
    error: str | None = None


def _decode(data: bytes, suffix: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if suffix == ".m3u8":
            raise
        return data.decode("latin-1")  # plain .m3u predates UTF-8 in many players


def parse_m3u(path: str) -> Iterator[M3uEntry]:
    """The entries of the M3U/M3U8 file at ``path``; raises ``OSError``/``UnicodeError``."""
    with open(path, "rb") as handle:
        text = _decode(handle.read(), os.path.splitext(path)[1].lower())
    folder = os.path.dirname(path)
    # Only CR/LF end a line: str.splitlines() would also split on form feeds and the like,
    # which file names may hold.
    for raw in _LINE_END.split(text):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _WINDOWS_DRIVE.match(line):
            yield M3uEntry(line, None, "a Windows path, not a path in the music folder")
            continue
        if _SCHEME.match(line):
            parts = urlsplit(line)
            if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
                yield M3uEntry(line, None, "not a local file (only file: URIs and paths are read)")
                continue
            line = url2pathname(unquote(parts.path))
        elif "\\" in line and "/" not in line:
            line = line.replace("\\", "/")  # written on Windows
        yield M3uEntry(line, os.path.normpath(os.path.join(folder, line)))
