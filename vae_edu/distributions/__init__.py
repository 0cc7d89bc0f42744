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

from .dirichlet import (
    dirichlet_to_logistic_normal,
    log_dirichlet,
    logistic_normal_to_dirichlet,
    rsample_dirichlet,
    rsample_logistic_normal,
    score_dirichlet,
)
from .categorical import log_bernoulli, log_categorical, log_multinomial
from .gaussian import (
    LOG_2PI,
    cross_entropy_normal_diag,
    entropy_normal_diag,
    log_normal_diag,
    log_normal_full,
    log_standard_normal,
    reparameterize,
)

__all__ = [
    "LOG_2PI",
    "log_normal_diag",
    "log_standard_normal",
    "log_normal_full",
    "entropy_normal_diag",
    "cross_entropy_normal_diag",
    "reparameterize",
    "log_bernoulli",
    "log_categorical",
    "log_multinomial",
    "log_dirichlet",
    "score_dirichlet",
    "dirichlet_to_logistic_normal",
    "logistic_normal_to_dirichlet",
    "rsample_dirichlet",
    "rsample_logistic_normal",
]
