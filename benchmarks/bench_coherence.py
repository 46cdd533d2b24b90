"""Cross-process coherence: what a revalidated cached read costs, and how fast an idle
worker in another process starts a new job.

Reads: a library of 200 playlists (one of 100 tracks) synced into a fresh database; a
second context (default settings, the "web process") reads the first list page (50
playlists) and the 100-track detail. Timed, per backend: the uncached read
(``ctx.playlists.repository``), the cached read through ``ctx.playlists`` when nothing
changed, and the cached read when another connection committed something unrelated just
before (untimed), so that SQLite's ``data_version`` moved and the head of the change feed
is read. Wake-up: a worker process idles with a 60 s poll back-off (notifications on) or
with the default back-off (0.5 s up to 10 s, ``listen_for_changes=False``: polling only);
this process enqueues one job at a time and the handler records when it started.

    HARMONY_TEST_POSTGRES_URL=... python benchmarks/bench_coherence.py [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _report import (
    command_line,
    machine,
    postgres_settings,
    sqlite_settings,
    write_section,
)

from harmony import HarmonyContext, HarmonySettings
from harmony.testing import InMemoryProvider

WORKER = """
import json, sys, time
from harmony import HarmonyContext, HarmonySettings, Worker
settings = HarmonySettings(**json.loads(sys.argv[1]))
with HarmonyContext(settings) as ctx:
    @ctx.jobs.handler("bench.wake")
    def handle(job):
        return {"started": time.time()}
    worker = Worker(ctx).start()
    time.sleep(1.0)
    open(sys.argv[2], "w").close()
    sys.stdin.read()
    worker.stop(timeout=30)
"""


def _library() -> InMemoryProvider:
    provider = InMemoryProvider("bench")
    track = 0
    for n in range(200):
        size = 100 if n == 0 else 10
        tracks = []
        for _ in range(size):
            track += 1
            tracks.append(
                {
                    "id": f"t{track}",
                    "title": f"Song {track}",
                    "artists": [f"Artist {track % 97}"],
                    "album": f"Album {track % 31}",
                    "duration_ms": 180_000 + track,
                }
            )
        provider.set_playlist(f"p{n}", f"Playlist {n}", tracks)
    return provider


def _time(fn: Callable[[], Any], reps: int, before: Callable[[], Any] | None = None) -> list[float]:
    samples = []
    for _ in range(reps):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def reads(
    backend: str, settings: HarmonySettings, reps: int
) -> list[tuple[str, str, float, float]]:
    provider = _library()
    rows = []
    with (
        HarmonyContext(settings, providers={"bench": provider}) as writer,
        HarmonyContext(settings) as web,
    ):
        writer.migrate()
        writer.sync.run_once()
        detail_id = next(
            p.id
            for p in writer.playlists.repository.list_page(limit=500).items
            if p.provider_id == "p0"
        )
        assert len(web.playlists.get(detail_id).tracks) == 100

        def unrelated_commit() -> None:  # another process's write: moves data_version
            writer.activity.record("bench.tick", "ok")

        for name, cached, uncached in (
            (
                "list page (50)",
                lambda: web.playlists.list_page(limit=50),
                lambda: web.playlists.repository.list_page(limit=50),
            ),
            (
                "detail (100 tracks)",
                lambda: web.playlists.get(detail_id),
                lambda: web.playlists.repository.get(detail_id),
            ),
        ):
            cached()  # warm
            for label, samples in (
                ("uncached", _time(uncached, reps)),
                ("cached, nothing changed", _time(cached, reps)),
                ("cached, another connection committed", _time(cached, reps, unrelated_commit)),
            ):
                rows.append(
                    (f"{backend}: {name}", label, statistics.median(samples), _pct(samples, 0.95))
                )
    return rows


def wakeups(settings: HarmonySettings, notify: bool, samples: int) -> list[float]:
    fields = json.loads(settings.model_dump_json())
    fields["activity_events"] = []
    if notify:
        fields.update(scheduler_poll_interval=60.0, scheduler_max_poll_interval=60.0)
    else:
        fields["listen_for_changes"] = False
    latencies = []
    rng = random.Random(20261203)
    with tempfile.TemporaryDirectory() as folder, HarmonyContext(settings) as ctx:
        ctx.migrate()
        ready = Path(folder) / "ready"
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(fields), str(ready)], stdin=subprocess.PIPE
        )
        try:
            while not ready.exists():
                time.sleep(0.05)
            for _ in range(samples):
                # Back to its back-off; a random pause so enqueues do not fall in step with
                # SQLite's 50 ms data_version polls (which would measure one phase only).
                time.sleep(rng.uniform(0.2, 0.4) if notify else rng.uniform(2.0, 4.0))
                sent = time.time()
                job = ctx.jobs.enqueue("bench.wake", {})
                while (done := ctx.jobs.get(job.id)).status != "completed":
                    time.sleep(0.001)
                assert done.result is not None
                latencies.append((done.result["started"] - sent) * 1000)
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=2000, help="timed reads per case")
    parser.add_argument(
        "--wakeups", type=int, default=100, help="wake-ups measured with notifications"
    )
    parser.add_argument("--polled", type=int, default=20, help="wake-ups measured by polling only")
    parser.add_argument("--postgres", default=os.environ.get("HARMONY_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--write", action="store_true", help="write the section into docs/benchmarks.md"
    )
    args = parser.parse_args()

    read_rows: list[tuple[str, str, float, float]] = []
    wake_rows: list[tuple[str, str, list[float]]] = []
    backends: list[tuple[str, Any]] = [("SQLite", sqlite_settings)]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_settings(args.postgres)))
    for backend, make in backends:
        with make() as settings:
            read_rows += reads(backend, settings, args.reps)
        for notify, count in ((True, args.wakeups), (False, args.polled)):
            with make() as settings:
                label = "notification" if notify else "polling only (back-off 0.5 s to 10 s)"
                wake_rows.append((backend, label, wakeups(settings, notify, count)))
                print(
                    wake_rows[-1][0],
                    wake_rows[-1][1],
                    f"p50 {statistics.median(wake_rows[-1][2]):.1f} ms",
                )

    lines = [
        "| read | case | median | p95 | cached / uncached (median) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    uncached: dict[str, float] = {}
    for what, case, median, p95 in read_rows:
        if case == "uncached":
            uncached[what] = median
        ratio = "" if case == "uncached" else f"{median / uncached[what]:.0%}"
        lines.append(f"| {what} | {case} | {median:.0f} us | {p95:.0f} us | {ratio} |")
    lines += [
        "",
        "| backend | wake-up by | samples | p50 | p95 | max |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for backend, label, samples in wake_rows:
        lines.append(
            f"| {backend} | {label} | {len(samples)} | {statistics.median(samples):.1f} ms | "
            f"{_pct(samples, 0.95):.1f} ms | {max(samples):.1f} ms |"
        )
    table = "\n".join(lines)
    print(table)
    if args.write:
        about = __doc__.split("\n\n")[1].replace("\n", " ")
        write_section(
            "## Cross-process coherence and wake-ups (`benchmarks/bench_coherence.py`)",
            "\n".join(__import__("textwrap").wrap("What it measures: " + about, 90)),
            machine(args.postgres),
            command_line("benchmarks/bench_coherence.py", sys.argv[1:]),
            table,
        )


if __name__ == "__main__":
    main()
