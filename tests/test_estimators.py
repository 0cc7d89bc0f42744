"""Tests of :mod:`vae_edu.estimators`: Monte Carlo means and their standard errors, the Monte
Carlo KL and the Monte Carlo ELBO, checked against exact values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bad_inputs import BAD

from vae_edu.distributions import log_normal_diag, log_standard_normal, reparameterize
from vae_edu.estimators import (
    effective_sample_size,
    mc_elbo,
    importance_log_mean,
    kl_monte_carlo,
    log_mean_exp,
    mc_mean,
)
from vae_edu.kl import kl_normal_normal, kl_normal_std_normal
from vae_edu.exact import LinearGaussian

D = 3
F32, F64 = torch.float32, torch.float64


# ------------------------------------------------------------------------------ mc_mean
def test_mc_mean_values_match_numpy(batch_shape, dtype, gen) -> None:
    values = torch.randn((50, *batch_shape), generator=gen, dtype=dtype) * 3 + 1
    mean, stderr = mc_mean(values)
    assert mean.shape == stderr.shape == batch_shape
    assert mean.dtype == stderr.dtype == dtype
    v = values.double().numpy()
    np.testing.assert_allclose(mean.double().numpy(), v.mean(0), rtol=1e-6 if dtype == F32 else 1e-13)
    np.testing.assert_allclose(
        stderr.double().numpy(), v.std(0, ddof=1) / math.sqrt(50), rtol=1e-5 if dtype == F32 else 1e-12
    )


def test_mc_mean_two_samples() -> None:
    mean, stderr = mc_mean(torch.tensor([1.0, 3.0], dtype=F64))
    assert mean.item() == 2.0
    assert stderr.item() == pytest.approx(1.0, rel=1e-15)  # s = sqrt(2), / sqrt(2)


def test_mc_mean_constant_has_zero_stderr(dtype) -> None:
    mean, stderr = mc_mean(torch.full((10, 2), 0.25, dtype=dtype))
    assert bool((mean == 0.25).all()) and bool((stderr == 0).all())


def test_mc_mean_stderr_is_calibrated(gen) -> None:
    """Over 2000 repeated experiments the error is within 2 standard errors ~95% of the time,
    and the standard errors have the right size, $\\sigma/\\sqrt N$."""
    values = 1.5 + 2.0 * torch.randn(100, 2000, generator=gen, dtype=F64)  # 2000 experiments of N = 100
    mean, stderr = mc_mean(values)
    coverage = ((mean - 1.5).abs() <= 2 * stderr).double().mean().item()
    assert 0.93 <= coverage <= 0.97, coverage
    assert stderr.mean().item() == pytest.approx(2.0 / 10.0, rel=0.02)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (torch.zeros(1, 3), ValueError),  # one sample: no standard error
        (torch.zeros(1), ValueError),
        (torch.zeros(0, 3), ValueError),
        (torch.tensor(1.0), ValueError),  # no sample dimension
        (torch.tensor([1.0, float("nan")]), ValueError),
        (torch.tensor([1.0, float("inf")]), ValueError),
        (torch.arange(5), TypeError),
        ([1.0, 2.0], TypeError),
    ],
)
def test_mc_mean_bad_inputs(values, error) -> None:
    with pytest.raises(error, match=r"\bvalues\b"):
        mc_mean(values)


# -------------------------------------------------------------------------- kl_monte_carlo
def _params(shape, dtype, gen, shift: float = 0.0):
    mu = (shift + torch.randn(shape, generator=gen, dtype=F64)).to(dtype)
    log_var = (torch.rand(shape, generator=gen, dtype=F64) * 2 - 1).to(dtype)
    return mu, log_var


def test_kl_monte_carlo_is_reproducible_and_shaped(batch_shape, dtype) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, torch.Generator().manual_seed(0))
    a = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(5))
    b = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(5))
    c = kl_monte_carlo(mu, log_var, num_samples=100, generator=torch.Generator().manual_seed(6))
    for t in (*a, *c):
        assert t.shape == batch_shape and t.dtype == dtype
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert bool((a[1] > 0).all())


def test_kl_monte_carlo_is_the_mean_of_log_ratios(dtype) -> None:
    """The estimator is exactly ``mc_mean(log q(z_n) - log p(z_n))`` with ``z_n = mu + std * eps_n``."""
    mu, log_var = _params((2, D), dtype, torch.Generator().manual_seed(0))
    mu_p, log_var_p = _params((2, D), dtype, torch.Generator().manual_seed(1))
    estimate, stderr = kl_monte_carlo(
        mu, log_var, mu_p, log_var_p, num_samples=64, generator=torch.Generator().manual_seed(9)
    )
    eps = torch.randn((64, 2, D), generator=torch.Generator().manual_seed(9), dtype=dtype)
    z = mu + torch.exp(0.5 * log_var) * eps
    ref_mean, ref_se = mc_mean(log_normal_diag(z, mu, log_var) - log_normal_diag(z, mu_p, log_var_p))
    torch.testing.assert_close(estimate, ref_mean)
    torch.testing.assert_close(stderr, ref_se)
    # default p is N(0, I)
    estimate0, _ = kl_monte_carlo(mu, log_var, num_samples=64, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(estimate0, mc_mean(log_normal_diag(z, mu, log_var) - log_standard_normal(z))[0])


def test_kl_monte_carlo_zero_variance_at_q_equals_p(dtype) -> None:
    mu, log_var = _params((4, D), dtype, torch.Generator().manual_seed(0))
    estimate, stderr = kl_monte_carlo(mu, log_var, mu, log_var, num_samples=100)
    assert bool((estimate == 0).all()) and bool((stderr == 0).all())


def test_kl_monte_carlo_broadcasts_q_against_p(dtype, assert_mc_agrees) -> None:
    """One $q$ of shape ``(D,)`` against four $p$'s of shape ``(4, D)``, and vice versa."""
    gen = torch.Generator().manual_seed(0)
    mu_q, log_var_q = _params((D,), dtype, gen)
    mu_p, log_var_p = _params((4, D), dtype, gen, shift=3.0)
    estimate, stderr = kl_monte_carlo(mu_q, log_var_q, mu_p, log_var_p, num_samples=200_000, generator=gen)
    assert estimate.shape == (4,)
    assert_mc_agrees(kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), estimate, stderr)
    estimate, stderr = kl_monte_carlo(mu_p, log_var_p, mu_q, log_var_q, num_samples=200_000, generator=gen)
    assert_mc_agrees(kl_normal_normal(mu_p, log_var_p, mu_q, log_var_q), estimate, stderr)
    # (B, D) means with one shared (D,) log-variance
    estimate, stderr = kl_monte_carlo(mu_p, log_var_q, num_samples=200_000, generator=gen)
    assert_mc_agrees(kl_normal_std_normal(mu_p, log_var_q), estimate, stderr)


