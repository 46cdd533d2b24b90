"""Storage: models, portable types, engine and unit of work."""

from harmony._db.engine import Database, build_engine
from harmony._db.models import (
    JOB_STATUSES,
    ActivityEventRow,
    Base,
    PlaylistRow,
    PlaylistTrackRow,
    QueueJobRow,
    SettingRow,
    TrackRow,
    metadata,
)
from harmony._db.types import JSONType, UTCDateTime

__all__ = [
    "JOB_STATUSES",
    "ActivityEventRow",
    "Base",
    "Database",
    "JSONType",
    "PlaylistRow",
    "PlaylistTrackRow",
    "QueueJobRow",
    "SettingRow",
    "TrackRow",
    "UTCDateTime",
    "build_engine",
    "metadata",
]
