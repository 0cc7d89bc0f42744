"""Tests for vae_edu.metrics.aggregate.elbo_surgery: the average KL term split into I_q(n; z) + KL(q(z) || p(z))."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.distributions import log_normal_diag, log_standard_normal, reparameterize
from vae_edu.estimators import mc_mean
from vae_edu.kl import kl_normal_std_normal
from vae_edu.metrics import aggregate_posterior_log_prob, elbo_surgery


def _posteriors(n: int, z_dim: int, dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mu_q = torch.randn(n, z_dim, dtype=dtype, generator=gen)
    log_var_q = -1.0 + 0.5 * torch.randn(n, z_dim, dtype=dtype, generator=gen)
    return mu_q, log_var_q


def test_integrands_add_up_to_the_kl_integrand_and_obey_the_log_n_bound(
    dtype: torch.dtype, tol: dict[str, float]
) -> None:
    mu_q, log_var_q = _posteriors(7, 3, dtype)
    gen = torch.Generator().manual_seed(1)
    z = reparameterize(mu_q, log_var_q, torch.randn(5, 7, 3, dtype=dtype, generator=gen))  # (K, N, z_dim)
    information, marginal = elbo_surgery(z, mu_q, log_var_q)
    assert information.shape == marginal.shape == (5, 7)
    assert information.dtype == marginal.dtype == dtype
    # pointwise: log q(z|x_n) - log q(z) + log q(z) - log p(z) = log q(z|x_n) - log p(z)
    expected = log_normal_diag(z, mu_q, log_var_q) - log_standard_normal(z)
    torch.testing.assert_close(information + marginal, expected, **tol)
    # and the marginal term is log q(z) - log p(z) with q(z) the mixture of the N posteriors
    log_q = aggregate_posterior_log_prob(z.reshape(-1, 3), mu_q, log_var_q).view(5, 7)
    torch.testing.assert_close(marginal, log_q - log_standard_normal(z), **tol)
    # q(z) >= q(z|x_n) / N at every z, so the information integrand is at most log N
    assert (information <= math.log(7) + 1e-5).all()


def test_identical_posteriors_carry_no_information() -> None:
    # every q(z|x_n) the same: q(z) = q(z|x_n), so I_q = 0 exactly at every z, and the
    # whole KL term is the aggregate's KL(q(z) || p(z))
    mu_q = torch.tensor([[0.5, -1.0]], dtype=torch.float64).expand(4, 2)
    log_var_q = torch.tensor([[-0.3, 0.2]], dtype=torch.float64).expand(4, 2)
    gen = torch.Generator().manual_seed(2)
    z = reparameterize(mu_q, log_var_q, torch.randn(20_000, 4, 2, dtype=torch.float64, generator=gen))
    information, marginal = elbo_surgery(z, mu_q, log_var_q)
    assert information.abs().max() < 1e-12
    estimate, stderr = mc_mean(marginal.flatten())
    assert abs(estimate - kl_normal_std_normal(mu_q[0], log_var_q[0])) < 4 * stderr


def test_separated_posteriors_carry_log_n() -> None:
    # N narrow posteriors far apart: z identifies its n, so I_q = log N (to round-off)
    n = 6
    mu_q = 100.0 * torch.arange(n, dtype=torch.float64)[:, None].expand(n, 2)
    log_var_q = torch.full((n, 2), -4.0, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    z = reparameterize(mu_q, log_var_q, torch.randn(10, n, 2, dtype=torch.float64, generator=gen))
    information, _ = elbo_surgery(z, mu_q, log_var_q)
    torch.testing.assert_close(information, torch.full_like(information, math.log(n)), rtol=0, atol=1e-12)


def test_the_two_estimates_add_up_to_the_closed_form_rate() -> None:
    # Monte Carlo I_q + KL(q(z) || p(z)) against the exact average of the closed-form KLs
    mu_q, log_var_q = _posteriors(50, 2, torch.float64, seed=4)
    gen = torch.Generator().manual_seed(5)
    z = reparameterize(mu_q, log_var_q, torch.randn(400, 50, 2, dtype=torch.float64, generator=gen))
    information, marginal = elbo_surgery(z, mu_q, log_var_q)
    rate = kl_normal_std_normal(mu_q, log_var_q).mean()
    total, total_se = mc_mean((information + marginal).flatten())
    assert abs(total - rate) < 4 * total_se
    info, info_se = mc_mean(information.flatten())
    marg, marg_se = mc_mean(marginal.flatten())
    assert 0 < info - 4 * info_se and info + 4 * info_se < math.log(50)
    assert marg - 4 * marg_se > 0


def test_elbo_surgery_bad_inputs() -> None:
    mu_q, log_var_q = torch.zeros(4, 2), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="z must have at least 3"):
        elbo_surgery(torch.zeros(4, 2), mu_q, log_var_q)  # no sample dimension
    with pytest.raises(ValueError, match="z must have shape"):
        elbo_surgery(torch.zeros(3, 5, 2), mu_q, log_var_q)  # N differs
    with pytest.raises(ValueError, match="log_var_q"):
        elbo_surgery(torch.zeros(3, 4, 2), mu_q, torch.zeros(4, 3))
    with pytest.raises(TypeError, match="z"):
        elbo_surgery([[[0.0, 0.0]]], mu_q, log_var_q)  # type: ignore[arg-type]
