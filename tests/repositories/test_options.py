"""ctx.options (non-secret rows of the settings table) and ctx.system.table_rows(), on
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from harmony import HarmonyContext, InvalidInputError


def test_options_are_stored_replaced_listed_by_prefix_and_deleted(
    harmony_context: HarmonyContext,
) -> None:
    options = harmony_context.options
    assert options.get("sources.a") is None
    options.set("sources.a", {"kind": "file", "path": "/music/a.csv"})
    options.set("sources.b", {"kind": "sample"})
    options.set("sources.a", {"kind": "file", "path": "/music/a2.csv"})
    options.set("other", {"x": 1})
    assert options.get("sources.a") == {"kind": "file", "path": "/music/a2.csv"}
    assert options.with_prefix("sources.") == {
        "sources.a": {"kind": "file", "path": "/music/a2.csv"},
        "sources.b": {"kind": "sample"},
    }
    assert options.delete("sources.a") is True
    assert options.delete("sources.a") is False
    assert list(options.with_prefix("sources.")) == ["sources.b"]


def test_a_prefix_is_matched_literally(harmony_context: HarmonyContext) -> None:
    harmony_context.options.set("a_b.1", {})
    harmony_context.options.set("axb.2", {})
    harmony_context.options.set("a%b.3", {})
    assert list(harmony_context.options.with_prefix("a_b")) == ["a_b.1"]
    assert list(harmony_context.options.with_prefix("a%")) == ["a%b.3"]


def test_options_never_show_or_touch_credentials(harmony_context: HarmonyContext) -> None:
    harmony_context.credentials.set("spotify", client_id="id", client_secret="hunter2")
    assert harmony_context.options.with_prefix("") == {}
    with pytest.raises(InvalidInputError, match="ctx.credentials"):
        harmony_context.options.set("credentials:spotify", {"client_secret": "x"})
    with pytest.raises(InvalidInputError, match="ctx.credentials"):
        harmony_context.options.get("credentials:spotify")
    assert harmony_context.credentials.get("spotify") is not None


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("", {}, "option key"),
        ("k" * 256, {}, "option key"),
        (7, {}, "option key"),
        ("ok", ["not", "an", "object"], "JSON object"),
        ("ok", {"bad": float("nan")}, "ok"),
        ("ok", {"nul": "a\x00b"}, "NUL"),
    ],
)
def test_bad_options_are_refused_and_nothing_is_stored(
    harmony_context: HarmonyContext, key: Any, value: Any, named: str
) -> None:
    with pytest.raises(InvalidInputError, match=named):
        harmony_context.options.set(key, value)
    assert harmony_context.options.with_prefix("") == {}


def test_table_rows_counts_the_rows_of_every_harmony_table(harmony_context: HarmonyContext) -> None:
    before = harmony_context.system.table_rows()
    assert {"queue_jobs", "playlists", "tracks", "settings", "activity_events"} <= set(before)
    harmony_context.jobs.enqueue_many([{"type": "a.job"} for _ in range(3)])
    harmony_context.options.set("x", {})
    after = harmony_context.system.table_rows()
    assert after["queue_jobs"] - before["queue_jobs"] == 3
    assert after["settings"] - before["settings"] == 1
