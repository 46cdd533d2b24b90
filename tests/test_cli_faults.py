"""The CLI shows no traceback for I/O and encoding errors, and ``harmony import`` of a
path that is not valid UTF-8 works the same on both backends."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harmony import HarmonySettings
from harmony.providers.sample import sample_path
from tests.cli_support import counts


def _harmony(*args: str, settings: HarmonySettings | None = None, cwd: Path,
             stdout: int | None = subprocess.PIPE, **env: str) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    environ.update(env)
    if settings is not None:
        environ["HARMONY_DATABASE_URL"] = settings.database_url
        if settings.database_schema:
            environ["HARMONY_DATABASE_SCHEMA"] = settings.database_schema
    return subprocess.run(
        [sys.executable, "-m", "harmony", *args], cwd=cwd, env=environ, stdout=stdout,
        stderr=subprocess.PIPE, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["activity", "export"], ["jobs", "list"], ["info"]])
def test_a_full_disk_under_stdout_gets_one_error_line_and_no_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    assert _harmony("demo", "--url", url, cwd=tmp_path).returncode == 0
    with open("/dev/full", "wb") as full:
        done = _harmony(*command, "--url", url, cwd=tmp_path, stdout=full.fileno())
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert err == "harmony: error: cannot write the output: No space left on device\n"


@pytest.mark.slow
def test_importing_a_folder_whose_path_is_not_utf8_works_and_syncs_again(
    harmony_settings: HarmonySettings, tmp_path: Path
) -> None:
    folder = os.fsencode(tmp_path) + b"/caf\xe9-exports"
    os.mkdir(folder)
    with sample_path() as sample:
        for csv in sorted(sample.glob("*.csv"))[:2]:
            shutil.copy(csv, os.path.join(folder, os.fsencode(csv.name)))
    path = os.fsdecode(folder)  # as argv gives it to Python: with a lone surrogate

    # A strict UTF-8 stdout, where printing the surrogate would raise UnicodeEncodeError.
    done = _harmony("import", path, settings=harmony_settings, cwd=tmp_path, PYTHONIOENCODING="utf-8")
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode(errors="replace")
    assert b"caf\\udce9-exports" in done.stdout
    assert counts(harmony_settings)[0] == 2

    again = _harmony("sync", settings=harmony_settings, cwd=tmp_path, PYTHONIOENCODING="utf-8")
    assert again.returncode == 0 and b"unchanged 2" in again.stdout, again.stderr.decode(errors="replace")
