"""Tests of :mod:`vae_edu.distributions`: every log-density and entropy against
``torch.distributions`` and a seeded Monte Carlo estimate; the reparameterization trick."""

from __future__ import annotations

import math
from typing import Callable

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch.distributions import Independent, Normal

from vae_edu.distributions import (
    log_normal_full,
    LOG_2PI,
    cross_entropy_normal_diag,
    entropy_normal_diag,
    log_normal_diag,
    log_standard_normal,
    reparameterize,
)
from vae_edu.estimators import mc_mean

D = 3  # event dimension


def _diag_normal(mu: torch.Tensor, log_var: torch.Tensor) -> Independent:
    """The reference distribution: ``torch.distributions`` with ``D`` as the event dimension."""
    return Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)


def _params(shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    mu = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    log_var = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).to(dtype)  # in [-1, 1]
    return mu, log_var


def test_log_2pi() -> None:
    assert LOG_2PI == pytest.approx(math.log(2 * math.pi), rel=1e-15)


# ------------------------------------------------------------------- log_normal_diag
def test_log_normal_diag_matches_torch(batch_shape, dtype, gen, tol) -> None:
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype) * 2
    got = log_normal_diag(x, mu, log_var)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, _diag_normal(mu, log_var).log_prob(x), **tol)
    # and against the per-dimension torch Normal, summed by hand
    torch.testing.assert_close(got, Normal(mu, torch.exp(0.5 * log_var)).log_prob(x).sum(-1), **tol)


def test_log_normal_diag_broadcasts_batch_dims(dtype, gen, tol) -> None:
    x = torch.randn(5, 1, D, generator=gen).to(dtype)  # (5, 1, D)
    mu, log_var = _params((4, D), dtype, gen)  # (4, D)
    lv_single = log_var[0]  # (D,)
    got = log_normal_diag(x, mu, lv_single)  # (5, 4)
    assert got.shape == (5, 4)
    expected = log_normal_diag(x.expand(5, 4, D), mu.expand(5, 4, D), lv_single.expand(5, 4, D))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(got, _diag_normal(mu, lv_single.expand(4, D)).log_prob(x), **tol)


def test_log_normal_diag_integrates_to_one(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    """Importance sampling: $\\mathbb E_{r}[q(z)/r(z)] = \\int q = 1$ for a wider proposal $r$."""
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    log_var_r = log_var + math.log(1.5)  # proposal r: same mean, variance x 1.5
    num = 400_000 // max(1, math.prod(batch_shape))
    eps = torch.randn((num, *shape), generator=gen, dtype=dtype)
    z = reparameterize(mu, log_var_r, eps)  # (N, *batch, D)
    weights = torch.exp(log_normal_diag(z, mu, log_var) - log_normal_diag(z, mu, log_var_r))  # (N, *batch)
    estimate, stderr = mc_mean(weights)
    assert estimate.dtype == dtype
    assert_mc_agrees(torch.ones(batch_shape, dtype=dtype), estimate, stderr)


def test_log_normal_diag_at_the_mean() -> None:
    log_var = torch.tensor([0.0, math.log(4.0)], dtype=torch.float64)
    got = log_normal_diag(torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), log_var)
    assert got.item() == pytest.approx(-LOG_2PI - 0.5 * math.log(4.0), rel=1e-15)


# --------------------------------------------------------------- log_standard_normal
def test_log_standard_normal_matches_torch(batch_shape, dtype, gen, tol) -> None:
    x = (torch.randn((*batch_shape, D), generator=gen) * 3).to(dtype)
    got = log_standard_normal(x)
    assert got.shape == batch_shape and got.dtype == dtype
    zeros = torch.zeros_like(x)
    torch.testing.assert_close(got, _diag_normal(zeros, zeros).log_prob(x), **tol)
    torch.testing.assert_close(got, log_normal_diag(x, zeros, zeros), **tol)


# ------------------------------------------------------------------------- entropies
def test_entropy_normal_diag_matches_torch(batch_shape, dtype, gen, tol) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, gen)
    got = entropy_normal_diag(log_var)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, _diag_normal(mu, log_var).entropy(), **tol)


