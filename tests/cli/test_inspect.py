"""``harmony events tail``, ``stats``, ``search`` and ``status``."""

from __future__ import annotations

import pytest

from harmony import HarmonyContext, HarmonySettings
from tests.cli.support import Run


@pytest.fixture
def demo(harmony_cli: Run) -> Run:
    harmony_cli("demo").ok()
    return harmony_cli


def test_events_tail_shows_the_newest_entries_oldest_first(demo: Run) -> None:
    demo("sync").ok()
    lines = demo("events", "tail", "-n", "2", "--type", "sync.run").ok().out.splitlines()
    assert len(lines) == 2 and all(
        "sync.run" in line and "provider=sample" in line for line in lines
    )
    assert "created_count=12" in lines[0] and "unchanged_count=12" in lines[1]
    assert demo("events", "tail", "-n", "1", "--json").ok().json()["type"] == "sync.run"
    demo("events", "tail", "-n", "0").error("--limit must be at least 1")


def test_stats_prints_the_machine_and_json_on_request(demo: Run) -> None:
    out = demo("stats").ok().out
    assert out.startswith("cpu ") and "memory" in out and "disk" in out
    stats = demo("stats", "--json").ok().json()
    assert stats["cpu"]["logical_cores"] >= 1 and stats["memory"]["total"] > 0


def test_search_ranks_and_reports_bad_queries(demo: Run) -> None:
    out = demo("search", "deja vu", "--limit", "2").ok().out
    assert out.splitlines()[0].startswith("  1. Déjà Vu — Chloé Dufresne")
    found = demo("search", "summer 1984 live", "--json").ok().json()
    assert found["items"][0]["title"] == "Summer 1984 - Live at Wembley"
    demo("search", "  ").error("query is empty")
    demo("search", "x", "--limit", "0").error("limit must be an integer from 1")


def test_status_lists_sources_and_credentials_without_secrets(
    demo: Run, harmony_settings: HarmonySettings
) -> None:
    with HarmonyContext(harmony_settings) as ctx:
        ctx.credentials.set("spotify", client_id="app", client_secret="hush-123")
    out = demo("status").ok().out
    assert "sample       configured=yes" in out and "spotify      configured=yes pro=no" in out
    assert "hush-123" not in out
    (spotify,) = demo("status", "spotify", "--json").ok().json()
    assert spotify["credential_keys"] == ["client_id", "client_secret"]
