"""Tests of :mod:`vae_edu.models.gan` and :mod:`vae_edu.training.gan`: shapes and dtypes, the losses
against direct computations (``torch.log(torch.sigmoid(...))``, binary cross-entropy), the
optimal discriminator, determinism given a seed, a short run on the 2-D toy set, bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject
import torch.nn.functional as F

from vae_edu.data import assign_modes, gaussian_mixture_2d_log_prob, make_gaussian_mixture_2d
from vae_edu.models import VariationalModel
from vae_edu.models.gan import GAN, GANConfig
from vae_edu.models.gan_losses import CHANCE_DISCRIMINATOR_LOSS, discriminator_loss, generator_loss_non_saturating, generator_loss_saturating, optimal_discriminator_logit
from vae_edu.training import GANHistory, fit_gan

F32, F64 = torch.float32, torch.float64


def _gan(output: str = "sigmoid", dtype: torch.dtype = F32, x_dim: int = 6, seed: int = 3) -> GAN:
    torch.manual_seed(seed)
    return GAN(GANConfig(x_dim=x_dim, z_dim=3, hidden=16, output=output)).to(dtype)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- config and modules
def test_config_defaults_are_the_digits_gan() -> None:
    config = GANConfig()
    assert (config.x_dim, config.z_dim, config.hidden, config.num_hidden_layers) == (64, 16, 128, 2)
    assert (config.output, config.activation) == ("sigmoid", "leaky_relu")
    gan = GAN()
    assert gan.generator.net[0].in_features == 16 and gan.generator.net[-1].out_features == 64
    assert gan.discriminator.net[0].in_features == 64 and gan.discriminator.net[-1].out_features == 1


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)], ids=["scalar", "batch4", "batch2x3"])
def test_generator_shapes_and_range(output: str, batch_shape: tuple[int, ...], dtype: torch.dtype, gen) -> None:
    gan = _gan(output, dtype)
    z = torch.randn(*batch_shape, 3, generator=gen, dtype=dtype)
    x = gan.generator(z)
    assert x.shape == (*batch_shape, 6) and x.dtype == dtype
    head = gan.generator.net(z)  # the MLP before the output non-linearity
    torch.testing.assert_close(x, torch.sigmoid(head) if output == "sigmoid" else head)
    if output == "sigmoid":
        assert bool(((x > 0) & (x < 1)).all())


def test_discriminator_logit_shape_and_probability(dtype: torch.dtype, gen) -> None:
    gan = _gan("sigmoid", dtype)
    x = torch.rand(5, 6, generator=gen, dtype=dtype)
    logits = gan.discriminator(x)
    assert logits.shape == (5,) and logits.dtype == dtype
    torch.testing.assert_close(logits, gan.discriminator.net(x)[:, 0])


def test_sample_shape_determinism_and_no_gradients(dtype: torch.dtype) -> None:
    gan = _gan("linear", dtype, x_dim=2)
    a = gan.sample(7, torch.Generator().manual_seed(1))
    b = gan.sample(7, torch.Generator().manual_seed(1))
    c = gan.sample(7, torch.Generator().manual_seed(2))
    assert a.shape == (7, 2) and a.dtype == dtype and not a.requires_grad
    assert torch.equal(a, b) and not torch.equal(a, c)
    z = gan.sample_z(7, torch.Generator().manual_seed(1))  # the same z that produced a
    torch.testing.assert_close(a, gan.generator(z).detach())


def test_sample_z_is_standard_normal() -> None:
    gan = _gan()
    z = gan.sample_z(200_000, torch.Generator().manual_seed(0)).double()  # (N, 3)
    se = 1 / math.sqrt(z.shape[0])
    assert (z.mean(0).abs() < 4 * se).all()
    assert ((z.var(0) - 1).abs() < 4 * math.sqrt(2) * se).all()  # var of s^2 is 2 sigma^4 / N


def test_a_gan_has_no_likelihood() -> None:
    """The VAE's likelihood machinery needs elbo / log_importance_weights; a GAN has neither."""
    assert not isinstance(_gan(), VariationalModel)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("batch_shape", [(4,), (2, 3)], ids=["batch4", "batch2x3"])
