"""Pick the provider for an export file or folder (what ``harmony import PATH`` calls)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from harmony.errors import ImportFileError
from harmony.providers.base import PlaylistProvider
from harmony.providers.exportify import ExportifyProvider
from harmony.providers.mpd import MpdSliceProvider

__all__ = ["EXPORT_SUFFIXES", "open_export"]

#: File suffixes :func:`open_export` understands, and the format each one means.
EXPORT_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {".csv": "Exportify CSV export", ".json": "Million Playlist Dataset slice"}
)

_EXPECTED = "an Exportify .csv export, an MPD slice .json file, or a folder of either"


def _suffix_of_folder(folder: Path) -> str:
    try:
        suffixes = {
            entry.suffix.lower()
            for entry in folder.iterdir()
            if entry.suffix.lower() in EXPORT_SUFFIXES
            and not entry.name.startswith(".")
            and entry.is_file()
        }
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ImportFileError(f"cannot read the folder ({reason})", path=str(folder)) from exc
    if not suffixes:
        raise ImportFileError(
            f"the folder contains no .csv or .json files; pass {_EXPECTED}", path=str(folder)
        )
    if len(suffixes) > 1:
        raise ImportFileError(
            "the folder mixes .csv and .json files, so its format is ambiguous; "
            "put the Exportify CSVs and the MPD slices in separate folders",
            path=str(folder),
        )
    return suffixes.pop()


def open_export(path: str | os.PathLike[str], *, name: str | None = None) -> PlaylistProvider:
    """A provider for the export at ``path``, chosen by file suffix.

    ``.csv`` files (or a folder of them) give an :class:`ExportifyProvider`, ``.json``
    files (or a folder of them) a :class:`MpdSliceProvider`; folders are read
    non-recursively. ``name`` overrides the provider's default name (``"exportify"`` or
    ``"mpd"``). A missing path, an unknown suffix or a folder without export files raises
    :class:`~harmony.errors.ImportFileError`; the files themselves are read lazily, by the
    provider's iterators.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        suffix = _suffix_of_folder(target)
    elif target.is_file():
        suffix = target.suffix.lower()
        if suffix not in EXPORT_SUFFIXES:
            raise ImportFileError(
                f"unknown export format {target.suffix or '(no suffix)'!r}; pass {_EXPECTED}",
                path=str(target),
            )
    elif target.exists():
        raise ImportFileError(f"not a regular file or folder; pass {_EXPECTED}", path=str(target))
    else:
        raise ImportFileError(f"the path does not exist; pass {_EXPECTED}", path=str(target))
    if suffix == ".csv":
        return ExportifyProvider(target, name=name or "exportify")
    return MpdSliceProvider(target, name=name or "mpd")
