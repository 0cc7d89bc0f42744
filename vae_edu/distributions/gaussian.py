"""Log-densities and the reparameterization trick.

All log-densities sum over the event (last) dimension and return the batch shape: an input of
shape ``(..., D)`` gives an output of shape ``(...)``.

Book: *Notation* and *The Gaussian KL*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_event_shapes, check_generator, check_int, check_tensor, cholesky_checked

__all__ = [
    "LOG_2PI",
    "log_normal_diag",
    "log_standard_normal",
    "log_normal_full",
    "entropy_normal_diag",
    "cross_entropy_normal_diag",
    "reparameterize",
]

#: $\log 2\pi$, the constant in every Gaussian log-density.
LOG_2PI = math.log(2.0 * math.pi)


def log_normal_diag(x: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    r"""Log-density of a diagonal Gaussian, summed over the last dimension.

    $$\log \mathcal N(x; \mu, \operatorname{diag}\sigma^2)
      = -\tfrac12 \sum_{d=1}^{D} \Big[\log 2\pi + \log\sigma_d^2 + \frac{(x_d-\mu_d)^2}{\sigma_d^2}\Big]$$

    Computed as ``(x - mu)**2 * exp(-log_var)`` so that it stays finite for
    ``log_var`` in ``[-50, 50]``.

    Args:
        x: points, shape ``(..., D)``.
        mu: means $\mu$, shape ``(..., D)``.
        log_var: log-variances $\log\sigma^2$, shape ``(..., D)``. The batch shapes ``...`` of
            ``x``, ``mu`` and ``log_var`` broadcast; the event dimension ``D`` must match.

    Returns:
        $\log q(x)$, shape: the broadcast batch shape.

    Book: *The Gaussian KL, derived and checked*.
    """
    check_tensor("x", x, min_dim=1)
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    check_event_shapes(x=x, mu=mu, log_var=log_var)
    squared = (x - mu) ** 2 * torch.exp(-log_var)  # (..., D)
    return -0.5 * (LOG_2PI + log_var + squared).sum(dim=-1)


def log_standard_normal(x: Tensor) -> Tensor:
    r"""Log-density of the standard normal prior $p(z)=\mathcal N(0, I)$, summed over the last dimension.

    $$\log \mathcal N(x; 0, I) = -\tfrac12 \sum_{d=1}^{D} \big[\log 2\pi + x_d^2\big]$$

    Args:
        x: points, shape ``(..., D)``.

    Returns:
        $\log p(x)$, shape ``(...)``.

    Book: *The Gaussian KL, derived and checked*.
    """
    check_tensor("x", x, min_dim=1)
    return -0.5 * (LOG_2PI + x**2).sum(dim=-1)


def log_normal_full(x: Tensor, mu: Tensor, cov: Tensor) -> Tensor:
    r"""Log-density of a Gaussian with a full covariance matrix.

    $$\log \mathcal N(x; \mu, \Sigma) = -\tfrac12\Big[D\log 2\pi + \log\det\Sigma
      + (x-\mu)^\top\Sigma^{-1}(x-\mu)\Big]$$

    Evaluated with the Cholesky factor $\Sigma = LL^\top$: $\log\det\Sigma = 2\sum_i\log L_{ii}$ and
    the quadratic form is $\|L^{-1}(x-\mu)\|^2$ (a triangular solve, no inverse).

    Args:
        x: points, shape ``(..., D)``.
        mu: mean, shape ``(..., D)``.
        cov: covariance, symmetric positive definite, shape ``(..., D, D)``. Batch shapes broadcast.

    Returns:
        shape: the broadcast batch shape.

    Book: *The Gaussian KL, derived and checked* (full covariance) and *The ELBO* (the exact posterior).
    """
    check_tensor("x", x, min_dim=1)
    check_tensor("mu", mu, min_dim=1)
    check_tensor("cov", cov, min_dim=2)
    shape = check_event_shapes(x=x, mu=mu)
    dim = x.shape[-1]
    if cov.shape[-2:] != (dim, dim):
        raise ValueError(f"cov must have shape (..., {dim}, {dim}) to match x, got {tuple(cov.shape)}")
    if cov.dtype != x.dtype:
        raise TypeError(f"cov has dtype {cov.dtype} but x has dtype {x.dtype}")
    try:
        batch = torch.broadcast_shapes(shape[:-1], cov.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch shapes do not broadcast: x{tuple(x.shape)}, mu{tuple(mu.shape)}, cov{tuple(cov.shape)}"
        ) from None
    chol = cholesky_checked("cov", cov).expand(*batch, dim, dim)  # (..., D, D)
    diff = (x - mu).expand(*batch, dim).unsqueeze(-1)  # (..., D, 1)
    quad = torch.linalg.solve_triangular(chol, diff, upper=False).pow(2).sum(dim=(-2, -1))  # (...)
    log_det = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)
    return -0.5 * (dim * LOG_2PI + log_det + quad)


def entropy_normal_diag(log_var: Tensor) -> Tensor:
    r"""Entropy of a diagonal Gaussian, $\mathrm H[q] = -\mathbb E_q[\log q(z)]$, summed over the last dimension.

    $$\mathrm H\big[\mathcal N(\mu, \operatorname{diag}\sigma^2)\big]
      = \frac12\sum_{d=1}^{D}\big[\log 2\pi + 1 + \log\sigma_d^2\big]$$

    It does not depend on $\mu$. Step 2 of the book's KL derivation: $\mathbb E_q[\log q] = -\mathrm H[q]$.

    Args:
        log_var: log-variances $\log\sigma^2$, shape ``(..., D)``.

    Returns:
        shape ``(...)``.

    Book: *The Gaussian KL, derived and checked*.
    """
    check_tensor("log_var", log_var, min_dim=1)
    return 0.5 * (LOG_2PI + 1.0 + log_var).sum(dim=-1)


def cross_entropy_normal_diag(mu_q: Tensor, log_var_q: Tensor, mu_p: Tensor, log_var_p: Tensor) -> Tensor:
    r"""Cross-entropy $-\mathbb E_{q}[\log p(z)]$ between diagonal Gaussians $q$ and $p$, summed over the last dimension.

    $$-\mathbb E_{\mathcal N(z;\mu_q,\sigma_q^2)}\big[\log\mathcal N(z;\mu_p,\sigma_p^2)\big]
      = \frac12\sum_{d=1}^{D}\Big[\log 2\pi + \log\sigma_{p,d}^2
        + \frac{\sigma_{q,d}^2 + (\mu_{q,d}-\mu_{p,d})^2}{\sigma_{p,d}^2}\Big]$$

    With $\mu_p = 0$, $\sigma_p = 1$ it is step 3 of the book's KL derivation,
    $-\mathbb E_q[\log p] = \tfrac12(\log 2\pi + \sigma^2 + \mu^2)$; and
    $\mathrm{KL}(q\,\|\,p) = $ cross-entropy $-$ entropy.

    Args:
        mu_q, log_var_q: parameters of $q$, shape ``(..., D)``.
        mu_p, log_var_p: parameters of $p$, shape ``(..., D)``; batch shapes broadcast.

    Returns:
        shape: the broadcast batch shape.

    Book: *The Gaussian KL, derived and checked*.
    """
    for name, t in (("mu_q", mu_q), ("log_var_q", log_var_q), ("mu_p", mu_p), ("log_var_p", log_var_p)):
        check_tensor(name, t, min_dim=1)
    check_event_shapes(mu_q=mu_q, log_var_q=log_var_q, mu_p=mu_p, log_var_p=log_var_p)
    ratio = (torch.exp(log_var_q) + (mu_q - mu_p) ** 2) * torch.exp(-log_var_p)  # (..., D)
    return 0.5 * (LOG_2PI + log_var_p + ratio).sum(dim=-1)


def reparameterize(
    mu: Tensor,
    log_var: Tensor,
    eps: Tensor | None = None,
    *,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Draw $z \sim \mathcal N(\mu, \operatorname{diag}\sigma^2)$ as a differentiable function of $\mu$ and $\log\sigma^2$.

    $$z = \mu + \sigma \odot \varepsilon,\qquad \sigma = \exp(\tfrac12\log\sigma^2),\qquad
      \varepsilon \sim \mathcal N(0, I)$$

    This is the one place where ``std = exp(0.5 * log_var)`` is computed.

    Args:
        mu: means, shape ``(..., D)``.
        log_var: log-variances, same shape as ``mu``.
        eps: optional standard-normal noise. Its shape must *end with* ``mu.shape``; extra
            leading dimensions are sample dimensions, e.g. ``(K, B, D)`` for ``K`` samples per
            example. If ``None``, it is drawn: of shape ``(num_samples, *mu.shape)``, or
            ``mu.shape`` when ``num_samples`` is ``None``.
        num_samples: $K$, the number of samples to draw (only when ``eps`` is ``None``).
        generator: optional :class:`torch.Generator` used when ``eps`` is ``None``.

    Returns:
        $z$, shape ``eps.shape``: ``(K, ..., D)`` with ``num_samples``, else ``mu.shape``.

    Raises:
        ValueError: if ``mu`` and ``log_var`` differ in shape, ``eps`` does not end with
            ``mu.shape``, or both ``eps`` and ``num_samples`` are given.
        TypeError: if ``generator`` is not a :class:`torch.Generator`.

    Book: *The Gaussian KL* (Monte Carlo checks) and *The reparameterization trick*.
    """
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    if mu.shape != log_var.shape:
        raise ValueError(
            f"mu and log_var must have the same shape, got mu{tuple(mu.shape)} and "
            f"log_var{tuple(log_var.shape)}"
        )
    if log_var.dtype != mu.dtype:
        raise TypeError(f"log_var has dtype {log_var.dtype} but mu has dtype {mu.dtype}")
    if eps is None:
        check_generator(generator)
        shape = mu.shape if num_samples is None else (check_int("num_samples", num_samples), *mu.shape)
        eps = torch.randn(shape, dtype=mu.dtype, device=mu.device, generator=generator)  # ([K,] ..., D)
    elif num_samples is not None:
        raise ValueError("give eps or num_samples, not both: eps already fixes the number of samples")
    else:
        check_tensor("eps", eps, min_dim=1)
        if eps.dtype != mu.dtype:
            raise TypeError(f"eps has dtype {eps.dtype} but mu has dtype {mu.dtype}")
        if eps.dim() < mu.dim() or eps.shape[eps.dim() - mu.dim() :] != mu.shape:
            raise ValueError(
                f"eps must have shape (*sample_shape, {', '.join(map(str, mu.shape))}) to match "
                f"mu, got eps{tuple(eps.shape)}"
            )
    std = torch.exp(0.5 * log_var)  # (..., D)
    return mu + std * eps  # (*sample_shape, ..., D)
