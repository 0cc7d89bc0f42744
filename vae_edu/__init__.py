"""vae_edu — the package behind the book *Variational Autoencoders, Proved Numerically*.

Every equation of the book maps to one function here, with the book's symbols in its name:

>>> import torch, vae_edu
>>> vae_edu.setup(seed=0)
>>> from vae_edu.kl import kl_normal_std_normal
>>> kl_normal_std_normal(torch.zeros(2), torch.zeros(2))
tensor(0.)

The submodules are imported when first used (``vae_edu.kl``, ``from vae_edu import models``), so
``import vae_edu`` costs only torch, and the math (:mod:`vae_edu.kl`, :mod:`vae_edu.estimators`)
needs none of the notebook extras: :mod:`vae_edu.plotting` and :mod:`vae_edu.widgets` need
matplotlib, ipywidgets and IPython, installed by ``pip install "vae-edu[book]"``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .utils import run_number, run_seed, setup

__version__ = "0.1.0"

#: The submodules, imported on first access (PEP 562).
_SUBMODULES = (
    "collapse",
    "conditional_linear",
    "data",
    "dirichlet",
    "discrete",
    "disentanglement",
    "distributions",
    "estimators",
    "gradients",
    "kl",
    "latent",
    "linear_gaussian",
    "linear_gaussian_chain",
    "linear_vae",
    "marginal",
    "models",
    "objectives",
    "plotting",
    "proposals",
    "sample_quality",
    "targets",
    "train",
    "train_gan",
    "utils",
    "widgets",
)
#: What ``pip install "vae-edu[book]"`` adds: the modules only the notebooks' figures and sliders need.
_BOOK_EXTRA = {"matplotlib", "ipywidgets", "IPython"}

__all__ = ["setup", "run_seed", "run_number", *_SUBMODULES, "__version__"]


def __getattr__(name: str) -> ModuleType:
    if name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return importlib.import_module(f".{name}", __name__)  # also sets it as an attribute
    except ModuleNotFoundError as err:
        if (err.name or "").partition(".")[0] in _BOOK_EXTRA:
            raise ModuleNotFoundError(
                f"vae_edu.{name} needs {err.name}, one of the book's extras: pip install \"vae-edu[book]\"",
                name=err.name,
            ) from err
        raise


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
