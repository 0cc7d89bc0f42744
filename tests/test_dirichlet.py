"""Tests of :func:`vae_edu.kl.kl_dirichlet`, :mod:`vae_edu.distributions.dirichlet` and :mod:`vae_edu.models.dirichlet`:
closed forms against ``torch.distributions`` and seeded Monte Carlo, the Laplace approximation,
the gradient routes against exact gradients, the VAE under ``fit``, and bad inputs."""

from __future__ import annotations

import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject
from torch.distributions import Dirichlet, Multinomial, kl_divergence

from vae_edu.distributions import (
    dirichlet_to_logistic_normal,
    log_dirichlet,
    log_multinomial,
    logistic_normal_to_dirichlet,
    rsample_dirichlet,
    rsample_logistic_normal,
    score_dirichlet,
)
from vae_edu.distributions import log_normal_diag
from vae_edu.estimators import iwae_bound, mc_mean
from vae_edu.gradients import score_function_estimate
from vae_edu.kl import kl_dirichlet
from vae_edu.models.dirichlet import DirichletVAE, DirichletVAEConfig
from vae_edu.models.protocols import VariationalModel
from vae_edu.training import fit

D = 3
F32, F64 = torch.float32, torch.float64


def _alpha(shape, dtype, gen, low: float = 0.2, high: float = 5.0) -> torch.Tensor:
    """Concentrations log-uniform in [low, high], drawn in float64 then cast."""
    u = torch.rand(shape, generator=gen, dtype=F64)
    return torch.exp(torch.log(torch.tensor(low, dtype=F64)) + u * torch.log(torch.tensor(high / low, dtype=F64))).to(dtype)


# ------------------------------------------------------------------ kl_dirichlet
def test_kl_dirichlet_matches_torch(batch_shape, dtype, gen, tol) -> None:
    alpha_q, alpha_p = _alpha((*batch_shape, D), dtype, gen), _alpha((*batch_shape, D), dtype, gen)
    got = kl_dirichlet(alpha_q, alpha_p)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, kl_divergence(Dirichlet(alpha_q), Dirichlet(alpha_p)), **tol)
    assert bool((got > 0).all())


@pytest.mark.parametrize("low, high", [(1e-3, 1e-2), (1e2, 1e3), (1e-3, 1e3)], ids=["tiny", "huge", "mixed"])
def test_kl_dirichlet_extreme_alpha(low, high, dtype, gen) -> None:
    alpha_q, alpha_p = _alpha((4, D), dtype, gen, low, high), _alpha((4, D), dtype, gen, low, high)
    got = kl_dirichlet(alpha_q, alpha_p)
    expected = kl_divergence(Dirichlet(alpha_q.double()), Dirichlet(alpha_p.double()))
    assert bool(torch.isfinite(got).all())
    rtol = 1e-4 if dtype == F32 else 1e-10
    torch.testing.assert_close(got.double(), expected, rtol=rtol, atol=rtol * float(expected.abs().max()) + 1e-12)


def test_kl_dirichlet_zero_at_equality_and_broadcasts(dtype, gen) -> None:
    alpha = _alpha((2, 4, D), dtype, gen)
    assert bool((kl_dirichlet(alpha, alpha) == 0).all())  # exactly 0 by construction, not by a clamp
    alpha_p = _alpha((D,), dtype, gen)
    got = kl_dirichlet(alpha, alpha_p)
    assert got.shape == (2, 4)
    torch.testing.assert_close(got, kl_dirichlet(alpha, alpha_p.expand(2, 4, D)), rtol=0, atol=0)


