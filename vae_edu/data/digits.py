r"""scikit-learn's 8×8 digits, split as in Tomczak's *Deep Generative Modeling* code. Offline.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import DataSplits, Representation, Split, check_float_dtype, check_representation, to_representation

__all__ = ["load_digits_split", "DIGITS_NUM_LEVELS", "DIGITS_SPLIT"]

#: The number of grey levels of sklearn's digits, whose pixels hold the integers 0, 1, ..., 16.
DIGITS_NUM_LEVELS = 17
#: Sizes of the train / validation / test parts, taken in dataset order.
DIGITS_SPLIT = (1000, 350, 447)


def load_digits_split(representation: Representation = "levels", *, dtype: torch.dtype = torch.float32) -> DataSplits:
    r"""scikit-learn's digits as train (1000) / validation (350) / test (447) parts, in dataset order.

    The images are 8×8 = 64 pixels with integer grey levels $0,\dots,16$; the data ship inside
    scikit-learn, so this works offline.

    Args:
        representation: ``"levels"`` — the integer levels 0..16 as floats (for the categorical
            decoder over 17 values); ``"unit"`` — levels / 16, in $[0, 1]$ (Gaussian decoder);
            ``"binary"`` — 1 where levels / 16 ≥ 0.5 (levels ≥ 8), else 0 (Bernoulli decoder).
        dtype: floating-point dtype of the images.

    Returns:
        A :class:`DataSplits` whose parts have ``x`` of shape ``(n, 64)`` and ``y`` of shape ``(n,)``.

    Book: *Training a VAE on digits*.
    """
    check_representation(representation)
    check_float_dtype(dtype)
    from sklearn.datasets import load_digits

    digits = load_digits()
    levels = digits.data.astype(np.int64)  # (1797, 64), exact integers 0..16
    x = to_representation(levels, representation, DIGITS_NUM_LEVELS, dtype)  # (1797, 64)
    y = torch.as_tensor(digits.target, dtype=torch.int64)  # (1797,)
    cuts = np.cumsum((0, *DIGITS_SPLIT))
    if x.shape[0] != cuts[-1]:
        raise RuntimeError(f"sklearn's digits have {x.shape[0]} images, expected {cuts[-1]}")
    parts = [Split(x[a:b].clone(), y[a:b].clone()) for a, b in zip(cuts[:-1], cuts[1:])]
    return DataSplits(*parts)
