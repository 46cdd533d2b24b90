"""Pick the provider for an export file or a folder (what ``harmony import PATH`` calls)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from harmony.errors import ImportFileError
from harmony.providers.base import PlaylistProvider
from harmony.providers.exportify import ExportifyProvider
from harmony.providers.local import AUDIO_SUFFIXES, LocalFilesProvider
from harmony.providers.mpd import MpdSliceProvider

__all__ = ["EXPORT_SUFFIXES", "open_export"]

#: File suffixes :func:`open_export` understands, and the format each one means.
EXPORT_SUFFIXES: Mapping[str, str] = MappingProxyType(
    {".csv": "Exportify CSV export", ".json": "Million Playlist Dataset slice"}
)

_EXPECTED = (
    "an Exportify .csv export, an MPD slice .json file, a folder of either, or a folder of "
    "music files"
)


def _has_audio(folder: Path) -> bool:
    """Whether any audio file lies in the tree (stops at the first one)."""
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(os.path.splitext(f)[1].lower() in AUDIO_SUFFIXES for f in filenames):
            return True
    return False


def _suffix_of_folder(folder: Path) -> str | None:
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
        return None
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
    files (or a folder of them) a :class:`MpdSliceProvider`; those folders are read
    non-recursively. A folder without either but with audio files anywhere below it gives
    a :class:`~harmony.providers.LocalFilesProvider` (extra ``local``). ``name`` overrides
    the provider's default name (``"exportify"``, ``"mpd"`` or ``"local"``). A missing
    path, an unknown suffix or a folder without export or audio files raises
    :class:`~harmony.errors.ImportFileError`; the files themselves are read lazily, by the
    provider's iterators.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        suffix = _suffix_of_folder(target)
        if suffix is None:
            if _has_audio(target):
                return LocalFilesProvider(target, name=name or "local")
            raise ImportFileError(
                f"the folder contains no .csv, .json or audio files; pass {_EXPECTED}",
                path=str(target),
            )
    elif target.is_file():
        suffix = target.suffix.lower()
        if suffix in AUDIO_SUFFIXES:
            raise ImportFileError(
                "one audio file is not a library; pass the folder that holds your music files",
                path=str(target),
            )
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
