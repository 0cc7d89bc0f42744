"""Tests of :mod:`vae_edu.models.cvae` (the conditional VAE) and :mod:`vae_edu.exact.conditional_linear`
(its exact playground): shapes and dtypes, every log-density and KL against ``torch.distributions``,
the conditional ELBO against Monte Carlo and against the exact $\\log p(x|y)$, ``fit`` and
``log_likelihood`` on ``(x, y)`` tuples, style transfer, and bad inputs named."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, MultivariateNormal, Normal, kl_divergence

from vae_edu.exact import ConditionalLinearGaussian
from vae_edu.estimators import iwae_bound, log_likelihood, mc_mean
from vae_edu.kl import kl_normal_normal, kl_normal_std_normal
from vae_edu.models import DiagonalGaussian, HasELBOTerms, VAEConfig, VariationalModel
from vae_edu.models.cvae import CVAE, LabelPrior, check_labels, one_hot
from vae_edu.training import fit, mean_negative_elbo

F32, F64 = torch.float32, torch.float64
X_DIM, Z_DIM, L, C = 6, 3, 4, 3
LIKELIHOODS = ["categorical", "bernoulli", "gaussian"]


def _config(likelihood: str = "categorical", **kw) -> VAEConfig:
    return VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=16, likelihood=likelihood, num_levels=L, **kw)  # type: ignore[arg-type]


def _model(likelihood: str = "categorical", dtype=F32, learned_prior: bool = False, **kw) -> CVAE:
    torch.manual_seed(5)
    model = CVAE(_config(likelihood, **kw), num_classes=C, learned_prior=learned_prior).to(dtype)
    if learned_prior:  # move the prior away from N(0, I), so that the tests see its parameters
        with torch.no_grad():
            gen = torch.Generator().manual_seed(6)
            model.prior.mu_p.copy_(torch.randn(C, Z_DIM, generator=gen))
            model.prior.log_var_p.copy_(0.5 * torch.randn(C, Z_DIM, generator=gen))
    return model


def _data(likelihood: str, n: int, gen: torch.Generator, dtype=F32) -> tuple[torch.Tensor, torch.Tensor]:
    if likelihood == "categorical":
        x = torch.randint(0, L, (n, X_DIM), generator=gen).to(dtype)
    elif likelihood == "bernoulli":
        x = torch.randint(0, 2, (n, X_DIM), generator=gen).to(dtype)
    else:
        x = torch.rand((n, X_DIM), generator=gen, dtype=dtype)
    return x, torch.arange(n) % C


def _tol(dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}


# ------------------------------------------------------------------------------ labels
def test_one_hot_and_class_labels() -> None:
    y = torch.tensor([2, 0, 1])
    code = one_hot(y, 3, F64)
    assert code.dtype == F64 and torch.equal(code, torch.eye(3, dtype=F64)[[2, 0, 1]])
    labels = _model().class_labels(2)
    assert labels.dtype == torch.int64 and labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_check_labels_message() -> None:
    with pytest.raises(ValueError, match=r"labels in \[0, 10\), got values in \[0, 12\]"):
        check_labels("y", torch.tensor([0, 12]), 10)
    assert check_labels("y", torch.tensor([0, 9]), 10, 2).tolist() == [0, 9]


# ------------------------------------------------------------------------------ shapes
@pytest.mark.parametrize("learned_prior", [False, True], ids=["standard", "learned"])
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_shapes_and_dtypes(likelihood: str, learned_prior: bool, dtype, gen) -> None:
    model = _model(likelihood, dtype, learned_prior)
    assert isinstance(model, VariationalModel) and isinstance(model, HasELBOTerms)
    assert not model.training  # created in evaluation mode, like VAE
    x, y = _data(likelihood, 4, gen, dtype)
    mu_q, log_var_q = model.encode(x, y)
    assert mu_q.shape == log_var_q.shape == (4, Z_DIM) and mu_q.dtype == dtype
    terms = model.elbo_terms(x, y, num_samples=3, generator=gen)
    assert terms.reconstruction.shape == (4,) and terms.kl_per_dim.shape == (4, Z_DIM)
    assert model.elbo(x, y).shape == (4,) and model.elbo(x, y).dtype == dtype
    assert model.log_importance_weights(x, y, num_samples=5, generator=gen).shape == (5, 4)
    labels = model.class_labels(2)  # (6,)
    assert model.sample(labels, gen).shape == model.sample(labels, gen, expected=True).shape == (2 * C, X_DIM)
    assert model.reconstruct(x, y).shape == model.transfer(x, y, (y + 1) % C).shape == (4, X_DIM)
    assert model.prior.sample(labels, gen).shape == (2 * C, Z_DIM)


def test_networks_see_the_label(gen) -> None:
    """The encoder and the decoder take [input, onehot(y)]: the same x (or z) with another label
    gives other outputs, and the decoder is the plain Decoder applied to the concatenation."""
    model = _model()
    x, _ = _data("categorical", 2, gen)
    y0, y1 = torch.tensor([0, 0]), torch.tensor([1, 2])
    assert not torch.allclose(model.encoder(x, y0)[0], model.encoder(x, y1)[0])
    out = model.encoder.net(torch.cat([x, one_hot(y1, C, F32)], -1))
    torch.testing.assert_close(torch.cat(model.encoder(x, y1), -1), out, rtol=0, atol=0)
    z = torch.randn(5, 2, Z_DIM, generator=gen)  # (K, B, z_dim)
    logits = model.decoder(z, y1)
    assert logits.shape == (5, 2, X_DIM, L)
    inner = model.decoder.decoder(torch.cat([z, one_hot(y1, C, F32).expand(5, 2, C)], -1))
    torch.testing.assert_close(logits, inner, rtol=0, atol=0)
    assert not torch.allclose(logits, model.decoder(z, y0))


# ------------------------------------------------------------------ densities and KLs
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_decoder_log_prob_matches_torch(likelihood: str, dtype, gen) -> None:
    model = _model(likelihood, dtype, **({"decoder_log_var": -1.0} if likelihood == "gaussian" else {}))
    x, y = _data(likelihood, 4, gen, dtype)
    z = torch.randn(3, 4, Z_DIM, generator=gen, dtype=dtype)
    params = model.decoder(z, y)
    if likelihood == "categorical":
        ref = Categorical(logits=params).log_prob(x.long()).sum(-1)
    elif likelihood == "bernoulli":
        ref = torch.distributions.Bernoulli(logits=params).log_prob(x).sum(-1)
    else:
        ref = Independent(Normal(params[0], torch.exp(0.5 * params[1])), 1).log_prob(x)
    torch.testing.assert_close(model.decoder.log_prob(x, z, y), ref, **_tol(dtype))


@pytest.mark.parametrize("learned", [False, True], ids=["standard", "learned"])
def test_prior_log_prob_samples_and_kl(learned: bool, dtype, gen) -> None:
    model = _model(dtype=dtype, learned_prior=learned)
    prior = model.prior
    assert isinstance(prior, LabelPrior) and prior.mu_p.shape == (C, Z_DIM)
    assert isinstance(prior.mu_p, nn.Parameter) == learned and isinstance(prior.log_var_p, nn.Parameter) == learned
    y = torch.tensor([0, 2, 1, 2])
    mu_p, log_var_p = prior.mu_p[y].detach(), prior.log_var_p[y].detach()  # (4, z_dim)
    p = Independent(Normal(mu_p, torch.exp(0.5 * log_var_p)), 1)
    z = torch.randn(7, 4, Z_DIM, generator=gen, dtype=dtype)
    torch.testing.assert_close(prior.log_prob(z, y), p.log_prob(z), **_tol(dtype))
    # samples: mean mu_p[y] and variance exp(log_var_p[y]), within 4 standard errors
    many = prior.sample(y.repeat(20_000), gen).detach().double().view(20_000, 4, Z_DIM)
    mean, se = mc_mean(many)
    assert bool(((mean - mu_p.double()).abs() <= 4 * se).all())
    var, se_var = mc_mean((many - mu_p.double()) ** 2)
    assert bool(((var - log_var_p.double().exp()).abs() <= 4 * se_var).all())
    # the KL term: kl_normal_normal to p(z|y) (kl_normal_std_normal for the standard prior), = torch's
    mu_q, log_var_q = torch.randn(2, 4, Z_DIM, generator=gen, dtype=dtype)
    kl = prior.kl_per_dim(DiagonalGaussian(mu_q, log_var_q), y).sum(-1)
    torch.testing.assert_close(kl, kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), **_tol(dtype))
    q = Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1)
    torch.testing.assert_close(kl, kl_divergence(q, p), **_tol(dtype))
    if not learned:
        torch.testing.assert_close(kl, kl_normal_std_normal(mu_q, log_var_q), rtol=0, atol=0)


@pytest.mark.parametrize("learned", [False, True], ids=["standard", "learned"])
def test_elbo_terms_are_the_formulas(learned: bool, gen) -> None:
    model = _model(dtype=F64, learned_prior=learned)
    x, y = _data("categorical", 4, gen, F64)
    terms = model.elbo_terms(x, y, num_samples=3, generator=torch.Generator().manual_seed(1))
    mu_q, log_var_q = model.encoder(x, y)
    mu_p, log_var_p = model.prior.mu_p[y], model.prior.log_var_p[y]
    for j in range(Z_DIM):  # the learned prior's KL is kl_normal_normal, dimension by dimension
        torch.testing.assert_close(
            terms.kl_per_dim[:, j], kl_normal_normal(mu_q[:, j : j + 1], log_var_q[:, j : j + 1], mu_p[:, j : j + 1], log_var_p[:, j : j + 1])
        )
    eps = torch.randn((3, 4, Z_DIM), generator=torch.Generator().manual_seed(1), dtype=F64)
    z = mu_q + torch.exp(0.5 * log_var_q) * eps
    torch.testing.assert_close(terms.reconstruction, model.decoder.log_prob(x, z, y).mean(0))
    for beta in (0.0, 0.5, 1.0, 3.0):
        elbo = model.elbo(x, y, num_samples=3, beta=beta, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(elbo, terms.reconstruction - beta * terms.kl)


@pytest.mark.parametrize("learned", [False, True], ids=["standard", "learned"])
def test_log_importance_weights_are_the_formula(learned: bool, gen) -> None:
    model = _model(dtype=F64, learned_prior=learned)
    x, y = _data("categorical", 3, gen, F64)
    log_w = model.log_importance_weights(x, y, num_samples=5, generator=torch.Generator().manual_seed(2))
    mu_q, log_var_q = model.encoder(x, y)
    eps = torch.randn((5, 3, Z_DIM), generator=torch.Generator().manual_seed(2), dtype=F64)
    z = mu_q + torch.exp(0.5 * log_var_q) * eps
    prior = Independent(Normal(model.prior.mu_p[y], torch.exp(0.5 * model.prior.log_var_p[y])), 1)
    ref = model.decoder.log_prob(x, z, y) + prior.log_prob(z) - Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1).log_prob(z)
    torch.testing.assert_close(log_w, ref)


@pytest.mark.parametrize("learned", [False, True], ids=["standard", "learned"])
def test_elbo_is_the_mean_of_the_log_weights(learned: bool, gen) -> None:
    r"""$\mathbb E_q[\log w] = \mathrm{ELBO}(x, y)$: closed-form-KL ELBO and mean log-weight within 4 combined standard errors."""
    model = _model(dtype=F64, learned_prior=learned)
    x, y = _data("categorical", 3, gen, F64)
    with torch.no_grad():
        per_draw = model.elbo(x.repeat(4000, 1), y.repeat(4000), generator=gen).view(4000, 3)
        elbo_mean, elbo_se = mc_mean(per_draw)
        log_w_mean, log_w_se = mc_mean(model.log_importance_weights(x, y, num_samples=4000, generator=gen))
    diff = (elbo_mean - log_w_mean).abs()
    assert bool((diff <= 4 * torch.sqrt(elbo_se**2 + log_w_se**2)).all()), diff
    assert bool((elbo_se < log_w_se).all())  # the closed-form KL has the smaller variance


# ------------------------------------------------------------- sampling and transfer
def test_sample_is_reproducible_and_expected_is_the_decoder_mean(gen) -> None:
    model = _model()
    y = model.class_labels(3)
    a = model.sample(y, torch.Generator().manual_seed(9))
    assert torch.equal(a, model.sample(y, torch.Generator().manual_seed(9)))
    assert bool(((a == a.round()) & (a >= 0) & (a <= L - 1)).all())
    z = model.prior.sample(y, torch.Generator().manual_seed(9))
    torch.testing.assert_close(model.sample(y, torch.Generator().manual_seed(9), expected=True), model.decoder.mean(z, y), rtol=0, atol=0)


def test_learned_prior_samples_come_from_the_class_prior() -> None:
    model = _model(learned_prior=True)
    with torch.no_grad():
        model.prior.mu_p.copy_(torch.arange(C, dtype=F32)[:, None] * 10.0 + torch.zeros(C, Z_DIM))
        model.prior.log_var_p.fill_(-20.0)  # point masses at 0, 10, 20
    z = model.prior.sample(torch.tensor([2, 0, 1]), torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, torch.tensor([20.0, 0.0, 10.0])[:, None].expand(3, Z_DIM), rtol=0, atol=1e-3)


def test_transfer_keeps_z(gen) -> None:
    """transfer(x, y_from, y_to) decodes z = mu_q(x, y_from) with y_to: z depends on y_from only,
    and with y_to = y_from it is the reconstruction."""
    model = _model(dtype=F64)
    x, y = _data("categorical", 4, gen, F64)
    y_to = (y + 1) % C
    mu_q, _ = model.encoder(x, y)
    torch.testing.assert_close(model.transfer(x, y, y_to), model.decoder.mean(mu_q, y_to), rtol=0, atol=0)
    torch.testing.assert_close(model.transfer(x, y, y), model.reconstruct(x, y), rtol=0, atol=0)
    # each row depends only on its own (x, z, y_to): transferring one row alone gives the same image
    torch.testing.assert_close(model.transfer(x[1:2], y[1:2], y_to[1:2]), model.transfer(x, y, y_to)[1:2])
    assert not torch.allclose(model.transfer(x, y, y_to), model.reconstruct(x, y))


# --------------------------------------------------------- fit and log_likelihood
@pytest.mark.parametrize("learned", [False, True], ids=["standard", "learned"])
def test_fit_and_log_likelihood_run_on_tuples(learned: bool) -> None:
    gen = torch.Generator().manual_seed(3)
    model = _model(learned_prior=learned)
    if learned:
        with torch.no_grad():
            model.prior.mu_p.zero_()
            model.prior.log_var_p.zero_()
    y = torch.arange(60) % C
    x = (torch.rand(60, X_DIM, generator=gen) < (y[:, None] + 1) / (C + 1)).float() * (L - 1)  # class-dependent images
    before = mean_negative_elbo(model, (x, y), num_samples=5, generator=torch.Generator().manual_seed(0))
    history = fit(model, (x, y), (x, y), epochs=15, batch_size=20, lr=1e-2, progress=False, seed=0)
    assert history.epochs == 15 and math.isfinite(history.best_val_loss)
    after = mean_negative_elbo(model, (x, y), num_samples=5, generator=torch.Generator().manual_seed(0))
    assert after < before - 1.0
    if learned:  # the prior is trained too
        assert model.prior.mu_p.abs().max() > 0
    with torch.no_grad():
        elbo_mean, elbo_se = mc_mean(model.elbo(x, y, num_samples=200, generator=gen))  # over examples
    log_p, stderr = log_likelihood(model, (x, y), 500, chunk_size=700, generator=gen, return_stderr=True)
    assert log_p.shape == stderr.shape == (60,) and bool(torch.isfinite(log_p).all())
    assert bool((stderr < 0.1).all())
    assert float(log_p.mean()) >= float(elbo_mean) - 4 * float(elbo_se)  # L_500 >= ELBO on average
    assert iwae_bound(model, (x, y), 4, generator=gen).shape == (60,)
    history_fb = fit(model, (x, y), (x, y), epochs=2, free_bits=0.1, progress=False)  # uses elbo_terms(x, y)
    assert history_fb.epochs == 2


# ------------------------------------------------------- the exact conditional model
def _linear(dtype=F64, orthogonal: bool = True) -> ConditionalLinearGaussian:
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(5, 2, generator=gen, dtype=F64)
    if orthogonal:  # orthogonal columns: a diagonal posterior, which a diagonal q can equal
        W = torch.linalg.qr(W).Q * torch.tensor([1.7, 0.6], dtype=F64)
    b, m = torch.randn(3, 5, generator=gen, dtype=F64), 2 * torch.randn(3, 2, generator=gen, dtype=F64)
    return ConditionalLinearGaussian(W.to(dtype), b.to(dtype), m.to(dtype), 0.4)


def test_linear_marginal_and_posterior_against_the_joint_gaussian(dtype) -> None:
    model = _linear(dtype, orthogonal=False)
    gen = torch.Generator().manual_seed(1)
    y = torch.tensor([0, 1, 2, 2, 1])
    x = model.sample(y, generator=gen)
    assert x.shape == (5, 5) and x.dtype == dtype
    W, b, m, s2 = model.W.double(), model.b.double(), model.m.double(), 0.4
    cov_x = W @ W.T + s2 * torch.eye(5, dtype=F64)
    ref = MultivariateNormal(m[y] @ W.T + b[y], cov_x).log_prob(x.double())
    torch.testing.assert_close(model.log_marginal(x, y).double(), ref, **_tol(dtype))
    # p(z|x,y) by conditioning the joint Gaussian of (z, x) given y
    gain = W.T @ torch.linalg.inv(cov_x)  # (2, 5)
    mu_ref = m[y] + (x.double() - m[y] @ W.T - b[y]) @ gain.T
    cov_ref = torch.eye(2, dtype=F64) - gain @ W
    mu_post, cov_post = model.posterior(x, y)
    assert mu_post.shape == (5, 2) and cov_post.shape == (5, 2, 2)
    torch.testing.assert_close(mu_post.double(), mu_ref, **_tol(dtype))
    torch.testing.assert_close(cov_post.double(), cov_ref.expand(5, 2, 2), **_tol(dtype))
    # Bayes: log p(x|z,y) + log p(z|y) - log p(z|x,y) = log p(x|y) at any z
    z = torch.randn(4, 5, 2, generator=gen, dtype=dtype)
    bayes = model.log_p_x_given_z(x, z, y) + model.log_p_z(z, y) - model.log_p_z_given_x(x, z, y)
    torch.testing.assert_close(bayes, model.log_marginal(x, y).expand(4, 5), **_tol(dtype))


def test_linear_conditional_elbo_bound_gap_and_equality(dtype, assert_mc_agrees) -> None:
    model = _linear(dtype, orthogonal=True)
    gen = torch.Generator().manual_seed(2)
    y = torch.tensor([0, 1, 2])
    x = model.sample(y, generator=gen)
    log_p = model.log_marginal(x, y)
    mu_post, cov_post = model.posterior(x, y)
    log_var_post = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    # equality at the exact posterior (diagonal here)
    torch.testing.assert_close(model.elbo(x, y, mu_post, log_var_post), log_p, **_tol(dtype))
    assert float(model.kl_to_posterior(x, y, mu_post, log_var_post).abs().max()) < (1e-5 if dtype == F32 else 1e-10)
    # a wrong q: ELBO + KL(q || p(z|x,y)) = log p(x|y), the gap positive
    mu_q, log_var_q = mu_post + torch.tensor([0.4, -0.3], dtype=dtype), log_var_post + 0.4
    elbo = model.elbo(x, y, mu_q, log_var_q)
    gap = model.kl_to_posterior(x, y, mu_q, log_var_q)
    torch.testing.assert_close(elbo + gap, log_p, **_tol(dtype))
    assert bool((gap > 0.01).all()) and bool((elbo < log_p).all())
    # Monte Carlo: E_q[log p(x|z,y) + log p(z|y) - log q(z|x,y)] within 4 standard errors of the exact ELBO
    eps = torch.randn(100_000, 3, 2, generator=gen, dtype=F64).to(dtype)
    z = mu_q + torch.exp(0.5 * log_var_q) * eps  # (K, 3, 2)
    log_w = model.log_p_x_given_z(x, z, y) + model.log_p_z(z, y) - Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1).log_prob(z)
    estimate, se = mc_mean(log_w.double())
    assert_mc_agrees(elbo.double(), estimate, se, rel=0.01)


def test_linear_tilted_posterior_leaves_a_gap() -> None:
    """With non-orthogonal W the posterior is correlated: even the best diagonal q (variances
    1/precision_jj) keeps a positive gap, equal to the Hadamard formula."""
    model = _linear(F64, orthogonal=False)
    y = torch.tensor([1])
    x = model.sample(y, generator=torch.Generator().manual_seed(3))
    mu_post, cov_post = model.posterior(x, y)
    precision = torch.linalg.inv(cov_post[0])
    log_var_best = -torch.log(torch.diagonal(precision))[None]
    gap = model.kl_to_posterior(x, y, mu_post, log_var_best)
    formula = 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))
    torch.testing.assert_close(gap, formula[None], rtol=1e-10, atol=1e-12)
    assert float(gap) > 1e-3


def test_linear_samples_have_the_model_moments(dtype) -> None:
    """model.sample draws z ~ N(m_y, I) and x ~ N(Wz + b_y, sigma2 I): per class, the means of z
    and x are m_y and c_y = W m_y + b_y within 4 standard errors, and x - Wz - b_y has variance sigma2."""
    model = _linear(dtype, orthogonal=False)
    y = torch.tensor([0, 1, 2]).repeat(20_000)
    x, z = model.sample(y, generator=torch.Generator().manual_seed(5), return_z=True)
    x, z = x.double().view(20_000, 3, 5), z.double().view(20_000, 3, 2)
    for value, target in ((z, model.m.double()), (x, model.offset(torch.arange(3)).double())):
        mean, se = mc_mean(value)
        assert bool(((mean - target).abs() <= 4 * se).all()), (mean, target)
    residual = x - z @ model.W.double().T - model.b.double()  # the observation noise, (N, 3, x_dim)
    var, se = mc_mean(residual**2)
    assert bool(((var - 0.4).abs() <= 4 * se).all())


def test_linear_unconditional_evidence_and_bayes_classifier(dtype) -> None:
    """log p(x) = log sum_y p(y) p(x|y) against torch's mixture of Gaussians (uniform and a given
    p(y)); p(y|x) against Bayes' rule with that independent p(x); and, on draws (x, y) from the
    model, the average of p(y=c|x) equals the frequency of class c within 4 standard errors."""
    model = _linear(dtype, orthogonal=False)
    gen = torch.Generator().manual_seed(4)
    W, s2 = model.W.double(), 0.4
    cov_x = W @ W.T + s2 * torch.eye(5, dtype=F64)
    offsets = model.offset(torch.arange(3)).double()  # (C, x_dim)
    x = model.sample(torch.tensor([0, 1, 2, 2]), generator=gen)
    for probs in (torch.full((3,), 1 / 3, dtype=F64), torch.tensor([0.2, 0.5, 0.3], dtype=F64)):
        mixture = MixtureSameFamily(Categorical(probs=probs), MultivariateNormal(offsets, cov_x))
        log_p_y = torch.log(probs).to(dtype)
        ref = mixture.log_prob(x.double())  # (4,)
        torch.testing.assert_close(model.log_p_x(x, log_p_y).double(), ref, **_tol(dtype))
        posterior_y = model.log_p_y_given_x(x, log_p_y)
        assert posterior_y.shape == (4, 3) and posterior_y.dtype == dtype
        each = torch.stack([model.log_marginal(x, torch.full((4,), c)) for c in range(3)], -1).double()
        torch.testing.assert_close(posterior_y.double(), torch.log(probs) + each - ref[:, None], **_tol(dtype))
    torch.testing.assert_close(model.log_p_x(x), model.log_p_x(x, torch.full((3,), -math.log(3), dtype=dtype)), rtol=0, atol=0)
    # calibration on draws from the model, with a non-uniform p(y)
    probs = torch.tensor([0.2, 0.5, 0.3], dtype=F64)
    y_many = torch.multinomial(probs, 20_000, replacement=True, generator=gen)
    x_many = model.sample(y_many, generator=gen)
    p_y_given_x = model.log_p_y_given_x(x_many, torch.log(probs).to(dtype)).double().exp()  # (N, C)
    diff, se = mc_mean(one_hot(y_many, 3, F64) - p_y_given_x)  # (C,)
    assert bool((diff.abs() <= 4 * se).all()), (diff, se)
    assert float(p_y_given_x.max(-1).values.mean()) > 0.5  # an informative classifier, not p(y) itself


# ------------------------------------------------------------------------------ bad inputs
_G = torch.Generator().manual_seed(0)
_X, _Y = _data("categorical", 2, _G)
_W = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
_X5 = torch.zeros(2, 5, dtype=F64)
_CVAE_METHODS_OF_Y = ["elbo", "elbo_terms", "log_importance_weights", "reconstruct", "encode"]
_CVAE_METHODS_OF_X = ["elbo", "elbo_terms", "log_importance_weights", "reconstruct", "transfer"]


def _linear_model():
    return ConditionalLinearGaussian(_W, torch.zeros(3, 5, dtype=F64), torch.zeros(3, 2, dtype=F64), 0.5)


def _cvae_x(likelihood, method, x):
    y = torch.tensor([0, 1])
    return getattr(_model(likelihood), method)(*{"transfer": (x, y, y)}.get(method, (x, y)))


BAD_INPUTS = [
    # the CVAE's labels and data, through each public method
    *[reject(f"{method}-y-{i}", lambda method=method, y=y: getattr(_model(), method)(_X, y), error, "y")
      for method in _CVAE_METHODS_OF_Y
      for i, (y, error) in enumerate([
          (torch.tensor([0.0, 1.0]), TypeError),  # float labels
          ([0, 1], TypeError),
          (torch.tensor([0, 1], dtype=torch.int32), TypeError),
          (torch.tensor([[0, 1]]), ValueError),  # 2-D
          (torch.tensor(0), ValueError),  # 0-dim
          (torch.tensor([0, 1, 2]), ValueError),  # wrong length
          (torch.tensor([0, C]), ValueError),  # out of range
          (torch.tensor([-1, 0]), ValueError),
      ])],
    *[reject(f"{method}-x-{likelihood}-{i}", lambda method=method, likelihood=likelihood, x=x: _cvae_x(likelihood, method, x),
             error, "x")
      for method in _CVAE_METHODS_OF_X
      for i, (likelihood, x, error) in enumerate([
          ("categorical", torch.full((2, X_DIM), 0.5), ValueError),  # not a level
          ("categorical", torch.full((2, X_DIM), float(L)), ValueError),  # out of range
          ("bernoulli", torch.full((2, X_DIM), 0.5), ValueError),
          ("gaussian", torch.full((2, X_DIM), float("nan")), ValueError),
          ("gaussian", torch.zeros(2, X_DIM + 1), ValueError),
          ("gaussian", torch.zeros(X_DIM), ValueError),
          ("gaussian", torch.zeros(2, X_DIM, dtype=F64), TypeError),  # the model is float32
          ("gaussian", torch.zeros(2, X_DIM, dtype=torch.int64), TypeError),
          ("gaussian", [[0.0] * X_DIM] * 2, TypeError),
      ])],
    # the constructor, transfer and the parts
    reject("CVAE-config", lambda: CVAE({"z_dim": 2}), TypeError, "config"),
    *[reject(f"CVAE-num_classes-{bad!r}", lambda bad=bad: CVAE(_config(), num_classes=bad), error, "num_classes")
      for bad, error in ((1, ValueError), (0, ValueError), (2.0, TypeError), (True, TypeError))],
    reject("CVAE-learned_prior", lambda: CVAE(_config(), learned_prior=1), TypeError, "learned_prior"),
    reject("transfer-y_to", lambda: _model().transfer(_X, _Y, torch.tensor([0, C])), ValueError, "y_to"),
    reject("transfer-y_from", lambda: _model().transfer(_X, torch.tensor([0]), _Y), ValueError, "y_from"),
    reject("elbo-beta", lambda: _model().elbo(_X, _Y, beta=-1.0), ValueError, "beta"),
    reject("elbo-num_samples", lambda: _model().elbo(_X, _Y, num_samples=0), ValueError, "num_samples"),
    reject("decoder-z-batch", lambda: _model().decoder(torch.zeros(3, Z_DIM), _Y), ValueError, "z"),  # 3 codes, 2 labels
    reject("prior-z-batch", lambda: _model().prior.log_prob(torch.zeros(3, Z_DIM), _Y), ValueError, "z"),
    reject("class_labels-n_per_class", lambda: _model().class_labels(0), ValueError, "n_per_class"),
    *[reject(f"kl_per_dim-y-batch-{kind}", lambda learned=learned: _model(learned_prior=learned).kl_per_dim(
        torch.zeros(3, X_DIM), _Y), ValueError, "y")  # 3 examples, 2 labels: named, not broadcast
      for kind, learned in (("standard", False), ("learned", True))],
    # the conditional linear-Gaussian model
    reject("linear-log_p_y-not-normalised", lambda: _linear().log_p_x(_X5, torch.zeros(3, dtype=F64)), ValueError,
           "log_p_y"),
    reject("linear-log_p_y-classes", lambda: _linear().log_p_y_given_x(_X5, torch.full((2,), -math.log(2), dtype=F64)),
           ValueError, "log_p_y"),
    reject("linear-log_p_y-dtype", lambda: _linear().log_p_x(_X5, torch.full((3,), -math.log(3))), TypeError, "log_p_y"),
    reject("linear-x-list", lambda: _linear().log_p_x([[0.0] * 5]), TypeError, "x"),
    reject("linear-x-size", lambda: _linear().log_p_y_given_x(torch.zeros(2, 4, dtype=F64)), ValueError, "x"),
    reject("ConditionalLinearGaussian-b", lambda: ConditionalLinearGaussian(
        _W, torch.zeros(3, 4, dtype=F64), torch.zeros(3, 2, dtype=F64), 0.5), ValueError, "b"),
    reject("ConditionalLinearGaussian-m-size", lambda: ConditionalLinearGaussian(
        _W, torch.zeros(3, 5, dtype=F64), torch.zeros(3, 3, dtype=F64), 0.5), ValueError, "m"),
    reject("ConditionalLinearGaussian-m-dtype", lambda: ConditionalLinearGaussian(
        _W, torch.zeros(3, 5, dtype=F64), torch.zeros(3, 2), 0.5), TypeError, "m"),
    reject("ConditionalLinearGaussian-classes", lambda: ConditionalLinearGaussian(
        _W, torch.zeros(3, 5, dtype=F64), torch.zeros(2, 2, dtype=F64), 0.5), ValueError, "classes"),
    reject("ConditionalLinearGaussian-sigma2", lambda: ConditionalLinearGaussian(
        _W, torch.zeros(3, 5, dtype=F64), torch.zeros(3, 2, dtype=F64), -1.0), ValueError, "sigma2"),
    reject("linear-y-range", lambda: _linear_model().log_marginal(_X5, torch.tensor([0, 3])), ValueError, "y"),
    reject("linear-y-float", lambda: _linear_model().posterior(_X5, torch.tensor([0.0, 1.0])), TypeError, "y"),
    reject("linear-x-event", lambda: _linear_model().log_marginal(torch.zeros(2, 4, dtype=F64), torch.tensor([0, 1])),
           ValueError, "x"),
    reject("linear-x-dtype", lambda: _linear_model().log_marginal(torch.zeros(2, 5), torch.tensor([0, 1])), TypeError,
           "x"),
    reject("linear-elbo-x-nan", lambda: _linear_model().elbo(
        torch.full((2, 5), float("nan"), dtype=F64), torch.tensor([0, 1]), torch.zeros(2, 2, dtype=F64),
        torch.zeros(2, 2, dtype=F64)), ValueError, "x"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
