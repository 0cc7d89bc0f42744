"""Tests for vae_edu.metrics.latent: neighbourhoods, distance ranks, interpolation, traversals, aggregate posterior."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import assert_rejected, reject

from vae_edu.distributions import log_normal_diag
from vae_edu.metrics import (
    aggregate_posterior_log_prob,
    distance_rank_correlation,
    hole_fraction,
    in_hole,
    lerp,
    neighbour_label_agreement,
    prior_norm_mean_std,
    prior_quantile_grid,
    slerp,
    traverse,
)
from vae_edu.models import VAE, VAEConfig


def test_knn_agreement_separated_clusters(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]], dtype=dtype)
    labels = torch.arange(3).repeat_interleave(10)  # (30,)
    features = centres[labels] + torch.randn(30, 2, dtype=dtype, generator=gen)
    assert neighbour_label_agreement(features, labels, k=5).item() == 1.0
    assert neighbour_label_agreement(features, labels, k=5).dtype == dtype
    # k = 12 > 9 same-label neighbours: exactly 9 of 12 agree for every point
    assert neighbour_label_agreement(features, labels, k=12).item() == pytest.approx(9 / 12)


def test_knn_agreement_hand_computed() -> None:
    # points on a line: 0, 1, 3, 10 with labels a, a, b, b; nearest neighbours: 0->1, 1->0, 3->1, 10->3
    features = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert neighbour_label_agreement(features, labels, k=1).item() == pytest.approx(3 / 4)


def test_knn_agreement_chance_level() -> None:
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(2000, 2, generator=gen, dtype=torch.float64)
    labels = torch.randint(4, (2000,), generator=gen)
    value = neighbour_label_agreement(features, labels, k=10).item()
    # random labels: agreement ~ 1/4; binomial std of a mean of 20000 dependent 0/1s is < 0.01
    assert abs(value - 0.25) < 0.03


def test_distance_rank_correlation_invariances(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(30, 3, dtype=dtype, generator=gen)
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=dtype, generator=gen))
    b = 2.5 * a @ q + 7.0  # rotation, scaling, translation keep every distance's rank
    assert distance_rank_correlation(a, b).item() == pytest.approx(1.0, abs=1e-6)
    # a monotone transform of distances keeps ranks too; an unrelated point set does not
    c = torch.randn(30, 5, dtype=dtype, generator=gen)
    assert abs(distance_rank_correlation(a, c).item()) < 0.2


def test_distance_rank_correlation_matches_scipy() -> None:
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    gen = torch.Generator().manual_seed(3)
    a = torch.randn(25, 2, dtype=torch.float64, generator=gen)
    b = a + 0.5 * torch.randn(25, 4, dtype=torch.float64, generator=gen)[:, :2]
    expected = spearmanr(pdist(a.numpy()), pdist(b.numpy())).statistic
    assert distance_rank_correlation(a, b).item() == pytest.approx(expected, abs=1e-10)


def test_distance_rank_correlation_with_ties_matches_scipy(dtype: torch.dtype) -> None:
    # points on an integer grid: many pairwise distances tie; scipy gives ties their average rank
    from scipy.spatial.distance import pdist
    from scipy.stats import spearmanr

    gen = torch.Generator().manual_seed(4)
    a = torch.randint(0, 3, (30, 2), generator=gen).to(dtype)
    b = a + 0.7 * torch.randn(30, 2, dtype=dtype, generator=gen)
    expected = spearmanr(pdist(a.double().numpy()), pdist(b.double().numpy())).statistic
    assert len(set(pdist(a.double().numpy()).tolist())) < 20  # 435 pairs, fewer than 20 distinct distances
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert distance_rank_correlation(a, b).item() == pytest.approx(expected, abs=tol)
    # the result does not depend on the order of the points
    perm = torch.randperm(30, generator=gen)
    assert distance_rank_correlation(a[perm], b[perm]).item() == pytest.approx(expected, abs=tol)


def test_lerp_and_slerp_endpoints(dtype: torch.dtype, tol: dict[str, float]) -> None:
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 5, dtype=dtype, generator=gen)
    t = torch.linspace(0, 1, 7, dtype=dtype)
    for path in (lerp(z0, z1, t), slerp(z0, z1, t)):
        assert path.shape == (7, 5) and path.dtype == dtype
        torch.testing.assert_close(path[0], z0, **tol)
        torch.testing.assert_close(path[-1], z1, **tol)


def test_slerp_keeps_the_norm_and_lerp_shrinks_it(dtype: torch.dtype, tol: dict[str, float]) -> None:
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 16, dtype=dtype, generator=gen)
    z1 = z1 * z0.norm() / z1.norm()  # equal norms r
    r = z0.norm()
    t = torch.linspace(0, 1, 11, dtype=dtype)
    torch.testing.assert_close(slerp(z0, z1, t).norm(dim=1), r.expand(11), **tol)
    omega = torch.arccos(z0 @ z1 / r**2)
    torch.testing.assert_close(lerp(z0, z1, t)[5].norm(), r * torch.cos(omega / 2), **tol)
    # slerp moves at a constant angular speed: equal angles between consecutive points
    path = slerp(z0, z1, t)
    cos = (path[1:] * path[:-1]).sum(dim=1) / r**2
    torch.testing.assert_close(torch.arccos(cos.clamp(-1, 1)), (omega / 10).expand(10), rtol=1e-4, atol=1e-4)


def test_slerp_parallel_falls_back_to_lerp() -> None:
    z0 = torch.tensor([1.0, 2.0])
    t = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(slerp(z0, 3 * z0, t), lerp(z0, 3 * z0, t))


def test_traverse_matches_decoder_mean() -> None:
    model = VAE.from_config(VAEConfig(x_dim=6, z_dim=3, hidden=8, num_levels=4))
    z = torch.tensor([0.1, -0.2, 0.3])
    values = torch.tensor([-1.0, 0.0, 2.0])
    images = traverse(model, z, 1, values)
    assert images.shape == (3, 6)
    codes = torch.tensor([[0.1, -1.0, 0.3], [0.1, 0.0, 0.3], [0.1, 2.0, 0.3]])
    with torch.no_grad():
        torch.testing.assert_close(images, model.decoder.mean(codes))
    assert z.tolist() == pytest.approx([0.1, -0.2, 0.3])  # the base code is not modified
    with pytest.raises(ValueError, match="dim"):
        traverse(model, z, 3, values)
    with pytest.raises(ValueError, match="z must"):
        traverse(model, z[None], 0, values)
    with pytest.raises(TypeError, match="values has dtype"):
        traverse(model, z, 0, values.double())
    with pytest.raises(TypeError, match="model"):
        traverse(torch.nn.Linear(2, 2), z, 0, values)


@pytest.mark.parametrize("z_dim", [1, 2, 16])
def test_prior_norm_mean_std_against_monte_carlo(z_dim: int) -> None:
    mean, std = prior_norm_mean_std(z_dim)
    if z_dim == 1:  # |z| is half-normal: mean sqrt(2/pi), variance 1 - 2/pi
        assert mean == pytest.approx(math.sqrt(2 / math.pi)) and std == pytest.approx(math.sqrt(1 - 2 / math.pi))
    if z_dim == 2:  # |z| is Rayleigh(1): mean sqrt(pi/2), variance 2 - pi/2
        assert mean == pytest.approx(math.sqrt(math.pi / 2)) and std == pytest.approx(math.sqrt(2 - math.pi / 2))
    gen = torch.Generator().manual_seed(z_dim)
    norms = torch.randn(200_000, z_dim, dtype=torch.float64, generator=gen).norm(dim=1)
    assert abs(norms.mean().item() - mean) < 4 * norms.std().item() / math.sqrt(200_000)
    # the sample variance's standard error: sqrt((m4 - s^4) / n)
    centred = norms - norms.mean()
    se_var = math.sqrt(((centred**4).mean() - centred.var() ** 2).item() / 200_000)
    assert abs(norms.var().item() - std**2) < 4 * se_var


def test_prior_quantile_grid() -> None:
    grid = prior_quantile_grid(4, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    torch.testing.assert_close(normal.cdf(grid), torch.tensor([0.125, 0.375, 0.625, 0.875], dtype=torch.float64))
    assert prior_quantile_grid(5).dtype == torch.float32
    assert prior_quantile_grid(5)[2].item() == 0.0
    with pytest.raises(ValueError, match="n must"):
        prior_quantile_grid(0)
    with pytest.raises(TypeError, match="dtype"):
        prior_quantile_grid(3, dtype=torch.int64)


def test_aggregate_posterior_matches_direct_mixture(dtype: torch.dtype, tol: dict[str, float]) -> None:
    gen = torch.Generator().manual_seed(0)
    mu_q = torch.randn(7, 2, dtype=dtype, generator=gen)
    log_var_q = torch.randn(7, 2, dtype=dtype, generator=gen) - 1
    z = torch.randn(5, 2, dtype=dtype, generator=gen)
    # direct: the density of a mixture, as torch.distributions computes it
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(7, dtype=dtype)),
        torch.distributions.Independent(torch.distributions.Normal(mu_q, torch.exp(0.5 * log_var_q)), 1),
    )
    expected = mixture.log_prob(z)
    torch.testing.assert_close(aggregate_posterior_log_prob(z, mu_q, log_var_q), expected, **tol)
    torch.testing.assert_close(aggregate_posterior_log_prob(z, mu_q, log_var_q, chunk_size=2), expected, **tol)
    direct = torch.log(torch.stack([log_normal_diag(z, m, lv).exp() for m, lv in zip(mu_q, log_var_q)]).mean(0))
    torch.testing.assert_close(aggregate_posterior_log_prob(z, mu_q, log_var_q), direct, **tol)


def test_aggregate_posterior_stays_finite_far_away() -> None:
    mu_q = torch.zeros(3, 2, dtype=torch.float64)
    log_var_q = torch.full((3, 2), -10.0, dtype=torch.float64)
    z = torch.tensor([[5.0, 5.0]], dtype=torch.float64)
    value = aggregate_posterior_log_prob(z, mu_q, log_var_q)
    expected = log_normal_diag(z, mu_q[0], log_var_q[0])  # all components are the same
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value, expected)


def test_hole_fraction_is_zero_when_q_equals_prior_and_one_when_far() -> None:
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(500, 2, dtype=torch.float64, generator=gen)
    h, se = hole_fraction(z, torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64), 0.5)
    assert h.item() == 0.0 and se.item() == 0.0
    h, _ = hole_fraction(z, torch.full((1, 2), 20.0, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64))
    assert h.item() == 1.0


def test_hole_fraction_closed_form() -> None:
    # q = N(0, s^2 I) in d = 1: q(z) < c p(z)  <=>  z^2 (1/s^2 - 1) > 2 log(1/(c s)), closed form
    s, c = 0.5, 0.1
    threshold = math.sqrt(2 * math.log(1 / (c * s)) / (1 / s**2 - 1))
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    exact = 2 * (1 - normal.cdf(torch.tensor(threshold, dtype=torch.float64)))
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(200_000, 1, dtype=torch.float64, generator=gen)
    mu_q = torch.zeros(1, 1, dtype=torch.float64)
    log_var_q = torch.full((1, 1), 2 * math.log(s), dtype=torch.float64)
    h, se = hole_fraction(z, mu_q, log_var_q, c)
    assert abs(h - exact) < 4 * se


def test_in_hole_matches_the_density_ratio_and_hole_fraction(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(5)
    mu_q = torch.randn(20, 2, dtype=dtype, generator=gen)
    log_var_q = torch.randn(20, 2, dtype=dtype, generator=gen) - 2
    z = torch.randn(300, 2, dtype=dtype, generator=gen)
    flags = in_hole(z, mu_q, log_var_q, 0.1)
    assert flags.shape == (300,) and flags.dtype == torch.bool
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(20, dtype=dtype)),
        torch.distributions.Independent(torch.distributions.Normal(mu_q, torch.exp(0.5 * log_var_q)), 1),
    )
    prior = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(2, dtype=dtype), 1.0), 1)
    ratio = (mixture.log_prob(z) - prior.log_prob(z)).exp()  # q(z) / p(z)
    margin = (ratio / 0.1 - 1).abs() > 1e-4  # points not on the boundary, where round-off could flip a flag
    assert torch.equal(flags[margin], (ratio < 0.1)[margin])
    assert 0 < flags.sum() < 300
    h, se = hole_fraction(z, mu_q, log_var_q, 0.1)
    assert h.item() == pytest.approx(flags.to(dtype).mean().item())
    assert se.item() == pytest.approx(flags.to(dtype).std().item() / math.sqrt(300))


# ------------------------------------------------------------------------------ bad inputs
_Z3, _T3 = torch.ones(3), torch.linspace(0, 1, 3)
_Z = torch.zeros(3, 2)

BAD_INPUTS = [
    # neighbour_label_agreement and distance_rank_correlation
    *[reject(f"knn-{name}-{i}", lambda f=features, y=labels, k=k: neighbour_label_agreement(f, y, k), error, name)
      for i, (features, labels, k, error, name) in enumerate([
        ([[0.0]], torch.tensor([0]), 1, TypeError, "features"),
        (torch.zeros(4, 2), [0, 1, 0, 1], 1, TypeError, "labels"),
        (torch.zeros(4, 2), torch.zeros(4), 1, TypeError, "labels"),
        (torch.zeros(4, 2), torch.zeros(3, dtype=torch.int64), 1, ValueError, "labels"),
        (torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), 4, ValueError, "k"),
        (torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64), 0, ValueError, "k"),
        (torch.zeros(4), torch.zeros(4, dtype=torch.int64), 1, ValueError, "features"),
        (torch.full((4, 2), float("nan")), torch.zeros(4, dtype=torch.int64), 1, ValueError, "features"),
      ])],
    reject("rank_correlation-sizes", lambda: distance_rank_correlation(torch.zeros(4, 2), torch.zeros(5, 2)), ValueError,
           "a and b"),
    reject("rank_correlation-dtype",
           lambda: distance_rank_correlation(torch.zeros(4, 2), torch.zeros(4, 2, dtype=torch.float64)), TypeError,
           "b has dtype"),
    reject("rank_correlation-too-few", lambda: distance_rank_correlation(torch.zeros(2, 2), torch.zeros(2, 2)),
           ValueError, "at least 3"),
    reject("rank_correlation-list", lambda: distance_rank_correlation([[0.0]], torch.zeros(1, 2)), TypeError, "a must"),
    # lerp, slerp and the prior's norm
    reject("lerp-sizes", lambda: lerp(_Z3, torch.ones(4), _T3), ValueError, "z0 and z1"),
    reject("slerp-t-shape", lambda: slerp(_Z3, _Z3, torch.zeros(2, 2)), ValueError, "t must"),
    reject("lerp-t-dtype", lambda: lerp(_Z3, _Z3, _T3.double()), TypeError, "t has dtype"),
    reject("slerp-zero", lambda: slerp(torch.zeros(3), _Z3, _T3), ValueError, "non-zero"),
    reject("lerp-list", lambda: lerp([1.0], _Z3, _T3), TypeError, "z0"),
    reject("prior_norm-z_dim-0", lambda: prior_norm_mean_std(0), ValueError, "z_dim"),
    reject("prior_norm-z_dim-float", lambda: prior_norm_mean_std(2.0), TypeError, "z_dim"),
    # the aggregate posterior and its holes
    reject("aggregate-log_var_q", lambda: aggregate_posterior_log_prob(_Z, torch.zeros(4, 2), torch.zeros(5, 2)),
           ValueError, "log_var_q"),
    reject("aggregate-event", lambda: aggregate_posterior_log_prob(torch.zeros(3, 3), torch.zeros(4, 2),
                                                                   torch.zeros(4, 2)), ValueError, "event dimension"),
    reject("aggregate-dtype", lambda: aggregate_posterior_log_prob(_Z.double(), torch.zeros(4, 2), torch.zeros(4, 2)),
           TypeError, "dtype"),
    reject("hole_fraction-ratio-0", lambda: hole_fraction(_Z, torch.zeros(4, 2), torch.zeros(4, 2), ratio=0.0),
           ValueError, "ratio"),
    reject("in_hole-ratio-str", lambda: in_hole(_Z, torch.zeros(4, 2), torch.zeros(4, 2), ratio="0.1"), TypeError,
           "ratio"),
    reject("aggregate-mu_q-inf",
           lambda: aggregate_posterior_log_prob(_Z, torch.full((4, 2), float("inf")), torch.zeros(4, 2)), ValueError,
           "mu_q"),
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
