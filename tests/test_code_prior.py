"""Tests for vae_edu.models.code_prior: the autoregressive prior over VQ-VAE code grids."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from vae_edu.models import (
    VAE,
    AutoregressiveCodePrior,
    Decoder,
    QuantisedEncoder,
    VAEConfig,
    VectorQuantiser,
    fit_code_prior,
    mlp,
)

N_SE = 4
F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def prior(num_codes: int = 3, positions: int = 2, code_dim: int = 2) -> AutoregressiveCodePrior:
    torch.manual_seed(0)
    vq = VectorQuantiser(num_codes, code_dim).double()
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(num_codes, code_dim, dtype=F64, generator=gen(1)))
        p = AutoregressiveCodePrior(vq, positions, (16,)).double()
        for param in p.made.parameters():  # a prior far from uniform
            param.mul_(3.0)
    return p


def all_grids(num_codes: int, positions: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(num_codes), repeat=positions)))  # (K^M, M)


@pytest.mark.parametrize("num_codes, positions", [(3, 2), (2, 4), (4, 3)])
def test_log_prob_is_normalised_over_every_grid(num_codes: int, positions: int) -> None:
    p = prior(num_codes, positions)
    log_p = p.log_prob_index(all_grids(num_codes, positions))  # (K^M,)
    assert log_p.shape == (num_codes**positions,) and bool((log_p < 0).all())
    torch.testing.assert_close(torch.logsumexp(log_p, 0), torch.tensor(0.0, dtype=F64), rtol=0, atol=1e-12)
    assert float((log_p.max() - log_p.min()).detach()) > 1.0  # not the uniform prior


def test_each_position_sees_only_the_codes_before_it() -> None:
    p = prior(4, 3)
    index = torch.tensor([[1, 2, 3]])
    for m in range(3):
        changed = index.clone()
        changed[0, m] = (changed[0, m] + 1) % 4
        moved = (p.logits(changed) - p.logits(index)).abs().amax(-1)[0]  # (M,)
        assert bool((moved[: m + 1] == 0).all())  # positions up to m do not see k_m
        if m < 2:
            assert bool((moved[m + 1 :] > 0).all())


def test_batch_shapes_and_the_codebook_vectors() -> None:
    p = prior(3, 2)
    index = torch.randint(3, (4, 5, 2), generator=gen(2))
    assert p.log_prob_index(index).shape == (4, 5)
    z = p.quantiser.codebook[index].flatten(start_dim=-2)  # (4, 5, M * D)
    assert torch.equal(p.index_of(z), index)
    torch.testing.assert_close(p.log_prob(z), p.log_prob_index(index), rtol=0, atol=0)


def test_ancestral_samples_have_the_model_probabilities() -> None:
    p = prior(3, 2)
    grids = all_grids(3, 2)
    probs = p.log_prob_index(grids).exp().detach()  # (9,)
    n = 40_000
    index = p.sample_index(n, generator=gen(3))
    assert index.shape == (n, 2) and index.dtype == torch.int64
    counts = torch.stack([(index == g).all(-1).sum() for g in grids]).double()  # (9,)
    se = (probs * (1 - probs) / n).sqrt()
    assert bool(((counts / n - probs).abs() <= N_SE * se).all()), (counts / n, probs)
    z = p.sample(6, generator=gen(4))
    assert z.shape == (6, 4)
    assert bool((z.view(6, 2, 1, 2) == p.quantiser.codebook).all(-1).any(-1).all())  # codebook vectors


def test_in_a_vae_the_kl_is_minus_log_p_of_the_codes() -> None:
    torch.manual_seed(0)
    vq = VectorQuantiser(5, 2, ema_decay=0.9)
    config = VAEConfig(x_dim=6, z_dim=6, hidden=8, likelihood="bernoulli")
    encoder = QuantisedEncoder(mlp(6, 8, 1, 6, "relu"), vq, 3)
    model = VAE(encoder, Decoder(config), AutoregressiveCodePrior(vq, 3, (8,))).double()
    x = torch.randint(0, 2, (4, 6), generator=gen(5)).double()
    q = model.encode(x)
    log_p_k = model.prior.log_prob_index(q.index)  # (4,)
    terms = model.elbo_terms(x)
    torch.testing.assert_close(terms.kl, -log_p_k)
    torch.testing.assert_close(model.elbo(x), model.decoder.log_prob(x, q.mean) + log_p_k)
    # the Monte Carlo KL (log q - log p = 0 - log p) on the quantised z agrees
    torch.testing.assert_close(model.log_importance_weights(x, num_samples=2).mean(0), model.elbo(x))
    assert [k for k in model.state_dict() if "codebook" in k] == ["encoder.quantiser.codebook"]
    assert model.sample(3, generator=gen(6)).shape == (3, 6)


def test_fit_code_prior_learns_a_dependent_distribution() -> None:
    torch.manual_seed(0)
    vq = VectorQuantiser(4, 2)
    p = AutoregressiveCodePrior(vq, 2, (32,))
    first = torch.randint(4, (600,), generator=gen(7))
    second = (first + (torch.rand(600, generator=gen(8)) < 0.1).long()) % 4  # k_2 = k_1 with prob 0.9
    index = torch.stack([first, second], dim=-1)
    history = fit_code_prior(p, index[:400], index[400:], epochs=300, lr=1e-2, patience=30, seed=0)
    entropy = math.log(4) - 0.9 * math.log(0.9) - 0.1 * math.log(0.1)  # H(k_1) + H(k_2 | k_1), nats
    with torch.no_grad():
        val = -p.log_prob_index(index[400:]).mean().item()
    assert val == pytest.approx(history.val_nll[history.best_epoch])  # the best epoch's parameters
    assert history.best_epoch == min(range(len(history.val_nll)), key=history.val_nll.__getitem__)
    assert val < 2 * math.log(4) - 1.0  # far below the uniform prior's M log K
    assert abs(val - entropy) < 0.25, (val, entropy)


BAD = [
    ("quantiser type", lambda: AutoregressiveCodePrior(torch.nn.Linear(2, 2), 3), TypeError, "quantiser"),
    ("num_positions 0", lambda: AutoregressiveCodePrior(VectorQuantiser(4, 2), 0), ValueError, "num_positions"),
    ("index float", lambda: prior().log_prob_index(torch.zeros(3, 2)), TypeError, "index"),
    ("index shape", lambda: prior().log_prob_index(torch.zeros(3, 5, dtype=torch.int64)), ValueError, "index"),
    ("index range", lambda: prior().log_prob_index(torch.tensor([[0, 3]])), ValueError, "index"),
    ("n 0", lambda: prior().sample_index(0), ValueError, "n"),
    ("generator", lambda: prior().sample_index(2, generator=3), TypeError, "generator"),
    ("train_index", lambda: fit_code_prior(prior(), torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.int64)),
     TypeError, "train_index"),
    ("val_index range", lambda: fit_code_prior(prior(), torch.zeros(3, 2, dtype=torch.int64), torch.full((3, 2), 7)),
     ValueError, "val_index"),
    ("epochs", lambda: fit_code_prior(prior(), torch.zeros(3, 2, dtype=torch.int64),
                                      torch.zeros(3, 2, dtype=torch.int64), epochs=0), ValueError, "epochs"),
    ("prior type", lambda: fit_code_prior(torch.nn.Linear(2, 2), torch.zeros(3, 2, dtype=torch.int64),
                                          torch.zeros(3, 2, dtype=torch.int64)), TypeError, "prior"),
]


@pytest.mark.parametrize("kind, call, error, name", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs(kind: str, call, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        call()
