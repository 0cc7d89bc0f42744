"""Tests of :mod:`vae_edu.models.hierarchical`: the precision-weighted Gaussian against a product of
densities, the hierarchical prior and the ladder posterior against torch.distributions and
quadrature, the per-layer KL against the VAE's Monte Carlo KL and its closed-form inner KLs,
the shared top-down network, training with ``fit``, shapes, and bad inputs."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.distributions import Independent, Normal

from vae_edu.estimators import log_likelihood, mc_mean
from vae_edu.models import VAE, VAEConfig
from vae_edu.models.hierarchical import (
    FirstLayerDecoder,
    HierarchicalPrior,
    precision_weighted,
    residual_combined,
    split_z,
)
from vae_edu.models.ladder import LadderEncoder, LadderPosterior, hierarchical_vae, layer_kl
from vae_edu.training import fit

N_SE = 4.0
F64 = torch.float64
TINY = VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3, decoder_dropout=0.0)


def _perturb(module: nn.Module, scale: float = 0.5, seed: int = 0) -> None:
    """Move every parameter away from its initial value (no structure is an accident of the init)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _normal(mu: torch.Tensor, log_var: torch.Tensor) -> Independent:
    return Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)


def _tiny_model(z2_dim: int = 1, dtype: torch.dtype = F64, combine: str = "precision") -> VAE:
    torch.manual_seed(0)
    model = hierarchical_vae(TINY, z2_dim=z2_dim, combine=combine).to(dtype)
    _perturb(model, 0.3)
    return model