def test_discriminator_loss_is_the_binary_cross_entropy(batch_shape: tuple[int, ...], dtype: torch.dtype, gen, tol) -> None:
    logits_real = 3 * torch.randn(*batch_shape, generator=gen, dtype=dtype)
    logits_fake = 3 * torch.randn(5, generator=gen, dtype=dtype)  # a different number of fakes is fine
    loss = discriminator_loss(logits_real, logits_fake)
    direct = -torch.log(torch.sigmoid(logits_real)).mean() - torch.log(1 - torch.sigmoid(logits_fake)).mean()
    bce = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + F.binary_cross_entropy_with_logits(
        logits_fake, torch.zeros_like(logits_fake)
    )
    assert loss.shape == () and loss.dtype == dtype
    torch.testing.assert_close(loss, direct, **tol)
    torch.testing.assert_close(loss, bce, **tol)


def test_discriminator_loss_at_chance_is_2_log_2(dtype: torch.dtype) -> None:
    """D = 1/2 everywhere (logit 0): -log(1/2) - log(1/2) = 2 log 2."""
    loss = discriminator_loss(torch.zeros(4, dtype=dtype), torch.zeros(3, dtype=dtype))
    assert abs(loss.item() - 2 * math.log(2)) < 1e-6
    assert abs(loss.item() - CHANCE_DISCRIMINATOR_LOSS) < 1e-6  # the package constant is this loss


def test_generator_losses_are_the_formulas(dtype: torch.dtype, gen, tol) -> None:
    logits_fake = 3 * torch.randn(6, generator=gen, dtype=dtype)
    d = torch.sigmoid(logits_fake)
    torch.testing.assert_close(generator_loss_non_saturating(logits_fake), -torch.log(d).mean(), **tol)
    torch.testing.assert_close(generator_loss_saturating(logits_fake), torch.log(1 - d).mean(), **tol)


def test_losses_are_stable_for_extreme_logits() -> None:
    """log-space: a confidently rejected sample (logit -200) costs 200 nats, not inf."""
    logits = torch.tensor([-200.0, 200.0])
    assert generator_loss_non_saturating(logits).item() == pytest.approx(100.0, rel=1e-6)
    assert generator_loss_saturating(logits).item() == pytest.approx(-100.0, rel=1e-6)
    assert discriminator_loss(logits, logits).item() == pytest.approx(200.0, rel=1e-6)


def test_gradients_saturate_only_for_the_minimax_loss() -> None:
    """d/dl of -log D = -(1 - D); of log(1 - D) = -D: at D -> 0 only the first keeps its size."""
    logits = torch.tensor([-6.0, 0.0, 6.0], requires_grad=True)
    (g_ns,) = torch.autograd.grad(generator_loss_non_saturating(logits) * 3, logits)
    (g_s,) = torch.autograd.grad(generator_loss_saturating(logits) * 3, logits)
    d = torch.sigmoid(logits.detach())
    torch.testing.assert_close(g_ns, -(1 - d))
    torch.testing.assert_close(g_s, -d)
    assert g_ns[0].abs() > 100 * g_s[0].abs()


