"""Tests of :mod:`vae_edu.estimators`: Monte Carlo means and their standard errors, the Monte
Carlo KL and the Monte Carlo ELBO, checked against exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject

from vae_edu.distributions import log_normal_diag, log_standard_normal, reparameterize
from vae_edu.estimators import (
    effective_sample_size,
    importance_log_mean,
    kl_monte_carlo,
    log_mean_exp,
    mc_elbo,
    mc_mean,
)
from vae_edu.exact import LinearGaussian
from vae_edu.kl import kl_normal_normal, kl_normal_std_normal

D = 3
F32, F64 = torch.float32, torch.float64


# ------------------------------------------------------------------------------ mc_mean
def test_mc_mean_values_match_numpy(batch_shape, dtype, gen) -> None:
    values = torch.randn((50, *batch_shape), generator=gen, dtype=dtype) * 3 + 1
    mean, stderr = mc_mean(values)
    assert mean.shape == stderr.shape == batch_shape
    assert mean.dtype == stderr.dtype == dtype
    v = values.double().numpy()
    np.testing.assert_allclose(mean.double().numpy(), v.mean(0), rtol=1e-6 if dtype == F32 else 1e-13)
    np.testing.assert_allclose(
        stderr.double().numpy(), v.std(0, ddof=1) / math.sqrt(50), rtol=1e-5 if dtype == F32 else 1e-12
    )


def test_mc_mean_two_samples() -> None:
    mean, stderr = mc_mean(torch.tensor([1.0, 3.0], dtype=F64))
    assert mean.item() == 2.0
    assert stderr.item() == pytest.approx(1.0, rel=1e-15)  # s = sqrt(2), / sqrt(2)


def test_mc_mean_constant_has_zero_stderr(dtype) -> None:
    mean, stderr = mc_mean(torch.full((10, 2), 0.25, dtype=dtype))
    assert bool((mean == 0.25).all()) and bool((stderr == 0).all())


def test_mc_mean_stderr_is_calibrated(gen) -> None:
    """Over 2000 repeated experiments the error is within 2 standard errors ~95% of the time,
    and the standard errors have the right size, $\\sigma/\\sqrt N$."""
    values = 1.5 + 2.0 * torch.randn(100, 2000, generator=gen, dtype=F64)  # 2000 experiments of N = 100
    mean, stderr = mc_mean(values)
    coverage = ((mean - 1.5).abs() <= 2 * stderr).double().mean().item()
    assert 0.93 <= coverage <= 0.97, coverage
    assert stderr.mean().item() == pytest.approx(2.0 / 10.0, rel=0.02)


# -------------------------------------------------------------------------- kl_monte_carlo
def _params(shape, dtype, gen, shift: float = 0.0):
    mu = (shift + torch.randn(shape, generator=gen, dtype=F64)).to(dtype)
    log_var = (torch.rand(shape, generator=gen, dtype=F64) * 2 - 1).to(dtype)
    return mu, log_var


def test_kl_monte_carlo_is_reproducible_and_shaped(batch_shape, dtype) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, torch.Generator().manual_seed(0))
    a = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(5))
    b = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(5))
    c = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(6))
    for t in (*a, *c):
        assert t.shape == batch_shape and t.dtype == dtype
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert bool((a[1] > 0).all())


def test_kl_monte_carlo_is_the_mean_of_log_ratios(dtype) -> None:
    """The estimator is exactly ``mc_mean(log q(z_n) - log p(z_n))`` with ``z_n = mu + std * eps_n``."""
    mu, log_var = _params((2, D), dtype, torch.Generator().manual_seed(0))
    mu_p, log_var_p = _params((2, D), dtype, torch.Generator().manual_seed(1))
    estimate, stderr = kl_monte_carlo(
        mu, log_var, mu_p, log_var_p, num_samples=64, generator=torch.Generator().manual_seed(9)
    )
    eps = torch.randn((64, 2, D), generator=torch.Generator().manual_seed(9), dtype=dtype)
    z = mu + torch.exp(0.5 * log_var) * eps
    ref_mean, ref_se = mc_mean(log_normal_diag(z, mu, log_var) - log_normal_diag(z, mu_p, log_var_p))
    torch.testing.assert_close(estimate, ref_mean)
    torch.testing.assert_close(stderr, ref_se)
    # default p is N(0, I)
    estimate0, _ = kl_monte_carlo(mu, log_var, num_samples=64, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(estimate0, mc_mean(log_normal_diag(z, mu, log_var) - log_standard_normal(z))[0])


def test_kl_monte_carlo_zero_variance_at_q_equals_p(dtype) -> None:
    mu, log_var = _params((4, D), dtype, torch.Generator().manual_seed(0))
    estimate, stderr = kl_monte_carlo(mu, log_var, mu, log_var, num_samples=100)
    assert bool((estimate == 0).all()) and bool((stderr == 0).all())


def test_kl_monte_carlo_broadcasts_q_against_p(dtype, assert_mc_agrees) -> None:
    """One $q$ of shape ``(D,)`` against four $p$'s of shape ``(4, D)``, and vice versa."""
    gen = torch.Generator().manual_seed(0)
    mu_q, log_var_q = _params((D,), dtype, gen)
    mu_p, log_var_p = _params((4, D), dtype, gen, shift=3.0)
    estimate, stderr = kl_monte_carlo(mu_q, log_var_q, mu_p, log_var_p, num_samples=200_000, generator=gen)
    assert estimate.shape == (4,)
    assert_mc_agrees(kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), estimate, stderr)
    estimate, stderr = kl_monte_carlo(mu_p, log_var_p, mu_q, log_var_q, num_samples=200_000, generator=gen)
    assert_mc_agrees(kl_normal_normal(mu_p, log_var_p, mu_q, log_var_q), estimate, stderr)
    # (B, D) means with one shared (D,) log-variance
    estimate, stderr = kl_monte_carlo(mu_p, log_var_q, num_samples=200_000, generator=gen)
    assert_mc_agrees(kl_normal_std_normal(mu_p, log_var_q), estimate, stderr)




