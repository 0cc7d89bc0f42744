"""Tests of :mod:`vae_edu.estimators.significance`: z-scores, the within-k-standard-errors check, the
one-sided checks and the combined standard error; and its table of bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, reject

from vae_edu.estimators import assert_above, assert_below, assert_within_se, combined_se, mc_mean, z_score


def test_z_score_is_the_error_in_standard_errors() -> None:
    z = z_score(torch.tensor([2.0, 0.0, 1.0]), 1.0, torch.tensor([0.5, 0.25, 0.0]))
    assert z.dtype == torch.float64 and z[:2].tolist() == [2.0, -4.0] and math.isnan(z[2])
    assert float(z_score(np.float64(3.0), torch.tensor(2.0), 0.5)) == 2.0


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_within_standard_errors_is_the_strict_k_se_check(shape) -> None:
    exact = torch.zeros(shape, dtype=torch.float64)
    stderr = torch.full(shape, 0.1, dtype=torch.float64)
    assert_within_se(exact + 0.39, exact, stderr, 4)
    assert_within_se(exact - 0.39, exact, stderr, 4)
    for off in (0.41, -0.41):
        estimate = exact.clone()
        estimate.view(-1)[-1] = off  # one element off, the last
        with pytest.raises(AssertionError, match=r"[+-]4\.10 standard errors") as info:
            assert_within_se(estimate, exact, stderr, 4, what="the KL")
        assert str(info.value).startswith("the KL") and "fewer than 4" in str(info.value)
        if shape:
            assert str(tuple(i - 1 for i in shape)) in str(info.value)  # where: the last element
    with pytest.raises(AssertionError):  # a zero standard error: only an exact match would do, and < fails
        assert_within_se(1.0, 1.0, 0.0, 4)


def test_within_standard_errors_on_a_monte_carlo_mean() -> None:
    # E[z^2] = 1 under N(0, 1): the estimate lands within 4 se; a wrong target 1.5 does not
    gen = torch.Generator().manual_seed(0)
    estimate, stderr = mc_mean(torch.randn(10_000, 3, generator=gen, dtype=torch.float64) ** 2)
    assert_within_se(estimate, 1.0, stderr, 4)
    with pytest.raises(AssertionError):
        assert_within_se(estimate, 1.5, stderr, 4)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_above_and_below_are_strict_k_se_checks(shape) -> None:
    bound = torch.ones(shape, dtype=torch.float64)
    stderr = torch.full(shape, 0.1, dtype=torch.float64)
    assert_above(bound + 0.41, bound, stderr, 4)
    assert_below(bound - 0.41, bound, stderr, 4)
    for check, off in ((assert_above, 0.39), (assert_below, -0.39)):
        estimate = bound + 2 * off  # every element clears the bound ...
        estimate.view(-1)[-1] = 1 + off  # ... but the last, by 3.9 standard errors only
        with pytest.raises(AssertionError, match=r"[+-]3\.90 standard errors from the bound") as info:
            check(estimate, bound, stderr, 4, what="the gain")
        assert str(info.value).startswith("the gain")
        if shape:
            assert str(tuple(i - 1 for i in shape)) in str(info.value)  # where: the last element


def test_the_wrong_side_fails_whatever_the_standard_error() -> None:
    with pytest.raises(AssertionError, match="-1.00 standard errors"):
        assert_above(-1.0, 0.0, 1.0, 4)
    with pytest.raises(AssertionError, match=r"\+1.00 standard errors"):
        assert_below(1.0, 0.0, 1.0, 4)
    assert_above(1.0, 0.0, 0.0, 4)  # no noise: any margin is enough
    with pytest.raises(AssertionError):
        assert_above(0.0, 0.0, 0.0, 4)  # but equality is no margin


def test_a_monte_carlo_gain_is_above_zero_and_a_null_one_is_not() -> None:
    gen = torch.Generator().manual_seed(0)
    gain, gain_se = mc_mean(0.1 + torch.randn(10_000, generator=gen, dtype=torch.float64))
    assert_above(gain, 0.0, gain_se, 4)  # 0.1 is 10 standard errors of 0.01
    null, null_se = mc_mean(torch.randn(10_000, generator=gen, dtype=torch.float64))
    with pytest.raises(AssertionError):
        assert_above(null, 0.0, null_se, 4)
    with pytest.raises(AssertionError):
        assert_below(null, 0.0, null_se, 4)


def test_combined_se_is_the_root_sum_of_squares() -> None:
    assert float(combined_se(0.3, 0.4)) == pytest.approx(0.5)
    both = combined_se(torch.tensor([3.0, 0.0]), 4.0)
    assert both.dtype == torch.float64 and both.tolist() == [5.0, 4.0]
    assert float(combined_se(0.2)) == pytest.approx(0.2)
    # the spread of a difference of independent means
    gen = torch.Generator().manual_seed(1)
    a, b = (torch.randn(200, 4000, generator=gen, dtype=torch.float64) * s for s in (1.0, 2.0))
    diffs = a.mean(1) - b.mean(1)  # 200 differences of means of 4000 draws
    predicted = float(combined_se(1 / math.sqrt(4000), 2 / math.sqrt(4000)))
    assert float(diffs.std()) == pytest.approx(predicted, rel=0.15)


def test_within_se_allows_an_absolute_tolerance() -> None:
    assert_within_se(0.69, 0.0, 0.1, 4, atol=0.3)
    with pytest.raises(AssertionError, match=r"plus 0\.3"):
        assert_within_se(0.71, 0.0, 0.1, 4, atol=0.3)


BAD_INPUTS = [
    *[reject(f"within-{name}-{i}", lambda kwargs=kwargs: assert_within_se(
        **({"estimate": 1.0, "exact": 1.0, "stderr": 0.1, "n_se": 4} | kwargs)), error, name)
      for i, (kwargs, error, name) in enumerate([
          ({"estimate": "1"}, TypeError, "estimate"),
          ({"exact": object()}, TypeError, "exact"),
          ({"stderr": -0.1}, ValueError, "stderr"),
          ({"stderr": float("nan")}, ValueError, "stderr"),
          ({"n_se": 0}, ValueError, "n_se"),
          ({"n_se": True}, ValueError, "n_se"),
          ({"n_se": math.inf}, ValueError, "n_se"),
      ])],
    *[reject(f"{i}-{name}", call, error, name) for i, (call, error, name) in enumerate([
        (lambda: assert_above("1", 0.0, 0.1, 4), TypeError, "estimate"),
        (lambda: assert_below(1.0, object(), 0.1, 4), TypeError, "bound"),
        (lambda: assert_above(1.0, 0.0, -0.1, 4), ValueError, "stderr"),
        (lambda: assert_below(1.0, 0.0, math.nan, 4), ValueError, "stderr"),
        (lambda: assert_above(1.0, 0.0, 0.1, 0), ValueError, "n_se"),
        (lambda: assert_below(1.0, 0.0, 0.1, True), ValueError, "n_se"),
        (lambda: assert_within_se(1.0, 1.0, 0.1, 4, atol=-1.0), ValueError, "atol"),
        (lambda: combined_se(), ValueError, "at least one"),
        (lambda: combined_se(0.1, -0.1), ValueError, "stderr"),
        (lambda: combined_se("0.1"), TypeError, "stderr"),
    ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
