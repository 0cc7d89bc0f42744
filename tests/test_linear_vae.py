"""Tests of :mod:`vae_edu.exact.linear_vae`: the closed-form ELBO against Monte Carlo, torch.distributions
and the exact log-likelihood of :class:`LinearGaussian`; gradients; training to the pPCA optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject
from scipy.linalg import subspace_angles
from torch.distributions import Independent, Normal

from vae_edu.estimators import mc_mean
from vae_edu.exact import LinearGaussian
from vae_edu.exact import LinearVAE, fit_exact_elbo, fit_monte_carlo_elbo

X_DIM, Z_DIM = 5, 2
F32, F64 = torch.float32, torch.float64
PARAMETER_SHAPES = {
    "W_q": (Z_DIM, X_DIM),
    "b_q": (Z_DIM,),
    "log_var_q": (Z_DIM,),
    "W_p": (X_DIM, Z_DIM),
    "b_p": (X_DIM,),
    "log_var_p": (),
}


def _close(dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}


def _model(dtype=F64, seed: int = 0) -> LinearVAE:
    """A model with random (not trained) parameters of order one, so every term matters."""
    gen = torch.Generator().manual_seed(seed)
    model = LinearVAE(X_DIM, Z_DIM, dtype=dtype, generator=gen, init_std=0.7)
    with torch.no_grad():
        model.b_q.copy_(torch.randn(Z_DIM, generator=gen, dtype=F64))
        model.log_var_q.copy_(torch.rand(Z_DIM, generator=gen, dtype=F64) * 2 - 1.5)
        model.b_p.copy_(torch.randn(X_DIM, generator=gen, dtype=F64))
        model.log_var_p.fill_(math.log(0.4))
    return model


def _x(batch_shape, dtype, gen) -> torch.Tensor:
    return (1.5 * torch.randn((*batch_shape, X_DIM), generator=gen, dtype=F64)).to(dtype)


def _set_encoder_to_posterior(model: LinearVAE) -> None:
    r"""$W_q = M^{-1}W_p^\top$, $b_q = -M^{-1}W_p^\top b_p$, $\sigma_q^2 = \operatorname{diag}(\sigma_p^2M^{-1})$."""
    lg = model.to_linear_gaussian()
    W, b, sigma2 = lg.W.double(), lg.b.double(), lg.sigma2.double()
    m = W.T @ W + sigma2 * torch.eye(Z_DIM, dtype=F64)
    A = torch.linalg.solve(m, W.T)  # posterior-mean map, (z_dim, x_dim)
    with torch.no_grad():
        model.W_q.copy_(A)
        model.b_q.copy_(-A @ b)
        model.log_var_q.copy_(torch.log(torch.diagonal(sigma2 * torch.linalg.inv(m))))


def _orthogonal_decoder(model: LinearVAE, gen) -> None:
    """Give the decoder orthogonal columns of distinct lengths: then the true posterior is diagonal."""
    q, _ = torch.linalg.qr(torch.randn(X_DIM, Z_DIM, generator=gen, dtype=F64))
    with torch.no_grad():
        model.W_p.copy_(q * torch.tensor([1.8, 0.6], dtype=F64))


# ------------------------------------------------------------------------------ construction
def test_parameters_shapes_and_dtype(dtype) -> None:
    model = LinearVAE(X_DIM, Z_DIM, dtype=dtype)
    params = dict(model.named_parameters())
    assert {name: tuple(p.shape) for name, p in params.items()} == PARAMETER_SHAPES
    assert all(p.dtype == dtype for p in params.values()) and model.dtype == dtype
    assert (model.x_dim, model.z_dim) == (X_DIM, Z_DIM)
    assert "x_dim=5, z_dim=2" in repr(model)
    for name in ("b_q", "log_var_q", "b_p", "log_var_p"):
        assert bool((params[name] == 0).all())


def test_initialisation_is_reproducible_and_scaled() -> None:
    a = LinearVAE(200, 30, generator=torch.Generator().manual_seed(3), init_std=0.05)
    b = LinearVAE(200, 30, generator=torch.Generator().manual_seed(3), init_std=0.05)
    assert torch.equal(a.W_q, b.W_q) and torch.equal(a.W_p, b.W_p)
    assert a.W_p.std().item() == pytest.approx(0.05, rel=0.05)  # 6000 draws: relative se ~ 1%


# ------------------------------------------------------------------------------ the two halves
def test_encode_decode_shapes_and_values(batch_shape, dtype, gen) -> None:
    model = _model(dtype)
    x = _x(batch_shape, dtype, gen)
    mu_q, log_var_q = model.encode(x)
    assert mu_q.shape == log_var_q.shape == (*batch_shape, Z_DIM)
    assert mu_q.dtype == dtype
    torch.testing.assert_close(mu_q, x @ model.W_q.T + model.b_q, **_close(dtype))
    assert bool((log_var_q == model.log_var_q).all())  # the same variance for every x
    mu_p = model.decode(mu_q)
    assert mu_p.shape == (*batch_shape, X_DIM)
    torch.testing.assert_close(mu_p, mu_q @ model.W_p.T + model.b_p, **_close(dtype))


def test_log_p_x_given_z_matches_torch_and_broadcasts(dtype, gen) -> None:
    model = _model(dtype)
    x = _x((4,), dtype, gen)
    z = torch.randn(7, 4, Z_DIM, generator=gen, dtype=F64).to(dtype)  # (K, B, z_dim)
    log_p = model.log_p_x_given_z(x, z)
    assert log_p.shape == (7, 4)
    ref = Independent(Normal(model.decode(z), torch.exp(0.5 * model.log_var_p)), 1).log_prob(x)
    torch.testing.assert_close(log_p, ref, **_close(dtype))
    # the same as the LinearGaussian decoder's
    torch.testing.assert_close(log_p, model.to_linear_gaussian().log_p_x_given_z(x, z), **_close(dtype))


def test_to_linear_gaussian_is_a_detached_copy(dtype) -> None:
    model = _model(dtype)
    lg = model.to_linear_gaussian()
    assert isinstance(lg, LinearGaussian) and lg.dtype == dtype
    assert torch.equal(lg.W, model.W_p.detach()) and torch.equal(lg.b, model.b_p.detach())
    torch.testing.assert_close(lg.sigma2, torch.exp(model.log_var_p.detach()), **_close(dtype))
    assert not (lg.W.requires_grad or lg.b.requires_grad or lg.sigma2.requires_grad)
    with torch.no_grad():
        model.W_p.add_(1.0)
    assert not torch.equal(lg.W, model.W_p.detach())


# ------------------------------------------------------------------------------ the exact ELBO
def test_elbo_exact_equals_linear_gaussian_elbo(batch_shape, dtype, gen) -> None:
    """The closed form in $\\log\\sigma_p^2$ agrees with :meth:`LinearGaussian.elbo` (written in $\\sigma^2$)."""
    model = _model(dtype)
    x = _x(batch_shape, dtype, gen)
    elbo = model.elbo_exact(x)
    assert elbo.shape == batch_shape and elbo.dtype == dtype
    ref = model.to_linear_gaussian().elbo(x, *model.encode(x))
    torch.testing.assert_close(elbo, ref, **_close(dtype))


def test_elbo_exact_vs_monte_carlo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    model = _model(dtype)
    x = _x(batch_shape, dtype, gen)
    num = 400_000 // max(1, math.prod(batch_shape))
    estimate, stderr = model.elbo_monte_carlo(x, num, gen)
    assert estimate.shape == stderr.shape == batch_shape and estimate.dtype == dtype
    assert_mc_agrees(model.elbo_exact(x), estimate, stderr)


def test_monte_carlo_elbo_against_torch_distributions(gen) -> None:
    """The same samples, scored independently with torch.distributions, give the same estimate."""
    model = _model(F64)
    x = _x((3,), F64, gen)
    seed = 11
    estimate, stderr = model.elbo_monte_carlo(x, 50, torch.Generator().manual_seed(seed))
    mu_q, log_var_q = model.encode(x)
    eps = torch.randn((50, 3, Z_DIM), generator=torch.Generator().manual_seed(seed), dtype=F64)
    q = Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1)
    z = mu_q + torch.exp(0.5 * log_var_q) * eps  # (K, B, z_dim)
    prior = Independent(Normal(torch.zeros(Z_DIM, dtype=F64), torch.ones(Z_DIM, dtype=F64)), 1)
    decoder = Independent(Normal(model.decode(z), torch.exp(0.5 * model.log_var_p)), 1)
    terms = decoder.log_prob(x) + prior.log_prob(z) - q.log_prob(z)  # (K, B)
    ref, ref_se = mc_mean(terms)
    torch.testing.assert_close(estimate, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(stderr, ref_se, rtol=1e-10, atol=1e-12)


def test_monte_carlo_elbo_is_reproducible() -> None:
    model = _model(F64)
    x = _x((4,), F64, torch.Generator().manual_seed(0))
    first = model.elbo_monte_carlo(x, 10, torch.Generator().manual_seed(5))
    second = model.elbo_monte_carlo(x, 10, torch.Generator().manual_seed(5))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


@pytest.mark.parametrize("seed", range(5))
def test_elbo_exact_is_below_log_p_x_by_the_kl_to_the_posterior(seed) -> None:
    """For any parameters: $\\mathrm{ELBO} = \\log p(x) - \\mathrm{KL}(q\\,\\|\\,p(z|x)) \\le \\log p(x)$."""
    gen = torch.Generator().manual_seed(100 + seed)
    model = _model(F64, seed=seed)
    x = _x((20,), F64, gen)
    lg = model.to_linear_gaussian()
    elbo, log_p_x = model.elbo_exact(x), lg.log_marginal(x)
    kl = lg.kl_to_posterior(x, *model.encode(x))
    assert bool((elbo < log_p_x).all())
    assert bool((kl > 1e-3).all())  # a random encoder is far from the posterior
    torch.testing.assert_close(log_p_x - elbo, kl, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_elbo_exact_attains_log_p_x_at_a_diagonal_true_posterior(dtype, batch_shape, gen) -> None:
    model = _model(dtype)
    _orthogonal_decoder(model, gen)
    _set_encoder_to_posterior(model)
    x = _x(batch_shape, dtype, gen)
    lg = model.to_linear_gaussian()
    _, cov_post = lg.posterior(x)
    off_diagonal = cov_post - torch.diag_embed(torch.diagonal(cov_post, dim1=-2, dim2=-1))
    assert bool((off_diagonal.abs() <= (1e-6 if dtype == F32 else 1e-14)).all())
    torch.testing.assert_close(model.elbo_exact(x), lg.log_marginal(x), **_close(dtype))
    # and the Monte Carlo ELBO has zero variance there: log p(x,z) - log q(z|x) = log p(x) for every z
    estimate, stderr = model.elbo_monte_carlo(x, 20, gen)
    assert bool((stderr <= (1e-4 if dtype == F32 else 1e-10)).all())
    torch.testing.assert_close(estimate, lg.log_marginal(x), **{"rtol": 1e-5, "atol": 1e-4} if dtype == F32 else _close(dtype))


def test_elbo_stays_below_log_p_x_when_the_posterior_is_correlated(gen) -> None:
    """Non-orthogonal decoder columns: even the best diagonal $q$ misses $\\log p(x)$, by
    $\\frac12(\\sum_j\\log\\Lambda_{jj} - \\log\\det\\Lambda)$ with $\\Lambda = M/\\sigma_p^2$."""
    model = _model(F64)
    q, _ = torch.linalg.qr(torch.randn(X_DIM, Z_DIM, generator=gen, dtype=F64))
    with torch.no_grad():
        model.W_p.copy_(q @ torch.tensor([[1.5, 1.0], [0.0, 0.7]], dtype=F64))  # columns at ~35 degrees
    _set_encoder_to_posterior(model)  # right mean; variances 1 / Lambda_jj are the best diagonal ones
    with torch.no_grad():
        lg = model.to_linear_gaussian()
        precision = (lg.W.T @ lg.W) / lg.sigma2 + torch.eye(Z_DIM, dtype=F64)
        model.log_var_q.copy_(-torch.log(torch.diagonal(precision)))
    x = _x((6,), F64, gen)
    gap = lg.log_marginal(x) - model.elbo_exact(x)
    expected = 0.5 * (torch.log(torch.diagonal(precision)).sum() - torch.logdet(precision))
    assert float(expected) > 0.1
    torch.testing.assert_close(gap, expected.expand(6), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------ gradients
def test_gradients_of_the_exact_elbo_match_finite_differences() -> None:
    model = _model(F64)
    x = _x((3,), F64, torch.Generator().manual_seed(1))
    names = list(PARAMETER_SHAPES)
    params = tuple(dict(model.named_parameters())[n].detach().clone().requires_grad_(True) for n in names)

    class ExactElbo(torch.nn.Module):  # functional_call calls forward
        def __init__(self) -> None:
            super().__init__()
            self.vae = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.vae.elbo_exact(x).sum()

    wrapper = ExactElbo()

    def elbo(*values: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(wrapper, {f"vae.{n}": v for n, v in zip(names, values)}, (x,), strict=True)

    assert torch.autograd.gradcheck(elbo, params, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dtype", [F32, F64])
def test_gradients_flow_to_every_parameter(dtype) -> None:
    model = _model(dtype)
    x = _x((8,), dtype, torch.Generator().manual_seed(2))
    for loss in (-model.elbo_exact(x).mean(), -model.elbo_monte_carlo(x, 4, torch.Generator().manual_seed(3))[0].mean()):
        model.zero_grad()
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.shape == p.shape, name
            assert bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().max()) > 0, name


def test_monte_carlo_gradient_is_unbiased() -> None:
    """The reparameterised gradient, averaged over 40 independent batches, matches the exact gradient."""
    model = _model(F64)
    x = _x((3,), F64, torch.Generator().manual_seed(4))
    model.zero_grad()
    model.elbo_exact(x).sum().backward()
    exact = torch.cat([p.grad.flatten() for p in model.parameters()])
    gen = torch.Generator().manual_seed(5)
    grads = []
    for _ in range(40):
        model.zero_grad()
        model.elbo_monte_carlo(x, 2_000, gen)[0].sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    mean, stderr = mc_mean(torch.stack(grads))  # (num_params,)
    z_scores = (mean - exact) / stderr
    assert bool((stderr > 0).all())
    assert float(z_scores.abs().max()) < 4.5, z_scores  # 37 components, each within 4.5 standard errors
    assert float((z_scores**2).mean()) < 2.0  # and no systematic bias: mean squared z-score ~ 1


# ------------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def fit_data() -> tuple[torch.Tensor, LinearGaussian]:
    """1000 samples from a pPCA model with distinct singular values, and the closed-form ML fit."""
    gen = torch.Generator().manual_seed(7)
    q, _ = torch.linalg.qr(torch.randn(X_DIM, Z_DIM, generator=gen, dtype=F64))
    truth = LinearGaussian(q * torch.tensor([2.0, 1.0], dtype=F64), torch.randn(X_DIM, generator=gen, dtype=F64), 0.2)
    data = truth.sample(1000, generator=gen)
    return data, LinearGaussian.fit(data, Z_DIM)


def test_fit_exact_elbo_reaches_the_maximum_likelihood(fit_data) -> None:
    data, ml = fit_data
    model = LinearVAE(X_DIM, Z_DIM, dtype=F64, generator=torch.Generator().manual_seed(0))
    history = fit_exact_elbo(model, data, num_iterations=95, record_every=10)
    assert len(history) == 11  # iterations 0, 10, ..., 90 and 95
    assert all(b >= a - 1e-12 for a, b in zip(history, history[1:]))  # a line search never goes down
    max_log_likelihood = float(ml.log_marginal(data).mean())
    assert history[0] < max_log_likelihood - 1.0
    assert 0.0 <= max_log_likelihood - history[-1] < 1e-6  # the ELBO never exceeds the maximum likelihood
    W = model.W_p.detach().numpy()
    assert float(np.max(subspace_angles(W, ml.W.numpy()))) < 1e-3
    torch.testing.assert_close(model.to_linear_gaussian().sigma2, ml.sigma2, rtol=1e-5, atol=0.0)


def test_fit_monte_carlo_elbo_climbs(fit_data) -> None:
    data, ml = fit_data
    model = LinearVAE(X_DIM, Z_DIM, dtype=F64, generator=torch.Generator().manual_seed(0))
    history = fit_monte_carlo_elbo(model, data, num_samples=2, num_steps=400, lr=0.05, generator=torch.Generator().manual_seed(1))
    assert len(history) == 401
    assert history[-1] == pytest.approx(float(model.elbo_exact(data).detach().mean()), abs=1e-12)
    gap = float(ml.log_marginal(data).mean()) - history[-1]
    assert 0.0 <= gap < 0.005, gap
    assert history[0] < history[-1] - 1.0


@pytest.mark.parametrize("decay", [True, False])
def test_fit_monte_carlo_elbo_controls_are_adam_on_the_exact_elbo(fit_data, decay) -> None:
    """num_samples=None is Adam on the exact ELBO; decay=False keeps the learning rate at lr."""
    data, _ = fit_data
    num_steps, lr = 30, 0.05
    model = LinearVAE(X_DIM, Z_DIM, dtype=F64, generator=torch.Generator().manual_seed(0))
    reference = LinearVAE(X_DIM, Z_DIM, dtype=F64, generator=torch.Generator().manual_seed(0))
    history = fit_monte_carlo_elbo(model, data, num_samples=None, num_steps=num_steps, lr=lr, decay=decay)
    # the same run by hand
    optimizer = torch.optim.Adam(reference.parameters(), lr=lr)
    expected = [float(reference.elbo_exact(data).detach().mean())]
    for step in range(num_steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1.0 - step / num_steps) if decay else lr
        optimizer.zero_grad()
        (-reference.elbo_exact(data).mean()).backward()
        optimizer.step()
        expected.append(float(reference.elbo_exact(data).detach().mean()))
    assert len(history) == num_steps + 1
    np.testing.assert_allclose(history, expected, rtol=1e-12, atol=1e-12)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_fit_monte_carlo_elbo_without_decay_keeps_the_noise(fit_data) -> None:
    """At a constant learning rate the noisy run ends further from the optimum than with the decay."""
    data, ml = fit_data
    max_log_likelihood = float(ml.log_marginal(data).mean())
    gaps = {}
    for decay in (True, False):
        model = LinearVAE(X_DIM, Z_DIM, dtype=F64, generator=torch.Generator().manual_seed(0))
        history = fit_monte_carlo_elbo(
            model, data, num_samples=2, num_steps=400, lr=0.05, decay=decay, generator=torch.Generator().manual_seed(1)
        )
        gaps[decay] = max_log_likelihood - float(np.mean(history[-50:]))
    assert 0.0 <= 3 * gaps[True] < gaps[False], gaps  # about ten times, over seeds


# ------------------------------------------------------------------------------ bad inputs
def _model3() -> LinearVAE:
    return LinearVAE(3, 3)  # event dimension 3 for x and z, float32, to match tests/bad_inputs.py


def _constructor(**bad):
    args = {"x_dim": X_DIM, "z_dim": Z_DIM} | bad
    return LinearVAE(args.pop("x_dim"), args.pop("z_dim"), **args)


def _fit_exact(**bad):
    args = {"model": _model3(), "x": torch.zeros(4, 3), "num_iterations": 1} | bad
    return fit_exact_elbo(args.pop("model"), args.pop("x"), **args)


def _fit_mc(**bad):
    args = {"model": _model3(), "x": torch.zeros(4, 3), "num_samples": 2, "num_steps": 1, "lr": 0.1} | bad
    return fit_monte_carlo_elbo(args.pop("model"), args.pop("x"), **args)


_METHODS_OF_X = {
    "encode": lambda m, x: m.encode(x),
    "elbo_exact": lambda m, x: m.elbo_exact(x),
    "elbo_monte_carlo": lambda m, x: m.elbo_monte_carlo(x, 4),
    "log_p_x_given_z": lambda m, x: m.log_p_x_given_z(x, torch.zeros(2, 3)),
}
#: One tensor argument alone has no batch shape to disagree with: the "batch" case is valid.
_ALONE = [(kind, make, error) for kind, make, error in BAD if kind != "batch"]

BAD_INPUTS = [
    # the constructor
    *[reject(f"LinearVAE-{arg}-{i}", lambda kwargs=kwargs: _constructor(**kwargs), error, arg)
      for i, (kwargs, arg, error) in enumerate([
          ({"x_dim": 0}, "x_dim", ValueError),
          ({"z_dim": 2.0}, "z_dim", TypeError),
          ({"z_dim": True}, "z_dim", TypeError),
          ({"dtype": torch.int64}, "dtype", TypeError),
          ({"dtype": "float64"}, "dtype", TypeError),
          ({"generator": 0}, "generator", TypeError),
          ({"init_std": 0.0}, "init_std", ValueError),
          ({"init_std": float("nan")}, "init_std", ValueError),
      ])],
    # the methods: x, z, the batch shapes, K and the generator
    *[reject(f"{method}-x-{kind}", lambda call=call, make=make: call(_model3(), make()), error, "x")
      for method, call in _METHODS_OF_X.items() for kind, make, error in _ALONE],
    *[reject(f"decode-z-{kind}", lambda make=make: _model3().decode(make()), error, "z") for kind, make, error in _ALONE],
    reject("log_p_x_given_z-batch", lambda: _model3().log_p_x_given_z(torch.zeros(2, 3), torch.zeros(5, 3)), ValueError,
           "broadcast"),
    *[reject(f"elbo_monte_carlo-num_samples-{n!r}", lambda n=n: _model3().elbo_monte_carlo(torch.zeros(2, 3), n), error,
             "num_samples")
      for n, error in [(1, ValueError), (0, ValueError), (2.5, TypeError), (True, TypeError)]],
    reject("elbo_monte_carlo-generator", lambda: _model3().elbo_monte_carlo(torch.zeros(2, 3), 4, generator=0),
           TypeError, "generator"),
    # fit_exact_elbo and fit_monte_carlo_elbo
    *[reject(f"fit_exact_elbo-{arg}-{i}", lambda kwargs=kwargs: _fit_exact(**kwargs), error, arg)
      for i, (kwargs, arg, error) in enumerate([
          ({"x": torch.zeros(3)}, "x", ValueError),  # one example, not a data set
          ({"x": torch.zeros(2, 2, 3)}, "x", ValueError),
          ({"x": torch.zeros(4, 5)}, "x", ValueError),
          ({"x": torch.zeros(4, 3, dtype=F64)}, "x", TypeError),
          ({"model": "not a model"}, "model", TypeError),
          ({"num_iterations": 0}, "num_iterations", ValueError),
          ({"record_every": 0}, "record_every", ValueError),
          ({"history_size": 1.5}, "history_size", TypeError),
      ])],
    *[reject(f"fit_monte_carlo_elbo-{arg}-{i}", lambda kwargs=kwargs: _fit_mc(**kwargs), error, arg)
      for i, (kwargs, arg, error) in enumerate([
          ({"x": torch.full((4, 3), float("nan"))}, "x", ValueError),
          ({"num_samples": 1}, "num_samples", ValueError),
          ({"num_steps": 0}, "num_steps", ValueError),
          ({"lr": -0.1}, "lr", ValueError),
          ({"lr": float("inf")}, "lr", ValueError),
          ({"generator": 1}, "generator", TypeError),
          ({"decay": 1}, "decay", TypeError),
          ({"num_samples": 2.0}, "num_samples", TypeError),
      ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
