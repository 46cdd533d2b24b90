"""harmony's own suite uses harmony's pytest plugin, the same fixtures users get.

The plugin is registered by the ``pytest11`` entry point of the installed package, so
nothing needs to load it here.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests marked ``slow`` first, the rest in their usual order.

    Under ``scripts/test.sh`` (pytest-xdist, ``--dist load``) a long multi-process test
    that starts last keeps one worker busy after the others ran out of work. Listed
    first, the slow tests are dealt out to the workers one by one and run beside the
    short ones, which fill the gaps. Serial runs are unaffected but for the order.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
