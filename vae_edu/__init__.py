"""vae_edu — the package behind the book *Variational Autoencoders, Proved Numerically*.

Every equation of the book maps to one function here, with the book's symbols in its name:

>>> import torch, vae_edu
>>> vae_edu.setup(seed=0)
>>> from vae_edu.kl import kl_normal_std_normal
>>> kl_normal_std_normal(torch.zeros(2), torch.zeros(2))
tensor(0.)
"""

from __future__ import annotations

from . import (
    collapse,
    conditional_linear,
    data,
    dirichlet,
    disentanglement,
    distributions,
    estimators,
    gradients,
    kl,
    latent,
    linear_gaussian,
    linear_vae,
    marginal,
    models,
    objectives,
    sample_quality,
    targets,
    train,
    train_gan,
    utils,
    widgets,
)
from .utils import run_number, run_seed, setup

__version__ = "0.1.0"

__all__ = [
    "setup",
    "run_seed",
    "run_number",
    "collapse",
    "conditional_linear",
    "data",
    "dirichlet",
    "disentanglement",
    "distributions",
    "estimators",
    "gradients",
    "kl",
    "latent",
    "linear_gaussian",
    "linear_vae",
    "marginal",
    "models",
    "objectives",
    "sample_quality",
    "targets",
    "train",
    "train_gan",
    "utils",
    "widgets",
    "__version__",
]
