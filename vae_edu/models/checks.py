"""The checks the models run on their inputs, written once.

:class:`~vae_edu.models.VAE` calls its decoder's ``check_data`` at its public methods (when
``validate_args`` is on); the parts themselves trust what they are given.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import check_int, check_tensor, check_vector
from .config import VAEConfig

__all__ = ["model_dtype", "check_data", "check_z", "check_beta", "check_call"]


def model_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of ``module``'s first parameter."""
    return next(module.parameters()).dtype


def check_data(name: str, x: object, config: VAEConfig, dtype: torch.dtype, *, values: bool = True) -> Tensor:
    """Check a batch of data for a model: shape ``(B, x_dim)``, the model's dtype, finite, and
    (if ``values``) values the likelihood can score: levels ``0..L-1`` (categorical) or 0/1 (Bernoulli).

    Raises:
        TypeError, ValueError: naming ``name``.
    """
    check_tensor(name, x, min_dim=2)
    assert isinstance(x, Tensor)
    if x.dim() != 2 or x.shape[1] != config.x_dim:
        raise ValueError(f"{name} must have shape (batch, x_dim={config.x_dim}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model has dtype {dtype}; convert with .to({dtype})")
    top = config.num_levels - 1
    if values and config.likelihood == "categorical":
        if not bool((x == torch.round(x)).all()):
            raise ValueError(f"{name} must hold integer levels 0..{top} for the categorical decoder")
        if not bool(((x >= 0) & (x <= top)).all()):
            raise ValueError(
                f"{name} must hold levels in [0, {top}] for the categorical decoder, got values in "
                f"[{x.min().item():g}, {x.max().item():g}]"
            )
    if values and config.likelihood == "bernoulli" and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must hold only 0s and 1s for the Bernoulli decoder (binarize it first)")
    return x


def check_z(z: object, z_dim: int, dtype: torch.dtype) -> Tensor:
    """Check latent codes: a finite tensor of shape ``(..., z_dim)`` in ``dtype``."""
    return check_vector("z", z, z_dim, dtype)


def check_beta(beta: object) -> float:
    """``beta`` as a float; ``ValueError`` unless it is a finite number >= 0."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta must be a number, got {type(beta).__name__} {beta!r}")
    if not 0 <= beta < math.inf:
        raise ValueError(f"beta must be a finite float >= 0, got {beta!r}")
    return float(beta)


def check_call(model: nn.Module, x: Tensor, context: tuple[Tensor, ...], num_samples: int = 1) -> None:
    """What a :class:`~vae_edu.models.VAE` method checks of its call: keyword-only options, and
    (with ``validate_args``) ``num_samples`` and the data, through ``model.check_data``."""
    for extra in context:
        if isinstance(extra, (int, float, torch.Generator)):
            raise TypeError(
                "num_samples, beta and generator are keyword-only (model.elbo(x, num_samples=10)); "
                f"extra positional arguments are a conditional model's inputs, got {type(extra).__name__} {extra!r}"
            )
    if model.validate_args:
        check_int("num_samples", num_samples)
        model.check_data(x, *context)
