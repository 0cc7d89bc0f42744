"""Tests for vae_edu.discrete: the Concrete relaxation, straight-through, enumeration and the estimators."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, RelaxedOneHotCategorical, kl_divergence

from vae_edu.discrete import (
    enumerate_elbo,
    enumerate_expectation,
    enumerate_log_marginal,
    gumbel_softmax_grad,
    kl_categorical,
    log_relaxed_one_hot,
    rsample_relaxed_one_hot,
    sample_gumbel,
    score_categorical,
    score_function_grad_categorical,
    straight_through,
)

N_SE = 4  # a Monte Carlo estimate must lie within this many standard errors
F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gumbel_moments() -> None:
    g = sample_gumbel((200_000,), dtype=F64, generator=gen(1))
    mean, var = g.mean(), g.var()
    euler_gamma = 0.5772156649015329
    assert abs(mean - euler_gamma) < N_SE * g.std() / math.sqrt(g.numel())
    # var of the sample variance ~ (mu4 - sigma^4) / N; mu4 = 27/5 sigma^4 for the Gumbel (excess kurtosis 12/5)
    sigma2 = math.pi**2 / 6
    assert abs(var - sigma2) < N_SE * math.sqrt((5.4 - 1) * sigma2**2 / g.numel())


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_log_density_matches_torch(batch: tuple[int, ...], temperature: float) -> None:
    torch.manual_seed(0)
    logits = torch.randn(*batch, 5, dtype=F64)
    ref = RelaxedOneHotCategorical(torch.tensor(temperature, dtype=F64), logits=logits)
    y = ref.sample((7,))  # (7, *batch, 5)
    ours = log_relaxed_one_hot(y, logits, temperature)
    assert ours.shape == (7, *batch)
    torch.testing.assert_close(ours, ref.log_prob(y), rtol=1e-10, atol=1e-10)
    # unchanged by a constant added to the logits
    torch.testing.assert_close(log_relaxed_one_hot(y, logits + 3.0, temperature), ours, rtol=1e-10, atol=1e-10)


def test_log_density_float32_and_normalised() -> None:
    logits = torch.tensor([0.3, -1.0, 0.5])
    y = rsample_relaxed_one_hot(logits, 0.7, 10, gen(2))
    ref = RelaxedOneHotCategorical(torch.tensor(0.7), logits=logits).log_prob(y)
    torch.testing.assert_close(log_relaxed_one_hot(y, logits, 0.7), ref, rtol=1e-4, atol=1e-4)
    # C = 2: the density of y_1 on (0, 1) integrates to 1 (midpoint rule, smooth for tau > 1)
    t = (torch.arange(200_000, dtype=F64) + 0.5) / 200_000
    y2 = torch.stack([t, 1 - t], dim=-1)
    integral = log_relaxed_one_hot(y2, torch.tensor([0.4, -0.2], dtype=F64), 1.5).exp().mean()
    assert abs(float(integral) - 1.0) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_samples_on_the_simplex(dtype: torch.dtype, batch: tuple[int, ...]) -> None:
    logits = torch.randn(*batch, 6, dtype=dtype, generator=gen(3)).requires_grad_(True)
    y = rsample_relaxed_one_hot(logits, 0.5, num_samples=9, generator=gen(4))
    assert y.shape == (9, *batch, 6) and y.dtype == dtype
    assert bool((y >= 0).all())
    torch.testing.assert_close(y.sum(-1), torch.ones((9, *batch), dtype=dtype))
    (grad,) = torch.autograd.grad((y[..., 0] ** 2).sum(), logits)
    assert bool(torch.isfinite(grad).all()) and bool((grad != 0).any())  # differentiable in the logits
    # same generator, same draws
    torch.testing.assert_close(rsample_relaxed_one_hot(logits, 0.5, 9, gen(4)), y, rtol=0, atol=0)


def test_low_temperature_gives_one_hot_draws_with_softmax_probabilities() -> None:
    logits = torch.tensor([1.0, 0.0, -0.5, 0.3], dtype=F64)
    num = 40_000
    y = rsample_relaxed_one_hot(logits, 1e-3, num, gen(5))  # (N, 4)
    hard = y.round()
    nearly_one_hot = (hard.sum(-1) == 1) & ((y - hard).abs().amax(-1) < 1e-2)
    assert nearly_one_hot.double().mean() > 0.99
    freq = hard[nearly_one_hot].mean(0)
    p = torch.softmax(logits, -1)
    se = (p * (1 - p) / nearly_one_hot.sum()).sqrt()
    assert bool(((freq - p).abs() < N_SE * se).all()), (freq, p)


def test_straight_through_forward_is_one_hot_and_gradient_is_the_soft_one() -> None:
    logits = torch.randn(3, 5, dtype=F64, generator=gen(6)).requires_grad_(True)
    y = rsample_relaxed_one_hot(logits, 0.8, 4, gen(7))  # (4, 3, 5)
    z = straight_through(y)
    expected = torch.nn.functional.one_hot(y.argmax(-1), 5).to(F64)
    assert torch.equal(z, expected)  # exactly one-hot, not up to rounding
    w = torch.randn(5, dtype=F64, generator=gen(8))
    (g_st,) = torch.autograd.grad((z * w).sum(), logits, retain_graph=True)
    (g_soft,) = torch.autograd.grad((y * w).sum(), logits)
    torch.testing.assert_close(g_st, g_soft, rtol=0, atol=0)


def test_kl_categorical_against_torch() -> None:
    torch.manual_seed(1)
    a_q, a_p = torch.randn(2, 3, 4, dtype=F64), torch.randn(4, dtype=F64)
    ref = kl_divergence(Categorical(logits=a_q), Categorical(logits=a_p.expand(2, 3, 4)))
    torch.testing.assert_close(kl_categorical(a_q, a_p), ref)
    uniform = kl_categorical(a_q)
    torch.testing.assert_close(uniform, math.log(4) - Categorical(logits=a_q).entropy())
    assert bool((uniform <= math.log(4)).all())
    near_one_hot = torch.tensor([30.0, 0.0, 0.0, 0.0], dtype=F64)
    assert abs(float(kl_categorical(near_one_hot)) - math.log(4)) < 1e-10  # deterministic q: KL = log C


def test_enumerate_elbo_against_brute_force_sum() -> None:
    torch.manual_seed(2)
    num_classes, batch = 3, 4
    log_lik = torch.randn(batch, num_classes, dtype=F64) - 2.0  # log p(x_b | c)
    f = lambda z: (z * log_lik).sum(-1)  # (C, B, C) -> (C, B)
    a_q, a_p = torch.randn(batch, num_classes, dtype=F64), torch.randn(num_classes, dtype=F64)
    q, log_prior = torch.softmax(a_q, -1), torch.log_softmax(a_p, -1)
    brute = torch.zeros(batch, dtype=F64)
    for b in range(batch):
        for c in range(num_classes):
            brute[b] += q[b, c] * (log_lik[b, c] + log_prior[c] - torch.log(q[b, c]))
    torch.testing.assert_close(enumerate_elbo(f, a_q, a_p), brute)
    log_px = torch.logsumexp(log_lik + log_prior, -1)
    torch.testing.assert_close(enumerate_log_marginal(f, a_p.expand(batch, -1)), log_px)
    assert bool((enumerate_elbo(f, a_q, a_p) < log_px).all())
    # with q the exact posterior p(c|x) the bound is tight
    torch.testing.assert_close(enumerate_elbo(f, log_lik + log_prior, a_p), log_px)
    # uniform prior: logits_p=None
    torch.testing.assert_close(enumerate_elbo(f, a_q), enumerate_elbo(f, a_q, torch.zeros(num_classes, dtype=F64)))


def test_enumerate_expectation_gradient_is_exact() -> None:
    table = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    a = torch.tensor([0.2, -0.1, 0.4], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(enumerate_expectation(lambda z: (z * table).sum(-1), a), a)
    p = torch.softmax(a.detach(), -1)
    torch.testing.assert_close(grad, p * (table - (p * table).sum()))  # d/da_c sum_j p_j f_j = p_c (f_c - E f)


@pytest.mark.parametrize("baseline", [None, "mean"])
def test_score_function_gradient_is_unbiased(baseline: str | None) -> None:
    table = torch.tensor([[1.0, -2.0, 0.5, 3.0], [0.0, 1.0, -1.0, 2.0]], dtype=F64)
    f = lambda z: ((z * table).sum(-1) - 0.5) ** 2  # (K, 2, 4) -> (K, 2)
    a = torch.tensor([[0.2, -0.1, 0.4, -1.0], [1.0, 0.0, 0.0, -0.5]], dtype=F64, requires_grad=True)
    (exact,) = torch.autograd.grad(enumerate_expectation(f, a).sum(), a)
    est, se = score_function_grad_categorical(f, a, num_samples=20_000, baseline=baseline, generator=gen(9))
    assert est.shape == se.shape == (2, 4)
    assert bool(((est - exact).abs() < N_SE * se).all()), ((est - exact) / se)
    assert bool((se < 0.05).all())


def test_score_categorical_is_the_gradient_of_log_q() -> None:
    a = torch.tensor([0.3, -1.0, 2.0], dtype=F64, requires_grad=True)
    z = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    (grad,) = torch.autograd.grad((z * torch.log_softmax(a, -1)).sum(), a)
    torch.testing.assert_close(score_categorical(z, a.detach()), grad)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_grad_is_the_mean_of_per_sample_gradients(hard: bool) -> None:
    table = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]], dtype=F64)
    f = lambda z: ((z * table).sum(-1) - 0.5) ** 2
    a = torch.tensor([[0.2, -0.1, 0.4], [1.0, 0.0, -0.5]], dtype=F64)
    est, se = gumbel_softmax_grad(f, a, 0.5, num_samples=50, hard=hard, generator=gen(10))
    leaf = a.clone().requires_grad_(True)
    g = sample_gumbel((50, 2, 3), dtype=F64, generator=gen(10))  # the same noise
    y = torch.softmax((leaf + g) / 0.5, -1)
    (manual,) = torch.autograd.grad(f(straight_through(y) if hard else y).mean(0).sum(), leaf)
    torch.testing.assert_close(est, manual)
    assert se.shape == (2, 3) and bool((se > 0).all())


def test_gumbel_softmax_is_biased_and_score_function_is_not() -> None:
    """A measured bias: at tau = 1 the relaxed gradient of a non-linear f misses the exact one."""
    table = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    f = lambda z: ((z * table).sum(-1) - 0.5) ** 2
    a = torch.tensor([0.2, -0.1, 0.4], dtype=F64, requires_grad=True)
    (exact,) = torch.autograd.grad(enumerate_expectation(f, a), a)
    est, se = gumbel_softmax_grad(f, a, 1.0, num_samples=20_000, generator=gen(11))
    assert bool(((est - exact).abs() > N_SE * se).any())


BAD = [
    ("logits list", lambda: rsample_relaxed_one_hot([0.0, 1.0], 1.0), TypeError, "logits"),
    ("one category", lambda: rsample_relaxed_one_hot(torch.zeros(3, 1), 1.0), ValueError, "logits"),
    ("temperature 0", lambda: rsample_relaxed_one_hot(torch.zeros(3), 0.0), ValueError, "temperature"),
    ("temperature str", lambda: rsample_relaxed_one_hot(torch.zeros(3), "1"), TypeError, "temperature"),
    ("num_samples 0", lambda: rsample_relaxed_one_hot(torch.zeros(3), 1.0, 0), ValueError, "num_samples"),
    ("generator int", lambda: rsample_relaxed_one_hot(torch.zeros(3), 1.0, 1, 42), TypeError, "generator"),
    ("y zero", lambda: log_relaxed_one_hot(torch.tensor([0.0, 1.0]), torch.zeros(2), 1.0), ValueError, "y"),
    ("y off simplex", lambda: log_relaxed_one_hot(torch.tensor([0.5, 0.6]), torch.zeros(2), 1.0), ValueError, "y"),
    ("y event", lambda: log_relaxed_one_hot(torch.full((3,), 1 / 3), torch.zeros(2), 1.0), ValueError, "y"),
    ("y dtype", lambda: log_relaxed_one_hot(torch.full((2,), 0.5, dtype=F64), torch.zeros(2), 1.0), TypeError, "y"),
    ("y_soft nan", lambda: straight_through(torch.tensor([float("nan"), 1.0])), ValueError, "y_soft"),
    ("logits_p event", lambda: kl_categorical(torch.zeros(3), torch.zeros(4)), ValueError, "logits_p"),
    ("f shape", lambda: enumerate_expectation(lambda z: z, torch.zeros(3)), ValueError, "f"),
    ("f callable", lambda: enumerate_expectation(1.0, torch.zeros(3)), TypeError, "f"),
    ("K = 1", lambda: score_function_grad_categorical(lambda z: z.sum(-1), torch.zeros(3), num_samples=1), ValueError, "num_samples"),
    ("f not differentiable", lambda: gumbel_softmax_grad(lambda z: z.argmax(-1).double(), torch.zeros(3, dtype=F64), 1.0, num_samples=2), ValueError, "f"),
]


@pytest.mark.parametrize("kind, call, error, name", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs(kind: str, call, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        call()
