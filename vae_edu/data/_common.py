r"""What every dataset loader shares: the :class:`Split` / :class:`DataSplits` containers and the
image representations (integer levels, $[0, 1]$, binary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor

__all__ = ["Split", "DataSplits", "Representation"]

Representation = Literal["levels", "unit", "binary"]
_REPRESENTATIONS = ("levels", "unit", "binary")


@dataclass(frozen=True)
class Split:
    """One part of a dataset: images and labels.

    Attributes:
        x: images, shape ``(n, x_dim)``, floating point.
        y: integer labels, shape ``(n,)``, dtype ``int64``.
    """

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class DataSplits:
    """The train, validation and test parts of a dataset."""

    train: Split
    val: Split
    test: Split


def check_representation(representation: object) -> None:
    if not isinstance(representation, str) or representation not in _REPRESENTATIONS:
        raise ValueError(f"representation must be 'levels', 'unit' or 'binary', got {representation!r}")


def check_float_dtype(dtype: object) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")


def to_representation(levels: np.ndarray, representation: str, num_levels: int, dtype: torch.dtype) -> Tensor:
    """Integer grey levels ``0..num_levels-1`` (any shape) → the requested representation, in ``dtype``."""
    levels_t = torch.as_tensor(levels)
    if representation == "levels":
        return levels_t.to(dtype)  # the integers 0..num_levels-1 themselves, for a categorical decoder
    if representation == "unit":
        return levels_t.to(dtype).div_(num_levels - 1)  # in [0, 1], one correctly rounded division
    # binary: levels / (num_levels - 1) >= 1/2  <=>  levels >= num_levels // 2 (exact, in integers)
    return (levels_t >= num_levels // 2).to(dtype)
