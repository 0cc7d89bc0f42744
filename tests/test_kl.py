"""Tests of :mod:`vae_edu.kl`: each closed-form KL against ``torch.distributions.kl_divergence``,
against a seeded Monte Carlo estimate, at extreme values, and under ``gradcheck``."""

from __future__ import annotations

import math

import pytest
import torch
from bad_inputs import BAD, assert_rejected, reject
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from vae_edu.estimators import kl_monte_carlo, mc_mean
from vae_edu.kl import kl_normal_full, kl_normal_normal, kl_normal_std_normal

D = 3  # event dimension
F32, F64 = torch.float32, torch.float64


def _diag_normal(mu: torch.Tensor, log_var: torch.Tensor) -> Independent:
    return Independent(Normal(mu, torch.exp(0.5 * log_var)), 1)


def _params(shape, dtype, gen, scale: float = 1.0, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    mu = (shift + scale * torch.randn(shape, generator=gen, dtype=F64)).to(dtype)
    log_var = (torch.rand(shape, generator=gen, dtype=F64) * 2 - 1).to(dtype)  # in [-1, 1]
    return mu, log_var


def _spd(shape, dtype, gen) -> torch.Tensor:
    """Random symmetric positive-definite matrices, shape ``(*shape, D, D)``."""
    a = torch.randn((*shape, D, D), generator=gen, dtype=F64)
    return (a @ a.transpose(-1, -2) + 0.5 * torch.eye(D, dtype=F64)).to(dtype)


def _exact_bracket(x: float) -> float:
    """$e^x - 1 - x = \\sum_{k\\ge2} x^k/k!$ in float64 (exact to rounding for $|x| \\le 1$)."""
    return math.fsum(x**k / math.factorial(k) for k in range(2, 30))


# ------------------------------------------------------------------ vs torch.distributions
def test_kl_normal_std_normal_matches_torch(batch_shape, dtype, gen, tol) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, gen)
    got = kl_normal_std_normal(mu, log_var)
    assert got.shape == batch_shape and got.dtype == dtype
    zeros = torch.zeros_like(mu)
    torch.testing.assert_close(got, kl_divergence(_diag_normal(mu, log_var), _diag_normal(zeros, zeros)), **tol)
    torch.testing.assert_close(got, kl_normal_normal(mu, log_var, zeros, zeros), **tol)


def test_kl_normal_normal_matches_torch(batch_shape, dtype, gen, tol) -> None:
    mu_q, log_var_q = _params((*batch_shape, D), dtype, gen)
    mu_p, log_var_p = _params((*batch_shape, D), dtype, gen)
    got = kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p)
    assert got.shape == batch_shape and got.dtype == dtype
    expected = kl_divergence(_diag_normal(mu_q, log_var_q), _diag_normal(mu_p, log_var_p))
    torch.testing.assert_close(got, expected, **tol)
    # the textbook formula, term by term, in float64
    q_var, p_var = log_var_q.double().exp(), log_var_p.double().exp()
    textbook = 0.5 * (torch.log(p_var / q_var) + (q_var + (mu_q.double() - mu_p.double()) ** 2) / p_var - 1).sum(-1)
    torch.testing.assert_close(got.double(), textbook, rtol=1e-5 if dtype == F32 else 1e-12, atol=1e-6)


def test_kl_normal_normal_broadcasts(dtype, gen, tol) -> None:
    mu_q, log_var_q = _params((2, 4, D), dtype, gen)  # a batch of q's
    mu_p, log_var_p = _params((D,), dtype, gen)  # one p
    got = kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p)
    assert got.shape == (2, 4)
    expected = kl_normal_normal(mu_q, log_var_q, mu_p.expand(2, 4, D), log_var_p.expand(2, 4, D))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    got_std = kl_normal_std_normal(mu_q[0], log_var_q[0, 0])  # (4, D) against (D,)
    assert got_std.shape == (4,)
    torch.testing.assert_close(got_std, kl_normal_std_normal(mu_q[0], log_var_q[0, :1].expand(4, D)), **tol)


