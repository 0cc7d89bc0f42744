"""Tests of :mod:`vae_edu.gradients`: the score-function and pathwise estimators against exact
gradients (closed forms differentiated by autograd), their exact identities, their variances
where those are known in closed form, shapes, dtypes and bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject
from torch.distributions import Bernoulli, Independent, Normal

from vae_edu.distributions import reparameterize
from vae_edu.estimators import mc_mean
from vae_edu.gradients import (
    GradientEstimate,
    gradient_snr,
    pathwise_grad,
    score_bernoulli,
    score_function_estimate,
    score_function_grad,
    score_normal_diag,
)

D = 3
F32, F64 = torch.float32, torch.float64
# f(z) = exp(a^T z): a moderate a keeps the tails of f(z) * score light enough for 4-standard-error checks
A = torch.tensor([0.6, -0.5, 0.6], dtype=F64)


def _params(shape, dtype, gen):
    """Means with |mu| in [0.5, 1.5] (gradients away from 0), log-variances in [-0.5, 0.5]."""
    sign = torch.where(torch.rand(shape, generator=gen, dtype=F64) < 0.5, -1.0, 1.0)
    mu = sign * (0.5 + torch.rand(shape, generator=gen, dtype=F64))
    log_var = torch.rand(shape, generator=gen, dtype=F64) - 0.5
    return mu.to(dtype), log_var.to(dtype)


# f: (K, ..., D) -> (K, ...), and its expectation under q = N(mu, diag exp(log_var)) in closed form
def _square(z):
    return (z**2).sum(-1)


def _square_expectation(mu, log_var):
    return (mu**2 + torch.exp(log_var)).sum(-1)  # E sum z^2 = sum (mu^2 + sigma^2)


def _exp(z):
    return torch.exp(z @ A.to(z.dtype))


def _exp_expectation(mu, log_var):
    a = A.to(mu.dtype)
    return torch.exp(mu @ a + 0.5 * (a**2 * torch.exp(log_var)).sum(-1))  # the Gaussian mgf


TEST_FUNCTIONS = {"square": (_square, _square_expectation), "exp": (_exp, _exp_expectation)}


def _exact_gradient(expectation, mu, log_var):
    """$\\nabla_{\\mu, \\log\\sigma^2}$ of a closed-form expectation, by autograd in float64."""
    mu = mu.double().clone().requires_grad_(True)
    log_var = log_var.double().clone().requires_grad_(True)
    return torch.autograd.grad(expectation(mu, log_var).sum(), (mu, log_var))


def test_exact_gradients_match_their_formulas(gen) -> None:
    """The references themselves: autograd of the closed forms equals the gradients derived by hand."""
    mu, log_var = _params((4, D), F64, gen)
    g_mu, g_lv = _exact_gradient(_square_expectation, mu, log_var)
    torch.testing.assert_close(g_mu, 2 * mu, rtol=1e-12, atol=1e-12)  # d/dmu (mu^2 + sigma^2) = 2 mu
    torch.testing.assert_close(g_lv, torch.exp(log_var), rtol=1e-12, atol=1e-12)  # d/dlog sigma^2 sigma^2 = sigma^2
    g_mu, g_lv = _exact_gradient(_exp_expectation, mu, log_var)
    e = _exp_expectation(mu, log_var)[..., None]
    torch.testing.assert_close(g_mu, A * e, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_lv, 0.5 * A**2 * torch.exp(log_var) * e, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ score_normal_diag
def test_score_normal_diag_is_the_gradient_of_log_q(batch_shape, dtype, gen, tol) -> None:
    shape = (*batch_shape, D)
    mu, log_var = _params(shape, dtype, gen)
    z = (torch.randn(shape, generator=gen, dtype=F64) * 2).to(dtype)
    score_mu, score_lv = score_normal_diag(z, mu, log_var)
    assert score_mu.shape == score_lv.shape == shape and score_mu.dtype == dtype
    mu_, lv_ = mu.clone().requires_grad_(True), log_var.clone().requires_grad_(True)
    ref = Independent(Normal(mu_, torch.exp(0.5 * lv_)), 1).log_prob(z)  # torch's log q, (...)
    g_mu, g_lv = torch.autograd.grad(ref.sum(), (mu_, lv_))
    torch.testing.assert_close(score_mu, g_mu, **tol)
    torch.testing.assert_close(score_lv, g_lv, **tol)


def test_score_normal_diag_moments(dtype, gen, assert_mc_agrees) -> None:
    """$\\mathbb E_q[\\nabla\\log q] = 0$ and the Fisher information $\\mathbb E_q[s^2]$: $1/\\sigma^2$ for $\\mu$, $1/2$ for $\\log\\sigma^2$."""
    mu, log_var = _params((2, D), dtype, gen)
    z = reparameterize(mu, log_var, torch.randn((200_000, 2, D), generator=gen, dtype=dtype))
    score_mu, score_lv = score_normal_diag(z, mu, log_var)  # (K, 2, D)
    for score in (score_mu, score_lv):
        mean, se = mc_mean(score)
        assert bool(((mean.double()).abs() <= 4 * se.double()).all()), (mean, se)
    # relative standard deviations of the squared scores: sqrt(2) for mu, sqrt(14) for log_var
    # (E[(eps^2 - 1)^4] = 60); 200 000 samples pin their means to 2% and 4%
    assert_mc_agrees(torch.exp(-log_var), *mc_mean(score_mu**2), rel=0.02)
    assert_mc_agrees(torch.full_like(log_var, 0.5), *mc_mean(score_lv**2), rel=0.04)


def test_score_normal_diag_broadcasts_samples() -> None:
    z = torch.randn(7, 4, D)
    mu, log_var = torch.randn(D), torch.rand(4, D)
    score_mu, score_lv = score_normal_diag(z, mu, log_var)
    assert score_mu.shape == score_lv.shape == (7, 4, D)
    ref_mu, ref_lv = score_normal_diag(z, mu.expand(7, 4, D), log_var.expand(7, 4, D))
    assert torch.equal(score_mu, ref_mu) and torch.equal(score_lv, ref_lv)


@pytest.mark.parametrize("log_var_value", [-30.0, 30.0])
def test_score_normal_diag_finite_at_extremes(dtype, log_var_value: float) -> None:
    log_var = torch.full((D,), log_var_value, dtype=dtype)
    mu = torch.zeros(D, dtype=dtype)  # z - mu = sigma eps exactly (near mu = 1, float32 could not resolve sigma = e^-15)
    eps = torch.tensor([[-2.0, 0.5, 1.0]], dtype=dtype)
    z = reparameterize(mu, log_var, eps)
    score_mu, score_lv = score_normal_diag(z, mu, log_var)
    assert bool(torch.isfinite(score_mu).all() and torch.isfinite(score_lv).all())
    # with z = mu + sigma eps: score_log_var = (eps^2 - 1) / 2 whatever sigma is
    torch.testing.assert_close(score_lv, 0.5 * (eps**2 - 1), rtol=1e-3 if dtype == F32 else 1e-9, atol=1e-6)


# -------------------------------------------------------------------------- score_bernoulli
def test_score_bernoulli_is_the_gradient_of_log_q(batch_shape, dtype, gen, tol) -> None:
    shape = (*batch_shape, D)
    logits = (torch.randn(shape, generator=gen, dtype=F64) * 2).to(dtype)
    z = torch.bernoulli(torch.full(shape, 0.5, dtype=dtype), generator=gen)
    score = score_bernoulli(z, logits)
    assert score.shape == shape and score.dtype == dtype
    logits_ = logits.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(Bernoulli(logits=logits_).log_prob(z).sum(), logits_)
    torch.testing.assert_close(score, ref, **tol)


# ---------------------------------------------------------- unbiasedness against exact gradients
BUDGET = 1_200_000  # samples per test, shared by the batch elements
# (estimator, keyword arguments, relative tolerance per test function). ``rel`` is the precision
# the budget buys (asserted by ``assert_mc_agrees``: 4 standard errors fit inside it); the
# unbiasedness check itself is the estimate landing within 4 standard errors of the exact gradient.
ESTIMATORS = {
    "pathwise": (pathwise_grad, {}, {"square": 0.03, "exp": 0.08}),
    "score": (score_function_grad, {}, {"square": 0.12, "exp": 0.3}),
    "score-loo": (score_function_grad, {"baseline": "mean"}, {"square": 0.08, "exp": 0.3}),
}


@pytest.mark.parametrize("fname", list(TEST_FUNCTIONS))
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_estimators_are_unbiased(estimator, fname, batch_shape, dtype, gen, assert_mc_agrees) -> None:
    func, kwargs, rel = ESTIMATORS[estimator]
    f, expectation = TEST_FUNCTIONS[fname]
    mu, log_var = _params((*batch_shape, D), dtype, gen)
    est = func(f, mu, log_var, num_samples=BUDGET // max(1, math.prod(batch_shape)), generator=gen, **kwargs)
    assert isinstance(est, GradientEstimate)
    exact_mu, exact_lv = _exact_gradient(expectation, mu, log_var)
    for (mean, se), exact in ((est.mu, exact_mu), (est.log_var, exact_lv)):
        assert mean.shape == se.shape == (*batch_shape, D)
        assert mean.dtype == se.dtype == dtype
        assert_mc_agrees(exact, mean, se, rel=rel[fname])


def test_leave_one_out_baseline_is_unbiased_and_the_plain_mean_is_not(assert_mc_agrees) -> None:
    """With $K = 2$ samples, over $R = 200\\,000$ independent repetitions (a batch dimension), the
    leave-one-out baseline averages to the exact gradient; the plain mean of the same samples
    averages to $(1 - 1/K) = 1/2$ of it."""
    gen = torch.Generator().manual_seed(7)
    reps, num = 200_000, 2
    mu = torch.tensor([0.8, -1.2], dtype=F64).expand(reps, 2)  # (R, 2)
    log_var = torch.tensor([0.3, -0.2], dtype=F64).expand(reps, 2)
    exact_mu, exact_lv = _exact_gradient(_square_expectation, mu[0], log_var[0])
    est = score_function_grad(_square, mu, log_var, num_samples=num, baseline="mean", generator=gen)
    assert_mc_agrees(exact_mu, *mc_mean(est.mu[0]), rel=0.05)
    assert_mc_agrees(exact_lv, *mc_mean(est.log_var[0]), rel=0.05)
    # the plain mean, built by hand from the same kind of draws
    z = reparameterize(mu, log_var, torch.randn((num, reps, 2), generator=gen, dtype=F64))  # (K, R, 2)
    f_z = _square(z)  # (K, R)
    score_mu, _ = score_normal_diag(z, mu, log_var)
    plain = ((f_z - f_z.mean(0))[..., None] * score_mu).mean(0)  # (R, 2)
    plain_mean, plain_se = mc_mean(plain)
    assert_mc_agrees((1 - 1 / num) * exact_mu, plain_mean, plain_se, rel=0.05)
    assert bool(((plain_mean - exact_mu).abs() > 20 * plain_se).all())  # far from the exact gradient


# ----------------------------------------------------------------------- exact identities
def _nonlinear(z):
    return torch.sin(z).sum(-1) * z[..., 0] + torch.log1p(z**2).sum(-1)


def test_pathwise_is_autograd_through_reparameterize(batch_shape, dtype, tol) -> None:
    """Per-sample copies of $(\\mu, \\log\\sigma^2)$, autograd through ``reparameterize``: the same numbers."""
    gen = torch.Generator().manual_seed(0)
    mu, log_var = _params((*batch_shape, D), dtype, gen)
    num = 50
    est = pathwise_grad(_nonlinear, mu, log_var, num_samples=num, generator=torch.Generator().manual_seed(5))
    eps = torch.randn((num, *mu.shape), generator=torch.Generator().manual_seed(5), dtype=dtype)
    mu_k = mu.expand(num, *mu.shape).clone().requires_grad_(True)  # (K, ..., D)
    lv_k = log_var.expand(num, *mu.shape).clone().requires_grad_(True)
    g_mu, g_lv = torch.autograd.grad(_nonlinear(reparameterize(mu_k, lv_k, eps)).sum(), (mu_k, lv_k))
    for (mean, se), per_sample in ((est.mu, g_mu), (est.log_var, g_lv)):
        ref_mean, ref_se = mc_mean(per_sample)
        torch.testing.assert_close(mean, ref_mean, **tol)
        torch.testing.assert_close(se, ref_se, **tol)


@pytest.mark.parametrize("baseline", [None, 1.5, "tensor", "mean"])
def test_score_function_is_the_reinforce_formula(baseline, dtype, tol) -> None:
    """$\\frac1K\\sum_k (f(z_k) - b_k)\\,\\nabla\\log q(z_k)$ with torch's own log-density and autograd."""
    gen = torch.Generator().manual_seed(0)
    mu, log_var = _params((4, D), dtype, gen)
    b = torch.linspace(-1, 1, 4, dtype=dtype) if baseline == "tensor" else baseline
    num = 40
    est = score_function_grad(_nonlinear, mu, log_var, num_samples=num, baseline=b, generator=torch.Generator().manual_seed(5))
    eps = torch.randn((num, 4, D), generator=torch.Generator().manual_seed(5), dtype=dtype)
    z = reparameterize(mu, log_var, eps)  # (K, 4, D)
    mu_k = mu.expand(num, 4, D).clone().requires_grad_(True)
    lv_k = log_var.expand(num, 4, D).clone().requires_grad_(True)
    log_q = Independent(Normal(mu_k, torch.exp(0.5 * lv_k)), 1).log_prob(z)  # (K, 4)
    s_mu, s_lv = torch.autograd.grad(log_q.sum(), (mu_k, lv_k))  # per-sample scores
    f_z = _nonlinear(z)  # (K, 4)
    if baseline == "mean":  # leave-one-out, written the long way
        b_k = torch.stack([torch.cat([f_z[:k], f_z[k + 1 :]]).mean(0) for k in range(num)])  # (K, 4)
    else:
        b_k = 0.0 if b is None else b
    for (mean, se), score in ((est.mu, s_mu), (est.log_var, s_lv)):
        ref_mean, ref_se = mc_mean((f_z - b_k)[..., None] * score)
        torch.testing.assert_close(mean, ref_mean, **tol)
        torch.testing.assert_close(se, ref_se, **tol)