@pytest.mark.parametrize("num_samples", [1, 0, -5, 2.0, 1e4, True, "100", None])
def test_kl_monte_carlo_bad_num_samples(num_samples) -> None:
    with pytest.raises((ValueError, TypeError), match=r"\bnum_samples\b"):
        kl_monte_carlo(torch.zeros(D), torch.zeros(D), num_samples=num_samples)


@pytest.mark.parametrize("given", ["mu_p", "log_var_p"])
def test_kl_monte_carlo_needs_both_p_parameters(given: str) -> None:
    with pytest.raises(ValueError, match=r"mu_p and log_var_p must be given together"):
        kl_monte_carlo(torch.zeros(D), torch.zeros(D), **{given: torch.zeros(D)})




@pytest.mark.parametrize(("kind", "make", "error"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize(
    ("arg", "with_p"),
    [("mu_q", True), ("log_var_q", True), ("mu_p", True), ("log_var_p", True), ("mu_q", False), ("log_var_q", False)],
)
def test_kl_monte_carlo_bad_inputs_name_the_argument(arg, with_p, kind, make, error) -> None:
    kwargs = {"mu_q": torch.zeros(2, D), "log_var_q": torch.zeros(2, D)}
    if with_p:
        kwargs |= {"mu_p": torch.zeros(2, D), "log_var_p": torch.zeros(2, D)}
    kwargs[arg] = make()
    with pytest.raises(error, match=rf"\b{arg}\b"):
        kl_monte_carlo(**kwargs, num_samples=10)


# ------------------------------------------------------------------------ mc_elbo
def _model(dtype, orthogonal: bool = False) -> LinearGaussian:
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(5, 2, generator=gen, dtype=F64)
    if orthogonal:
        W = torch.linalg.qr(W).Q * torch.tensor([2.0, 0.7], dtype=F64)  # orthogonal columns
    b = torch.randn(5, generator=gen, dtype=F64)
    return LinearGaussian(W.to(dtype), b.to(dtype), 0.5)


def test_elbo_monte_carlo_is_the_mean_of_the_summed_terms(dtype, gen) -> None:
    a, b, c = (torch.randn(20, 4, generator=gen, dtype=dtype) for _ in range(3))
    estimate, stderr = mc_elbo(a, b, c)
    ref = mc_mean(a + b - c)
    torch.testing.assert_close(estimate, ref[0])
    torch.testing.assert_close(stderr, ref[1])
    assert estimate.shape == (4,) and estimate.dtype == dtype


def test_elbo_monte_carlo_vs_exact_elbo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    """On the linear-Gaussian model the exact ELBO is known: the estimate agrees to 1%."""
    model = _model(dtype)
    x = model.sample(max(1, math.prod(batch_shape)), generator=gen).reshape(*batch_shape, 5)
    mu_post, cov_post = model.posterior(x)
    mu_q, log_var_q = _params((*batch_shape, 2), dtype, gen)  # q: a perturbed posterior
    mu_q = mu_post + 0.3 * mu_q
    log_var_q = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1)) + 0.5 * log_var_q
    num = 400_000 // max(1, math.prod(batch_shape))
    eps = torch.randn((num, *batch_shape, 2), generator=gen, dtype=dtype)
    z = reparameterize(mu_q, log_var_q, eps)  # (K, *batch, 2)
    estimate, stderr = mc_elbo(
        model.log_p_x_given_z(x, z), log_standard_normal(z), log_normal_diag(z, mu_q, log_var_q)
    )
    assert estimate.shape == batch_shape and estimate.dtype == dtype
    assert_mc_agrees(model.elbo(x, mu_q, log_var_q), estimate, stderr)


