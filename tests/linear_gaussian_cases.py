"""The small random linear-Gaussian models that the tests of :mod:`vae_edu.exact.marginal` and
:mod:`vae_edu.exact.grid` share, with data drawn from them and the tolerances of an exact result."""

from __future__ import annotations

import math

import torch

from vae_edu.exact import LinearGaussian

F32, F64 = torch.float32, torch.float64
X_DIM, Z_DIM = 5, 2


def random_model(dtype=F64, x_dim: int = X_DIM, z_dim: int = Z_DIM, sigma2: float = 0.4, seed: int = 0) -> LinearGaussian:
    """$W$ and $b$ standard normal (drawn in float64 from ``seed``), in ``dtype``."""
    gen = torch.Generator().manual_seed(seed)
    W = torch.randn(x_dim, z_dim, generator=gen, dtype=F64)
    b = torch.randn(x_dim, generator=gen, dtype=F64)
    return LinearGaussian(W.to(dtype), b.to(dtype), sigma2)


def sample_x(model: LinearGaussian, batch_shape, gen) -> torch.Tensor:
    """Data of shape ``(*batch_shape, x_dim)`` drawn from ``model``."""
    n = max(1, math.prod(batch_shape))
    return model.sample(n, generator=gen).reshape(*batch_shape, model.x_dim)


def exact_close(dtype) -> dict[str, float]:
    """Tolerances for two exact computations of the same number (float32 is rounded once)."""
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == F32 else {"rtol": 1e-10, "atol": 1e-10}
