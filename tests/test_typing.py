"""The public API type-checks as the docs use it: ``mypy --strict`` over tests/typing/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_API = Path(__file__).resolve().parent / "typing" / "public_api.py"


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mypy", "--strict", "--no-error-summary"]
    command += ["--cache-dir", str(ROOT / ".mypy_cache"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def mypy_available() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (the dev extra)")


@pytest.mark.slow
def test_public_api_usage_passes_mypy_strict(mypy_available: None) -> None:
    result = _mypy(str(PUBLIC_API))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_a_wrong_annotation_fails_mypy_strict(mypy_available: None, tmp_path: Path) -> None:
    # The check above can fail: the same file with one annotation broken does.
    broken = tmp_path / "public_api_broken.py"
    text = PUBLIC_API.read_text(encoding="utf-8")
    needle = "created: int = report.created + report.updated"
    assert needle in text
    broken.write_text(text.replace(needle, "created: str = report.created + report.updated"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")  # same mypy settings
    result = _mypy(str(broken), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "public_api_broken.py:" in result.stdout and "[assignment]" in result.stdout
