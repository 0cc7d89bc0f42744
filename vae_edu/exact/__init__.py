r"""The exact models: the playground where every term of the ELBO is known in closed form.

* :mod:`~vae_edu.exact.linear_gaussian` — the linear-Gaussian model (probabilistic PCA);
* :mod:`~vae_edu.exact.marginal` and :mod:`~vae_edu.exact.grid` — $p(x)$ and $p(z|x)$ by brute
  force on a grid, and by importance sampling with its exact variance;
* :mod:`~vae_edu.exact.linear_vae` — a VAE with linear encoder and decoder;
* :mod:`~vae_edu.exact.conditional_linear` — the conditional model of the CVAE chapter;
* :mod:`~vae_edu.exact.linear_gaussian_chain` — a two-layer chain, the hierarchical VAE's;
* :mod:`~vae_edu.exact.targets` — a banana-shaped 2-D target and variational families fitted to it.

>>> from vae_edu.exact import LinearGaussian

Book: *Latent-variable models and the intractable marginal*.
"""

from __future__ import annotations

from . import (
    chain_elbo,
    conditional_linear,
    grid,
    linear_gaussian,
    linear_gaussian_chain,
    linear_vae,
    linear_vae_fit,
    marginal,
    ppca,
    targets,
)

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [
    *linear_gaussian.__all__,
    *ppca.__all__,
    *marginal.__all__,
    *grid.__all__,
    *linear_vae.__all__,
    *linear_vae_fit.__all__,
    *conditional_linear.__all__,
    *linear_gaussian_chain.__all__,
    *chain_elbo.__all__,
    *targets.__all__,
]

from .linear_gaussian import *  # noqa: F403 (each module's __all__)
from .ppca import *  # noqa: F403 (each module's __all__)
from .marginal import *  # noqa: F403 (each module's __all__)
from .grid import *  # noqa: F403 (each module's __all__)
from .linear_vae import *  # noqa: F403 (each module's __all__)
from .linear_vae_fit import *  # noqa: F403 (each module's __all__)
from .conditional_linear import *  # noqa: F403 (each module's __all__)
from .linear_gaussian_chain import *  # noqa: F403 (each module's __all__)
from .chain_elbo import *  # noqa: F403 (each module's __all__)
from .targets import *  # noqa: F403 (each module's __all__)
