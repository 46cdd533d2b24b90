"""docs/configuration.md lists every HarmonySettings field, its variable and its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harmony import HarmonySettings
from harmony._settings import ENV_PREFIX

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
_ROW = re.compile(r"^\| `(?P<field>[a-z_]+)` \| `(?P<var>[A-Z_]+)` \|(?P<rest>.*)$")


def _documented_rows() -> dict[str, tuple[str, list[str]]]:
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            assert match["field"] not in rows, f"{match['field']} is listed twice"
            cells = [cell.strip() for cell in match["rest"].split(" | ")]
            rows[match["field"]] = (match["var"], cells)
    return rows


def test_every_settings_field_is_documented_and_nothing_else() -> None:
    documented = set(_documented_rows())
    fields = set(HarmonySettings.model_fields)
    assert fields - documented == set(), "fields missing from docs/configuration.md"
    assert documented - fields == set(), "docs/configuration.md lists fields that do not exist"


@pytest.mark.parametrize("field", sorted(HarmonySettings.model_fields))
def test_documented_variable_and_default_match_the_code(field: str) -> None:
    rows = _documented_rows()
    assert field in rows, f"{field} is missing from docs/configuration.md"
    variable, cells = rows[field]
    assert variable == ENV_PREFIX + field.upper()
    default = HarmonySettings.model_fields[field].get_default(call_default_factory=True)
    # cells: type, default, description, limits
    assert cells[1] == f"`{default!r}`", f"documented default of {field} is out of date"
