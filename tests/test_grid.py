"""Tests of :mod:`vae_edu.exact.grid`: quadrature of $p(x)$, the exact posterior of a 1-D latent, and
its best Gaussians, against independent computations (the exact marginal and posterior of the
linear-Gaussian model, SciPy's adaptive quadrature, closed-form KLs), and its table of bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject
from linear_gaussian_cases import F64, X_DIM, Z_DIM, exact_close, random_model, sample_x
from torch.distributions import Normal, kl_divergence

from vae_edu.exact import (
    MAX_GRID_NODES,
    fit_normal_grid,
    kl_grid_normal,
    kl_normal_grid,
    log_marginal_grid,
    log_posterior_grid,
)

def _log_normal_1d(z: torch.Tensor, mu: float, var: float) -> torch.Tensor:
    return Normal(torch.tensor(mu, dtype=z.dtype), torch.tensor(var, dtype=z.dtype).sqrt()).log_prob(z)


def _mixture_1d(z: torch.Tensor) -> torch.Tensor:
    """$0.7\\,\\mathcal N(-2, 0.09) + 0.3\\,\\mathcal N(1.5, 0.25)$: two well-separated modes."""
    return torch.logaddexp(math.log(0.7) + _log_normal_1d(z, -2.0, 0.09), math.log(0.3) + _log_normal_1d(z, 1.5, 0.25))


# ------------------------------------------------------------------------------ quadrature
@pytest.mark.parametrize("z_dim", [1, 2])
def test_grid_quadrature_is_exact_for_the_linear_model(z_dim, batch_shape, dtype, gen) -> None:
    model = random_model(dtype, z_dim=z_dim, sigma2=1.0)
    x = sample_x(model, batch_shape, gen)
    got = log_marginal_grid(model.log_p_x_given_z, x, z_dim, num_points=301 if z_dim == 1 else 151)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, model.log_marginal(x), **exact_close(dtype))


def test_grid_quadrature_of_a_nonlinear_decoder_matches_scipy() -> None:
    """$x|z \\sim \\mathcal N(\\tanh(3z), 0.1)$ in one dimension, against adaptive quadrature."""
    from scipy.integrate import quad

    def log_lik(x, z):
        return Normal(torch.tanh(3 * z), math.sqrt(0.1)).log_prob(x).sum(-1)

    x = torch.tensor([[0.3], [-0.95]], dtype=F64)
    got = log_marginal_grid(log_lik, x, 1, num_points=2001)
    for i, xi in enumerate(x[:, 0].tolist()):
        integrand = lambda z: math.exp(-0.5 * z * z - 0.5 * (xi - math.tanh(3 * z)) ** 2 / 0.1) / (2 * math.pi * math.sqrt(0.1))
        ref, _ = quad(integrand, -8, 8, epsabs=0, epsrel=1e-12, limit=200)
        assert got[i].item() == pytest.approx(math.log(ref), abs=1e-9)


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_posterior_grid_is_the_exact_posterior_of_the_linear_model(batch_shape, gen) -> None:
    model = random_model(z_dim=1)
    x = sample_x(model, batch_shape, gen)
    z, log_post = log_posterior_grid(model.log_p_x_given_z, x, num_points=2001)
    assert z.shape == (2001,) and log_post.shape == (2001, *batch_shape)
    mu, cov = model.posterior(x)  # (..., 1), (..., 1, 1)
    exact = Normal(mu[..., 0], cov[..., 0, 0].sqrt()).log_prob(z.reshape(-1, *[1] * len(batch_shape)))
    torch.testing.assert_close(log_post, exact, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(log_post.exp().sum(0) * (z[1] - z[0]), torch.ones(batch_shape, dtype=F64))


def test_posterior_grid_of_a_nonlinear_decoder_is_bayes_rule() -> None:
    x = torch.tensor([0.3], dtype=F64)

    def log_lik(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return Normal(torch.sin(3 * z[..., 0]), 0.2).log_prob(x[..., 0])

    z, log_post = log_posterior_grid(log_lik, x, num_points=3001)
    log_joint = log_lik(x, z[:, None]) + Normal(0.0, 1.0).log_prob(z).to(F64)
    log_p_x = log_marginal_grid(log_lik, x, 1, num_points=3001)
    torch.testing.assert_close(log_post, log_joint - log_p_x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("mu_q", "var_q"), [(0.0, 1.0), (0.7, 0.3), (-1.5, 2.0)])
def test_grid_kls_match_the_closed_form_for_a_gaussian_p(mu_q, var_q) -> None:
    z = torch.linspace(-12, 12, 4001, dtype=F64)
    mu_p, var_p = 0.4, 0.5
    log_p = _log_normal_1d(z, mu_p, var_p)
    q = Normal(torch.tensor(mu_q, dtype=F64), torch.tensor(var_q, dtype=F64).sqrt())
    p = Normal(torch.tensor(mu_p, dtype=F64), torch.tensor(var_p, dtype=F64).sqrt())
    m, lv = torch.tensor(mu_q, dtype=F64), torch.tensor(math.log(var_q), dtype=F64)
    assert abs(float(kl_normal_grid(m, lv, z, log_p)) - float(kl_divergence(q, p))) < 1e-10
    assert abs(float(kl_grid_normal(z, log_p, m, lv)) - float(kl_divergence(p, q))) < 1e-10


def test_grid_kls_broadcast_over_a_batch_of_gaussians() -> None:
    z = torch.linspace(-10, 10, 2001, dtype=F64)
    log_p = _mixture_1d(z)
    mu_q = torch.tensor([[-2.0], [0.0], [1.5]], dtype=F64)  # (3, 1)
    log_var_q = torch.tensor([-1.0, 0.0], dtype=F64)  # (2,)
    for kl in (kl_normal_grid(mu_q, log_var_q, z, log_p), kl_grid_normal(z, log_p, mu_q, log_var_q)):
        assert kl.shape == (3, 2) and (kl > 0).all()
    single = kl_normal_grid(mu_q[1, 0], log_var_q[1], z, log_p)
    assert float(single) == pytest.approx(float(kl_normal_grid(mu_q, log_var_q, z, log_p)[1, 1]), rel=1e-12)


@pytest.mark.parametrize("reverse", [True, False])
def test_fit_to_a_gaussian_p_recovers_it(reverse) -> None:
    z = torch.linspace(-10, 10, 2001, dtype=F64)
    mu, log_var = fit_normal_grid(z, _log_normal_1d(z, 0.7, 0.3), reverse=reverse)
    assert mu.shape == () and log_var.shape == ()
    assert abs(float(mu) - 0.7) < 1e-6 and abs(float(log_var.exp()) - 0.3) < 1e-6


def test_forward_fit_matches_the_moments_and_reverse_fit_seeks_the_heavier_mode() -> None:
    z = torch.linspace(-10, 10, 4001, dtype=F64)
    log_p = _mixture_1d(z)
    mean = 0.7 * -2.0 + 0.3 * 1.5
    var = 0.7 * (0.09 + 4.0) + 0.3 * (0.25 + 2.25) - mean**2
    mu_f, log_var_f = fit_normal_grid(z, log_p, reverse=False)
    assert abs(float(mu_f) - mean) < 1e-6 and abs(float(log_var_f.exp()) / var - 1) < 1e-6
    mu_r, log_var_r = fit_normal_grid(z, log_p, reverse=True)
    # on the heavier component: its mean and (nearly) its variance; KL(q||p) ~ -log 0.7
    assert abs(float(mu_r) + 2.0) < 1e-3 and abs(float(log_var_r.exp()) / 0.09 - 1) < 1e-2
    assert float(kl_normal_grid(mu_r, log_var_r, z, log_p)) == pytest.approx(-math.log(0.7), abs=1e-3)
    # each fit is the better one under its own divergence
    assert kl_normal_grid(mu_r, log_var_r, z, log_p) < kl_normal_grid(mu_f, log_var_f, z, log_p)
    assert kl_grid_normal(z, log_p, mu_f, log_var_f) < kl_grid_normal(z, log_p, mu_r, log_var_r)
    # and no nearby Gaussian does better (a local check of the minimum)
    for d_mu, d_lv in [(1e-2, 0.0), (-1e-2, 0.0), (0.0, 1e-2), (0.0, -1e-2)]:
        assert kl_normal_grid(mu_r + d_mu, log_var_r + d_lv, z, log_p) > kl_normal_grid(mu_r, log_var_r, z, log_p)


def test_fit_keeps_float32() -> None:
    z = torch.linspace(-8, 8, 1601)
    mu, log_var = fit_normal_grid(z, _log_normal_1d(z, -0.5, 0.2), reverse=True)
    assert mu.dtype == torch.float32 and abs(float(mu) + 0.5) < 1e-4


# ------------------------------------------------------------------------------ bad inputs
G = random_model()
G1 = random_model(z_dim=1)
Z = torch.linspace(-5, 5, 101, dtype=F64)
LOG_P = _log_normal_1d(Z, 0.0, 1.0)
M0, LV0 = torch.tensor(0.0, dtype=F64), torch.tensor(0.0, dtype=F64)
BAD_GRIDS = [  # (z, log_p, error, name)
    (torch.linspace(-1, 1, 2, dtype=F64), torch.zeros(2, dtype=F64), ValueError, "z"),
    (torch.zeros(3, 3, dtype=F64), torch.zeros(3, 3, dtype=F64), ValueError, "z"),
    (torch.tensor([0.0, 1.0, 3.0], dtype=F64), torch.zeros(3, dtype=F64), ValueError, "z"),
    (torch.linspace(-1, 1, 5, dtype=F64), torch.zeros(4, dtype=F64), ValueError, "log_p"),
    (torch.linspace(-1, 1, 5, dtype=F64), torch.zeros(5), TypeError, "log_p"),
    (torch.linspace(-1, 1, 5, dtype=F64), torch.full((5,), float("nan"), dtype=F64), ValueError, "log_p"),
    ([0.0, 1.0, 2.0], torch.zeros(3, dtype=F64), TypeError, "z"),
]


def _quadrature(**bad):
    args = {"log_p_x_given_z": G.log_p_x_given_z, "x": G.b, "z_dim": Z_DIM} | bad
    return log_marginal_grid(**args)


BAD_INPUTS = [
    # log_marginal_grid
    reject("quadrature-exponential-grid",
           lambda: log_marginal_grid(G.log_p_x_given_z, G.b, Z_DIM, num_points=math.isqrt(MAX_GRID_NODES) + 1),
           ValueError, r"num_points.*z_dim"),
    *[reject(f"quadrature-{name}-{i}", lambda kwargs=kwargs: _quadrature(**kwargs), error, name)
      for i, (kwargs, error, name) in enumerate([
          ({"log_p_x_given_z": None}, TypeError, "log_p_x_given_z"),
          ({"log_p_x_given_z": lambda x, z: torch.zeros(3)}, ValueError, "log_p_x_given_z"),
          ({"x": [0.0] * X_DIM}, TypeError, "x"),
          ({"z_dim": 0}, ValueError, "z_dim"),
          ({"z_dim": 1.0}, TypeError, "z_dim"),
          ({"num_points": 1}, ValueError, "num_points"),
          ({"limit": 0.0}, ValueError, "limit"),
          ({"limit": float("inf")}, ValueError, "limit"),
      ])],
    # a density on a grid, given to the three grid-KL functions
    *[reject(f"{fn}-{name}-{i}", call, error, name)
      for i, (z, log_p, error, name) in enumerate(BAD_GRIDS)
      for fn, call in [
          ("kl_normal_grid", lambda z=z, log_p=log_p: kl_normal_grid(M0, LV0, z, log_p)),
          ("kl_grid_normal", lambda z=z, log_p=log_p: kl_grid_normal(z, log_p, M0, LV0)),
          ("fit_normal_grid", lambda z=z, log_p=log_p: fit_normal_grid(z, log_p, reverse=True)),
      ]],
    reject("kl_normal_grid-mu_q-dtype", lambda: kl_normal_grid(torch.tensor(0.0), LV0, Z, LOG_P), TypeError, "mu_q"),
    reject("kl_grid_normal-log_var_q-inf",
           lambda: kl_grid_normal(Z, LOG_P, M0, torch.tensor(float("inf"), dtype=F64)), ValueError, "log_var_q"),
    reject("kl_normal_grid-batch",
           lambda: kl_normal_grid(torch.zeros(2, dtype=F64), torch.zeros(3, dtype=F64), Z, LOG_P), ValueError,
           "batch shapes"),
    reject("fit_normal_grid-reverse", lambda: fit_normal_grid(Z, LOG_P, reverse=1), TypeError, "reverse"),
    # log_posterior_grid
    reject("posterior-num_points", lambda: log_posterior_grid(G1.log_p_x_given_z, torch.zeros(X_DIM, dtype=F64),
                                                              num_points=2), ValueError, "num_points"),
    reject("posterior-limit", lambda: log_posterior_grid(G1.log_p_x_given_z, torch.zeros(X_DIM, dtype=F64),
                                                         limit=-1.0), ValueError, "limit"),
    reject("posterior-not-callable", lambda: log_posterior_grid("not a function", torch.zeros(X_DIM, dtype=F64)),
           TypeError, "log_p_x_given_z"),
    reject("posterior-x-nan", lambda: log_posterior_grid(G1.log_p_x_given_z,
                                                         torch.tensor(float("nan"), dtype=F64).expand(X_DIM)),
           ValueError, "x"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
