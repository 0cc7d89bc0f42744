"""What the bad-input tables share: bad values for a float32 argument, and the table's row and check.

Each test module keeps one table of bad inputs, ``BAD_INPUTS``, of rows made by :func:`reject`, and
one test that runs :func:`assert_rejected` on every row.

:data:`BAD` lists bad values for a float32 argument of event dimension 3: each case is
``(kind, make, error)``, where ``make()`` builds the bad value next to good arguments of shape
``(2, 3)`` and dtype float32, and ``error`` is the exception it must raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

D = 3
BAD = [
    ("nan", lambda: torch.tensor([[0.0, float("nan"), 0.0]]), ValueError),
    ("inf", lambda: torch.tensor([[0.0, float("-inf"), 0.0]]), ValueError),
    ("list", lambda: [[0.0, 0.0, 0.0]], TypeError),
    ("int", lambda: torch.zeros(2, D, dtype=torch.int64), TypeError),
    ("event", lambda: torch.zeros(2, 4), ValueError),
    ("batch", lambda: torch.zeros(5, D), ValueError),
    ("dtype", lambda: torch.zeros(2, D, dtype=torch.float64), TypeError),
    ("0-dim", lambda: torch.tensor(0.0), ValueError),
]


def reject(case_id: str, call: Callable[[], object], error: type[Exception] | tuple[type[Exception], ...],
           name: str) -> Any:
    """One row of a module's bad-input table: ``call()`` must raise ``error`` with a message naming
    ``name`` (a whole word; or a regular expression when it is not an identifier)."""
    pattern = rf"\b{name}\b" if name.isidentifier() else name
    return pytest.param(call, error, pattern, id=case_id)


def assert_rejected(call: Callable[[], object], error: type[Exception] | tuple[type[Exception], ...],
                    pattern: str) -> None:
    """The check every module's table runs: the bad call raises ``error`` matching ``pattern``."""
    with pytest.raises(error, match=pattern):
        call()