def _tiny_data(n: int = 6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    return torch.randint(0, TINY.num_levels, (n, TINY.x_dim), generator=gen).to(F64)


# ----------------------------------------------------------------------- precision weighting
def test_precision_weighted_is_the_normalised_product(batch_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(1)
    mu_hat, mu_p = (torch.randn(*batch_shape, 3, generator=gen, dtype=dtype) for _ in range(2))
    log_var_hat, log_var_p = (torch.randn(*batch_shape, 3, generator=gen, dtype=dtype) for _ in range(2))
    mu_q, log_var_q = precision_weighted(mu_hat, log_var_hat, mu_p, log_var_p)
    assert mu_q.shape == log_var_q.shape == (*batch_shape, 3) and mu_q.dtype == dtype
    # log N(z; mu_hat) + log N(z; mu_p) - log N(z; mu_q) does not depend on z
    z = torch.randn(5, *batch_shape, 3, generator=gen, dtype=dtype)
    diff = (_normal(mu_hat, log_var_hat).log_prob(z) + _normal(mu_p, log_var_p).log_prob(z)
            - _normal(mu_q, log_var_q).log_prob(z))  # fmt: skip
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert float((diff - diff[0]).abs().max()) < tol
    # the precisions add
    torch.testing.assert_close(torch.exp(-log_var_q), torch.exp(-log_var_hat) + torch.exp(-log_var_p))


def test_residual_combined_shifts_and_scales_the_prior_and_its_kl() -> None:
    gen = torch.Generator().manual_seed(2)
    mu_hat, log_var_hat, mu_p, log_var_p = (torch.randn(4, 3, generator=gen, dtype=F64) for _ in range(4))
    mu_q, log_var_q = residual_combined(mu_hat, log_var_hat, mu_p, log_var_p)
    torch.testing.assert_close(mu_q, mu_p + mu_hat)
    torch.testing.assert_close(torch.exp(0.5 * log_var_q), torch.exp(0.5 * log_var_p) * torch.exp(0.5 * log_var_hat))
    # NVAE's KL: (dmu^2 / sigma_p^2 + e^dl - dl - 1) / 2, against torch.distributions
    kl = torch.distributions.kl_divergence(Normal(mu_q, torch.exp(0.5 * log_var_q)), Normal(mu_p, torch.exp(0.5 * log_var_p)))
    expected = 0.5 * (mu_hat**2 * torch.exp(-log_var_p) + torch.exp(log_var_hat) - log_var_hat - 1)
    torch.testing.assert_close(kl, expected, rtol=1e-10, atol=1e-10)
    # a zero message gives the prior
    torch.testing.assert_close(residual_combined(0 * mu_hat, 0 * log_var_hat, mu_p, log_var_p), (mu_p, log_var_p))


def test_precision_weighted_extremes() -> None:
    mu_hat, mu_p = torch.tensor([1.0, 1.0]), torch.tensor([-2.0, -2.0])
    # a very sure message wins; a very sure prior wins
    mu_q, log_var_q = precision_weighted(mu_hat, torch.tensor([-40.0, 40.0]), mu_p, torch.tensor([0.0, 0.0]))
    torch.testing.assert_close(mu_q, torch.tensor([1.0, -2.0]))
    torch.testing.assert_close(log_var_q, torch.tensor([-40.0, 0.0]))
    assert bool(torch.isfinite(precision_weighted(mu_hat, torch.full((2,), 80.0), mu_p, torch.full((2,), 80.0))[1]).all())


# ----------------------------------------------------------------------- the prior
def test_prior_log_prob_matches_torch_distributions(batch_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    prior = HierarchicalPrior(nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 6)), 3, 2).to(dtype)
    z = torch.randn(*batch_shape, 5, dtype=dtype)
    z_1, z_2 = split_z(z, 3)
    mu_p, log_var_p = prior.top_down(z_2).chunk(2, dim=-1)
    expected = _normal(torch.zeros_like(z_2), torch.zeros_like(z_2)).log_prob(z_2) + _normal(mu_p, log_var_p).log_prob(z_1)
    got = prior.log_prob(z)
    assert got.shape == batch_shape and got.dtype == dtype
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    torch.testing.assert_close(got, expected, **tol)


def test_prior_samples_have_the_chain_moments() -> None:
    """With a linear top-down network, z_1 = A z_2 + a + sigma eps: mean a, covariance A A^T + diag sigma^2."""
    top_down = nn.Linear(2, 4).double()
    A, a, log_var = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=F64), torch.tensor([0.5, -1.0], dtype=F64), torch.tensor([-1.0, 0.2], dtype=F64)
    with torch.no_grad():
        top_down.weight.copy_(torch.cat([A, torch.zeros_like(A)]))
        top_down.bias.copy_(torch.cat([a, log_var]))
    prior = HierarchicalPrior(top_down, 2, 2)
    with torch.no_grad():
        z = prior.sample(200_000, generator=torch.Generator().manual_seed(3))
    assert z.shape == (200_000, 4) and z.dtype == F64
    cov = torch.cov(z.T)
    expected = torch.zeros(4, 4, dtype=F64)
    expected[:2, :2] = A @ A.T + torch.diag(log_var.exp())
    expected[:2, 2:], expected[2:, :2], expected[2:, 2:] = A, A.T, torch.eye(2, dtype=F64)
    mean, mean_se = mc_mean(z)
    assert bool(((mean - torch.cat([a, torch.zeros(2, dtype=F64)])).abs() < N_SE * mean_se).all())
    assert float((cov - expected).abs().max()) < 0.05  # 200 000 draws: sd of an entry < 0.012


# ----------------------------------------------------------------------- the posterior
@pytest.mark.parametrize("combine", ["precision", "residual"])
def test_posterior_log_prob_matches_its_draws_and_torch(batch_shape: tuple[int, ...], combine: str) -> None:
    model = _tiny_model(z2_dim=2, combine=combine)
    q = model.encode(_tiny_data(4))
    assert isinstance(q, LadderPosterior)
    z, log_q = q.rsample_with_log_prob(3, torch.Generator().manual_seed(2))
    assert z.shape == (3, 4, 4) and log_q.shape == (3, 4)
    torch.testing.assert_close(q.log_prob(z), log_q, rtol=1e-12, atol=1e-12)
    z_1, z_2 = split_z(z, 2)
    mu_q1, log_var_q1, _, _ = q.conditional(z_2)
    expected = _normal(q.mu_q2, q.log_var_q2).log_prob(z_2) + _normal(mu_q1, log_var_q1).log_prob(z_1)
    torch.testing.assert_close(log_q, expected, rtol=1e-12, atol=1e-12)
    # log_prob at points of any batch shape (..., B, z_dim)
    other = torch.randn(*batch_shape, 4, 4, dtype=F64)
    assert q.log_prob(other).shape == (*batch_shape, 4)


