"""Tests of :mod:`vae_edu.exact.linear_gaussian`: the exact marginal, posterior and ELBO of
probabilistic PCA against independent computations (``torch.distributions``, Gaussian
conditioning on the full joint covariance, Monte Carlo, scikit-learn's PCA)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, reject
from sklearn.decomposition import PCA
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from vae_edu.distributions import reparameterize
from vae_edu.estimators import mc_mean
from vae_edu.exact import LinearGaussian

X_DIM, Z_DIM = 5, 2
F32, F64 = torch.float32, torch.float64


def _params(dtype=F64, seed: int = 0, orthogonal: bool = False, sigma2: float = 0.3):
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(X_DIM, Z_DIM, generator=gen, dtype=F64)
    if orthogonal:
        W = torch.linalg.qr(W).Q * torch.tensor([1.7, 0.6], dtype=F64)  # orthogonal columns, distinct norms
    b = torch.randn(X_DIM, generator=gen, dtype=F64)
    return W.to(dtype), b.to(dtype), sigma2


@pytest.fixture
def model(dtype) -> LinearGaussian:
    return LinearGaussian(*_params(dtype))


def _close(dtype) -> dict[str, float]:
    """Tolerances for two exact computations of the same float (float32 results are rounded once)."""
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}


def _random_q(shape, dtype, gen):
    mu_q = (1.5 * torch.randn((*shape, Z_DIM), generator=gen, dtype=F64)).to(dtype)
    log_var_q = (torch.rand((*shape, Z_DIM), generator=gen, dtype=F64) * 3 - 2).to(dtype)  # in [-2, 1]
    return mu_q, log_var_q


def _data(model: LinearGaussian, batch_shape, gen) -> torch.Tensor:
    n = max(1, math.prod(batch_shape))
    return model.sample(n, generator=gen).reshape(*batch_shape, X_DIM)


def _joint_conditional(model: LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """$p(z|x)$ from the joint Gaussian of $(z, x)$ with its full $(d+D)\\times(d+D)$ covariance.

    The joint covariance is $\\begin{pmatrix} I & W^\\top \\\\ W & WW^\\top + \\sigma^2 I\\end{pmatrix}$;
    with its precision $\\Lambda$, $p(z|x) = \\mathcal N(-\\Lambda_{zz}^{-1}\\Lambda_{zx}(x-b),\\ \\Lambda_{zz}^{-1})$.
    """
    W, b, s2 = model.W.double(), model.b.double(), model.sigma2.double()
    joint = torch.zeros(Z_DIM + X_DIM, Z_DIM + X_DIM, dtype=F64)
    joint[:Z_DIM, :Z_DIM] = torch.eye(Z_DIM, dtype=F64)
    joint[:Z_DIM, Z_DIM:] = W.T
    joint[Z_DIM:, :Z_DIM] = W
    joint[Z_DIM:, Z_DIM:] = W @ W.T + s2 * torch.eye(X_DIM, dtype=F64)
    precision = torch.linalg.inv(joint)
    cov = torch.linalg.inv(precision[:Z_DIM, :Z_DIM])
    mu = -((x.double() - b) @ precision[Z_DIM:, :Z_DIM]) @ cov.T  # (..., d)
    # the covariance-form conditioning formula agrees: Sigma_zz - Sigma_zx Sigma_xx^{-1} Sigma_xz
    sigma_xx_inv_xz = torch.linalg.solve(joint[Z_DIM:, Z_DIM:], joint[Z_DIM:, :Z_DIM])
    schur = joint[:Z_DIM, :Z_DIM] - joint[:Z_DIM, Z_DIM:] @ sigma_xx_inv_xz
    torch.testing.assert_close(cov, schur, rtol=1e-10, atol=1e-12)
    return mu, cov


# --------------------------------------------------------------------------- construction
def test_properties_and_dtype(model, dtype) -> None:
    assert (model.x_dim, model.z_dim, model.dtype) == (X_DIM, Z_DIM, dtype)
    assert model.sigma2.dtype == dtype and model.sigma2.dim() == 0
    assert float(model.sigma2) == pytest.approx(0.3, rel=1e-7)
    assert repr(model) == "LinearGaussian(x_dim=5, z_dim=2, sigma2=0.3)"


def test_sigma2_may_be_an_int_or_a_tensor() -> None:
    W, b, _ = _params(F32)
    assert LinearGaussian(W, b, 2).sigma2.item() == 2.0
    m = LinearGaussian(W, b, torch.tensor(0.25, dtype=F64))
    assert m.sigma2.dtype == F32 and m.sigma2.item() == 0.25


# ------------------------------------------------------------------------ generative side
def test_marginal(model, dtype) -> None:
    mean, cov = model.marginal()
    assert mean.shape == (X_DIM,) and cov.shape == (X_DIM, X_DIM) and cov.dtype == dtype
    W, b, s2 = (t.double() for t in (model.W, model.b, model.sigma2))
    torch.testing.assert_close(mean.double(), b, rtol=0, atol=0)
    torch.testing.assert_close(cov.double(), W @ W.T + s2 * torch.eye(X_DIM, dtype=F64), **_close(dtype))


def test_log_marginal_matches_torch(model, batch_shape, dtype, gen) -> None:
    x = _data(model, batch_shape, gen)
    got = model.log_marginal(x)
    assert got.shape == batch_shape and got.dtype == dtype
    W, b, s2 = (t.double() for t in (model.W, model.b, model.sigma2))
    ref = MultivariateNormal(b, W @ W.T + s2 * torch.eye(X_DIM, dtype=F64)).log_prob(x.double())
    torch.testing.assert_close(got.double(), ref, **_close(dtype))


def test_log_marginal_broadcasts_and_is_exact_far_out(model, dtype) -> None:
    x = model.b + 100.0 * torch.ones(3, 1, X_DIM, dtype=dtype)  # far in the tail
    got = model.log_marginal(x)
    assert got.shape == (3, 1) and bool(torch.isfinite(got).all())
    W, b, s2 = (t.double() for t in (model.W, model.b, model.sigma2))
    ref = MultivariateNormal(b, W @ W.T + s2 * torch.eye(X_DIM, dtype=F64)).log_prob(x.double())
    torch.testing.assert_close(got.double(), ref, rtol=1e-6 if dtype == F32 else 1e-12, atol=0)


def test_log_p_x_given_z_matches_torch(model, dtype, gen) -> None:
    x = _data(model, (4,), gen)  # (B, D)
    z = torch.randn(7, 4, Z_DIM, generator=gen, dtype=F64).to(dtype)  # (K, B, d)
    got = model.log_p_x_given_z(x, z)
    assert got.shape == (7, 4) and got.dtype == dtype
    W, b, s2 = (t.double() for t in (model.W, model.b, model.sigma2))
    ref = Independent(Normal(z.double() @ W.T + b, s2.sqrt()), 1).log_prob(x.double())
    torch.testing.assert_close(got.double(), ref, **_close(dtype))


def test_log_p_z_given_x_matches_torch_and_bayes_rule(model, dtype, gen) -> None:
    x = _data(model, (4,), gen)  # (B, D)
    z = torch.randn(7, 4, Z_DIM, generator=gen, dtype=F64).to(dtype)  # (K, B, d)
    got = model.log_p_z_given_x(x, z)
    assert got.shape == (7, 4) and got.dtype == dtype
    mu, cov = _joint_conditional(model, x)  # independent: conditioning the full joint Gaussian
    ref = MultivariateNormal(mu, cov).log_prob(z.double())
    torch.testing.assert_close(got.double(), ref, **_close(dtype))
    # Bayes' rule: log p(x|z) + log p(z) - log p(z|x) = log p(x) at every z
    log_p_z = Independent(Normal(torch.zeros(Z_DIM, dtype=F64), 1.0), 1).log_prob(z.double())
    bayes = model.log_p_x_given_z(x, z).double() + log_p_z - got.double()
    torch.testing.assert_close(bayes, model.log_marginal(x).double().expand(7, 4), **_close(dtype))


def test_sample_shapes_and_reproducibility(model, dtype) -> None:
    x = model.sample(6, generator=torch.Generator().manual_seed(1))
    assert x.shape == (6, X_DIM) and x.dtype == dtype
    x2, z2 = model.sample(6, generator=torch.Generator().manual_seed(1), return_z=True)
    assert z2.shape == (6, Z_DIM) and z2.dtype == dtype
    assert torch.equal(x, x2)
    assert not torch.equal(x, model.sample(6, generator=torch.Generator().manual_seed(2)))


def test_sample_moments_match_the_marginal(model, dtype, gen) -> None:
    """Sample mean within 4 standard errors of $b$, sample covariance within 4.5 of $C$."""
    n = 40_000
    x, z = model.sample(n, generator=gen, return_z=True)
    x, z = x.double(), z.double()
    b, C = (t.double() for t in model.marginal())
    mean, se = mc_mean(x)
    assert bool(((mean - b).abs() <= 4 * se).all())
    centred = x - b
    products = centred[:, :, None] * centred[:, None, :]  # (n, D, D)
    cov, se_cov = mc_mean(products)
    assert bool(((cov - C).abs() <= 4.5 * se_cov).all()), (cov - C) / se_cov
    # the latent codes are N(0, I) and the noise is N(0, sigma^2 I), independent of z
    z_mean, z_se = mc_mean(z)
    assert bool((z_mean.abs() <= 4 * z_se).all())
    noise = x - z @ model.W.double().T - b  # (n, D)
    var, se_var = mc_mean(noise**2)
    assert bool(((var - model.sigma2.double()).abs() <= 4 * se_var).all())
    corr, se_corr = mc_mean(noise[:, :, None] * z[:, None, :])
    assert bool((corr.abs() <= 4.5 * se_corr).all())


# -------------------------------------------------------------------------- inference side
def test_posterior_equals_gaussian_conditioning(model, batch_shape, dtype, gen) -> None:
    x = _data(model, batch_shape, gen)
    mu, cov = model.posterior(x)
    assert mu.shape == (*batch_shape, Z_DIM) and cov.shape == (*batch_shape, Z_DIM, Z_DIM)
    assert mu.dtype == cov.dtype == dtype
    ref_mu, ref_cov = _joint_conditional(model, x)
    torch.testing.assert_close(mu.double(), ref_mu, **_close(dtype))
    torch.testing.assert_close(cov.double(), ref_cov.expand(*batch_shape, Z_DIM, Z_DIM), **_close(dtype))
    assert torch.equal(cov, cov.transpose(-1, -2))


def test_posterior_is_bayes_rule(gen) -> None:
    """$\\log p(z|x) = \\log p(x|z) + \\log p(z) - \\log p(x)$ at arbitrary $z$."""
    model = LinearGaussian(*_params(F64))
    x = model.sample(3, generator=gen)  # (B, D)
    z = torch.randn(10, 3, Z_DIM, generator=gen, dtype=F64)  # (K, B, d)
    mu, cov = model.posterior(x)
    log_post = MultivariateNormal(mu, cov).log_prob(z)  # (K, B)
    log_prior = MultivariateNormal(torch.zeros(Z_DIM, dtype=F64), torch.eye(Z_DIM, dtype=F64)).log_prob(z)
    bayes = model.log_p_x_given_z(x, z) + log_prior - model.log_marginal(x)
    torch.testing.assert_close(log_post, bayes, rtol=1e-10, atol=1e-10)


def _mean_field_optimum(model, x):
    """The best diagonal $q$: posterior mean and $\\sigma_j^2 = 1/\\Lambda_{jj}$ (precision diagonal)."""
    mu, cov = model.posterior(x)
    precision = torch.linalg.inv(cov.double())
    return mu, -torch.log(torch.diagonal(precision, dim1=-2, dim2=-1)).to(model.dtype), precision


def test_elbo_identity(model, batch_shape, dtype, gen) -> None:
    """$\\log p(x) = \\mathrm{ELBO}(q) + \\mathrm{KL}(q\\,\\|\\,p(z|x))$ exactly, for random $q$."""
    x = _data(model, batch_shape, gen)
    mu_q, log_var_q = _random_q(batch_shape, dtype, gen)
    elbo = model.elbo(x, mu_q, log_var_q)
    kl = model.kl_to_posterior(x, mu_q, log_var_q)
    log_px = model.log_marginal(x)
    assert elbo.shape == kl.shape == batch_shape and elbo.dtype == kl.dtype == dtype
    assert bool((kl > 0).all())
    assert bool((elbo < log_px).all())
    tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == F32 else {"rtol": 0.0, "atol": 1e-8}
    torch.testing.assert_close(elbo + kl, log_px, **tol)


def test_elbo_is_reconstruction_minus_kl_to_prior(model, dtype, gen) -> None:
    x = _data(model, (4,), gen)
    mu_q, log_var_q = _random_q((4,), dtype, gen)
    recon = model.expected_log_p_x_given_z(x, mu_q, log_var_q)
    q = Independent(Normal(mu_q.double(), torch.exp(0.5 * log_var_q.double())), 1)
    prior = Independent(Normal(torch.zeros(Z_DIM, dtype=F64), torch.ones(Z_DIM, dtype=F64)), 1)
    torch.testing.assert_close(
        model.elbo(x, mu_q, log_var_q).double(), recon.double() - kl_divergence(q, prior), **_close(dtype)
    )


def test_kl_to_posterior_matches_torch(model, batch_shape, dtype, gen) -> None:
    x = _data(model, batch_shape, gen)
    mu_q, log_var_q = _random_q(batch_shape, dtype, gen)
    mu, cov = _joint_conditional(model, x)
    q = MultivariateNormal(mu_q.double(), torch.diag_embed(log_var_q.double().exp()))
    ref = kl_divergence(q, MultivariateNormal(mu, cov))
    torch.testing.assert_close(model.kl_to_posterior(x, mu_q, log_var_q).double(), ref, **_close(dtype))


def test_mean_field_gap_value(model, dtype, gen) -> None:
    """At the best diagonal $q$ the gap is $\\frac12(\\sum_j\\log\\Lambda_{jj} - \\log\\det\\Lambda) > 0$
    when the posterior is correlated, and no other diagonal $q$ does better."""
    x = _data(model, (3,), gen)
    mu_q, log_var_q, precision = _mean_field_optimum(model, x)
    gap = 0.5 * (torch.log(torch.diagonal(precision, dim1=-2, dim2=-1)).sum(-1) - torch.logdet(precision))
    kl = model.kl_to_posterior(x, mu_q, log_var_q)
    assert bool((gap > 1e-3).all())
    torch.testing.assert_close(kl.double(), gap, **_close(dtype))
    for d_mu, d_lv in ((0.05, 0.0), (0.0, 0.05), (0.0, -0.05)):
        worse = model.kl_to_posterior(x, mu_q + d_mu, log_var_q + d_lv)
        assert bool((worse > kl).all())


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_kl_to_posterior_zero_at_diagonal_posterior(dtype, batch_shape, gen) -> None:
    model = LinearGaussian(*_params(dtype, orthogonal=True))
    x = _data(model, batch_shape, gen)
    mu_post, cov_post = model.posterior(x)
    off_diagonal = cov_post - torch.diag_embed(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    assert bool((off_diagonal.abs() <= (1e-7 if dtype == F32 else 1e-15)).all())
    log_var_post = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    kl = model.kl_to_posterior(x, mu_post, log_var_post)
    assert kl.shape == batch_shape
    assert bool((kl >= 0).all()) and bool((kl <= (1e-5 if dtype == F32 else 1e-12)).all()), kl
    tol = {"rtol": 1e-6, "atol": 1e-5} if dtype == F32 else {"rtol": 0.0, "atol": 1e-10}
    torch.testing.assert_close(model.elbo(x, mu_post, log_var_post), model.log_marginal(x), **tol)


def test_expected_log_p_x_given_z_vs_monte_carlo(model, batch_shape, dtype, gen, assert_mc_agrees) -> None:
    x = _data(model, batch_shape, gen)
    mu_post, cov_post = model.posterior(x)
    mu_q, log_var_q = _random_q(batch_shape, dtype, gen)  # q: a perturbed posterior
    mu_q = mu_post + 0.3 * mu_q
    log_var_q = torch.log(torch.diagonal(cov_post, dim1=-2, dim2=-1)) + 0.5 * log_var_q
    exact = model.expected_log_p_x_given_z(x, mu_q, log_var_q)
    assert exact.shape == batch_shape and exact.dtype == dtype
    num = 300_000 // max(1, math.prod(batch_shape))
    z = reparameterize(mu_q, log_var_q, torch.randn((num, *batch_shape, Z_DIM), generator=gen, dtype=dtype))
    estimate, stderr = mc_mean(model.log_p_x_given_z(x, z))  # (K, *batch) -> batch
    assert_mc_agrees(exact, estimate, stderr)


def test_extreme_q_stays_finite(dtype, gen) -> None:
    """$\\log\\sigma_q^2 \\in \\{-50, 50\\}$ and $|\\mu_q|$ large: finite, KL $\\ge 0$, ELBO $\\le \\log p(x)$."""
    model = LinearGaussian(*_params(dtype))
    big = 1e4 if dtype == F64 else 1e3
    x = model.sample(1, generator=gen)[0]
    log_px = model.log_marginal(x)
    for mu_value in (0.0, big, -big):
        for lv in (-50.0, -20.0, 0.0, 20.0, 50.0):
            mu_q = torch.full((Z_DIM,), mu_value, dtype=dtype)
            log_var_q = torch.full((Z_DIM,), lv, dtype=dtype)
            values = [
                model.expected_log_p_x_given_z(x, mu_q, log_var_q),
                model.elbo(x, mu_q, log_var_q),
                model.kl_to_posterior(x, mu_q, log_var_q),
            ]
            assert all(bool(torch.isfinite(v)) for v in values), (mu_value, lv, values)
            _, elbo, kl = values
            assert kl >= 0 and elbo <= log_px
            scale = float(kl.double().abs() + elbo.double().abs())
            assert abs(float(elbo.double() + kl.double() - log_px.double())) <= 1e-6 * scale + 1e-3


# -------------------------------------------------------------------------------- fitting
N_FIT = 20_000


@pytest.fixture(scope="module")
def fit_data() -> tuple[LinearGaussian, torch.Tensor]:
    truth = LinearGaussian(*_params(F64, seed=7, sigma2=0.3))
    data = truth.sample(N_FIT, generator=torch.Generator().manual_seed(11))
    return truth, data


def test_fit_recovers_the_generating_model(fit_data) -> None:
    truth, data = fit_data
    fitted = LinearGaussian.fit(data, Z_DIM)
    assert (fitted.x_dim, fitted.z_dim, fitted.dtype) == (X_DIM, Z_DIM, F64)
    assert float(fitted.sigma2) == pytest.approx(0.3, rel=0.03)
    wwt_true, wwt_fit = truth.W @ truth.W.T, fitted.W @ fitted.W.T  # W is identifiable only up to rotation
    assert float(torch.linalg.norm(wwt_fit - wwt_true) / torch.linalg.norm(wwt_true)) < 0.03
    torch.testing.assert_close(fitted.b, data.mean(0), rtol=0, atol=1e-12)
    assert float((fitted.b - truth.b).abs().max()) < 4 * math.sqrt(float(truth.marginal()[1].diagonal().max()) / N_FIT)


def test_fit_is_the_maximum_likelihood(fit_data) -> None:
    """The fitted parameters beat perturbed ones, their rotations tie, and the gradient vanishes."""
    _, data = fit_data
    fitted = LinearGaussian.fit(data, Z_DIM)
    best = fitted.log_marginal(data).mean()
    gen = torch.Generator().manual_seed(0)
    W, b, s2 = fitted.W, fitted.b, fitted.sigma2
    perturbed = [
        LinearGaussian(W + 0.02 * torch.randn(W.shape, generator=gen, dtype=F64), b, s2),
        LinearGaussian(W * 1.02, b, s2),
        LinearGaussian(W, b + 0.02 * torch.randn(b.shape, generator=gen, dtype=F64), s2),
        LinearGaussian(W, b, s2 * 1.02),
        LinearGaussian(W, b, s2 / 1.02),
    ]
    for other in perturbed:
        assert float(other.log_marginal(data).mean()) < float(best)
    angle = torch.tensor(0.7, dtype=F64)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    rotated = LinearGaussian(W @ rotation, b, s2)
    torch.testing.assert_close(rotated.log_marginal(data).mean(), best, rtol=1e-12, atol=0)
    # stationarity: the gradient of the mean log-likelihood at the fit is zero
    params = [W.clone().requires_grad_(), b.clone().requires_grad_(), s2.log().clone().requires_grad_()]
    LinearGaussian(params[0], params[1], params[2].exp()).log_marginal(data).mean().backward()
    for p in params:
        assert float(p.grad.abs().max()) < 1e-8, p.grad


def test_fit_agrees_with_sklearn_pca(fit_data, dtype) -> None:
    """scikit-learn estimates the covariance with $1/(N-1)$, the maximum likelihood with $1/N$."""
    _, data = fit_data
    data = data.to(dtype)
    fitted = LinearGaussian.fit(data, Z_DIM)
    assert fitted.dtype == dtype
    pca = PCA(n_components=Z_DIM).fit(data.double().numpy())
    ratio = (N_FIT - 1) / N_FIT
    rtol = 1e-5 if dtype == F32 else 1e-9
    np.testing.assert_allclose(float(fitted.sigma2), pca.noise_variance_ * ratio, rtol=rtol)
    np.testing.assert_allclose(fitted.b.double().numpy(), pca.mean_, rtol=rtol, atol=rtol)
    components, loadings = pca.components_, pca.explained_variance_ - pca.noise_variance_
    wwt_sklearn = ratio * components.T @ np.diag(loadings) @ components
    W = fitted.W.double().numpy()
    np.testing.assert_allclose(W @ W.T, wwt_sklearn, rtol=rtol, atol=rtol)
    cov = fitted.marginal()[1].double().numpy()
    np.testing.assert_allclose(cov, ratio * pca.get_covariance(), rtol=rtol, atol=rtol)
    # the columns of W point along sklearn's components (up to sign), scaled by sqrt(lambda_j - sigma^2)
    norms = np.linalg.norm(W, axis=0)
    np.testing.assert_allclose(norms, np.sqrt(ratio * loadings), rtol=rtol)
    np.testing.assert_allclose(np.abs(np.sum(W / norms * components.T, axis=0)), 1.0, rtol=rtol)


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_fit_rejects_rank_deficient_data(dtype, rank: int) -> None:
    """Data of rank ``rank``: fitting ``z_dim >= rank`` would make $\\sigma^2 = 0$."""
    gen = torch.Generator().manual_seed(0)
    loadings = torch.randn(X_DIM, rank, generator=gen, dtype=F64)
    offset = torch.randn(X_DIM, generator=gen, dtype=F64)
    data = (torch.randn(200, rank, generator=gen, dtype=F64) @ loadings.T + offset).to(dtype)  # (200, D), rank `rank`
    for z_dim in range(max(rank, 1), X_DIM):
        with pytest.raises(ValueError, match=r"\bz_dim\b"):
            LinearGaussian.fit(data, z_dim)
    if rank >= 2:  # a smaller z_dim is fine: the discarded eigenvalues are not all zero
        fitted = LinearGaussian.fit(data, rank - 1)
        assert float(fitted.sigma2) > 0


# ------------------------------------------------------------------------------ bad inputs
def _method_calls(model):
    x = torch.zeros(4, X_DIM, dtype=model.dtype)
    q = torch.zeros(4, Z_DIM, dtype=model.dtype)
    return {
        "log_marginal": (model.log_marginal, {"x": x}),
        "posterior": (model.posterior, {"x": x}),
        "log_p_x_given_z": (model.log_p_x_given_z, {"x": x, "z": q}),
        "log_p_z_given_x": (model.log_p_z_given_x, {"x": x, "z": q}),
        "expected_log_p_x_given_z": (model.expected_log_p_x_given_z, {"x": x, "mu_q": q, "log_var_q": q}),
        "elbo": (model.elbo, {"x": x, "mu_q": q, "log_var_q": q}),
        "kl_to_posterior": (model.kl_to_posterior, {"x": x, "mu_q": q, "log_var_q": q}),
    }


BAD_VALUES = [
    ("nan", lambda t: t.index_fill(-1, torch.tensor([0]), float("nan")), ValueError),
    ("inf", lambda t: t.index_fill(-1, torch.tensor([0]), float("inf")), ValueError),
    ("list", lambda t: t.tolist(), TypeError),
    ("int", lambda t: t.to(torch.int64), TypeError),
    ("event", lambda t: torch.zeros(4, t.shape[-1] + 1, dtype=t.dtype), ValueError),
    ("batch", lambda t: torch.zeros(3, t.shape[-1], dtype=t.dtype), ValueError),
    ("dtype", lambda t: t.double(), TypeError),  # the model is float32
    ("0-dim", lambda t: torch.tensor(0.0), ValueError),
]
METHOD_CASES = [
    (method, arg, kind, make, error)
    for method, (_, kwargs) in _method_calls(LinearGaussian(*_params(F32))).items()
    for arg in kwargs
    for kind, make, error in BAD_VALUES
    if not (kind == "batch" and len(kwargs) == 1)  # a single argument has nothing to broadcast against
]


def _method(method, arg, make):
    func, kwargs = _method_calls(LinearGaussian(*_params(F32)))[method]
    return func(**(kwargs | {arg: make(kwargs[arg])}))


def _constructor(arg, value):
    W, b, sigma2 = _params(F32)
    return LinearGaussian(**({"W": W, "b": b, "sigma2": sigma2} | {arg: value(W, b)}))


def _fit_data() -> torch.Tensor:
    return LinearGaussian(*_params(F64, seed=7, sigma2=0.3)).sample(50, generator=torch.Generator().manual_seed(11))


BAD_INPUTS = [
    # the constructor
    *[reject(f"LinearGaussian-{arg}-{i}", lambda arg=arg, value=value: _constructor(arg, value), error, arg)
      for i, (arg, value, error) in enumerate([
        ("W", lambda W, b: W.tolist(), TypeError),
        ("W", lambda W, b: W.to(torch.int64), TypeError),
        ("W", lambda W, b: W[:, 0], ValueError),  # 1-D
        ("W", lambda W, b: W[None], ValueError),  # 3-D
        ("W", lambda W, b: W.index_fill(0, torch.tensor([1]), float("nan")), ValueError),
        ("W", lambda W, b: W.index_fill(0, torch.tensor([1]), float("inf")), ValueError),
        ("b", lambda W, b: b[:-1], ValueError),  # wrong length
        ("b", lambda W, b: b[None], ValueError),  # (1, x_dim)
        ("b", lambda W, b: b.double(), TypeError),
        ("b", lambda W, b: b.index_fill(0, torch.tensor([0]), float("nan")), ValueError),
        ("b", lambda W, b: b.numpy(), TypeError),
        ("sigma2", lambda W, b: 0.0, ValueError),
        ("sigma2", lambda W, b: -0.1, ValueError),
        ("sigma2", lambda W, b: float("nan"), ValueError),
        ("sigma2", lambda W, b: float("inf"), ValueError),
        ("sigma2", lambda W, b: torch.tensor(-1.0), ValueError),
        ("sigma2", lambda W, b: torch.tensor([0.1]), ValueError),  # not 0-dim
        ("sigma2", lambda W, b: torch.tensor(1), TypeError),  # integer tensor
        ("sigma2", lambda W, b: "0.1", TypeError),
        ("sigma2", lambda W, b: True, TypeError),
        ("sigma2", lambda W, b: None, TypeError),
      ])],
    # sample
    *[reject(f"sample-n-{n!r}-{str(dtype)[6:]}", lambda n=n, dtype=dtype: LinearGaussian(*_params(dtype)).sample(n),
             (ValueError, TypeError), "n")
      for n in [0, -1, 2.0, True, None, "3"] for dtype in (F32, F64)],
    # the methods: every tensor argument
    *[reject(f"{method}-{arg}-{kind}", lambda method=method, arg=arg, make=make: _method(method, arg, make), error, arg)
      for method, arg, kind, make, error in METHOD_CASES],
    # fit
    *[reject(f"fit-z_dim-{z_dim!r}", lambda z_dim=z_dim: LinearGaussian.fit(_fit_data(), z_dim), (ValueError, TypeError),
             "z_dim")
      for z_dim in [0, -1, X_DIM, X_DIM + 1, 2.0, True, None, "2"]],
    *[reject(f"fit-data-{i}", lambda data=data: LinearGaussian.fit(data(), 1), error, "data")
      for i, (data, error) in enumerate([
          (lambda: torch.randn(50), ValueError),  # 1-D
          (lambda: torch.randn(2, 50, X_DIM), ValueError),  # 3-D
          (lambda: torch.randn(1, X_DIM), ValueError),  # one row
          (lambda: torch.randn(50, X_DIM).index_fill(0, torch.tensor([3]), float("nan")), ValueError),
          (lambda: torch.randn(50, X_DIM).index_fill(0, torch.tensor([3]), float("inf")), ValueError),
          (lambda: torch.randint(0, 5, (50, X_DIM)), TypeError),
          (lambda: np.random.default_rng(0).normal(size=(50, X_DIM)), TypeError),
      ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