def test_both_estimators_see_the_same_samples() -> None:
    seen: list[torch.Tensor] = []

    def record(z):
        seen.append(z.detach().clone())
        return _square(z)

    mu, log_var = torch.randn(2, D), torch.rand(2, D)
    score_function_grad(record, mu, log_var, num_samples=5, generator=torch.Generator().manual_seed(3))
    pathwise_grad(record, mu, log_var, num_samples=5, generator=torch.Generator().manual_seed(3))
    assert seen[0].shape == (5, 2, D) and torch.equal(seen[0], seen[1])


def test_estimators_are_reproducible_and_detached(dtype) -> None:
    mu = torch.randn(4, D, dtype=dtype, requires_grad=True)  # e.g. an encoder output
    log_var = torch.rand(4, D, dtype=dtype, requires_grad=True)
    for func in (score_function_grad, pathwise_grad):
        a = func(_square, mu, log_var, num_samples=20, generator=torch.Generator().manual_seed(1))
        b = func(_square, mu, log_var, num_samples=20, generator=torch.Generator().manual_seed(1))
        c = func(_square, mu, log_var, num_samples=20, generator=torch.Generator().manual_seed(2))
        for t, u, v in zip((*a.mu, *a.log_var), (*b.mu, *b.log_var), (*c.mu, *c.log_var)):
            assert torch.equal(t, u) and not torch.equal(t, v)
            assert not t.requires_grad and t.shape == (4, D)
    assert mu.grad is None and log_var.grad is None


