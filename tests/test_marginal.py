"""Tests of :mod:`vae_edu.exact.marginal`: importance weights and their exact moments, against
independent computations (the exact marginal, ``torch.distributions``, one- and two-dimensional
quadrature, Monte Carlo with exact standard errors), and its table of bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject
from linear_gaussian_cases import F32, F64, X_DIM, Z_DIM, exact_close, random_model, sample_x
from torch.distributions import MultivariateNormal, Normal

from vae_edu.estimators import importance_log_mean
from vae_edu.exact import (
    LinearGaussian,
    log_importance_weights_gaussian,
    log_relative_variance,
    log_weight_moment,
    log_weight_moment_prior,
    num_samples_for_relative_error,
)

def _proposal(model: LinearGaussian, x: torch.Tensor, shift: float, scale: float):
    """$q = \\mathcal N(\\mu_{post} + \\text{shift}, \\text{scale}\\cdot\\Sigma_{post})$."""
    mu, cov = model.posterior(x)
    return mu + shift, scale * cov


def _assert_moment_by_sampling(log_w, log_p_x, log_m2, log_m4, n_se: float = 4.0, rel: float = 0.05) -> None:
    """The sample mean of $(w/p)^2$ is within ``n_se`` *exact* standard errors of $\\mathbb E[w^2]/p^2$,
    the exact one being $\\sqrt{(\\mathbb E[w^4]/p^4 - (\\mathbb E[w^2]/p^2)^2)/K}$; and that error bar is
    small enough (``rel``) for the check to mean something."""
    num = log_w.shape[0]
    estimate = torch.exp(2 * (log_w - log_p_x)).mean(0)
    m2 = torch.exp(log_m2 - 2 * log_p_x)
    m4 = torch.exp(log_m4 - 4 * log_p_x)
    se = torch.sqrt((m4 - m2**2) / num)
    assert bool((n_se * se <= rel * m2).all()), (se, m2)
    assert bool(((estimate - m2).abs() <= n_se * se).all()), ((estimate - m2) / se)


# ---------------------------------------------------------------------- importance weights
def test_importance_weights_match_an_independent_computation(dtype) -> None:
    """Same noise, same z: the weights agree with ``torch.distributions``, for a batch of x and q."""
    model = random_model(dtype)
    x = sample_x(model, (4,), torch.Generator().manual_seed(1))
    mu_q, cov_q = _proposal(model, x, shift=0.3, scale=2.0)  # (4, d), (4, d, d)
    log_w = log_importance_weights_gaussian(
        model.log_p_x_given_z, x, mu_q, cov_q, num_samples=7, generator=torch.Generator().manual_seed(2)
    )
    assert log_w.shape == (7, 4) and log_w.dtype == dtype
    eps = torch.randn(7, 4, Z_DIM, dtype=dtype, generator=torch.Generator().manual_seed(2))
    q = MultivariateNormal(mu_q.double(), cov_q.double())
    z = mu_q.double() + (q.scale_tril @ eps.double().unsqueeze(-1)).squeeze(-1)  # (7, 4, d)
    W, b, s2 = (t.double() for t in (model.W, model.b, model.sigma2))
    log_lik = Normal(z @ W.T + b, s2.sqrt()).log_prob(x.double()).sum(-1)
    prior = MultivariateNormal(torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64))
    ref = log_lik + prior.log_prob(z) - q.log_prob(z)
    torch.testing.assert_close(log_w.double(), ref, **exact_close(dtype))


def test_importance_weights_broadcast_one_q_against_a_batch(gen) -> None:
    model = random_model()
    x = sample_x(model, (2, 3), gen)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64), num_samples=5, generator=gen)
    assert log_w.shape == (5, 2, 3)


def test_importance_weights_are_constant_at_the_posterior(batch_shape, gen) -> None:
    model = random_model()
    x = sample_x(model, batch_shape, gen)
    mu, cov = model.posterior(x)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu, cov, num_samples=1000, generator=gen)
    assert (log_w - model.log_marginal(x)).abs().max() < 1e-10


def test_importance_sampling_is_unbiased(gen) -> None:
    """$\\hat p(x)$ from a wide, shifted proposal: within 4 standard errors of the exact $p(x)$."""
    model = random_model()
    x = sample_x(model, (3,), gen)
    mu_q, cov_q = _proposal(model, x, shift=0.5, scale=3.0)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=50_000, generator=gen)
    log_p_hat, se = importance_log_mean(log_w)
    assert bool((se < 0.02).all())
    assert bool(((log_p_hat - model.log_marginal(x)).abs() <= 4 * se).all())


# ----------------------------------------------------------------- exact moments of the weights
def test_first_moment_is_the_marginal(batch_shape, dtype, gen) -> None:
    model = random_model(dtype)
    x = sample_x(model, batch_shape, gen)
    got = log_weight_moment_prior(model, x, order=1)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, model.log_marginal(x), **exact_close(dtype))
    mu_q, cov_q = _proposal(model, x, shift=0.7, scale=1.8)
    torch.testing.assert_close(log_weight_moment(model, x, mu_q, cov_q, order=1), model.log_marginal(x), **exact_close(dtype))


@pytest.mark.parametrize("order", [2, 3, 4])
def test_prior_moments_two_derivations_agree(order, batch_shape, dtype, gen) -> None:
    """The sharper-noise marginal ($\\sigma^2/n$) and the Gaussian integral with $q = p(z)$."""
    model = random_model(dtype)
    x = sample_x(model, batch_shape, gen)
    prior_mu, prior_cov = torch.zeros(Z_DIM, dtype=dtype), torch.eye(Z_DIM, dtype=dtype)
    got = log_weight_moment_prior(model, x, order)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, log_weight_moment(model, x, prior_mu, prior_cov, order), **exact_close(dtype))


def test_prior_second_moment_by_sampling(gen) -> None:
    model = random_model()
    x = sample_x(model, (3,), gen)
    log_p_x = model.log_marginal(x)
    z = torch.randn(400_000, 1, Z_DIM, generator=gen, dtype=F64)  # z ~ p(z), (K, 1, d)
    log_w = model.log_p_x_given_z(x, z)  # naive Monte Carlo weights p(x|z), (K, 3)
    _assert_moment_by_sampling(log_w, log_p_x, log_weight_moment_prior(model, x, 2), log_weight_moment_prior(model, x, 4))


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.5), (0.1, 1.0), (-0.1, 3.0), (0.0, 0.9), (0.3, 2.0)])
def test_gaussian_proposal_second_moment_by_sampling(shift, scale, gen) -> None:
    model = random_model()
    x = sample_x(model, (2,), gen)
    mu_q, cov_q = _proposal(model, x, shift, scale)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=200_000, generator=gen)
    m2, m4 = (log_weight_moment(model, x, mu_q, cov_q, n) for n in (2, 4))
    _assert_moment_by_sampling(log_w, model.log_marginal(x), m2, m4)


@pytest.mark.parametrize("order", [2, 3])
def test_gaussian_proposal_moment_by_quadrature(order, gen) -> None:
    """$p(x)^n\\int p(z|x)^n q^{1-n}dz$ on a 2-D grid, with a correlated posterior and a rotated $q$."""
    model = random_model()
    x = sample_x(model, (), gen)
    mu, cov = model.posterior(x)
    mu_q = mu + torch.tensor([0.3, -0.2], dtype=F64)
    cov_q = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=F64)
    axis = torch.linspace(-6, 6, 601, dtype=F64)
    z = torch.cartesian_prod(axis, axis)  # (G^2, 2)
    log_integrand = order * MultivariateNormal(mu, cov).log_prob(z) + (1 - order) * MultivariateNormal(mu_q, cov_q).log_prob(z)
    log_integral = torch.logsumexp(log_integrand, 0) + 2 * math.log(axis[1] - axis[0])
    ref = order * model.log_marginal(x) + log_integral
    assert log_weight_moment(model, x, mu_q, cov_q, order).item() == pytest.approx(ref.item(), abs=1e-9)


def test_moments_at_the_posterior_and_the_finite_variance_boundary() -> None:
    """Zero variance at $q = p(z|x)$; with $\\Sigma_q = c\\,\\Sigma_{post}$ the second moment is
    $p(x)^2 (c/\\sqrt{2c-1})^d$ and infinite for $c \\le 1/2$."""
    model = random_model(z_dim=3, x_dim=6)
    x = model.sample(4, generator=torch.Generator().manual_seed(3))
    mu, cov = model.posterior(x)
    log_p_x = model.log_marginal(x)
    for n in (2, 3):
        torch.testing.assert_close(log_weight_moment(model, x, mu, cov, n), n * log_p_x, rtol=0, atol=1e-10)
    for c in (0.51, 0.8, 2.0, 10.0):
        expected = 2 * log_p_x + 3 * (math.log(c) - 0.5 * math.log(2 * c - 1))
        torch.testing.assert_close(log_weight_moment(model, x, mu, c * cov), expected, rtol=0, atol=1e-9)
    assert bool(torch.isposinf(log_weight_moment(model, x, mu, 0.5 * cov - 1e-6 * torch.eye(3, dtype=F64))).all())
    assert bool(torch.isposinf(log_weight_moment(model, x, mu, 0.3 * cov)).all())
    # order 3 needs 3 Sigma_q - 2 Sigma > 0, i.e. c > 2/3: finite at 0.7, infinite at 0.6
    assert bool(torch.isfinite(log_weight_moment(model, x, mu, 0.7 * cov, 3)).all())
    assert bool(torch.isposinf(log_weight_moment(model, x, mu, 0.6 * cov, 3)).all())


def test_moment_is_infinite_only_where_the_proposal_is_too_narrow(gen) -> None:
    model = random_model()
    x = sample_x(model, (3,), gen)
    mu, cov = model.posterior(x)
    scale = torch.tensor([0.3, 1.0, 2.0], dtype=F64)[:, None, None]  # one proposal width per x
    got = log_weight_moment(model, x, mu, scale * cov)
    assert got.shape == (3,) and bool(torch.isposinf(got[0])) and bool(torch.isfinite(got[1:]).all())


# --------------------------------------------------------------- relative variance and sample size
def test_log_relative_variance_values(dtype) -> None:
    log_p_x = torch.tensor([0.0, 0.0, -3.0, -3.0, -200.0], dtype=dtype)
    a = torch.tensor([0.0, 1e-6, 0.5, 1000.0, 5.0], dtype=F64)  # log E[w^2] - 2 log p(x)
    got = log_relative_variance((a + 2 * log_p_x.double()).to(dtype), log_p_x)
    assert got.shape == (5,) and got.dtype == dtype
    assert bool(torch.isneginf(got[0]))  # zero variance
    rtol = 1e-4 if dtype == F32 else 1e-12
    assert got[1].item() == pytest.approx(math.log(math.expm1(1e-6)), rel=rtol)  # exact for tiny a ...
    assert got[2].item() == pytest.approx(math.log(math.expm1(0.5)), rel=10 * rtol)
    assert got[3].item() == pytest.approx(1000.0, rel=rtol)  # ... and where expm1(a) overflows
    assert got[4].item() == pytest.approx(math.log(math.expm1(5.0)), rel=10 * rtol)
    inf = log_relative_variance(torch.tensor([math.inf], dtype=dtype), torch.tensor([-1.0], dtype=dtype))
    assert bool(torch.isposinf(inf).all())


def test_log_relative_variance_matches_the_sample_variance(gen) -> None:
    """$\\rho$ is what ``importance_log_mean``'s standard error estimates: $\\mathrm{se}^2 K \\to \\rho$."""
    model = random_model()
    x = sample_x(model, (), gen)
    mu_q, cov_q = _proposal(model, x, 0.3, 2.0)
    log_rho = log_relative_variance(log_weight_moment(model, x, mu_q, cov_q), model.log_marginal(x))
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=400_000, generator=gen)
    _, se = importance_log_mean(log_w)
    assert (se**2 * 400_000).item() == pytest.approx(log_rho.exp().item(), rel=0.05)


