"""Tests of :mod:`vae_edu.estimators.proposals`: the defensive-mixture estimate of log p(x) against the exact
log p(x) of the linear-Gaussian model and of a 2-D IAF-VAE (by quadrature), against a narrow
proposal, its standard error against the spread of repeated estimates, and bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from vae_edu.estimators import log_likelihood
from vae_edu.exact import LinearGaussian
from vae_edu.models import VAE, Decoder, DiagonalGaussian, IAFEncoder, StandardNormalPrior, VAEConfig
from vae_edu.estimators import log_likelihood_defensive, widened_gaussian

F64 = torch.float64


class LinearDecoder(nn.Module):
    """$p(x|z) = N(Wz + b, sigma^2 I)$ of a :class:`LinearGaussian`, as a VAE part."""

    def __init__(self, lg: LinearGaussian) -> None:
        super().__init__()
        self.lg = lg
        self.anchor = nn.Parameter(torch.zeros((), dtype=F64))  # gives the VAE a dtype

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        return self.lg.log_p_x_given_z(x, z)


class PosteriorEncoder(nn.Module):
    """$q(z|x)$ = the exact posterior's mean and marginal variances, the variances times ``shrink``."""

    def __init__(self, lg: LinearGaussian, shrink: float) -> None:
        super().__init__()
        self.lg, self.shrink = lg, shrink

    def forward(self, x: Tensor) -> DiagonalGaussian:
        mu, cov = self.lg.posterior(x)  # (B, d), (B, d, d)
        return DiagonalGaussian(mu, torch.log(torch.diagonal(cov, dim1=-2, dim2=-1) * self.shrink))


def _linear_model(shrink: float) -> tuple[VAE, LinearGaussian, Tensor]:
    gen = torch.Generator().manual_seed(0)
    x_dim, z_dim = 6, 3
    W = torch.randn(x_dim, z_dim, generator=gen, dtype=F64)
    lg = LinearGaussian(W, torch.zeros(x_dim, dtype=F64), 0.3)
    model = VAE(PosteriorEncoder(lg, shrink), LinearDecoder(lg), StandardNormalPrior(z_dim).to(F64))
    x = lg.sample(8, generator=gen)
    return model, lg, x


def test_widened_gaussian_keeps_the_mean_and_scales_the_standard_deviations() -> None:
    q = DiagonalGaussian(torch.randn(4, 3), torch.randn(4, 3))
    wide = widened_gaussian(q, 3.0)
    assert torch.equal(wide.mu, q.mu)
    torch.testing.assert_close(torch.exp(0.5 * wide.log_var), 3.0 * torch.exp(0.5 * q.log_var))
    torch.manual_seed(0)
    config = VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3)
    q_iaf = IAFEncoder(config, context_dim=4, made_hidden=(8,))(torch.ones(5, 4))
    wide = widened_gaussian(q_iaf, 2.0)  # the flow's point code, the base Gaussian's spread
    torch.testing.assert_close(wide.mu, q_iaf.mean)
    torch.testing.assert_close(wide.log_var, q_iaf.base.log_var + 2 * math.log(2.0))


def test_defensive_estimate_matches_the_exact_log_likelihood() -> None:
    model, lg, x = _linear_model(shrink=1.0)
    exact = lg.log_marginal(x)
    gen = torch.Generator().manual_seed(1)
    log_p, se = log_likelihood_defensive(model, x, 4000, alpha=0.3, scale=2.0, generator=gen, return_stderr=True)
    assert log_p.shape == se.shape == (8,)
    assert bool((se > 0).all()) and bool((se < 0.05).all())
    # unbiased for p(x): within 4 standard errors of the exact value (plus the tiny Jensen bias)
    assert bool(((log_p - exact).abs() < 4 * se + 1e-3).all()), (log_p - exact, se)


def test_defensive_mixture_rescues_a_narrow_proposal() -> None:
    model, lg, x = _linear_model(shrink=0.05)  # q's standard deviations 0.22 of the posterior's
    exact = lg.log_marginal(x)
    narrow = log_likelihood(model, x, 2000, generator=torch.Generator().manual_seed(2))
    defensive, se = log_likelihood_defensive(
        model, x, 2000, alpha=0.2, scale=6.0, generator=torch.Generator().manual_seed(3), return_stderr=True
    )
    assert bool((narrow < exact - 1.0).all())  # the narrow proposal alone is biased low by nats
    assert bool(((defensive - exact).abs() < 4 * se + 0.02).all()), (defensive - exact, se)
    assert bool((defensive > narrow).all())


