"""Tests of :mod:`vae_edu.models.made` and :mod:`vae_edu.models.autoregressive`: the MADE's masks
and its autoregressive Jacobian, and the autoregressive decoder's normalisation, sequential
evaluation and sampling on cases small enough to enumerate."""

from __future__ import annotations

import itertools

import pytest
import torch
from bad_inputs import assert_rejected, reject
from torch.autograd.functional import jacobian
from torch.distributions import Categorical

from vae_edu.estimators import iwae_bound, log_likelihood, mc_mean
from vae_edu.models import VAE, HasELBOTerms, VAEConfig, VariationalModel
from vae_edu.models import Encoder, StandardNormalPrior
from vae_edu.models.autoregressive import AutoregressiveDecoder
from vae_edu.models.made import MADE, MaskedLinear, made_degrees, made_masks
from vae_edu.training import fit

F32, F64 = torch.float32, torch.float64
D = 5
ORDERS = {"identity": list(range(D)), "reversed": list(reversed(range(D))), "shuffled": [3, 0, 4, 1, 2]}


def _rank(order: list[int]) -> torch.Tensor:
    """Position of each dimension in ``order``: ``rank[order[i]] = i``."""
    rank = torch.empty(len(order), dtype=torch.int64)
    rank[torch.tensor(order)] = torch.arange(len(order))
    return rank


# --------------------------------------------------------------------------- degrees and masks
def test_degrees_are_positions_in_the_order_and_hidden_degrees_cycle() -> None:
    degrees = made_degrees([2, 0, 1], [5, 2])
    assert degrees[0].tolist() == [2, 3, 1]  # dimension 2 comes first: degree 1
    assert degrees[1].tolist() == [1, 2, 1, 2, 1]  # 1 .. D-1, cyclically
    assert degrees[2].tolist() == [1, 2]
    assert made_degrees([0], [3])[1].tolist() == [1, 1, 1]  # D = 1: nothing to cycle through


def test_masks_follow_the_degree_rules() -> None:
    degrees = [torch.tensor([1, 2, 3]), torch.tensor([1, 2]), torch.tensor([2, 1])]
    hidden, output = made_masks(degrees, num_params=2)
    assert hidden[0].tolist() == [[1, 0, 0], [1, 1, 0]]  # m_in <= m_1
    assert hidden[1].tolist() == [[1, 1], [1, 0]]  # m_1 <= m_2
    # output units (d, p) in the order d * 2 + p, degree m_in(d); connected iff m_2 < m_in(d)
    assert output.tolist() == [[0, 0], [0, 0], [0, 1], [0, 1], [1, 1], [1, 1]]


def _ordered_jacobian(made: MADE, x: torch.Tensor, context: torch.Tensor | None, order: list[int]) -> torch.Tensor:
    """d output / d x for one example, rows and columns permuted into ``order``: shape (D, P, D)."""
    jac = jacobian(lambda v: made(v, context), x)  # (D, P, D): output (d, p) w.r.t. input e
    index = torch.tensor(order)
    return jac[index][:, :, index]


ARCHITECTURES = {  # (hidden_sizes, direct); no hidden layer and no direct connection is rejected (tested below)
    "direct-only": ((), True),
    "one-layer": ((8,), False),
    "one-layer+direct": ((8,), True),
    "two-layers": ((6, 7), False),
    "two-layers+direct": ((6, 7), True),
}


@pytest.mark.parametrize("order_name", list(ORDERS))
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
@pytest.mark.parametrize("num_params", [1, 3])
def test_jacobian_is_strictly_triangular_in_the_order(order_name: str, architecture: str, num_params: int) -> None:
    """Output d depends on input e iff e comes before d: the Jacobian, in the order, is strictly
    lower triangular, and (tanh, widths >= D - 1) every entry below the diagonal is non-zero."""
    hidden_sizes, direct = ARCHITECTURES[architecture]
    order = ORDERS[order_name]
    torch.manual_seed(1)
    made = MADE(D, hidden_sizes, num_params, order=order, activation="tanh", direct=direct).to(F64)
    x = torch.randn(D, dtype=F64)
    jac = _ordered_jacobian(made, x, None, order)  # (D, P, D), [i, p, j]: output order[i] w.r.t. input order[j]
    upper = torch.triu(torch.ones(D, D, dtype=torch.bool))  # j >= i: must be exactly zero
    assert bool((jac.permute(1, 0, 2)[:, upper] == 0).all())
    assert bool((jac.permute(1, 0, 2)[:, ~upper] != 0).all()), "a dependence allowed by the order is missing"