def test_entropy_normal_diag_vs_monte_carlo(dtype, gen, assert_mc_agrees) -> None:
    """$\\mathrm H[q] = -\\mathbb E_q[\\log q(z)]$ with $10^6$ samples."""
    mu = torch.tensor([0.5, -2.0, 10.0], dtype=dtype)
    log_var = torch.tensor([0.5, 1.5, 1.0], dtype=dtype)  # entropy ~ 5.3, far from 0
    eps = torch.randn((1_000_000, D), generator=gen, dtype=dtype)
    z = reparameterize(mu, log_var, eps)
    estimate, stderr = mc_mean(-log_normal_diag(z, mu, log_var))
    assert_mc_agrees(entropy_normal_diag(log_var), estimate, stderr)


def test_cross_entropy_matches_torch(batch_shape, dtype, gen, tol) -> None:
    """Cross-entropy $= \\mathrm H[q] + \\mathrm{KL}(q\\|p)$, both taken from ``torch.distributions``."""
    shape = (*batch_shape, D)
    mu_q, log_var_q = _params(shape, dtype, gen)
    mu_p, log_var_p = _params(shape, dtype, gen)
    q, p = _diag_normal(mu_q, log_var_q), _diag_normal(mu_p, log_var_p)
    got = cross_entropy_normal_diag(mu_q, log_var_q, mu_p, log_var_p)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, q.entropy() + torch.distributions.kl_divergence(q, p), **tol)


def test_cross_entropy_vs_monte_carlo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    """$-\\mathbb E_q[\\log p(z)]$ estimated from samples of $q$."""
    shape = (*batch_shape, D)
    mu_q, log_var_q = _params(shape, dtype, gen)
    mu_p = mu_q + 1.0
    log_var_p = torch.full(shape, math.log(4.0), dtype=dtype)
    num = 600_000 // max(1, math.prod(batch_shape))
    z = reparameterize(mu_q, log_var_q, torch.randn((num, *shape), generator=gen, dtype=dtype))
    estimate, stderr = mc_mean(-log_normal_diag(z, mu_p, log_var_p))
    assert_mc_agrees(cross_entropy_normal_diag(mu_q, log_var_q, mu_p, log_var_p), estimate, stderr)


def test_kl_is_cross_entropy_minus_entropy(batch_shape, dtype, gen, tol) -> None:
    from vae_edu.kl import kl_normal_normal, kl_normal_std_normal

    shape = (*batch_shape, D)
    mu_q, log_var_q = _params(shape, dtype, gen)
    mu_p, log_var_p = _params(shape, dtype, gen)
    kl = cross_entropy_normal_diag(mu_q, log_var_q, mu_p, log_var_p) - entropy_normal_diag(log_var_q)
    torch.testing.assert_close(kl, kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), **tol)
    # with p = N(0, I): step 3 of the book's derivation, -E_q[log p] = (log 2 pi + sigma^2 + mu^2) / 2
    zeros = torch.zeros(shape, dtype=dtype)
    ce_std = cross_entropy_normal_diag(mu_q, log_var_q, zeros, zeros)
    torch.testing.assert_close(ce_std, 0.5 * (LOG_2PI + log_var_q.exp() + mu_q**2).sum(-1), **tol)
    torch.testing.assert_close(ce_std - entropy_normal_diag(log_var_q), kl_normal_std_normal(mu_q, log_var_q), **tol)


def test_entropies_broadcast(dtype, gen) -> None:
    mu_q, log_var_q = _params((4, D), dtype, gen)
    mu_p, log_var_p = _params((D,), dtype, gen)
    got = cross_entropy_normal_diag(mu_q, log_var_q, mu_p, log_var_p)
    assert got.shape == (4,)
    expected = cross_entropy_normal_diag(mu_q, log_var_q, mu_p.expand(4, D), log_var_p.expand(4, D))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


# ---------------------------------------------------------------------- extreme values
LOG_VARS = [-50.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 50.0]


def _big(dtype: torch.dtype) -> float:
    return 1e4 if dtype == torch.float64 else 1e3


