"""The ``harmony`` command, run as a real subprocess on a real SQLite file and PostgreSQL.

Each subprocess costs about half a second (interpreter start plus imports), so related
steps share one test, and the in-process API prepares and inspects the databases.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from harmony import ActivityEvent, HarmonyContext, HarmonySettings, __version__
from harmony.db import metadata
from harmony.migrations import VERSION_TABLE
from harmony.settings import parse_database_url
from harmony.testing import ManualClock, temporary_schema
from harmony.testing.pytest_plugin import require_postgres_url

SECRET = "hunter2"
#: Nothing listens on port 9 (discard) on the test machines: connecting is refused at once.
UNREACHABLE_PG = f"postgresql://user:{SECRET}@127.0.0.1:9/db"
HARMONY_TABLES = frozenset(metadata.tables)


def _console_script() -> Path:
    beside = Path(sys.executable).parent / "harmony"
    if beside.is_file():
        return beside
    found = shutil.which("harmony")
    if found is None:
        pytest.fail("the 'harmony' console script is not installed; pip install -e . first")
    return Path(found)


SCRIPT = "script"  # the installed console script
MODULE = "module"  # python -m harmony


@dataclass(frozen=True)
class Run:
    """The outcome of one CLI invocation."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def ok(self) -> Run:
        """Assert success with nothing on stderr; return self for chaining."""
        assert (self.returncode, self.stderr) == (0, ""), self
        assert "Traceback" not in self.output, self
        return self

    def error(self, *, contains: str) -> str:
        """Assert a harmony error: non-zero, one ``harmony: error:`` line, no traceback.

        Also asserts that the test password never appears in any output. Returns the line.
        """
        assert self.returncode != 0, self
        assert "Traceback" not in self.output, self
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self
        assert lines[0].startswith("harmony: error: "), self
        assert self.stdout == "", self
        assert contains in lines[0], self
        assert SECRET not in self.output, self
        return lines[0]


def _clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    # The parent's HARMONY_* variables (the test PostgreSQL URL included) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    env.update(extra or {})
    return env


