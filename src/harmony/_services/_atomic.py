"""Replacing a file atomically, and only when its content changes.

Private to :mod:`harmony._services`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

__all__ = ["write_if_changed"]


def _same_content(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size != len(data):
                return False
            return handle.read(len(data) + 1) == data
    except FileNotFoundError:
        return False


def write_if_changed(path: str, data: bytes) -> bool:
    """Make the file at ``path`` hold ``data``; returns whether it was (re)written.

    A file that already holds exactly ``data`` is left alone (same inode, same mtime).
    Otherwise ``data`` goes to a temporary file in the same folder, is flushed to disk and
    renamed over ``path`` with :func:`os.replace`, so a reader sees the old file or the new
    one, never a partial one, and a crash leaves at most a ``.name.*.tmp`` file behind. An
    existing file's permission bits are kept; a new file gets the usual ``0o666 & ~umask``.
    Raises ``OSError``.
    """
    if _same_content(path, data):
        return False
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _sync_folder(folder)
    return True


def _sync_folder(folder: str) -> None:
    # The rename itself is durable only once the folder's entry is on disk; not every
    # platform or file system can open a folder for that, and then there is nothing to do.
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
