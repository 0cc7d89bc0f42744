"""Tests of :mod:`vae_edu.exact.targets`: the banana's density and normaliser, the reverse-KL estimator
against closed forms, and the fit on a target a Gaussian can match exactly."""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal

from vae_edu.distributions import log_normal_diag
from vae_edu.kl import kl_normal_full, kl_normal_normal
from vae_edu.exact import (
    DiagonalGaussianQ,
    FullCovarianceGaussianQ,
    IAFQ,
    fit_reverse_kl,
    log_banana,
    log_normalizer_grid,
    reverse_kl,
)

F64 = torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_banana_matches_torch_distributions(dtype: torch.dtype, batch: tuple[int, ...]) -> None:
    a, b, c = 1.3, 0.6, 0.4
    z = torch.randn(*batch, 2, dtype=dtype, generator=torch.Generator().manual_seed(0))
    a_t, c_t = torch.tensor(a, dtype=dtype), torch.tensor(c, dtype=dtype)
    log_p = Normal(torch.zeros((), dtype=dtype), a_t).log_prob(z[..., 0]) + Normal(
        b * (z[..., 0] ** 2 - a**2), c_t
    ).log_prob(z[..., 1])
    got = log_banana(z, a, b, c) - math.log(2 * math.pi * a * c)
    assert got.shape == batch and got.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, log_p, rtol=tol, atol=tol)


def test_rotation_turns_the_density() -> None:
    z = torch.randn(10, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    theta = 0.7
    rot = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=F64)
    torch.testing.assert_close(log_banana(z @ rot.T, angle=theta), log_banana(z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, math.pi / 4])
def test_grid_normalizer_matches_closed_form(angle: float) -> None:
    target = functools.partial(log_banana, scale=1.0, curvature=0.6, noise=0.4, angle=angle)
    log_z = log_normalizer_grid(target)
    assert log_z.shape == () and log_z.dtype == F64
    assert abs(log_z.item() - math.log(2 * math.pi * 0.4)) < 1e-4


def test_reverse_kl_of_gaussians_matches_closed_forms() -> None:
    mu_p = torch.tensor([0.5, -0.3], dtype=F64)
    log_var_p = torch.log(torch.tensor([0.8, 1.7], dtype=F64))
    target = functools.partial(log_normal_diag, mu=mu_p, log_var=log_var_p)  # normalised: log Z = 0
    diag = DiagonalGaussianQ().to(F64)
    full = FullCovarianceGaussianQ().to(F64)
    with torch.no_grad():
        diag.mu.copy_(torch.tensor([0.1, 0.2]))
        diag.log_var.copy_(torch.tensor([-0.5, 0.4]))
        full.mu.copy_(torch.tensor([-0.2, 0.3]))
        full.raw_scale_tril.copy_(torch.tensor([[0.1, 0.0], [0.7, -0.2]]))
    gen = torch.Generator().manual_seed(2)
    est, se = reverse_kl(diag, target, 0.0, 200_000, gen)
    closed = kl_normal_normal(diag.mu.detach(), diag.log_var.detach(), mu_p, log_var_p)
    assert abs(est - closed) <= 4 * se and se < 0.01 * closed
    est, se = reverse_kl(full, target, 0.0, 200_000, gen)
    closed = kl_normal_full(full.mu.detach(), full.cov.detach(), mu_p, torch.diag(log_var_p.exp()))
    assert abs(est - closed) <= 4 * se and se < 0.01 * closed
    z, log_q = full.sample(5, gen)
    torch.testing.assert_close(log_q, MultivariateNormal(full.mu, full.cov).log_prob(z), rtol=1e-10, atol=1e-10)


def test_fit_reaches_a_gaussian_target_and_iaf_fits_the_banana_best() -> None:
    torch.manual_seed(0)
    mu_p, log_var_p = torch.tensor([1.0, -0.5]), torch.log(torch.tensor([0.5, 2.0]))
    target = functools.partial(log_normal_diag, mu=mu_p, log_var=log_var_p)
    q = DiagonalGaussianQ()
    losses = fit_reverse_kl(q, target, steps=600, num_samples=64, lr=3e-2, seed=0)
    assert len(losses) == 600
    kl = kl_normal_normal(q.mu.detach(), q.log_var.detach(), mu_p, log_var_p)
    assert kl < 0.01, kl

    banana = functools.partial(log_banana, curvature=0.6, noise=0.4, angle=math.pi / 4)
    log_z = log_normalizer_grid(banana)
    results = {}
    for name, family in [("diag", DiagonalGaussianQ()), ("iaf", IAFQ(2, 2, (16,)))]:
        fit_reverse_kl(family, banana, steps=800, num_samples=64, lr=1e-2, seed=0)
        results[name] = reverse_kl(family, banana, log_z, 20_000, torch.Generator().manual_seed(3))
    (kl_diag, se_diag), (kl_iaf, se_iaf) = results["diag"], results["iaf"]
    assert kl_iaf > -4 * se_iaf  # a KL is >= 0
    assert kl_iaf + 4 * (se_diag**2 + se_iaf**2) ** 0.5 < kl_diag, results


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="last dimension 2"):
        log_banana(torch.zeros(3))
    with pytest.raises(ValueError, match="z"):
        log_banana(torch.tensor([0.0, float("nan")]))
    with pytest.raises(TypeError, match="z"):
        log_banana([0.0, 1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scale"):
        log_banana(torch.zeros(2), scale=0.0)
    with pytest.raises(ValueError, match="noise"):
        log_banana(torch.zeros(2), noise=-1.0)
    with pytest.raises(ValueError, match="angle"):
        log_banana(torch.zeros(2), angle=float("inf"))
    with pytest.raises(TypeError, match="scale"):
        log_banana(torch.zeros(2), scale="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="curvature"):
        log_banana(torch.zeros(2), curvature=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="log_density"):
        log_normalizer_grid(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="q must be"):
        reverse_kl("q", log_banana, 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_samples"):
        reverse_kl(DiagonalGaussianQ(), log_banana, 0.0, num_samples=1)
    with pytest.raises(ValueError, match="log_normalizer"):
        reverse_kl(DiagonalGaussianQ(), log_banana, float("nan"))
    with pytest.raises(TypeError, match="log_normalizer"):
        reverse_kl(DiagonalGaussianQ(), log_banana, "0.9")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        fit_reverse_kl(DiagonalGaussianQ(), log_banana, seed=-1)
    with pytest.raises(ValueError, match="steps"):
        fit_reverse_kl(DiagonalGaussianQ(), log_banana, steps=0)
    with pytest.raises(ValueError, match="lr"):
        fit_reverse_kl(DiagonalGaussianQ(), log_banana, lr=0.0)
    with pytest.raises(ValueError, match="z_dim"):
        DiagonalGaussianQ(0)