def test_log_densities_finite_at_extremes(dtype) -> None:
    big = _big(dtype)
    log_var = torch.tensor(LOG_VARS, dtype=dtype)[:, None].expand(-1, D)  # (7, D)
    for mu_value in (0.0, big, -big):
        mu = torch.full((len(LOG_VARS), D), mu_value, dtype=dtype)
        for x_value in (0.0, big, -big):
            x = torch.full_like(mu, x_value)
            got = log_normal_diag(x, mu, log_var)
            assert got.dtype == dtype and bool(torch.isfinite(got).all()), (mu_value, x_value, got)
            # float64 reference, computed independently
            ref = Normal(mu.double(), torch.exp(0.5 * log_var.double())).log_prob(x.double()).sum(-1)
            torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-3)
        assert bool(torch.isfinite(log_standard_normal(mu)).all())
    ent = entropy_normal_diag(log_var)
    assert bool(torch.isfinite(ent).all())
    torch.testing.assert_close(ent[0], torch.tensor(0.5 * D * (LOG_2PI + 1 - 50), dtype=dtype))


@pytest.mark.parametrize("log_var_q", LOG_VARS)
@pytest.mark.parametrize("log_var_p", LOG_VARS)
def test_cross_entropy_finite_at_extremes(dtype, log_var_q: float, log_var_p: float) -> None:
    big = _big(dtype)
    ref_args = [torch.tensor([v] * D, dtype=torch.float64) for v in (big, log_var_q, -big, log_var_p)]
    ref = 0.5 * (LOG_2PI + ref_args[3] + (ref_args[1].exp() + (2 * big) ** 2) / ref_args[3].exp()).sum()
    got = cross_entropy_normal_diag(*(a.to(dtype) for a in ref_args))
    assert got.dtype == dtype
    if ref > torch.finfo(dtype).max:
        # only float32, at log_var_q - log_var_p = 100: the true value (~1e43) is not representable
        assert dtype == torch.float32 and log_var_q - log_var_p == 100
        assert got == float("inf")
    else:
        assert bool(torch.isfinite(got))
        torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=0)


# --------------------------------------------------------------------- reparameterize
def test_reparameterize_with_eps_is_the_formula(batch_shape, dtype, gen) -> None:
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    eps = torch.randn(shape, generator=gen, dtype=dtype)
    z = reparameterize(mu, log_var, eps)
    assert z.shape == shape and z.dtype == dtype
    torch.testing.assert_close(z, mu + torch.exp(0.5 * log_var) * eps, rtol=0, atol=0)
    # K samples per example: eps of shape (K, *mu.shape)
    eps_k = torch.randn((7, *shape), generator=gen, dtype=dtype)
    z_k = reparameterize(mu, log_var, eps_k)
    assert z_k.shape == (7, *shape)
    for k in range(7):
        torch.testing.assert_close(z_k[k], reparameterize(mu, log_var, eps_k[k]), rtol=0, atol=0)


def test_reparameterize_without_eps(dtype) -> None:
    mu, log_var = torch.zeros(2, D, dtype=dtype), torch.zeros(2, D, dtype=dtype)
    z1 = reparameterize(mu, log_var, generator=torch.Generator().manual_seed(3))
    z2 = reparameterize(mu, log_var, generator=torch.Generator().manual_seed(3))
    assert z1.shape == (2, D) and z1.dtype == dtype
    torch.testing.assert_close(z1, z2, rtol=0, atol=0)
    # the generator's draws are exactly standard-normal eps
    torch.testing.assert_close(z1, torch.randn((2, D), generator=torch.Generator().manual_seed(3), dtype=dtype))
    torch.manual_seed(0)
    a = reparameterize(mu, log_var)
    torch.manual_seed(0)
    assert torch.equal(a, reparameterize(mu, log_var))


def test_reparameterize_draws_num_samples(batch_shape, dtype, gen) -> None:
    """num_samples=K draws eps of shape (K, *mu.shape) from the generator, as the caller would."""
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    z = reparameterize(mu, log_var, num_samples=5, generator=torch.Generator().manual_seed(4))
    assert z.shape == (5, *shape) and z.dtype == dtype
    eps = torch.randn((5, *shape), generator=torch.Generator().manual_seed(4), dtype=dtype)
    torch.testing.assert_close(z, reparameterize(mu, log_var, eps), rtol=0, atol=0)
    one = reparameterize(mu, log_var, num_samples=1, generator=torch.Generator().manual_seed(4))
    assert one.shape == (1, *shape)


