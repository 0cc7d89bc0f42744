"""Tests of :mod:`vae_edu.checks`: what each check accepts, and its table of what it refuses (the
message names the argument and says what was expected)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, reject

from vae_edu.checks import (
    check_batch,
    check_broadcast,
    check_callable,
    check_event_shapes,
    check_int,
    check_labels,
    check_mu_log_var,
    check_per_sample,
    check_points,
    check_positive,
    check_positive_float,
    check_tensor,
    check_vector,
)


# ----------------------------------------------------------------------- check_tensor
def test_check_tensor_returns_its_argument() -> None:
    x = torch.randn(2, 3)
    assert check_tensor("x", x, min_dim=2) is x
    assert check_tensor("x", torch.tensor(1.0, dtype=torch.float64)) is not None


# ----------------------------------------------------------------- check_event_shapes
@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ([(3,), (3,)], (3,)),
        ([(4, 3), (3,)], (4, 3)),
        ([(2, 1, 3), (5, 3), (3,)], (2, 5, 3)),
        ([(1, 3), (4, 1, 3)], (4, 1, 3)),
    ],
)
def test_check_event_shapes_returns_broadcast_shape(shapes: list, expected: tuple) -> None:
    tensors = {f"t{i}": torch.zeros(s) for i, s in enumerate(shapes)}
    assert check_event_shapes(**tensors) == torch.Size(expected)


# ------------------------------------------------------------------- check_positive
def test_check_positive_returns_its_argument() -> None:
    x = torch.tensor([1e-30, 2.0])
    assert check_positive("sigma2", x) is x


# ------------------------------------------------------------------------------ check_batch
def test_check_batch_returns_tuples() -> None:
    x, y = torch.zeros(3, 2), torch.arange(3)
    (only,) = check_batch("x", x)
    assert only is x
    assert check_batch("x", (x, y)) == (x, y)
    assert check_batch("x", [x, y]) == (x, y)


# --------------------------------------------------------------------------- check_int / check_positive_float
@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(2)])
def test_check_int_accepts_python_and_numpy_ints(value) -> None:
    out = check_int("k", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0.5, 3, np.float32(2.5), np.int64(4)])
def test_check_positive_float_accepts_numbers(value) -> None:
    out = check_positive_float("std", value)
    assert out == float(value) and type(out) is float


# --------------------------------------------------------------------------- check_labels
def test_check_labels_returns_its_argument() -> None:
    y = torch.tensor([0, 3, 9])
    assert check_labels("y", y, 10) is y
    assert check_labels("y", y, 10, batch_size=3) is y


def test_the_newer_checks_return_what_they_checked() -> None:
    x = torch.zeros(4, 2)
    assert check_points("z", x) is x and check_vector("z", x, 2, torch.float32) is x
    assert check_broadcast({"x": torch.Size([4, 1]), "y": torch.Size([3])}) == torch.Size([4, 3])
    check_callable("f", len, "(x) -> n")
    check_mu_log_var(x, x)
    assert check_per_sample(lambda z: z.sum(-1), torch.zeros(5, 4, 2)).shape == (5, 4)


# ------------------------------------------------------------------------------ bad inputs
_Y = torch.tensor([0, 3, 9])

BAD_INPUTS = [
    *[reject(f"check_tensor-{i}", lambda v=value: check_tensor("my_arg", v, min_dim=1), error,
             "my_arg.*" + re.escape(fragment))
      for i, (value, error, fragment) in enumerate([
        ([1.0, 2.0], TypeError, "torch.Tensor"),
        (np.ones(3), TypeError, "torch.Tensor"),
        (1.0, TypeError, "torch.Tensor"),
        (torch.ones(3, dtype=torch.int64), TypeError, "floating-point"),
        (torch.ones(3, dtype=torch.bool), TypeError, "floating-point"),
        (torch.tensor([0.0, float("nan")]), ValueError, "NaN"),
        (torch.tensor([0.0, float("inf")]), ValueError, "infinite"),
        (torch.tensor([float("-inf"), 1.0], dtype=torch.float64), ValueError, "infinite"),
        (torch.tensor(1.0), ValueError, "at least 1 dimension"),
      ])],
    reject("check_event_shapes-event", lambda: check_event_shapes(mu=torch.zeros(4, 3), log_var=torch.zeros(4, 1)),
           ValueError, r"log_var has event dimension 1 .* but mu has 3"),
    reject("check_event_shapes-batch", lambda: check_event_shapes(mu=torch.zeros(4, 3), log_var=torch.zeros(5, 3)),
           ValueError, r"mu\(4, 3\).*log_var\(5, 3\)"),
    reject("check_event_shapes-dtype",
           lambda: check_event_shapes(mu=torch.zeros(3), log_var=torch.zeros(3, dtype=torch.float64)), TypeError,
           "log_var has dtype torch.float64 but mu has dtype torch.float32"),
    *[reject(f"check_positive-{i}", lambda bad=bad: check_positive("sigma2", bad), ValueError,
             "sigma2 must be strictly positive")
      for i, bad in enumerate([torch.tensor([1.0, 0.0]), torch.tensor(-0.5)])],
    *[reject(f"check_batch-{i}", lambda data=data: check_batch("x", data), error, match)
      for i, (data, error, match) in enumerate([
        ([[0.0, 1.0]], TypeError, "x must be a tensor"),
        ((), TypeError, "x must be a tensor"),
        ((torch.zeros(3, 2), [1, 2, 3]), TypeError, "x must be a tensor"),
        (torch.zeros(3), ValueError, "x must have at least 2"),
        (torch.zeros(0, 2), ValueError, "x is empty"),
        (torch.full((2, 2), float("nan")), ValueError, "x contains NaN"),
        ((torch.zeros(3, 2), torch.zeros(4)), ValueError, "same first"),
        ((torch.zeros(3, 2), torch.tensor(1)), ValueError, "same first"),
      ])],
    *[reject(f"check_int-{i}", lambda v=value, m=minimum: check_int("k", v, m), error, message)
      for i, (value, minimum, error, message) in enumerate([
        (0, 1, ValueError, r"k must be an int >= 1, got 0"),
        (-3, -2, ValueError, r"k must be an int >= -2"),
        (2.0, 1, TypeError, r"k must be an int, got float"),
        (True, 0, TypeError, r"k must be an int, got bool"),
        (np.bool_(True), 0, TypeError, r"k must be an int, got bool"),
        ("3", 1, TypeError, r"k must be an int, got str"),
        (None, 1, TypeError, r"k must be an int, got NoneType"),
      ])],
    *[reject(f"check_positive_float-{value!r}", lambda v=value: check_positive_float("std", v), error, "std")
      for value, error in [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), (float("nan"), ValueError),
                           (True, TypeError), ("1", TypeError), (None, TypeError)]],
    reject("check_labels-list", lambda: check_labels("y_to", [0, 1], 10), TypeError, r"y_to must be a torch.Tensor"),
    reject("check_labels-float", lambda: check_labels("y", _Y.float(), 10), TypeError, r"y must have dtype torch.int64"),
    reject("check_labels-batch", lambda: check_labels("y", _Y, 10, batch_size=4), ValueError,
           r"y must have shape \(4,\) to match x"),
    reject("check_labels-2d", lambda: check_labels("y", _Y[None], 10), ValueError, r"y must have shape \(B,\)"),
    reject("check_labels-too-big", lambda: check_labels("y", _Y, 9), ValueError,
           r"y must hold labels in \[0, 9\), got values in \[0, 9\]"),
    reject("check_labels-negative", lambda: check_labels("y", torch.tensor([-1, 3]), 10), ValueError,
           r"y must hold labels in \[0, 10\), got values in \[-1, 3\]"),
    # the checks promoted from private helpers when the modules were split
    reject("check_callable", lambda: check_callable("log_p_x_given_z", 3.0, "(x, z) -> log p(x|z)"), TypeError,
           r"log_p_x_given_z must be callable \(x, z\) -> log p\(x\|z\), got float"),
    reject("check_broadcast", lambda: check_broadcast({"x": torch.Size([3]), "mu_q": torch.Size([4])}), ValueError,
           r"batch shapes do not broadcast: x\(3,\), mu_q\(4,\)"),
    reject("check_mu_log_var-shape", lambda: check_mu_log_var(torch.zeros(2, 3), torch.zeros(3)), ValueError,
           "log_var must have the same shape as mu"),
    reject("check_mu_log_var-dtype", lambda: check_mu_log_var(torch.zeros(3), torch.zeros(3, dtype=torch.float64)),
           TypeError, "log_var has dtype"),
    reject("check_mu_log_var-nan", lambda: check_mu_log_var(torch.full((3,), float("nan")), torch.zeros(3)), ValueError,
           "mu contains NaN"),
    reject("check_per_sample-shape", lambda: check_per_sample(lambda z: z, torch.zeros(5, 2)), ValueError,
           "f must map z"),
    reject("check_per_sample-dtype", lambda: check_per_sample(lambda z: z.sum(-1).double(), torch.zeros(5, 2)),
           TypeError, r"f\(z\) has dtype"),
    reject("check_per_sample-nan", lambda: check_per_sample(lambda z: z.sum(-1) * float("nan"), torch.zeros(5, 2)),
           ValueError, r"f\(z\) contains NaN"),
    reject("check_points-3d", lambda: check_points("z", torch.zeros(2, 3, 4)), ValueError,
           r"z must have shape \(N, dim\)"),
    reject("check_points-1d", lambda: check_points("z", torch.zeros(3)), ValueError, "z must have at least 2"),
    reject("check_vector-size", lambda: check_vector("z_0", torch.zeros(2, 3), 4, torch.float32), ValueError,
           r"z_0 must have last dimension z_dim=4, got shape \(2, 3\)"),
    reject("check_vector-dtype", lambda: check_vector("mu_q", torch.zeros(3), 3, torch.float64, owner="the chain"),
           TypeError, "mu_q has dtype torch.float32 but the chain has dtype torch.float64"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
