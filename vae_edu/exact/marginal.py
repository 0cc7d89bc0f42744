r"""The marginal likelihood $p(x) = \int p(z)\,p(x|z)\,dz$: brute force, sampling, and exactly how noisy sampling is.

Three ways to get at $p(x)$ when the integral has no closed form:

* quadrature on a grid of $z$ (exact up to the grid, but $G^d$ nodes in $d$ latent dimensions);
* importance sampling, $\hat p(x) = \frac1K\sum_k w_k$ with $w_k = p(x, z_k)/q(z_k|x)$ and
  $z_k\sim q$ (with $q = p(z)$ this is "naive" Monte Carlo, $w_k = p(x|z_k)$);
* and, for the linear-Gaussian model, the *exact* moments $\mathbb E_q[w^n]$ of the weights, which
  give the exact variance of $\hat p(x)$, $\operatorname{Var}[\hat p]/p(x)^2 = \rho/K$ with
  $\rho = \mathbb E_q[w^2]/p(x)^2 - 1$, and so the number of samples any target accuracy needs.

The same grid gives, in one latent dimension, the exact posterior $p(z|x)$ of any decoder
(:func:`log_posterior_grid`), Gaussian or not, and its best Gaussian approximations under
$\mathrm{KL}(q\,\|\,p)$ and $\mathrm{KL}(p\,\|\,q)$ (:func:`fit_normal_grid`).

Everything is in log space: the weights of a 100-dimensional model differ by hundreds of nats.
Book: *Latent-variable models and the intractable marginal*.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
from torch import Tensor

from ..distributions.gaussian import LOG_2PI, log_normal_full, log_standard_normal
from .linear_gaussian import LinearGaussian
from ..checks import check_event_shapes, check_int, check_positive_float, check_tensor, cholesky_checked

__all__ = [
    "log_marginal_grid",
    "log_importance_weights_gaussian",
    "log_importance_weights",
    "log_weight_moment_prior",
    "log_weight_moment",
    "log_relative_variance",
    "num_samples_for_relative_error",
    "log_posterior_grid",
    "kl_normal_grid",
    "kl_grid_normal",
    "fit_normal_grid",
    "LogLikelihood",
    "MAX_GRID_NODES",
]

#: A decoder's log-likelihood $\log p(x|z)$ as a function ``(x, z) -> Tensor`` whose batch shapes
#: broadcast, like :meth:`LinearGaussian.log_p_x_given_z`: ``x`` of shape ``(..., x_dim)`` against
#: ``z`` of shape ``(K, ..., z_dim)`` gives shape ``(K, ...)``.
LogLikelihood = Callable[[Tensor, Tensor], Tensor]

#: The largest grid :func:`log_marginal_grid` builds (``num_points ** z_dim`` nodes).
MAX_GRID_NODES = 2_000_000


def _check_callable(log_p_x_given_z: object) -> None:
    if not callable(log_p_x_given_z):
        raise TypeError(f"log_p_x_given_z must be callable (x, z) -> log p(x|z), got {type(log_p_x_given_z).__name__}")


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


def _batch_shape(name_shapes: dict[str, torch.Size]) -> torch.Size:
    try:
        return torch.broadcast_shapes(*name_shapes.values())
    except RuntimeError:
        shapes = ", ".join(f"{n}{tuple(s)}" for n, s in name_shapes.items())
        raise ValueError(f"batch shapes do not broadcast: {shapes}") from None


def _log_joint_grid(
    log_p_x_given_z: LogLikelihood, x: Tensor, z_dim: int, num_points: int, limit: float
) -> tuple[Tensor, Tensor, float]:
    r"""The grid's nodes ``(G^d, d)``, $\log p(x|z_g) + \log p(z_g)$ of shape ``(G^d, ...)``, and $\log h$."""
    axis = torch.linspace(-limit, limit, num_points, dtype=x.dtype, device=x.device)  # (G,)
    nodes = torch.cartesian_prod(*[axis] * z_dim).reshape(-1, z_dim)  # (G^d, d)
    batch = x.shape[:-1]
    z = nodes.reshape(-1, *[1] * len(batch), z_dim)  # (G^d, 1, ..., 1, d)
    log_lik = log_p_x_given_z(x, z)  # (G^d, ...)
    if log_lik.shape != (nodes.shape[0], *batch):
        raise ValueError(
            f"log_p_x_given_z(x, z) must return shape {(nodes.shape[0], *batch)} for x{tuple(x.shape)} "
            f"and z{tuple(z.shape)}, got {tuple(log_lik.shape)}"
        )
    log_prior = log_standard_normal(z)  # (G^d, 1, ..., 1)
    return nodes, log_lik + log_prior, math.log(2.0 * limit / (num_points - 1))


