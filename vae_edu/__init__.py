"""vae_edu — the package behind the book *Variational Autoencoders, Proved Numerically*.

Every equation of the book maps to one function here, with the book's symbols in its name:

>>> import torch, vae_edu
>>> vae_edu.setup(seed=0)
>>> from vae_edu.kl import kl_normal_std_normal
>>> kl_normal_std_normal(torch.zeros(2), torch.zeros(2))
tensor(0.)

The layout follows the book: the math (:mod:`vae_edu.distributions`, :mod:`vae_edu.kl`,
:mod:`vae_edu.estimators`, :mod:`vae_edu.gradients`), the exact models (:mod:`vae_edu.exact`), the
parts and their composition (:mod:`vae_edu.models`), :mod:`vae_edu.data`, :mod:`vae_edu.training`
and :mod:`vae_edu.metrics`. The submodules are imported when first used (``vae_edu.kl``,
``from vae_edu import models``), so
``import vae_edu`` costs only torch, and the math (:mod:`vae_edu.kl`, :mod:`vae_edu.estimators`)
needs none of the notebook extras: :mod:`vae_edu.plotting` and :mod:`vae_edu.widgets` need
matplotlib, ipywidgets and IPython, installed by ``pip install "vae-edu[book]"``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

from .utils import run_number, run_seed, setup

__version__ = "0.1.0"

#: The subpackages and modules, imported on first access (PEP 562), in the book's order.
_SUBMODULES = (
    "utils",
    "checks",
    "distributions",
    "kl",
    "estimators",
    "gradients",
    "exact",
    "models",
    "data",
    "training",
    "metrics",
    "discrete",
    "plotting",
    "widgets",
)
#: What ``pip install "vae-edu[book]"`` adds: the modules only the notebooks' figures and sliders need.
_BOOK_EXTRA = {"matplotlib", "ipywidgets", "IPython"}

#: The flat modules of the first layout, and where their names live now. Importing one still
#: works, with a ``DeprecationWarning`` naming the new place.
MOVED_MODULES: dict[str, tuple[str, ...]] = {
    **{name: ("vae_edu.exact",) for name in (
        "linear_gaussian", "linear_gaussian_chain", "conditional_linear", "linear_vae", "marginal",
        "targets")},
    **{name: ("vae_edu.training",) for name in ("train", "objectives", "train_gan")},
    **{name: ("vae_edu.metrics",) for name in (
        "collapse", "latent", "disentanglement", "sample_quality")},
    "ais": ("vae_edu.estimators",),
    "proposals": ("vae_edu.estimators",),
    "dirichlet": ("vae_edu.distributions", "vae_edu.metrics"),
}

__all__ = ["setup", "run_seed", "run_number", *_SUBMODULES, "__version__"]


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``vae_edu.<old name>`` as a module that forwards to the new places, and warns."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        package, _, name = fullname.partition(".")
        if package == __name__ and name in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        places = MOVED_MODULES[module.__name__.partition(".")[2]]
        targets = [importlib.import_module(place) for place in places]
        warnings.warn(f"{module.__name__} has moved: import from {' or '.join(places)}",
                      DeprecationWarning, stacklevel=2)  # the import machinery's frames are skipped

        def forward(attr: str) -> object:
            for target in targets:
                if hasattr(target, attr):
                    return getattr(target, attr)
            raise AttributeError(f"module {module.__name__!r} has no attribute {attr!r}")

        module.__getattr__ = forward  # type: ignore[method-assign]
        module.__all__ = [name for target in targets for name in target.__all__]


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def __getattr__(name: str) -> ModuleType:
    if name not in _SUBMODULES and name not in MOVED_MODULES:
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