def test_estimators_work_under_no_grad_and_with_parameters_inside_f() -> None:
    """A decoder-like f with its own parameters: only z is differentiated, the parameters get no .grad."""
    weight = torch.randn(D, 2, requires_grad=True)

    def decoder_like(z):
        return -((z @ weight - 1.0) ** 2).sum(-1)

    mu, log_var = torch.randn(3, D), torch.zeros(3, D)
    with torch.no_grad():
        est = pathwise_grad(decoder_like, mu, log_var, num_samples=10, generator=torch.Generator().manual_seed(0))
    sf = score_function_grad(decoder_like, mu, log_var, num_samples=10, generator=torch.Generator().manual_seed(0))
    assert est.mu[0].shape == sf.mu[0].shape == (3, D)
    assert weight.grad is None


# -------------------------------------------------------------------- variances, known exactly
def test_variances_match_their_closed_forms_and_order() -> None:
    r"""At $\mu = 0$, $\sigma = 1$, $f = \sum_d z_d^2$, per sample, for $\nabla_{\mu_1}$:
    pathwise $2z_1$ has variance 4; score function $f z_1$ has $(D+2)(D+4)$; with the constant
    baseline $b = \mathbb E f = D$, $(f - D) z_1$ has $2(D+4)$. The leave-one-out estimator of
    $K$ samples has variance $[2(K-2)(D+4) + 4(D+2)] / (K(K-1))$ (a U-statistic).

    $R = 4000$ repetitions of $K = 50$ samples each (a batch dimension): the estimator's variance
    is the mean of its squared error (the exact gradient is 0), within 4 standard errors."""
    reps, num, dim = 4_000, 50, D
    mu = torch.zeros(reps, dim, dtype=F64)
    log_var = torch.zeros(reps, dim, dtype=F64)
    cases = {
        "pathwise": (pathwise_grad, {}, 4.0 / num),
        "score": (score_function_grad, {}, (dim + 2) * (dim + 4) / num),
        "score-constant": (score_function_grad, {"baseline": float(dim)}, 2.0 * (dim + 4) / num),
        "score-loo": (
            score_function_grad,
            {"baseline": "mean"},
            (2.0 * (num - 2) * (dim + 4) + 4.0 * (dim + 2)) / (num * (num - 1)),
        ),
    }
    measured = {}
    for i, (name, (func, kwargs, exact)) in enumerate(cases.items()):
        est = func(_square, mu, log_var, num_samples=num, generator=torch.Generator().manual_seed(10 + i), **kwargs)
        sq_err = (est.mu[0] ** 2).mean(-1)  # (R,), averaged over the D exchangeable coordinates
        var, se = mc_mean(sq_err)
        assert abs(var - exact) <= 4 * se, (name, var.item(), se.item(), exact)
        assert se <= 0.05 * exact, (name, se.item(), exact)
        measured[name] = var.item()
    assert measured["pathwise"] < measured["score-constant"] < measured["score"]
    assert measured["score-loo"] < measured["score"]


