"""Tests of :mod:`vae_edu.models`: the config's validation; Encoder, Decoder and Prior against
``torch.distributions`` and Monte Carlo; the VAE's ELBO, its terms and its importance weights."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch import nn
from torch.distributions import Bernoulli, Categorical, Independent, Normal

from vae_edu.estimators import mc_mean
from vae_edu.kl import kl_normal_std_normal
from vae_edu.models import VAE, DiagonalGaussian, Decoder, Encoder, HasELBOTerms, StandardNormalPrior, VAEConfig, VariationalModel

F32, F64 = torch.float32, torch.float64
X_DIM, Z_DIM, L = 6, 3, 4


def _config(likelihood: str = "categorical", **kw) -> VAEConfig:
    return VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=16, likelihood=likelihood, num_levels=L, **kw)  # type: ignore[arg-type]


def _data(likelihood: str, n: int, gen: torch.Generator, dtype=F32) -> torch.Tensor:
    if likelihood == "categorical":
        return torch.randint(0, L, (n, X_DIM), generator=gen).to(dtype)
    if likelihood == "bernoulli":
        return torch.randint(0, 2, (n, X_DIM), generator=gen).to(dtype)
    return torch.rand((n, X_DIM), generator=gen, dtype=dtype)


def _model(likelihood: str = "categorical", dtype=F32, **kw) -> VAE:
    torch.manual_seed(5)
    return VAE.from_config(_config(likelihood, **kw)).to(dtype)


LIKELIHOODS = ["categorical", "bernoulli", "gaussian"]


# ----------------------------------------------------------------------------- VAEConfig
def test_config_defaults_are_the_digits_model() -> None:
    config = VAEConfig()
    assert (config.x_dim, config.z_dim, config.hidden, config.num_hidden_layers) == (64, 16, 256, 2)
    assert (config.likelihood, config.num_levels, config.decoder_log_var) == ("categorical", 17, None)
    assert (config.activation, config.decoder_dropout) == ("leaky_relu", 0.1)
    model = VAE.from_config()
    assert model.decoder.net[-1].out_features == 64 * 17 and model.encoder.net[-1].out_features == 2 * 16
    assert sum(isinstance(m, nn.Linear) for m in model.encoder.net) == 3  # two hidden layers + output


# ------------------------------------------------------------------------------- Encoder
def test_encoder_log_prob_matches_torch(dtype, gen) -> None:
    model = _model(dtype=dtype)
    x = _data("categorical", 5, gen, dtype)
    mu_q, log_var_q = model.encoder(x)
    assert mu_q.shape == log_var_q.shape == (5, Z_DIM) and mu_q.dtype == dtype
    q = model.encoder(x)
    z = q.rsample(7, generator=gen)
    assert z.shape == (7, 5, Z_DIM)
    got = q.log_prob(z)
    z_again, log_q = q.rsample_with_log_prob(7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(log_q, q.log_prob(z_again), rtol=0, atol=0)
    assert got.shape == (7, 5)
    ref = Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1).log_prob(z)
    torch.testing.assert_close(got, ref, **({"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {}))


def test_encoder_sees_the_levels_themselves(gen) -> None:
    model = _model()
    x = _data("categorical", 3, gen)
    mu_q, log_var_q = model.encoder(x)
    out = model.encoder.net(x)
    torch.testing.assert_close(torch.cat([mu_q, log_var_q], -1), out, rtol=0, atol=0)


def test_encoder_samples_have_the_moments_of_q(gen) -> None:
    model = _model(dtype=F64)
    x = _data("categorical", 2, gen, F64)
    mu_q, log_var_q = model.encoder(x)
    z = model.encoder(x).rsample(50_000, generator=gen).detach()
    mean, se = mc_mean(z)
    assert bool(((mean - mu_q.detach()).abs() <= 4 * se).all())
    var, se_var = mc_mean((z - mu_q.detach()) ** 2)
    assert bool(((var - log_var_q.detach().exp()).abs() <= 4 * se_var).all())


# ------------------------------------------------------------------------------- Decoder
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_decoder_log_prob_matches_torch(likelihood: str, dtype, gen) -> None:
    model = _model(likelihood, dtype=dtype, **({"decoder_log_var": -1.0} if likelihood == "gaussian" else {}))
    x = _data(likelihood, 5, gen, dtype)
    z = torch.randn(4, 5, Z_DIM, generator=gen, dtype=dtype)
    params = model.decoder(z)
    if likelihood == "categorical":
        assert params.shape == (4, 5, X_DIM, L)
        ref = Categorical(logits=params).log_prob(x.long()).sum(-1)
    elif likelihood == "bernoulli":
        assert params.shape == (4, 5, X_DIM)
        ref = Bernoulli(logits=params).log_prob(x).sum(-1)
    else:
        mu_p, log_var_p = params
        assert mu_p.shape == log_var_p.shape == (4, 5, X_DIM)
        assert bool((log_var_p == -1.0).all())
        ref = Independent(Normal(mu_p, torch.exp(0.5 * log_var_p)), 1).log_prob(x)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}
    got = model.decoder.log_prob(x, z)
    assert got.shape == (4, 5) and got.dtype == dtype
    torch.testing.assert_close(got, ref, **tol)
    with torch.no_grad():  # the evaluation path (in place for the categorical normaliser) agrees
        torch.testing.assert_close(model.decoder.log_prob(x, z), ref.detach(), **tol)
    torch.testing.assert_close(model.decoder.log_prob(x, z[0]), ref[0], **tol)  # z of shape (B, z_dim)


def test_decoder_recovers_when_the_fast_normaliser_underflows(gen) -> None:
    """A decoder whose pixels sit ~1000 nats apart: the in-place evaluation path underflows and
    must recompute exactly, agreeing with the gradient-enabled path and torch."""
    model = _model()
    with torch.no_grad():
        model.decoder.net[-1].bias[:L] += 1000.0  # pixel 0's logits
    x = _data("categorical", 3, gen)
    z = torch.randn(2, 3, Z_DIM, generator=gen)
    ref = Categorical(logits=model.decoder(z).double()).log_prob(x.long()).sum(-1)
    with torch.no_grad():
        got = model.decoder.log_prob(x, z)
    torch.testing.assert_close(got.double(), ref.detach(), rtol=1e-5, atol=1e-4)


def test_decoder_learned_variance_is_a_parameter() -> None:
    model = _model("gaussian")
    assert isinstance(model.decoder.log_var_raw, nn.Parameter) and model.decoder.log_var_p.shape == (X_DIM,)
    # it starts at sigma^2 = 0.01 (data on [0, 1]), not 1, and has a floor at sigma^2 = 1e-4
    torch.testing.assert_close(model.decoder.log_var_p, torch.full((X_DIM,), math.log(1e-2)))
    with torch.no_grad():
        model.decoder.log_var_raw.fill_(-1e4)
    torch.testing.assert_close(model.decoder.log_var_p, torch.full((X_DIM,), math.log(1e-4)))
    fixed = _model("gaussian", decoder_log_var=-2.0)
    assert "decoder.fixed_log_var_p" in dict(fixed.named_buffers())
    assert bool((fixed.decoder.log_var_p == -2.0).all())


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_decoder_mean_is_the_mean_of_its_samples(likelihood: str, gen) -> None:
    model = _model(likelihood, dtype=F64)
    z = torch.randn(2, Z_DIM, generator=gen, dtype=F64)
    with torch.no_grad():
        expected = model.decoder.mean(z)  # (2, X_DIM)
        samples = model.decoder.sample(z.expand(40_000, 2, Z_DIM), generator=gen)  # (N, 2, X_DIM)
    assert expected.shape == (2, X_DIM) and samples.shape == (40_000, 2, X_DIM)
    mean, se = mc_mean(samples)
    assert bool(((mean - expected).abs() <= 4.5 * se).all()), ((mean - expected) / se).abs().max()
    if likelihood == "categorical":
        assert bool(((samples == samples.round()) & (samples >= 0) & (samples <= L - 1)).all())
        # each level's frequency matches softmax(logits) within 4.5 standard errors
        probs = torch.softmax(model.decoder(z), -1).detach()  # (2, X_DIM, L)
        freq, se_f = mc_mean(torch.nn.functional.one_hot(samples.long(), L).double())
        assert bool(((freq - probs).abs() <= 4.5 * se_f + 1e-12).all())
    if likelihood == "bernoulli":
        assert bool(((samples == 0) | (samples == 1)).all())


def test_decoder_mean_of_categorical_is_in_level_units(gen) -> None:
    model = _model()
    with torch.no_grad():
        model.decoder.net[-1].weight.zero_()
        model.decoder.net[-1].bias.zero_()
        model.decoder.net[-1].bias.view(X_DIM, L)[:, 2] = 50.0  # every pixel is level 2
    z = torch.randn(3, Z_DIM, generator=gen)
    torch.testing.assert_close(model.decoder.mean(z), torch.full((3, X_DIM), 2.0))
    torch.testing.assert_close(model.decoder.sample(z, generator=gen), torch.full((3, X_DIM), 2.0))



def test_decoder_mean_of_categorical_never_leaves_the_level_range(gen) -> None:
    # Logits with nearly all the mass on the top level (found among randn(17) + 20 at level 16):
    # in float32, softmax @ levels gives 16 + 2e-6 for them with some CPU kernels (AVX2) and exactly
    # 16 with others, so whether the round-off happens depends on the machine. The mean must be in
    # [0, L - 1] on every machine: the book's classifier rejects images above 16 / 16.
    logits = torch.tensor([-0.81, 0.22, 0.87, 0.22, -0.2, 0.92, 0.52, -0.14, 1.22, -0.4, 1.24, 0.42, 2.03,
                           -0.18, 1.58, 2.85, 19.23])  # fmt: skip
    model = VAE.from_config(VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=8, num_levels=17))
    with torch.no_grad():
        model.decoder.net[-1].weight.zero_()
        model.decoder.net[-1].bias.copy_(logits.repeat(X_DIM))
        mean = model.decoder.mean(torch.randn(64, Z_DIM, generator=gen))  # (64, X_DIM)
    assert float(mean.max()) <= 16 and float(mean.min()) >= 0
    torch.testing.assert_close(mean, torch.full((64, X_DIM), 16.0))
    # Many more such logits, at both ends of the range: none leaves [0, 16].
    many = torch.randn(400, 17, generator=gen)  # (400, 17)
    many[:200, -1] += 20  # mass on the top level
    many[200:, 0] += 20  # mass on level 0
    with torch.no_grad():
        for row in many:  # one set of logits at a time, through the decoder's own mean
            model.decoder.net[-1].bias.copy_(row.repeat(X_DIM))
            m = model.decoder.mean(torch.zeros(1, Z_DIM))  # (1, X_DIM)
            assert 0 <= float(m.min()) and float(m.max()) <= 16

# --------------------------------------------------------------------------------- Prior
def test_prior_log_prob_and_samples(dtype, gen) -> None:
    prior = StandardNormalPrior(Z_DIM).to(dtype)
    z = prior.sample(20_000, generator=gen)
    assert z.shape == (20_000, Z_DIM) and z.dtype == dtype
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {}
    torch.testing.assert_close(prior.log_prob(z[:5]), Normal(0.0, 1.0).log_prob(z[:5]).sum(-1), **tol)
    mean, se = mc_mean(z.double())
    assert bool((mean.abs() <= 4 * se).all())
    var, se_var = mc_mean(z.double() ** 2)
    assert bool(((var - 1).abs() <= 4 * se_var).all())
    mu_q, log_var_q = torch.randn(2, 4, Z_DIM, generator=gen, dtype=dtype)
    kl = prior.kl_per_dim(DiagonalGaussian(mu_q, log_var_q))
    torch.testing.assert_close(kl, kl_normal_std_normal(mu_q[..., None], log_var_q[..., None]), rtol=0, atol=0)
    assert prior.kl_per_dim(object()) is None  # no closed form for another posterior


# ------------------------------------------------------------------------------------ VAE
def test_vae_satisfies_the_protocols() -> None:
    model = _model()
    assert isinstance(model, VariationalModel) and isinstance(model, HasELBOTerms)
    assert not isinstance(nn.Linear(2, 2), VariationalModel)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_elbo_is_the_mean_of_the_log_weights(likelihood: str, gen) -> None:
    r"""$\mathbb E_q[\log w] = \mathrm{ELBO}$: the analytic-KL ELBO and the mean log-weight agree within
    4 combined standard errors. (Which estimator has the smaller variance is not fixed: the
    analytic KL removes the KL's noise, but the reconstruction noise can be anti-correlated with
    $\log p(z) - \log q(z|x)$; with the learned Gaussian decoder starting at $\sigma_p = 0.1$ the
    two variances differ by about 1 %, in either direction.)"""
    model = _model(likelihood, dtype=F64)
    x = _data(likelihood, 3, gen, F64)
    with torch.no_grad():
        per_draw = model.elbo(x.repeat(4000, 1), generator=gen).view(4000, 3)  # one draw of z per row
        elbo_mean, elbo_se = mc_mean(per_draw)
        log_w_mean, log_w_se = mc_mean(model.log_importance_weights(x, num_samples=4000, generator=gen))
    assert elbo_mean.shape == (3,)
    diff = (elbo_mean - log_w_mean).abs()
    assert bool((diff <= 4 * torch.sqrt(elbo_se**2 + log_w_se**2)).all()), diff


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_elbo_terms(likelihood: str, gen) -> None:
    model = _model(likelihood)
    x = _data(likelihood, 4, gen)
    terms = model.elbo_terms(x, num_samples=3, generator=torch.Generator().manual_seed(1))
    assert terms.reconstruction.shape == (4,) and terms.kl_per_dim.shape == (4, Z_DIM)
    mu_q, log_var_q = model.encoder(x)
    # the analytic KL is the closed form of the Gaussian-KL chapter, dimension by dimension
    torch.testing.assert_close(terms.kl, kl_normal_std_normal(mu_q, log_var_q))
    torch.testing.assert_close(terms.kl_per_dim, model.kl_per_dim(x), rtol=0, atol=0)
    for j in range(Z_DIM):
        torch.testing.assert_close(terms.kl_per_dim[:, j], kl_normal_std_normal(mu_q[:, j : j + 1], log_var_q[:, j : j + 1]))
    assert bool((terms.kl_per_dim >= 0).all())
    # the reconstruction term: the mean over the same 3 draws of z of log p(x|z)
    eps = torch.randn((3, 4, Z_DIM), generator=torch.Generator().manual_seed(1))
    z = mu_q + torch.exp(0.5 * log_var_q) * eps
    torch.testing.assert_close(terms.reconstruction, model.decoder.log_prob(x, z).mean(0))
    # elbo(beta) = reconstruction - beta * KL, for the same noise
    for beta in (0.0, 0.5, 1.0, 4.0):
        elbo = model.elbo(x, num_samples=3, beta=beta, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(elbo, terms.reconstruction - beta * terms.kl)


def test_elbo_is_differentiable_and_reproducible(gen) -> None:
    model = _model()
    x = _data("categorical", 4, gen)
    loss = -model.elbo(x, num_samples=2, generator=torch.Generator().manual_seed(3)).mean()
    loss.backward()
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in model.parameters())
    again = -model.elbo(x, num_samples=2, generator=torch.Generator().manual_seed(3)).mean()
    assert loss.item() == again.item()


def test_log_importance_weights_are_the_formula(gen) -> None:
    model = _model(dtype=F64)
    x = _data("categorical", 3, gen, F64)
    log_w = model.log_importance_weights(x, num_samples=5, generator=torch.Generator().manual_seed(2))
    assert log_w.shape == (5, 3)
    mu_q, log_var_q = model.encoder(x)
    eps = torch.randn((5, 3, Z_DIM), generator=torch.Generator().manual_seed(2), dtype=F64)
    z = mu_q + torch.exp(0.5 * log_var_q) * eps
    ref = (
        model.decoder.log_prob(x, z)
        + Normal(0.0, 1.0).log_prob(z).sum(-1)
        - Independent(Normal(mu_q, torch.exp(0.5 * log_var_q)), 1).log_prob(z)
    )
    torch.testing.assert_close(log_w, ref)


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_sample_and_reconstruct(likelihood: str, gen) -> None:
    model = _model(likelihood)
    x = _data(likelihood, 4, gen)
    images = model.sample(6, generator=gen)
    assert images.shape == (6, X_DIM)
    recon = model.reconstruct(x)
    assert recon.shape == (4, X_DIM)
    mu_q, _ = model.encoder(x)
    torch.testing.assert_close(recon, model.decoder.mean(mu_q), rtol=0, atol=0)
    a = model.sample(3, generator=torch.Generator().manual_seed(9))
    b = model.sample(3, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


def test_float64_model_end_to_end(gen) -> None:
    model = _model(dtype=F64)
    assert model.dtype == F64 and model.prior.mu_p.dtype == F64
    x = _data("categorical", 3, gen, F64)
    assert model.elbo(x).dtype == F64 and model.sample(2).dtype == F64
    assert math.isfinite(model.log_importance_weights(x, num_samples=3).sum().item())


# ----------------------------------------------------------------------------- save / load
def test_save_and_load_rebuild_the_model(tmp_path) -> None:
    from vae_edu.models import CVAE, DirichletVAE, DirichletVAEConfig

    x = _data("categorical", 3, torch.Generator().manual_seed(0), F64)
    y = torch.tensor([0, 1, 1])
    models = {
        "vae": (VAE.from_config(_config("categorical")).double(), (x,)),
        "cvae": (CVAE(_config("categorical"), num_classes=2, learned_prior=True).double(), (x, y)),
        "dirichlet": (DirichletVAE(DirichletVAEConfig(x_dim=X_DIM, num_topics=2, hidden=8)).double(), (x,)),
    }
    for name, (model, data) in models.items():
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1)  # not the initial values
        model.save(tmp_path / f"{name}.pt")
        loaded = type(model).load(tmp_path / f"{name}.pt")
        assert loaded.dtype == F64 and not loaded.training and loaded.config == model.config
        gen = (torch.Generator().manual_seed(1), torch.Generator().manual_seed(1))
        torch.testing.assert_close(loaded.elbo(*data, generator=gen[0]), model.elbo(*data, generator=gen[1]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="CVAE.load"):
        VAE.load(tmp_path / "cvae.pt")
    own = VAE(Encoder(_config("categorical")), Decoder(_config("categorical")), StandardNormalPrior(Z_DIM))
    with pytest.raises(TypeError, match="state_dict"):
        own.save(tmp_path / "own.pt")


# ------------------------------------------------------------------------------ bad inputs
_X = _data("categorical", 2, torch.Generator().manual_seed(0))

BAD_INPUTS = [
    # VAEConfig and the book's VAE
    *[reject(f"VAEConfig-{field}-{value!r}", lambda field=field, value=value: VAEConfig(**{field: value}), error, field)
      for field, value, error in [
        ("x_dim", 0, ValueError),
        ("x_dim", 2.0, TypeError),
        ("z_dim", True, TypeError),
        ("hidden", -1, ValueError),
        ("num_hidden_layers", 0, ValueError),
        ("num_levels", 1, ValueError),
        ("likelihood", "poisson", ValueError),
        ("activation", "sigmoidal", ValueError),
        ("decoder_log_var", 0.0, ValueError),  # not with the (default) categorical likelihood
        ("decoder_dropout", 1.0, ValueError),
        ("decoder_dropout", -0.1, ValueError),
        ("decoder_dropout", "0.1", TypeError),
      ]],
    *[reject(f"VAEConfig-decoder_log_var-{value!r}",
             lambda value=value: VAEConfig(likelihood="gaussian", decoder_log_var=value), error, "decoder_log_var")
      for value, error in [(float("nan"), ValueError), ("-1", TypeError), (float("inf"), ValueError)]],
    reject("VAE.from_config-config", lambda: VAE.from_config({"z_dim": 2}), TypeError, "config"),
    # the data, through each public method
    *[reject(f"{method}-x-{likelihood}-{i}", lambda method=method, likelihood=likelihood, x=x: getattr(_model(likelihood),
                                                                                                      method)(x),
             error, "x")
      for method in ["elbo", "elbo_terms", "kl_per_dim", "reconstruct", "log_importance_weights"]
      for i, (likelihood, x, error) in enumerate([
        ("categorical", torch.full((2, X_DIM), 0.5), ValueError),  # not a level
        ("categorical", torch.full((2, X_DIM), float(L)), ValueError),  # out of range
        ("categorical", torch.full((2, X_DIM), -1.0), ValueError),
        ("bernoulli", torch.full((2, X_DIM), 0.5), ValueError),  # not 0/1
        ("gaussian", torch.full((2, X_DIM), float("nan")), ValueError),
        ("gaussian", torch.zeros(2, X_DIM + 1), ValueError),  # wrong x_dim
        ("gaussian", torch.zeros(X_DIM), ValueError),  # no batch dimension
        ("gaussian", torch.zeros(3, 2, X_DIM), ValueError),
        ("gaussian", torch.zeros(2, X_DIM, dtype=F64), TypeError),  # the model is float32
        ("gaussian", torch.zeros(2, X_DIM, dtype=torch.int64), TypeError),
        ("gaussian", [[0.0] * X_DIM], TypeError),
      ])],
    # the options, and the decoder's codes
    *[reject(f"elbo-num_samples-{bad!r}", lambda bad=bad: _model().elbo(_X, num_samples=bad), error, "num_samples")
      for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError))],
    *[reject(f"sample-n-{bad!r}", lambda bad=bad: _model().sample(bad), error, "n")
      for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError))],
    *[reject(f"elbo-beta-{bad!r}", lambda bad=bad: _model().elbo(_X, beta=bad), error, "beta")
      for bad, error in ((-0.5, ValueError), (float("nan"), ValueError), ("1", TypeError))],
    reject("elbo-positional-option", lambda: _model().elbo(_X, 3), TypeError, "keyword-only"),
    reject("decoder.mean-z-size", lambda: _model().decoder.mean(torch.zeros(2, Z_DIM + 1)), ValueError, "z"),
    reject("decoder.sample-z-dtype", lambda: _model().decoder.sample(torch.zeros(2, Z_DIM, dtype=F64)), TypeError, "z"),
    reject("decoder.mean-z-nan", lambda: _model().decoder.mean(torch.full((2, Z_DIM), float("nan"))), ValueError, "z"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
