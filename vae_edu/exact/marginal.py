r"""The marginal likelihood $p(x) = \int p(z)\,p(x|z)\,dz$: brute force, sampling, and exactly how noisy sampling is.

Two ways to get at $p(x)$ when the integral has no closed form:

* quadrature on a grid of $z$ (:func:`~vae_edu.exact.grid.log_marginal_grid`, exact up to the grid,
  but $G^d$ nodes in $d$ latent dimensions);
* importance sampling, $\hat p(x) = \frac1K\sum_k w_k$ with $w_k = p(x, z_k)/q(z_k|x)$ and
  $z_k\sim q$ (with $q = p(z)$ this is "naive" Monte Carlo, $w_k = p(x|z_k)$), here;

and, for the linear-Gaussian model, the *exact* moments $\mathbb E_q[w^n]$ of the weights, which
give the exact variance of $\hat p(x)$, $\operatorname{Var}[\hat p]/p(x)^2 = \rho/K$ with
$\rho = \mathbb E_q[w^2]/p(x)^2 - 1$, and so the number of samples any target accuracy needs.

Everything is in log space: the weights of a 100-dimensional model differ by hundreds of nats.
Book: *Latent-variable models and the intractable marginal*.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from ..checks import (
    check_broadcast,
    check_callable,
    check_event_shapes,
    check_int,
    check_positive_float,
    check_tensor,
    cholesky_checked,
)
from ..distributions.gaussian import LOG_2PI, log_normal_full, log_standard_normal
from .linear_gaussian import LinearGaussian

__all__ = [
    "log_importance_weights_gaussian",
    "log_importance_weights",
    "log_weight_moment_prior",
    "log_weight_moment",
    "log_relative_variance",
    "num_samples_for_relative_error",
    "LogLikelihood",
]

#: A decoder's log-likelihood $\log p(x|z)$ as a function ``(x, z) -> Tensor`` whose batch shapes
#: broadcast, like :meth:`LinearGaussian.log_p_x_given_z`: ``x`` of shape ``(..., x_dim)`` against
#: ``z`` of shape ``(K, ..., z_dim)`` gives shape ``(K, ...)``.
LogLikelihood = Callable[[Tensor, Tensor], Tensor]


def _check_log(name: str, value: object, *, posinf: bool = False, neginf: bool = False) -> Tensor:
    """:func:`check_tensor` for a log-quantity that may legitimately be ``+inf`` or ``-inf``."""
    if isinstance(value, Tensor) and value.is_floating_point():
        allowed = torch.zeros_like(value, dtype=torch.bool)
        if posinf:
            allowed |= torch.isposinf(value)
        if neginf:
            allowed |= torch.isneginf(value)
        check_tensor(name, torch.where(allowed, torch.zeros_like(value), value))  # NaN and other infs fail
        return value
    return check_tensor(name, value)


def _check_model(model: object) -> LinearGaussian:
    if not isinstance(model, LinearGaussian):
        raise TypeError(f"model must be a LinearGaussian, got {type(model).__name__}")
    return model


def _check_gaussian_q(z_dim: int, mu_q: Tensor, cov_q: Tensor, dtype: torch.dtype) -> Tensor:
    """Validate $q = \\mathcal N(\\mu_q, \\Sigma_q)$ and return the Cholesky factor of ``cov_q``."""
    check_tensor("mu_q", mu_q, min_dim=1)
    check_tensor("cov_q", cov_q, min_dim=2)
    if mu_q.shape[-1] != z_dim:
        raise ValueError(f"mu_q must have last dimension z_dim={z_dim}, got shape {tuple(mu_q.shape)}")
    if cov_q.shape[-2:] != (z_dim, z_dim):
        raise ValueError(f"cov_q must have shape (..., {z_dim}, {z_dim}), got {tuple(cov_q.shape)}")
    for name, t in (("mu_q", mu_q), ("cov_q", cov_q)):
        if t.dtype != dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but x has dtype {dtype}")
    return cholesky_checked("cov_q", cov_q)


def log_importance_weights_gaussian(
    log_p_x_given_z: LogLikelihood,
    x: Tensor,
    mu_q: Tensor,
    cov_q: Tensor,
    *,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Log importance weights $\log w_k = \log p(x|z_k) + \log p(z_k) - \log q(z_k|x)$ for a Gaussian $q(z|x)$.

    $$p(x) = \mathbb E_{q(z|x)}\Big[\frac{p(x|z)\,p(z)}{q(z|x)}\Big]
      \approx \frac1K\sum_{k=1}^K w_k,\qquad q(z|x) = \mathcal N(\mu_q, \Sigma_q),$$

    with $p(z) = \mathcal N(0, I)$. Feed the result to
    :func:`vae_edu.estimators.importance_log_mean` for $\log\hat p(x)$ and its standard error.
    With $q = p(z)$ ($\mu_q = 0$, $\Sigma_q = I$) the weights are $p(x|z_k)$: naive Monte Carlo.
    With $q = p(z|x)$ every weight equals $p(x)$: a zero-variance estimator.

    Args:
        log_p_x_given_z: the decoder's $\log p(x|z)$ (see :data:`LogLikelihood`).
        x: data, shape ``(..., x_dim)``.
        mu_q: proposal mean, shape ``(..., z_dim)``.
        cov_q: proposal covariance, symmetric positive definite, shape ``(..., z_dim, z_dim)``.
        num_samples: $K \ge 1$.
        generator: optional :class:`torch.Generator`.

    Returns:
        $\log w$, shape ``(K, ...)`` (the broadcast batch shape of ``x``, ``mu_q`` and ``cov_q``).

    Book: *Latent-variable models and the intractable marginal*.
    """
    check_callable("log_p_x_given_z", log_p_x_given_z, "(x, z) -> log p(x|z)")
    check_tensor("x", x, min_dim=1)
    check_tensor("cov_q", cov_q, min_dim=2)
    z_dim = cov_q.shape[-1]
    chol_q = _check_gaussian_q(z_dim, mu_q, cov_q, x.dtype)
    check_int("num_samples", num_samples, 1)
    batch = check_broadcast({"x": x.shape[:-1], "mu_q": mu_q.shape[:-1], "cov_q": cov_q.shape[:-2]})
    eps = torch.randn((num_samples, *batch, z_dim), dtype=x.dtype, device=x.device, generator=generator)
    z = mu_q + (chol_q @ eps.unsqueeze(-1)).squeeze(-1)  # z = mu_q + L eps, (K, ..., d)
    log_q = log_normal_full(z, mu_q, cov_q)  # (K, ...)
    return log_p_x_given_z(x, z) + log_standard_normal(z) - log_q