def _good(shape=(2, D)):
    return torch.zeros(shape)


BAD_F: list[tuple[str, object, type]] = [
    ("not callable", 3.0, TypeError),
    ("returns a list", lambda z: z.sum(-1).tolist(), TypeError),
    ("returns a scalar", lambda z: z.sum(), ValueError),
    ("returns (K, ..., D)", lambda z: z**2, ValueError),
    ("returns (K,)", lambda z: z.sum((-2, -1)), ValueError),
    ("returns NaN", lambda z: z.sum(-1) * float("nan"), ValueError),
    ("returns inf", lambda z: z.sum(-1) / 0.0 + 1.0, ValueError),
    ("changes dtype", lambda z: z.sum(-1).double(), TypeError),
    ("returns ints", lambda z: z.sum(-1).long(), TypeError),
]
NOT_DIFFERENTIABLE = [("detached", lambda z: (z.detach() ** 2).sum(-1)), ("constant", lambda z: torch.zeros(z.shape[:-1]))]


@pytest.mark.parametrize("baseline", [0, 2.5, torch.zeros(()), torch.zeros(2), torch.zeros(1)])
def test_good_baselines_are_accepted(baseline) -> None:
    est = score_function_grad(_square, _good(), _good(), num_samples=4, baseline=baseline)
    assert est.mu[0].shape == (2, D)