# ------------------------------------------------------------------------ mc_elbo
def _model(dtype, orthogonal: bool = False) -> LinearGaussian:
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(5, 2, generator=gen, dtype=F64)
    if orthogonal:
        W = torch.linalg.qr(W).Q * torch.tensor([2.0, 0.7], dtype=F64)  # orthogonal columns
    b = torch.randn(5, generator=gen, dtype=F64)
    return LinearGaussian(W.to(dtype), b.to(dtype), 0.5)


def test_elbo_monte_carlo_is_the_mean_of_the_summed_terms(dtype, gen) -> None:
    a, b, c = (torch.randn(20, 4, generator=gen, dtype=dtype) for _ in range(3))
    estimate, stderr = mc_elbo(a, b, c)
    ref = mc_mean(a + b - c)
    torch.testing.assert_close(estimate, ref[0])
    torch.testing.assert_close(stderr, ref[1])
    assert estimate.shape == (4,) and estimate.dtype == dtype


def test_elbo_monte_carlo_vs_exact_elbo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    """On the linear-Gaussian model the exact ELBO is known: the estimate agrees to 1%."""
    model = _model(dtype)
    x = model.sample(max(1, math.prod(batch_shape)), generator=gen).reshape(*batch_shape, 5)
    mu_post, cov_post = model.posterior(x)
    mu_q, log_var_q = _params((*batch_shape, 2), dtype, gen)  # q: a perturbed posterior
    mu_q = mu_post + 0.3 * mu_q
    log_var_q = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1)) + 0.5 * log_var_q
    num = 400_000 // max(1, math.prod(batch_shape))
    eps = torch.randn((num, *batch_shape, 2), generator=gen, dtype=dtype)
    z = reparameterize(mu_q, log_var_q, eps)  # (K, *batch, 2)
    estimate, stderr = mc_elbo(
        model.log_p_x_given_z(x, z), log_standard_normal(z), log_normal_diag(z, mu_q, log_var_q)
    )
    assert estimate.shape == batch_shape and estimate.dtype == dtype
    assert_mc_agrees(model.elbo(x, mu_q, log_var_q), estimate, stderr)


