"""Tests for vae_edu.widgets: the slider explorer and its static figure show the decoder's mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_edu.metrics import traverse
from vae_edu.models import VAE, VAEConfig
from vae_edu.widgets import LatentExplorer, plot_explorer, tile_images

pytest.importorskip("ipywidgets")


@pytest.fixture
def model() -> VAE:
    torch.manual_seed(0)
    return VAE.from_config(VAEConfig(x_dim=16, z_dim=3, hidden=8, num_levels=5))


def test_explorer_image_follows_sliders(model: VAE) -> None:
    explorer = LatentExplorer(model, image_shape=(4, 4))
    assert len(explorer.sliders) == 3 and explorer.z.tolist() == [0.0, 0.0, 0.0]
    for slider, value in zip(explorer.sliders, (0.5, -1.25, 2.0)):
        slider.value = value
    z = torch.tensor([0.5, -1.25, 2.0])
    torch.testing.assert_close(explorer.z, z)
    with torch.no_grad():
        expected = model.decoder.mean(z[None])[0].view(4, 4).numpy()
    np.testing.assert_allclose(explorer.image, expected, rtol=1e-6, atol=1e-6)
    assert explorer.image_widget.value[:8] == b"\x89PNG\r\n\x1a\n"  # a PNG was rendered
    assert explorer.vmax == 4.0


def test_explorer_starts_at_given_z(model: VAE) -> None:
    z = torch.tensor([0.3, 0.0, -0.6])
    explorer = LatentExplorer(model, z, image_shape=(4, 4))
    torch.testing.assert_close(explorer.z, z)
    with pytest.raises(ValueError, match="z must"):
        LatentExplorer(model, torch.zeros(2), image_shape=(4, 4))
    with pytest.raises(ValueError, match="image_shape"):
        LatentExplorer(model, image_shape=(3, 4))
    with pytest.raises(ValueError, match="value_range"):
        LatentExplorer(model, image_shape=(4, 4), value_range=(1.0, -1.0))
    with pytest.raises(TypeError, match="model"):
        LatentExplorer(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_static_figure_shows_the_traversals(model: VAE) -> None:
    z = torch.tensor([0.1, 0.2, -0.3])
    values = torch.tensor([-2.0, 0.0, 2.0])
    fig = plot_explorer(model, z, values, dims=[0, 2], image_shape=(4, 4), title="t")
    shown = np.asarray(fig.axes[0].images[0].get_array())  # (2*5-1, 3*5-1)
    assert shown.shape == (9, 14)
    for row, dim in enumerate([0, 2]):
        images = traverse(model, z, dim, values).view(3, 4, 4).numpy()
        for col in range(3):
            block = shown[row * 5 : row * 5 + 4, col * 5 : col * 5 + 4]
            np.testing.assert_allclose(block, images[col], rtol=1e-6)
    assert fig.axes[0].get_xlabel() == "slider value"
    with pytest.raises(ValueError, match="dims"):
        plot_explorer(model, z, values, dims=[], image_shape=(4, 4))
    with pytest.raises(ValueError, match="values must"):
        plot_explorer(model, z, values[None], image_shape=(4, 4))
    with pytest.raises(TypeError, match="values"):
        plot_explorer(model, z, [-1.0, 1.0], image_shape=(4, 4))  # type: ignore[arg-type]


def test_tile_images() -> None:
    images = torch.arange(5 * 4, dtype=torch.float64).view(5, 4)
    grid = tile_images(images, 2, (2, 2), pad=1, pad_value=-1.0)
    assert grid.shape == (3 * 3 - 1, 2 * 3 - 1)
    torch.testing.assert_close(grid[0:2, 3:5], images[1].view(2, 2))
    torch.testing.assert_close(grid[6:8, 0:2], images[4].view(2, 2))
    assert (grid[6:8, 3:5] == -1).all()  # the empty slot
    with pytest.raises(ValueError, match="image_shape"):
        tile_images(images, 2, (3, 2))
    with pytest.raises(ValueError, match="n_cols"):
        tile_images(images, 0, (2, 2))
    with pytest.raises(TypeError, match="n_cols"):
        tile_images(images, 2.0, (2, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pad"):
        tile_images(images, 2, (2, 2), pad=-1)


def test_interactive_frontend(monkeypatch: pytest.MonkeyPatch) -> None:
    from vae_edu.widgets import interactive_frontend

    monkeypatch.delenv("VAE_EDU_EXPLORER", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert interactive_frontend() is False  # pytest is a batch run
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/user/07_latent_space.ipynb")
    assert interactive_frontend() is True
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv("VAE_EDU_EXPLORER", "1")
    assert interactive_frontend() is True