@pytest.mark.parametrize("combine", ["precision", "residual"])
def test_posterior_is_a_normalised_density(combine: str) -> None:
    """q(z_1, z_2 | x) integrates to 1: a 2-D grid sum for z1_dim = z2_dim = 1."""
    torch.manual_seed(0)
    config = VAEConfig(x_dim=4, z_dim=1, hidden=8, num_levels=3, decoder_dropout=0.0)
    model = hierarchical_vae(config, z2_dim=1, combine=combine).double()
    _perturb(model, 0.3)
    q = model.encode(_tiny_data(2))
    # z_1's conditional widens with |z_2| through the top-down network: a wide z_1 range
    axis_1, axis_2 = torch.linspace(-60, 60, 3001, dtype=F64), torch.linspace(-10, 10, 801, dtype=F64)
    grid = torch.stack(torch.meshgrid(axis_1, axis_2, indexing="ij"), dim=-1).reshape(-1, 1, 2)  # (M, 1, 2)
    with torch.no_grad():
        density = torch.exp(q.log_prob(grid.expand(-1, 2, 2)))  # (M, 2)
    mass = density.sum(0) * (axis_1[1] - axis_1[0]) * (axis_2[1] - axis_2[0])
    torch.testing.assert_close(mass, torch.ones(2, dtype=F64), rtol=1e-6, atol=1e-6)


def test_mean_is_the_conditional_mean_at_the_top_mean() -> None:
    model = _tiny_model(z2_dim=2)
    q = model.encode(_tiny_data(3))
    mean = q.mean
    assert mean.shape == (3, 4)
    torch.testing.assert_close(mean[:, 2:], q.mu_q2)
    torch.testing.assert_close(mean[:, :2], q.conditional(q.mu_q2)[0])


# ----------------------------------------------------------------------- the ELBO and its layers
def test_layer_kl_splits_the_vae_kl_on_the_same_draws() -> None:
    model, x = _tiny_model(z2_dim=2), _tiny_data(5)
    with torch.no_grad():
        terms = model.elbo_terms(x, num_samples=7, generator=torch.Generator().manual_seed(4))
        layers = layer_kl(model, x, num_samples=7, generator=torch.Generator().manual_seed(4))
    assert terms.kl_per_dim is None  # no closed form: the Monte Carlo KL
    torch.testing.assert_close(layers.kl_1 + layers.kl_2, terms.kl, rtol=1e-12, atol=1e-12)
    assert layers.kl_1_per_dim.shape == (5, 2) and layers.kl_2_per_dim.shape == (5, 2)


@pytest.mark.parametrize("combine", ["precision", "residual"])
def test_layer_kl_per_dim_agrees_with_the_monte_carlo_kl(combine: str) -> None:
    model, x = _tiny_model(z2_dim=2, combine=combine), _tiny_data(3)
    with torch.no_grad():
        layers = layer_kl(model, x, num_samples=200_000, generator=torch.Generator().manual_seed(6))
        q = model.encode(x)
        draws = q.rsample_layers(200_000, torch.Generator().manual_seed(7))
        log_p_1, log_p_2 = model.prior.log_prob_layers(draws.z)
    kl_2, se_2 = mc_mean(draws.log_q_2 - log_p_2)
    kl_1, se_1 = mc_mean(draws.log_q_1 - log_p_1)
    # KL_2 is exact per dimension; KL_1's inner KL is exact given z_2 (a lower-noise estimate)
    assert bool(((layers.kl_2_per_dim.sum(-1) - kl_2).abs() < N_SE * se_2).all())
    assert bool(((layers.kl_1_per_dim.sum(-1) - kl_1).abs() < N_SE * se_1 + 0.01).all())
    assert bool((layers.kl_1_per_dim >= 0).all()) and bool((layers.kl_2_per_dim >= 0).all())