def log_importance_weights(log_p_x_given_z: LogLikelihood, x: Tensor, mu_q: Tensor, cov_q: Tensor, **options: Any) -> Tensor:
    """Deprecated: the old name of :func:`log_importance_weights_gaussian`.

    ``VAE.log_importance_weights`` is the model's method on data; this function takes the
    Gaussian proposal explicitly. Returns :func:`log_importance_weights_gaussian` of the same
    arguments (``num_samples``, ``generator`` by keyword), with a ``DeprecationWarning``; it will be
    removed in a later release.

    Book: *Latent-variable models and the intractable marginal*.
    """
    warnings.warn("vae_edu.exact.marginal.log_importance_weights is deprecated: call log_importance_weights_gaussian "
                  "(same arguments)", DeprecationWarning, stacklevel=2)
    return log_importance_weights_gaussian(log_p_x_given_z, x, mu_q, cov_q, **options)


def log_weight_moment_prior(model: LinearGaussian, x: Tensor, order: int = 2) -> Tensor:
    r"""Exact $\log\mathbb E_{p(z)}\big[p(x|z)^n\big]$ for the linear-Gaussian model: the moments of naive Monte Carlo.

    A power of a Gaussian density is a Gaussian with $1/n$ times the variance, times a constant:
    $\mathcal N(x; m, \sigma^2 I)^n = (2\pi\sigma^2)^{-(n-1)D/2}\,n^{-D/2}\,\mathcal N(x; m, \tfrac{\sigma^2}{n} I)$.
    With $m = Wz + b$, averaging over $z\sim p(z)$ turns the last factor into the marginal
    $p_{\sigma^2/n}(x)$ of the same model with the noise variance divided by $n$:

    $$\mathbb E_{p(z)}\big[p(x|z)^n\big] = (2\pi\sigma^2)^{-(n-1)D/2}\,n^{-D/2}\,p_{\sigma^2/n}(x).$$

    For $n = 1$ it is $p(x)$; for $n = 2$ it gives the variance of
    $\hat p(x) = \frac1K\sum_k p(x|z_k)$. Computed in float64.

    Args:
        model: the linear-Gaussian model.
        x: data, shape ``(..., x_dim)``, in the model's dtype.
        order: $n \ge 1$.

    Returns:
        shape ``(...)``, in the model's dtype.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_model(model)
    check_tensor("x", x, min_dim=1)
    check_event_shapes(x=x, b=model.b)
    check_int("order", order, 1)
    sigma2 = model.sigma2.double()
    sharper = LinearGaussian(model.W.double(), model.b.double(), sigma2 / order)  # p_{sigma^2/n}
    x_dim = model.x_dim
    log_const = -0.5 * (order - 1) * x_dim * (LOG_2PI + torch.log(sigma2)) - 0.5 * x_dim * math.log(order)
    return (log_const + sharper.log_marginal(x.double())).to(model.dtype)


def log_weight_moment(model: LinearGaussian, x: Tensor, mu_q: Tensor, cov_q: Tensor, order: int = 2) -> Tensor:
    r"""Exact $\log\mathbb E_{q}[w^n]$, $w = p(x,z)/q(z|x)$, for the linear-Gaussian model and a Gaussian $q$.

    Since $p(x, z) = p(x)\,p(z|x)$, $\ \mathbb E_q[w^n] = p(x)^n\int p(z|x)^n\,q(z)^{1-n}\,dz$, a
    Gaussian integral (the exponential of $(n-1)$ times the Rényi divergence of order $n$). With
    $p(z|x) = \mathcal N(\mu, \Sigma)$, $q = \mathcal N(\mu_q, \Sigma_q)$, $\Delta = \mu - \mu_q$ and
    $\Sigma_n = n\Sigma_q - (n-1)\Sigma$:

    $$\log\mathbb E_q[w^n] = n\log p(x) + \tfrac12\big[(1-n)\log\det\Sigma + n\log\det\Sigma_q
      - \log\det\Sigma_n\big] + \tfrac{n(n-1)}{2}\,\Delta^\top\Sigma_n^{-1}\Delta.$$

    The integral is finite only if $\Sigma_n$ is positive definite; otherwise (a proposal too
    narrow, e.g. $\Sigma_q \preceq \Sigma/2$ for $n = 2$) the moment is infinite and ``inf`` is
    returned. At $q = p(z|x)$ it is $n\log p(x)$: every weight equals $p(x)$.

    Args:
        model: the linear-Gaussian model.
        x: data, shape ``(..., x_dim)``, in the model's dtype.
        mu_q: proposal mean, shape ``(..., z_dim)``.
        cov_q: proposal covariance, symmetric positive definite, shape ``(..., z_dim, z_dim)``.
        order: $n \ge 1$.

    Returns:
        shape: the broadcast batch shape, in the model's dtype (``inf`` where the moment is infinite).

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_model(model)
    check_tensor("x", x, min_dim=1)
    check_event_shapes(x=x, b=model.b)
    _check_gaussian_q(model.z_dim, mu_q, cov_q, model.dtype)
    check_int("order", order, 1)
    batch = check_broadcast({"x": x.shape[:-1], "mu_q": mu_q.shape[:-1], "cov_q": cov_q.shape[:-2]})
    d = model.z_dim
    model64 = LinearGaussian(model.W.double(), model.b.double(), model.sigma2.double())
    mu_post, cov_post = model64.posterior(x.double())  # (..., d), (..., d, d)
    delta = (mu_post - mu_q.double()).expand(*batch, d).unsqueeze(-1)  # Delta, (..., d, 1)
    cov_n = (order * cov_q.double() - (order - 1) * cov_post).expand(*batch, d, d)  # Sigma_n, (..., d, d)
    chol_n, info = torch.linalg.cholesky_ex(cov_n)
    finite = info == 0  # Sigma_n positive definite, (...)
    chol_n = torch.where(finite[..., None, None], chol_n, torch.eye(d, dtype=torch.float64))  # placeholder if not

    def log_det(chol: Tensor) -> Tensor:
        return 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)

    quad = torch.linalg.solve_triangular(chol_n, delta, upper=False).pow(2).sum((-2, -1))  # Delta^T Sigma_n^-1 Delta
    log_dets = (1 - order) * log_det(torch.linalg.cholesky(cov_post)) + order * log_det(
        torch.linalg.cholesky(cov_q.double())
    )
    out = order * model64.log_marginal(x.double()) + 0.5 * (log_dets - log_det(chol_n)) + 0.5 * order * (order - 1) * quad
    return torch.where(finite, out, torch.full_like(out, math.inf)).to(model.dtype)


