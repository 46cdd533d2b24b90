"""Fixtures of the coherence tests: reader processes that cache playlist reads."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harmony import HarmonySettings

READER_SCRIPT = Path(__file__).with_name("reader_process.py")
#: Generous: a reply takes milliseconds; this only bounds a hung process.
REPLY_SECONDS = 60.0


class ReaderProcess:
    """A ``reader_process.py`` on the settings' database: ask it for reads."""

    def __init__(self, settings: HarmonySettings, log: Path) -> None:
        command = [sys.executable, str(READER_SCRIPT), "--url", settings.database_url]
        if settings.database_schema:
            command += ["--schema", settings.database_schema]
        self._stderr = log.open("wb")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self.log = log
        assert self._reply() == {"ready": True}

    def ask(self, op: str, **params: Any) -> Any:
        """Send one request and return the reply; a failed read fails the test."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"op": op, **params}) + "\n").encode())
        self.proc.stdin.flush()
        reply = self._reply()
        assert "error" not in reply, f"reader process failed: {reply['error']}"
        return reply

    def _reply(self) -> Any:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_SECONDS)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.proc.kill()
            raise AssertionError(
                f"reader process gave no reply; its stderr:\n{self.log.read_text(errors='replace')}"
            )
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


@pytest.fixture
def reader_process(tmp_path: Path) -> Iterator[Any]:
    """``reader_process(settings)``: a reader process on that database, stopped after the test."""
    started: list[ReaderProcess] = []

    def start(settings: HarmonySettings) -> ReaderProcess:
        reader = ReaderProcess(settings, tmp_path / f"reader-{len(started)}.log")
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.close()