def test_elbo_monte_carlo_at_the_exact_posterior(gen) -> None:
    """With $q = p(z|x)$ every sample gives $\\log p(x)$ exactly: zero variance, no gap."""
    model = _model(F64, orthogonal=True)
    x = model.sample(3, generator=gen)
    mu_post, cov_post = model.posterior(x)
    log_var_post = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    z = reparameterize(mu_post, log_var_post, torch.randn(1000, 3, 2, generator=gen, dtype=F64))
    estimate, stderr = mc_elbo(
        model.log_p_x_given_z(x, z), log_standard_normal(z), log_normal_diag(z, mu_post, log_var_post)
    )
    torch.testing.assert_close(estimate, model.log_marginal(x), rtol=0, atol=1e-10)
    assert bool((stderr < 1e-10).all())


# ------------------------------------------------------------------ log-mean-exp and importance weights
def test_log_mean_exp_matches_direct_formula(dtype, gen) -> None:
    log_w = torch.randn(7, 3, generator=gen, dtype=dtype)
    expected = log_w.exp().mean(0).log()
    torch.testing.assert_close(log_mean_exp(log_w), expected)
    torch.testing.assert_close(log_mean_exp(log_w.T, dim=1), expected)


def test_log_mean_exp_is_stable_far_below_zero(dtype) -> None:
    """Log-likelihoods of real data are hundreds of nats below zero: exp() underflows, we do not."""
    log_w = torch.tensor([-1000.0, -1000.0 + math.log(3.0)], dtype=dtype)
    assert log_mean_exp(log_w).item() == pytest.approx(-1000.0 + math.log(2.0), abs=1e-4)


def test_importance_log_mean_stderr_is_relative_stderr(gen) -> None:
    w = torch.rand(400, 2, generator=gen, dtype=F64) + 0.5
    log_p, se = importance_log_mean(w.log() - 700.0)  # shifting every weight changes log p, not se
    mean, stderr = mc_mean(w)
    torch.testing.assert_close(log_p, mean.log() - 700.0)
    torch.testing.assert_close(se, stderr / mean)


def test_importance_log_mean_is_unbiased_for_p(gen) -> None:
    """Proposal N(0, 2^2) for the target N(0, 1) (normaliser 1): p_hat has mean 1 within its error."""
    z = 2.0 * torch.randn(20_000, generator=gen, dtype=F64)
    log_w = log_standard_normal(z[:, None]) - log_normal_diag(z[:, None], torch.zeros(1, dtype=F64), torch.full((1,), math.log(4.0), dtype=F64))
    log_p, se = importance_log_mean(log_w)
    assert abs(log_p.item()) <= 4 * se.item() and se.item() < 0.01


def test_effective_sample_size_limits(dtype) -> None:
    assert effective_sample_size(torch.zeros(10, dtype=dtype)).item() == pytest.approx(10.0, rel=1e-6)
    one_dominates = torch.tensor([0.0, -200.0, -200.0, -200.0], dtype=dtype)
    assert effective_sample_size(one_dominates).item() == pytest.approx(1.0, rel=1e-6)
    two_equal = torch.tensor([[3.0], [3.0], [-500.0]], dtype=dtype)
    assert effective_sample_size(two_equal).shape == (1,)
    assert effective_sample_size(two_equal).item() == pytest.approx(2.0, rel=1e-6)