def test_num_samples_for_relative_error(dtype) -> None:
    log_rho = torch.log(torch.tensor([2.0, 0.01], dtype=dtype))
    got = num_samples_for_relative_error(log_rho, 0.1)
    assert got.dtype == dtype and got.shape == (2,)
    torch.testing.assert_close(got, torch.tensor([200.0, 1.0], dtype=dtype))  # rho / eps^2
    assert num_samples_for_relative_error(torch.tensor([-math.inf]), 0.1).item() == 0.0  # zero variance
    assert math.isinf(num_samples_for_relative_error(torch.tensor([800.0], dtype=F64), 0.1).item())
    # the promise: with K samples the relative standard error sqrt(rho / K) is eps
    rho = torch.tensor([37.3, 5e4], dtype=F64)
    k = num_samples_for_relative_error(rho.log(), 0.05)
    torch.testing.assert_close(torch.sqrt(rho / k), torch.full((2,), 0.05, dtype=F64), rtol=1e-12, atol=0)


def test_log_importance_weights_is_the_deprecated_name_of_the_gaussian_one() -> None:
    from vae_edu.exact import log_importance_weights

    model = random_model()
    x = torch.randn(4, X_DIM, dtype=F64, generator=torch.Generator().manual_seed(1))
    mu, cov = torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64)
    with pytest.warns(DeprecationWarning, match="call log_importance_weights_gaussian"):
        old = log_importance_weights(model.log_p_x_given_z, x, mu, cov, num_samples=3,
                                     generator=torch.Generator().manual_seed(2))
    new = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu, cov, num_samples=3,
                                          generator=torch.Generator().manual_seed(2))
    assert torch.equal(old, new)


