r"""Brute force on a grid of $z$: $p(x)$ by quadrature, the exact posterior $p(z|x)$, and its best Gaussians.

* :func:`log_marginal_grid` — $\log p(x) = \log\int p(z)\,p(x|z)\,dz$ by a Riemann sum over a
  regular grid in $[-L, L]^d$: exact up to the grid, but $G^d$ nodes in $d$ latent dimensions;
* :func:`log_posterior_grid` — in one latent dimension, the exact posterior $p(z|x)$ of any
  decoder, Gaussian or not;
* :func:`kl_normal_grid`, :func:`kl_grid_normal` and :func:`fit_normal_grid` — its best Gaussian
  approximations under $\mathrm{KL}(q\,\|\,p)$ and $\mathrm{KL}(p\,\|\,q)$.

Everything is in log space. Importance sampling, the other way to $p(x)$, is in
:mod:`vae_edu.exact.marginal`.

Book: *Latent-variable models and the intractable marginal*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import (
    check_broadcast,
    check_callable,
    check_int,
    check_positive_float,
    check_tensor,
)
from ..distributions.gaussian import LOG_2PI, log_standard_normal
from .marginal import LogLikelihood

__all__ = [
    "log_marginal_grid",
    "log_posterior_grid",
    "kl_normal_grid",
    "kl_grid_normal",
    "fit_normal_grid",
    "MAX_GRID_NODES",
]


#: The largest grid :func:`log_marginal_grid` builds (``num_points ** z_dim`` nodes).
MAX_GRID_NODES = 2_000_000


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
        log_p_x_given_z: the decoder's $\log p(x|z)$ (see :data:`~vae_edu.exact.marginal.LogLikelihood`).
        x: data, shape ``(..., x_dim)``.
        z_dim: latent dimension $d \ge 1$.
        num_points: grid points per axis, $G \ge 2$; at most :data:`MAX_GRID_NODES` nodes in all.
        limit: half-width $L > 0$ of the grid.

    Returns:
        $\log p(x)$, shape ``(...)``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    check_callable("log_p_x_given_z", log_p_x_given_z, "(x, z) -> log p(x|z)")
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
            (see :data:`~vae_edu.exact.marginal.LogLikelihood`).
        x: data, shape ``(..., x_dim)``.
        num_points: grid points $G \ge 3$.
        limit: half-width $L > 0$ of the grid.

    Returns:
        ``(z, log_post)``: the nodes, shape ``(G,)``, and $\log p(z_g|x)$, shape ``(G, ...)``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    check_callable("log_p_x_given_z", log_p_x_given_z, "(x, z) -> log p(x|z)")
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
    shape = check_broadcast({"mu_q": mu_q.shape, "log_var_q": log_var_q.shape})
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