# ------------------------------------------------------------------------------ gradient SNR
def test_gradient_snr_matches_its_closed_form() -> None:
    """L = theta . (m + s * eps), eps ~ N(0, I): the gradient is m + s * eps, its SNR |m| / s."""
    m = torch.tensor([2.0, -0.5, 0.0, 1.0], dtype=F64)
    s = torch.tensor([1.0, 2.0, 1.0, 0.25], dtype=F64)
    theta = torch.zeros(4, dtype=F64, requires_grad=True)
    weight = torch.ones(2, 3, dtype=F64, requires_grad=True)  # a second tensor: (2, 3), gradient 3 + eps
    gen = torch.Generator().manual_seed(0)

    def estimate() -> torch.Tensor:
        eps = torch.randn(4, generator=gen, dtype=F64)
        eps2 = torch.randn(2, 3, generator=gen, dtype=F64)
        return (theta * (m + s * eps)).sum() + (weight * (3.0 + eps2)).sum()

    num = 20_000
    result = gradient_snr(estimate, [theta, weight], num_repeats=num)
    assert result.snr.shape == result.mean.shape == result.std.shape == (10,)
    exact_mean = torch.cat([m, torch.full((6,), 3.0, dtype=F64)])
    exact_std = torch.cat([s, torch.ones(6, dtype=F64)])
    # the mean within 4 standard errors, the sd within 4 of its standard errors (about sd / sqrt(2R))
    assert bool(((result.mean - exact_mean).abs() <= 4 * exact_std / math.sqrt(num)).all()), result.mean
    assert bool(((result.std - exact_std).abs() <= 4 * exact_std / math.sqrt(2 * num)).all()), result.std
    exact_snr = exact_mean.abs() / exact_std
    torch.testing.assert_close(result.snr, exact_snr, atol=0.03, rtol=0.02)
    # where the signal is 0 the estimate is the noise floor, |N(0, 1)| / sqrt(R)
    assert result.snr[2] < 4 / math.sqrt(num)
    assert result.num_repeats == num
    # pooled: sqrt(mean m^2 / mean s^2) over a group of elements
    pooled_exact = math.sqrt(float((m**2).mean() / (s**2).mean()))
    assert abs(result.pooled(slice(0, 4)) - pooled_exact) < 0.03 * pooled_exact
    assert abs(result.pooled() - math.sqrt(float((exact_mean**2).mean() / (exact_std**2).mean()))) < 0.05


