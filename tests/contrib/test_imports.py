"""Only harmony.contrib.<framework> imports a web framework, and only when imported."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = ("fastapi", "starlette", "flask", "werkzeug", "uvicorn")

SCRIPT = f"""
import sys
import harmony, harmony.http, harmony.contrib, harmony.testing, harmony.cli
loaded = [name for name in {FRAMEWORKS!r} if name in sys.modules]
assert not loaded, loaded
import harmony.contrib.flask
assert "flask" in sys.modules and "fastapi" not in sys.modules
"""


def test_harmony_imports_no_web_framework_until_an_adapter_is_imported() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