@pytest.mark.parametrize("order_name", list(ORDERS))
def test_context_reaches_every_output(order_name: str) -> None:
    order = ORDERS[order_name]
    torch.manual_seed(2)
    made = MADE(D, (8,), 2, order=order, context_dim=3, activation="tanh").to(F64)
    x, c = torch.randn(D, dtype=F64), torch.randn(3, dtype=F64)
    jac_x = _ordered_jacobian(made, x, c, order)
    assert bool((jac_x.permute(1, 0, 2)[:, torch.triu(torch.ones(D, D, dtype=torch.bool))] == 0).all())
    jac_c = jacobian(lambda v: made(x, v), c)  # (D, P, 3)
    assert bool((jac_c != 0).all())  # including the first dimension in the order


def test_no_hidden_layer_is_a_masked_linear_map(gen) -> None:
    made = MADE(D, (), 2, order=ORDERS["shuffled"], direct=True).to(F64)
    x = torch.randn(4, D, dtype=F64, generator=gen)
    weight = made.direct.weight * made.direct.mask  # (D P, D)
    expected = (x @ weight.T + made.direct.bias).view(4, D, 2)
    torch.testing.assert_close(made(x), expected, rtol=1e-12, atol=1e-12)
    rank = _rank(ORDERS["shuffled"])
    for d, e in itertools.product(range(D), range(D)):
        allowed = bool(rank[e] < rank[d])
        assert bool((made.direct.mask.view(D, 2, D)[d, :, e] == 1).all()) == allowed


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)], ids=["scalar", "batch4", "batch2x3"])
def test_made_shapes_and_dtypes(batch_shape: tuple[int, ...], dtype: torch.dtype, gen) -> None:
    made = MADE(D, (8,), 3, context_dim=2).to(dtype)
    x = torch.randn(*batch_shape, D, dtype=dtype, generator=gen)
    c = torch.randn(*batch_shape, 2, dtype=dtype, generator=gen)
    out = made(x, c)
    assert out.shape == (*batch_shape, D, 3) and out.dtype == dtype
    assert made.hidden[0].mask.dtype == dtype  # masks are buffers: they follow .to(dtype)


def test_context_batch_broadcasts_against_x(gen) -> None:
    """x of shape (B, D) with K contexts per example (K, B, c): the same as expanding x first."""
    made = MADE(D, (8,), 2, context_dim=3)
    x = torch.randn(4, D, generator=gen)
    c = torch.randn(6, 4, 3, generator=gen)
    torch.testing.assert_close(made(x, c), made(x.expand(6, 4, D), c))


def test_masks_survive_a_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    made = MADE(D, (8,), 2, order=ORDERS["reversed"], direct=True)
    copy = MADE(D, (8,), 2, order=ORDERS["reversed"], direct=True)
    copy.load_state_dict(made.state_dict())
    x = torch.randn(3, D)
    torch.testing.assert_close(copy(x), made(x), rtol=0, atol=0)
    assert copy.order.tolist() == ORDERS["reversed"] and copy.degrees.tolist() == [5, 4, 3, 2, 1]


# ----------------------------------------------------------------------- autoregressive decoder
X_DIM, L, Z_DIM = 3, 3, 2


def _tiny_vae(order=None, dtype=F64, hidden=(6,), direct=True) -> VAE:
    torch.manual_seed(3)
    config = VAEConfig(x_dim=X_DIM, z_dim=Z_DIM, hidden=8, num_levels=L, decoder_dropout=0.0)
    decoder = AutoregressiveDecoder(config, hidden, order=order, direct=direct)
    return VAE(Encoder(config), decoder, StandardNormalPrior(Z_DIM)).to(dtype)


ALL_X = torch.tensor(list(itertools.product(range(L), repeat=X_DIM)), dtype=F64)  # every image, (L^D, D)