def _mvn(mu: torch.Tensor, cov: torch.Tensor) -> MultivariateNormal:
    return MultivariateNormal(mu, covariance_matrix=cov)


def test_kl_normal_full_matches_torch(batch_shape, dtype, gen) -> None:
    mu_q, _ = _params((*batch_shape, D), dtype, gen)
    mu_p, _ = _params((*batch_shape, D), dtype, gen)
    cov_q, cov_p = _spd(batch_shape, dtype, gen), _spd(batch_shape, dtype, gen)
    got = kl_normal_full(mu_q, cov_q, mu_p, cov_p)
    assert got.shape == batch_shape and got.dtype == dtype
    expected = kl_divergence(_mvn(mu_q.double(), cov_q.double()), _mvn(mu_p.double(), cov_p.double()))
    torch.testing.assert_close(got.double(), expected, rtol=1e-4 if dtype == F32 else 1e-10, atol=1e-5)


def test_kl_normal_full_broadcasts(dtype, gen) -> None:
    mu_q, _ = _params((4, D), dtype, gen)
    mu_p, _ = _params((D,), dtype, gen)
    cov_q, cov_p = _spd((2, 1), dtype, gen), _spd((), dtype, gen)  # (2, 1, D, D) and (D, D)
    got = kl_normal_full(mu_q, cov_q, mu_p, cov_p)
    assert got.shape == (2, 4)
    expected = kl_divergence(
        _mvn(mu_q.double(), cov_q.double()), _mvn(mu_p.double(), cov_p.double())
    )  # torch broadcasts the same way
    assert expected.shape == (2, 4)
    torch.testing.assert_close(got.double(), expected, rtol=1e-4 if dtype == F32 else 1e-10, atol=1e-5)


def test_kl_normal_full_equals_kl_normal_normal_on_diagonal_covariances(batch_shape, dtype, gen, tol) -> None:
    mu_q, log_var_q = _params((*batch_shape, D), dtype, gen)
    mu_p, log_var_p = _params((*batch_shape, D), dtype, gen)
    got = kl_normal_full(mu_q, torch.diag_embed(log_var_q.exp()), mu_p, torch.diag_embed(log_var_p.exp()))
    torch.testing.assert_close(got, kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), **tol)


# ------------------------------------------------------------------------- vs Monte Carlo
def test_kl_normal_std_normal_vs_monte_carlo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, gen, shift=2.0)  # KL well away from 0
    num = 1_000_000 // max(1, math.prod(batch_shape))
    estimate, stderr = kl_monte_carlo(mu, log_var, num_samples=num, generator=gen)
    assert estimate.dtype == dtype and estimate.shape == batch_shape
    assert_mc_agrees(kl_normal_std_normal(mu, log_var), estimate, stderr)


def test_kl_normal_normal_vs_monte_carlo(batch_shape, dtype, gen, assert_mc_agrees) -> None:
    mu_q, log_var_q = _params((*batch_shape, D), dtype, gen)
    mu_p, log_var_p = _params((*batch_shape, D), dtype, gen)
    mu_p = mu_p + 2.0  # KL well away from 0
    num = 1_000_000 // max(1, math.prod(batch_shape))
    estimate, stderr = kl_monte_carlo(mu_q, log_var_q, mu_p, log_var_p, num_samples=num, generator=gen)
    assert_mc_agrees(kl_normal_normal(mu_q, log_var_q, mu_p, log_var_p), estimate, stderr)


def test_kl_normal_full_vs_monte_carlo(dtype, gen, assert_mc_agrees) -> None:
    """$\\mathbb E_q[\\log q - \\log p]$ with $z = \\mu_q + L_q\\varepsilon$ and torch's log-densities."""
    mu_q = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    mu_p = torch.tensor([-1.0, 0.0, 2.0], dtype=F64)
    cov_q, cov_p = _spd((), F64, gen), _spd((), F64, gen)
    q, p = _mvn(mu_q, cov_q), _mvn(mu_p, cov_p)
    eps = torch.randn((1_000_000, D), generator=gen, dtype=F64)
    z = mu_q + eps @ torch.linalg.cholesky(cov_q).T  # (N, D)
    estimate, stderr = mc_mean(q.log_prob(z) - p.log_prob(z))
    closed = kl_normal_full(mu_q.to(dtype), cov_q.to(dtype), mu_p.to(dtype), cov_p.to(dtype))
    assert_mc_agrees(closed, estimate.to(dtype), stderr.to(dtype))


