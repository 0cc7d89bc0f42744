r"""Tests of :mod:`vae_edu.estimators.likelihood`: the IWAE bound and the importance-sampled
$\log p(x)$ of a model, exact on a linear VAE whose decoder is the linear-Gaussian model, ordered
and tightening with $k$, chunked without changing the result; and its table of bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch import nn

from vae_edu.estimators import importance_log_mean, iwae_bound, log_likelihood, log_mean_exp, mc_mean
from vae_edu.exact import LinearGaussian
from vae_edu.models import GAN, VAE, GANConfig, VAEConfig

F32, F64 = torch.float32, torch.float64



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


def test_iwae_bound_takes_num_samples_by_name(gen) -> None:
    model = _small_vae(F32)
    x = torch.randint(0, 3, (3, 5), generator=gen).float()
    a = iwae_bound(model, x, num_samples=4, generator=torch.Generator().manual_seed(2))
    b = iwae_bound(model, x, 4, generator=torch.Generator().manual_seed(2))
    assert a.shape == (3,) and torch.equal(a, b)


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


# ------------------------------------------------------------------------------ bad inputs
def _log_likelihood(**bad):
    return log_likelihood(_small_vae(F32), **({"x": torch.zeros(2, 5), "num_samples": 3} | bad))


_ESTIMATORS = [("iwae_bound", iwae_bound), ("log_likelihood", log_likelihood)]

BAD_INPUTS = [
    *[reject(f"log_likelihood-{name}-{i}", lambda kwargs=kwargs: _log_likelihood(**kwargs), error, name)
      for i, (kwargs, error, name) in enumerate([
          ({"num_samples": 0}, ValueError, "num_samples"),
          ({"num_samples": 2.5}, TypeError, "num_samples"),
          ({"chunk_size": 0}, ValueError, "chunk_size"),
          ({"chunk_size": True}, TypeError, "chunk_size"),
          ({"num_samples": 1, "return_stderr": True}, ValueError, "num_samples"),
          ({"x": [[0.0] * 5]}, TypeError, "x"),
          ({"x": torch.full((2, 5), 0.5)}, ValueError, "x"),  # not a level: the model says so
          ({"x": torch.zeros(2, 4)}, ValueError, "x"),
          ({"x": (torch.zeros(2, 5), torch.zeros(3))}, ValueError, "x"),
      ])],
    *[reject(f"iwae_bound-num_samples-{n!r}", lambda n=n: iwae_bound(_small_vae(F32), torch.zeros(2, 5), n), error,
             "num_samples")
      for n, error in [(0, ValueError), (-1, ValueError), (1.0, TypeError), (True, TypeError)]],
    *[reject(f"{name}-generator", lambda fn=fn: fn(_small_vae(F32), torch.zeros(2, 5), num_samples=3, generator=42),
             TypeError, r"generator must be a torch\.Generator")
      for name, fn in _ESTIMATORS],
    *[reject(f"{name}-a-GAN", lambda fn=fn: fn(GAN(GANConfig(x_dim=5, z_dim=2, hidden=4)), torch.zeros(2, 5),
                                              num_samples=3),
             TypeError, r"model must have a log_importance_weights method.*GAN")
      for name, fn in _ESTIMATORS],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
