"""Input validation, written once: the helpers every public function of :mod:`vae_edu` checks with.

A bad argument fails early with a ``ValueError`` or ``TypeError`` that names it and says what was
expected, instead of being silently broadcast, clipped or turned into a NaN three functions later.
Each is called where the user's data enter; inner calls trust their inputs.

Book: *Notation and code names*.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "check_generator",
    "check_number",
    "check_tensor",
    "check_event_shapes",
    "check_positive",
    "cholesky_checked",
    "check_batch",
    "check_int",
    "check_positive_float",
    "check_labels",
    "check_callable",
    "check_broadcast",
    "check_mu_log_var",
    "check_per_sample",
    "check_points",
    "check_vector",
]


def check_tensor(name: str, value: object, *, min_dim: int = 0) -> Tensor:
    """Check that ``value`` is a finite floating-point tensor with at least ``min_dim`` dimensions.

    Returns ``value`` itself, unchanged; ``name`` is the argument's name, for the message.

    Raises:
        TypeError: if ``value`` is not a floating-point :class:`torch.Tensor`.
        ValueError: if it has fewer than ``min_dim`` dimensions or contains NaN or ±inf.
    """
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__} "
            f"(convert with torch.as_tensor(..., dtype=torch.float32))"
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s) (the last one is the event "
            f"dimension), got shape {tuple(value.shape)}"
        )
    if not bool(torch.isfinite(value).all()):
        bad = "NaN" if bool(torch.isnan(value).any()) else "infinite"
        raise ValueError(f"{name} contains {bad} values")
    return value


def check_event_shapes(**tensors: Tensor) -> torch.Size:
    """Check that tensors (already checked, ``min_dim=1``) agree in dtype and event (last) dimension.

    The event dimension must be *equal*, never broadcast: a ``(B, 1)`` tensor next to a
    ``(B, 3)`` one is an error. Batch dimensions broadcast, so a single ``(D,)`` prior mean works
    against a ``(B, D)`` batch. Returns the broadcast shape; raises ``TypeError`` for other dtypes
    and ``ValueError`` for other event dimensions or batch shapes that do not broadcast.
    """
    items = list(tensors.items())
    first_name, first = items[0]
    for name, t in items[1:]:
        if t.dtype != first.dtype:
            raise TypeError(
                f"{name} has dtype {t.dtype} but {first_name} has dtype {first.dtype}; "
                f"convert one of them with .to(...)"
            )
        if t.shape[-1] != first.shape[-1]:
            raise ValueError(
                f"{name} has event dimension {t.shape[-1]} (shape {tuple(t.shape)}) but "
                f"{first_name} has {first.shape[-1]} (shape {tuple(first.shape)}); the last "
                f"dimension must match exactly"
            )
    return check_broadcast({n: t.shape for n, t in items})


def check_positive(name: str, value: Tensor) -> Tensor:
    """Check that every entry of an already-validated tensor is strictly positive.

    Raises:
        ValueError: naming ``name`` if any entry is <= 0.
    """
    if not bool((value > 0).all()):
        raise ValueError(f"{name} must be strictly positive, got minimum {value.min().item():.3g}")
    return value


def cholesky_checked(name: str, cov: Tensor) -> Tensor:
    r"""Cholesky factor $L$ (lower triangular, $\Sigma = LL^\top$) of a covariance, with errors that name it.

    Args:
        name: the argument's name, used in the error message.
        cov: a symmetric positive-definite matrix, shape ``(..., D, D)``, already checked with
            :func:`check_tensor`.

    Raises:
        ValueError: if ``cov`` is not square, not symmetric or not positive definite.
    """
    if cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name} must be square (..., D, D), got shape {tuple(cov.shape)}")
    if not torch.allclose(cov, cov.transpose(-1, -2), rtol=1e-5, atol=1e-8):
        raise ValueError(f"{name} must be symmetric")
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ValueError(f"{name} must be positive definite (its Cholesky factorisation failed)")
    return chol


def check_batch(name: str, data: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    """A tensor ``x``, or a tuple ``(x, y, ...)`` for a conditional model, as a tuple of tensors.

    ``x`` (the first tensor) must be a finite floating-point tensor of shape ``(N, ...)`` with
    ``N >= 1``; every tensor must have the same first (batch) dimension.

    Raises:
        TypeError: if ``data`` is not a tensor or a tuple/list of tensors.
        ValueError: naming ``name``, for mismatched batch dimensions, an empty batch or bad values.
    """
    batch = (data,) if isinstance(data, Tensor) else tuple(data) if isinstance(data, (tuple, list)) else None
    if not batch or not all(isinstance(t, Tensor) for t in batch):
        raise TypeError(f"{name} must be a tensor (or a tuple of tensors for a conditional model), got {type(data).__name__}")
    check_tensor(name, batch[0], min_dim=2)
    if any(t.dim() == 0 or t.shape[0] != batch[0].shape[0] for t in batch):
        raise ValueError(f"{name}: every tensor must have the same first (batch) dimension, got {[tuple(t.shape) for t in batch]}")
    if batch[0].shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return batch


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Check that ``value`` is an integer (Python or NumPy, not ``bool``) of at least ``minimum``.

    Args:
        name: the argument's name, used in the error message.
        value: the object to check.
        minimum: the smallest value accepted.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        TypeError: if ``value`` is not an integer (a float such as ``2.0`` is refused too).
        ValueError: if it is below ``minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(name: str, value: object) -> float:
    """Check that ``value`` is a finite real number > 0 (Python or NumPy, not ``bool``).

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it is not finite or not > 0.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_labels(name: str, y: object, num_classes: int, batch_size: int | None = None) -> Tensor:
    """Check class labels: an int64 tensor of shape ``(B,)`` with values in ``[0, num_classes)``.

    ``batch_size``, if given, is the number of labels required (that of the matching ``x``). Returns
    ``y`` unchanged; raises ``TypeError`` unless it is an int64 tensor, ``ValueError`` for a wrong
    shape or values.
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of int64 class labels, got {type(y).__name__}")
    if y.dtype != torch.int64:
        raise TypeError(f"{name} must have dtype torch.int64 (class labels), got {y.dtype}")
    if y.dim() != 1 or (batch_size is not None and y.shape[0] != batch_size):
        want = "(B,)" if batch_size is None else f"({batch_size},) to match x"
        raise ValueError(f"{name} must have shape {want}, got {tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{name} must hold labels in [0, {num_classes}), got values in [{int(y.min())}, {int(y.max())}]")
    return y


def check_number(name: str, value: object, *, minimum: float, integer: bool = False, allow_none: bool = False) -> None:
    """Check that ``value`` is a finite number (an int if ``integer``) of at least ``minimum`` (or ``None``
    if ``allow_none``).

    Raises:
        ValueError: naming ``name``.
    """
    if value is None and allow_none:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not minimum <= value < math.inf:  # type: ignore[operator]
        kind = "an int" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind} >= {minimum}{' or None' if allow_none else ''}, got {value!r}")


def check_generator(generator: object) -> None:
    """Check an optional random generator: ``None`` or a :class:`torch.Generator`.

    Raises:
        TypeError: naming ``generator`` (with the fix for a seed passed instead).
    """
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__} {generator!r} "
            f"(for a seed, pass torch.Generator().manual_seed(seed))"
        )


def check_callable(name: str, value: object, signature: str) -> None:
    """Check that ``value`` is callable; the error shows the expected ``signature``.

    Raises:
        TypeError: naming ``name``, e.g. "log_p_x_given_z must be callable (x, z) -> log p(x|z)".
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable {signature}, got {type(value).__name__}")


