"""docs/observability.md and harmony._events.registry.EVENTS document the same events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harmony._events import EVENTS, logger_name_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
_HEADER = re.compile(r"^\|\s*Event\s*\|\s*Required fields\s*\|")
_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|(?P<fields>[^|]*)\|(?P<meaning>[^|]*)\|\s*$")


def _catalogue_rows() -> list[tuple[str, tuple[str, ...], str]]:
    """(name, required fields, meaning) for each row of the doc's event table."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    assert start is not None, f"{DOC} has no '| Event | Required fields | ... |' table"
    rows = []
    for line in lines[start + 2 :]:  # skip the header and its '| --- |' separator
        if not line.startswith("|"):
            break
        match = _ROW.match(line)
        assert match is not None, f"malformed event table row in {DOC.name}: {line!r}"
        fields = tuple(re.findall(r"`([^`]+)`", match["fields"]))
        rows.append((match["name"], fields, match["meaning"].strip()))
    return rows


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, tuple[str, ...], str]]:
    return _catalogue_rows()


def test_doc_lists_every_registered_event(rows: list[tuple[str, tuple[str, ...], str]]) -> None:
    missing = set(EVENTS) - {name for name, _, _ in rows}
    assert not missing, f"registered but not in {DOC.name}: {sorted(missing)}"


def test_doc_lists_no_unregistered_event(rows: list[tuple[str, tuple[str, ...], str]]) -> None:
    extra = {name for name, _, _ in rows} - set(EVENTS)
    assert not extra, f"in {DOC.name} but not in EVENTS: {sorted(extra)}"


def test_doc_lists_each_event_once(rows: list[tuple[str, tuple[str, ...], str]]) -> None:
    names = [name for name, _, _ in rows]
    assert len(names) == len(set(names))


def test_doc_required_fields_equal_the_registry(
    rows: list[tuple[str, tuple[str, ...], str]],
) -> None:
    documented = {name: fields for name, fields, _ in rows if name in EVENTS}
    registered = {name: spec.required for name, spec in EVENTS.items()}
    assert documented == registered


def test_doc_describes_every_event(rows: list[tuple[str, tuple[str, ...], str]]) -> None:
    assert [name for name, _, meaning in rows if not meaning] == []


def test_doc_names_the_logger_of_every_registered_family() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in EVENTS:
        assert f"`{logger_name_for(name)}`" in text, name
