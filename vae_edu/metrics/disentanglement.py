r"""How well do single latent dimensions track single generative factors? A correlation-gap score.

For codes $z_n \in \mathbb R^d$ (e.g. encoder means) of data with known factors $v_n \in \mathbb R^K$,
let $R_{jk} = |\operatorname{corr}(z_{\cdot j}, v_{\cdot k})|$ be the absolute Pearson correlation of
latent dimension $j$ with factor $k$ over the data. The **correlation gap** is

$$G = \frac1K\sum_{k=1}^K \Big(R_{(1),k} - R_{(2),k}\Big),$$

where $R_{(1),k} \ge R_{(2),k}$ are the largest and second-largest entries of column $k$. It is the
linear, correlation-based analogue of the mutual information gap (MIG; Chen et al., 2018):
$G = 1$ when every factor is tracked (linearly, perfectly) by one dimension and by no other, and a
rotated code that mixes two factors equally scores 0 on them. A constant (collapsed) dimension has
correlation 0 with everything. It measures *linear* tracking only.

Book: *Is z meaningful? The latent space*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_tensor

__all__ = ["CorrelationGap", "abs_correlation", "correlation_gap"]


@dataclass(frozen=True)
class CorrelationGap:
    """The correlation-gap score and what it is made of.

    Attributes:
        score: $G$, shape ``()``.
        gaps: $R_{(1),k} - R_{(2),k}$ per factor, shape ``(K,)``.
        best_dim: the latent dimension that tracks each factor best, shape ``(K,)``, int64.
        abs_corr: $R$, shape ``(d, K)``.
    """

    score: Tensor
    gaps: Tensor
    best_dim: Tensor
    abs_corr: Tensor


def abs_correlation(codes: Tensor, factors: Tensor) -> Tensor:
    r"""$R_{jk} = |\operatorname{corr}(z_{\cdot j}, v_{\cdot k})|$, the absolute Pearson correlation of every latent dimension with every factor.

    $$R_{jk} = \frac{\big|\sum_n (z_{nj} - \bar z_j)(v_{nk} - \bar v_k)\big|}{\sqrt{\sum_n (z_{nj} - \bar z_j)^2\,\sum_n (v_{nk} - \bar v_k)^2}}$$

    A dimension with zero variance gets $R_{jk} = 0$.

    Args:
        codes: $z$, shape ``(N, d)``, $N \ge 2$.
        factors: $v$, shape ``(N, K)``, same dtype; every factor must vary.

    Returns:
        shape ``(d, K)``, in $[0, 1]$.

    Book: *Is z meaningful? The latent space*.
    """
    for name, value in (("codes", codes), ("factors", factors)):
        check_tensor(name, value, min_dim=2)
        if value.dim() != 2:
            raise ValueError(f"{name} must have shape (N, dim), got {tuple(value.shape)}")
    if factors.shape[0] != codes.shape[0]:
        raise ValueError(f"factors must have N = {codes.shape[0]} rows like codes, got {factors.shape[0]}")
    if factors.dtype != codes.dtype:
        raise TypeError(f"factors has dtype {factors.dtype} but codes has dtype {codes.dtype}")
    if codes.shape[0] < 2:
        raise ValueError(f"codes needs at least 2 rows, got {codes.shape[0]}")
    zc = codes - codes.mean(dim=0)  # (N, d)
    vc = factors - factors.mean(dim=0)  # (N, K)
    v_norm = vc.norm(dim=0)  # (K,)
    if bool((v_norm == 0).any()):
        raise ValueError("factors: every factor must vary over the data (a constant column has no correlation)")
    z_norm = zc.norm(dim=0)  # (d,)
    safe = torch.where(z_norm > 0, z_norm, torch.ones_like(z_norm))
    corr = (zc.T @ vc) / (safe[:, None] * v_norm[None, :])  # (d, K)
    corr = torch.where(z_norm[:, None] > 0, corr, torch.zeros_like(corr))
    return corr.abs().clamp(max=1.0)


def correlation_gap(codes: Tensor, factors: Tensor) -> CorrelationGap:
    r"""The correlation gap $G = \frac1K\sum_k \big(R_{(1),k} - R_{(2),k}\big)$ (see the module docstring).

    Args:
        codes: $z$, shape ``(N, d)`` with $d \ge 2$.
        factors: $v$, shape ``(N, K)``, same dtype.

    Returns:
        a :class:`CorrelationGap`; ``score`` is in $[0, 1]$.

    Book: *Is z meaningful? The latent space*.
    """
    abs_corr = abs_correlation(codes, factors)  # (d, K)
    if abs_corr.shape[0] < 2:
        raise ValueError(f"codes needs at least 2 latent dimensions for a gap, got {abs_corr.shape[0]}")
    top = abs_corr.topk(2, dim=0)  # values/indices (2, K)
    gaps = top.values[0] - top.values[1]  # (K,)
    return CorrelationGap(gaps.mean(), gaps, top.indices[0], abs_corr)