def log_marginal_grid(
    log_p_x_given_z: LogLikelihood, x: Tensor, z_dim: int, *, num_points: int = 201, limit: float = 8.0
) -> Tensor:
    r"""$\log p(x)$ by quadrature: a Riemann sum over a regular grid of $z$ in $[-L, L]^d$.

    $$p(x) = \int p(z)\,p(x|z)\,dz \approx h^d \sum_{g} p(z_g)\,p(x|z_g),\qquad
      h = \frac{2L}{G-1},$$

    computed as a ``logsumexp``. For a smooth integrand that has decayed at $\pm L$ (the prior
    $\mathcal N(0, I)$ is below $e^{-32}$ at $L = 8$) the error falls faster than any power of $h$,
    so a fine grid is exact to round-off. The catch is the size of the grid, $G^d$ nodes:
    fine in one or two latent dimensions, impossible in twenty.

    Args:
        log_p_x_given_z: the decoder's $\log p(x|z)$ (see :data:`LogLikelihood`).
        x: data, shape ``(..., x_dim)``.
        z_dim: latent dimension $d \ge 1$.
        num_points: grid points per axis, $G \ge 2$; at most :data:`MAX_GRID_NODES` nodes in all.
        limit: half-width $L > 0$ of the grid.

    Returns:
        $\log p(x)$, shape ``(...)``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_callable(log_p_x_given_z)
    check_tensor("x", x, min_dim=1)
    check_int("z_dim", z_dim, 1)
    check_int("num_points", num_points, 2)
    check_positive_float("limit", limit)
    if num_points**z_dim > MAX_GRID_NODES:
        raise ValueError(
            f"a grid of num_points={num_points} per axis in z_dim={z_dim} dimensions has "
            f"{num_points}**{z_dim} = {float(num_points) ** z_dim:.3g} nodes (more than {MAX_GRID_NODES}): "
            f"quadrature cost grows exponentially with z_dim"
        )
    _, log_joint, log_h = _log_joint_grid(log_p_x_given_z, x, z_dim, num_points, limit)
    return torch.logsumexp(log_joint, dim=0) + z_dim * log_h


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
    _check_callable(log_p_x_given_z)
    check_tensor("x", x, min_dim=1)
    check_tensor("cov_q", cov_q, min_dim=2)
    z_dim = cov_q.shape[-1]
    chol_q = _check_gaussian_q(z_dim, mu_q, cov_q, x.dtype)
    check_int("num_samples", num_samples, 1)
    batch = _batch_shape({"x": x.shape[:-1], "mu_q": mu_q.shape[:-1], "cov_q": cov_q.shape[:-2]})
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
    batch = _batch_shape({"x": x.shape[:-1], "mu_q": mu_q.shape[:-1], "cov_q": cov_q.shape[:-2]})
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
    _batch_shape({"log_second_moment": log_second_moment.shape, "log_p_x": log_p_x.shape})
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


def log_posterior_grid(
    log_p_x_given_z: LogLikelihood, x: Tensor, *, num_points: int = 2001, limit: float = 8.0
) -> tuple[Tensor, Tensor]:
    r"""The exact posterior $p(z|x)$ of a model with one latent dimension, on a regular grid of $z$.

    $$\log p(z_g|x) = \log p(x|z_g) + \log p(z_g) - \log p(x),\qquad z_g \in [-L, L],$$

    with $\log p(x)$ the Riemann sum of :func:`log_marginal_grid` on the same grid, so that
    $h\sum_g p(z_g|x) = 1$ exactly. Whatever the decoder, this is the true posterior, Gaussian or
    not, as long as the integrand has decayed at $\pm L$ (check ``log_post`` at both ends).

    Args:
        log_p_x_given_z: the decoder's $\log p(x|z)$ for $z$ of shape ``(G, ..., 1)``
            (see :data:`LogLikelihood`).
        x: data, shape ``(..., x_dim)``.
        num_points: grid points $G \ge 3$.
        limit: half-width $L > 0$ of the grid.

    Returns:
        ``(z, log_post)``: the nodes, shape ``(G,)``, and $\log p(z_g|x)$, shape ``(G, ...)``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_callable(log_p_x_given_z)
    check_tensor("x", x, min_dim=1)
    check_int("num_points", num_points, 3)
    check_positive_float("limit", limit)
    nodes, log_joint, log_h = _log_joint_grid(log_p_x_given_z, x, 1, num_points, limit)
    log_p_x = torch.logsumexp(log_joint, dim=0) + log_h  # (...)
    return nodes[:, 0], log_joint - log_p_x  # (G,), (G, ...)