def test_pooled_snr_removes_the_noise_floor() -> None:
    """Zero-mean gradients: |mean| / sd sits near sqrt(2 / (pi R)), the pooled SNR near 0."""
    theta = torch.zeros(500, requires_grad=True)
    gen = torch.Generator().manual_seed(2)
    num = 50
    result = gradient_snr(lambda: (theta * torch.randn(500, generator=gen)).sum(), [theta], num_repeats=num)
    floor = math.sqrt(2 / (math.pi * num))
    assert abs(float(result.snr.mean()) - floor) < 0.2 * floor  # the per-element estimate's floor
    assert result.pooled() < 0.6 * floor  # the signal power's estimate is unbiased for 0: only noise remains


def test_gradient_snr_grows_like_root_n_for_a_mean_of_n_draws() -> None:
    """Averaging n independent draws divides the sd by sqrt(n): the SNR of an n-sample mean is
    sqrt(n) times that of one draw (the scaling Rainforth et al. state for the decoder of the IWAE)."""
    theta = torch.zeros(3, requires_grad=True)
    gen = torch.Generator().manual_seed(1)
    snr = {}
    for n in (1, 16):
        def estimate(n: int = n) -> torch.Tensor:
            eps = torch.randn(n, 3, generator=gen).mean(0)  # (3,)
            return (theta * (0.5 + eps)).sum()

        snr[n] = gradient_snr(estimate, [theta], num_repeats=4000).snr
    ratio = snr[16] / snr[1]
    assert bool(((ratio - 4.0).abs() < 0.4).all()), ratio