def test_elbo_monte_carlo_at_the_exact_posterior(gen) -> None:
    """With $q = p(z|x)$ every sample gives $\\log p(x)$ exactly: zero variance, no gap."""
    model = _model(F64, orthogonal=True)
    x = model.sample(3, generator=gen)
    mu_post, cov_post = model.posterior(x)
    log_var_post = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    z = reparameterize(mu_post, log_var_post, torch.randn(1000, 3, 2, generator=gen, dtype=F64))
    estimate, stderr = mc_elbo(
        model.log_p_x_given_z(x, z), log_standard_normal(z), log_normal_diag(z, mu_post, log_var_post)
    )
    torch.testing.assert_close(estimate, model.log_marginal(x), rtol=0, atol=1e-10)
    assert bool((stderr < 1e-10).all())


@pytest.mark.parametrize("arg", ["log_p_x_given_z", "log_p_z", "log_q_z"])
@pytest.mark.parametrize(
    ("kind", "make", "error"),
    [
        ("nan", lambda: torch.tensor([0.0, float("nan")]), ValueError),
        ("inf", lambda: torch.tensor([0.0, float("-inf")]), ValueError),
        ("list", lambda: [0.0, 0.0], TypeError),
        ("int", lambda: torch.zeros(2, dtype=torch.int64), TypeError),
        ("shape", lambda: torch.zeros(3), ValueError),
        ("broadcastable shape", lambda: torch.zeros(2, 1), ValueError),
        ("0-dim", lambda: torch.tensor(0.0), ValueError),
        ("one sample", lambda: torch.zeros(1), ValueError),
    ],
)
def test_elbo_monte_carlo_bad_inputs(arg, kind, make, error) -> None:
    kwargs = {"log_p_x_given_z": torch.zeros(2), "log_p_z": torch.zeros(2), "log_q_z": torch.zeros(2)}
    kwargs[arg] = make()
    if kind == "one sample":
        kwargs = {k: torch.zeros(1) for k in kwargs}
    with pytest.raises(error, match=rf"\b{arg}\b"):
        mc_elbo(**kwargs)


@pytest.mark.parametrize("arg", ["log_p_z", "log_q_z"])
def test_elbo_monte_carlo_rejects_mixed_dtypes(arg) -> None:
    kwargs = {"log_p_x_given_z": torch.zeros(2), "log_p_z": torch.zeros(2), "log_q_z": torch.zeros(2)}
    kwargs[arg] = torch.zeros(2, dtype=F64)
    with pytest.raises(TypeError, match=rf"\b{arg}\b"):
        mc_elbo(**kwargs)


# ------------------------------------------------------------------ log-mean-exp and importance weights
def test_log_mean_exp_matches_direct_formula(dtype, gen) -> None:
    log_w = torch.randn(7, 3, generator=gen, dtype=dtype)
    expected = log_w.exp().mean(0).log()
    torch.testing.assert_close(log_mean_exp(log_w), expected)
    torch.testing.assert_close(log_mean_exp(log_w.T, dim=1), expected)


def test_log_mean_exp_is_stable_far_below_zero(dtype) -> None:
    """Log-likelihoods of real data are hundreds of nats below zero: exp() underflows, we do not."""
    log_w = torch.tensor([-1000.0, -1000.0 + math.log(3.0)], dtype=dtype)
    assert log_mean_exp(log_w).item() == pytest.approx(-1000.0 + math.log(2.0), abs=1e-4)