def test_optimal_discriminator_is_the_density_ratio(dtype: torch.dtype, tol) -> None:
    """D* = p_data / (p_data + p_g), and V(D*, G) = 2 JS - log 4 on a 1-D example (quadrature)."""
    x = torch.linspace(-12, 14, 200_001, dtype=F64)
    dx = x[1] - x[0]
    p_data, p_g = torch.distributions.Normal(0.0, 1.0), torch.distributions.Normal(1.5, 2.0)
    log_p_data, log_p_g = p_data.log_prob(x), p_g.log_prob(x)
    logit = optimal_discriminator_logit(log_p_data.to(dtype), log_p_g.to(dtype))
    assert logit.shape == x.shape and logit.dtype == dtype
    d_star = torch.sigmoid(logit.double())
    torch.testing.assert_close(d_star, log_p_data.exp() / (log_p_data.exp() + log_p_g.exp()), **tol)
    value = (dx * (log_p_data.exp() * F.logsigmoid(logit.double()) + log_p_g.exp() * F.logsigmoid(-logit.double()))).sum()
    log_m = torch.logaddexp(log_p_data, log_p_g) - math.log(2)
    js = 0.5 * dx * ((log_p_data.exp() * (log_p_data - log_m)) + log_p_g.exp() * (log_p_g - log_m)).sum()
    assert abs(value - (2 * js - math.log(4))) < (1e-5 if dtype == F32 else 1e-8)  # quadrature error ~1e-9
    for shift in (-0.5, 0.5):  # any other discriminator does worse
        other = logit.double() + shift
        value_other = (dx * (log_p_data.exp() * F.logsigmoid(other) + log_p_g.exp() * F.logsigmoid(-other))).sum()
        assert value_other < value


# ----------------------------------------------------------------------------- training
def _toy(n: int = 1000, seed: int = 0):
    return make_gaussian_mixture_2d(n, "ring", std=0.1, generator=torch.Generator().manual_seed(seed))


def test_fit_gan_is_deterministic_given_the_seed() -> None:
    data = _toy(256)
    runs = []
    for seed in (0, 0, 1):
        gan = _gan("linear", x_dim=2, seed=4)  # the same initial weights every time
        history = fit_gan(gan, data.x, epochs=2, batch_size=32, seed=seed)
        runs.append((gan.sample(10, torch.Generator().manual_seed(0)), history))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1].d_loss == runs[1][1].d_loss
    assert not torch.equal(runs[0][0], runs[2][0])
    history = runs[0][1]
    assert isinstance(history, GANHistory) and history.epochs == 2 and history.stop_reason == "epochs"
    assert len(history.g_loss) == len(history.d_real) == len(history.d_fake) == 2
    assert all(0 < v < 1 for v in history.d_real + history.d_fake)
    assert history.cpu_seconds > 0 and history.seconds > 0


def test_fit_gan_moves_samples_onto_the_data() -> None:
    """A short run on 8 modes on a ring: samples move from off the data onto the modes, and the
    discriminator's advantage shrinks (its loss rises back towards 2 log 2)."""
    data = _toy(1000)
    torch.manual_seed(0)
    gan = GAN(GANConfig(x_dim=2, z_dim=2, hidden=64, output="linear"))
    probe = torch.Generator().manual_seed(5)

    def quality() -> tuple[float, float]:
        x = gan.sample(2000, probe)  # (2000, 2)
        near = float((assign_modes(x, data.centres, data.std) >= 0).double().mean())
        log_p = float(gaussian_mixture_2d_log_prob(x, data.centres, data.std).mean())
        return near, log_p

    near0, log_p0 = quality()
    history = fit_gan(gan, data.x, epochs=40, batch_size=64, lr=2e-3, seed=0)
    near1, log_p1 = quality()
    assert near0 < 0.05 and near1 > 0.3, (near0, near1)
    assert log_p1 > log_p0 + 10, (log_p0, log_p1)
    early, late = sum(history.d_loss[:10]) / 10, sum(history.d_loss[-5:]) / 5  # nats, averaged over epochs
    assert early < late < CHANCE_DISCRIMINATOR_LOSS, history.d_loss


def test_fit_gan_stops_at_max_seconds() -> None:
    history = fit_gan(_gan("linear", x_dim=2), _toy(64).x, epochs=1000, batch_size=32, max_seconds=0.0)
    assert history.epochs == 1 and history.stop_reason == "max_seconds"


# ------------------------------------------------------------------------------ bad inputs
def _fit_gan(**bad):
    return fit_gan(_gan(), torch.rand(8, 6), **bad)


