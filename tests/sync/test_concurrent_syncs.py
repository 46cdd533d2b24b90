"""Two syncs of one provider at once: the older fetch never overwrites a newer result.

Each sync takes a ticket (``sync_state``) before it fetches. The one that began later holds
newer provider data; if it stores its result first, the earlier one stores nothing
(``SyncReport.superseded``) instead of putting older data back. Two contexts on one
database stand in for two processes (the tickets live in the database).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from harmony import HarmonyContext, RecordingEventLogger, SyncReport
from harmony.testing import InMemoryProvider
from harmony.testing.pytest_plugin import SettingsFactory

WAIT_SECONDS = 30.0


class _HeldProvider(InMemoryProvider):
    """Blocks in ``iter_playlists`` until released: a slow fetch."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.fetching = threading.Event()
        self.release = threading.Event()

    def iter_playlists(self) -> Iterator[Any]:
        self.fetching.set()
        assert self.release.wait(WAIT_SECONDS)
        yield from super().iter_playlists()


def _tracks(*ns: int) -> list[dict[str, Any]]:
    return [{"id": f"t{n}", "title": f"Song {n}", "artists": ["A"]} for n in ns]


def _stored(ctx: HarmonyContext) -> dict[str, tuple[str, int]]:
    return {
        p.provider_id: (p.name, p.track_count) for p in ctx.playlists.repository.list_page().items
    }


def test_a_slow_sync_with_older_data_stores_nothing_after_a_newer_one_committed(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory()
    slow, fast = _HeldProvider("mem"), InMemoryProvider("mem")
    slow.set_playlist("p", "Old name", _tracks(1))  # what the provider said first
    fast.set_playlist("p", "New name", _tracks(1, 2))  # what it said a moment later
    events = RecordingEventLogger()
    with (
        HarmonyContext(settings, providers={"mem": slow}, events=events) as a,
        HarmonyContext(settings, providers={"mem": fast}) as b,
    ):
        a.migrate()
        reports: list[SyncReport] = []
        thread = threading.Thread(target=lambda: reports.append(a.sync.run_once()))
        thread.start()
        assert slow.fetching.wait(WAIT_SECONDS)  # a has its ticket and is fetching
        newer = b.sync.run_once()
        slow.release.set()
        thread.join(WAIT_SECONDS)
        [older] = reports
        assert newer.created == 1 and not newer.superseded
        assert older.superseded == ("mem",) and older.ok
        assert (older.created, older.updated) == (0, 0)
        assert _stored(b) == {"p": ("New name", 2)}
        [run] = [e for e in events if e.name == "sync.run"]
        assert run.fields["status"] == "superseded"


def test_the_order_fetches_began_in_decides_not_the_order_of_commits(
    harmony_settings_factory: SettingsFactory,
) -> None:
    settings = harmony_settings_factory()
    early, late = _HeldProvider("mem"), InMemoryProvider("mem")
    early.set_playlist("p", "Fetched first", _tracks(1))
    late.set_playlist("p", "Fetched second", _tracks(1, 2))
    with (
        HarmonyContext(settings, providers={"mem": early}) as a,
        HarmonyContext(settings, providers={"mem": late}) as b,
    ):
        a.migrate()
        reports: list[SyncReport] = []
        thread = threading.Thread(target=lambda: reports.append(a.sync.run_once()))
        thread.start()
        assert early.fetching.wait(WAIT_SECONDS)
        assert b.sync.run_once().created == 1  # began later: its data stands
        early.release.set()
        thread.join(WAIT_SECONDS)
        assert reports[0].superseded == ("mem",)
        assert _stored(a) == {"p": ("Fetched second", 2)}
        # Any sync that begins now is the newest and stores what it fetches.
        late.set_playlist("p", "Fetched third", _tracks(3))
        assert b.sync.run_once().updated == 1
        assert _stored(a) == {"p": ("Fetched third", 1)}


def test_sequential_syncs_are_never_superseded(harmony_context: HarmonyContext) -> None:
    provider = InMemoryProvider("mem")
    harmony_context.add_provider("mem", provider)
    for n in range(5):
        provider.set_playlist("p", f"name {n}", _tracks(n))
        report = harmony_context.sync.run_once()
        assert not report.superseded and report.created + report.updated == 1
