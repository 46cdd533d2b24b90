"""The providers registered on a context: a read-only mapping that the context can change."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from harmony.errors import ConfigurationError
from harmony.providers.base import PlaylistProvider

__all__ = ["PROVIDER_NAME", "ProviderRegistry", "check_provider"]

#: A provider name: what registries, stored rows and credential keys use.
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
_NAME_RULE = "lowercase letters, digits, '_', '.', '-'; at most 63 characters"


class ProviderRegistry(Mapping[str, PlaylistProvider]):
    """Providers by name, shared by the context's services (sync, search, status).

    Reads see a consistent snapshot: :meth:`add` and :meth:`remove` replace the inner
    dict instead of changing it, so a sync iterating the providers never sees the mapping
    change under it. Only the context changes it (``ctx.add_provider``).
    """

    def __init__(self, providers: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, PlaylistProvider] = {}
        for name, provider in (providers or {}).items():
            self.add(name, provider)

    def add(self, name: str, provider: Any, *, replace: bool = False) -> None:
        """Register ``provider`` as ``name``; :class:`ConfigurationError` if the name is
        taken (unless ``replace``: swapped in one step) or invalid, or the object is not a
        :class:`PlaylistProvider`."""
        check_provider(name, provider)
        with self._lock:
            if name in self._items and not replace:
                raise ConfigurationError(
                    f"a provider named {name!r} is already registered; remove it first "
                    "(ctx.remove_provider(name)) to replace it"
                )
            self._items = {**self._items, name: provider}

    def remove(self, name: str) -> PlaylistProvider:
        """Unregister ``name`` and return its provider; :class:`ConfigurationError` if absent."""
        with self._lock:
            if name not in self._items:
                known = ", ".join(sorted(self._items)) or "none"
                raise ConfigurationError(
                    f"no provider named {name!r:.80} is registered (registered: {known})"
                )
            items = dict(self._items)
            provider = items.pop(name)
            self._items = items
        return provider

    def __getitem__(self, name: str) -> PlaylistProvider:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ProviderRegistry({sorted(self._items)!r})"


def check_provider(name: Any, provider: Any) -> None:
    """Refuse an invalid provider name or an object that is not a playlist provider."""
    if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
        raise ConfigurationError(
            f"provider name {name!r:.80} is invalid; use a lowercase name such as 'spotify' "
            f"({_NAME_RULE})"
        )
    if not isinstance(provider, PlaylistProvider):
        raise ConfigurationError(
            f"provider {name!r} ({type(provider).__name__}) is not a PlaylistProvider: it "
            "needs a name and iter_playlists() and iter_tracks(playlist_id) methods"
        )
