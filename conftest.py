"""Repository-wide pytest configuration: how ``make test`` shares the tests between its workers."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests for pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``).

    The cells of one notebook share its kernel, so every nbval item of a notebook (and every test of
    one module) stays on one worker: one group per file. The robustness pass
    (``tests/test_another_run.py``) is the exception: each chapter's run is its own group, so the
    two workers share those long runs.
    """
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        path = Path(str(item.fspath)).resolve()
        group = item.nodeid if path.name == "test_another_run.py" else str(path)
        item.add_marker(pytest.mark.xdist_group(group))
