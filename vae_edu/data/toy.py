r"""A 2-D mixture of well-separated Gaussian modes, where a generative model's mode coverage can be counted.

Book: *VAE vs GAN on the same data*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..checks import check_int, check_positive_float, check_tensor
from ..distributions.gaussian import log_normal_diag
from ._common import check_float_dtype

__all__ = ["GaussianMixture2D", "gaussian_mixture_2d_centres", "make_gaussian_mixture_2d", "gaussian_mixture_2d_log_prob", "assign_modes"]

Kind = Literal["ring", "grid"]


@dataclass(frozen=True)
class GaussianMixture2D:
    r"""Points drawn from an equal-weight mixture of 2-D Gaussian modes, with their modes.

    Attributes:
        x: points, shape ``(n, 2)``.
        y: the mode each point was drawn from, shape ``(n,)``, dtype ``int64``, in ``0..K-1``.
        centres: the mode centres $c_k$, shape ``(K, 2)``.
        std: $\sigma$, the standard deviation of every mode in each coordinate.
    """

    x: Tensor
    y: Tensor
    centres: Tensor
    std: float

    def __len__(self) -> int:
        return int(self.x.shape[0])


def gaussian_mixture_2d_centres(
    kind: Kind = "ring", num_modes: int | None = None, scale: float = 2.0, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Centres of the toy mixture's modes: evenly spaced on a circle, or a centred square grid.

    Ring: $c_k = r\,(\cos\frac{2\pi k}{K}, \sin\frac{2\pi k}{K})$, $k = 0,\dots,K-1$, with $r$ = ``scale``.
    Grid ($K = m^2$): $c_{im+j} = s\,(i - \frac{m-1}2,\ j - \frac{m-1}2)$, $i, j = 0,\dots,m-1$, with
    $s$ = ``scale``.

    Args:
        kind: ``"ring"`` or ``"grid"``.
        num_modes: $K$; default 8 for the ring, 25 (5×5) for the grid, which needs a square number.
        scale: the ring's radius, or the distance between neighbouring grid centres.
        dtype: floating-point dtype of the result.

    Returns:
        The centres, shape ``(K, 2)``.

    Book: *VAE vs GAN on the same data*.
    """
    check_float_dtype(dtype)
    scale = check_positive_float("scale", scale)
    if kind == "ring":
        num = check_int("num_modes", 8 if num_modes is None else num_modes, 2)
        angle = 2 * math.pi * torch.arange(num, dtype=torch.float64) / num  # (K,)
        centres = scale * torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)  # (K, 2)
    elif kind == "grid":
        num = check_int("num_modes", 25 if num_modes is None else num_modes, 4)
        side = math.isqrt(num)
        if side * side != num:
            raise ValueError(f"num_modes must be a square number (side × side) for kind='grid', got {num}")
        axis = scale * (torch.arange(side, dtype=torch.float64) - (side - 1) / 2)  # (m,)
        centres = torch.cartesian_prod(axis, axis)  # (m*m, 2), row i*m + j is (axis[i], axis[j])
    else:
        raise ValueError(f"kind must be 'ring' or 'grid', got {kind!r}")
    return centres.to(dtype)


def make_gaussian_mixture_2d(
    n: int,
    kind: Kind = "ring",
    *,
    num_modes: int | None = None,
    scale: float = 2.0,
    std: float = 0.05,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> GaussianMixture2D:
    r"""$n$ points from an equal-weight mixture of well-separated 2-D Gaussians, with mode labels.

    $$p(x) = \frac1K\sum_{k=1}^K \mathcal N(x;\, c_k, \sigma^2 I),\qquad
      y \sim \mathrm{Uniform}\{0,\dots,K-1\},\quad x = c_y + \sigma\varepsilon,\ \varepsilon\sim\mathcal N(0, I)$$

    The standard test bed for mode collapse (8 modes on a ring, 25 on a grid): a model that
    drops modes is seen at once, and :func:`assign_modes` counts it. The modes must be *well
    separated*: the closest two centres must be more than $6\sigma$ apart, so that the
    $3\sigma$ discs used by :func:`assign_modes` do not overlap.

    Args:
        n: number of points.
        kind: ``"ring"`` or ``"grid"`` (see :func:`gaussian_mixture_2d_centres`).
        num_modes: $K$; default 8 (ring) or 25 (grid).
        scale: the ring's radius, or the grid's spacing.
        std: $\sigma$, each mode's standard deviation per coordinate.
        generator: optional :class:`torch.Generator` for reproducible draws.
        dtype: floating-point dtype of the points and centres.

    Returns:
        A :class:`GaussianMixture2D` with ``x`` ``(n, 2)``, ``y`` ``(n,)``, ``centres`` ``(K, 2)``.

    Example:
        >>> data = make_gaussian_mixture_2d(1000, "grid", generator=torch.Generator().manual_seed(0))
        >>> data.x.shape, data.y.shape, data.centres.shape
        (torch.Size([1000, 2]), torch.Size([1000]), torch.Size([25, 2]))

    Book: *VAE vs GAN on the same data*.
    """
    n = check_int("n", n, 1)
    std = check_positive_float("std", std)
    check_float_dtype(dtype)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    centres = gaussian_mixture_2d_centres(kind, num_modes, scale, dtype=torch.float64)  # (K, 2)
    separation = torch.pdist(centres).min().item()
    if not separation > 6 * std:
        raise ValueError(
            f"std must be below (closest centre distance) / 6 = {separation / 6:.4g} for well-separated "
            f"modes, got {std}"
        )
    y = torch.randint(centres.shape[0], (n,), generator=generator)  # (n,)
    eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)  # (n, 2)
    x = centres[y] + std * eps  # (n, 2)
    return GaussianMixture2D(x.to(dtype), y, centres.to(dtype), std)


