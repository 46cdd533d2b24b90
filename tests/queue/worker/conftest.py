"""Fixtures of the worker tests: settings that poll fast and store no events, and a
migrated context with the ``worker_writes`` table handlers write to."""

from __future__ import annotations

import pytest

from harmony import HarmonyContext, HarmonySettings
from harmony.testing.pytest_plugin import SettingsFactory
from tests.queue.worker.support import create_writes_table


@pytest.fixture
def harmony_settings(harmony_settings_factory: SettingsFactory) -> HarmonySettings:
    """Worker tests: store no events in the activity log; poll fast when idle."""
    return harmony_settings_factory(
        activity_events=(), scheduler_poll_interval=0.01, scheduler_max_poll_interval=0.05
    )


@pytest.fixture
def ctx(harmony_context: HarmonyContext) -> HarmonyContext:
    """The migrated context, with the ``worker_writes`` table handlers write to."""
    create_writes_table(harmony_context)
    return harmony_context
