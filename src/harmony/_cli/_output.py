"""One JSON style for every ``--json`` output, and small text helpers.

Every command writes JSON the same way: compact separators, ASCII (non-ASCII characters
escaped, so any terminal or pipe encoding can carry it), one document per line. Listings
print one object per line (JSON Lines); everything else prints one document.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TextIO

from pydantic import BaseModel

__all__ = ["dumps", "print_json", "print_json_lines", "text_value"]


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """``value`` as one line of JSON in the CLI's style."""
    return json.dumps(value, separators=(",", ":"), default=_default, allow_nan=False)


def print_json(value: Any, out: TextIO) -> None:
    """Print one JSON document."""
    print(dumps(value), file=out)


def print_json_lines(values: Iterable[Any], out: TextIO) -> None:
    """Print one JSON object per line."""
    for value in values:
        print(dumps(value), file=out)


def text_value(value: Any) -> str:
    """A value for ``key=value`` text output: a plain word as it is, anything else (text
    with spaces, numbers, lists, ``null``) as JSON, so it reads back unambiguously."""
    if isinstance(value, str) and value and not any(c.isspace() or c in '"=' for c in value):
        return value
    return json.dumps(value, separators=(",", ":"), default=_default, ensure_ascii=False)
