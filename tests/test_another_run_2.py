"""The robustness pass, second half: chapters 01, 03, 05, ... as another run (see test_another_run_1.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_another_run_1 import CHAPTERS, check_another_run

NOTEBOOKS = CHAPTERS[1::2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_assert_holds_in_another_run(path: Path) -> None:
    check_another_run(path)