def test_log_mean_exp_takes_minus_inf_as_a_zero_weight(dtype) -> None:
    """A -inf log-weight is a weight of 0: it counts in K, adds nothing, and agrees with torch.logsumexp."""
    ninf = float("-inf")
    log_w = torch.tensor([[0.0, ninf], [math.log(3.0), ninf], [ninf, ninf]], dtype=dtype)  # (K=3, 2)
    got = log_mean_exp(log_w)
    assert got[0].item() == pytest.approx(math.log(4.0 / 3.0), rel=1e-6)
    assert got[1].item() == ninf  # every weight zero: log 0
    torch.testing.assert_close(got, torch.logsumexp(log_w, dim=0) - math.log(3.0))
    x = log_w.clone().requires_grad_()
    log_mean_exp(x)[0].backward()  # finite gradient; zero for the zero weight
    assert x.grad[:, 0].tolist() == pytest.approx([0.25, 0.75, 0.0])


def test_importance_log_mean_with_zero_weights(dtype) -> None:
    """-inf entries are zero weights in the standard error too; all zero gives log 0 and a NaN error."""
    ninf = float("-inf")
    w = torch.tensor([1.0, 3.0, 0.0, 0.0], dtype=F64)
    log_p, se = importance_log_mean(torch.tensor([0.0, math.log(3.0), ninf, ninf], dtype=dtype))
    mean, stderr = mc_mean(w)
    assert log_p.item() == pytest.approx(math.log(mean.item()), rel=1e-6)
    assert se.item() == pytest.approx((stderr / mean).item(), rel=1e-6)
    log_p, se = importance_log_mean(torch.full((4, 2), ninf, dtype=dtype))
    assert log_p.tolist() == [ninf, ninf] and bool(torch.isnan(se).all())
    ess = effective_sample_size(torch.tensor([[0.0, ninf], [0.0, ninf], [ninf, ninf]], dtype=dtype))
    assert ess[0].item() == pytest.approx(2.0) and math.isnan(ess[1].item())




def test_elbo_monte_carlo_is_the_deprecated_name_of_mc_elbo(gen) -> None:
    from vae_edu.estimators import elbo_monte_carlo

    terms = [torch.randn(5, 3, generator=gen, dtype=torch.float64) for _ in range(3)]
    with pytest.warns(DeprecationWarning, match="call mc_elbo"):
        old = elbo_monte_carlo(*terms)
    for a, b in zip(old, mc_elbo(*terms)):
        assert torch.equal(a, b)
    assert "Deprecated" in elbo_monte_carlo.__doc__ and "mc_elbo" in elbo_monte_carlo.__doc__


# ------------------------------------------------------------------------------ bad inputs
_LOG_W_FNS = [("log_mean_exp", log_mean_exp), ("importance_log_mean", importance_log_mean),
              ("effective_sample_size", effective_sample_size)]
_ELBO_TERMS = ("log_p_x_given_z", "log_p_z", "log_q_z")


def _kl_mc(arg, value, with_p):
    kwargs = {"mu_q": torch.zeros(2, D), "log_var_q": torch.zeros(2, D)}
    if with_p:
        kwargs |= {"mu_p": torch.zeros(2, D), "log_var_p": torch.zeros(2, D)}
    return kl_monte_carlo(**(kwargs | {arg: value}), num_samples=10)


def _mc_elbo(arg, value, one_sample=False):
    kwargs = {name: torch.zeros(1 if one_sample else 2) for name in _ELBO_TERMS}
    if not one_sample:
        kwargs[arg] = value
    return mc_elbo(**kwargs)


