"""Bad values for a float32 argument of event dimension 3, shared by the bad-input tests.

Each case is ``(kind, make, error)``: ``make()`` builds the bad value next to good arguments of
shape ``(2, 3)`` and dtype float32, and ``error`` is the exception it must raise.
"""

from __future__ import annotations

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