def test_elbo_is_below_the_log_likelihood_and_matches_the_importance_weights() -> None:
    model, x = _tiny_model(z2_dim=2), _tiny_data(4)
    with torch.no_grad():
        elbo = model.elbo(x, num_samples=50_000, generator=torch.Generator().manual_seed(8))
        log_w = model.log_importance_weights(x, num_samples=50_000, generator=torch.Generator().manual_seed(8))
        log_p = log_likelihood(model, x, 50_000, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(elbo, log_w.mean(0), rtol=1e-10, atol=1e-10)  # same draws
    assert bool((log_p > elbo).all())


def test_hierarchical_vae_shapes_and_sharing() -> None:
    model = hierarchical_vae(VAEConfig(), z2_dim=8)
    assert isinstance(model.encoder, LadderEncoder) and isinstance(model.decoder, FirstLayerDecoder)
    assert model.encoder.prior is model.prior
    names = [n for n, _ in model.named_parameters()]
    assert sum(n.startswith("prior.top_down") for n in names) == 6 and not any("encoder.prior" in n for n in names)
    x = torch.randint(0, 17, (5, 64)).float()
    q = model.encode(x)
    assert q.rsample(3).shape == (3, 5, 24) and q.mean.shape == (5, 24)
    assert model.sample(4).shape == (4, 64) and model.reconstruct(x).shape == (5, 64)
    assert model.elbo(x, num_samples=2).shape == (5,)
    # copies and conversions keep one shared top-down network
    clone = copy.deepcopy(model).double()
    assert clone.encoder.prior is clone.prior and clone.encoder.prior.top_down[0].weight.dtype == F64
    # the posterior's gradient reaches the prior's top-down network
    model.zero_grad()
    model.encode(x).rsample_with_log_prob(1)[1].sum().backward()
    assert model.prior.top_down[0].weight.grad is not None and float(model.prior.top_down[0].weight.grad.abs().sum()) > 0


def test_fit_trains_a_hierarchical_vae() -> None:
    torch.manual_seed(0)
    model = hierarchical_vae(TINY, z2_dim=1, combine="precision")
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (64, 4), generator=gen).float()
    x[:, 1:] = x[:, :1]  # one level repeated: 1.1 nats of entropy in 4 pixels
    history = fit(model, x[:48], x[48:], epochs=60, batch_size=16, lr=1e-2, patience=None, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] - 0.2  # 4.71 -> 4.37 nats (the plain VAE: 4.50 -> 4.30)
    history_iwae = fit(hierarchical_vae(TINY, z2_dim=1), x[:48], x[48:], epochs=3, objective="iwae", num_samples=4,
                       progress=False)  # fmt: skip
    assert all(math.isfinite(v) for v in history_iwae.val_loss)


# ----------------------------------------------------------------------- bad inputs
def test_bad_inputs_name_the_argument() -> None:
    with pytest.raises(TypeError, match="config"):
        hierarchical_vae("digits", z2_dim=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="z2_dim"):
        hierarchical_vae(TINY, z2_dim=0)
    with pytest.raises(ValueError, match="combine"):
        hierarchical_vae(TINY, z2_dim=1, combine="sum")
    with pytest.raises(ValueError, match="top_down"):
        HierarchicalPrior(nn.Linear(2, 5), z1_dim=3, z2_dim=2)
    with pytest.raises(ValueError, match="top_down"):
        HierarchicalPrior(nn.Linear(3, 6), z1_dim=3, z2_dim=2)
    with pytest.raises(TypeError, match="top_down"):
        HierarchicalPrior("net", z1_dim=3, z2_dim=2)  # type: ignore[arg-type]
    prior = HierarchicalPrior(nn.Linear(2, 6), z1_dim=3, z2_dim=2)
    with pytest.raises(ValueError, match="net"):
        LadderEncoder(nn.Linear(4, 9), prior, x_dim=4)
    with pytest.raises(ValueError, match="net"):
        LadderEncoder(nn.Linear(5, 10), prior, x_dim=4)
    with pytest.raises(TypeError, match="prior"):
        LadderEncoder(nn.Linear(4, 10), nn.Linear(2, 6), x_dim=4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="decoder"):
        FirstLayerDecoder(nn.Linear(3, 4), z1_dim=3, z2_dim=2)
    with pytest.raises(ValueError, match="n"):
        prior.sample(0)
    model = hierarchical_vae(TINY, z2_dim=2)
    with pytest.raises(ValueError, match="x"):
        model.elbo(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="x"):
        layer_kl(model, torch.full((3, 4), 7.0))
    with pytest.raises(ValueError, match="num_samples"):
        layer_kl(model, torch.zeros(3, 4), num_samples=0)
    with pytest.raises(ValueError, match="z"):
        model.decoder.mean(torch.zeros(3, 2))  # z_1 alone: the decoder reads [z_1, z_2]
    with pytest.raises(TypeError, match="LadderEncoder"):
        layer_kl(VAE.from_config(TINY), torch.zeros(3, 4))
