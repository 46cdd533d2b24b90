"""The result of an in-process CLI run, the one JSON style it checks, and row counts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harmony import ActivityEvent, HarmonyContext, HarmonySettings

#: How every ``--json`` output is written: compact, ASCII, one document per line.
JSON_STYLE: dict[str, Any] = {"separators": (",", ":")}


@dataclass(frozen=True)
class Result:
    """One CLI run: exit code, standard output, standard error."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def ok(self) -> Result:
        """Assert success with a quiet stderr; return self."""
        assert (self.code, self.err) == (0, ""), self
        return self

    def error(self, contains: str, code: int = 1) -> str:
        """Assert one ``harmony: error:`` line containing ``contains``; return it."""
        assert self.code == code and self.out == "" and "Traceback" not in self.err, self
        assert self.err.count("\n") == 1 and self.err.startswith("harmony: error: "), self
        assert contains in self.err, self
        return self.err

    def json(self) -> Any:
        """The one JSON document printed, checked to be in the CLI's one style."""
        (line,) = self.out.splitlines()
        return _styled(line)

    def json_lines(self) -> list[Any]:
        """The JSON objects printed one per line, each checked for the style."""
        return [_styled(line) for line in self.out.splitlines()]


def _styled(line: str) -> Any:
    value = json.loads(line)
    assert json.dumps(value, **JSON_STYLE) == line, f"not in the CLI's JSON style: {line}"
    return value


Run = Callable[..., Result]


def counts(settings: HarmonySettings) -> tuple[int, int]:
    """How many playlists (of any status) and tracks the database holds."""
    with HarmonyContext(settings) as ctx:
        return ctx.playlists.count(status="all"), ctx.tracks.count()


@dataclass(frozen=True)
class SeededDatabase:
    """A migrated SQLite file with a few activity entries, newest first in ``entries``,
    and their CSV export."""

    path: Path
    url: str
    entries: list[ActivityEvent]
    csv: str