def _check_points_and_centres(x: object, centres: object, *, batched: bool) -> None:
    """``x`` of shape ``(..., 2)`` (``batched``) or ``(n, 2)``, ``centres`` of shape ``(K, 2)``, one dtype."""
    check_tensor("x", x, min_dim=1 if batched else 2)
    check_tensor("centres", centres, min_dim=2)
    assert isinstance(x, Tensor) and isinstance(centres, Tensor)  # for the type checker
    if x.shape[-1] != 2 or (not batched and x.dim() != 2):
        raise ValueError(f"x must have shape {'(..., 2)' if batched else '(n, 2)'}, got {tuple(x.shape)}")
    if centres.dim() != 2 or centres.shape[-1] != 2:
        raise ValueError(f"centres must have shape (K, 2), got {tuple(centres.shape)}")
    if x.dtype != centres.dtype:
        raise TypeError(f"centres has dtype {centres.dtype} but x has dtype {x.dtype}; convert one with .to(...)")


def gaussian_mixture_2d_log_prob(x: Tensor, centres: Tensor, std: float) -> Tensor:
    r"""Exact log-density of the toy mixture, $\log p(x) = \log\frac1K\sum_k \mathcal N(x; c_k, \sigma^2 I)$.

    Computed as $\operatorname{logsumexp}_k \log\mathcal N(x; c_k, \sigma^2 I) - \log K$, stable far
    from every mode.

    Args:
        x: points, shape ``(..., 2)``.
        centres: the centres $c_k$, shape ``(K, 2)``, same dtype as ``x``.
        std: $\sigma$.

    Returns:
        $\log p(x)$, shape ``(...)``.

    Book: *VAE vs GAN on the same data*.
    """
    _check_points_and_centres(x, centres, batched=True)
    std = check_positive_float("std", std)
    log_var = torch.full((2,), 2 * math.log(std), dtype=x.dtype)  # (2,)
    log_components = log_normal_diag(x.unsqueeze(-2), centres, log_var)  # (..., K)
    return torch.logsumexp(log_components, dim=-1) - math.log(centres.shape[0])


def assign_modes(x: Tensor, centres: Tensor, std: float, *, num_std: float = 3.0) -> Tensor:
    r"""The mode each point belongs to: its nearest centre if within ``num_std`` $\sigma$, else $-1$.

    $\hat y(x) = \arg\min_k \lVert x - c_k\rVert$ if $\min_k \lVert x - c_k\rVert \le$ ``num_std``
    $\cdot\,\sigma$, else $-1$ (a "low-quality" point, off every mode). The number of modes a
    model covers is then the number of distinct labels $\ge 0$ among its samples. Note that a 2-D
    Gaussian puts $1 - e^{-9/2} \approx 98.9\%$ of its mass within $3\sigma$ of its centre.

    Args:
        x: points, shape ``(n, 2)``.
        centres: the centres $c_k$, shape ``(K, 2)``, same dtype as ``x``.
        std: $\sigma$ of the modes.
        num_std: the radius of each mode's disc, in units of $\sigma$.

    Returns:
        Labels in ``-1..K-1``, shape ``(n,)``, dtype ``int64``.

    Book: *VAE vs GAN on the same data*.
    """
    _check_points_and_centres(x, centres, batched=False)
    std = check_positive_float("std", std)
    num_std = check_positive_float("num_std", num_std)
    distance, nearest = torch.cdist(x, centres).min(dim=-1)  # (n,), (n,)
    return torch.where(distance <= num_std * std, nearest, torch.full_like(nearest, -1))
