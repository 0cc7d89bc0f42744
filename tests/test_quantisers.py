"""Tests for vae_edu.models.quantisers: the VQ-VAE quantiser and its place in VAE(encoder, decoder, prior)."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.models import (
    VAE,
    Decoder,
    QuantisedEncoder,
    QuantisedPosterior,
    UniformCodePrior,
    VAEConfig,
    VectorQuantiser,
    code_perplexity,
    mlp,
)

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def quantiser(num_codes: int = 6, code_dim: int = 3, **kwargs) -> VectorQuantiser:
    torch.manual_seed(0)
    vq = VectorQuantiser(num_codes, code_dim, **kwargs).double()
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(num_codes, code_dim, dtype=F64, generator=gen(1)))
        if vq.ema_decay is not None:
            vq.embed_sum.copy_(vq.codebook)
    return vq


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("shape", [(7,), (2, 4), (3, 2, 5)])
def test_nearest_code_is_the_brute_force_argmin(dtype: torch.dtype, shape: tuple[int, ...]) -> None:
    vq = quantiser(num_codes=9, code_dim=3).to(dtype)
    z_e = torch.randn(*shape, 3, dtype=F64, generator=gen(2)).to(dtype)
    out = vq(z_e)
    dist = ((z_e[..., None, :] - vq.codebook) ** 2).sum(-1)  # (..., K), by differences
    assert out.index.shape == shape and out.index.dtype == torch.int64
    assert torch.equal(out.index, dist.argmin(-1))
    torch.testing.assert_close(out.z_q, vq.codebook[out.index])  # forward value: the nearest codes
    torch.testing.assert_close(out.codebook_loss, dist.amin(-1))
    torch.testing.assert_close(out.commitment_loss, dist.amin(-1))


def test_straight_through_gradient_reaches_the_encoder_output_unchanged() -> None:
    vq = quantiser()
    z_e = torch.randn(5, 3, dtype=F64, generator=gen(3), requires_grad=True)
    w = torch.randn(5, 3, dtype=F64, generator=gen(4))
    (grad,) = torch.autograd.grad((w * vq(z_e).z_q).sum(), z_e)
    torch.testing.assert_close(grad, w, rtol=0, atol=0)  # dz_q/dz_e = I
    out = vq(z_e)
    (w * out.z_q).sum().backward()
    assert vq.codebook.grad is None  # the reconstruction gives the codebook no gradient


def test_commitment_and_codebook_losses_have_the_right_gradients() -> None:
    vq = quantiser()
    z_e = torch.randn(5, 3, dtype=F64, generator=gen(5), requires_grad=True)
    out = vq(z_e)
    e = vq.codebook[out.index].detach()
    out.commitment_loss.sum().backward(retain_graph=True)
    torch.testing.assert_close(z_e.grad, 2 * (z_e.detach() - e))
    assert vq.codebook.grad is None  # the commitment loss does not move the codebook
    z_e.grad = None
    out.codebook_loss.sum().backward()
    assert z_e.grad is None  # the codebook loss does not move the encoder
    expected = torch.zeros_like(vq.codebook).index_add_(0, out.index, 2 * (e - z_e.detach()))
    torch.testing.assert_close(vq.codebook.grad, expected)


def test_ema_update_moves_codes_to_the_mean_of_their_vectors() -> None:
    vq = quantiser(num_codes=2, code_dim=2, ema_decay=0.0, epsilon=0.0)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]], dtype=F64))
    z_e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0], [9.0, 9.0], [12.0, 10.0]], dtype=F64)
    vq.eval()
    vq(z_e)
    torch.testing.assert_close(vq.codebook, torch.tensor([[0.0, 0.0], [10.0, 10.0]], dtype=F64))  # eval: no update
    vq.train()
    out = vq(z_e)
    assert out.index.tolist() == [0, 0, 0, 1, 1]
    torch.testing.assert_close(vq.codebook, torch.tensor([[0.0, 1.0], [10.5, 9.5]], dtype=F64), rtol=0, atol=1e-15)
    torch.testing.assert_close(out.z_q, torch.tensor([[0.0, 0.0]] * 3 + [[10.0, 10.0]] * 2, dtype=F64))  # before the step


def test_ema_step_with_decay_and_laplace_smoothing() -> None:
    gamma, eps = 0.5, 0.1
    vq = quantiser(num_codes=3, code_dim=2, ema_decay=gamma, epsilon=eps)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0], [-50.0, 50.0]], dtype=F64))
        vq.embed_sum.copy_(vq.codebook)  # one pseudo-count each: N_k = 1, m_k = e_k
    z_e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [9.0, 9.0]], dtype=F64)
    vq.train()
    vq(z_e)
    counts = torch.tensor([2.0, 1.0, 0.0], dtype=F64)
    sums = torch.tensor([[1.0, 2.0], [9.0, 9.0], [0.0, 0.0]], dtype=F64)
    n_k = gamma * 1 + (1 - gamma) * counts
    m_k = gamma * torch.tensor([[0.0, 0.0], [10.0, 10.0], [-50.0, 50.0]], dtype=F64) + (1 - gamma) * sums
    total = n_k.sum()
    smoothed = (n_k + eps) / (total + 3 * eps) * total
    torch.testing.assert_close(vq.cluster_size, n_k)
    torch.testing.assert_close(vq.codebook, m_k / smoothed[:, None])


def test_ema_converges_to_the_cluster_means() -> None:
    vq = quantiser(num_codes=2, code_dim=2, ema_decay=0.9, epsilon=1e-5)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]], dtype=F64))
        vq.embed_sum.copy_(vq.codebook)
    z_e = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0], [9.0, 9.0], [12.0, 10.0]], dtype=F64)
    vq.train()
    for _ in range(400):
        vq(z_e)
    torch.testing.assert_close(vq.codebook, torch.tensor([[0.0, 1.0], [10.5, 9.5]], dtype=F64), rtol=1e-4, atol=1e-4)


def test_perplexity() -> None:
    assert float(code_perplexity(torch.arange(8).repeat(5), 8)) == pytest.approx(8.0, rel=1e-12)
    assert float(code_perplexity(torch.full((30,), 3), 8)) == pytest.approx(1.0, abs=1e-12)
    assert float(code_perplexity(torch.tensor([0, 1, 0, 1]), 8)) == pytest.approx(2.0, rel=1e-12)
    p = torch.tensor([0.5, 0.25, 0.25], dtype=F64)
    index = torch.tensor([0, 0, 1, 2])
    assert float(code_perplexity(index, 3)) == pytest.approx(math.exp(-(p * p.log()).sum().item()), rel=1e-12)


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_dead_codes_are_restarted_from_encoder_outputs(ema_decay: float | None) -> None:
    vq = quantiser(num_codes=4, code_dim=2, ema_decay=ema_decay)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0], [-100.0, 100.0]], dtype=F64))
    z_e = torch.randn(50, 2, dtype=F64, generator=gen(6)) * 0.3 + 0.5
    vq.eval()  # no EMA step: the codebook changes only by the restart
    assert code_perplexity(vq(z_e).index, 4) <= 2
    dead = vq.restart_dead_codes(z_e, generator=gen(7))
    assert dead.tolist() == [False, False, True, True]
    for k in (2, 3):  # each restarted code is one of the encoder outputs
        assert bool((vq.codebook[k] == z_e).all(-1).any())
    assert not torch.equal(vq.codebook[2], vq.codebook[3])  # drawn without replacement
    torch.testing.assert_close(vq.codebook[:2], torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=F64))
    if ema_decay is not None:
        assert vq.cluster_size[2:].tolist() == [1.0, 1.0]
        torch.testing.assert_close(vq.embed_sum[2:], vq.codebook[2:])
    assert code_perplexity(vq(z_e).index, 4) > 2  # the restarted codes are used
    assert not vq.restart_dead_codes(z_e).any()


def vq_vae(ema_decay: float | None = None, num_codes: int = 5, positions: int = 3, code_dim: int = 2) -> VAE:
    torch.manual_seed(0)
    vq = VectorQuantiser(num_codes, code_dim, ema_decay=ema_decay)
    config = VAEConfig(x_dim=6, z_dim=positions * code_dim, hidden=8, likelihood="bernoulli")
    encoder = QuantisedEncoder(mlp(6, 8, 1, positions * code_dim, "relu"), vq, positions)
    return VAE(encoder, Decoder(config), UniformCodePrior(vq, positions)).double()


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_vq_vae_elbo_reading_kl_is_m_log_k(ema_decay: float | None) -> None:
    model = vq_vae(ema_decay)
    x = torch.randint(0, 2, (4, 6), generator=gen(8)).double()
    terms = model.elbo_terms(x, num_samples=2)
    torch.testing.assert_close(terms.kl, torch.full((4,), 3 * math.log(5), dtype=F64), rtol=0, atol=0)
    q = model.encode(x)
    assert isinstance(q, QuantisedPosterior) and q.index.shape == (4, 3)
    recon = model.decoder.log_prob(x, q.mean)
    torch.testing.assert_close(model.elbo(x), recon - 3 * math.log(5))
    # the Monte Carlo KL, log q - log p = 0 - (-M log K), agrees: the mean log-weight is the ELBO
    torch.testing.assert_close(model.log_importance_weights(x, num_samples=3).mean(0), model.elbo(x))
    assert [k for k in model.state_dict() if "codebook" in k] == ["encoder.quantiser.codebook"]  # shared, once
    assert model.prior.quantiser is model.encoder.quantiser
    codes = model.prior.sample(7, generator=gen(9)).view(7, 3, 2)
    assert bool((codes[..., None, :] == model.encoder.quantiser.codebook).all(-1).any(-1).all())
    assert model.sample(7, generator=gen(9)).shape == (7, 6)
    # penalty: beta * commitment (+ the codebook loss when the codebook is trained by gradient)
    expected = 0.25 * q.quantised.commitment_loss + (q.quantised.codebook_loss if ema_decay is None else 0)
    torch.testing.assert_close(q.penalty, expected.sum(-1))


def test_vq_vae_trains_by_a_hand_written_loop() -> None:
    model = vq_vae(None, num_codes=8)
    x = torch.randint(0, 2, (64, 6), generator=gen(10)).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = last = 0.0
    for step in range(60):
        q = model.encode(x)
        loss = -(model.decoder.log_prob(x, q.mean) - model.prior.kl(q)).mean() + q.penalty.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        first, last = (loss.item(), last) if step == 0 else (first, loss.item())
    assert last < first - 0.5
    assert model.encoder.quantiser.codebook.grad is not None


BAD = [
    ("num_codes 0", lambda: VectorQuantiser(0, 2), ValueError, "num_codes"),
    ("code_dim float", lambda: VectorQuantiser(4, 2.0), TypeError, "code_dim"),
    ("ema_decay 1", lambda: VectorQuantiser(4, 2, ema_decay=1.0), ValueError, "ema_decay"),
    ("epsilon < 0", lambda: VectorQuantiser(4, 2, epsilon=-1.0), ValueError, "epsilon"),
    ("epsilon str", lambda: VectorQuantiser(4, 2, epsilon="0.1"), ValueError, "epsilon"),
    ("ema_decay nan", lambda: VectorQuantiser(4, 2, ema_decay=float("nan")), ValueError, "ema_decay"),
    ("commitment < 0", lambda: VectorQuantiser(4, 2, commitment_weight=-1.0), ValueError, "commitment_weight"),
    ("z_e dim", lambda: VectorQuantiser(4, 2)(torch.zeros(3, 5)), ValueError, "z_e"),
    ("z_e dtype", lambda: VectorQuantiser(4, 2)(torch.zeros(3, 2, dtype=F64)), ValueError, "z_e"),
    ("z_e nan", lambda: VectorQuantiser(4, 2)(torch.full((3, 2), float("nan"))), ValueError, "z_e"),
    ("ema_update no ema", lambda: VectorQuantiser(4, 2).ema_update(torch.zeros(1, 2), torch.zeros(1, dtype=torch.int64)), TypeError, "ema_decay"),
    ("restart z_e dim", lambda: VectorQuantiser(4, 2).restart_dead_codes(torch.zeros(3, 5)), ValueError, "z_e"),
    ("restart generator", lambda: VectorQuantiser(4, 2).restart_dead_codes(torch.zeros(3, 2), 42), TypeError, "generator"),
    ("index float", lambda: code_perplexity(torch.zeros(3), 4), TypeError, "index"),
    ("index range", lambda: code_perplexity(torch.tensor([0, 4]), 4), ValueError, "index"),
    ("num_positions 0", lambda: UniformCodePrior(VectorQuantiser(4, 2), 0), ValueError, "num_positions"),
    ("quantiser type", lambda: UniformCodePrior(torch.nn.Linear(2, 2), 3), TypeError, "quantiser"),
]


@pytest.mark.parametrize("kind, call, error, name", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs(kind: str, call, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        call()


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_fit_trains_the_codebook_through_the_penalty(ema_decay) -> None:
    """VAE.loss adds the posterior's penalty to -ELBO, and fit minimises VAE.loss: the codebook moves
    (by gradient, or by the EMA update) and the commitment loss enters the encoder's gradient."""
    from vae_edu.training import fit

    model = vq_vae(ema_decay, num_codes=8)
    x = torch.randint(0, 2, (96, 6), generator=gen(11)).double()
    terms = model.elbo_terms(x)
    assert terms.penalty is not None
    torch.testing.assert_close(model.loss(x), -terms.elbo() + terms.penalty)
    before = model.encoder.quantiser.codebook.detach().clone()
    fit(model, x[:64], x[64:], epochs=3, batch_size=16, lr=1e-2, progress=False, seed=0)
    assert not torch.equal(model.encoder.quantiser.codebook, before)