def test_importance_log_mean_stderr_is_relative_stderr(gen) -> None:
    w = torch.rand(400, 2, generator=gen, dtype=F64) + 0.5
    log_p, se = importance_log_mean(w.log() - 700.0)  # shifting every weight changes log p, not se
    mean, stderr = mc_mean(w)
    torch.testing.assert_close(log_p, mean.log() - 700.0)
    torch.testing.assert_close(se, stderr / mean)


def test_importance_log_mean_is_unbiased_for_p(gen) -> None:
    """Proposal N(0, 2^2) for the target N(0, 1) (normaliser 1): p_hat has mean 1 within its error."""
    z = 2.0 * torch.randn(20_000, generator=gen, dtype=F64)
    log_w = log_standard_normal(z[:, None]) - log_normal_diag(z[:, None], torch.zeros(1, dtype=F64), torch.full((1,), math.log(4.0), dtype=F64))
    log_p, se = importance_log_mean(log_w)
    assert abs(log_p.item()) <= 4 * se.item() and se.item() < 0.01


def test_effective_sample_size_limits(dtype) -> None:
    assert effective_sample_size(torch.zeros(10, dtype=dtype)).item() == pytest.approx(10.0, rel=1e-6)
    one_dominates = torch.tensor([0.0, -200.0, -200.0, -200.0], dtype=dtype)
    assert effective_sample_size(one_dominates).item() == pytest.approx(1.0, rel=1e-6)
    two_equal = torch.tensor([[3.0], [3.0], [-500.0]], dtype=dtype)
    assert effective_sample_size(two_equal).shape == (1,)
    assert effective_sample_size(two_equal).item() == pytest.approx(2.0, rel=1e-6)


@pytest.mark.parametrize("fn", [log_mean_exp, importance_log_mean, effective_sample_size])
@pytest.mark.parametrize("kind", ["nan", "list", "int", "0-dim"])
def test_importance_helpers_reject_bad_log_w(fn, kind) -> None:
    make, error = {k: (m, e) for k, m, e in BAD}[kind]
    with pytest.raises(error, match="log_w"):
        fn(make())


def test_importance_log_mean_needs_two_samples() -> None:
    with pytest.raises(ValueError, match="log_w"):
        importance_log_mean(torch.zeros(1, 3))


@pytest.mark.parametrize("fn", [log_mean_exp, importance_log_mean, effective_sample_size])
@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_importance_helpers_refuse_an_empty_sample_axis_by_name(fn, shape) -> None:
    with pytest.raises(ValueError, match=r"log_w has no samples"):
        fn(torch.empty(shape))


def test_log_mean_exp_refuses_an_empty_axis_at_dim() -> None:
    with pytest.raises(ValueError, match=r"log_w has no samples.*dim=1"):
        log_mean_exp(torch.empty(3, 0), dim=1)
    with pytest.raises(ValueError, match=r"\bdim\b"):
        log_mean_exp(torch.zeros(3), dim=1)


@pytest.mark.parametrize("fn", [log_mean_exp, importance_log_mean, effective_sample_size])
@pytest.mark.parametrize("value, name", [(float("inf"), r"\+inf"), (float("nan"), "NaN")])
def test_importance_helpers_refuse_plus_inf_and_nan(fn, value, name) -> None:
    with pytest.raises(ValueError, match=rf"log_w contains {name}"):
        fn(torch.tensor([0.0, value, 1.0]))


def test_log_mean_exp_takes_minus_inf_as_a_zero_weight(dtype) -> None:
    """A -inf log-weight is a weight of 0: it counts in K, adds nothing, and agrees with torch.logsumexp."""
    ninf = float("-inf")
    log_w = torch.tensor([[0.0, ninf], [math.log(3.0), ninf], [ninf, ninf]], dtype=dtype)  # (K=3, 2)
    got = log_mean_exp(log_w)
    assert got[0].item() == pytest.approx(math.log(4.0 / 3.0), rel=1e-6)
    assert got[1].item() == ninf  # every weight zero: log 0
    torch.testing.assert_close(got, torch.logsumexp(log_w, dim=0) - math.log(3.0))
    x = log_w.clone().requires_grad_()
    log_mean_exp(x)[0].backward()  # finite gradient; zero for the zero weight
    assert x.grad[:, 0].tolist() == pytest.approx([0.25, 0.75, 0.0])