def test_gradient_snr_of_the_iwae_bound_leaves_the_model_unchanged() -> None:
    from vae_edu.estimators import iwae_bound  # noqa: PLC0415
    from vae_edu.models import VAE, VAEConfig  # noqa: PLC0415

    model = VAE.from_config(VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3))
    x = torch.tensor([[0.0, 1.0, 2.0, 1.0], [2.0, 2.0, 0.0, 1.0]])
    before = [p.detach().clone() for p in model.parameters()]
    gen = torch.Generator().manual_seed(0)
    params = list(model.encoder.parameters())
    result = gradient_snr(lambda: iwae_bound(model, x, 5, gen).mean(), params, num_repeats=8)
    assert result.snr.shape == (sum(p.numel() for p in params),)
    assert bool((result.std > 0).all()) and bool(torch.isfinite(result.snr).all())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


_THETA = torch.ones(2, requires_grad=True)


# ------------------------------------------------------------------------------ bad inputs
GRADIENT_ESTIMATORS = [("score", score_function_grad), ("pathwise", pathwise_grad)]


def _estimate(func, f=None, **bad):
    args = {"mu": _good(), "log_var": _good(), "num_samples": 4} | bad
    return func(_square if f is None else f, **args)


def _snr(**bad):
    good = {"estimate": lambda: (_THETA * torch.randn(2)).sum(), "params": [_THETA], "num_repeats": 4}
    return gradient_snr(**(good | bad))