def log_relative_variance(log_second_moment: Tensor, log_p_x: Tensor) -> Tensor:
    r"""$\log\rho$, the log relative variance of one importance weight, $\rho = \operatorname{Var}[w]/p(x)^2 = \mathbb E[w^2]/p(x)^2 - 1$.

    The estimate $\hat p(x) = \frac1K\sum_k w_k$ then has relative variance
    $\operatorname{Var}[\hat p]/p(x)^2 = \rho/K$, and, by the delta method, $\log\hat p(x)$ has
    standard deviation $\approx\sqrt{\rho/K}$. With $a = \log\mathbb E[w^2] - 2\log p(x) \ge 0$
    (Cauchy–Schwarz), $\log\rho = a + \log\big(1 - e^{-a}\big)$, evaluated with ``expm1`` so that it
    stays exact both for $a \approx 0$ and for $a$ in the thousands (where $\rho$ itself
    overflows). It is $-\infty$ when $a = 0$ (a zero-variance proposal) and $+\infty$ when the
    second moment is.

    Args:
        log_second_moment: $\log\mathbb E[w^2]$, e.g. from :func:`log_weight_moment`; may be ``+inf``.
        log_p_x: $\log p(x)$; batch shapes broadcast with ``log_second_moment``.

    Returns:
        $\log\rho$, the broadcast shape.

    Raises:
        ValueError: if $a$ is clearly negative (the arguments cannot be a second moment and its mean).

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_log("log_second_moment", log_second_moment, posinf=True)
    check_tensor("log_p_x", log_p_x)
    if log_p_x.dtype != log_second_moment.dtype:
        raise TypeError(f"log_p_x has dtype {log_p_x.dtype} but log_second_moment has dtype {log_second_moment.dtype}")
    check_broadcast({"log_second_moment": log_second_moment.shape, "log_p_x": log_p_x.shape})
    a = log_second_moment - 2.0 * log_p_x  # log E[w^2] / p(x)^2, >= 0
    round_off = 100 * torch.finfo(a.dtype).eps * (1.0 + 2.0 * log_p_x.abs())
    if bool((a < -round_off).any()):
        raise ValueError(
            f"log_second_moment - 2 * log_p_x must be >= 0 (E[w^2] >= E[w]^2), got {a.min().item():.3g}: "
            "are the arguments a second moment and its log p(x)?"
        )
    a = a.clamp_min(0.0)
    return a + torch.log(-torch.expm1(-a))


def num_samples_for_relative_error(log_relative_variance: Tensor, rel_error: float) -> Tensor:
    r"""The number of samples $K = \rho/r^2$ for which $\hat p(x)$ has relative standard error $r$.

    $$\frac{\operatorname{sd}[\hat p(x)]}{p(x)} = \sqrt{\frac{\rho}{K}} = r
      \iff K = \frac{\rho}{r^2}$$

    ($r$ is also, to first order, the standard deviation of $\log\hat p(x)$ in nats.)
    Computed as $\exp(\log\rho - 2\log r)$; round it up for a sample count.

    Args:
        log_relative_variance: $\log\rho$, from :func:`log_relative_variance`.
        rel_error: the target $r > 0$.

    Returns:
        $K$, same shape and dtype (``inf`` beyond the dtype's range, 0 for a zero-variance proposal).

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_log("log_relative_variance", log_relative_variance, posinf=True, neginf=True)
    return torch.exp(log_relative_variance - 2.0 * math.log(check_positive_float("rel_error", rel_error)))
