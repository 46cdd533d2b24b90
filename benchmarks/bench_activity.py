"""Activity log throughput and export memory, on SQLite and (optionally) PostgreSQL.

    python benchmarks/bench_activity.py [--rows N] [--postgres URL]

Measures: batched inserts (rows/s), the newest keyset page of 50 filtered by type and
status, paging through the whole log, and CSV / JSON-lines export (rows/s and the peak
Python heap, which stays flat as the log grows because export streams in batches; paging
and export run under tracemalloc, which slows them). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from harmony import HarmonyContext, HarmonySettings
from harmony._db.models import ActivityEventRow
from harmony.testing import temporary_schema


class _NullWriter(io.TextIOBase):
    """Counts what is written and keeps none of it (so export memory is harmony's own)."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _seed(ctx: HarmonyContext, rows: int) -> float:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5_000
    began = time.perf_counter()
    for offset in range(0, rows, batch):
        values = [
            {
                "timestamp": start + timedelta(seconds=i),
                "type": ("sync.run", "db.migrate", "credentials.set")[i % 3],
                "status": "ok" if i % 10 else "failed",
                "details": {"n": i, "playlists": i % 17, "note": "benchmark row"},
            }
            for i in range(offset, min(rows, offset + batch))
        ]
        with ctx.db.transaction() as tx:
            tx.execute(insert(ActivityEventRow), values)
    elapsed = time.perf_counter() - began
    # Fresh statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) would give.
    with ctx.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE activity_events")
        conn.commit()
    return elapsed


def _measure(fn: Callable[[], Any]) -> tuple[float, int, Any]:
    tracemalloc.start()
    began = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, result


def _page_all(ctx: HarmonyContext) -> int:
    seen, cursor = 0, None
    while True:
        page = ctx.activity.list(limit=1000, cursor=cursor)
        seen += len(page)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def run(settings: HarmonySettings, rows: int, label: str) -> list[str]:
    lines = []
    with HarmonyContext(settings.model_copy(update={"activity_events": ()})) as ctx:
        ctx.migrate()
        seconds = _seed(ctx, rows)
        lines.append(f"| {label} | insert (batches of 5,000) | {rows / seconds:,.0f} rows/s | |")
        timings = []
        for _ in range(21):
            began = time.perf_counter()
            ctx.activity.list(type="sync.run", status="ok", limit=50)
            timings.append(time.perf_counter() - began)
        median = statistics.median(timings)
        lines.append(
            f"| {label} | newest page of 50, filtered (median of 21) | {median * 1000:.2f} ms | |"
        )
        t, _, seen = _measure(lambda: _page_all(ctx))
        assert seen == rows, (seen, rows)
        lines.append(f"| {label} | keyset paging through all | {rows / t:,.0f} rows/s | |")
        for fmt in ("csv", "jsonl"):
            sink = _NullWriter()
            t, peak, count = _measure(lambda: ctx.activity.export(sink, fmt))  # noqa: B023
            assert count == rows
            lines.append(
                f"| {label} | export {fmt} | {rows / t:,.0f} rows/s | {peak / 2**20:.1f} MiB |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("HARMONY_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"rows: {args.rows:,}\n")
    print("| backend | operation | throughput / latency | peak heap |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = HarmonySettings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}")
        print("\n".join(run(sqlite, args.rows, "SQLite")))
    if args.postgres:
        with temporary_schema(args.postgres, prefix="harmony_bench") as schema:
            pg = HarmonySettings(database_url=args.postgres, database_schema=schema)
            print("\n".join(run(pg, args.rows, "PostgreSQL")))


if __name__ == "__main__":
    main()