def test_importance_log_mean_with_zero_weights(dtype) -> None:
    """-inf entries are zero weights in the standard error too; all zero gives log 0 and a NaN error."""
    ninf = float("-inf")
    w = torch.tensor([1.0, 3.0, 0.0, 0.0], dtype=F64)
    log_p, se = importance_log_mean(torch.tensor([0.0, math.log(3.0), ninf, ninf], dtype=dtype))
    mean, stderr = mc_mean(w)
    assert log_p.item() == pytest.approx(math.log(mean.item()), rel=1e-6)
    assert se.item() == pytest.approx((stderr / mean).item(), rel=1e-6)
    log_p, se = importance_log_mean(torch.full((4, 2), ninf, dtype=dtype))
    assert log_p.tolist() == [ninf, ninf] and bool(torch.isnan(se).all())
    ess = effective_sample_size(torch.tensor([[0.0, ninf], [0.0, ninf], [ninf, ninf]], dtype=dtype))
    assert ess[0].item() == pytest.approx(2.0) and math.isnan(ess[1].item())


@pytest.mark.parametrize("generator", [42, "seed", torch.tensor(1)])
def test_kl_monte_carlo_refuses_a_generator_that_is_not_one(generator) -> None:
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator"):
        kl_monte_carlo(torch.zeros(2), torch.zeros(2), generator=generator)


# ------------------------------------------------------------------ iwae_bound and log_likelihood
from torch import nn  # noqa: E402

from vae_edu.estimators import iwae_bound, log_likelihood  # noqa: E402
from vae_edu.models import VAE, VAEConfig  # noqa: E402


def _linear_vae(lg: LinearGaussian, var_scale: float = 1.0) -> VAE:
    """A VAE whose decoder *is* the linear-Gaussian model and whose encoder outputs the exact
    posterior mean and the posterior's marginal variances times ``var_scale``: its log p(x) is
    known exactly (``lg.log_marginal``)."""
    x_dim, z_dim = lg.x_dim, lg.z_dim
    config = VAEConfig(x_dim=x_dim, z_dim=z_dim, hidden=2, likelihood="gaussian", decoder_log_var=math.log(float(lg.sigma2)))
    model = VAE.from_config(config).double()
    model.decoder.log_var_p.fill_(math.log(float(lg.sigma2)))  # exact in float64, not a float32 value widened
    decoder = nn.Linear(z_dim, x_dim).double()
    encoder = nn.Linear(x_dim, 2 * z_dim).double()
    m = lg.W.T @ lg.W + lg.sigma2 * torch.eye(z_dim, dtype=F64)
    gain = torch.linalg.solve(m, lg.W.T)  # mu_post = gain (x - b), (z_dim, x_dim)
    post_var = torch.diagonal(lg.sigma2 * torch.linalg.inv(m))
    with torch.no_grad():
        decoder.weight.copy_(lg.W)
        decoder.bias.copy_(lg.b)
        encoder.weight.zero_()
        encoder.weight[:z_dim] = gain
        encoder.bias[:z_dim] = -gain @ lg.b
        encoder.bias[z_dim:] = torch.log(post_var * var_scale)
    model.decoder.net = decoder
    model.encoder.net = encoder
    return model


def _lg(orthogonal: bool) -> LinearGaussian:
    gen = torch.Generator().manual_seed(7)
    W = torch.randn(6, 2, generator=gen, dtype=F64)
    if orthogonal:  # orthogonal columns: the exact posterior is diagonal, so q can equal it
        W = torch.linalg.qr(W).Q * torch.tensor([1.5, 0.8], dtype=F64)
    return LinearGaussian(W, torch.randn(6, generator=gen, dtype=F64), 0.3)


def test_linear_vae_decoder_is_the_linear_gaussian_model(gen) -> None:
    lg = _lg(orthogonal=False)
    model = _linear_vae(lg)
    x, z = lg.sample(4, generator=gen), torch.randn(3, 4, 2, generator=gen, dtype=F64)
    torch.testing.assert_close(model.decoder.log_prob(x, z), lg.log_p_x_given_z(x, z), rtol=1e-12, atol=1e-12)
    mu_post, _ = lg.posterior(x)
    torch.testing.assert_close(model.encoder(x)[0], mu_post, rtol=1e-12, atol=1e-12)


