"""Plotting helpers shared by the chapters (figures only: no math lives here)."""

from __future__ import annotations

import math
from typing import Any

import torch
from matplotlib.axes import Axes
from matplotlib.patches import Ellipse
from torch import Tensor

from .checks import check_tensor

__all__ = ["plot_gaussian_ellipse"]


def plot_gaussian_ellipse(ax: Axes, mu: Tensor, cov: Tensor, n_std: float = 1.0, **kwargs: Any) -> Ellipse:
    r"""Draw the ``n_std`` contour of a 2-D Gaussian $\mathcal N(\mu, \Sigma)$ on ``ax``.

    The contour $\{z : (z-\mu)^\top\Sigma^{-1}(z-\mu) = n^2\}$ is an ellipse whose axes point
    along the eigenvectors of $\Sigma$, with half-lengths $n\sqrt{\lambda_i}$.

    Args:
        ax: the matplotlib axes to draw on.
        mu: mean, shape ``(2,)``.
        cov: covariance, symmetric positive definite, shape ``(2, 2)``.
        n_std: the contour's Mahalanobis radius $n > 0$.
        **kwargs: passed to :class:`matplotlib.patches.Ellipse` (``fill``, ``color``, ``alpha``, ...).

    Returns:
        The :class:`~matplotlib.patches.Ellipse` added to ``ax``.

    Book: *The ELBO, derived and checked* (per-example posteriors inside the prior).
    """
    check_tensor("mu", mu, min_dim=1)
    check_tensor("cov", cov, min_dim=2)
    if mu.shape != (2,):
        raise ValueError(f"mu must have shape (2,), got {tuple(mu.shape)}")
    if cov.shape != (2, 2):
        raise ValueError(f"cov must have shape (2, 2), got {tuple(cov.shape)}")
    if not (isinstance(n_std, (int, float)) and n_std > 0 and math.isfinite(n_std)):
        raise ValueError(f"n_std must be a positive number, got {n_std!r}")
    eigvals, eigvecs = torch.linalg.eigh(cov.double())  # ascending
    if not bool(eigvals[0] > 0):
        raise ValueError("cov must be positive definite")
    major = eigvecs[:, 1]  # direction of the long axis
    angle = math.degrees(math.atan2(float(major[1]), float(major[0])))
    width, height = (2.0 * n_std * torch.sqrt(eigvals.flip(0))).tolist()
    ellipse = Ellipse((float(mu[0]), float(mu[1])), width, height, angle=angle, **kwargs)
    ax.add_patch(ellipse)
    return ellipse
