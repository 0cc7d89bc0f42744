"""Tests for vae_edu.data.shapes: the synthetic squares with known factors."""

from __future__ import annotations

import pytest
import torch

from vae_edu.data.shapes import FACTOR_NAMES, make_shapes


def test_full_grid_shapes_and_values(dtype: torch.dtype) -> None:
    data = make_shapes(canvas=12, sizes=(2, 3, 4), dtype=dtype)
    assert len(data) == 9 * 9 * 3 and data.canvas == 12
    assert data.x.shape == (243, 144) and data.factors.shape == (243, 3)
    assert data.x.dtype == data.factors.dtype == dtype
    assert set(data.x.unique().tolist()) == {0.0, 1.0}
    assert FACTOR_NAMES == ("x_pos", "y_pos", "size")
    # each image holds a size x size square: size^2 white pixels
    torch.testing.assert_close(data.x.sum(dim=1), data.factors[:, 2] ** 2)
    # every factor combination appears exactly once
    assert torch.unique(data.factors, dim=0).shape[0] == 243


def test_square_is_where_the_factors_say() -> None:
    data = make_shapes(canvas=6, sizes=(2, 3))
    for image, (x_pos, y_pos, size) in zip(data.x, data.factors.long().tolist()):
        img = image.view(6, 6)
        rows, cols = img.nonzero(as_tuple=True)
        assert rows.min().item() == y_pos and rows.max().item() == y_pos + size - 1
        assert cols.min().item() == x_pos and cols.max().item() == x_pos + size - 1


def test_factors_are_uncorrelated_on_the_full_grid() -> None:
    data = make_shapes(dtype=torch.float64)
    corr = torch.corrcoef(data.factors.T)
    torch.testing.assert_close(corr, torch.eye(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_sampled_is_deterministic_given_seed() -> None:
    a = make_shapes(num_samples=50, seed=3)
    b = make_shapes(num_samples=50, seed=3)
    c = make_shapes(num_samples=50, seed=4)
    assert torch.equal(a.x, b.x) and torch.equal(a.factors, b.factors)
    assert not torch.equal(a.factors, c.factors)
    assert a.x.shape == (50, 144)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"canvas": 3}, ValueError, "canvas"),
        ({"canvas": 12.0}, TypeError, "canvas"),
        ({"sizes": ()}, TypeError, "sizes"),
        ({"sizes": (2, 2)}, ValueError, "sizes"),
        ({"sizes": (0, 2)}, ValueError, "sizes"),
        ({"num_samples": 0}, ValueError, "num_samples"),
        ({"num_samples": 5.0}, TypeError, "num_samples"),
        ({"dtype": torch.int64}, TypeError, "dtype"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_inputs(kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        make_shapes(**kwargs)
