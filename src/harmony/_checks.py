"""Small argument checks shared by repositories and services."""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["as_int"]


def as_int(value: Any) -> int | None:
    """An integer-like value (``int``, numpy integers: anything with ``__index__``) as an
    ``int``; ``None`` for anything else, ``bool`` included."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None