def test_log_likelihood_is_exact_at_the_exact_posterior(gen) -> None:
    """With q = p(z|x) every importance weight is p(x): the estimate is exact for any K, zero stderr."""
    lg = _lg(orthogonal=True)
    model = _linear_vae(lg)
    x = lg.sample(5, generator=gen)
    exact = lg.log_marginal(x)
    log_p, stderr = log_likelihood(model, x, 64, chunk_size=50, generator=gen, return_stderr=True)
    torch.testing.assert_close(log_p, exact, rtol=0, atol=1e-10)
    assert bool((stderr < 1e-6).all())
    torch.testing.assert_close(iwae_bound(model, x, 3, generator=gen).detach(), exact, rtol=0, atol=1e-10)
    log_w = model.log_importance_weights(x, num_samples=10, generator=gen).detach()
    torch.testing.assert_close(log_w, exact.expand(10, 5), rtol=0, atol=1e-10)


def test_log_likelihood_matches_the_exact_marginal(gen) -> None:
    """A diagonal q that is not the posterior: the K = 20000 estimate agrees with the exact log p(x)
    within 4 of its own (delta-method) standard errors, and those are below 0.01 nats."""
    lg = _lg(orthogonal=False)
    model = _linear_vae(lg, var_scale=1.5)
    x = lg.sample(6, generator=gen)
    exact = lg.log_marginal(x)
    log_p, stderr = log_likelihood(model, x, 20_000, chunk_size=8192, generator=gen, return_stderr=True)
    assert log_p.shape == stderr.shape == (6,)
    assert bool((stderr < 0.01).all()) and bool((stderr > 0).all())
    err = (log_p - exact).abs()
    assert bool((err <= 4 * stderr).all()), (err, stderr)
    # the ELBO of this q is exact too (the linear-Gaussian chapter): the VAE's Monte Carlo ELBO agrees
    mu_q, log_var_q = model.encoder(x)
    with torch.no_grad():
        per_draw = model.elbo(x.repeat(20_000, 1), generator=gen).view(20_000, 6)
    estimate, se = mc_mean(per_draw)
    assert bool(((estimate - lg.elbo(x, mu_q, log_var_q).detach()).abs() <= 4 * se).all())
    assert bool((lg.elbo(x, mu_q, log_var_q) < exact - 0.01).all())  # a real gap


def test_bounds_are_ordered_and_tighten_with_k(gen) -> None:
    r"""$\mathrm{ELBO} = \mathcal L_1 < \mathcal L_5 < \mathcal L_{50} < \log p(x)$, each gap larger than 4
    standard errors of the difference (averages over 2000 independent draws per example)."""
    lg = _lg(orthogonal=False)
    model = _linear_vae(lg, var_scale=3.0)
    x = lg.sample(3, generator=gen)
    exact = lg.log_marginal(x)
    reps = 2000
    with torch.no_grad():
        means = {}
        for k in (1, 5, 50):
            draws = iwae_bound(model, x.repeat(reps, 1), k, generator=gen).view(reps, 3)
            means[k] = mc_mean(draws)
        elbo = mc_mean(model.elbo(x.repeat(reps, 1), generator=gen).view(reps, 3))
    # L_1 and the ELBO estimate the same number
    assert bool(((means[1][0] - elbo[0]).abs() <= 4 * torch.sqrt(means[1][1] ** 2 + elbo[1] ** 2)).all())
    for small, large in ((1, 5), (5, 50)):
        gap = means[large][0] - means[small][0]
        assert bool((gap > 4 * torch.sqrt(means[large][1] ** 2 + means[small][1] ** 2)).all()), (small, large, gap)
    assert bool((means[50][0] < exact).all())
    log_p = log_likelihood(model, x, 5000, generator=gen)
    assert bool((log_p > means[50][0] + 4 * means[50][1]).all())
    assert bool(((log_p - exact).abs() < 0.05).all())


def _small_vae(dtype=F64) -> VAE:
    torch.manual_seed(11)
    return VAE.from_config(VAEConfig(x_dim=5, z_dim=2, hidden=8, num_levels=3)).to(dtype)


