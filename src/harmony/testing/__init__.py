"""Test helpers for harmony and its users: fakes for every seam, PostgreSQL schemas.

Importing this package needs nothing beyond harmony itself. Three submodules need the
``testing`` extra (``pip install 'harmony[testing]'``) and are imported explicitly:

- :mod:`harmony.testing.pytest_plugin`: the fixtures (``harmony_context``,
  ``harmony_context_factory``, ``harmony_provider``, ``fake_spotify``, ...); pytest loads
  it through its ``pytest11`` entry point, so tests just name the fixtures.
- :mod:`harmony.testing.strategies`: hypothesis strategies (``provider_states()``,
  ``job_payloads()``, ``event_fields()``, ...); ``from harmony.testing import strategies``.
  It is not imported here so that hypothesis stays optional for ``import harmony.testing``.
- :mod:`harmony.testing.audio`: tiny valid tagged audio files (``write_mp3``,
  ``write_flac``, ``write_ogg``, ``write_m4a``, ``write_audio``), tagged with mutagen.

See ``docs/testing.md``.
"""

from harmony._events.loggers import RecordedEvent, RecordingEventLogger
from harmony.testing.capture import capture_events
from harmony.testing.clock import ManualClock
from harmony.testing.postgres import (
    POSTGRES_URL_ENV,
    postgres_url_from_env,
    temporary_schema,
)
from harmony.testing.provider import InMemoryProvider
from harmony.testing.psutil import FakePsutil
from harmony.testing.spotify_server import (
    FakeAlbum,
    FakePlaylist,
    FakeSpotifyServer,
    FakeTrack,
    Fault,
    RecordedRequest,
)

__all__ = [
    "POSTGRES_URL_ENV",
    "FakeAlbum",
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
    "capture_events",
    "postgres_url_from_env",
    "temporary_schema",
]
