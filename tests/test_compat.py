# privatize: skip -- these tests import the old module paths on purpose.
"""The old module paths (made private in 0.2) keep importing, warn once, alias the new ones."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest

import harmony
from harmony import _compat


def _forget_aliases() -> None:
    # Alias entries only: the private modules themselves stay imported (one object each).
    for name in list(sys.modules):
        head = name.split(".")[1] if name.startswith("harmony.") else ""
        if head in _compat.RENAMED:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def fresh_aliases() -> Iterator[None]:
    _forget_aliases()
    yield
    _forget_aliases()


def test_old_module_path_is_the_new_module_object_and_warns() -> None:
    new = importlib.import_module("harmony._services.sync")
    with pytest.warns(DeprecationWarning) as caught:
        old = importlib.import_module("harmony.services.sync")
    assert old is new
    assert old.SyncEngine is harmony.SyncEngine
    messages = [str(w.message) for w in caught]
    assert any(
        "harmony.services.sync is deprecated" in m
        and "import SYNC_JOB_TYPE, ProgressCallback, RejectedItem, SyncEngine" in m
        and "from harmony" in m
        for m in messages
    ), messages


def test_from_import_of_an_old_path_keeps_isinstance_and_points_at_the_caller() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        from harmony.repositories.job_types import LeasedJob
        from harmony.settings import HarmonySettings
    assert LeasedJob is harmony.LeasedJob
    assert isinstance(HarmonySettings(), harmony.HarmonySettings)
    assert {w.filename for w in caught} == {__file__}
    assert any("import HarmonySettings" in str(w.message) for w in caught)


def test_old_package_attribute_access_reaches_the_private_submodule() -> None:
    with pytest.warns(DeprecationWarning) as caught:
        import harmony.db.engine
    assert [str(w.message).split(" is ")[0] for w in caught] == ["harmony.db", "harmony.db.engine"]
    assert harmony.db.engine is importlib.import_module("harmony._db.engine")
    assert harmony.db.engine.Database is harmony.Database


def test_old_path_warns_once_per_process() -> None:
    with pytest.warns(DeprecationWarning):
        importlib.import_module("harmony.clock")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.import_module("harmony.clock")  # cached: no second warning


def test_old_console_script_entry_point_still_resolves() -> None:
    with pytest.warns(DeprecationWarning, match=r"harmony\.cli is deprecated"):
        from harmony.cli import main
    assert main is importlib.import_module("harmony._cli").main


def test_missing_old_submodule_is_a_plain_module_not_found() -> None:
    with pytest.warns(DeprecationWarning):
        with pytest.raises(ModuleNotFoundError, match="harmony.services.no_such_module"):
            importlib.import_module("harmony.services.no_such_module")


def test_install_is_idempotent() -> None:
    _compat.install()
    _compat.install()
    assert sum(getattr(f, "_harmony_compat", False) for f in sys.meta_path) == 1


def test_public_and_private_paths_do_not_warn_in_a_fresh_interpreter() -> None:
    # A fresh process: nothing cached, and harmony itself must never use an old path.
    code = (
        "import harmony, harmony.errors, harmony.http, harmony.providers, harmony.testing\n"
        "import harmony._services.sync, harmony._db.engine, harmony._cli.main\n"
        "import harmony.testing.pytest_plugin\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
