"""Tests of :mod:`vae_edu.metrics.collapse`: rate and distortion against the model's own ELBO terms and a
Monte Carlo KL, and active units against hand-made encoder means."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.metrics import RateDistortion, active_units, rate_distortion
from vae_edu.estimators import kl_monte_carlo, mc_mean
from vae_edu.models import VAE, VAEConfig

F32, F64 = torch.float32, torch.float64
X_DIM, Z_DIM, L = 6, 3, 4


def _model(dtype: torch.dtype = F32) -> VAE:
    torch.manual_seed(5)
    return VAE.from_config(VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=16, num_levels=L)).to(dtype)


def _data(n: int, gen: torch.Generator, dtype: torch.dtype = F32) -> torch.Tensor:
    return torch.randint(0, L, (n, X_DIM), generator=gen).to(dtype)


def test_rate_and_distortion_are_the_elbo_terms(dtype, gen) -> None:
    model, x = _model(dtype), _data(50, gen, dtype)
    rd = rate_distortion(model, x, num_samples=4, generator=torch.Generator().manual_seed(7))
    assert isinstance(rd, RateDistortion) and rd.kl_per_dim.shape == (Z_DIM,)
    with torch.no_grad():
        terms = model.elbo_terms(x, num_samples=4, generator=torch.Generator().manual_seed(7))
        elbo = model.elbo(x, num_samples=4, generator=torch.Generator().manual_seed(7))
    tol = 1e-5 if dtype == F32 else 1e-12
    rate, rate_se = mc_mean(terms.kl)
    distortion, distortion_se = mc_mean(-terms.reconstruction)
    assert abs(rd.rate - float(rate)) < tol and abs(rd.rate_stderr - float(rate_se)) < tol
    assert abs(rd.distortion - float(distortion)) < tol * 10 and abs(rd.distortion_stderr - float(distortion_se)) < tol
    assert abs(rd.neg_elbo + float(elbo.mean())) < tol * 10  # -ELBO = D + R
    assert abs(float(rd.kl_per_dim.sum()) - rd.rate) < tol
    torch.testing.assert_close(rd.kl_per_dim, model.kl_per_dim(x).mean(0).detach(), rtol=tol, atol=tol)
    assert abs(rd.neg_elbo_stderr - float(mc_mean(terms.kl - terms.reconstruction)[1])) < tol
    assert rd.rate > 0 and rd.rate_stderr > 0


def test_beta_objective(gen) -> None:
    rd = rate_distortion(_model(), _data(20, gen), generator=gen)
    assert rd.objective() == pytest.approx(rd.neg_elbo)
    assert rd.objective(0.0) == rd.distortion
    assert rd.objective(4.0) == pytest.approx(rd.distortion + 4.0 * rd.rate)
    for bad in (-1.0, float("nan"), "2", True):
        with pytest.raises(ValueError, match="beta"):
            rd.objective(bad)  # type: ignore[arg-type]


def test_rate_agrees_with_a_monte_carlo_kl(gen) -> None:
    """The closed-form rate equals the mean over x of a Monte Carlo KL(q(z|x) || p(z)), within 4 standard errors."""
    model, x = _model(F64), _data(40, gen, F64)
    rd = rate_distortion(model, x, generator=gen)
    with torch.no_grad():
        mu_q, log_var_q = model.encoder(x)
    estimate, stderr = kl_monte_carlo(mu_q, log_var_q, num_samples=20_000, generator=gen)  # (40,)
    mean_estimate = float(estimate.mean())
    mean_stderr = float(stderr.pow(2).sum().sqrt()) / len(x)  # independent draws per example
    assert abs(mean_estimate - rd.rate) <= 4 * mean_stderr


def test_rate_does_not_depend_on_batching(gen) -> None:
    model, x = _model(F64), _data(30, gen, F64)
    whole = rate_distortion(model, x, generator=gen)
    chunked = rate_distortion(model, x, batch_size=7, generator=gen)
    assert abs(whole.rate - chunked.rate) < 1e-12
    torch.testing.assert_close(whole.kl_per_dim, chunked.kl_per_dim, rtol=1e-12, atol=1e-12)


def test_rate_distortion_restores_training_mode(gen) -> None:
    model = _model()
    model.train()
    rate_distortion(model, _data(4, gen), generator=gen)
    assert model.training


def test_active_units_on_known_means(dtype, gen) -> None:
    spread = torch.tensor([0.0, 0.05, 0.2, 1.0], dtype=dtype)  # standard deviations across the data
    mu_q = torch.randn(5_000, 4, dtype=dtype, generator=gen) * spread + 3.0  # (N, 4); the offset does not count
    activity, num_active = active_units(mu_q)
    assert activity.shape == (4,) and activity.dtype == dtype
    torch.testing.assert_close(activity, mu_q.var(dim=0))
    assert num_active == 2  # variances 0, 0.0025, 0.04, 1 against the threshold 0.01
    assert active_units(mu_q, threshold=0.001)[1] == 3
    assert active_units(mu_q, threshold=2.0)[1] == 0
    assert activity[0] == 0


def test_activity_bounds_the_kl_of_each_dimension(gen) -> None:
    r"""mean_x KL_j >= mean_x mu_j^2 / 2 >= (N-1)/(2N) A_j: an active unit always costs rate."""
    model, x = _model(F64), _data(200, gen, F64)
    with torch.no_grad():
        mu_q, _ = model.encoder(x)
    activity, _ = active_units(mu_q)
    kl_per_dim = rate_distortion(model, x, generator=gen).kl_per_dim
    n = len(x)
    assert bool((kl_per_dim >= 0.5 * (n - 1) / n * activity).all())
    assert bool((kl_per_dim >= 0.5 * mu_q.pow(2).mean(0)).all())


def test_bad_inputs_are_named(gen) -> None:
    model, x = _model(), _data(4, gen)
    with pytest.raises(TypeError, match="elbo_terms"):
        rate_distortion(torch.nn.Linear(2, 2), x)  # type: ignore[arg-type]
    for bad_x, error in [
        (torch.zeros(1, X_DIM), ValueError),  # one example: no standard error
        (torch.zeros(X_DIM), ValueError),
        (torch.full((2, X_DIM), float("nan")), ValueError),
        (torch.zeros(2, X_DIM, dtype=torch.int64), TypeError),
        ([[0.0] * X_DIM] * 2, TypeError),
    ]:
        with pytest.raises(error, match=r"\bx\b"):
            rate_distortion(model, bad_x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\bx\b"):
        rate_distortion(model, torch.zeros(2, X_DIM + 1))  # the model names it too
    for name in ("num_samples", "batch_size"):
        for bad in (0, 1.5, True):
            with pytest.raises(ValueError, match=name):
                rate_distortion(model, x, **{name: bad})  # type: ignore[arg-type]
    for bad_mu, error in [
        (torch.zeros(5), ValueError),
        (torch.zeros(1, 3), ValueError),
        (torch.zeros(2, 3, 4), ValueError),
        (torch.full((3, 2), math.inf), ValueError),
        (torch.zeros(3, 2, dtype=torch.int64), TypeError),
    ]:
        with pytest.raises(error, match="mu_q"):
            active_units(bad_mu)
    for bad_threshold in (0.0, -0.1, float("nan"), "0.01", True):
        with pytest.raises(ValueError, match="threshold"):
            active_units(torch.zeros(3, 2), threshold=bad_threshold)  # type: ignore[arg-type]


def test_rate_distortion_names_a_missing_closed_form() -> None:
    from vae_edu.models import VAE, Decoder, IAFEncoder, StandardNormalPrior

    config = VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=16, num_levels=L)
    model = VAE(IAFEncoder(config, num_steps=1, context_dim=4, made_hidden=(8,)), Decoder(config), StandardNormalPrior(Z_DIM))
    x = torch.randint(0, L, (4, X_DIM)).float()
    with pytest.raises(TypeError, match="closed-form KL per latent dimension"):
        rate_distortion(model, x)