# ------------------------------------------------------------------------ extreme values
LOG_VARS = [-50.0, -20.0, -1e-8, 0.0, 1e-8, 20.0, 50.0]


def _big(dtype: torch.dtype) -> float:
    return 1e4 if dtype == F64 else 1e3


def test_kl_normal_std_normal_finite_and_nonnegative_at_extremes(dtype) -> None:
    big = _big(dtype)
    log_var = torch.tensor(LOG_VARS, dtype=dtype)[:, None].expand(-1, D)  # (7, D)
    for mu_value in (0.0, big, -big, 1e-3):
        mu = torch.full_like(log_var, mu_value)
        got = kl_normal_std_normal(mu, log_var)
        assert bool(torch.isfinite(got).all()) and bool((got >= 0).all()), got
        ref = 0.5 * D * torch.tensor([mu_value**2 + _exact_bracket(v) if abs(v) <= 1 else
                                      mu_value**2 + math.expm1(v) - v for v in LOG_VARS], dtype=F64)
        torch.testing.assert_close(got.double(), ref, rtol=1e-6 if dtype == F32 else 1e-14, atol=0)


@pytest.mark.parametrize("log_var_q", LOG_VARS)
@pytest.mark.parametrize("log_var_p", LOG_VARS)
def test_kl_normal_normal_finite_and_nonnegative_at_extremes(dtype, log_var_q: float, log_var_p: float) -> None:
    big = _big(dtype)
    full = lambda v: torch.full((2, D), v, dtype=dtype)  # noqa: E731
    mus = [(big, -big), (0.0, 0.0), (-big, -big)]
    got = torch.stack([kl_normal_normal(full(a), full(log_var_q), full(b), full(log_var_p)) for a, b in mus])
    r = log_var_q - log_var_p
    bracket = _exact_bracket(r) if abs(r) <= 1 else math.expm1(r) - r
    ref = torch.tensor([0.5 * D * (bracket + (a - b) ** 2 * math.exp(-log_var_p)) for a, b in mus], dtype=F64)
    ref = ref[:, None].expand(-1, 2)
    assert bool((got >= 0).all())
    if dtype == F32 and r == 100:
        # KL ~ e^100 / 2 ~ 1e43 is beyond float32's range (3.4e38): inf is the correctly rounded answer
        assert float(ref.min()) > torch.finfo(F32).max and bool(torch.isinf(got).all())
    else:
        assert bool(torch.isfinite(got).all())
        torch.testing.assert_close(got.double(), ref, rtol=1e-6 if dtype == F32 else 1e-13, atol=0)


@pytest.mark.parametrize("log_var", [1e-8, -1e-8, 3e-6, 1e-4, -2e-3, 0.05, -0.099, 0.1, 0.3, -1.0])
def test_kl_is_accurate_when_sigma_is_near_one(dtype, log_var: float) -> None:
    """Relative accuracy where the naive $\\sigma^2 - 1 - \\log\\sigma^2$ cancels catastrophically."""
    lv = torch.full((D,), log_var, dtype=dtype)
    x = float(lv[0])  # the value actually stored in `dtype`
    exact = 0.5 * D * _exact_bracket(x)
    zeros = torch.zeros(D, dtype=dtype)
    rtol = 2e-6 if dtype == F32 else 1e-13
    for got in (
        kl_normal_std_normal(zeros, lv),
        kl_normal_normal(zeros, lv, zeros, zeros),
        kl_normal_normal(zeros, zeros, zeros, -lv),  # log ratio = 0 - (-lv)
    ):
        assert got.item() > 0
        assert abs(got.item() - exact) <= rtol * exact, (got.item(), exact)