@pytest.mark.parametrize("order", [None, [2, 0, 1]], ids=["raster", "shuffled"])
@pytest.mark.parametrize("hidden", [(6,), ()], ids=["made", "linear"])
def test_decoder_log_prob_is_normalised(order, hidden, gen) -> None:
    """sum over all L^D images of p(x|z) is 1, for every z."""
    model = _tiny_vae(order, hidden=hidden)
    z = torch.randn(4, 1, Z_DIM, dtype=F64, generator=gen)  # four codes, each against every image
    log_p = model.decoder.log_prob(ALL_X, z)  # (4, L^D)
    torch.testing.assert_close(torch.logsumexp(log_p, dim=-1), torch.zeros(4, dtype=F64), rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [None, [2, 0, 1]], ids=["raster", "shuffled"])
def test_decoder_log_prob_matches_sequential_evaluation(order, gen) -> None:
    """log p(x|z) in one pass equals the sum of the conditionals evaluated one pixel at a time,
    where pixel d is predicted from an input whose later pixels are random garbage."""
    model = _tiny_vae(order)
    x = ALL_X[torch.randint(0, len(ALL_X), (5,), generator=gen)]  # (5, D)
    z = torch.randn(5, Z_DIM, dtype=F64, generator=gen)
    sequential = torch.zeros(5, dtype=F64)
    rank = _rank(model.decoder.order.tolist())
    for d in model.decoder.order.tolist():
        garbage = torch.randint(0, L, x.shape, generator=gen).to(F64)
        seen = torch.where(rank < rank[d], x, garbage)  # the pixels before d, garbage elsewhere
        logits_d = model.decoder(seen, z)[:, d, :]  # (5, L)
        sequential += Categorical(logits=logits_d).log_prob(x[:, d].long())
    torch.testing.assert_close(model.decoder.log_prob(x, z), sequential, rtol=1e-12, atol=1e-12)


def test_decoder_samples_have_the_decoder_distribution(gen) -> None:
    """Frequencies of 40 000 sequential samples match exp(log p(x|z)) image by image, within 4 standard errors."""
    model = _tiny_vae([1, 2, 0])
    z = torch.randn(Z_DIM, dtype=F64, generator=gen)
    p = model.decoder.log_prob(ALL_X, z.expand(len(ALL_X), Z_DIM)).exp().detach()  # (L^D,)
    draws = model.decoder.sample(z.expand(40_000, Z_DIM), generator=gen)  # (N, D)
    assert draws.shape == (40_000, X_DIM) and bool(((draws == draws.round()) & (draws >= 0) & (draws < L)).all())
    index = (draws.long() * torch.tensor([L * L, L, 1])).sum(-1)  # which of the L^D images, (N,)
    hits = torch.nn.functional.one_hot(index, len(ALL_X)).to(F64)  # (N, L^D)
    freq, se = mc_mean(hits)
    assert bool(((freq - p).abs() <= 4 * se + 1e-12).all())


def test_decoder_mean_estimates_the_expected_image(gen) -> None:
    model = _tiny_vae()
    z = torch.randn(2, Z_DIM, dtype=F64, generator=gen)
    p = model.decoder.log_prob(ALL_X, z[:, None, :]).exp().detach()  # (2, L^D)
    exact = p @ ALL_X  # E[x | z], (2, D)
    draws = model.decoder.sample(z.expand(20_000, 2, Z_DIM), generator=gen)  # (N, 2, D)
    mean, se = mc_mean(draws)
    assert bool(((mean - exact).abs() <= 4 * se).all())
    estimate = model.decoder.mean(z, num_samples=20_000, generator=gen)  # the method: the same estimator
    assert estimate.shape == (2, X_DIM) and bool(((estimate - exact).abs() <= 4 * se).all())


def test_decoder_logits_shapes(gen) -> None:
    model = _tiny_vae(dtype=F32)
    x = ALL_X[:4].to(F32)
    z = torch.randn(7, 4, Z_DIM, generator=gen)
    assert model.decoder(x, z).shape == (7, 4, X_DIM, L)
    assert model.decoder.log_prob(x, z).shape == (7, 4)
    assert model.decoder.log_prob(x, z[0]).shape == (4,)
    torch.testing.assert_close(model.decoder.log_prob(x, z)[0], model.decoder.log_prob(x, z[0]))


