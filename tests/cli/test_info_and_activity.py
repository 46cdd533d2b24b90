"""``harmony info`` (backend, revision, row counts) and ``harmony activity list|export``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from harmony import HarmonyContext
from harmony._db import metadata
from tests.cli.support import Run, SeededDatabase

HARMONY_TABLES = frozenset(metadata.tables)


def test_info_shows_backend_revision_and_row_counts(cli: Run, seeded: SeededDatabase) -> None:
    with HarmonyContext.from_url("sqlite://") as ctx:
        head = ctx.migrations.head()
    lines = cli("info", "--url", seeded.url).ok().out.splitlines()
    assert lines[0] == f"database: {seeded.url} (sqlite)"
    assert lines[1] == f"revision: {head} (up to date)"
    assert lines[2] == f"tables:   {len(HARMONY_TABLES)}"
    rows = {line.split()[0]: int(line.split()[1]) for line in lines[3:]}
    assert rows == dict.fromkeys(HARMONY_TABLES, 0) | {"activity_events": 4, "change_feed_head": 1}


def test_activity_list_newest_first_and_filtered(cli: Run, seeded: SeededDatabase) -> None:
    lines = cli("activity", "list", "--url", seeded.url).ok().out.splitlines()
    assert len(lines) == len(seeded.entries)
    for line, entry in zip(lines, seeded.entries):
        assert line.startswith(f"{entry.timestamp.isoformat()}  {entry.type} ")
        assert entry.status in line.split()

    filtered = cli(
        "activity",
        "list",
        "--type",
        "sync.run",
        "--status",
        "failed",
        "--limit",
        "5",
        "--url",
        seeded.url,
    ).ok()
    (only,) = filtered.out.splitlines()
    assert "sync.run" in only and "failed" in only and "timeout, retried" in only


def test_activity_export_csv_and_jsonl_to_stdout(cli: Run, seeded: SeededDatabase) -> None:
    as_csv = cli("activity", "export", "--url", seeded.url).ok()
    assert as_csv.out == seeded.csv
    rows = list(csv.DictReader(io.StringIO(as_csv.out)))
    assert [int(r["id"]) for r in rows] == [e.id for e in seeded.entries]
    assert [json.loads(r["details"]) for r in rows] == [dict(e.details) for e in seeded.entries]

    as_jsonl = cli(
        "activity",
        "export",
        "--format",
        "jsonl",
        "--type",
        "sync.run",
        "--url",
        seeded.url,
    ).ok()
    parsed = [json.loads(line) for line in as_jsonl.out.splitlines()]
    assert parsed == [e.to_dict() for e in seeded.entries if e.type == "sync.run"]
    assert len(parsed) == 2


def test_activity_export_to_output_file(cli: Run, seeded: SeededDatabase, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    run = cli("activity", "export", "--format", "csv", "--output", str(target), "--url", seeded.url)
    assert (run.code, run.out) == (0, ""), run
    assert run.err == f"exported {len(seeded.entries)} entries to {target}\n"
    assert target.read_text(encoding="utf-8") == seeded.csv


def test_activity_export_to_unwritable_path_writes_nothing(
    cli: Run, seeded: SeededDatabase, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    target = work / "missing" / "out.csv"
    cli("activity", "export", "-o", str(target), "--url", seeded.url).error(
        f"cannot write {str(target)!r}"
    )
    assert list(work.iterdir()) == []
