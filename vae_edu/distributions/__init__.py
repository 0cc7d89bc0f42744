r"""Log-densities and the reparameterization trick.

All log-densities sum over the event (last) dimension and return the batch shape.

* :mod:`~vae_edu.distributions.gaussian` — Gaussian log-densities, entropies and
  :func:`reparameterize`;
* :mod:`~vae_edu.distributions.categorical` — Bernoulli, categorical and multinomial log-probabilities;
* :mod:`~vae_edu.distributions.dirichlet` — the Dirichlet: log-density, samplers, score and the
  Laplace approximation in the softmax basis.

>>> from vae_edu.distributions import log_standard_normal

Book: *The Gaussian KL, derived and checked*.
"""

from __future__ import annotations

from . import categorical, dirichlet, gaussian

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [*gaussian.__all__, *categorical.__all__, *dirichlet.__all__]

from .gaussian import *  # noqa: F403 (each module's __all__)
from .categorical import *  # noqa: F403 (each module's __all__)
from .dirichlet import *  # noqa: F403 (each module's __all__)