BAD_INPUTS = [
    # mc_mean
    *[reject(f"mc_mean-{i}", lambda v=values: mc_mean(v), error, "values")
      for i, (values, error) in enumerate([
          (torch.zeros(1, 3), ValueError),  # one sample: no standard error
          (torch.zeros(1), ValueError),
          (torch.zeros(0, 3), ValueError),
          (torch.tensor(1.0), ValueError),  # no sample dimension
          (torch.tensor([1.0, float("nan")]), ValueError),
          (torch.tensor([1.0, float("inf")]), ValueError),
          (torch.arange(5), TypeError),
          ([1.0, 2.0], TypeError),
      ])],
    # kl_monte_carlo
    *[reject(f"kl_monte_carlo-num_samples-{n!r}",
             lambda n=n: kl_monte_carlo(torch.zeros(D), torch.zeros(D), num_samples=n), (ValueError, TypeError),
             "num_samples")
      for n in [1, 0, -5, 2.0, 1e4, True, "100", None]],
    *[reject(f"kl_monte_carlo-only-{given}", lambda given=given: kl_monte_carlo(torch.zeros(D), torch.zeros(D),
                                                                                 **{given: torch.zeros(D)}),
             ValueError, "mu_p and log_var_p must be given together")
      for given in ("mu_p", "log_var_p")],
    *[reject(f"kl_monte_carlo-{arg}-{'with' if with_p else 'no'}-p-{kind}",
             lambda arg=arg, make=make, with_p=with_p: _kl_mc(arg, make(), with_p), error, arg)
      for arg, with_p in [("mu_q", True), ("log_var_q", True), ("mu_p", True), ("log_var_p", True), ("mu_q", False),
                          ("log_var_q", False)]
      for kind, make, error in BAD],
    *[reject(f"kl_monte_carlo-generator-{i}",
             lambda g=g: kl_monte_carlo(torch.zeros(2), torch.zeros(2), generator=g), TypeError,
             r"generator must be a torch\.Generator")
      for i, g in enumerate([42, "seed", torch.tensor(1)])],
    # mc_elbo
    *[reject(f"mc_elbo-{arg}-{kind}", lambda arg=arg, make=make, one=(kind == "one sample"): _mc_elbo(arg, make(), one),
             error, arg if kind != "one sample" else "log_p_x_given_z")
      for arg in _ELBO_TERMS
      for kind, make, error in [
          ("nan", lambda: torch.tensor([0.0, float("nan")]), ValueError),
          ("inf", lambda: torch.tensor([0.0, float("-inf")]), ValueError),
          ("list", lambda: [0.0, 0.0], TypeError),
          ("int", lambda: torch.zeros(2, dtype=torch.int64), TypeError),
          ("shape", lambda: torch.zeros(3), ValueError),
          ("broadcastable shape", lambda: torch.zeros(2, 1), ValueError),
          ("0-dim", lambda: torch.tensor(0.0), ValueError),
          ("one sample", lambda: torch.zeros(1), ValueError),
      ]],
    *[reject(f"mc_elbo-{arg}-dtype", lambda arg=arg: _mc_elbo(arg, torch.zeros(2, dtype=F64)), TypeError, arg)
      for arg in ("log_p_z", "log_q_z")],
    # log_mean_exp, importance_log_mean, effective_sample_size: the log-weights
    *[reject(f"{name}-log_w-{kind}", lambda fn=fn, make=make: fn(make()), error, "log_w")
      for name, fn in _LOG_W_FNS for kind, make, error in BAD if kind in {"nan", "list", "int", "0-dim"}],
    reject("importance_log_mean-one-sample", lambda: importance_log_mean(torch.zeros(1, 3)), ValueError, "log_w"),
    *[reject(f"{name}-empty-{shape}", lambda fn=fn, shape=shape: fn(torch.empty(shape)), ValueError,
             "log_w has no samples")
      for name, fn in _LOG_W_FNS for shape in [(0,), (0, 3)]],
    reject("log_mean_exp-empty-at-dim", lambda: log_mean_exp(torch.empty(3, 0), dim=1), ValueError,
           r"log_w has no samples.*dim=1"),
    reject("log_mean_exp-dim", lambda: log_mean_exp(torch.zeros(3), dim=1), ValueError, "dim"),
    *[reject(f"{name}-log_w-{label}", lambda fn=fn, v=value: fn(torch.tensor([0.0, v, 1.0])), ValueError,
             f"log_w contains {pattern}")
      for name, fn in _LOG_W_FNS for value, label, pattern in [(float("inf"), "+inf", r"\+inf"), (float("nan"), "nan", "NaN")]],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
