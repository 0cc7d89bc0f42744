r"""A synthetic image set with known generative factors: one white square on a black canvas.

Every image is made from three factors, on a full grid (every combination once):

* ``x_pos``: the column of the square's top-left pixel, $0, \dots, P-1$;
* ``y_pos``: its row, $0, \dots, P-1$;
* ``size``: the side of the square, one of ``sizes``;

with $P = $ ``canvas - max(sizes) + 1`` so that every square fits. The factors are independent
and uniform over the grid, which is what a disentanglement metric needs: a code that tracks one
factor carries no information about the others.

Book: *Is z meaningful? The latent space*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_int

__all__ = ["Shapes", "FACTOR_NAMES", "make_shapes"]

#: The names of the columns of ``Shapes.factors``.
FACTOR_NAMES: tuple[str, ...] = ("x_pos", "y_pos", "size")


@dataclass(frozen=True)
class Shapes:
    """Images and the factors that made them.

    Attributes:
        x: binary images (0/1), shape ``(N, canvas * canvas)``, row-major.
        factors: the factor values, shape ``(N, 3)``, columns :data:`FACTOR_NAMES`, same dtype as ``x``.
        canvas: the side of the square canvas, in pixels.
    """

    x: Tensor
    factors: Tensor
    canvas: int

    def __len__(self) -> int:
        return int(self.x.shape[0])


def make_shapes(
    canvas: int = 12,
    sizes: Sequence[int] = (2, 3, 4),
    *,
    num_samples: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Shapes:
    r"""Images of a square of known position and size on a ``canvas`` × ``canvas`` grid.

    $$x_{r,c} = \mathbb 1\big[\,y \le r < y + s,\ \ x \le c < x + s\,\big]$$

    Args:
        canvas: side of the canvas (>= max(sizes)).
        sizes: the square sides, distinct positive ints.
        num_samples: ``None`` for the full factor grid ($P^2 \times$ ``len(sizes)`` images, in a
            fixed order); otherwise this many images with factors drawn uniformly from the grid
            (with replacement) by a generator seeded with ``seed``.
        seed: seed for ``num_samples`` draws (the full grid does not use it).
        dtype: a floating-point dtype for ``x`` and ``factors``.

    Returns:
        a :class:`Shapes`.

    Raises:
        TypeError, ValueError: naming the argument.

    Book: *Is z meaningful? The latent space*.
    """
    if isinstance(canvas, bool) or not isinstance(canvas, int):
        raise TypeError(f"canvas must be an int, got {type(canvas).__name__}")
    if not isinstance(sizes, Sequence) or not sizes or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"sizes must be a non-empty sequence of ints, got {sizes!r}")
    if min(sizes) < 1 or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct positive ints, got {tuple(sizes)}")
    if canvas < max(sizes):
        raise ValueError(f"canvas must be >= max(sizes) = {max(sizes)}, got {canvas}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    positions = canvas - max(sizes) + 1
    side = torch.arange(positions)
    size_t = torch.tensor(list(sizes))
    grid = torch.cartesian_prod(side, side, size_t)  # (P*P*S, 3): x_pos, y_pos, size
    if num_samples is not None:
        check_int("num_samples", num_samples, 1)
        gen = torch.Generator().manual_seed(seed)
        grid = grid[torch.randint(grid.shape[0], (num_samples,), generator=gen)]
    x_pos, y_pos, size = grid[:, 0, None, None], grid[:, 1, None, None], grid[:, 2, None, None]  # (N, 1, 1)
    rows = torch.arange(canvas)[None, :, None]  # (1, canvas, 1)
    cols = torch.arange(canvas)[None, None, :]  # (1, 1, canvas)
    images = (rows >= y_pos) & (rows < y_pos + size) & (cols >= x_pos) & (cols < x_pos + size)  # (N, canvas, canvas)
    return Shapes(images.reshape(grid.shape[0], canvas * canvas).to(dtype), grid.to(dtype), canvas)
