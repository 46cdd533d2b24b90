"""The first example of docs/queue.md runs as written, with no deprecation warning."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "queue.md"


def test_the_queue_guide_example_runs_without_deprecation_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    match = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/queue.md lost its example"
    monkeypatch.chdir(tmp_path)  # the example's sqlite:///harmony.db lands here
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        exec(compile(match.group(1), str(DOC), "exec"), {})
    assert "WorkerReport(completed=1, retried=0, dead_lettered=0" in capsys.readouterr().out
