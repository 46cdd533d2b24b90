"""Test helpers for harmony and its users: a manual clock, recording events, PostgreSQL schemas.

The pytest fixtures live in :mod:`harmony.testing.pytest_plugin`.
"""

from harmony.events.loggers import RecordedEvent, RecordingEventLogger
from harmony.testing.clock import ManualClock
from harmony.testing.postgres import (
    POSTGRES_URL_ENV,
    postgres_url_from_env,
    temporary_schema,
)
from harmony.testing.provider import InMemoryProvider
from harmony.testing.psutil import FakePsutil
from harmony.testing.spotify_server import (
    FakePlaylist,
    FakeSpotifyServer,
    FakeTrack,
    Fault,
    RecordedRequest,
)

__all__ = [
    "POSTGRES_URL_ENV",
    "FakePlaylist",
    "FakePsutil",
    "FakeSpotifyServer",
    "FakeTrack",
    "Fault",
    "InMemoryProvider",
    "ManualClock",
    "RecordedEvent",
    "RecordedRequest",
    "RecordingEventLogger",
    "postgres_url_from_env",
    "temporary_schema",
]