def test_defensive_mixture_costs_little_when_q_is_already_right() -> None:
    # with q the posterior itself (Gaussian, diagonal here: close), the mixture can only cost
    # about log(1 / (1 - alpha)) in the worst case; in practice much less
    model, lg, x = _linear_model(shrink=1.0)
    plain = log_likelihood(model, x, 2000, generator=torch.Generator().manual_seed(4))
    defensive = log_likelihood_defensive(model, x, 2000, alpha=0.2, generator=torch.Generator().manual_seed(5))
    assert bool((defensive > plain - 0.05).all()), defensive - plain


def test_standard_error_matches_the_spread_of_repeated_estimates() -> None:
    model, _, x = _linear_model(shrink=0.3)
    gen = torch.Generator().manual_seed(6)
    runs = [log_likelihood_defensive(model, x[:3], 200, generator=gen, return_stderr=True) for _ in range(200)]
    estimates = torch.stack([r[0] for r in runs])  # (200, 3)
    mean_se = torch.stack([r[1] for r in runs]).mean(0)  # (3,)
    ratio = estimates.std(0) / mean_se
    assert bool(((ratio > 0.7) & (ratio < 1.4)).all()), ratio


def test_iaf_vae_defensive_estimate_matches_quadrature() -> None:
    """A 2-D IAF-VAE: log p(x) by quadrature over z on a fine grid, against the defensive estimate
    (which scores the wide draws by inverting the flow)."""
    torch.manual_seed(0)
    config = VAEConfig(x_dim=4, z_dim=2, hidden=16, num_levels=3)
    model = VAE(IAFEncoder(config, num_steps=2, context_dim=4, made_hidden=(8,)), Decoder(config),
                StandardNormalPrior(2)).to(F64)  # fmt: skip
    x = torch.tensor([[0.0, 1.0, 2.0, 1.0], [2.0, 2.0, 0.0, 0.0]], dtype=F64)
    axis = torch.linspace(-7, 7, 401, dtype=F64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 1, 2)  # (G, 1, 2)
    with torch.no_grad():
        log_joint = model.decoder.log_prob(x, grid.expand(-1, 2, 2)) + model.prior.log_prob(grid)  # (G, 2)
    exact = torch.logsumexp(log_joint, 0) + 2 * math.log(axis[1] - axis[0])
    log_p, se = log_likelihood_defensive(model, x, 3000, scale=3.0, generator=torch.Generator().manual_seed(7),
                                         return_stderr=True)  # fmt: skip
    assert bool(((log_p - exact).abs() < 4 * se + 1e-3).all()), (log_p - exact, se)
    plain = log_likelihood(model, x, 3000, generator=torch.Generator().manual_seed(8))
    assert bool(((plain - exact).abs() < 0.05).all())  # an untrained q is wide: both agree


def test_chunks_give_the_same_estimate_in_distribution() -> None:
    model, lg, x = _linear_model(shrink=1.0)
    a = log_likelihood_defensive(model, x[:2], 300, chunk_size=64, generator=torch.Generator().manual_seed(9))
    b = log_likelihood_defensive(model, x[:2], 300, generator=torch.Generator().manual_seed(9))
    exact = lg.log_marginal(x[:2])
    assert bool(((a - exact).abs() < 0.05).all()) and bool(((b - exact).abs() < 0.05).all())


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": 1.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"scale": 0.5}, ValueError, "scale"),
        ({"num_samples": 1}, ValueError, "num_samples"),
        ({"num_samples": 4, "alpha": 0.01}, ValueError, "alpha"),
        ({"generator": 3}, TypeError, "generator"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, name: str) -> None:
    model, _, x = _linear_model(shrink=1.0)
    with pytest.raises(error, match=rf"\b{name}\b"):
        log_likelihood_defensive(model, x, **({"num_samples": 100} | kwargs))


def test_a_model_without_parts_or_a_posterior_without_a_gaussian_is_rejected() -> None:
    _, _, x = _linear_model(shrink=1.0)
    with pytest.raises(TypeError, match="model"):
        log_likelihood_defensive(nn.Linear(2, 2), x, 100)
    with pytest.raises(TypeError, match=r"\bq\b"):
        widened_gaussian(object(), 2.0)