@pytest.mark.parametrize(("num_samples", "chunk_size"), [(6, 13), (6, 6), (6, 1000), (40, 16), (40, 7), (7, 1)])
def test_log_likelihood_chunks_combine_exactly(num_samples: int, chunk_size: int) -> None:
    """The chunked estimate equals one log-mean-exp over all the weights the chunks drew: the same
    calls to ``log_importance_weights`` with the same generator, concatenated."""
    model = _small_vae()
    x = torch.randint(0, 3, (5, 5), generator=torch.Generator().manual_seed(0)).double()
    got = log_likelihood(model, x, num_samples, chunk_size=chunk_size, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        if num_samples <= chunk_size:  # whole examples per chunk
            step = chunk_size // num_samples
            log_w = torch.cat([model.log_importance_weights(x[i : i + step], num_samples=num_samples, generator=gen) for i in range(0, 5, step)], 1)
        else:  # one example at a time, its samples in near-equal pieces
            pieces = -(-num_samples // chunk_size)
            sizes = [num_samples // pieces + (j < num_samples % pieces) for j in range(pieces)]
            assert max(sizes) <= chunk_size and sum(sizes) == num_samples
            log_w = torch.stack(
                [torch.cat([model.log_importance_weights(x[i : i + 1], num_samples=s, generator=gen)[:, 0] for s in sizes]) for i in range(5)], 1
            )
    assert log_w.shape == (num_samples, 5)
    torch.testing.assert_close(got, log_mean_exp(log_w), rtol=0, atol=1e-12)
    # and the stderr is the delta-method one of importance_log_mean
    got_p, got_se = log_likelihood(
        model, x, num_samples, chunk_size=chunk_size, generator=torch.Generator().manual_seed(4), return_stderr=True
    )
    ref_p, ref_se = importance_log_mean(log_w)
    torch.testing.assert_close(got_p, ref_p, rtol=0, atol=1e-12)
    torch.testing.assert_close(got_se, ref_se, rtol=1e-9, atol=1e-12)


def test_log_likelihood_chunk_sizes_agree_statistically() -> None:
    model = _small_vae()
    x = torch.randint(0, 3, (4, 5), generator=torch.Generator().manual_seed(0)).double()
    a, se_a = log_likelihood(model, x, 4000, chunk_size=10_000, generator=torch.Generator().manual_seed(1), return_stderr=True)
    b, se_b = log_likelihood(model, x, 4000, chunk_size=300, generator=torch.Generator().manual_seed(2), return_stderr=True)
    assert bool(((a - b).abs() <= 4 * torch.sqrt(se_a**2 + se_b**2)).all())


def test_log_likelihood_returns_a_plain_tensor(gen) -> None:
    model = _small_vae(F32)
    x = torch.randint(0, 3, (3, 5), generator=gen).float()
    out = log_likelihood(model, x, 10, generator=gen)
    assert out.shape == (3,) and out.dtype == F32 and not out.requires_grad and not out.is_inference()
    (out * torch.ones(3, requires_grad=True)).sum().backward()  # usable in ordinary autograd code
    bound = iwae_bound(model, x, 4, generator=gen)
    assert bound.requires_grad  # the training objective keeps its gradient
    bound.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    a = log_likelihood(model, x, 10, generator=torch.Generator().manual_seed(3))
    b = log_likelihood(model, x, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 2.5}, TypeError, "num_samples"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": True}, TypeError, "chunk_size"),
        ({"num_samples": 1, "return_stderr": True}, ValueError, "num_samples"),
        ({"x": [[0.0] * 5]}, TypeError, "x"),
        ({"x": torch.full((2, 5), 0.5)}, ValueError, "x"),  # not a level: the model says so
        ({"x": torch.zeros(2, 4)}, ValueError, "x"),
        ({"x": (torch.zeros(2, 5), torch.zeros(3))}, ValueError, "x"),
    ],
)
def test_log_likelihood_bad_inputs(kwargs: dict, error: type, name: str) -> None:
    model = _small_vae(F32)
    args = {"x": torch.zeros(2, 5), "num_samples": 3} | kwargs
    with pytest.raises(error, match=rf"\b{name}\b"):
        log_likelihood(model, **args)


@pytest.mark.parametrize("num_samples, error", [(0, ValueError), (-1, ValueError), (1.0, TypeError), (True, TypeError)])
def test_iwae_bound_bad_num_samples(num_samples, error) -> None:
    with pytest.raises(error, match=r"\bnum_samples\b"):
        iwae_bound(_small_vae(F32), torch.zeros(2, 5), num_samples)


def test_iwae_bound_takes_num_samples_by_name(gen) -> None:
    model = _small_vae(F32)
    x = torch.randint(0, 3, (3, 5), generator=gen).float()
    a = iwae_bound(model, x, num_samples=4, generator=torch.Generator().manual_seed(2))
    b = iwae_bound(model, x, 4, generator=torch.Generator().manual_seed(2))
    assert a.shape == (3,) and torch.equal(a, b)


@pytest.mark.parametrize("fn", ["iwae_bound", "log_likelihood"])
def test_importance_estimators_refuse_a_generator_that_is_not_one(fn: str) -> None:
    fns = {"iwae_bound": iwae_bound, "log_likelihood": log_likelihood}
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator"):
        fns[fn](_small_vae(F32), torch.zeros(2, 5), num_samples=3, generator=42)


def test_log_likelihood_scores_a_model_in_evaluation_mode() -> None:
    """Dropout is off while it is evaluated, whatever mode the model was in, and the mode is restored."""
    torch.manual_seed(11)
    model = VAE.from_config(VAEConfig(x_dim=5, z_dim=2, hidden=8, num_levels=3, decoder_dropout=0.5))
    x = torch.randint(0, 3, (3, 5), generator=torch.Generator().manual_seed(0)).float()
    reference = log_likelihood(model, x, 20, generator=torch.Generator().manual_seed(1))
    model.train()
    again = log_likelihood(model, x, 20, generator=torch.Generator().manual_seed(1))
    assert model.training
    assert torch.equal(reference, again)


@pytest.mark.parametrize("fn", ["iwae_bound", "log_likelihood"])
def test_a_model_without_importance_weights_is_refused_by_name(fn: str) -> None:
    from vae_edu.models import GAN, GANConfig

    gan = GAN(GANConfig(x_dim=5, z_dim=2, hidden=4))
    with pytest.raises(TypeError, match=r"model must have a log_importance_weights method.*GAN"):
        if fn == "iwae_bound":
            iwae_bound(gan, torch.zeros(2, 5), 3)
        else:
            log_likelihood(gan, torch.zeros(2, 5), num_samples=3)


# ---------------------------------------------------------------------------- within k standard errors
from vae_edu.estimators import assert_within_se, mc_mean, z_score  # noqa: E402


def test_z_score_is_the_error_in_standard_errors() -> None:
    z = z_score(torch.tensor([2.0, 0.0, 1.0]), 1.0, torch.tensor([0.5, 0.25, 0.0]))
    assert z.dtype == torch.float64 and z[:2].tolist() == [2.0, -4.0] and math.isnan(z[2])
    assert float(z_score(np.float64(3.0), torch.tensor(2.0), 0.5)) == 2.0


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_within_standard_errors_is_the_strict_k_se_check(shape) -> None:
    exact = torch.zeros(shape, dtype=torch.float64)
    stderr = torch.full(shape, 0.1, dtype=torch.float64)
    assert_within_se(exact + 0.39, exact, stderr, 4)
    assert_within_se(exact - 0.39, exact, stderr, 4)
    for off in (0.41, -0.41):
        estimate = exact.clone()
        estimate.view(-1)[-1] = off  # one element off, the last
        with pytest.raises(AssertionError, match=r"[+-]4\.10 standard errors") as info:
            assert_within_se(estimate, exact, stderr, 4, what="the KL")
        assert str(info.value).startswith("the KL") and "fewer than 4" in str(info.value)
        if shape:
            assert str(tuple(i - 1 for i in shape)) in str(info.value)  # where: the last element
    with pytest.raises(AssertionError):  # a zero standard error: only an exact match would do, and < fails
        assert_within_se(1.0, 1.0, 0.0, 4)


def test_within_standard_errors_on_a_monte_carlo_mean() -> None:
    # E[z^2] = 1 under N(0, 1): the estimate lands within 4 se; a wrong target 1.5 does not
    gen = torch.Generator().manual_seed(0)
    estimate, stderr = mc_mean(torch.randn(10_000, 3, generator=gen, dtype=torch.float64) ** 2)
    assert_within_se(estimate, 1.0, stderr, 4)
    with pytest.raises(AssertionError):
        assert_within_se(estimate, 1.5, stderr, 4)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"estimate": "1"}, TypeError, "estimate"),
        ({"exact": object()}, TypeError, "exact"),
        ({"stderr": -0.1}, ValueError, "stderr"),
        ({"stderr": float("nan")}, ValueError, "stderr"),
        ({"n_se": 0}, ValueError, "n_se"),
        ({"n_se": True}, ValueError, "n_se"),
        ({"n_se": math.inf}, ValueError, "n_se"),
    ],
)
def test_within_standard_errors_bad_inputs_name_the_argument(kwargs, error, name) -> None:
    with pytest.raises(error, match=name):
        assert_within_se(**({"estimate": 1.0, "exact": 1.0, "stderr": 0.1, "n_se": 4} | kwargs))


def test_elbo_monte_carlo_is_the_deprecated_name_of_mc_elbo(gen) -> None:
    from vae_edu.estimators import elbo_monte_carlo

    terms = [torch.randn(5, 3, generator=gen, dtype=torch.float64) for _ in range(3)]
    with pytest.warns(DeprecationWarning, match="call mc_elbo"):
        old = elbo_monte_carlo(*terms)
    for a, b in zip(old, mc_elbo(*terms)):
        assert torch.equal(a, b)
    assert "Deprecated" in elbo_monte_carlo.__doc__ and "mc_elbo" in elbo_monte_carlo.__doc__
