r"""Probabilistic PCA's maximum-likelihood fit in closed form (Tipping & Bishop 1999).

The linear-Gaussian model $z\sim\mathcal N(0, I_d)$, $x|z\sim\mathcal N(Wz + b, \sigma^2 I_D)$ fitted to
data by maximum likelihood has a closed form through the eigendecomposition of the data's
covariance: :func:`ppca_fit`, which :meth:`~vae_edu.exact.linear_gaussian.LinearGaussian.fit` calls.

Book: *The linear VAE is probabilistic PCA*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_tensor

__all__ = ["ppca_fit"]


def ppca_fit(data: Tensor, z_dim: int) -> tuple[Tensor, Tensor, Tensor]:
    r"""Closed-form maximum-likelihood fit of probabilistic PCA (Tipping & Bishop, 1999).

    With the sample mean $\bar x$ and covariance $S = \frac1N\sum_n (x_n-\bar x)(x_n-\bar x)^\top$
    whose eigenvalues are $\lambda_1\ge\dots\ge\lambda_D$ (eigenvectors $U$):

    $$b = \bar x,\qquad \sigma^2 = \frac{1}{D-d}\sum_{j>d}\lambda_j,\qquad
      W = U_{:, 1:d}\,(\Lambda_d - \sigma^2 I)^{1/2}$$

    Args:
        data: data matrix, shape ``(N, x_dim)`` with ``N >= 2``.
        z_dim: latent dimension $d$, ``1 <= z_dim < x_dim``.

    Returns:
        ``(W, b, sigma2)`` of shapes ``(x_dim, z_dim)``, ``(x_dim,)`` and ``()``, in the dtype of
        ``data``: the arguments of :class:`~vae_edu.exact.linear_gaussian.LinearGaussian`.

    Raises:
        ValueError: if the discarded eigenvalues are all zero (then $\sigma^2 = 0$ and
            the likelihood is unbounded: choose a smaller ``z_dim``).
    """
    check_tensor("data", data, min_dim=2)
    if data.dim() != 2 or data.shape[0] < 2:
        raise ValueError(f"data must have shape (N, x_dim) with N >= 2, got {tuple(data.shape)}")
    x_dim = data.shape[1]
    if isinstance(z_dim, bool) or not isinstance(z_dim, int) or not 1 <= z_dim < x_dim:
        raise ValueError(f"z_dim must be an int with 1 <= z_dim < x_dim={x_dim}, got {z_dim!r}")
    x = data.double()
    b = x.mean(0)
    centred = x - b
    cov = centred.T @ centred / x.shape[0]  # (D, D), maximum-likelihood (1/N)
    eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
    eigvals, eigvecs = eigvals.flip(0).clamp_min(0.0), eigvecs.flip(1)  # descending; clamp round-off below 0
    sigma2 = eigvals[z_dim:].mean()
    if not float(sigma2) > 1e-12 * max(float(eigvals[0]), 1e-300):
        raise ValueError(
            f"the {x_dim - z_dim} discarded eigenvalues of the data covariance are all zero, so "
            f"sigma2 would be 0; choose z_dim smaller than the data's rank"
        )
    W = eigvecs[:, :z_dim] * torch.sqrt(eigvals[:z_dim] - sigma2)  # (D, d)
    return W.to(data.dtype), b.to(data.dtype), sigma2.to(data.dtype)
