# privatize: skip -- this module names the old import paths on purpose.
"""Old import paths of the modules made private in 0.2, kept for one release.

``import harmony.services.sync`` (or any module under the old names below) still works: an
import hook aliases it to the very module object of ``harmony._services.sync``, so classes,
``isinstance`` checks and monkeypatching behave exactly as before, and warns once with a
:class:`DeprecationWarning` that names the public import to use instead. The hook is
installed by ``harmony/__init__.py``; installing it twice keeps one finder.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["RENAMED", "install"]

#: Old top-level names under ``harmony`` and their private replacements.
RENAMED: dict[str, str] = {
    name: f"_{name}"
    for name in (
        "cache",
        "cli",
        "db",
        "events",
        "migrations",
        "repositories",
        "services",
        "clock",
        "context",
        "settings",
        "textnorm",
        "validation",
    )
}

_PREFIX = "harmony."
_REMOVED_IN = "0.3"


def _new_name(fullname: str) -> str | None:
    if not fullname.startswith(_PREFIX):
        return None
    head, _, tail = fullname[len(_PREFIX) :].partition(".")
    private = RENAMED.get(head)
    if private is None:
        return None
    return f"{_PREFIX}{private}" + (f".{tail}" if tail else "")


def _advice(old: str, new: str, module: ModuleType) -> str:
    import harmony  # the package is fully imported by the time a user imports an old path

    public = [
        name
        for name in getattr(module, "__all__", ())
        if name in harmony.__all__ and getattr(harmony, name) is getattr(module, name, None)
    ]
    if public:
        shown = ", ".join(public[:6]) + (", ..." if len(public) > 6 else "")
        what = f"import {shown} from harmony"
    else:
        what = "use the public names exported from harmony"
    return (
        f"{old} is deprecated and will be removed in harmony {_REMOVED_IN}: {what} "
        f"({old} is now the private module {new})"
    )


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self._old = old
        self._new = new
        self._real_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._new)
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped our alias spec onto the real module; put the real one
        # back so the module keeps its own name, origin and submodule search path.
        module.__spec__ = self._real_spec
        # stacklevel 2 is the importing statement: warnings skips importlib's own frames.
        warnings.warn(_advice(self._old, self._new, module), DeprecationWarning, stacklevel=2)


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``harmony.<old>[.<sub>]`` and serves the module of ``harmony._<old>[.<sub>]``."""

    _harmony_compat = True

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = _new_name(fullname)
        if new is None:
            return None
        if importlib.util.find_spec(new) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once per interpreter)."""
    # Ahead of the path finder: after ``harmony.services`` is aliased, its ``__path__`` is
    # the private package's folder, where the path finder would load a second copy of
    # ``harmony.services.sync`` under the old name.
    # Marked by attribute, not class: a reloaded harmony must not add a second finder.
    if not any(getattr(finder, "_harmony_compat", False) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())
