r"""Is $z$ meaningful? Measurements of a VAE's latent space.

* neighbourhoods: leave-one-out $k$-nearest-neighbour label agreement, and the rank correlation
  of pairwise distances in two spaces (latent vs pixels);
* paths: linear and spherical interpolation, and traversals of one latent dimension;
* the prior's quantile grid and norm, for decoding a grid of codes.

The aggregate posterior, ELBO surgery and holes are in :mod:`vae_edu.metrics.aggregate`.

Book: *Is z meaningful? The latent space*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_event_shapes, check_int, check_points, check_tensor

__all__ = [
    "neighbour_label_agreement",
    "distance_rank_correlation",
    "lerp",
    "slerp",
    "traverse",
    "prior_quantile_grid",
    "prior_norm_mean_std",
]


def neighbour_label_agreement(features: Tensor, labels: Tensor, k: int = 5) -> Tensor:
    r"""Leave-one-out $k$-nearest-neighbour label agreement of a set of points.

    $$A_k = \frac1{Nk}\sum_{n=1}^N \sum_{m\in\mathcal N_k(n)} \mathbb 1[y_m = y_n]$$

    where $\mathcal N_k(n)$ are the $k$ points closest to point $n$ in Euclidean distance,
    point $n$ itself excluded. Chance level is $\sum_c \pi_c^2$ for class frequencies $\pi_c$
    (about $1/C$ for $C$ balanced classes).

    Args:
        features: points, shape ``(N, dim)`` (e.g. encoder means $\mu_q(x_n)$, or pixels $x_n$).
        labels: integer labels, shape ``(N,)``.
        k: neighbours per point, $1 \le k \le N-1$.

    Returns:
        $A_k \in [0, 1]$, shape ``()``, in the dtype of ``features``.

    Book: *Is z meaningful? The latent space*.
    """
    check_points("features", features)
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if labels.shape != features.shape[:1]:
        raise ValueError(f"labels must have shape (N,) = ({features.shape[0]},), got {tuple(labels.shape)}")
    check_int("k", k, 1)
    if k > features.shape[0] - 1:
        raise ValueError(f"k must be <= N - 1 = {features.shape[0] - 1}, got {k}")
    dist = torch.cdist(features, features)  # (N, N)
    dist.fill_diagonal_(math.inf)  # leave one out
    neighbours = dist.topk(k, dim=1, largest=False).indices  # (N, k)
    agree = labels[neighbours] == labels[:, None]  # (N, k)
    return agree.to(features.dtype).mean()


def _ranks(values: Tensor) -> Tensor:
    """Ranks 0..n-1 of a 1-D tensor; tied values share the average of their ranks (mid-ranks)."""
    sorted_values, order = values.sort()
    _, inverse, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0)  # (G,) one past the last sorted position of each group of ties
    mid = (ends - counts + ends - 1).to(values.dtype) / 2  # (G,) the average rank of each group
    ranks = torch.empty_like(values)
    ranks[order] = mid[inverse]
    return ranks


def distance_rank_correlation(a: Tensor, b: Tensor) -> Tensor:
    r"""Spearman rank correlation between the pairwise distances of the same $N$ points in two spaces.

    With $d^a_{nm} = \Vert a_n - a_m\Vert$ and $d^b_{nm} = \Vert b_n - b_m\Vert$ over the
    $N(N-1)/2$ pairs $n < m$,

    $$\rho = \operatorname{corr}\big(\operatorname{rank}(d^a), \operatorname{rank}(d^b)\big),$$

    the Pearson correlation of the ranks (Spearman's $\rho$). $\rho = 1$ when one space orders all
    pairs by distance exactly as the other does (e.g. $b$ a rotation, scaling or translation of
    $a$). Tied distances (common in pixel space, whose squared distances are integers for the
    digits) share the average of their ranks, as in :func:`scipy.stats.spearmanr`.

    Args:
        a: the points in the first space, shape ``(N, dim_a)``, $N \ge 3$.
        b: the same points in the second space, shape ``(N, dim_b)``, same dtype.

    Returns:
        $\rho \in [-1, 1]$, shape ``()``.

    Book: *Is z meaningful? The latent space*.
    """
    check_points("a", a)
    check_points("b", b)
    if b.shape[0] != a.shape[0]:
        raise ValueError(f"a and b must hold the same N points, got {a.shape[0]} and {b.shape[0]}")
    if b.dtype != a.dtype:
        raise TypeError(f"b has dtype {b.dtype} but a has dtype {a.dtype}")
    if a.shape[0] < 3:
        raise ValueError(f"a needs at least 3 points (2 pairs), got {a.shape[0]}")
    rows, cols = torch.triu_indices(a.shape[0], a.shape[0], offset=1)
    ra = _ranks(torch.cdist(a, a)[rows, cols])  # (N(N-1)/2,)
    rb = _ranks(torch.cdist(b, b)[rows, cols])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return (ra * rb).sum() / (ra.norm() * rb.norm())


def _check_endpoints(z0: Tensor, z1: Tensor, t: Tensor) -> None:
    check_tensor("z0", z0, min_dim=1)
    check_tensor("z1", z1, min_dim=1)
    check_tensor("t", t, min_dim=1)
    if z0.dim() != 1 or z1.shape != z0.shape:
        raise ValueError(f"z0 and z1 must both have shape (z_dim,), got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if t.dim() != 1:
        raise ValueError(f"t must have shape (T,), got {tuple(t.shape)}")
    check_event_shapes(z0=z0, z1=z1)
    if t.dtype != z0.dtype:
        raise TypeError(f"t has dtype {t.dtype} but z0 has dtype {z0.dtype}")


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    r"""Linear interpolation $z(t) = (1-t)\,z_0 + t\,z_1$.

    Args:
        z0, z1: end points, shape ``(z_dim,)``.
        t: positions along the path, shape ``(T,)`` (0 gives $z_0$, 1 gives $z_1$).

    Returns:
        shape ``(T, z_dim)``.

    Book: *Is z meaningful? The latent space*.
    """
    _check_endpoints(z0, z1, t)
    return (1 - t)[:, None] * z0 + t[:, None] * z1  # (T, z_dim)


def slerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    r"""Spherical linear interpolation along the great circle through $z_0$ and $z_1$.

    $$z(t) = \frac{\sin\big((1-t)\Omega\big)}{\sin\Omega}\,z_0 + \frac{\sin(t\Omega)}{\sin\Omega}\,z_1,
      \qquad \cos\Omega = \frac{z_0^\top z_1}{\Vert z_0\Vert\,\Vert z_1\Vert}.$$

    When $\Vert z_0\Vert = \Vert z_1\Vert = r$ every point has norm $r$, whereas the midpoint of
    :func:`lerp` has norm $r\cos(\Omega/2) < r$. When $\sin\Omega < 10^{-6}$ (end points
    (nearly) parallel, or antiparallel, where the great circle is not unique) it falls back to
    :func:`lerp`.

    Args:
        z0, z1: end points, shape ``(z_dim,)``, both non-zero.
        t: positions along the path, shape ``(T,)``.

    Returns:
        shape ``(T, z_dim)``.

    Book: *Is z meaningful? The latent space*.
    """
    _check_endpoints(z0, z1, t)
    n0, n1 = z0.norm(), z1.norm()
    if n0 == 0 or n1 == 0:
        raise ValueError("z0 and z1 must be non-zero for slerp (the angle between them is undefined)")
    cos_omega = (z0 @ z1 / (n0 * n1)).clamp(-1.0, 1.0)
    omega = torch.arccos(cos_omega)
    sin_omega = torch.sin(omega)
    if sin_omega < 1e-6:
        return lerp(z0, z1, t)
    w0 = torch.sin((1 - t) * omega) / sin_omega  # (T,)
    w1 = torch.sin(t * omega) / sin_omega
    return w0[:, None] * z0 + w1[:, None] * z1  # (T, z_dim)


def traverse(model: torch.nn.Module, z: Tensor, dim: int, values: Tensor) -> Tensor:
    r"""Decode a *traversal*: $z$ with dimension ``dim`` replaced by each of ``values``.

    $$x_v = \mathbb E_{p(x|z^{(v)})}[x],\qquad z^{(v)}_j = v \text{ if } j = \text{dim},\ z_j \text{ otherwise}.$$

    Args:
        model: a model with a ``decoder`` that has ``mean(z)`` (e.g. :class:`~vae_edu.models.VAE`).
        z: the base code, shape ``(z_dim,)``, in the model's dtype.
        dim: the latent dimension to move, $0 \le \text{dim} < z\_dim$.
        values: the values it takes, shape ``(V,)``.

    Returns:
        the decoded expected images, shape ``(V, x_dim)`` (no gradients).

    Book: *Is z meaningful? The latent space*.
    """
    check_tensor("z", z, min_dim=1)
    check_tensor("values", values, min_dim=1)
    if z.dim() != 1:
        raise ValueError(f"z must have shape (z_dim,), got {tuple(z.shape)}")
    if values.dim() != 1:
        raise ValueError(f"values must have shape (V,), got {tuple(values.shape)}")
    if values.dtype != z.dtype:
        raise TypeError(f"values has dtype {values.dtype} but z has dtype {z.dtype}")
    check_int("dim", dim, 0)
    if dim >= z.shape[0]:
        raise ValueError(f"dim must be < z_dim = {z.shape[0]}, got {dim}")
    decoder = getattr(model, "decoder", None)
    if decoder is None or not hasattr(decoder, "mean"):
        raise TypeError(f"model must have a decoder with a mean(z) method, got {type(model).__name__}")
    codes = z.expand(values.shape[0], -1).clone()  # (V, z_dim)
    codes[:, dim] = values
    with torch.no_grad():
        return decoder.mean(codes)  # (V, x_dim)


def prior_quantile_grid(n: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""$n$ values that split $\mathcal N(0, 1)$ into equal-probability cells: $v_i = \Phi^{-1}\big((i + \tfrac12)/n\big)$.

    A grid of $z$ built from them (for each axis) covers the prior evenly in probability, not in
    distance: it is dense near 0 and reaches $\Phi^{-1}(1 - \tfrac1{2n})$ in the tails.

    Args:
        n: number of values, $n \ge 1$.
        dtype: a floating-point dtype.

    Returns:
        shape ``(n,)``, increasing, symmetric about 0.

    Book: *Is z meaningful? The latent space*.
    """
    check_int("n", n, 1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    probs = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (math.sqrt(2.0) * torch.erfinv(2 * probs - 1)).to(dtype)


def prior_norm_mean_std(z_dim: int) -> tuple[float, float]:
    r"""Mean and standard deviation of the norm $\Vert z\Vert$ of $z \sim \mathcal N(0, I_d)$ (a $\chi_d$ variable).

    $$\mathbb E\Vert z\Vert = \sqrt2\,\frac{\Gamma\big(\frac{d+1}2\big)}{\Gamma\big(\frac d2\big)},\qquad
      \operatorname{sd}\Vert z\Vert = \sqrt{d - \big(\mathbb E\Vert z\Vert\big)^2}$$

    (since $\mathbb E\Vert z\Vert^2 = d$). The mean is just below $\sqrt d$ and the standard
    deviation tends to $1/\sqrt2$ as $d$ grows: prior samples live in a thin shell.

    Args:
        z_dim: $d \ge 1$.

    Returns:
        ``(mean, std)``, Python floats.

    Book: *Is z meaningful? The latent space*.
    """
    d = check_int("z_dim", z_dim, 1)
    mean = math.sqrt(2.0) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    return mean, math.sqrt(max(d - mean**2, 0.0))
