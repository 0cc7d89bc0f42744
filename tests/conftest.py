"""Shared fixtures for the package tests: dtypes, batch shapes, seeded generators, and the
closed-form-versus-Monte-Carlo assertion every test module uses."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import Tensor

#: Batch shapes every closed form is checked on; an event dimension ``D`` is appended.
BATCH_SHAPES = [(), (4,), (2, 3)]
#: Event dimension used with :data:`BATCH_SHAPES`.
D = 3


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Every test starts from the same global torch seed, whatever ran before it."""
    torch.manual_seed(0)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    return request.param


@pytest.fixture(params=BATCH_SHAPES, ids=lambda s: "batch" + "x".join(map(str, s)) if s else "scalar")
def batch_shape(request: pytest.FixtureRequest) -> tuple[int, ...]:
    return request.param


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded generator, for reproducible draws that do not touch the global state."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def tol(dtype: torch.dtype) -> dict[str, float]:
    """``assert_close`` tolerances for comparing two closed forms computed in ``dtype``."""
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}


def _assert_mc_agrees(
    closed: Tensor, estimate: Tensor, stderr: Tensor, *, rel: float = 0.01, n_se: float = 4.0
) -> None:
    """Assert a Monte Carlo ``(estimate, stderr)`` agrees with a closed form.

    Two checks, both elementwise: the estimate is within ``n_se`` standard errors of the closed
    form, and its relative error is at most ``rel``. The standard error must be positive and
    small enough that the second check is meaningful (``n_se * stderr <= rel * |closed|``).
    """
    assert estimate.shape == closed.shape == stderr.shape, (estimate.shape, closed.shape, stderr.shape)
    closed, estimate, stderr = closed.double(), estimate.double(), stderr.double()
    assert bool((stderr > 0).all()), stderr
    assert bool((n_se * stderr <= rel * closed.abs()).all()), (
        f"Monte Carlo too noisy for a {rel:.0%} check: stderr {stderr} vs closed form {closed}"
    )
    err = (estimate - closed).abs()
    assert bool((err <= n_se * stderr).all()), f"|MC - closed| = {err} exceeds {n_se} x stderr = {n_se * stderr}"
    assert bool((err <= rel * closed.abs()).all()), f"relative error {err / closed.abs()} exceeds {rel}"


@pytest.fixture
def assert_mc_agrees() -> Callable[..., None]:
    return _assert_mc_agrees


#: Test files that take minutes (a new virtual environment and two chapters run in it): collected
#: first, so that pytest-xdist starts them first instead of leaving one worker alone at the end.
LONGEST_FIRST = ("tests/test_colab_env.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))  # a stable sort
