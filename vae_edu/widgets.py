r"""An interactive latent-space explorer (sliders over $z$ → decoded image) and its static twin for the book.

:class:`LatentExplorer` needs ``ipywidgets`` (present in Jupyter and Colab); it is imported only
when an explorer is created. :func:`plot_explorer` draws the same decoded images — each row moves
one slider while the others stay at the base code — to a matplotlib figure, which is what the
rendered (static) book shows.

Book: *Is z meaningful? The latent space*.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from .checks import check_int, check_tensor
from .metrics.latent import traverse

__all__ = ["tile_images", "LatentExplorer", "plot_explorer", "interactive_frontend"]


def _check_image_shape(image_shape: object, x_dim: int | None = None) -> tuple[int, int]:
    if (
        not isinstance(image_shape, tuple)
        or len(image_shape) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in image_shape)
    ):
        raise ValueError(f"image_shape must be a tuple (height, width) of positive ints, got {image_shape!r}")
    if x_dim is not None and image_shape[0] * image_shape[1] != x_dim:
        raise ValueError(f"image_shape {image_shape} does not hold x_dim = {x_dim} pixels")
    return image_shape


def _decoder_of(model: object) -> Any:
    decoder = getattr(model, "decoder", None)
    if decoder is None or not hasattr(decoder, "mean") or not hasattr(decoder, "config"):
        raise TypeError(f"model must have a decoder with mean(z) and a config, got {type(model).__name__}")
    return decoder


def tile_images(images: Tensor, n_cols: int, image_shape: tuple[int, int], pad: int = 1, pad_value: float = 0.0) -> Tensor:
    r"""Arrange flat images in a grid, row by row, separated by ``pad`` pixels.

    Args:
        images: shape ``(n, H * W)``.
        n_cols: images per row (the last row is filled with ``pad_value``).
        image_shape: ``(H, W)``.
        pad: pixels between images.
        pad_value: the value of the padding.

    Returns:
        one image, shape ``(rows * (H + pad) - pad, n_cols * (W + pad) - pad)``.

    Book: *Is z meaningful? The latent space*.
    """
    check_tensor("images", images, min_dim=2)
    height, width = _check_image_shape(image_shape, images.shape[-1] if images.dim() == 2 else None)
    if images.dim() != 2:
        raise ValueError(f"images must have shape (n, H * W), got {tuple(images.shape)}")
    n_cols = check_int("n_cols", n_cols, 1)
    pad = check_int("pad", pad, 0)
    n_rows = -(-images.shape[0] // n_cols)
    canvas = torch.full(
        (n_rows * (height + pad) - pad, n_cols * (width + pad) - pad), pad_value, dtype=images.dtype
    )
    for i, image in enumerate(images):
        r, c = divmod(i, n_cols)
        top, left = r * (height + pad), c * (width + pad)
        canvas[top : top + height, left : left + width] = image.view(height, width)  # (H, W)
    return canvas


class LatentExplorer:
    r"""Sliders over the coordinates of $z$, and the decoder's expected image $\mathbb E_{p(x|z)}[x]$ at that $z$.

    Display it as the last expression of a Jupyter or Colab cell (``explorer`` or
    ``display(explorer.widget)``). Moving a slider re-decodes the image.

    Args:
        model: a model with ``decoder.mean(z)`` and ``decoder.config`` (e.g. :class:`~vae_edu.models.VAE`).
        z: the starting code, shape ``(z_dim,)`` in the model's dtype (default: zeros, the prior's mode).
        image_shape: ``(H, W)`` with ``H * W = x_dim``.
        value_range: the sliders' ``(min, max)``.
        step: the sliders' step.
        vmax: the image value shown as white (default: ``num_levels - 1`` for the categorical
            decoder, 1 otherwise).
        width: the image's width on screen, in CSS pixels.

    Raises:
        ImportError: if ``ipywidgets`` is not installed (``pip install ipywidgets``).

    Book: *Is z meaningful? The latent space*.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        z: Tensor | None = None,
        *,
        image_shape: tuple[int, int] = (8, 8),
        value_range: tuple[float, float] = (-3.0, 3.0),
        step: float = 0.05,
        vmax: float | None = None,
        width: int = 160,
    ) -> None:
        try:
            import ipywidgets
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "LatentExplorer needs ipywidgets: pip install ipywidgets (Jupyter and Colab ship it); "
                "for a static view use vae_edu.widgets.plot_explorer"
            ) from err
        self.decoder = _decoder_of(model)
        config = self.decoder.config
        self.image_shape = _check_image_shape(image_shape, config.x_dim)
        dtype = next(self.decoder.parameters()).dtype
        if z is None:
            z = torch.zeros(config.z_dim, dtype=dtype)
        check_tensor("z", z, min_dim=1)
        if z.shape != (config.z_dim,):
            raise ValueError(f"z must have shape (z_dim,) = ({config.z_dim},), got {tuple(z.shape)}")
        low, high = value_range
        if not low < high:
            raise ValueError(f"value_range must be (min, max) with min < max, got {value_range!r}")
        self.dtype = dtype
        self.vmax = float(vmax if vmax is not None else (config.num_levels - 1 if config.likelihood == "categorical" else 1.0))
        self.sliders = [
            ipywidgets.FloatSlider(
                value=float(min(max(v, low), high)), min=low, max=high, step=step, description=f"z[{j}]",
                continuous_update=True, readout_format=".2f",
            )
            for j, v in enumerate(z.tolist())
        ]
        self.image_widget = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width=f"{width}px"))
        self.widget = ipywidgets.HBox([ipywidgets.VBox(self.sliders), self.image_widget])
        self.image = np.zeros(self.image_shape)
        for slider in self.sliders:
            slider.observe(self._update, names="value")
        self._update()

    @property
    def z(self) -> Tensor:
        """The code the sliders show, shape ``(z_dim,)``."""
        return torch.tensor([s.value for s in self.sliders], dtype=self.dtype)

    def _update(self, change: object = None) -> None:
        with torch.no_grad():
            mean = self.decoder.mean(self.z[None, :])[0]  # (x_dim,)
        self.image = mean.view(self.image_shape).numpy().copy()  # (H, W)
        import matplotlib.image

        buffer = io.BytesIO()
        matplotlib.image.imsave(buffer, self.image, cmap="gray", vmin=0.0, vmax=self.vmax, format="png")
        self.image_widget.value = buffer.getvalue()

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a front end
        from IPython.display import display

        display(self.widget)


