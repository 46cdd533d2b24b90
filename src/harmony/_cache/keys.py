"""Cache keys, tags and strong ETags for the playlist read path and provider status.

Hosts that cache their own responses use the same helpers, so a harmony invalidation and a
host's cache agree on what belongs to which playlist.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "PLAYLIST_LIST_PREFIX",
    "PLAYLIST_LIST_TAG",
    "playlist_detail_key",
    "playlist_list_key",
    "playlist_tag",
    "provider_status_key",
    "provider_tag",
    "strong_etag",
]

#: Every list response lives under this key prefix and carries this tag.
PLAYLIST_LIST_PREFIX = "playlists:list"
PLAYLIST_LIST_TAG = "playlists:list"


def playlist_list_key(**params: Any) -> str:
    """The key of one list response: the prefix plus its query parameters, canonicalised."""
    return f"{PLAYLIST_LIST_PREFIX}:{_canonical(params)}"


def playlist_detail_key(playlist_id: int, variant: str = "full") -> str:
    """The key of one representation (``variant``) of one playlist's detail response."""
    return f"playlists:detail:{int(playlist_id)}:{variant}"


def playlist_tag(playlist_id: int) -> str:
    """The tag every cached response that shows this playlist carries."""
    return f"playlist:{int(playlist_id)}"


def provider_status_key(name: str) -> str:
    """The key of a provider's status response."""
    return f"providers:status:{name}"


def provider_tag(name: str) -> str:
    """The tag every cached response derived from a provider's credentials carries."""
    return f"provider:{name}"


def strong_etag(*parts: Any) -> str:
    """A quoted strong ETag from the parts that determine a representation."""
    digest = hashlib.blake2b(_canonical(list(parts)).encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return list(value)
    raise TypeError(f"cannot use {type(value).__name__} in a cache key or ETag")
