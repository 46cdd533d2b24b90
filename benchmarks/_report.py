"""What the benchmark scripts share: fresh databases to measure on, the machine line, the
command line as run (without the database URL) and writing a script's own section of
``docs/benchmarks.md``.

The scripts import it as a sibling (``python benchmarks/<script>.py`` puts this folder
first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harmony._settings import HarmonySettings, parse_database_url
from harmony.testing import temporary_schema

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


# -- backends --------------------------------------------------------------------------


@contextmanager
def sqlite_settings() -> Iterator[HarmonySettings]:
    """Settings on a new SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield HarmonySettings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}")


@contextmanager
def postgres_settings(url: str) -> Iterator[HarmonySettings]:
    """Settings on a new PostgreSQL schema on ``url``, dropped afterwards."""
    with temporary_schema(url, prefix="harmony_bench") as schema:
        yield HarmonySettings(database_url=url, database_schema=schema)


# -- machine line ----------------------------------------------------------------------


def host() -> str:
    """Architecture, cores, memory and Python version: how every machine line starts."""
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python "
        f"{platform.python_version()}"
    )


def postgres_server(url: str) -> tuple[str, str, str]:
    """Version, ``fsync`` and ``synchronous_commit`` of the PostgreSQL server at ``url``."""
    engine = create_engine(parse_database_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
            fsync = str(conn.execute(text("SHOW fsync")).scalar_one())
            sync_commit = str(conn.execute(text("SHOW synchronous_commit")).scalar_one())
    finally:
        engine.dispose()
    return version, fsync, sync_commit


def machine(postgres: str | None) -> str:
    """The machine line of a run on a SQLite file in a temporary folder and, when
    ``postgres`` is set, in a temporary schema of that PostgreSQL server."""
    parts = [
        f"{host()}; SQLite {sqlite3.sqlite_version} (file in a temporary folder on local disk, "
        "WAL, synchronous=NORMAL)"
    ]
    if postgres:
        version, fsync, sync_commit = postgres_server(postgres)
        parts.append(
            f"PostgreSQL {version} on the same machine (fsync {fsync}, synchronous_commit "
            f"{sync_commit}), in a temporary schema"
        )
    return "; ".join(parts) + "."


# -- command line ----------------------------------------------------------------------


def command_line(
    script: str, argv: Sequence[str], hidden: Sequence[str] = ("--postgres", "--notes")
) -> str:
    """``script`` and the arguments as run, without the options in ``hidden`` and their
    values (the database URL may hold a password)."""
    prefixes = tuple(f"{option}=" for option in hidden)
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in hidden:
            skip = True
        elif not arg.startswith(prefixes):
            shown.append(arg)
    return " ".join([script, *shown])


# -- docs/benchmarks.md ----------------------------------------------------------------


def write_section(
    heading: str, about: str, machine_line: str, command: str, table: str, notes: str | None = None
) -> None:
    """Replace the section under ``heading`` in ``docs/benchmarks.md`` (or append it):
    ``about`` (already wrapped), the machine line with today's date, the command and the
    table, then the Markdown file ``notes`` if given."""
    body = f"""{heading}

{about}

{textwrap.fill(f"{machine_line} {date.today().isoformat()}.", 90)}

```
HARMONY_TEST_POSTGRES_URL=... .venv/bin/python {command}
```

{table}
"""
    if notes:
        body += "\n" + Path(notes).read_text(encoding="utf-8").strip() + "\n"
    text_ = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(heading) + r".*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text_):
        text_ = pattern.sub(lambda _: body.rstrip() + "\n\n", text_, count=1).rstrip() + "\n"
    else:
        text_ = text_.rstrip() + "\n\n" + body
    DOCS.write_text(text_, encoding="utf-8")
    print(f"\nwrote the section to {DOCS}")