def harmony(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    entry: str = SCRIPT,
) -> Run:
    """Run ``harmony ARGS`` (or ``python -m harmony ARGS``) in ``cwd`` with a clean environment."""
    command: list[str] = (
        [str(_console_script())] if entry == SCRIPT else [sys.executable, "-m", "harmony"]
    )
    done = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=_clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(tuple(args), done.returncode, done.stdout, done.stderr)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _tables(url: str, schema: str | None = None) -> set[str]:
    engine = create_engine(parse_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()


@dataclass(frozen=True)
class SeededDatabase:
    """A migrated SQLite file with a few activity entries, newest first in ``entries``."""

    path: Path
    url: str
    entries: list[ActivityEvent]
    csv: str


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[SeededDatabase]:
    """A migrated SQLite file (in its own folder) holding four activity entries."""
    path = tmp_path / "db" / "seeded.db"
    path.parent.mkdir()
    url = _sqlite_url(path)
    clock = ManualClock(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    with HarmonyContext.from_url(url, clock=clock) as ctx:
        ctx.migrate()
        seed: list[tuple[str, str, dict[str, object]]] = [
            ("sync.run", "ok", {"created": 2}),
            ("sync.run", "failed", {"error": "timeout, retried"}),
            ("note", "ok", {"text": 'quotes " and, commas'}),
        ]
        for type_, status, details in seed:
            clock.advance(1)
            ctx.activity.record(type_, status, details)
        entries = list(ctx.activity.list(limit=1000))
        csv_text = io.StringIO()
        ctx.activity.export(csv_text, "csv")
    assert len(entries) == 4  # db.migrate + the three above
    yield SeededDatabase(path, url, entries, csv_text.getvalue())


def _revision(url: str, **settings: str) -> str | None:
    with HarmonyContext(HarmonySettings(database_url=url, **settings)) as ctx:
        return ctx.migrations.current()


def _head() -> str:
    with HarmonyContext.from_url("sqlite://") as ctx:
        return ctx.migrations.head()


# -- no database needed -----------------------------------------------------------------


@pytest.mark.parametrize("entry", [SCRIPT, MODULE], ids=["script", "python-m"])
def test_version_and_usage(entry: str, tmp_path: Path) -> None:
    version = harmony("--version", cwd=tmp_path, entry=entry).ok()
    assert version.stdout == f"harmony {__version__}\n"

    bare = harmony(cwd=tmp_path, entry=entry)
    assert bare.returncode == 2, bare
    assert bare.stdout == "" and "Traceback" not in bare.output
    assert bare.stderr.startswith("usage: harmony")
    for command in ("migrate", "info", "activity"):
        assert command in bare.stderr
    assert list(tmp_path.iterdir()) == []  # no default harmony.db appeared


# -- migrate on SQLite --------------------------------------------------------------------


def test_migrate_lifecycle_on_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.db"
    url = _sqlite_url(path)
    head = _head()
    with HarmonyContext.from_url("sqlite://") as ctx:
        first = ctx.migrations.history()[0].revision

    harmony("migrate", "current", "--url", url, cwd=tmp_path).error(contains="no SQLite database")
    assert not path.exists()  # a read-only command creates no database
    path.touch()  # an empty database: no harmony tables yet
    current = harmony("migrate", "current", "--url", url, cwd=tmp_path).ok()
    assert current.stdout == f"base (head is {head})\n"

    unmigrated = harmony("migrate", "check", "--url", url, cwd=tmp_path)
    assert unmigrated.returncode == 1
    unmigrated.error(contains="database is at revision base")

    to_first = harmony("migrate", "upgrade", first, "--url", url, cwd=tmp_path).ok()
    assert to_first.stdout == f"upgraded base -> {first}\n"
    assert _revision(url) == first

    to_head = harmony("migrate", "upgrade", "--url", url, cwd=tmp_path).ok()
    assert to_head.stdout == (
        f"already at {head}\n" if first == head else f"upgraded {first} -> {head}\n"
    )
    assert _revision(url) == head
    assert HARMONY_TABLES <= _tables(url)

    at_head = harmony("migrate", "current", "--url", url, cwd=tmp_path).ok()
    assert at_head.stdout == f"{head} (head)\n"

    checked = harmony("migrate", "check", "--url", url, cwd=tmp_path).ok()
    assert checked.stdout == f"ok: schema at {head} matches harmony's models\n"

    # db.migrate cannot be stored once activity_events is gone; stderr stays clean anyway.
    down = harmony("migrate", "downgrade", "base", "--url", url, cwd=tmp_path).ok()
    assert down.stdout == f"downgraded {head} -> base\n"
    assert _revision(url) is None
    assert _tables(url) & HARMONY_TABLES == set()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["lifecycle.db"]


def test_migrate_history_lists_every_revision(tmp_path: Path) -> None:
    with HarmonyContext.from_url("sqlite://") as ctx:
        revisions = ctx.migrations.history()
    expected = [
        f"{r.down_revision or 'base'} -> {r.revision}{' (head)' if r.is_head else ''}: {r.message}"
        for r in revisions
    ]
    # history reads the packaged scripts only: the database is never opened or created.
    run = harmony("migrate", "history", "--url", _sqlite_url(tmp_path / "x.db"), cwd=tmp_path)
    assert run.ok().stdout.splitlines() == expected
    assert expected[-1].endswith(f"{revisions[-1].revision} (head): {revisions[-1].message}")
    assert list(tmp_path.iterdir()) == []


# -- info and activity ------------------------------------------------------------------


def test_info_shows_backend_revision_and_row_counts(seeded: SeededDatabase) -> None:
    run = harmony("info", "--url", seeded.url, cwd=seeded.path.parent).ok()
    lines = run.stdout.splitlines()
    assert lines[0] == f"database: {seeded.url} (sqlite)"
    assert lines[1] == f"revision: {_head()} (up to date)"
    assert lines[2] == f"tables:   {len(HARMONY_TABLES)}"
    rows = {line.split()[0]: int(line.split()[1]) for line in lines[3:]}
    assert rows == {name: 0 for name in HARMONY_TABLES} | {"activity_events": 4, "change_feed_head": 1}


def test_activity_list_newest_first_and_filtered(seeded: SeededDatabase) -> None:
    everything = harmony("activity", "list", "--url", seeded.url, cwd=seeded.path.parent).ok()
    lines = everything.stdout.splitlines()
    assert len(lines) == len(seeded.entries)
    for line, entry in zip(lines, seeded.entries):
        assert line.startswith(f"{entry.timestamp.isoformat()}  {entry.type} ")
        assert entry.status in line.split()

    filtered = harmony(
        "activity", "list", "--type", "sync.run", "--status", "failed", "--limit", "5",
        "--url", seeded.url, cwd=seeded.path.parent,
    ).ok()  # fmt: skip
    (only,) = filtered.stdout.splitlines()
    assert "sync.run" in only and "failed" in only and "timeout, retried" in only


def test_activity_export_csv_and_jsonl_to_stdout(seeded: SeededDatabase) -> None:
    as_csv = harmony("activity", "export", "--url", seeded.url, cwd=seeded.path.parent).ok()
    assert as_csv.stdout == seeded.csv
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [int(r["id"]) for r in rows] == [e.id for e in seeded.entries]
    assert [json.loads(r["details"]) for r in rows] == [dict(e.details) for e in seeded.entries]

    as_jsonl = harmony(
        "activity", "export", "--format", "jsonl", "--type", "sync.run",
        "--url", seeded.url, cwd=seeded.path.parent,
    ).ok()  # fmt: skip
    parsed = [json.loads(line) for line in as_jsonl.stdout.splitlines()]
    assert parsed == [e.to_dict() for e in seeded.entries if e.type == "sync.run"]
    assert len(parsed) == 2


def test_activity_export_to_output_file(seeded: SeededDatabase, tmp_path: Path) -> None:
    target = tmp_path / "export.csv"
    run = harmony(
        "activity", "export", "--format", "csv", "--output", str(target),
        "--url", seeded.url, cwd=tmp_path,
    )  # fmt: skip
    assert (run.returncode, run.stdout) == (0, ""), run
    assert run.stderr == f"exported {len(seeded.entries)} entries to {target}\n"
    assert target.read_text(encoding="utf-8") == seeded.csv


# -- PostgreSQL -------------------------------------------------------------------------


def test_cli_on_postgresql_schema(tmp_path: Path) -> None:
    url = require_postgres_url()
    head = _head()
    with temporary_schema(url, prefix="harmony_cli") as schema:
        env = {"HARMONY_DATABASE_URL": url, "HARMONY_DATABASE_SCHEMA": schema}

        upgraded = harmony("migrate", "upgrade", cwd=tmp_path, env=env).ok()
        assert upgraded.stdout == f"upgraded base -> {head}\n"
        assert HARMONY_TABLES | {VERSION_TABLE} == _tables(url, schema)
        assert _revision(url, database_schema=schema) == head

        harmony("migrate", "check", cwd=tmp_path, env=env).ok()

        info = harmony("info", cwd=tmp_path, env=env).ok().stdout.splitlines()
        assert info[0].endswith("(postgresql)")
        assert info[1] == f"schema:   {schema}"
        assert info[2] == f"revision: {head} (up to date)"

        exported = harmony("activity", "export", "--format", "jsonl", cwd=tmp_path, env=env).ok()
        (entry,) = [json.loads(line) for line in exported.stdout.splitlines()]
        assert entry["type"] == "db.migrate"
        assert entry["details"]["to_revision"] == head

        down = harmony("migrate", "downgrade", "base", cwd=tmp_path, env=env).ok()
        assert down.stdout == f"downgraded {head} -> base\n"
        assert _tables(url, schema) == {VERSION_TABLE}
        harmony("migrate", "check", cwd=tmp_path, env=env).error(
            contains="database is at revision base"
        )
    assert list(tmp_path.iterdir()) == []  # no SQLite fallback file was created


# -- bad input: one error line, no traceback, no password, nothing written -----------------


@pytest.mark.parametrize(
    ("args", "env", "entry", "message"),
    [
        pytest.param(
            ("migrate", "current", "--url", UNREACHABLE_PG), {}, SCRIPT,
            "cannot reach PostgreSQL at postgresql+psycopg://user:***@127.0.0.1:9/db",
            id="current-unreachable-postgresql",
        ),
        pytest.param(
            ("migrate", "history", "--url", f"postgresql://user:{SECRET}@127.0.0.1:notaport/db"),
            {}, SCRIPT, "is not a valid URL",
            id="history-malformed-url",
        ),
        pytest.param(
            ("info", "--url", f"user:{SECRET}@127.0.0.1/db"), {}, SCRIPT,
            "is not a valid URL",
            id="info-url-without-scheme",
        ),
        pytest.param(
            ("migrate", "check", "--url", f"mysql://user:{SECRET}@127.0.0.1/db"), {}, MODULE,
            "backend 'mysql' is not supported",
            id="check-unsupported-backend",
        ),
        pytest.param(
            ("activity", "list"), {"HARMONY_DATABASE_URL": UNREACHABLE_PG}, SCRIPT,
            "cannot reach PostgreSQL",
            id="activity-list-unreachable-postgresql-from-env",
        ),
        pytest.param(
            ("activity", "export", "--url", "sqlite+aiosqlite:///x.db"), {}, MODULE,
            "driver 'sqlite+aiosqlite' is not supported",
            id="export-unsupported-driver",
        ),
    ],
)  # fmt: skip
def test_bad_input_fails_with_one_line(
    args: Sequence[str], env: dict[str, str], entry: str, message: str, tmp_path: Path
) -> None:
    run = harmony(*args, cwd=tmp_path, env=env, entry=entry)
    assert run.returncode == 1
    run.error(contains=message)
    assert list(tmp_path.iterdir()) == []  # no database file appeared in the working folder


def test_migrate_upgrade_into_missing_folder_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "harmony.db"
    run = harmony("migrate", "upgrade", "--url", _sqlite_url(target), cwd=tmp_path)
    line = run.error(contains="does not exist; create it first")
    assert str(target.parent) in line
    assert list(tmp_path.iterdir()) == []


def test_migrate_upgrade_to_unknown_revision_changes_nothing(tmp_path: Path) -> None:
    url = _sqlite_url(tmp_path / "fresh.db")
    run = harmony("migrate", "upgrade", "nope", "--url", url, cwd=tmp_path)
    line = run.error(contains="unknown migration revision 'nope'")
    assert _head() in line  # the message lists the known revisions
    assert _tables(url) & (HARMONY_TABLES | {VERSION_TABLE}) == set()


def test_migrate_downgrade_to_unknown_revision_keeps_database_at_head(
    seeded: SeededDatabase,
) -> None:
    run = harmony("migrate", "downgrade", "nope", "--url", seeded.url, cwd=seeded.path.parent)
    run.error(contains="unknown migration revision 'nope'")
    assert _revision(seeded.url) == _head()
    with HarmonyContext.from_url(seeded.url) as ctx:
        assert list(ctx.activity.list(limit=1000)) == seeded.entries


def test_activity_export_to_unwritable_path_writes_nothing(
    seeded: SeededDatabase, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    target = work / "missing" / "out.csv"
    run = harmony("activity", "export", "-o", str(target), "--url", seeded.url, cwd=work)
    run.error(contains=f"cannot write {str(target)!r}")
    assert list(work.iterdir()) == []
