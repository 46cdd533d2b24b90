"""Only harmony.contrib.<framework> imports a web framework, and only when imported."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from harmony import MissingExtraError

FRAMEWORKS = ("fastapi", "starlette", "flask", "werkzeug", "uvicorn")

SCRIPT = f"""
import sys
import harmony, harmony.http, harmony.contrib, harmony.testing, harmony._cli
loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]
assert not loaded, loaded
import harmony.contrib.flask
assert "flask" in sys.modules and "fastapi" not in sys.modules
"""


def test_harmony_imports_no_web_framework_until_an_adapter_is_imported() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("adapter", "missing", "extra"),
    [
        ("fastapi", "fastapi", "fastapi"),
        ("fastapi", "starlette", "fastapi"),
        ("flask", "flask", "flask"),
        ("flask", "werkzeug", "flask"),
    ],
)
def test_an_adapter_without_its_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, adapter: str, missing: str, extra: str
) -> None:
    monkeypatch.delitem(sys.modules, f"harmony.contrib.{adapter}", raising=False)
    for name in [m for m in sys.modules if m == missing or m.startswith(missing + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingExtraError) as raised:
        importlib.import_module(f"harmony.contrib.{adapter}")
    assert str(raised.value) == (
        f"harmony.contrib.{adapter} needs {missing}, which is not installed: "
        f"pip install 'harmony[{extra}]'"
    )
