"""The ``harmony`` command (also ``python -m harmony``); see :func:`main`."""

from harmony._cli.main import main

__all__ = ["main"]
