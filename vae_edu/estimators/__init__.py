r"""Monte Carlo estimators with standard errors, and estimates of $\log p(x)$.

* :mod:`~vae_edu.estimators.monte_carlo` — means with standard errors, the Monte Carlo KL and
  ELBO, $\log$-mean-$\exp$ and effective sample size;
* :mod:`~vae_edu.estimators.significance` — $z$-scores and the checks the chapters make with them
  (within $k$ standard errors of an exact value, or beyond a bound by more than $k$);
* :mod:`~vae_edu.estimators.likelihood` — the IWAE bound $\mathcal L_k$ and the importance-sampled
  $\log p(x)$ of a model;
* :mod:`~vae_edu.estimators.proposals` — proposals other than the encoder: the defensive mixture;
* :mod:`~vae_edu.estimators.ais` — annealed importance sampling, a second estimate of $\log p(x)$.

>>> from vae_edu.estimators import mc_mean

Book: *The Gaussian KL, derived and checked*.
"""

from __future__ import annotations

from . import ais, ais_likelihood, likelihood, monte_carlo, proposals, significance

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [
    *monte_carlo.__all__,
    *significance.__all__,
    *likelihood.__all__,
    *proposals.__all__,
    *ais.__all__,
    *ais_likelihood.__all__,
]

from .monte_carlo import *  # noqa: F403 (each module's __all__)
from .significance import *  # noqa: F403 (each module's __all__)
from .likelihood import *  # noqa: F403 (each module's __all__)
from .proposals import *  # noqa: F403 (each module's __all__)
from .ais import *  # noqa: F403 (each module's __all__)
from .ais_likelihood import *  # noqa: F403 (each module's __all__)
