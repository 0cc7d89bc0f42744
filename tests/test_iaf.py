"""Tests of :mod:`vae_edu.models.iaf` and :mod:`vae_edu.models.iaf_vae`: the IAF log-determinant
against autograd Jacobians, the triangular structure in each step's order, the density of the flow
(an importance-sampling identity), the IAF-VAE's bounds and training, and bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.functional import jacobian

from vae_edu.distributions import log_normal_diag
from vae_edu.estimators import log_likelihood, mc_mean
from vae_edu.models import VAE, Decoder, DiagonalGaussian, HasELBOTerms, StandardNormalPrior, VAEConfig, VariationalModel
from vae_edu.models.iaf import IAFFlow, IAFStep
from vae_edu.models.iaf_encoder import IAFEncoder, IAFPosterior
from vae_edu.training import fit

F64 = torch.float64


def _perturb(module: torch.nn.Module, scale: float = 0.5, seed: int = 0) -> None:
    """Move every parameter away from its initial value, so no structure is an accident of the init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _rank(order: torch.Tensor) -> torch.Tensor:
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))
    return rank


@pytest.mark.parametrize("num_steps", [1, 2, 3])
@pytest.mark.parametrize("z_dim,context_dim", [(2, 0), (4, 3), (6, 0)])
def test_log_det_matches_autograd_jacobian(num_steps: int, z_dim: int, context_dim: int) -> None:
    flow = IAFFlow(z_dim, num_steps, (16, 16), context_dim=context_dim).to(F64)
    _perturb(flow)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        z_0 = torch.randn(z_dim, generator=gen, dtype=F64)
        h = torch.randn(context_dim, generator=gen, dtype=F64) if context_dim else None
        z_T, log_det = flow(z_0, h)
        jac = jacobian(lambda z: flow(z, h)[0], z_0)  # (z_dim, z_dim)
        _, logabsdet = torch.linalg.slogdet(jac)
        assert log_det.shape == ()
        torch.testing.assert_close(log_det, logabsdet, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("reverse", [False, True])
def test_step_jacobian_is_triangular_in_its_order_with_diagonal_sigma(reverse: bool) -> None:
    z_dim = 5
    order = torch.arange(z_dim).flip(0) if reverse else torch.arange(z_dim)
    step = IAFStep(z_dim, (20,), order=order, context_dim=2).to(F64)
    _perturb(step)
    gen = torch.Generator().manual_seed(2)
    z, h = torch.randn(z_dim, generator=gen, dtype=F64), torch.randn(2, generator=gen, dtype=F64)
    jac = jacobian(lambda v: step(v, h)[0], z)  # jac[d, e] = d z_t[d] / d z_{t-1}[e]
    rank = _rank(order)
    later = rank[None, :] > rank[:, None]  # e comes after d in the order
    assert bool((jac[later] == 0).all()), jac
    earlier = rank[None, :] < rank[:, None]
    assert bool((jac[earlier].abs() > 1e-8).all()), "every earlier coordinate should matter"
    _, log_det = step(z, h)  # sum_d log sigma_d: the log of the triangular Jacobian's determinant
    torch.testing.assert_close(torch.diagonal(jac).log().sum(), log_det, rtol=1e-12, atol=1e-12)
    if reverse:  # upper triangular in the index order
        assert torch.equal(jac, torch.triu(jac))
    else:
        assert torch.equal(jac, torch.tril(jac))


def test_reversing_the_order_makes_the_flow_dense() -> None:
    flow = IAFFlow(4, 2, (16,)).to(F64)
    _perturb(flow)
    z = torch.randn(4, dtype=F64, generator=torch.Generator().manual_seed(3))
    jac = jacobian(lambda v: flow(v)[0], z)
    assert flow.steps[0].order.tolist() == [0, 1, 2, 3] and flow.steps[1].order.tolist() == [3, 2, 1, 0]
    assert bool((jac.abs() > 1e-8).all()), jac  # lower x upper triangular: every entry can be non-zero


def test_zero_weight_made_gives_an_elementwise_scaling() -> None:
    flow = IAFFlow(3, 2, (8,), forget_bias=1.5).to(F64)
    with torch.no_grad():
        for p in flow.parameters():
            p.zero_()
    z = torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(4))
    z_T, log_det = flow(z)
    sigma = 1.0 / (1.0 + math.exp(-1.5))
    torch.testing.assert_close(z_T, sigma**2 * z, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(log_det, torch.full((4,), 2 * 3 * math.log(sigma), dtype=F64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_flow_shapes_and_dtypes(dtype: torch.dtype, batch: tuple[int, ...]) -> None:
    flow = IAFFlow(3, 2, (8,), context_dim=2).to(dtype)
    z_0, h = torch.randn(*batch, 3, dtype=dtype), torch.randn(*batch, 2, dtype=dtype)
    z_T, log_det = flow(z_0, h)
    assert z_T.shape == (*batch, 3) and log_det.shape == batch
    assert z_T.dtype == log_det.dtype == dtype
    mu, log_var = torch.zeros(*batch, 3, dtype=dtype), torch.zeros(*batch, 3, dtype=dtype)
    z, log_q = IAFPosterior(DiagonalGaussian(mu, log_var), flow, h).rsample_with_log_prob(5)
    assert z.shape == (5, *batch, 3) and log_q.shape == (5, *batch)


def test_flow_density_passes_an_importance_sampling_identity() -> None:
    """If log q(z_T) is right, E_q[p(z)/q(z)] = 1 for any normalised p; a wrong log-det breaks it."""
    z_dim = 2
    flow = IAFFlow(z_dim, 2, (16,), forget_bias=2.0).to(F64)
    _perturb(flow, scale=0.3)
    mu_0, log_var_0 = torch.zeros(z_dim, dtype=F64), torch.zeros(z_dim, dtype=F64)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        q = IAFPosterior(DiagonalGaussian(mu_0, log_var_0), flow, None)
        z_T, log_q = q.rsample_with_log_prob(200_000, generator=gen)  # (N, 2), (N,)
        p_mu, p_log_var = torch.tensor([0.2, -0.1], dtype=F64), torch.log(torch.tensor([0.3, 0.4], dtype=F64))
        log_w = log_normal_diag(z_T, p_mu, p_log_var) - log_q
        mean, stderr = mc_mean(log_w.exp())
        assert abs(mean.item() - 1.0) <= 4 * stderr.item() and stderr.item() < 0.01, (mean, stderr)
        # with the log-determinant dropped, the identity fails by far more than its error bar
        z_0 = mu_0 + torch.randn(200_000, z_dim, generator=gen, dtype=F64)
        z_T2, log_det2 = flow(z_0)
        wrong = log_normal_diag(z_T2, p_mu, p_log_var) - log_normal_diag(z_0, mu_0, log_var_0)
        mean_wrong, se_wrong = mc_mean(wrong.exp())
        assert abs(mean_wrong.item() - 1.0) > 10 * se_wrong.item()
        assert bool((log_det2 < 0).all())


def _tiny_model(dtype: torch.dtype = F64) -> VAE:
    torch.manual_seed(0)
    config = VAEConfig(x_dim=6, z_dim=3, hidden=16, num_levels=4, decoder_dropout=0.0)
    encoder = IAFEncoder(config, num_steps=2, context_dim=5, made_hidden=(12,))
    return VAE(encoder, Decoder(config), StandardNormalPrior(config.z_dim)).to(dtype)


def _tiny_data(n: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randint(0, 4, (n, 6), generator=torch.Generator().manual_seed(6)).to(dtype)


def test_iaf_vae_is_a_variational_model_without_a_closed_form_kl() -> None:
    model = _tiny_model()
    assert isinstance(model, VariationalModel) and isinstance(model, HasELBOTerms)
    assert model.elbo_terms(_tiny_data(2)).kl_per_dim is None
    with pytest.raises(TypeError, match="closed form"):
        model.kl_per_dim(_tiny_data(2))
    assert not model.training


def test_elbo_is_the_mean_log_weight_and_below_the_log_likelihood() -> None:
    model = _tiny_model()
    x = _tiny_data(4)
    with torch.no_grad():
        elbo = model.elbo(x, num_samples=4000, generator=torch.Generator().manual_seed(7))
        log_w = model.log_importance_weights(x, num_samples=4000, generator=torch.Generator().manual_seed(7))  # (K, B)
        assert log_w.shape == (4000, 4) and elbo.shape == (4,)
        torch.testing.assert_close(elbo, log_w.mean(dim=0), rtol=1e-12, atol=1e-12)
        terms = model.elbo_terms(x, num_samples=4000, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(terms.reconstruction - terms.kl, elbo, rtol=1e-12, atol=1e-12)
        kl = terms.kl
        _, stderr = mc_mean(log_w)
        log_p = log_likelihood(model, x, 4000, generator=torch.Generator().manual_seed(8))
    assert bool((kl > 0).all())
    assert bool((elbo + 4 * stderr < log_p).all()), (elbo, stderr, log_p)


def test_fit_trains_it_and_free_bits_is_refused() -> None:
    model = _tiny_model()
    x = _tiny_data(48)
    history = fit(model, x[:32], x[32:], epochs=15, batch_size=8, lr=1e-2, progress=False, seed=0)
    assert history.epochs == 15 and all(math.isfinite(v) for v in history.val_loss)
    assert history.val_loss[history.best_epoch] < history.val_loss[0]
    with pytest.raises(TypeError, match="free_bits"):
        fit(model, x[:32], x[32:], epochs=1, free_bits=0.5, progress=False)


def test_sample_and_reconstruct_shapes() -> None:
    model = _tiny_model()
    x = _tiny_data(5)
    assert model.sample(7, generator=torch.Generator().manual_seed(0)).shape == (7, 6)
    recon = model.reconstruct(x)
    assert recon.shape == (5, 6) and bool(((recon >= 0) & (recon <= 3)).all())
    z_T, log_q = model.encoder(x).rsample_with_log_prob(3, torch.Generator().manual_seed(0))
    assert z_T.shape == (3, 5, 3) and log_q.shape == (3, 5)


def test_bad_inputs() -> None:
    model = _tiny_model()
    x = _tiny_data(2)
    with pytest.raises(TypeError, match="x has dtype"):
        model.elbo(x.float())
    with pytest.raises(ValueError, match="x must have shape"):
        model.elbo(x[:, :5])
    with pytest.raises(ValueError, match="x must hold"):
        model.elbo(x + 0.5)
    with pytest.raises(ValueError, match="num_samples"):
        model.elbo(x, num_samples=0)
    with pytest.raises(ValueError, match="beta"):
        model.elbo(x, beta=-1.0)
    with pytest.raises(TypeError, match="config"):
        IAFEncoder(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context_dim"):
        IAFEncoder(VAEConfig(), context_dim=0)
    with pytest.raises(ValueError, match="num_steps"):
        IAFFlow(2, num_steps=0)
    with pytest.raises(TypeError, match="z_dim"):
        IAFFlow(2.0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="forget_bias"):
        IAFStep(2, (4,), forget_bias=float("nan"))
    with pytest.raises(TypeError, match="forget_bias"):
        IAFStep(2, (4,), forget_bias="2")  # type: ignore[arg-type]
    flow = IAFFlow(3, 1, (4,), context_dim=2)
    with pytest.raises(ValueError, match="context is required"):
        flow(torch.zeros(3))
    with pytest.raises(ValueError, match="z_0"):
        flow(torch.tensor([0.0, float("nan"), 0.0]), torch.zeros(2))
    with pytest.raises(ValueError, match="z_0 must have last dimension"):
        flow(torch.zeros(4), torch.zeros(2))
    with pytest.raises(TypeError, match="z_0 has dtype"):
        flow(torch.zeros(3, dtype=F64), torch.zeros(2, dtype=F64))


@pytest.mark.parametrize("context_dim", [0, 3])
def test_flow_inverse_undoes_the_flow_and_returns_its_log_det(context_dim: int) -> None:
    flow = IAFFlow(5, 3, (16,), context_dim=context_dim).to(F64)
    _perturb(flow, scale=0.3)
    gen = torch.Generator().manual_seed(11)
    z_0 = torch.randn(7, 4, 5, generator=gen, dtype=F64)  # (K, B, z_dim)
    h = torch.randn(4, context_dim, generator=gen, dtype=F64) if context_dim else None  # (B, context_dim)
    z_T, log_det = flow(z_0, h)
    back, back_log_det = flow.inverse(z_T, h)
    torch.testing.assert_close(back, z_0, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(back_log_det, log_det, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="z_T"):
        flow.inverse(z_T[..., :4], h)


def test_iaf_posterior_log_prob_at_its_own_draws_and_by_autograd_elsewhere() -> None:
    torch.manual_seed(0)
    config = VAEConfig(x_dim=4, z_dim=3, hidden=8, num_levels=3)
    encoder = IAFEncoder(config, num_steps=2, context_dim=4, made_hidden=(8,)).to(F64)
    q = encoder(torch.tensor([[0.0, 1.0, 2.0, 1.0], [2.0, 0.0, 0.0, 1.0]], dtype=F64))
    z, log_q = q.rsample_with_log_prob(5, torch.Generator().manual_seed(12))  # (5, 2, 3), (5, 2)
    torch.testing.assert_close(q.log_prob(z), log_q, rtol=1e-10, atol=1e-10)
    # at a point q did not draw: change of variables with the inverse's Jacobian from autograd
    point = torch.tensor([0.3, -1.2, 2.0], dtype=F64)
    context = q.context[0]
    z_0 = q.flow.inverse(point, context)[0]
    jac = jacobian(lambda v: q.flow.inverse(v, context)[0], point)  # d z_0 / d z_T, (3, 3)
    expected = log_normal_diag(z_0, q.base.mu[0], q.base.log_var[0]) + torch.linalg.slogdet(jac)[1]
    torch.testing.assert_close(q.log_prob(point.expand(2, 3))[0], expected, rtol=1e-10, atol=1e-10)


def test_an_overflowing_inverse_is_nan_and_its_log_q_minus_infinity() -> None:
    torch.manual_seed(0)
    flow = IAFFlow(3, 2, (8,), forget_bias=-200.0)  # float32: every gate sigmoid(-200) underflows to 0
    z_T = torch.tensor([[0.5, -1.0, 2.0]])
    z_0, log_det = flow.inverse(z_T)
    assert bool(torch.isnan(z_0).all()) and bool(torch.isnan(log_det).all())
    config = VAEConfig(x_dim=4, z_dim=3, hidden=8, num_levels=3)
    encoder = IAFEncoder(config, num_steps=2, context_dim=4, made_hidden=(8,), forget_bias=-200.0)
    q = encoder(torch.tensor([[0.0, 1.0, 2.0, 1.0]]))
    assert q.log_prob(z_T).item() == -math.inf
    z, log_q = q.rsample_with_log_prob(2)  # forward is fine: q lives on a tiny set
    assert bool(torch.isfinite(log_q).all())