@pytest.mark.parametrize(
    "alpha_q, alpha_p, expected",
    [
        ((100.0, 100.0), (100.1, 100.0), 2.5175e-5),  # float32 gave -1.6e-5, clamped to 0
        ((1e8, 1.0), (1.0, 1.0), 17.4207),  # float32 arithmetic gave exactly 0.0
        ((1e3, 2e3, 5.0), (1001.0, 2e3, 5.0), 3.33685e-4),
        ((2.0, 3.0), (2.001, 3.0), 2.1172e-7),
    ],
)
def test_kl_dirichlet_float32_is_accurate_where_terms_cancel(alpha_q, alpha_p, expected) -> None:
    """The log-gamma terms are ~alpha_0 log alpha_0 and cancel to a small KL: float32 must still
    agree with the float64 closed form (of the same float32 inputs) to float32 precision."""
    q, p = torch.tensor(alpha_q, dtype=F32), torch.tensor(alpha_p, dtype=F32)
    got = kl_dirichlet(q, p)
    reference = kl_divergence(Dirichlet(q.double()), Dirichlet(p.double()))  # float64, same inputs
    assert got.dtype == F32
    assert got.item() == pytest.approx(reference.item(), rel=1e-5)
    assert got.item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e2, 1e4])
def test_kl_dirichlet_float32_near_q_equals_p_matches_float64(scale, gen) -> None:
    """Nearby Dirichlets (1 % apart) over four orders of concentration: float32 within 1e-5 of
    the float64 closed form, and never negative."""
    alpha_q = _alpha((200, 4), F64, gen, 0.5 * scale, 2.0 * scale)
    alpha_p = alpha_q * (1.0 + 0.01 * torch.randn(200, 4, generator=gen, dtype=F64))
    q, p = alpha_q.float(), alpha_p.float()
    got = kl_dirichlet(q, p)
    reference = kl_divergence(Dirichlet(q.double()), Dirichlet(p.double()))
    assert bool((got > 0).all())
    torch.testing.assert_close(got.double(), reference, rtol=1e-5, atol=0.0)


def test_kl_dirichlet_float32_gradient_matches_float64(gen) -> None:
    alpha_q = _alpha((3, D), F64, gen, 50.0, 500.0)
    alpha_p = _alpha((3, D), F64, gen, 50.0, 500.0)
    grads = []
    for dtype in (F32, F64):
        q = alpha_q.to(dtype).requires_grad_()
        kl_dirichlet(q, alpha_p.to(dtype)).sum().backward()
        grads.append(q.grad.double())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-7)


def test_kl_dirichlet_monte_carlo(assert_mc_agrees) -> None:
    """E_q[log q(theta) - log p(theta)] from 400 000 seeded draws agrees within 4 standard errors and 1 %."""
    alpha_q = torch.tensor([[0.5, 2.0, 3.0], [4.0, 4.0, 1.5]], dtype=F64)
    alpha_p = torch.tensor([[1.0, 1.0, 1.0], [0.3, 2.0, 5.0]], dtype=F64)
    theta = rsample_dirichlet(alpha_q, 400_000, torch.Generator().manual_seed(7))  # (S, 2, D)
    estimate, stderr = mc_mean(log_dirichlet(theta, alpha_q) - log_dirichlet(theta, alpha_p))
    assert_mc_agrees(kl_dirichlet(alpha_q, alpha_p), estimate, stderr, rel=0.01, n_se=4.0)


def test_log_dirichlet_matches_torch(batch_shape, dtype, gen, tol) -> None:
    alpha = _alpha((*batch_shape, D), dtype, gen)
    theta = Dirichlet(alpha.double()).sample().to(dtype)
    theta = theta / theta.sum(-1, keepdim=True)
    got = log_dirichlet(theta, alpha)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got, Dirichlet(alpha).log_prob(theta), **{k: 10 * v for k, v in tol.items()})