BAD_INPUTS = [
    # GANConfig and GAN
    *[reject(f"GANConfig-{field}", lambda field=field, value=value: GANConfig(**{field: value}), error, field)
      for field, value, error in [("x_dim", 0, ValueError), ("z_dim", 2.0, TypeError), ("hidden", True, TypeError),
                                  ("num_hidden_layers", 0, ValueError), ("output", "tanh", ValueError),
                                  ("activation", "swish", ValueError)]],
    reject("GAN-config", lambda: GAN({"x_dim": 2}), TypeError, "config"),
    reject("sample-n", lambda: _gan().sample(0), ValueError, "n must"),
    reject("sample-generator", lambda: _gan().sample(3, generator=0), TypeError, "generator"),
    reject("generator-z-size", lambda: _gan().generator(torch.zeros(2, 4)), ValueError, "z"),
    reject("generator-z-dtype", lambda: _gan().generator(torch.zeros(2, 3, dtype=F64)), TypeError, "z"),
    reject("discriminator-x-size", lambda: _gan().discriminator(torch.zeros(2, 5)), ValueError, "x"),
    reject("discriminator-x-dtype", lambda: _gan().discriminator(torch.zeros(2, 6, dtype=F64)), TypeError, "x"),
    # the losses and the optimal discriminator
    reject("discriminator_loss-nan", lambda: discriminator_loss(torch.tensor([float("nan")]), torch.zeros(1)), ValueError,
           "logits_real"),
    reject("discriminator_loss-empty", lambda: discriminator_loss(torch.zeros(1), torch.zeros(0)), ValueError,
           "logits_fake"),
    reject("discriminator_loss-dtype", lambda: discriminator_loss(torch.zeros(1), torch.zeros(1, dtype=F64)), TypeError,
           "logits_fake"),
    reject("non_saturating-list", lambda: generator_loss_non_saturating([0.0]), TypeError, "logits_fake"),
    reject("saturating-0-dim", lambda: generator_loss_saturating(torch.tensor(0.0)), ValueError, "logits_fake"),
    reject("optimal-size", lambda: optimal_discriminator_logit(torch.zeros(3), torch.zeros(4)), ValueError, "log_p_g"),
    reject("optimal-dtype", lambda: optimal_discriminator_logit(torch.zeros(3), torch.zeros(3, dtype=F64)), TypeError,
           "log_p_g"),
    reject("optimal-inf", lambda: optimal_discriminator_logit(torch.tensor([float("inf")]), torch.zeros(1)), ValueError,
           "log_p_data"),
    # fit_gan: its settings, the data and the model
    *[reject(f"fit_gan-{name}-{i}", lambda kwargs=kwargs: _fit_gan(**kwargs), error, name)
      for i, (kwargs, name, error) in enumerate([
          ({"epochs": 0}, "epochs", ValueError),
          ({"batch_size": 1.5}, "batch_size", ValueError),
          ({"lr": 0.0}, "lr", ValueError),
          ({"lr": float("nan")}, "lr", ValueError),
          ({"betas": (0.5, 1.0)}, "betas", ValueError),
          ({"betas": [0.5, 0.9]}, "betas", ValueError),
          ({"d_steps": 0}, "d_steps", ValueError),
          ({"seed": -1}, "seed", ValueError),
          ({"max_seconds": -1.0}, "max_seconds", ValueError),
      ])],
    *[reject(f"fit_gan-x_train-{kind}", lambda x=x: fit_gan(_gan(), x, epochs=1), error, "x_train")
      for kind, x, error in [
          ("x_dim", torch.rand(8, 5), ValueError),
          ("dtype", torch.rand(8, 6, dtype=F64), TypeError),
          ("levels", torch.rand(8, 6) * 16, ValueError),  # grey levels, not unit scale
          ("nan", torch.full((8, 6), float("nan")), ValueError),
          ("int", torch.zeros(8, 6, dtype=torch.int64), TypeError),
          ("list", [[0.0] * 6], TypeError),
          ("1-dim", torch.rand(6), ValueError),
          ("empty", torch.rand(0, 6), ValueError),
      ]],
    reject("fit_gan-gan", lambda: fit_gan(torch.nn.Linear(2, 2), torch.rand(4, 2)), TypeError, "gan"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
