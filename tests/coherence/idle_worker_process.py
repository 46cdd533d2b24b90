"""A worker process idling with a 60 s poll back-off, for the wake-up tests.

::

    python idle_worker_process.py --url URL [--schema S] --ready-file PATH

Handles ``wake.job`` (returns ``{"pid": ...}``), runs until stdin closes. Touches the
ready file once its worker thread has started and found the queue empty.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from harmony import HarmonyContext, HarmonySettings, JobContext, Worker


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()
    settings = HarmonySettings(
        database_url=args.url,
        database_schema=args.schema,
        activity_events=(),
        scheduler_poll_interval=60.0,
        scheduler_max_poll_interval=60.0,
    )
    with HarmonyContext(settings) as ctx:

        @ctx.jobs.handler("wake.job")
        def handle(job: JobContext) -> dict[str, int]:
            return {"pid": os.getpid()}

        worker = Worker(ctx).start()
        time.sleep(0.5)  # the first poll found nothing: now it waits out 60 s
        args.ready_file.touch()
        sys.stdin.read()  # until the test closes our stdin
        worker.stop(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