def test_kl_is_zero_at_q_equals_p(batch_shape, dtype, gen) -> None:
    mu, log_var = _params((*batch_shape, D), dtype, gen, scale=10.0)
    assert bool((kl_normal_normal(mu, log_var, mu, log_var) == 0).all())
    zeros = torch.zeros((*batch_shape, D), dtype=dtype)
    assert bool((kl_normal_std_normal(zeros, zeros) == 0).all())
    cov = _spd(batch_shape, dtype, gen)
    got = kl_normal_full(mu, cov, mu, cov)
    assert got.shape == batch_shape
    assert bool((got >= 0).all()) and bool((got <= (1e-6 if dtype == F32 else 1e-13)).all()), got


def test_kl_normal_full_nonnegative_near_q_equals_p(dtype, gen) -> None:
    mu, _ = _params((50, D), dtype, gen)
    cov = _spd((50,), dtype, gen)
    cov_near = cov * (1 + 1e-7)
    got = kl_normal_full(mu, cov, mu, cov_near)
    assert bool((got >= 0).all()) and bool((got < 1e-5).all())


def test_kl_normal_full_extreme_scales(dtype) -> None:
    """Covariances $10^{\\pm 8} I$ and large means: finite, correct, non-negative."""
    eye = torch.eye(D, dtype=dtype)
    big = _big(dtype)
    for s_q, s_p in ((1e-8, 1e8), (1e8, 1e-8), (1e-8, 1e-8)):
        mu_q, mu_p = torch.full((D,), big, dtype=dtype), torch.full((D,), -big, dtype=dtype)
        got = kl_normal_full(mu_q, s_q * eye, mu_p, s_p * eye)
        log_s = torch.full((D,), math.log(s_q), dtype=dtype), torch.full((D,), math.log(s_p), dtype=dtype)
        expected = kl_normal_normal(mu_q, log_s[0], mu_p, log_s[1])
        assert bool(torch.isfinite(got)) and got >= 0
        torch.testing.assert_close(got, expected, rtol=1e-4 if dtype == F32 else 1e-10, atol=0)


