"""Quickstart: migrate a database, record activity, store credentials, read events back.

    python examples/quickstart.py [DATABASE_URL]

Defaults to a SQLite file in a temporary folder; pass a PostgreSQL URL to use a server.
Other settings come from ``HARMONY_*`` variables (e.g. ``HARMONY_DATABASE_SCHEMA``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from harmony import HarmonyContext, HarmonySettings, RecordingEventLogger


def main(url: str) -> None:
    events = RecordingEventLogger()
    settings = HarmonySettings.from_env(database_url=url)
    with HarmonyContext(settings, events=events) as ctx:
        ctx.migrate()
        ctx.activity.record("import.finished", "ok", {"playlists": 3})
        ctx.credentials.set("spotify", client_id="abc", client_secret="s3cr3t")
        print("revision:", ctx.migrations.current())
        for entry in ctx.activity.list(limit=10):
            print("activity:", entry.type, entry.status, dict(entry.details))
        print("credentials:", ctx.credentials.get("spotify"))
        print("events:", [event.name for event in events])


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            main(f"sqlite:///{Path(folder) / 'quickstart.db'}")