BAD_INPUTS = [
    # score_function_grad and pathwise_grad: the parameters, K, and f
    *[reject(f"{name}-{arg}-{kind}", lambda func=func, arg=arg, make=make: _estimate(func, **{arg: make()}), error, arg)
      for name, func in GRADIENT_ESTIMATORS for arg in ("mu", "log_var") for kind, make, error in BAD],
    *[reject(f"{name}-log_var-shape", lambda func=func: _estimate(func, mu=_good((2, D)), log_var=_good((D,))),
             ValueError, "log_var")
      for name, func in GRADIENT_ESTIMATORS],
    *[reject(f"{name}-num_samples-{num_samples!r}", lambda func=func, n=num_samples: _estimate(func, num_samples=n),
             error, "num_samples")
      for name, func in GRADIENT_ESTIMATORS
      for num_samples, error in [(1, ValueError), (0, ValueError), (-5, ValueError), (2.0, TypeError),
                                 (True, TypeError), ("100", TypeError), (None, TypeError)]],
    *[reject(f"{name}-f-{kind}", lambda func=func, f=f: _estimate(func, f), error, "f")
      for name, func in GRADIENT_ESTIMATORS for kind, f, error in BAD_F],
    *[reject(f"pathwise-f-{kind}", lambda f=f: _estimate(pathwise_grad, f), ValueError, r"\bf\(z\) is not differentiable")
      for kind, f in NOT_DIFFERENTIABLE],
    reject("pathwise-f-non-finite-gradient", lambda: _estimate(pathwise_grad, lambda z: torch.sqrt(z * 0.0).sum(-1)),
           ValueError, r"gradient of f\(z\)"),
    *[reject(f"score-baseline-{i}", lambda b=baseline: _estimate(score_function_grad, baseline=b), error, "baseline")
      for i, (baseline, error) in enumerate([
          ("median", ValueError),
          ("MEAN", ValueError),
          (True, TypeError),
          (float("nan"), ValueError),
          (float("inf"), ValueError),
          ([1.0, 2.0], TypeError),
          (torch.zeros(4, 2), ValueError),  # (K, batch): depends on the samples
          (torch.zeros(3), ValueError),  # does not broadcast to the batch (2,)
          (torch.zeros(2, dtype=F64), TypeError),
          (torch.tensor([0.0, float("nan")]), ValueError),
          (torch.zeros(2, dtype=torch.int64), TypeError),
      ])],
    # score_function_estimate
    *[reject(f"estimate-{name}-{i}", lambda f_z=f_z, score=score: score_function_estimate(f_z, score), error, name)
      for i, (f_z, score, error, name) in enumerate([
          (torch.zeros(5, 2), torch.zeros(5, 3, D), ValueError, "score"),  # batch differs
          (torch.zeros(5, 2), torch.zeros(5, 2), ValueError, "score"),  # no parameter dimension
          (torch.zeros(5, 2), torch.zeros(5, 2, D, dtype=F64), TypeError, "score"),
          (torch.zeros(1, 2), torch.zeros(1, 2, D), ValueError, "f_z"),  # K = 1
          (torch.zeros(()), torch.zeros(5, D), ValueError, "f_z"),
          (torch.full((5,), float("nan")), torch.zeros(5, D), ValueError, "f_z"),
          ([0.0] * 5, torch.zeros(5, D), TypeError, "f_z"),
      ])],
    # score_normal_diag and score_bernoulli
    *[reject(f"score_normal_diag-{arg}-{kind}",
             lambda arg=arg, make=make: score_normal_diag(**({"z": _good(), "mu": _good(), "log_var": _good()}
                                                             | {arg: make()})), error, arg)
      for arg in ("z", "mu", "log_var") for kind, make, error in BAD],
    *[reject(f"score_bernoulli-{arg}-{kind}",
             lambda arg=arg, make=make: score_bernoulli(**({"z": _good(), "logits": _good()} | {arg: make()})),
             error, arg)
      for arg in ("z", "logits") for kind, make, error in BAD],
    *[reject(f"score_bernoulli-z-not-binary-{i}", lambda z=z: score_bernoulli(z, torch.zeros(D)), ValueError, "z")
      for i, z in enumerate([torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.0, 2.0, 1.0]), torch.tensor([-1.0, 0, 1])])],
    # gradient_snr
    *[reject(f"snr-{name}-{i}", lambda kwargs=kwargs: _snr(**kwargs), error, name)
      for i, (kwargs, error, name) in enumerate([
          ({"estimate": 3.0}, TypeError, "estimate"),
          ({"params": []}, ValueError, "params"),
          ({"params": [torch.zeros(2)]}, ValueError, "params"),  # does not require grad
          ({"params": [1.0]}, ValueError, "params"),
          ({"num_repeats": 1}, ValueError, "num_repeats"),
          ({"num_repeats": 2.0}, TypeError, "num_repeats"),
          ({"num_repeats": True}, TypeError, "num_repeats"),
          ({"estimate": lambda: torch.zeros(())}, ValueError, "estimate"),  # not differentiable
          ({"estimate": lambda: _THETA * 1.0}, ValueError, "estimate"),  # not a scalar
          ({"estimate": lambda: (_THETA * float("nan")).sum()}, ValueError, "estimate"),
      ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)


@pytest.mark.parametrize(("kind", "f"), NOT_DIFFERENTIABLE)
def test_the_score_function_only_needs_values_of_f(kind, f) -> None:
    score_function_grad(f, _good(), _good(), num_samples=4)  # where pathwise_grad refuses f