# ------------------------------------------------------------------------------ gradients
def test_kl_gradcheck() -> None:
    mu_q = torch.randn(4, D, dtype=F64, requires_grad=True)
    log_var_q = torch.randn(4, D, dtype=F64, requires_grad=True)
    mu_p = torch.randn(D, dtype=F64, requires_grad=True)
    log_var_p = torch.randn(4, D, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(kl_normal_std_normal, (mu_q, log_var_q))
    assert torch.autograd.gradcheck(kl_normal_normal, (mu_q, log_var_q, mu_p, log_var_p))
    # near sigma = 1, where the Taylor branch is used
    small = (1e-3 * torch.randn(4, D, dtype=F64)).requires_grad_()
    assert torch.autograd.gradcheck(kl_normal_std_normal, (mu_q, small))
    assert torch.autograd.gradcheck(kl_normal_normal, (mu_q, small, mu_p, torch.zeros(D, dtype=F64)))


def test_kl_gradient_values() -> None:
    """$\\partial\\mathrm{KL}/\\partial\\mu = \\mu$ and
    $\\partial\\mathrm{KL}/\\partial\\log\\sigma^2 = (\\sigma^2-1)/2$, also at $\\log\\sigma^2 = 10^{-9}$."""
    mu = torch.randn(4, D, dtype=F64, requires_grad=True)
    log_var = torch.tensor([[-1.0, 1e-9, 0.05]] * 4, dtype=F64, requires_grad=True)
    g_mu, g_lv = torch.autograd.grad(kl_normal_std_normal(mu, log_var).sum(), (mu, log_var))
    torch.testing.assert_close(g_mu, mu.detach())
    torch.testing.assert_close(g_lv, 0.5 * torch.expm1(log_var.detach()), rtol=1e-12, atol=1e-20)


def test_kl_normal_full_gradcheck() -> None:
    gen = torch.Generator().manual_seed(0)
    a_q = torch.randn(2, D, D, generator=gen, dtype=F64, requires_grad=True)
    a_p = torch.randn(D, D, generator=gen, dtype=F64, requires_grad=True)
    mu_q = torch.randn(2, D, generator=gen, dtype=F64, requires_grad=True)
    mu_p = torch.randn(D, generator=gen, dtype=F64, requires_grad=True)
    eye = torch.eye(D, dtype=F64)

    def kl(m_q, aq, m_p, ap):  # covariances A A^T + I stay symmetric positive definite
        return kl_normal_full(m_q, aq @ aq.transpose(-1, -2) + eye, m_p, ap @ ap.T + eye)

    assert torch.autograd.gradcheck(kl, (mu_q, a_q, mu_p, a_p))


# ---------------------------------------------------------------------------- the mean-field gap
from vae_edu.kl import mean_field_gap  # noqa: E402


def _random_precision(batch_shape: tuple[int, ...], dim: int, gen: torch.Generator) -> torch.Tensor:
    a = torch.randn(*batch_shape, dim, dim, generator=gen, dtype=torch.float64)
    return a @ a.transpose(-1, -2) + 0.5 * torch.eye(dim, dtype=torch.float64)  # (..., D, D)


@pytest.mark.parametrize("batch_shape", [(), (4,), (2, 3)])
def test_mean_field_gap_is_the_kl_of_the_best_diagonal_q(batch_shape) -> None:
    gen = torch.Generator().manual_seed(0)
    precision = _random_precision(batch_shape, 3, gen)
    mu = torch.randn(*batch_shape, 3, generator=gen, dtype=torch.float64)
    cov_p = torch.linalg.inv(precision)
    v_best = 1 / torch.diagonal(precision, dim1=-2, dim2=-1)  # (..., D)
    gap = mean_field_gap(precision)
    assert gap.shape == batch_shape and (gap > 0).all()
    torch.testing.assert_close(gap, kl_normal_full(mu, torch.diag_embed(v_best), mu, cov_p), rtol=1e-10, atol=1e-12)
    # any other diagonal q (moved mean, rescaled variances) is further from p
    for _ in range(20):
        shift = 0.1 * torch.randn(*batch_shape, 3, generator=gen, dtype=torch.float64)
        scale = torch.exp(0.2 * torch.randn(*batch_shape, 3, generator=gen, dtype=torch.float64))
        assert (kl_normal_full(mu + shift, torch.diag_embed(v_best * scale), mu, cov_p) > gap).all()


def test_mean_field_gap_is_zero_for_a_diagonal_precision_and_float32() -> None:
    assert mean_field_gap(torch.diag(torch.tensor([0.5, 2.0, 9.0]))).item() == pytest.approx(0.0, abs=1e-6)
    precision = torch.tensor([[2.0, 0.9], [0.9, 1.0]])
    # two dimensions: 1/2 (log L11 + log L22 - log det L) = -1/2 log(1 - rho^2)
    rho2 = 0.9**2 / (2.0 * 1.0)
    assert mean_field_gap(precision).item() == pytest.approx(-0.5 * math.log(1 - rho2), rel=1e-5)


def test_kl_mvn_is_the_deprecated_name_of_kl_normal_full() -> None:
    from vae_edu.kl import kl_mvn

    gen = torch.Generator().manual_seed(0)
    precision = _random_precision((2,), 3, gen)
    mu_q, mu_p = torch.randn(2, 2, 3, generator=gen, dtype=torch.float64)
    cov_q, cov_p = precision, torch.linalg.inv(precision)
    with pytest.warns(DeprecationWarning, match="kl_normal_full"):
        old = kl_mvn(mu_q, cov_q, mu_p, cov_p)
    assert torch.equal(old, kl_normal_full(mu_q, cov_q, mu_p, cov_p))
    assert "Deprecated" in kl_mvn.__doc__ and "kl_normal_full" in kl_mvn.__doc__


# ------------------------------------------------------------------------------ bad inputs
def _good(shape=(2, D), dtype=F32) -> torch.Tensor:
    return torch.zeros(shape, dtype=dtype)


DIAG_FUNCTIONS = {
    "kl_normal_std_normal": (kl_normal_std_normal, ("mu", "log_var")),
    "kl_normal_normal": (kl_normal_normal, ("mu_q", "log_var_q", "mu_p", "log_var_p")),
}


DIAG_ARGS = [(f, a) for f, (_, args) in DIAG_FUNCTIONS.items() for a in args]


def _mvn_args(dtype=F32) -> dict[str, torch.Tensor]:
    eye = torch.eye(D, dtype=dtype)
    return {"mu_q": _good(dtype=dtype), "cov_q": eye.expand(2, D, D), "mu_p": _good(dtype=dtype), "cov_p": eye}


def _non_symmetric() -> torch.Tensor:
    c = torch.eye(D)
    c[0, 1] = 0.5
    return c


MVN_BAD = [
    ("mu_q", lambda: torch.tensor([float("nan")] * D), ValueError),
    ("mu_p", lambda: [0.0] * D, TypeError),
    ("mu_p", lambda: torch.zeros(D, dtype=torch.int32), TypeError),
    ("mu_p", lambda: torch.zeros(4), ValueError),  # event dimension
    ("mu_p", lambda: torch.zeros(D, dtype=F64), TypeError),
    ("cov_q", lambda: torch.full((D, D), float("inf")), ValueError),
    ("cov_q", lambda: torch.eye(D, dtype=torch.int64), TypeError),
    ("cov_q", lambda: torch.ones(D), ValueError),  # not a matrix
    ("cov_q", lambda: torch.eye(D)[:, :2], ValueError),  # not square
    ("cov_p", lambda: torch.eye(D + 1), ValueError),  # wrong D
    ("cov_p", lambda: torch.eye(D, dtype=F64), TypeError),
    ("cov_p", _non_symmetric, ValueError),
    ("cov_q", lambda: -torch.eye(D), ValueError),  # symmetric, not positive definite
    ("cov_p", lambda: torch.ones(D, D), ValueError),  # positive semi-definite only
    ("cov_p", lambda: torch.eye(D).expand(5, D, D), ValueError),  # batch 5 vs 2
]


def _diag(fname, arg, make):
    func, args = DIAG_FUNCTIONS[fname]
    return func(**({a: _good() for a in args} | {arg: make()}))


BAD_INPUTS = [
    # the diagonal Gaussian KLs: every tensor argument
    *[reject(f"{fname}-{arg}-{kind}", lambda fname=fname, arg=arg, make=make: _diag(fname, arg, make), error, arg)
      for fname, arg in DIAG_ARGS for kind, make, error in BAD],
    # kl_normal_full
    *[reject(f"kl_normal_full-{arg}-{i}", lambda arg=arg, make=make: kl_normal_full(**(_mvn_args() | {arg: make()})),
             error, f"{arg} must be symmetric" if make is _non_symmetric else arg)
      for i, (arg, make, error) in enumerate(MVN_BAD)],
    reject("kl_normal_full-cov_p-singular",
           lambda: kl_normal_full(**(_mvn_args() | {"cov_p": torch.diag(torch.tensor([1.0, 0.0, 1.0]))})), ValueError,
           "cov_p must be positive definite"),
    # mean_field_gap
    *[reject(f"mean_field_gap-{i}", lambda precision=precision: mean_field_gap(precision), error, "precision")
      for i, (precision, error) in enumerate([
        ([[1.0, 0.0], [0.0, 1.0]], TypeError),
        (torch.ones(3), ValueError),
        (torch.ones(2, 3), ValueError),
        (torch.tensor([[1.0, 0.5], [0.0, 1.0]]), ValueError),
        (torch.tensor([[1.0, 2.0], [2.0, 1.0]]), ValueError),
        (torch.eye(2, dtype=torch.int64), TypeError),
      ])],
]


@pytest.mark.parametrize(("call", "error", "pattern"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(call, error, pattern) -> None:
    assert_rejected(call, error, pattern)
