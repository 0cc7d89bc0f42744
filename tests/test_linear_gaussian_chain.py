"""Tests of :mod:`vae_edu.exact.linear_gaussian_chain`: the evidence and the posterior against
torch.distributions on the joint Gaussian, the identity log p(x) = ELBO + KL(q || p(z|x)) term by
term, each closed-form ELBO term against the Monte Carlo estimate of the hierarchical VAE's torch
parts, the exactness of the ladder posterior, shapes, and bad inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

from vae_edu.distributions import log_normal_full
from vae_edu.estimators import mc_mean
from vae_edu.exact import ChainELBOTerms, LinearGaussianChain
from vae_edu.models.hierarchical import split_z
from vae_edu.models.ladder import layer_kl

N_SE = 4.0
F64 = torch.float64


def _chain(z2_dim: int = 2, z1_dim: int = 3, x_dim: int = 5, dtype: torch.dtype = F64, seed: int = 0) -> LinearGaussianChain:
    gen = torch.Generator().manual_seed(seed)

    def r(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return scale * torch.randn(*shape, generator=gen, dtype=F64)

    params = (r(z1_dim, z2_dim), r(z1_dim), r(z1_dim, scale=0.3), r(x_dim, z1_dim), r(x_dim), r(x_dim, scale=0.3))
    return LinearGaussianChain(*(t.to(dtype) for t in params))


def _joint(chain: LinearGaussianChain) -> MultivariateNormal:
    """The joint Gaussian of (z_1, z_2, x), built from the definitions with dense algebra."""
    A, a, B, b = (t.double() for t in (chain.A, chain.a, chain.B, chain.b))
    S1, Sx = torch.diag(chain.log_var_1.double().exp()), torch.diag(chain.log_var_x.double().exp())
    cov_11 = A @ A.T + S1
    mean = torch.cat([a, torch.zeros(chain.z2_dim, dtype=F64), B @ a + b])
    rows = [
        torch.cat([cov_11, A, cov_11 @ B.T], 1),
        torch.cat([A.T, torch.eye(chain.z2_dim, dtype=F64), A.T @ B.T], 1),
        torch.cat([B @ cov_11, B @ A, B @ cov_11 @ B.T + Sx], 1),
    ]
    return MultivariateNormal(mean, torch.cat(rows, 0))


def _random_q(chain: LinearGaussianChain, batch: tuple[int, ...], seed: int = 1) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    d1, d2, dt = chain.z1_dim, chain.z2_dim, chain.dtype
    return (torch.randn(*batch, d2, generator=gen, dtype=dt), 0.5 * torch.randn(*batch, d2, generator=gen, dtype=dt),
            torch.randn(*batch, d1, d2, generator=gen, dtype=dt), torch.randn(*batch, d1, generator=gen, dtype=dt),
            0.5 * torch.randn(*batch, d1, generator=gen, dtype=dt))  # fmt: skip


def test_log_marginal_and_posterior_match_the_joint_gaussian(batch_shape: tuple[int, ...], dtype: torch.dtype) -> None:
    chain = _chain(dtype=dtype)
    joint = _joint(chain)
    n = int(torch.tensor(batch_shape, dtype=torch.int64).prod())  # 1 for ()
    x = chain.sample(n, generator=torch.Generator().manual_seed(2)).reshape(*batch_shape, 5)
    d = chain.z_dim
    marginal = MultivariateNormal(joint.loc[d:], joint.covariance_matrix[d:, d:])
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    got = chain.log_marginal(x)
    assert got.shape == batch_shape and got.dtype == dtype
    torch.testing.assert_close(got.double(), marginal.log_prob(x.double()), **tol)
    # the posterior by the Gaussian conditioning formula on the joint
    S = joint.covariance_matrix
    gain = S[:d, d:] @ torch.linalg.inv(S[d:, d:])
    mu_ref = joint.loc[:d] + (x.double() - joint.loc[d:]) @ gain.T
    cov_ref = S[:d, :d] - gain @ S[d:, :d]
    mu, cov = chain.posterior(x)
    assert mu.shape == (*batch_shape, d) and cov.shape == (*batch_shape, d, d)
    torch.testing.assert_close(mu.double(), mu_ref, **tol)
    torch.testing.assert_close(cov.double(), cov_ref.expand_as(cov), **tol)


def test_bayes_rule_log_joint_minus_log_posterior_is_the_evidence() -> None:
    chain = _chain()
    x = chain.sample(4, generator=torch.Generator().manual_seed(3))
    z = torch.randn(7, 4, chain.z_dim, dtype=F64)
    mu, cov = chain.posterior(x)
    torch.testing.assert_close(chain.log_joint(x, z) - log_normal_full(z, mu, cov), chain.log_marginal(x).expand(7, 4),
                               rtol=1e-10, atol=1e-10)  # fmt: skip


def test_log_p_x_is_elbo_plus_kl_to_the_posterior_exactly(batch_shape: tuple[int, ...]) -> None:
    chain = _chain()
    x = chain.sample(1, generator=torch.Generator().manual_seed(4)).squeeze(0).expand(*batch_shape, 5)
    q = _random_q(chain, batch_shape)
    terms = chain.elbo_terms(x, *q)
    assert isinstance(terms, ChainELBOTerms) and terms.elbo.shape == batch_shape
    gap = chain.kl_to_posterior(x, *q)
    torch.testing.assert_close(terms.elbo + gap, chain.log_marginal(x), rtol=1e-10, atol=1e-10)
    assert bool((gap > 0).all()) and bool((terms.kl_1 > 0).all()) and bool((terms.kl_2 > 0).all())


def test_each_term_matches_a_monte_carlo_estimate_from_the_definitions() -> None:
    chain = _chain()
    x = chain.sample(3, generator=torch.Generator().manual_seed(5))
    m_2, lv_2, C, c, lv_1 = _random_q(chain, (3,))
    gen = torch.Generator().manual_seed(6)
    K = 200_000
    z_2 = m_2 + torch.exp(0.5 * lv_2) * torch.randn(K, 3, chain.z2_dim, generator=gen, dtype=F64)
    mean_1 = (C @ z_2.unsqueeze(-1)).squeeze(-1) + c
    z_1 = mean_1 + torch.exp(0.5 * lv_1) * torch.randn(K, 3, chain.z1_dim, generator=gen, dtype=F64)
    from torch.distributions import Independent, Normal  # noqa: PLC0415

    def normal(mu: torch.Tensor, lv: torch.Tensor) -> Independent:
        return Independent(Normal(mu, torch.exp(0.5 * lv)), 1)

    log_q_2, log_q_1 = normal(m_2, lv_2).log_prob(z_2), normal(mean_1, lv_1).log_prob(z_1)
    log_p_2 = normal(torch.zeros_like(z_2), torch.zeros_like(z_2)).log_prob(z_2)
    log_p_1 = normal(z_2 @ chain.A.T + chain.a, chain.log_var_1.expand_as(z_1)).log_prob(z_1)
    log_p_x = normal(z_1 @ chain.B.T + chain.b, chain.log_var_x.expand(K, 3, 5)).log_prob(x)
    terms = chain.elbo_terms(x, m_2, lv_2, C, c, lv_1)
    for closed, values in ((terms.reconstruction, log_p_x), (terms.kl_1, log_q_1 - log_p_1), (terms.kl_2, log_q_2 - log_p_2)):
        est, se = mc_mean(values)
        assert bool(((est - closed).abs() < N_SE * se).all()), (est, closed, se)


def _linear_net(chain: LinearGaussianChain, seed: int = 7) -> nn.Linear:
    torch.manual_seed(seed)
    net = nn.Linear(chain.x_dim, 2 * chain.z_dim).to(chain.dtype)
    with torch.no_grad():
        net.weight.mul_(2.0)
    return net


@pytest.mark.parametrize("combine", ["precision", "residual"])
def test_the_torch_parts_monte_carlo_elbo_matches_the_closed_form(combine: str) -> None:
    chain = _chain()
    model = chain.ladder_vae(_linear_net(chain), combine)
    x = chain.sample(4, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        q = model.encode(x)
        C, c, lv_1 = chain.ladder_conditional(q.mu_hat_1, q.log_var_hat_1, combine)
        if combine == "residual":
            torch.testing.assert_close(C, chain.A.expand_as(C))
        # the torch posterior's conditional is the chain's C z_2 + c, with the same variance
        z_2 = torch.randn(5, 4, chain.z2_dim, dtype=F64)
        mu_q1, log_var_q1, _, _ = q.conditional(z_2)
        torch.testing.assert_close(mu_q1, (C @ z_2.unsqueeze(-1)).squeeze(-1) + c, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(log_var_q1, lv_1.expand_as(log_var_q1), rtol=1e-12, atol=1e-12)
        terms = chain.elbo_terms(x, q.mu_q2, q.log_var_q2, C, c, lv_1)
        K = 100_000
        log_w = model.log_importance_weights(x, num_samples=K, generator=torch.Generator().manual_seed(9))
        layers = layer_kl(model, x, num_samples=K, generator=torch.Generator().manual_seed(10))
        recon = model.decoder.log_prob(x, model.encode(x).rsample(K, torch.Generator().manual_seed(11)))
    est, se = mc_mean(log_w)
    assert bool(((est - terms.elbo).abs() < N_SE * se).all()), (est, terms.elbo, se)
    est, se = mc_mean(recon)
    assert bool(((est - terms.reconstruction).abs() < N_SE * se).all())
    # KL_2 per dimension is exact; KL_1 per dimension is exact given z_2 (its K-mean is within N_SE)
    torch.testing.assert_close(layers.kl_2_per_dim.sum(-1), terms.kl_2, rtol=1e-10, atol=1e-10)
    assert bool(((layers.kl_1_per_dim.sum(-1) - terms.kl_1).abs() < 0.02 * terms.kl_1.abs() + 1e-3).all())


def test_the_ladder_posterior_is_exact_when_the_covariances_are_diagonal() -> None:
    """B with orthogonal columns, Sigma_x = s I and z2_dim = 1: the bottom-up message, combined with
    p(z_1|z_2) by precision weighting, and the exact p(z_2|x) make q the posterior: KL 0, ELBO = log p(x)."""
    gen = torch.Generator().manual_seed(12)
    B = torch.linalg.qr(torch.randn(6, 3, generator=gen, dtype=F64))[0] * torch.tensor([2.0, 1.0, 0.5], dtype=F64)
    chain = LinearGaussianChain(torch.randn(3, 1, generator=gen, dtype=F64), torch.randn(3, generator=gen, dtype=F64),
                                torch.tensor([0.2, -0.5, 0.1], dtype=F64), B, torch.randn(6, generator=gen, dtype=F64),
                                torch.full((6,), -1.0, dtype=F64))  # fmt: skip
    x = chain.sample(5, generator=gen)
    mu_hat, cov_hat = chain.bottom_up_message(x)
    torch.testing.assert_close(cov_hat, torch.diag(cov_hat.diagonal()))
    C, c, lv_1 = chain.ladder_conditional(mu_hat, cov_hat.diagonal().log().expand_as(mu_hat))
    mu, cov = chain.posterior(x)
    _, mu_2 = split_z(mu, 3)
    lv_2 = cov[..., 3:, 3:].diagonal(dim1=-2, dim2=-1).log()
    gap = chain.kl_to_posterior(x, mu_2, lv_2, C, c, lv_1)
    assert float(gap.abs().max()) < 1e-10
    torch.testing.assert_close(chain.elbo_terms(x, mu_2, lv_2, C, c, lv_1).elbo, chain.log_marginal(x), rtol=1e-10, atol=1e-10)
    # a mean-field q (C = 0) with the posterior's marginals cannot close the gap
    gap_mf = chain.kl_to_posterior(x, mu_2, lv_2, torch.zeros_like(C), mu[..., :3],
                                   cov[..., :3, :3].diagonal(dim1=-2, dim2=-1).log())  # fmt: skip
    assert bool((gap_mf > 0.01).all())


def test_bad_inputs_name_the_argument() -> None:
    chain = _chain()
    good = (chain.A, chain.a, chain.log_var_1, chain.B, chain.b, chain.log_var_x)
    names = ("A", "a", "log_var_1", "B", "b", "log_var_x")
    for i, name in enumerate(names):
        args = list(good)
        args[i] = torch.zeros(7, dtype=F64) if i != 0 else torch.zeros(3, dtype=F64)
        with pytest.raises(ValueError, match=name):
            LinearGaussianChain(*args)
        args[i] = good[i].float()
        with pytest.raises(TypeError, match=name if i else "a"):
            LinearGaussianChain(*args)
    with pytest.raises(ValueError, match="A"):
        LinearGaussianChain(good[0] * float("nan"), *good[1:])
    x = chain.sample(2)
    q = list(_random_q(chain, (2,)))
    with pytest.raises(ValueError, match="x"):
        chain.log_marginal(torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="C"):
        chain.elbo_terms(x, q[0], q[1], q[2][..., :1], q[3], q[4])
    with pytest.raises(ValueError, match="mu_q2"):
        chain.elbo_terms(x, q[0][..., :1], *q[1:])
    with pytest.raises(TypeError, match="log_var_q1"):
        chain.kl_to_posterior(x, *q[:4], q[4].float())
    with pytest.raises(ValueError, match="combine"):
        chain.ladder_conditional(torch.zeros(2, 3, dtype=F64), torch.zeros(2, 3, dtype=F64), "sum")
    with pytest.raises(ValueError, match="mu_hat_1"):
        chain.ladder_conditional(torch.zeros(2, 2, dtype=F64), torch.zeros(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="z"):
        chain.log_joint(x, torch.zeros(2, 4, dtype=F64))
    with pytest.raises(ValueError, match="n"):
        chain.sample(0)
