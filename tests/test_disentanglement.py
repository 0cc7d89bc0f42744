"""Tests for vae_edu.metrics.disentanglement: the correlation-gap score."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.data.shapes import make_shapes
from vae_edu.metrics import abs_correlation, correlation_gap


@pytest.fixture
def factors() -> torch.Tensor:
    return make_shapes(dtype=torch.float64).factors  # (243, 3), uncorrelated columns


def test_perfectly_disentangled_code_scores_one(factors: torch.Tensor) -> None:
    # each factor in its own dimension (affine, permuted, with a sign flip) plus a constant dimension
    codes = torch.stack([factors[:, 2] * 0.3 - 1, torch.zeros(243, dtype=torch.float64), -2 * factors[:, 0], factors[:, 1]], 1)
    result = correlation_gap(codes, factors)
    assert result.score.item() == pytest.approx(1.0, abs=1e-12)
    assert result.best_dim.tolist() == [2, 3, 0]
    assert result.abs_corr.shape == (4, 3)
    assert result.abs_corr[1].tolist() == [0.0, 0.0, 0.0]  # the constant dimension


def test_rotated_code_scores_low(factors: torch.Tensor) -> None:
    standard = (factors - factors.mean(0)) / factors.std(0)
    c = math.cos(math.pi / 4)
    rotation = torch.tensor([[c, -c, 0.0], [c, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    result = correlation_gap(standard @ rotation, factors)
    # x and y are mixed equally into two dimensions: gap 0 for them, 1 for size
    torch.testing.assert_close(result.gaps, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), atol=1e-12, rtol=0)
    assert result.score.item() == pytest.approx(1 / 3, abs=1e-12)
    # a generic rotation of all three scores well below 1
    q, _ = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    assert correlation_gap(standard @ q, factors).score.item() < 0.5


def test_abs_correlation_matches_corrcoef(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(50, 3, dtype=dtype, generator=gen)
    factors = torch.randn(50, 2, dtype=dtype, generator=gen) + codes[:, :2]
    full = torch.corrcoef(torch.cat([codes, factors], 1).T)  # (5, 5)
    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(abs_correlation(codes, factors), full[:3, 3:].abs(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize(
    ("codes", "factors", "error", "name"),
    [
        (torch.zeros(5, 1), torch.randn(5, 2), ValueError, "2 latent"),
        (torch.randn(5, 2), torch.ones(5, 2), ValueError, "factors"),
        (torch.randn(5, 2), torch.randn(4, 2), ValueError, "factors"),
        (torch.randn(5, 2), torch.randn(5, 2, dtype=torch.float64), TypeError, "factors"),
        (torch.randn(5), torch.randn(5, 2), ValueError, "codes"),
        ([[0.0]], torch.randn(1, 2), TypeError, "codes"),
        (torch.full((5, 2), float("nan")), torch.randn(5, 2), ValueError, "codes"),
    ],
)
def test_bad_inputs(codes: object, factors: object, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        correlation_gap(codes, factors)  # type: ignore[arg-type]