def test_decoder_sees_levels_scaled_to_unit_interval(gen) -> None:
    model = _tiny_vae()
    x = ALL_X[:3]
    z = torch.randn(3, Z_DIM, dtype=F64, generator=gen)
    torch.testing.assert_close(model.decoder(x, z), model.decoder.made(x / (L - 1), z), rtol=0, atol=0)


# ------------------------------------------------------------------------- autoregressive VAE
def test_autoregressive_vae_is_a_vae_with_the_autoregressive_decoder() -> None:
    model = _tiny_vae()
    assert isinstance(model, VAE) and isinstance(model.decoder, AutoregressiveDecoder)
    assert isinstance(model, VariationalModel) and isinstance(model, HasELBOTerms)
    names = {name for name, _ in model.named_parameters()}
    assert not any(name.startswith("decoder.net") for name in names)  # the factorised decoder is gone


def test_autoregressive_vae_elbo_uses_the_autoregressive_decoder(gen) -> None:
    model = _tiny_vae()
    x = ALL_X[[0, 5, 13, 26]]
    elbo = model.elbo(x, num_samples=3, generator=torch.Generator().manual_seed(9))
    mu_q, log_var_q = model.encoder(x)
    eps = torch.randn((3, 4, Z_DIM), dtype=F64, generator=torch.Generator().manual_seed(9))
    z = mu_q + torch.exp(0.5 * log_var_q) * eps  # the same draws, (3, 4, z_dim)
    expected = model.decoder.log_prob(x, z).mean(0) - model.prior.kl_per_dim(model.encoder(x)).sum(-1)
    torch.testing.assert_close(elbo, expected, rtol=1e-12, atol=1e-12)
    log_w = model.log_importance_weights(x, num_samples=3, generator=torch.Generator().manual_seed(9))  # (3, 4)
    expected_w = model.decoder.log_prob(x, z) + model.prior.log_prob(z) - model.encoder(x).log_prob(z)
    torch.testing.assert_close(log_w, expected_w, rtol=1e-12, atol=1e-12)


def test_autoregressive_vae_trains_and_estimates_log_likelihood() -> None:
    gen = torch.Generator().manual_seed(4)
    model = _tiny_vae(dtype=F32)
    data = ALL_X.to(F32)[torch.randint(0, 6, (64,), generator=gen)]  # six images only: easy to learn
    history = fit(model, data[:48], data[48:], epochs=30, batch_size=16, lr=1e-2, patience=None, progress=False)
    assert history.val_loss[history.best_epoch] < history.val_loss[0]
    log_p = log_likelihood(model, data[48:], 200, generator=gen)
    assert log_p.shape == (16,) and bool((log_p <= 0).all())  # a probability of a discrete image
    with torch.no_grad():
        assert iwae_bound(model, data[48:], 5, generator=gen).shape == (16,)
    samples = model.sample(5, generator=gen)
    assert samples.shape == (5, X_DIM) and bool(((samples >= 0) & (samples < L)).all())
    assert model.reconstruct(data[:2]).shape == (2, X_DIM)


# ------------------------------------------------------------------------------ bad inputs
def _tiny_vae32():
    return _tiny_vae(dtype=F32)


