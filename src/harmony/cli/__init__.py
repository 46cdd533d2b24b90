"""The ``harmony`` command (also ``python -m harmony``); see :func:`main`."""

from harmony.cli.main import main

__all__ = ["main"]