def test_reparameterize_moments(batch_shape, dtype, gen) -> None:
    """Sample mean and variance of $z$ within 4 standard errors of $\\mu$ and $\\sigma^2$."""
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    eps = torch.randn((100_000, *shape), generator=gen, dtype=dtype)
    z = reparameterize(mu, log_var, eps)  # (K, *batch, D)
    mean, se_mean = mc_mean(z)
    assert bool(((mean - mu).abs() <= 4 * se_mean).all())
    var, se_var = mc_mean((z - mu) ** 2)
    assert bool(((var - log_var.exp()).abs() <= 4 * se_var).all())
    # and the standard errors are what theory says: sigma / sqrt(K), sigma^2 sqrt(2 / K)
    torch.testing.assert_close(se_mean, torch.exp(0.5 * log_var) / math.sqrt(100_000), rtol=0.02, atol=0)
    torch.testing.assert_close(se_var, log_var.exp() * math.sqrt(2 / 100_000), rtol=0.05, atol=0)


def test_reparameterize_gradients() -> None:
    mu = torch.randn(2, D, dtype=torch.float64, requires_grad=True)
    log_var = torch.randn(2, D, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(5, 2, D, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda m, lv: reparameterize(m, lv, eps), (mu, log_var))
    # the values: dz/dmu = 1, dz/dlog_var = eps * std / 2
    g_mu, g_lv = torch.autograd.grad(reparameterize(mu, log_var, eps).sum(), (mu, log_var))
    torch.testing.assert_close(g_mu, torch.full_like(mu, 5.0))
    torch.testing.assert_close(g_lv, (0.5 * torch.exp(0.5 * log_var) * eps).sum(0).detach())


def test_log_densities_gradcheck() -> None:
    x = torch.randn(4, D, dtype=torch.float64, requires_grad=True)
    mu = torch.randn(4, D, dtype=torch.float64, requires_grad=True)
    log_var = torch.randn(D, dtype=torch.float64, requires_grad=True)
    mu_p = torch.randn(D, dtype=torch.float64, requires_grad=True)
    log_var_p = torch.randn(4, D, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(log_normal_diag, (x, mu, log_var))
    assert torch.autograd.gradcheck(log_standard_normal, (x,))
    assert torch.autograd.gradcheck(entropy_normal_diag, (log_var,))
    assert torch.autograd.gradcheck(cross_entropy_normal_diag, (mu, log_var, mu_p, log_var_p))


# ------------------------------------------------------------------ full-covariance Gaussian
def _spd(batch_shape, dim: int, dtype, gen) -> torch.Tensor:
    factor = torch.randn((*batch_shape, dim, dim), generator=gen, dtype=torch.float64)
    return (factor @ factor.transpose(-1, -2) + 0.5 * torch.eye(dim, dtype=torch.float64)).to(dtype)


def test_log_normal_full_matches_torch(batch_shape, dtype, gen, tol) -> None:
    x = torch.randn((*batch_shape, D), generator=gen, dtype=torch.float64).to(dtype)
    mu = torch.randn((*batch_shape, D), generator=gen, dtype=torch.float64).to(dtype)
    cov = _spd(batch_shape, D, dtype, gen)
    got = log_normal_full(x, mu, cov)
    assert got.shape == batch_shape and got.dtype == dtype
    ref = torch.distributions.MultivariateNormal(mu.double(), cov.double()).log_prob(x.double())
    torch.testing.assert_close(got.double(), ref, **tol)


def test_log_normal_full_reduces_to_diagonal(dtype, gen, tol) -> None:
    x, mu = torch.randn(2, 5, D, generator=gen, dtype=torch.float64).to(dtype)
    log_var = torch.randn(5, D, generator=gen, dtype=torch.float64).to(dtype)
    got = log_normal_full(x, mu, torch.diag_embed(log_var.exp()))
    torch.testing.assert_close(got, log_normal_diag(x, mu, log_var), **tol)


def test_log_normal_full_broadcasts_samples_against_one_covariance(gen) -> None:
    cov = _spd((), D, torch.float64, gen)  # (D, D)
    mu = torch.randn(4, D, generator=gen, dtype=torch.float64)  # (B, D)
    x = torch.randn(7, 4, D, generator=gen, dtype=torch.float64)  # (K, B, D)
    got = log_normal_full(x, mu, cov)
    assert got.shape == (7, 4)
    ref = torch.distributions.MultivariateNormal(mu, cov).log_prob(x)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ log_bernoulli, log_categorical
from torch.distributions import Bernoulli, Categorical  # noqa: E402

from vae_edu.distributions import log_bernoulli, log_categorical
from vae_edu.distributions.categorical import _log_categorical  # noqa: E402

L = 5  # levels of the categorical tests


def _levels(shape, gen, dtype, num_levels: int = L) -> torch.Tensor:
    return torch.randint(0, num_levels, shape, generator=gen).to(dtype)


def test_log_bernoulli_matches_torch(batch_shape, dtype, gen, tol) -> None:
    shape = (*batch_shape, D)
    logits = (3 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    x = _levels(shape, gen, dtype, 2)
    got = log_bernoulli(x, logits)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, Bernoulli(logits=logits).log_prob(x).sum(-1), **tol)


def test_log_bernoulli_broadcasts_and_is_exact_at_extremes(dtype) -> None:
    x = torch.tensor([[1.0, 0.0, 1.0]], dtype=dtype)  # (1, D)
    logits = torch.tensor([[[-100.0, 100.0, 0.0]], [[100.0, -100.0, 0.0]]], dtype=dtype)  # (2, 1, D)
    got = log_bernoulli(x, logits)
    assert got.shape == (2, 1)
    # log sigmoid(-100) = -100 - log(1 + e^-100) = -100 to double precision; log sigmoid(0) = -log 2
    torch.testing.assert_close(got[:, 0], torch.tensor([-200.0 - math.log(2), -math.log(2)], dtype=dtype))


def test_log_categorical_matches_torch(batch_shape, dtype, gen, tol) -> None:
    logits = (3 * torch.randn((*batch_shape, D, L), generator=gen, dtype=torch.float64)).to(dtype)
    x = _levels((*batch_shape, D), gen, dtype)
    got = log_categorical(x, logits)
    assert got.shape == batch_shape and got.dtype == dtype
    ref = Categorical(logits=logits).log_prob(x.long()).sum(-1)
    torch.testing.assert_close(got, ref, **tol)
    # the same through the in-place path a decoder uses under no_grad
    with torch.no_grad():
        torch.testing.assert_close(_log_categorical(x, logits.clone(), overwrite=True), ref, **tol)


def test_log_categorical_broadcasts_samples_against_data(dtype, gen, tol) -> None:
    """``x`` of shape ``(B, D)`` against logits ``(K, B, D, L)``: shape ``(K, B)``, as in a decoder."""
    x = _levels((4, D), gen, dtype)
    logits = torch.randn((7, 4, D, L), generator=gen, dtype=torch.float64).to(dtype)
    got = log_categorical(x, logits)
    assert got.shape == (7, 4)
    torch.testing.assert_close(got, Categorical(logits=logits).log_prob(x.long().expand(7, 4, D)).sum(-1), **tol)


def test_log_categorical_sums_to_one_over_all_outcomes(dtype) -> None:
    """With D = 2 pixels of L levels, the L^2 probabilities sum to 1."""
    logits = torch.randn(2, L, dtype=torch.float64).to(dtype)
    grid = torch.cartesian_prod(torch.arange(L), torch.arange(L)).to(dtype)  # (L^2, 2)
    total = torch.logsumexp(log_categorical(grid, logits), dim=0)
    assert abs(total.item()) < (1e-5 if dtype == torch.float32 else 1e-12)


def test_log_categorical_pixels_far_apart_fall_back_to_exact(dtype, tol) -> None:
    """One shift per example underflows when one pixel's logits are ~1000 nats below another's;
    the exact per-pixel log-sum-exp takes over (and the in-place path says so)."""
    logits = torch.zeros(2, D, L, dtype=dtype)
    logits[:, 0] = 1000.0
    logits[:, 1, 2] = -1000.0
    x = torch.tensor([[0.0, 2.0, 4.0], [1.0, 0.0, 3.0]], dtype=dtype)
    got = log_categorical(x, logits)
    ref = Categorical(logits=logits.double()).log_prob(x.long()).sum(-1)
    torch.testing.assert_close(got.double(), ref, **tol)
    assert bool(torch.isfinite(got).all())
    with torch.no_grad(), pytest.raises(FloatingPointError):
        _log_categorical(x, logits.clone(), overwrite=True)


def test_log_categorical_and_bernoulli_gradcheck(gen) -> None:
    logits = torch.randn(3, D, L, generator=gen, dtype=F64, requires_grad=True)
    x = _levels((3, D), gen, F64)
    assert torch.autograd.gradcheck(lambda a: log_categorical(x, a), (logits,))
    # d/da log softmax(a)_x = onehot(x) - softmax(a)
    (grad,) = torch.autograd.grad(log_categorical(x, logits).sum(), logits)
    onehot = torch.nn.functional.one_hot(x.long(), L).double()
    torch.testing.assert_close(grad, onehot - torch.softmax(logits, -1).detach())
    logits_b = torch.randn(3, D, generator=gen, dtype=F64, requires_grad=True)
    xb = _levels((3, D), gen, F64, 2)
    assert torch.autograd.gradcheck(lambda a: log_bernoulli(xb, a), (logits_b,))


# ------------------------------------------------------------------------------ bad inputs
F32, F64 = torch.float32, torch.float64


def _good(shape=(2, D), dtype=F32) -> torch.Tensor:
    return torch.zeros(shape, dtype=dtype)


def _bad_values() -> list[tuple[object, type]]:
    return [
        (torch.tensor([[0.0, float("nan"), 0.0]]), ValueError),
        (torch.tensor([[0.0, float("inf"), 0.0]]), ValueError),
        ([[0.0, 0.0, 0.0]], TypeError),
        (torch.zeros(2, D, dtype=torch.int64), TypeError),
        (torch.zeros(2, 4), ValueError),  # event dimension 4 != 3
        (torch.zeros(5, D), ValueError),  # batch 5 does not broadcast against 2
        (torch.zeros(2, D, dtype=F64), TypeError),  # dtype differs from the float32 others
        (torch.tensor(0.0), ValueError),  # no event dimension
    ]


FUNCTIONS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "log_normal_diag": (log_normal_diag, ("x", "mu", "log_var")),
    "log_standard_normal": (log_standard_normal, ("x",)),
    "entropy_normal_diag": (entropy_normal_diag, ("log_var",)),
    "cross_entropy_normal_diag": (cross_entropy_normal_diag, ("mu_q", "log_var_q", "mu_p", "log_var_p")),
    "reparameterize": (reparameterize, ("mu", "log_var")),
}
CASES = [
    (fname, arg, i)
    for fname, (_, args) in FUNCTIONS.items()
    for arg in args
    for i in range(len(_bad_values()))
    # one-argument functions have nothing to mismatch with
    if not (len(args) == 1 and i in (4, 5, 6))
]


def _gaussian(fname: str, arg: str, case: int):
    func, args = FUNCTIONS[fname]
    return func(**({a: _good() for a in args} | {arg: _bad_values()[case][0]}))


def _error(fname: str, case: int) -> type:
    if fname == "reparameterize" and case == 5:
        return ValueError  # reparameterize needs equal shapes; (5, D) vs (2, D) is a ValueError
    return _bad_values()[case][1]


BAD_INPUTS = [
    # the Gaussian log-densities, entropies and reparameterize: every tensor argument
    *[reject(f"{fname}-{arg}-{case}", lambda fname=fname, arg=arg, case=case: _gaussian(fname, arg, case),
             _error(fname, case), arg)
      for fname, arg, case in CASES],
    reject("reparameterize-shapes", lambda: reparameterize(_good((2, D)), _good((D,))), ValueError, "log_var"),
    *[reject(f"reparameterize-num_samples-{n!r}", lambda n=n: reparameterize(torch.zeros(D), torch.zeros(D),
                                                                             num_samples=n), error, "num_samples")
      for n, error in [(0, ValueError), (2.0, TypeError), (True, TypeError)]],
    reject("reparameterize-eps-and-num_samples",
           lambda: reparameterize(torch.zeros(D), torch.zeros(D), torch.zeros(4, D), num_samples=4), ValueError,
           "eps or num_samples, not both"),
    *[reject(f"reparameterize-generator-{i}", lambda g=g: reparameterize(torch.zeros(D), torch.zeros(D), generator=g),
             TypeError, r"generator must be a torch\.Generator")
      for i, g in enumerate([42, "seed", torch.tensor(1)])],
    *[reject(f"reparameterize-eps-{i}", lambda eps=eps: reparameterize(_good(), _good(), eps), error, "eps")
      for i, (eps, error) in enumerate([
        (torch.zeros(2, 4), ValueError),
        (torch.zeros(3, D), ValueError),
        (torch.zeros(D), ValueError),
        (torch.zeros(5, 2, 4), ValueError),
        (torch.zeros(2, D, 1), ValueError),
        (torch.zeros(2, D, dtype=F64), TypeError),
        (torch.zeros(2, D, dtype=torch.int32), TypeError),
        (torch.full((2, D), float("nan")), ValueError),
        (torch.full((2, D), float("inf")), ValueError),
        (((0.0,) * D,) * 2, TypeError),
      ])],
    # log_normal_full
    *[reject(f"log_normal_full-cov-{i}", lambda cov=cov: log_normal_full(torch.zeros(3), torch.zeros(3), cov),
             (ValueError, TypeError), match)
      for i, (cov, match) in enumerate([
        (torch.eye(2), "cov"),  # wrong size for D = 3
        (torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "symmetric"),
        (torch.diag(torch.tensor([1.0, -1.0, 1.0])), "positive definite"),
        (torch.full((3, 3), float("nan")), "cov"),
        (torch.eye(3).double(), "cov"),  # dtype mismatch
      ])],
    reject("log_normal_full-mu", lambda: log_normal_full(torch.zeros(3), torch.zeros(2), torch.eye(3)), ValueError, "mu"),
    reject("log_normal_full-batch",
           lambda: log_normal_full(torch.zeros(4, 3), torch.zeros(4, 3), torch.eye(3).expand(2, 3, 3)), ValueError,
           "broadcast"),
    # log_categorical and log_bernoulli
    *[reject(f"log_categorical-{name}-{i}", lambda x=x, logits=logits: log_categorical(x, logits), error, name)
      for i, (x, logits, error, name) in enumerate([
        (torch.tensor([[0.0, 0.5, 1.0]]), torch.zeros(1, D, L), ValueError, "x"),  # not an integer level
        (torch.tensor([[0.0, -1.0, 1.0]]), torch.zeros(1, D, L), ValueError, "x"),  # below 0
        (torch.tensor([[0.0, float(L), 1.0]]), torch.zeros(1, D, L), ValueError, "x"),  # above L - 1
        (torch.tensor([[0.0, float("nan"), 1.0]]), torch.zeros(1, D, L), ValueError, "x"),
        (torch.zeros(1, D, dtype=torch.int64), torch.zeros(1, D, L), TypeError, "x"),
        ([[0.0, 0.0, 0.0]], torch.zeros(1, D, L), TypeError, "x"),
        (torch.zeros(1, D), torch.full((1, D, L), float("inf")), ValueError, "logits"),
        (torch.zeros(1, D), torch.zeros(1, D + 1, L), ValueError, "logits"),  # pixels do not match
        (torch.zeros(1, D), torch.zeros(D), ValueError, "logits"),  # no level dimension
        (torch.zeros(2, D), torch.zeros(3, D, L), ValueError, "broadcast"),
        (torch.zeros(1, D), torch.zeros(1, D, L, dtype=F64), TypeError, "logits"),
      ])],
    *[reject(f"log_bernoulli-{name}-{i}", lambda x=x, logits=logits: log_bernoulli(x, logits), error, name)
      for i, (x, logits, error, name) in enumerate([
        (torch.tensor([[0.0, 0.5, 1.0]]), torch.zeros(1, D), ValueError, "x"),  # a grey level
        (torch.tensor([[0.0, 2.0, 1.0]]), torch.zeros(1, D), ValueError, "x"),
        (torch.tensor([[0.0, float("nan"), 1.0]]), torch.zeros(1, D), ValueError, "x"),
        (torch.zeros(1, D), torch.tensor([[0.0, float("nan"), 0.0]]), ValueError, "logits"),
        (torch.zeros(1, D), torch.zeros(1, D + 1), ValueError, "logits"),
        (torch.zeros(2, D), torch.zeros(3, D), ValueError, "broadcast"),
        (torch.zeros(1, D), torch.zeros(1, D, dtype=F64), TypeError, "logits"),
        (torch.zeros(1, D, dtype=torch.int64), torch.zeros(1, D), TypeError, "x"),
      ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
