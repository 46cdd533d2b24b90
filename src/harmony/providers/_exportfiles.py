"""What the export-file providers share: reading files, listing folders, one parsed file.

Private to :mod:`harmony.providers`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Generic, TypeVar

from harmony.errors import ImportFileError

__all__ = ["LastFile", "list_sources", "read_bytes"]

_T = TypeVar("_T")


def read_bytes(source: Path | Traversable) -> bytes:
    try:
        return source.read_bytes()
    except FileNotFoundError as exc:
        raise ImportFileError("the file does not exist; check the path", path=str(source)) from exc
    except IsADirectoryError as exc:
        raise ImportFileError("expected a file but found a folder", path=str(source)) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImportFileError(
            f"cannot read the file ({reason}); check that it exists and is readable",
            path=str(source),
        ) from exc


def list_sources(root: Path | Traversable, suffix: str, what: str) -> list[Path | Traversable]:
    """The files to read: ``root`` itself, or its ``*suffix`` files sorted by name."""
    where = str(root)
    try:
        if root.is_file():
            return [root]
        if not root.is_dir():
            raise ImportFileError(
                f"the path does not exist; pass {what} file or a folder of them", path=where
            )
        found = sorted(
            (
                entry
                for entry in root.iterdir()
                if entry.name.lower().endswith(suffix)
                and not entry.name.startswith(".")
                and entry.is_file()
            ),
            key=lambda entry: entry.name,
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImportFileError(f"cannot read the folder ({reason})", path=where) from exc
    if not found:
        raise ImportFileError(
            f"the folder contains no {suffix} files; pass {what} file or a folder of them",
            path=where,
        )
    return found


def _signature(source: Path | Traversable) -> tuple[int, ...] | None:
    """A file's version for :class:`LastFile`; ``None`` when it cannot be told."""
    if not isinstance(source, Path):
        return ()  # packaged resources (zip members and the like) do not change
    try:
        stat = source.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


class LastFile(Generic[_T]):
    """The most recently parsed export file, reused while the file is unchanged.

    One slot only, so a provider over a folder holds one parsed file at a time, yet the
    sync engine's pattern (list a file's playlists, then fetch their tracks) parses each
    file once and reads tracks from the same bytes the snapshot was computed from.
    """

    def __init__(self, parse: Callable[[Path | Traversable], _T]) -> None:
        self._parse = parse
        self._entry: tuple[Path | Traversable, tuple[int, ...], _T] | None = None

    def get(self, source: Path | Traversable) -> _T:
        signature = _signature(source)
        entry = self._entry
        if entry is not None and signature is not None and entry[:2] == (source, signature):
            return entry[2]
        self._entry = None  # release the previous file before parsing the next
        value = self._parse(source)
        if signature is not None:
            self._entry = (source, signature, value)
        return value
