"""Annealed importance sampling against the exact log-evidence of the linear-Gaussian model."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.estimators import (
    AISResult,
    ais_log_likelihood,
    annealed_importance_weights,
    reverse_ais_log_likelihood,
    sigmoid_schedule,
)
from vae_edu.distributions import log_standard_normal
from vae_edu.estimators import importance_log_mean, log_likelihood
from vae_edu.exact import LinearGaussian
from vae_edu.models import VAE, VAEConfig


@pytest.fixture(scope="module")
def playground() -> tuple[LinearGaussian, torch.Tensor, torch.Tensor]:
    """A linear-Gaussian model whose posterior is much narrower than its prior, and 6 draws from it."""
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    model = LinearGaussian(W, 0.5 * torch.randn(6, generator=gen, dtype=torch.float64), 0.1)
    x = model.sample(6, generator=gen)  # (6, 6)
    return model, x, model.log_marginal(x)


def _forward(model: LinearGaussian, x: torch.Tensor, num_temperatures: int, seed: int, num_chains: int = 32):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(num_chains, len(x), model.z_dim, generator=gen, dtype=torch.float64)  # (C, B, d)
    betas = sigmoid_schedule(num_temperatures)
    return annealed_importance_weights(
        log_standard_normal, lambda z_: model.log_p_x_given_z(x, z_), z, betas,
        step_size=0.2, adapt_step_size=True, generator=gen,
    )


def test_sigmoid_schedule() -> None:
    betas = sigmoid_schedule(100)
    assert betas.shape == (101,) and betas[0] == 0 and betas[-1] == 1
    assert bool((betas.diff() > 0).all())
    # crowded at the ends: the first and last steps are the shortest
    steps = betas.diff()
    assert steps[0] < steps[50] and steps[-1] < steps[50]
    assert torch.allclose(steps, steps.flip(0), atol=1e-12)  # symmetric
    assert sigmoid_schedule(1).tolist() == [0.0, 1.0]


def test_one_temperature_is_importance_sampling_from_the_prior(playground) -> None:
    # T = 1: log w = log p(x | z_0), whatever the transition does afterwards
    model, x, _ = playground
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(5, len(x), model.z_dim, generator=gen, dtype=torch.float64)
    result = annealed_importance_weights(
        log_standard_normal, lambda z_: model.log_p_x_given_z(x, z_), z, sigmoid_schedule(1), generator=gen
    )
    assert isinstance(result, AISResult)
    assert result.log_weights.shape == (5, len(x)) and result.step_size.shape == (1, len(x))
    assert result.z.shape == z.shape and result.acceptance.shape == (len(x),)
    assert torch.allclose(result.log_weights, model.log_p_x_given_z(x, z), atol=1e-12)


def test_ais_agrees_with_the_exact_evidence(playground) -> None:
    model, x, exact = playground
    result = _forward(model, x, 300, seed=2)
    log_p, stderr = importance_log_mean(result.log_weights)  # (B,)
    assert bool(((log_p - exact).abs() < 4 * stderr).all()), (log_p - exact, stderr)
    # over the 6 images: the mean error within 3 standard errors of that mean
    mean_se = stderr.pow(2).sum().sqrt() / len(x)
    assert abs((log_p - exact).mean()) < 3 * mean_se
    assert bool((result.acceptance > 0.4).all()) and bool((result.acceptance < 0.9).all())


def test_more_temperatures_get_closer(playground) -> None:
    model, x, exact = playground
    errors, stderrs = {}, {}
    for num in (10, 100, 1000):
        log_p, stderr = importance_log_mean(_forward(model, x, num, seed=3).log_weights)
        errors[num] = (log_p - exact).abs().mean().item()
        stderrs[num] = stderr.mean().item()
    assert errors[10] > 2 * errors[100] > 2 * errors[1000], errors
    assert stderrs[10] > stderrs[1000], stderrs


def test_a_fixed_schedule_is_a_valid_run_and_reverse_ais_brackets(playground) -> None:
    # The adapted step sizes, held fixed in fresh runs: forward below, reverse above (BDMC)
    model, x, exact = playground
    tuned = _forward(model, x, 300, seed=5).step_size  # (T, B)
    gen = torch.Generator().manual_seed(6)
    log_lik = lambda z_: model.log_p_x_given_z(x, z_)  # noqa: E731
    betas = sigmoid_schedule(300)
    forward, reverse = [], []
    for _ in range(3):  # independent repetitions, 16 chains each
        z = torch.randn(16, len(x), model.z_dim, generator=gen, dtype=torch.float64)
        run = annealed_importance_weights(log_standard_normal, log_lik, z, betas, step_size=tuned, generator=gen)
        forward.append(importance_log_mean(run.log_weights)[0])
        mu, cov = model.posterior(x)  # exact posterior samples
        noise = torch.randn(16, len(x), model.z_dim, 1, generator=gen, dtype=torch.float64)
        z_post = mu + (torch.linalg.cholesky(cov) @ noise).squeeze(-1)  # (16, B, d)
        run = annealed_importance_weights(
            log_standard_normal, log_lik, z_post, betas.flip(0), step_size=tuned.flip(0), generator=gen
        )
        reverse.append(-importance_log_mean(run.log_weights)[0])
    lower, upper = torch.stack(forward), torch.stack(reverse)  # (3, B) each
    # in expectation lower <= log p(x) <= upper; over 3 x 6 estimates the means must order
    assert lower.mean() <= exact.mean() + 0.05 and upper.mean() >= exact.mean() - 0.05
    assert (upper - lower).mean() < 0.5  # a tight bracket after 300 temperatures


def _tiny_vae() -> tuple[VAE, torch.Tensor]:
    torch.manual_seed(0)
    model = VAE.from_config(VAEConfig(x_dim=6, z_dim=2, hidden=16, num_levels=3, decoder_dropout=0.1))
    x = torch.tensor([[0.0, 1, 2, 2, 1, 0], [2, 2, 2, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    return model, x


def test_vae_ais_agrees_with_importance_sampling_and_reverse_ais_is_above() -> None:
    model, x = _tiny_vae()
    model.train()  # a model left in training mode is scored without dropout, then left as it was
    gen = torch.Generator().manual_seed(7)
    log_p, stderr, result = ais_log_likelihood(model, x, num_temperatures=100, num_chains=16, generator=gen)
    assert model.training
    assert log_p.shape == stderr.shape == (3,) and result.step_size.shape == (100, 3)
    reference, reference_se = log_likelihood(model, x, 20_000, generator=gen, return_stderr=True)
    tolerance = 4 * torch.sqrt(stderr**2 + reference_se**2) + 0.02
    assert bool(((log_p - reference).abs() < tolerance).all()), (log_p, reference, stderr)
    # reverse AIS from exact posterior samples of simulated data: above the forward estimate
    with torch.no_grad():
        model.eval()
        z = model.prior.sample(3, generator=gen)  # (3, z_dim)
        x_sim = model.decoder.sample(z, generator=gen)  # (3, x_dim)
    z_post = z.expand(8, 3, 2).clone()  # 8 copies of the exact posterior sample of each image
    upper, upper_se, _ = reverse_ais_log_likelihood(
        model, x_sim, z_post, num_temperatures=100, generator=gen
    )
    lower, lower_se, _ = ais_log_likelihood(model, x_sim, num_temperatures=100, num_chains=8, generator=gen)
    exact_ish = log_likelihood(model, x_sim, 20_000, generator=gen)
    assert bool((upper - exact_ish > -4 * upper_se - 0.02).all())
    assert bool((exact_ish - lower > -4 * lower_se - 0.02).all())


def test_bad_inputs_name_the_argument(playground) -> None:
    model, x, _ = playground
    log_lik = lambda z_: model.log_p_x_given_z(x, z_)  # noqa: E731
    z = torch.zeros(2, len(x), 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="z must have"):
        annealed_importance_weights(log_standard_normal, log_lik, z[0], sigmoid_schedule(3))
    with pytest.raises(ValueError, match="betas must run"):
        annealed_importance_weights(log_standard_normal, log_lik, z, torch.tensor([0.0, 0.7, 0.5], dtype=torch.float64))
    with pytest.raises(ValueError, match="step_size"):
        annealed_importance_weights(log_standard_normal, log_lik, z, sigmoid_schedule(3), step_size=torch.ones(2, 6))
    with pytest.raises(ValueError, match="step_size"):
        annealed_importance_weights(log_standard_normal, log_lik, z, sigmoid_schedule(3), step_size=-0.1)
    with pytest.raises(TypeError, match="num_leapfrog"):
        annealed_importance_weights(log_standard_normal, log_lik, z, sigmoid_schedule(3), num_leapfrog=2.0)
    with pytest.raises(ValueError, match="num_temperatures"):
        sigmoid_schedule(0)
    vae, x_vae = _tiny_vae()
    with pytest.raises(TypeError, match="prior and a decoder"):
        ais_log_likelihood(model, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_chains"):
        ais_log_likelihood(vae, x_vae, num_chains=1)
    with pytest.raises(ValueError, match="z_posterior"):
        reverse_ais_log_likelihood(vae, x_vae, torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="x"):
        ais_log_likelihood(vae, x_vae + 0.5)  # not levels
    assert math.isfinite(float(sigmoid_schedule(5)[2]))
