"""Tests of :mod:`vae_edu.exact.marginal`: grid quadrature, importance weights, and the exact moments
of importance weights, against independent computations (the exact marginal, ``torch.distributions``,
one- and two-dimensional quadrature, Monte Carlo with exact standard errors)."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import BAD
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from vae_edu.estimators import importance_log_mean
from vae_edu.exact import LinearGaussian
from vae_edu.exact import (
    MAX_GRID_NODES,
    fit_normal_grid,
    kl_grid_normal,
    kl_normal_grid,
    log_importance_weights_gaussian,
    log_marginal_grid,
    log_posterior_grid,
    log_relative_variance,
    log_weight_moment,
    log_weight_moment_prior,
    num_samples_for_relative_error,
)

F32, F64 = torch.float32, torch.float64
X_DIM, Z_DIM = 5, 2


def _model(dtype=F64, x_dim: int = X_DIM, z_dim: int = Z_DIM, sigma2: float = 0.4, seed: int = 0) -> LinearGaussian:
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(x_dim, z_dim, generator=gen, dtype=F64)
    b = torch.randn(x_dim, generator=gen, dtype=F64)
    return LinearGaussian(W.to(dtype), b.to(dtype), sigma2)


def _x(model: LinearGaussian, batch_shape, gen) -> torch.Tensor:
    n = max(1, math.prod(batch_shape))
    return model.sample(n, generator=gen).reshape(*batch_shape, model.x_dim)


def _close(dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}


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


# ------------------------------------------------------------------------------ quadrature
@pytest.mark.parametrize("z_dim", [1, 2])
def test_grid_quadrature_is_exact_for_the_linear_model(z_dim, batch_shape, dtype, gen) -> None:
    model = _model(dtype, z_dim=z_dim, sigma2=1.0)
    x = _x(model, batch_shape, gen)
    got = log_marginal_grid(model.log_p_x_given_z, x, z_dim, num_points=301 if z_dim == 1 else 151)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, model.log_marginal(x), **_close(dtype))


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


def test_grid_quadrature_refuses_exponential_grids() -> None:
    model = _model(z_dim=Z_DIM)
    x = model.b
    with pytest.raises(ValueError, match=r"num_points.*z_dim"):
        log_marginal_grid(model.log_p_x_given_z, x, Z_DIM, num_points=math.isqrt(MAX_GRID_NODES) + 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"log_p_x_given_z": None}, TypeError, "log_p_x_given_z"),
        ({"log_p_x_given_z": lambda x, z: torch.zeros(3)}, ValueError, "log_p_x_given_z"),
        ({"x": [0.0] * X_DIM}, TypeError, "x"),
        ({"z_dim": 0}, ValueError, "z_dim"),
        ({"z_dim": 1.0}, TypeError, "z_dim"),
        ({"num_points": 1}, ValueError, "num_points"),
        ({"limit": 0.0}, ValueError, "limit"),
        ({"limit": float("inf")}, ValueError, "limit"),
    ],
)
def test_grid_quadrature_bad_inputs(kwargs, error, name) -> None:
    model = _model()
    args = {"log_p_x_given_z": model.log_p_x_given_z, "x": model.b, "z_dim": Z_DIM} | kwargs
    with pytest.raises(error, match=rf"\b{name}\b"):
        log_marginal_grid(**args)


# ---------------------------------------------------------------------- importance weights
def test_importance_weights_match_an_independent_computation(dtype) -> None:
    """Same noise, same z: the weights agree with ``torch.distributions``, for a batch of x and q."""
    model = _model(dtype)
    x = _x(model, (4,), torch.Generator().manual_seed(1))
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
    torch.testing.assert_close(log_w.double(), ref, **_close(dtype))


def test_importance_weights_broadcast_one_q_against_a_batch(gen) -> None:
    model = _model()
    x = _x(model, (2, 3), gen)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64), num_samples=5, generator=gen)
    assert log_w.shape == (5, 2, 3)


def test_importance_weights_are_constant_at_the_posterior(batch_shape, gen) -> None:
    model = _model()
    x = _x(model, batch_shape, gen)
    mu, cov = model.posterior(x)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu, cov, num_samples=1000, generator=gen)
    assert (log_w - model.log_marginal(x)).abs().max() < 1e-10


def test_importance_sampling_is_unbiased(gen) -> None:
    """$\\hat p(x)$ from a wide, shifted proposal: within 4 standard errors of the exact $p(x)$."""
    model = _model()
    x = _x(model, (3,), gen)
    mu_q, cov_q = _proposal(model, x, shift=0.5, scale=3.0)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=50_000, generator=gen)
    log_p_hat, se = importance_log_mean(log_w)
    assert bool((se < 0.02).all())
    assert bool(((log_p_hat - model.log_marginal(x)).abs() <= 4 * se).all())


@pytest.mark.parametrize(("arg", "kind", "make", "error"), [(a, *case) for a in ("x", "mu_q") for case in BAD])
def test_importance_weights_bad_inputs(arg, kind, make, error) -> None:
    model = _model(F32, x_dim=3, z_dim=3)  # event dimension 3 for both x and mu_q, as bad_inputs expects
    args = {"x": torch.zeros(2, 3), "mu_q": torch.zeros(2, 3), "cov_q": torch.eye(3)}
    args[arg] = make()
    with pytest.raises(error, match=rf"\b{arg}\b"):
        log_importance_weights_gaussian(model.log_p_x_given_z, num_samples=4, **args)


@pytest.mark.parametrize(
    ("cov_q", "num_samples", "name"),
    [
        (torch.eye(3)[:2], 4, "cov_q"),  # not square
        (torch.diag(torch.tensor([1.0, -1.0, 1.0])), 4, "cov_q"),  # not positive definite
        (torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), 4, "cov_q"),  # not symmetric
        (torch.eye(3, dtype=F64), 4, "cov_q"),  # dtype
        (torch.eye(3), 0, "num_samples"),
        (torch.eye(3), 2.0, "num_samples"),
    ],
)
def test_importance_weights_bad_proposal(cov_q, num_samples, name) -> None:
    model = _model(F32, x_dim=3, z_dim=3)
    with pytest.raises((ValueError, TypeError), match=rf"\b{name}\b"):
        log_importance_weights_gaussian(model.log_p_x_given_z, torch.zeros(2, 3), torch.zeros(2, 3), cov_q, num_samples=num_samples)


# ----------------------------------------------------------------- exact moments of the weights
def test_first_moment_is_the_marginal(batch_shape, dtype, gen) -> None:
    model = _model(dtype)
    x = _x(model, batch_shape, gen)
    got = log_weight_moment_prior(model, x, order=1)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, model.log_marginal(x), **_close(dtype))
    mu_q, cov_q = _proposal(model, x, shift=0.7, scale=1.8)
    torch.testing.assert_close(log_weight_moment(model, x, mu_q, cov_q, order=1), model.log_marginal(x), **_close(dtype))


@pytest.mark.parametrize("order", [2, 3, 4])
def test_prior_moments_two_derivations_agree(order, batch_shape, dtype, gen) -> None:
    """The sharper-noise marginal ($\\sigma^2/n$) and the Gaussian integral with $q = p(z)$."""
    model = _model(dtype)
    x = _x(model, batch_shape, gen)
    prior_mu, prior_cov = torch.zeros(Z_DIM, dtype=dtype), torch.eye(Z_DIM, dtype=dtype)
    got = log_weight_moment_prior(model, x, order)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, log_weight_moment(model, x, prior_mu, prior_cov, order), **_close(dtype))


def test_prior_second_moment_by_sampling(gen) -> None:
    model = _model()
    x = _x(model, (3,), gen)
    log_p_x = model.log_marginal(x)
    z = torch.randn(400_000, 1, Z_DIM, generator=gen, dtype=F64)  # z ~ p(z), (K, 1, d)
    log_w = model.log_p_x_given_z(x, z)  # naive Monte Carlo weights p(x|z), (K, 3)
    _assert_moment_by_sampling(log_w, log_p_x, log_weight_moment_prior(model, x, 2), log_weight_moment_prior(model, x, 4))


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.5), (0.1, 1.0), (-0.1, 3.0), (0.0, 0.9), (0.3, 2.0)])
def test_gaussian_proposal_second_moment_by_sampling(shift, scale, gen) -> None:
    model = _model()
    x = _x(model, (2,), gen)
    mu_q, cov_q = _proposal(model, x, shift, scale)
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=200_000, generator=gen)
    m2, m4 = (log_weight_moment(model, x, mu_q, cov_q, n) for n in (2, 4))
    _assert_moment_by_sampling(log_w, model.log_marginal(x), m2, m4)


@pytest.mark.parametrize("order", [2, 3])
def test_gaussian_proposal_moment_by_quadrature(order, gen) -> None:
    """$p(x)^n\\int p(z|x)^n q^{1-n}dz$ on a 2-D grid, with a correlated posterior and a rotated $q$."""
    model = _model()
    x = _x(model, (), gen)
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
    model = _model(z_dim=3, x_dim=6)
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
    model = _model()
    x = _x(model, (3,), gen)
    mu, cov = model.posterior(x)
    scale = torch.tensor([0.3, 1.0, 2.0], dtype=F64)[:, None, None]  # one proposal width per x
    got = log_weight_moment(model, x, mu, scale * cov)
    assert got.shape == (3,) and bool(torch.isposinf(got[0])) and bool(torch.isfinite(got[1:]).all())


@pytest.mark.parametrize(("arg", "kind", "make", "error"), [(a, *case) for a in ("x", "mu_q") for case in BAD])
def test_moments_bad_inputs(arg, kind, make, error) -> None:
    model = _model(F32, x_dim=3, z_dim=3)
    args = {"x": torch.zeros(2, 3), "mu_q": torch.zeros(2, 3), "cov_q": torch.eye(3)}
    args[arg] = make()
    with pytest.raises(error, match=rf"\b{arg}\b"):
        log_weight_moment(model, **args)
    if arg == "x" and kind != "batch":  # log_weight_moment_prior has no q to mismatch
        with pytest.raises(error, match=r"\bx\b"):
            log_weight_moment_prior(model, args["x"])


@pytest.mark.parametrize(
    "order, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (2.0, TypeError), (True, TypeError), (None, TypeError)]
)
def test_moments_bad_order(order, error) -> None:
    model = _model()
    with pytest.raises(error, match="order"):
        log_weight_moment_prior(model, model.b, order)
    with pytest.raises(error, match="order"):
        log_weight_moment(model, model.b, torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64), order)


def test_moments_need_a_linear_gaussian_model() -> None:
    with pytest.raises(TypeError, match="model"):
        log_weight_moment_prior("not a model", torch.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model"):
        log_weight_moment(None, torch.zeros(3), torch.zeros(2), torch.eye(2))  # type: ignore[arg-type]


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
    model = _model()
    x = _x(model, (), gen)
    mu_q, cov_q = _proposal(model, x, 0.3, 2.0)
    log_rho = log_relative_variance(log_weight_moment(model, x, mu_q, cov_q), model.log_marginal(x))
    log_w = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu_q, cov_q, num_samples=400_000, generator=gen)
    _, se = importance_log_mean(log_w)
    assert (se**2 * 400_000).item() == pytest.approx(log_rho.exp().item(), rel=0.05)


@pytest.mark.parametrize(
    ("log_m2", "log_p_x", "error", "name"),
    [
        (torch.tensor([-7.0]), torch.tensor([-3.0]), ValueError, "log_second_moment"),  # E[w^2] < E[w]^2
        (torch.tensor([float("nan")]), torch.tensor([-3.0]), ValueError, "log_second_moment"),
        (torch.tensor([-math.inf]), torch.tensor([-3.0]), ValueError, "log_second_moment"),
        ([0.0], torch.tensor([-3.0]), TypeError, "log_second_moment"),
        (torch.tensor([1.0]), torch.tensor([math.inf]), ValueError, "log_p_x"),
        (torch.tensor([1.0]), torch.tensor([-3.0], dtype=F64), TypeError, "log_p_x"),
        (torch.tensor([1.0, 2.0]), torch.tensor([-3.0, -3.0, -3.0]), ValueError, "log_p_x"),
    ],
)
def test_log_relative_variance_bad_inputs(log_m2, log_p_x, error, name) -> None:
    with pytest.raises(error, match=rf"\b{name}\b"):
        log_relative_variance(log_m2, log_p_x)


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


@pytest.mark.parametrize(
    "rel_error, error",
    [(0.0, ValueError), (-0.1, ValueError), (float("inf"), ValueError), (float("nan"), ValueError), ("0.1", TypeError), (True, TypeError)],
)
def test_num_samples_bad_rel_error(rel_error, error) -> None:
    with pytest.raises(error, match="rel_error"):
        num_samples_for_relative_error(torch.tensor([1.0]), rel_error)


def test_num_samples_bad_log_relative_variance() -> None:
    with pytest.raises(ValueError, match="log_relative_variance"):
        num_samples_for_relative_error(torch.tensor([float("nan")]), 0.1)
    with pytest.raises(TypeError, match="log_relative_variance"):
        num_samples_for_relative_error([1.0], 0.1)  # type: ignore[arg-type]


# ------------------------------------------------ the posterior of a 1-D latent, and its best Gaussians
def _log_normal_1d(z: torch.Tensor, mu: float, var: float) -> torch.Tensor:
    return Normal(torch.tensor(mu, dtype=z.dtype), torch.tensor(var, dtype=z.dtype).sqrt()).log_prob(z)


def _mixture_1d(z: torch.Tensor) -> torch.Tensor:
    """$0.7\\,\\mathcal N(-2, 0.09) + 0.3\\,\\mathcal N(1.5, 0.25)$: two well-separated modes."""
    return torch.logaddexp(math.log(0.7) + _log_normal_1d(z, -2.0, 0.09), math.log(0.3) + _log_normal_1d(z, 1.5, 0.25))


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_posterior_grid_is_the_exact_posterior_of_the_linear_model(batch_shape, gen) -> None:
    model = _model(z_dim=1)
    x = _x(model, batch_shape, gen)
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


@pytest.mark.parametrize(
    ("z", "log_p", "error", "name"),
    [
        (torch.linspace(-1, 1, 2, dtype=F64), torch.zeros(2, dtype=F64), ValueError, "z"),
        (torch.zeros(3, 3, dtype=F64), torch.zeros(3, 3, dtype=F64), ValueError, "z"),
        (torch.tensor([0.0, 1.0, 3.0], dtype=F64), torch.zeros(3, dtype=F64), ValueError, "z"),
        (torch.linspace(-1, 1, 5, dtype=F64), torch.zeros(4, dtype=F64), ValueError, "log_p"),
        (torch.linspace(-1, 1, 5, dtype=F64), torch.zeros(5), TypeError, "log_p"),
        (torch.linspace(-1, 1, 5, dtype=F64), torch.full((5,), float("nan"), dtype=F64), ValueError, "log_p"),
        ([0.0, 1.0, 2.0], torch.zeros(3, dtype=F64), TypeError, "z"),
    ],
)
def test_grid_density_bad_inputs(z, log_p, error, name) -> None:
    m, lv = torch.tensor(0.0, dtype=F64), torch.tensor(0.0, dtype=F64)
    for call in (
        lambda: kl_normal_grid(m, lv, z, log_p),
        lambda: kl_grid_normal(z, log_p, m, lv),
        lambda: fit_normal_grid(z, log_p, reverse=True),
    ):
        with pytest.raises(error, match=rf"\b{name}\b"):
            call()


def test_grid_kl_bad_gaussian_and_flag() -> None:
    z = torch.linspace(-5, 5, 101, dtype=F64)
    log_p = _log_normal_1d(z, 0.0, 1.0)
    with pytest.raises(TypeError, match=r"\bmu_q\b"):
        kl_normal_grid(torch.tensor(0.0), torch.tensor(0.0, dtype=F64), z, log_p)
    with pytest.raises(ValueError, match=r"\blog_var_q\b"):
        kl_grid_normal(z, log_p, torch.tensor(0.0, dtype=F64), torch.tensor(float("inf"), dtype=F64))
    with pytest.raises(ValueError, match="batch shapes"):
        kl_normal_grid(torch.zeros(2, dtype=F64), torch.zeros(3, dtype=F64), z, log_p)
    with pytest.raises(TypeError, match=r"\breverse\b"):
        fit_normal_grid(z, log_p, reverse=1)


def test_posterior_grid_bad_inputs() -> None:
    model = _model(z_dim=1)
    x = torch.zeros(X_DIM, dtype=F64)
    with pytest.raises(ValueError, match=r"\bnum_points\b"):
        log_posterior_grid(model.log_p_x_given_z, x, num_points=2)
    with pytest.raises(ValueError, match=r"\blimit\b"):
        log_posterior_grid(model.log_p_x_given_z, x, limit=-1.0)
    with pytest.raises(TypeError, match="log_p_x_given_z"):
        log_posterior_grid("not a function", x)
    with pytest.raises(ValueError, match=r"\bx\b"):
        log_posterior_grid(model.log_p_x_given_z, torch.tensor(float("nan"), dtype=F64).expand(X_DIM))


def test_log_importance_weights_is_the_deprecated_name_of_the_gaussian_one() -> None:
    from vae_edu.exact import log_importance_weights

    model = _model()
    x = torch.randn(4, X_DIM, dtype=F64, generator=torch.Generator().manual_seed(1))
    mu, cov = torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64)
    with pytest.warns(DeprecationWarning, match="call log_importance_weights_gaussian"):
        old = log_importance_weights(model.log_p_x_given_z, x, mu, cov, num_samples=3,
                                     generator=torch.Generator().manual_seed(2))
    new = log_importance_weights_gaussian(model.log_p_x_given_z, x, mu, cov, num_samples=3,
                                          generator=torch.Generator().manual_seed(2))
    assert torch.equal(old, new)