def _check_grid_density(z: Tensor, log_p: Tensor) -> float:
    """Validate a 1-D grid ``z`` of shape ``(G,)`` and ``log_p`` of shape ``(G,)``; return the spacing."""
    check_tensor("z", z, min_dim=1)
    check_tensor("log_p", log_p, min_dim=1)
    if z.dim() != 1 or z.shape[0] < 3:
        raise ValueError(f"z must be a regular grid of shape (G,) with G >= 3, got shape {tuple(z.shape)}")
    if log_p.shape != z.shape:
        raise ValueError(f"log_p must have the shape of z, {tuple(z.shape)}, got {tuple(log_p.shape)}")
    if log_p.dtype != z.dtype:
        raise TypeError(f"log_p has dtype {log_p.dtype} but z has dtype {z.dtype}")
    step = z[1:] - z[:-1]
    if not bool((step > 0).all()) or float((step - step.mean()).abs().max()) > 1e-3 * float(step.mean()):
        raise ValueError("z must be increasing and evenly spaced")
    return float(z[1] - z[0])


def _log_normal_at(z: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
    r"""$\log\mathcal N(z_g; \mu_q, \sigma_q^2)$ for every node: shape ``(G, ...)``."""
    z = z.reshape(-1, *[1] * mu_q.dim())  # (G, 1, ..., 1)
    return -0.5 * (LOG_2PI + log_var_q + (z - mu_q) ** 2 * torch.exp(-log_var_q))


def _check_q_params(mu_q: Tensor, log_var_q: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
    check_tensor("mu_q", mu_q)
    check_tensor("log_var_q", log_var_q)
    for name, t in (("mu_q", mu_q), ("log_var_q", log_var_q)):
        if t.dtype != z.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but z has dtype {z.dtype}")
    shape = _batch_shape({"mu_q": mu_q.shape, "log_var_q": log_var_q.shape})
    return mu_q.expand(shape), log_var_q.expand(shape)


def kl_normal_grid(mu_q: Tensor, log_var_q: Tensor, z: Tensor, log_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}(q\,\|\,p)$ from a Gaussian $q = \mathcal N(\mu_q, \sigma_q^2)$ to a 1-D density $p$ on a grid.

    $$\mathrm{KL}(q\,\|\,p) = -\tfrac12\log\big(2\pi e\,\sigma_q^2\big) - h\sum_g q(z_g)\log p(z_g):$$

    the entropy of $q$ in closed form, the cross-entropy by quadrature. It is large wherever $q$
    puts mass where $p$ has none, so the $q$ that minimises it stays inside $p$ (mode-seeking).
    $q$ must be wider than a few grid steps and have decayed at the grid's ends.

    Args:
        mu_q: mean of $q$, shape ``(...)``.
        log_var_q: $\log\sigma_q^2$, a shape that broadcasts with ``mu_q``.
        z: the grid, shape ``(G,)``, evenly spaced.
        log_p: $\log p(z_g)$, a normalised density on the grid, shape ``(G,)``.

    Returns:
        shape: the broadcast shape of ``mu_q`` and ``log_var_q``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    step = _check_grid_density(z, log_p)
    mu_q, log_var_q = _check_q_params(mu_q, log_var_q, z)
    q = torch.exp(_log_normal_at(z, mu_q, log_var_q))  # (G, ...)
    log_p = log_p.reshape(-1, *[1] * mu_q.dim())  # (G, 1, ..., 1)
    cross_entropy = -step * (q * log_p).sum(0)  # (...)
    return cross_entropy - 0.5 * (LOG_2PI + 1.0 + log_var_q)


def kl_grid_normal(z: Tensor, log_p: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
    r"""$\mathrm{KL}(p\,\|\,q)$ from a 1-D density $p$ on a grid to a Gaussian $q = \mathcal N(\mu_q, \sigma_q^2)$.

    $$\mathrm{KL}(p\,\|\,q) = h\sum_g p(z_g)\big[\log p(z_g) - \log q(z_g)\big],$$

    by quadrature. It is large wherever $p$ has mass that $q$ misses, so the $q$ that minimises
    it covers all of $p$: it is the Gaussian with $p$'s mean and variance (moment matching).

    Args:
        z: the grid, shape ``(G,)``, evenly spaced.
        log_p: $\log p(z_g)$, a normalised density on the grid, shape ``(G,)``.
        mu_q: mean of $q$, shape ``(...)``.
        log_var_q: $\log\sigma_q^2$, a shape that broadcasts with ``mu_q``.

    Returns:
        shape: the broadcast shape of ``mu_q`` and ``log_var_q``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    step = _check_grid_density(z, log_p)
    mu_q, log_var_q = _check_q_params(mu_q, log_var_q, z)
    log_q = _log_normal_at(z, mu_q, log_var_q)  # (G, ...)
    log_p = log_p.reshape(-1, *[1] * mu_q.dim())  # (G, 1, ..., 1)
    return step * (torch.exp(log_p) * (log_p - log_q)).sum(0)


def fit_normal_grid(z: Tensor, log_p: Tensor, *, reverse: bool) -> tuple[Tensor, Tensor]:
    r"""The best Gaussian $q = \mathcal N(\mu_q, \sigma_q^2)$ for a 1-D density $p$ on a grid, under either KL.

    $$\text{reverse: } \min_{\mu_q, \sigma_q}\mathrm{KL}(q\,\|\,p)\ \text{(mode-seeking)},\qquad
      \text{forward: } \min_{\mu_q, \sigma_q}\mathrm{KL}(p\,\|\,q)\ \text{(moment matching)}.$$

    Minimised over $(\mu_q, \log\sigma_q^2)$ by L-BFGS (float64), started at every local maximum of
    $p$ on the grid with Laplace's width there ($-1/(\log p)''$, at most the variance of $p$); the start that ends lowest wins
    ($\mathrm{KL}(q\,\|\,p)$ has a local minimum at each well-separated mode). The forward problem
    has one minimum, the mean and variance of $p$: a numerical check of moment matching, since
    nothing here computes the moments.

    Args:
        z: the grid, shape ``(G,)``, evenly spaced.
        log_p: $\log p(z_g)$, a normalised density on the grid, shape ``(G,)``.
        reverse: ``True`` for $\mathrm{KL}(q\,\|\,p)$, ``False`` for $\mathrm{KL}(p\,\|\,q)$.

    Returns:
        ``(mu_q, log_var_q)``, each of shape ``()``, in the dtype of ``z``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    step = _check_grid_density(z, log_p)
    if not isinstance(reverse, bool):
        raise TypeError(f"reverse must be a bool, got {type(reverse).__name__}")
    z64, log_p64 = z.double(), log_p.double()
    p = torch.exp(log_p64)
    spread = (p * z64**2).sum() * step - ((p * z64).sum() * step) ** 2  # a width to start from
    peaks = torch.nonzero((log_p64[1:-1] > log_p64[:-2]) & (log_p64[1:-1] >= log_p64[2:]))[:, 0] + 1
    kl = kl_normal_grid if reverse else (lambda m, v, g, lp: kl_grid_normal(g, lp, m, v))
    best: tuple[float, Tensor, Tensor] | None = None
    for peak in peaks.tolist() or [int(log_p64.argmax())]:
        curvature = (log_p64[peak + 1] - 2 * log_p64[peak] + log_p64[peak - 1]) / step**2
        width = torch.minimum(spread, -1 / curvature) if curvature < 0 else spread  # Laplace's, at most p's
        params = torch.stack([z64[peak], torch.log(width)]).requires_grad_(True)  # (mu, log_var)
        optimizer = torch.optim.LBFGS(
            [params], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = kl(params[0], params[1], z64, log_p64)
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            value = float(kl(params[0], params[1], z64, log_p64))
        if best is None or value < best[0]:
            best = (value, params[0].detach(), params[1].detach())
    assert best is not None
    return best[1].to(z.dtype), best[2].to(z.dtype)