# ------------------------------------------------------------------------------ bad inputs
M3 = random_model(F32, x_dim=3, z_dim=3)  # event dimension 3 for both x and mu_q, as bad_inputs.BAD expects
GOOD_Q = {"x": torch.zeros(2, 3), "mu_q": torch.zeros(2, 3), "cov_q": torch.eye(3)}
M = random_model()


def _weights(**bad):
    args = GOOD_Q | bad
    num_samples = args.pop("num_samples", 4)
    return log_importance_weights_gaussian(M3.log_p_x_given_z, num_samples=num_samples, **args)


BAD_INPUTS = [
    # log_importance_weights_gaussian: the data, the proposal's mean and covariance, K
    *[reject(f"weights-{arg}-{kind}", lambda arg=arg, make=make: _weights(**{arg: make()}), error, arg)
      for arg in ("x", "mu_q") for kind, make, error in BAD],
    reject("weights-cov_q-not-square", lambda: _weights(cov_q=torch.eye(3)[:2]), ValueError, "cov_q"),
    reject("weights-cov_q-not-pd", lambda: _weights(cov_q=torch.diag(torch.tensor([1.0, -1.0, 1.0]))), ValueError,
           "cov_q"),
    reject("weights-cov_q-not-symmetric",
           lambda: _weights(cov_q=torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])), ValueError,
           "cov_q"),
    reject("weights-cov_q-dtype", lambda: _weights(cov_q=torch.eye(3, dtype=F64)), TypeError, "cov_q"),
    reject("weights-num_samples-0", lambda: _weights(num_samples=0), ValueError, "num_samples"),
    reject("weights-num_samples-float", lambda: _weights(num_samples=2.0), TypeError, "num_samples"),
    # log_weight_moment (and log_weight_moment_prior, which has no q to mismatch)
    *[reject(f"moment-{arg}-{kind}", lambda arg=arg, make=make: log_weight_moment(M3, **(GOOD_Q | {arg: make()})),
             error, arg)
      for arg in ("x", "mu_q") for kind, make, error in BAD],
    *[reject(f"moment_prior-x-{kind}", lambda make=make: log_weight_moment_prior(M3, make()), error, "x")
      for kind, make, error in BAD if kind != "batch"],
    *[reject(f"{name}-order-{order!r}", call, error, "order")
      for order, error in [(0, ValueError), (-1, ValueError), (1.5, TypeError), (2.0, TypeError), (True, TypeError),
                           (None, TypeError)]
      for name, call in [
          ("moment_prior", lambda order=order: log_weight_moment_prior(M, M.b, order)),
          ("moment", lambda order=order: log_weight_moment(M, M.b, torch.zeros(Z_DIM, dtype=F64),
                                                           torch.eye(Z_DIM, dtype=F64), order)),
      ]],
    reject("moment_prior-model", lambda: log_weight_moment_prior("not a model", torch.zeros(3)), TypeError, "model"),
    reject("moment-model", lambda: log_weight_moment(None, torch.zeros(3), torch.zeros(2), torch.eye(2)), TypeError,
           "model"),
    # log_relative_variance
    *[reject(f"relative_variance-{i}", lambda m2=m2, p=p: log_relative_variance(m2, p), error, name)
      for i, (m2, p, error, name) in enumerate([
          (torch.tensor([-7.0]), torch.tensor([-3.0]), ValueError, "log_second_moment"),  # E[w^2] < E[w]^2
          (torch.tensor([float("nan")]), torch.tensor([-3.0]), ValueError, "log_second_moment"),
          (torch.tensor([-math.inf]), torch.tensor([-3.0]), ValueError, "log_second_moment"),
          ([0.0], torch.tensor([-3.0]), TypeError, "log_second_moment"),
          (torch.tensor([1.0]), torch.tensor([math.inf]), ValueError, "log_p_x"),
          (torch.tensor([1.0]), torch.tensor([-3.0], dtype=F64), TypeError, "log_p_x"),
          (torch.tensor([1.0, 2.0]), torch.tensor([-3.0, -3.0, -3.0]), ValueError, "log_p_x"),
      ])],
    # num_samples_for_relative_error
    *[reject(f"num_samples-rel_error-{rel_error!r}",
             lambda rel_error=rel_error: num_samples_for_relative_error(torch.tensor([1.0]), rel_error), error,
             "rel_error")
      for rel_error, error in [(0.0, ValueError), (-0.1, ValueError), (float("inf"), ValueError),
                               (float("nan"), ValueError), ("0.1", TypeError), (True, TypeError)]],
    reject("num_samples-nan", lambda: num_samples_for_relative_error(torch.tensor([float("nan")]), 0.1), ValueError,
           "log_relative_variance"),
    reject("num_samples-list", lambda: num_samples_for_relative_error([1.0], 0.1), TypeError, "log_relative_variance"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