BAD_INPUTS = [
    # MADE's arguments, and its inputs
    *[reject(f"MADE-{name}-{i}", lambda kwargs=kwargs: MADE(**({"x_dim": D, "hidden_sizes": (4,)} | kwargs)), error, name)
      for i, (kwargs, error, name) in enumerate([
          ({"x_dim": 0}, ValueError, "x_dim"),
          ({"x_dim": 2.0}, TypeError, "x_dim"),
          ({"hidden_sizes": (4, 0)}, ValueError, "hidden_sizes"),
          ({"hidden_sizes": 4}, TypeError, "hidden_sizes"),
          ({"num_params": 0}, ValueError, "num_params"),
          ({"order": [0, 1, 1, 2, 3]}, ValueError, "order"),
          ({"order": [0, 1, 2]}, ValueError, "order"),
          ({"order": torch.tensor([0.0, 1, 2, 3, 4])}, TypeError, "order"),
          ({"order": "01234"}, TypeError, "order"),
          ({"context_dim": -1}, ValueError, "context_dim"),
          ({"activation": "sigmoidal"}, ValueError, "activation"),
          ({"direct": 1}, TypeError, "direct"),
          ({"hidden_sizes": (), "direct": False}, ValueError, "hidden_sizes"),
      ])],
    *[reject(f"MADE-forward-{name}-{i}", lambda x=x, context=context: MADE(D, (4,), context_dim=3)(x, context), error,
             name)
      for i, (x, context, error, name) in enumerate([
          (torch.zeros(2, D + 1), torch.zeros(2, 3), ValueError, "x"),
          (torch.full((2, D), float("nan")), torch.zeros(2, 3), ValueError, "x"),
          (torch.zeros(2, D, dtype=torch.int64), torch.zeros(2, 3), TypeError, "x"),
          (torch.zeros(2, D, dtype=F64), torch.zeros(2, 3), TypeError, "x"),
          (torch.tensor(0.0), torch.zeros(3), ValueError, "x"),
          ([[0.0] * D], torch.zeros(1, 3), TypeError, "x"),
          (torch.zeros(2, D), None, ValueError, "context"),
          (torch.zeros(2, D), torch.zeros(2, 4), ValueError, "context"),
          (torch.zeros(2, D), torch.zeros(3, 3), ValueError, "context"),
          (torch.zeros(2, D), torch.zeros(2, 3, dtype=F64), TypeError, "context"),
          (torch.zeros(2, D), torch.full((2, 3), float("inf")), ValueError, "context"),
      ])],
    reject("MADE-no-context-given-one", lambda: MADE(D, (4,))(torch.zeros(1, D), torch.zeros(1, 3)), ValueError,
           "context"),
    # the mask helpers
    reject("MaskedLinear-mask-shape", lambda: MaskedLinear(3, 2, torch.ones(3, 2)), ValueError, "mask"),
    reject("MaskedLinear-mask-values", lambda: MaskedLinear(3, 2, torch.full((2, 3), 0.5)), ValueError, "mask"),
    reject("MaskedLinear-mask-list", lambda: MaskedLinear(3, 2, [[1, 1, 1], [1, 1, 1]]), TypeError, "mask"),
    reject("made_masks-num_params", lambda: made_masks(made_degrees([0, 1], [2]), num_params=0), ValueError,
           "num_params"),
    reject("made_masks-degrees", lambda: made_masks([], 1), TypeError, "degrees"),
    reject("made_degrees-order", lambda: made_degrees([0, 2], [2]), ValueError, "order"),
    reject("made_degrees-hidden_sizes", lambda: made_degrees([0, 1], [0]), ValueError, "hidden_sizes"),
    # the autoregressive decoder, and a VAE made with it
    reject("AutoregressiveDecoder-likelihood",
           lambda: AutoregressiveDecoder(VAEConfig(x_dim=3, z_dim=2, likelihood="bernoulli", decoder_dropout=0.0)),
           ValueError, "likelihood"),
    reject("AutoregressiveDecoder-config", lambda: AutoregressiveDecoder({"x_dim": 3}), TypeError, "config"),
    reject("AutoregressiveDecoder-dropout", lambda: AutoregressiveDecoder(VAEConfig(x_dim=3, z_dim=2, decoder_dropout=0.1)),
           ValueError, "decoder_dropout"),
    reject("elbo-x-level-out-of-range", lambda: _tiny_vae32().elbo(torch.full((2, X_DIM), float(L))), ValueError, "x"),
    reject("weights-x-not-a-level", lambda: _tiny_vae32().log_importance_weights(ALL_X[:2].to(F32) + 0.5), ValueError,
           "x"),
    reject("decoder.sample-z-size", lambda: _tiny_vae32().decoder.sample(torch.zeros(2, Z_DIM + 1)), ValueError, "z"),
    reject("decoder.sample-z-dtype", lambda: _tiny_vae32().decoder.sample(torch.zeros(2, Z_DIM, dtype=F64)), TypeError,
           "z"),
    reject("decoder.mean-num_samples", lambda: _tiny_vae32().decoder.mean(torch.zeros(2, Z_DIM), num_samples=0),
           ValueError, "num_samples"),
    reject("elbo-x-size", lambda: _tiny_vae32().elbo(torch.zeros(2, X_DIM + 1)), ValueError, "x"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