def plot_explorer(
    model: torch.nn.Module,
    z: Tensor,
    values: Tensor,
    *,
    dims: Sequence[int] | None = None,
    image_shape: tuple[int, int] = (8, 8),
    vmax: float | None = None,
    figsize: tuple[float, float] = (6.0, 3.0),
    title: str = "",
) -> Figure:
    r"""The explorer as a static figure: row $i$ moves slider ``dims[i]`` through ``values`` (a traversal).

    The image in row $i$, column $c$ is ``traverse(model, z, dims[i], values)[c]``, exactly what
    :class:`LatentExplorer` shows with the sliders at ``z`` and slider ``dims[i]`` at ``values[c]``.
    The tiled image is ``fig.axes[0].images[0].get_array()``.

    Args:
        model: a model with ``decoder.mean(z)`` (e.g. :class:`~vae_edu.models.VAE`).
        z: the base code, shape ``(z_dim,)``.
        values: slider positions, shape ``(V,)``.
        dims: the latent dimensions to move (default: all).
        image_shape: ``(H, W)`` with ``H * W = x_dim``.
        vmax: the value shown as white (default as in :class:`LatentExplorer`).
        figsize: the figure size, in inches.
        title: the figure's title.

    Returns:
        a :class:`matplotlib.figure.Figure` (not attached to pyplot; show it with ``display(fig)``).

    Book: *Is z meaningful? The latent space*.
    """
    decoder = _decoder_of(model)
    config = decoder.config
    _check_image_shape(image_shape, config.x_dim)
    check_tensor("z", z, min_dim=1)
    if z.shape != (config.z_dim,):
        raise ValueError(f"z must have shape (z_dim,) = ({config.z_dim},), got {tuple(z.shape)}")
    check_tensor("values", values, min_dim=1)
    if values.dim() != 1:
        raise ValueError(f"values must have shape (V,), got {tuple(values.shape)}")
    dims = list(range(config.z_dim)) if dims is None else list(dims)
    if not dims:
        raise ValueError("dims must name at least one latent dimension")
    rows = [traverse(model, z, d, values) for d in dims]  # each (V, x_dim)
    grid = tile_images(torch.cat(rows), values.shape[0], image_shape, pad=1, pad_value=float("nan"))
    vmax = float(vmax if vmax is not None else (config.num_levels - 1 if config.likelihood == "categorical" else 1.0))
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    height, width = image_shape
    ax.imshow(grid.numpy(), cmap="gray", vmin=0.0, vmax=vmax, interpolation="nearest")
    ax.set_xticks([c * (width + 1) + (width - 1) / 2 for c in range(values.shape[0])])
    ax.set_xticklabels([f"{v:.1f}" for v in values.tolist()])
    ax.set_yticks([r * (height + 1) + (height - 1) / 2 for r in range(len(dims))])
    ax.set_yticklabels([f"$z_{{{d}}}$" for d in dims])
    ax.set_xlabel("slider value")
    ax.set_ylabel("slider moved")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def interactive_frontend() -> bool:
    """Whether this kernel is (probably) attached to a front end that can show widgets.

    True in Google Colab, in a kernel started by a Jupyter server (JupyterLab, Notebook 7,
    which set ``JPY_SESSION_NAME``), or when the environment variable ``VAE_EDU_EXPLORER=1``
    is set; False in batch execution (``nbconvert --execute``, nbval), where creating widgets
    would only store their state in the notebook file.

    Book: *Is z meaningful? The latent space*.
    """
    import os
    import sys

    if os.environ.get("VAE_EDU_EXPLORER", "") == "1":
        return True
    return "google.colab" in sys.modules or bool(os.environ.get("JPY_SESSION_NAME"))