def test_rsample_dirichlet_moments_and_seed() -> None:
    r"""Mean $\alpha/\alpha_0$ and variance $\alpha_k(\alpha_0-\alpha_k)/(\alpha_0^2(\alpha_0+1))$ within 4 standard errors."""
    alpha = torch.tensor([0.3, 2.0, 5.0], dtype=F64)
    theta = rsample_dirichlet(alpha, 100_000, torch.Generator().manual_seed(0))
    assert theta.shape == (100_000, D)
    a0 = alpha.sum()
    mean, se = mc_mean(theta)
    assert bool(((mean - alpha / a0).abs() <= 4 * se).all())
    sq_mean, sq_se = mc_mean((theta - alpha / a0) ** 2)
    var = alpha * (a0 - alpha) / (a0**2 * (a0 + 1))
    assert bool(((sq_mean - var).abs() <= 4 * sq_se).all())
    again = rsample_dirichlet(alpha, 5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(again, rsample_dirichlet(alpha, 5, torch.Generator().manual_seed(3)), rtol=0, atol=0)
    state = torch.get_rng_state()
    rsample_dirichlet(alpha, 5, torch.Generator().manual_seed(3))
    assert torch.equal(state, torch.get_rng_state())  # the global generator is untouched
    with pytest.raises(ValueError, match="num_samples"):
        rsample_dirichlet(alpha, 0)
    with pytest.raises(TypeError, match="num_samples"):
        rsample_dirichlet(alpha, 2.0)  # type: ignore[arg-type]


# ------------------------------------------------------------------ Laplace approximation
def test_laplace_formulas_and_round_trip(batch_shape, dtype, gen) -> None:
    alpha = _alpha((*batch_shape, 4), dtype, gen, 0.05, 20.0)
    mu, log_var = dirichlet_to_logistic_normal(alpha)
    assert mu.shape == log_var.shape == (*batch_shape, 4) and mu.dtype == dtype
    a, k = alpha.double(), 4
    torch.testing.assert_close(mu.double(), torch.log(a) - torch.log(a).mean(-1, keepdim=True), rtol=1e-5, atol=1e-5)
    var = (1 / a) * (1 - 2 / k) + (1 / a).sum(-1, keepdim=True) / k**2
    torch.testing.assert_close(log_var.double(), torch.log(var), rtol=1e-5, atol=1e-5)
    assert bool((mu.sum(-1).abs() < (1e-5 if dtype == F32 else 1e-12)).all())
    back = logistic_normal_to_dirichlet(mu, log_var)
    torch.testing.assert_close(back, alpha, rtol=1e-4 if dtype == F32 else 1e-10, atol=0)


def test_laplace_mean_exact_mode_and_large_alpha_moments() -> None:
    r"""The Laplace approximation puts $\operatorname{softmax}(\mu)$ at the Dirichlet mean $\alpha/\alpha_0$ exactly;
    for large $\alpha$ its mean of $\theta$ tends to it, and (diagonal covariance) its variance to $(1 - 1/K)$ times
    the Dirichlet's, for symmetric $\alpha$: $\theta_k \approx (1 + z_k - \bar z)/K$ with $\sigma^2 = (1 - 1/K)/\alpha$
    gives $\operatorname{Var}\theta_k \approx (1-1/K)^2/(K^2\alpha)$, the Dirichlet's is $\approx (1-1/K)/(K^2\alpha)$."""
    alpha = 50 * torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    mu, log_var = dirichlet_to_logistic_normal(alpha)
    torch.testing.assert_close(torch.softmax(mu, -1), alpha / alpha.sum(), rtol=1e-12, atol=0)
    theta, z = rsample_logistic_normal(mu, log_var, 200_000, torch.Generator().manual_seed(0))
    assert theta.shape == z.shape == (200_000, D)
    mean, se = mc_mean(theta)
    assert bool(((mean - alpha / alpha.sum()).abs() <= 0.005 * alpha / alpha.sum()).all())  # bias < 0.5 % at alpha >= 50
    torch.testing.assert_close(theta.sum(-1), torch.ones(200_000, dtype=F64), rtol=0, atol=1e-12)
    k, a = 5, 500.0
    alpha_sym = torch.full((k,), a, dtype=F64)
    theta_sym, _ = rsample_logistic_normal(*dirichlet_to_logistic_normal(alpha_sym), 200_000, torch.Generator().manual_seed(1))
    a0 = k * a
    var_dirichlet = a * (a0 - a) / (a0**2 * (a0 + 1))
    ratio = theta_sym.var(0) / var_dirichlet  # relative Monte Carlo error of a variance: sqrt(2/S) = 0.3 %
    torch.testing.assert_close(ratio, torch.full((k,), 1 - 1 / k, dtype=F64), rtol=0.02, atol=0)


# ------------------------------------------------------------------ gradients
def _second_moment(alpha: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r"""$\mathbb E_{\mathrm{Dir}(\alpha)}[\sum_k c_k\theta_k^2] = \sum_k c_k\alpha_k(\alpha_k+1)/(\alpha_0(\alpha_0+1))$."""
    a0 = alpha.sum()
    return (c * alpha * (alpha + 1)).sum() / (a0 * (a0 + 1))


def test_implicit_gradient_matches_exact_and_score_function() -> None:
    """The implicit-reparameterisation gradient of E[sum c_k theta_k^2] equals the exact gradient and the score-function one."""
    alpha = torch.tensor([0.5, 1.5, 3.0], dtype=F64, requires_grad=True)
    c = torch.tensor([1.0, -2.0, 3.0], dtype=F64)
    (exact,) = torch.autograd.grad(_second_moment(alpha, c), alpha)
    # finite differences of the closed form agree with autograd's exact gradient
    h = 1e-6
    fd = torch.stack([(_second_moment(alpha.detach() + h * e, c) - _second_moment(alpha.detach() - h * e, c)) / (2 * h) for e in torch.eye(3, dtype=F64)])
    torch.testing.assert_close(fd, exact, rtol=1e-6, atol=1e-9)
    num = 100_000
    # per-sample pathwise gradients: one leaf copy of alpha per sample, so row s of its gradient is d f_s / d alpha
    alpha_rep = alpha.detach().expand(num, 3).clone().requires_grad_(True)  # (S, 3)
    theta = rsample_dirichlet(alpha_rep, 1, torch.Generator().manual_seed(1))[0]  # (S, 3)
    f = (c * theta**2).sum(-1)  # (S,)
    (grads,) = torch.autograd.grad(f.sum(), alpha_rep)  # (S, 3)
    path_mean, path_se = mc_mean(grads)  # (3,)
    assert bool(((path_mean - exact).abs() <= 4 * path_se).all()), (path_mean, exact, path_se)
    score = score_dirichlet(theta.detach(), alpha.detach())  # (S, 3)
    sf_mean, sf_se = score_function_estimate(f.detach(), score, baseline="mean")  # leave-one-out baseline: unbiased
    assert bool(((sf_mean - exact).abs() <= 4 * sf_se).all()), (sf_mean, exact, sf_se)
    assert bool((path_se < sf_se).all())  # the implicit route has the smaller variance here
    torch.testing.assert_close(mc_mean(score)[0], torch.zeros(3, dtype=F64), rtol=0, atol=float(4 * mc_mean(score)[1].max()))


def test_score_dirichlet_matches_autograd(dtype) -> None:
    alpha = torch.tensor([[0.5, 1.5, 3.0]], dtype=dtype, requires_grad=True)
    theta = torch.tensor([[0.2, 0.3, 0.5]], dtype=dtype)
    (expected,) = torch.autograd.grad(Dirichlet(alpha).log_prob(theta).sum(), alpha)
    torch.testing.assert_close(score_dirichlet(theta, alpha.detach()), expected)
    with pytest.raises(ValueError, match="theta must be strictly positive"):
        score_dirichlet(torch.tensor([[0.0, 0.5, 0.5]], dtype=dtype), alpha.detach())


# ------------------------------------------------------------------ multinomial likelihood
def test_log_multinomial_matches_torch(dtype, gen) -> None:
    probs = Dirichlet(torch.ones(5, dtype=F64)).sample((4,)).to(dtype)  # (4, 5)
    x = Multinomial(30, probs.double()).sample().to(dtype)
    got = log_multinomial(x, torch.log(probs))
    assert got.shape == (4,) and got.dtype == dtype
    torch.testing.assert_close(got, Multinomial(30, probs).log_prob(x), rtol=1e-5 if dtype == F32 else 1e-10, atol=1e-4 if dtype == F32 else 1e-9)
    zero = torch.tensor([[0.5, 0.5, 0.0]], dtype=dtype)  # a word of probability 0 that never occurs: 0 log 0 = 0
    assert torch.isfinite(log_multinomial(torch.tensor([[2.0, 1.0, 0.0]], dtype=dtype), torch.log(zero))).all()
    with pytest.raises(ValueError, match="x must hold counts"):
        log_multinomial(torch.tensor([[0.5, 1.0, 0.0]], dtype=dtype), torch.log(zero))


# ------------------------------------------------------------------ the model
@pytest.mark.parametrize("latent", ["dirichlet", "laplace", "gaussian"])
def test_dirichlet_vae_trains_and_is_consistent(latent) -> None:
    from vae_edu.data.topics import make_topic_corpus

    corpus = make_topic_corpus((200, 50, 50), num_topics=3, vocab_size=20, doc_length=(20, 40), seed=0)
    torch.manual_seed(0)
    model = DirichletVAE(DirichletVAEConfig(x_dim=20, num_topics=3, hidden=32, latent=latent))
    assert isinstance(model, VariationalModel) and not model.training
    x = corpus.test.x
    with torch.no_grad():
        before = float(-model.elbo(x, num_samples=20, generator=torch.Generator().manual_seed(0)).mean())
    history = fit(model, corpus.train.x, corpus.val.x, epochs=15, lr=1e-2, optimizer="adam", progress=False, seed=0)
    with torch.no_grad():
        after = float(-model.elbo(x, num_samples=20, generator=torch.Generator().manual_seed(0)).mean())
    assert history.epochs == 15 and after < before and torch.isfinite(torch.tensor(after))
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        log_w = model.log_importance_weights(x, num_samples=100, generator=g)
        iwae = iwae_bound(model, x, 100, generator=g)
        # the closed-form KL equals the Monte Carlo mean of log q - log p at the encoder's samples (4 standard errors)
        q = model.encode(x)
        z, log_q = q.rsample_with_log_prob(4000, g)  # (S, 50, 3): theta itself, or z of the logistic normal
        kl_mc, kl_se = mc_mean(log_q - model.prior.log_prob(z))  # (50,)
        if latent == "dirichlet":  # the parts' densities are the book's formulas at the clamped sample
            safe = z.clamp_min(torch.finfo(z.dtype).tiny)
            safe = safe / safe.sum(-1, keepdim=True)
            torch.testing.assert_close(log_q, log_dirichlet(safe, q.alpha), rtol=0, atol=0)
        else:
            torch.testing.assert_close(log_q, log_normal_diag(z, q.mu, q.log_var), rtol=0, atol=0)
        kl = model.elbo_terms(x).kl
    assert log_w.shape == (100, 50) and bool(torch.isfinite(log_w).all()) and bool(torch.isfinite(iwae).all())
    assert kl.shape == (50,) and bool((kl >= 0).all())
    assert bool(((kl_mc - kl).abs() <= 4 * kl_se).all()), float(((kl_mc - kl).abs() / kl_se).max())
    topics, theta = model.topics, model.proportions(x)
    torch.testing.assert_close(topics.sum(-1), torch.ones(3))
    torch.testing.assert_close(theta.sum(-1), torch.ones(50))


def test_dirichlet_vae_works_in_float64() -> None:
    model = DirichletVAE(DirichletVAEConfig(x_dim=6, num_topics=2, hidden=8)).double()
    assert model.elbo(_COUNTS, num_samples=3).dtype == F64


# ------------------------------------------------------------------------------ bad inputs
_ONES = torch.ones(2, D)
_COUNTS = torch.tensor([[1.0, 0.0, 2.0, 3.0, 0.0, 1.0]], dtype=F64)


def _kl(which, value):
    return kl_dirichlet(**({"alpha_q": torch.ones(2, D), "alpha_p": torch.ones(2, D)} | {which: value}))


def _dvae():
    return DirichletVAE(DirichletVAEConfig(x_dim=6, num_topics=2, hidden=8)).double()


BAD_INPUTS = [
    # kl_dirichlet
    *[reject(f"kl_dirichlet-{which}-{kind}", lambda which=which, make=make: _kl(which, make()), error, which)
      for which in ("alpha_q", "alpha_p") for kind, make, error in BAD if kind != "batch"],
    *[reject(f"kl_dirichlet-{which}-zero", lambda which=which: _kl(which, torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])),
             ValueError, f"{which} must be strictly positive")
      for which in ("alpha_q", "alpha_p")],
    *[reject(f"kl_dirichlet-{which}-batch", lambda which=which: _kl(which, torch.ones(5, D)), ValueError,
             "do not broadcast")
      for which in ("alpha_q", "alpha_p")],
    # the samplers, log_dirichlet and the logistic-normal bridge
    *[reject(f"rsample_dirichlet-generator-{i}", lambda g=g: rsample_dirichlet(torch.ones(D), 2, generator=g), TypeError,
             r"generator must be a torch\.Generator")
      for i, g in enumerate([42, "seed", torch.tensor(1)])],
    *[reject(f"rsample_logistic_normal-generator-{i}",
             lambda g=g: rsample_logistic_normal(torch.zeros(D), torch.zeros(D), 2, generator=g), TypeError,
             r"generator must be a torch\.Generator")
      for i, g in enumerate([42, "seed", torch.tensor(1)])],
    reject("log_dirichlet-theta-not-simplex", lambda: log_dirichlet(torch.full((2, D), 0.5), _ONES), ValueError,
           "theta must lie on the simplex"),
    reject("log_dirichlet-theta-negative", lambda: log_dirichlet(torch.tensor([[1.5, -0.5, 0.0]] * 2), _ONES),
           ValueError, "theta must lie on the simplex"),
    reject("log_dirichlet-alpha-negative", lambda: log_dirichlet(torch.full((2, D), 1 / 3), -_ONES), ValueError,
           "alpha must be strictly positive"),
    reject("log_dirichlet-K-1", lambda: log_dirichlet(torch.ones(2, 1), torch.ones(2, 1)), ValueError,
           "alpha must have an event dimension K >= 2"),
    reject("log_dirichlet-theta-list", lambda: log_dirichlet([[1 / 3] * 3], _ONES), TypeError, "theta"),
    reject("logistic_normal_to_dirichlet-event",
           lambda: logistic_normal_to_dirichlet(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError,
           "log_var has event dimension"),
    reject("rsample_logistic_normal-nan",
           lambda: rsample_logistic_normal(torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, 2)), ValueError,
           "mu contains NaN"),
    reject("dirichlet_to_logistic_normal-alpha", lambda: dirichlet_to_logistic_normal(torch.tensor([1.0, -1.0])),
           ValueError, "alpha must be strictly positive"),
    # the Dirichlet VAE and its configuration
    reject("DirichletVAE-x-dtype", lambda: _dvae().elbo(_COUNTS.float()), TypeError, "x has dtype"),
    reject("DirichletVAE-x-not-counts", lambda: _dvae().elbo(_COUNTS * 0.5), ValueError, "x must hold counts"),
    reject("DirichletVAE-x-shape", lambda: _dvae().elbo(_COUNTS[:, :5]), ValueError, "x must have shape"),
    reject("DirichletVAE-num_samples", lambda: _dvae().elbo(_COUNTS, num_samples=0), ValueError, "num_samples"),
    reject("DirichletVAE-beta-negative", lambda: _dvae().elbo(_COUNTS, beta=-1.0), ValueError, "beta"),
    reject("DirichletVAE-beta-str", lambda: _dvae().elbo(_COUNTS, beta="1"), TypeError, "beta"),
    reject("DirichletVAEConfig-alpha_p-str", lambda: DirichletVAEConfig(alpha_p="0.2"), TypeError, "alpha_p"),
    reject("DirichletVAEConfig-latent", lambda: DirichletVAEConfig(latent="normal"), ValueError, "latent"),
    reject("DirichletVAEConfig-alpha_p-0", lambda: DirichletVAEConfig(alpha_p=0.0), ValueError, "alpha_p"),
    reject("DirichletVAEConfig-num_topics", lambda: DirichletVAEConfig(num_topics=2.0), TypeError, "num_topics"),
    reject("DirichletVAE-config", lambda: DirichletVAE(object()), TypeError, "config"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
