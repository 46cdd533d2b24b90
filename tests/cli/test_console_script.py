"""Smoke tests of the ``harmony`` console script and ``python -m harmony`` as real
subprocesses: what only a fresh process shows. The installed entry points; a reader that
closes the pipe (SIGPIPE's exit code 141, nothing on stderr); a full disk under stdout
(no "Exception ignored" when the interpreter flushes at exit); a strict UTF-8 stdout
given a path that is not UTF-8. Everything else about the commands runs in-process
(``conftest.py``), about half a second faster per command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from harmony import HarmonySettings, __version__
from harmony.providers.sample import sample_path
from tests.cli.support import Run, counts

SCRIPT = "script"  # the installed console script
MODULE = "module"  # python -m harmony


def _console_script() -> Path:
    beside = Path(sys.executable).parent / "harmony"
    if beside.is_file():
        return beside
    found = shutil.which("harmony")
    if found is None:
        pytest.fail("the 'harmony' console script is not installed; pip install -e . first")
    return Path(found)


def harmony(
    *args: str,
    cwd: Path,
    entry: str = MODULE,
    env: Mapping[str, str] | None = None,
    stdout: int | None = subprocess.PIPE,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m harmony ARGS`` (or the console script) in ``cwd``, with no
    ``HARMONY_*`` variable of this process but those in ``env``."""
    command = [str(_console_script())] if entry == SCRIPT else [sys.executable, "-m", "harmony"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    environ.update(env or {})
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=environ,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )


def _database_env(settings: HarmonySettings) -> dict[str, str]:
    env = {"HARMONY_DATABASE_URL": settings.database_url}
    if settings.database_schema:
        env["HARMONY_DATABASE_SCHEMA"] = settings.database_schema
    return env


@pytest.mark.parametrize("entry", [SCRIPT, MODULE], ids=["script", "python-m"])
def test_version_and_usage(entry: str, tmp_path: Path) -> None:
    version = harmony("--version", cwd=tmp_path, entry=entry)
    assert (version.returncode, version.stderr) == (0, b""), version
    assert version.stdout.decode() == f"harmony {__version__}\n"

    bare = harmony(cwd=tmp_path, entry=entry)
    stderr = bare.stderr.decode()
    assert bare.returncode == 2 and bare.stdout == b"" and "Traceback" not in stderr, bare
    assert stderr.startswith("usage: harmony")
    for command in ("migrate", "info", "activity"):
        assert command in stderr
    assert list(tmp_path.iterdir()) == []  # no default harmony.db appeared


def test_the_readme_demo_command_runs_as_a_subprocess(tmp_path: Path) -> None:
    result = harmony("demo", "--url", "sqlite:///harmony.db", cwd=tmp_path, entry=SCRIPT)
    assert (result.returncode, result.stderr) == (0, b""), result
    assert b"created 12" in result.stdout and (tmp_path / "harmony.db").is_file()


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARMONY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "harmony", "demo", "--url", "sqlite:///harmony.db"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before anything is written
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141 and stderr == ""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["activity", "export"], ["jobs", "list"], ["info"]])
def test_a_full_disk_under_stdout_gets_one_error_line_and_no_traceback(
    cli: Run, tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    cli("demo", "--url", url).ok()
    with open("/dev/full", "wb") as full:
        done = harmony(*command, "--url", url, cwd=tmp_path, stdout=full.fileno())
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
    env = _database_env(harmony_settings) | {"PYTHONIOENCODING": "utf-8"}
    done = harmony("import", path, cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode(errors="replace")
    assert b"caf\\udce9-exports" in done.stdout
    assert counts(harmony_settings)[0] == 2

    again = harmony("sync", cwd=tmp_path, env=env)
    assert again.returncode == 0 and b"unchanged 2" in again.stdout, again.stderr.decode(
        errors="replace"
    )
