"""The CLI with a stray HARMONY_* variable (a warning, still works) and a missing extra
(one line, exit code 1)."""

from __future__ import annotations

import importlib
import sys

import pytest

from harmony import HarmonyContext, HarmonySettings, MissingExtraError
from tests.cli.support import Run


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("HARMONY_DATABASE_ULR", "did you mean HARMONY_DATABASE_URL?"),
        ("HARMONY_SOMETHING_ELSE", "the settings are listed in docs/configuration.md"),
    ],
)
def test_an_unknown_variable_is_one_warning_line_and_the_command_still_runs(
    harmony_cli: Run, monkeypatch: pytest.MonkeyPatch, variable: str, hint: str
) -> None:
    monkeypatch.setenv(variable, "whatever")
    monkeypatch.setenv("HARMONY_PG_BINDIR", "/usr/lib/postgresql/15/bin")  # pg.sh's: silent
    monkeypatch.setenv("HARMONY_EXAMPLE_EXPORTS", "/tmp/exports")  # the examples': silent
    warning = (
        f"harmony: warning: environment variable {variable} is not a harmony setting and "
        f"is ignored; {hint}\n"
    )
    for command in (("migrate", "upgrade"), ("activity", "list")):
        run = harmony_cli(*command)
        assert (run.code, run.err) == (0, warning), run


def test_a_postgresql_url_without_psycopg_is_one_line_naming_the_extra(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without the extra sees
    line = cli("info", "--url", "postgresql://app@db.invalid/music").error(
        "pip install 'harmony[postgres]'"
    )
    assert "psycopg" in line


def test_a_postgresql_context_without_psycopg_raises_missing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtraError, match=r"harmony\[postgres\]") as raised:
        HarmonyContext(HarmonySettings(database_url="postgresql://app@db.invalid/music"))
    assert isinstance(raised.value, ImportError)  # `except ImportError` still catches it
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("missing", ["spotipy", "requests"])
def test_the_spotify_provider_without_its_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delitem(sys.modules, "harmony.providers.spotify", raising=False)
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingExtraError) as raised:
        importlib.import_module("harmony.providers.spotify")
    assert str(raised.value) == (
        f"the Spotify provider needs {missing}, which is not installed: "
        "pip install 'harmony[spotify]'"
    )