def check_broadcast(shapes: dict[str, torch.Size]) -> torch.Size:
    """The broadcast of the batch shapes ``{argument name: shape}``, or an error naming them all.

    Raises:
        ValueError: "batch shapes do not broadcast: x(3,), mu_q(4,)" when they do not.
    """
    try:
        return torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        listed = ", ".join(f"{n}{tuple(s)}" for n, s in shapes.items())
        raise ValueError(f"batch shapes do not broadcast: {listed}") from None


def check_mu_log_var(mu: Tensor, log_var: Tensor) -> None:
    """Check a diagonal Gaussian's ``mu`` and ``log_var``: finite, at least 1-D, same dtype and shape."""
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    if log_var.dtype != mu.dtype:
        raise TypeError(f"log_var has dtype {log_var.dtype} but mu has dtype {mu.dtype}")
    if log_var.shape != mu.shape:
        raise ValueError(
            f"log_var must have the same shape as mu, got mu{tuple(mu.shape)} and log_var{tuple(log_var.shape)}"
        )


def check_per_sample(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """``f(z)`` for samples ``z`` of shape ``(K, ..., D)``, checked: finite, shape ``(K, ...)``, z's dtype."""
    out = f(z)
    check_tensor("f(z)", out)
    if out.shape != z.shape[:-1]:
        raise ValueError(
            f"f must map z of shape {tuple(z.shape)} (K, ..., D) to one value per sample, shape "
            f"{tuple(z.shape[:-1])}; f(z) has shape {tuple(out.shape)}"
        )
    if out.dtype != z.dtype:
        raise TypeError(f"f(z) has dtype {out.dtype} but z has dtype {z.dtype}; f must keep the dtype")
    return out


def check_points(name: str, value: object) -> Tensor:
    """Check that ``value`` is a finite floating-point matrix of ``N`` points, shape ``(N, dim)``."""
    check_tensor(name, value, min_dim=2)
    assert isinstance(value, Tensor)
    if value.dim() != 2:
        raise ValueError(f"{name} must have shape (N, dim), got {tuple(value.shape)}")
    return value


def check_vector(name: str, value: object, size: int, dtype: torch.dtype, *, size_name: str = "z_dim",
                 owner: str = "the model") -> Tensor:
    """Check a batch of vectors: a finite tensor of shape ``(..., size)`` in ``dtype`` (``owner``'s)."""
    check_tensor(name, value, min_dim=1)
    assert isinstance(value, Tensor)
    if value.shape[-1] != size:
        raise ValueError(f"{name} must have last dimension {size_name}={size}, got shape {tuple(value.shape)}")
    if value.dtype != dtype:
        raise TypeError(f"{name} has dtype {value.dtype} but {owner} has dtype {dtype}")
    return value
