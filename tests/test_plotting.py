from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vae_edu.plotting import plot_gaussian_ellipse  # noqa: E402


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ellipse_is_the_mahalanobis_contour(dtype: torch.dtype) -> None:
    mu = torch.tensor([0.5, -1.0], dtype=dtype)
    rot = torch.tensor([[math.cos(0.6), -math.sin(0.6)], [math.sin(0.6), math.cos(0.6)]], dtype=dtype)
    cov = rot @ torch.diag(torch.tensor([4.0, 0.25], dtype=dtype)) @ rot.T
    fig, ax = plt.subplots()
    ellipse = plot_gaussian_ellipse(ax, mu, cov, n_std=2.0, fill=False)
    assert ellipse in ax.patches
    assert ellipse.width == pytest.approx(2 * 2.0 * 2.0, rel=1e-5)  # 2 n sqrt(4)
    assert ellipse.height == pytest.approx(2 * 2.0 * 0.5, rel=1e-5)  # 2 n sqrt(0.25)
    # every point of the drawn path lies at Mahalanobis distance n_std from mu
    angles = np.linspace(0, 2 * np.pi, 50)
    unit_circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)  # the patch's own coordinates, (50, 2)
    path = ellipse.get_patch_transform().transform(unit_circle)  # (50, 2), data coordinates
    diff = torch.as_tensor(path, dtype=torch.float64) - mu.double()
    maha = torch.einsum("pi,ij,pj->p", diff, torch.linalg.inv(cov.double()), diff).sqrt()
    np.testing.assert_allclose(maha.numpy(), 2.0, rtol=1e-4)
    plt.close(fig)


def test_ellipse_rejects_bad_input() -> None:
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="mu"):
        plot_gaussian_ellipse(ax, torch.zeros(3), torch.eye(2))
    with pytest.raises(ValueError, match="cov"):
        plot_gaussian_ellipse(ax, torch.zeros(2), torch.eye(3))
    with pytest.raises(ValueError, match="cov"):
        plot_gaussian_ellipse(ax, torch.zeros(2), torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="n_std"):
        plot_gaussian_ellipse(ax, torch.zeros(2), torch.eye(2), n_std=-1.0)
    with pytest.raises(ValueError, match="cov"):
        plot_gaussian_ellipse(ax, torch.zeros(2), torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    plt.close(fig)
