r"""Monte Carlo estimators with standard errors, and estimates of $\log p(x)$.

* :mod:`~vae_edu.estimators.monte_carlo` — means with standard errors, the checks the chapters
  run with them, the Monte Carlo KL and ELBO, $\log$-mean-$\exp$ and effective sample size;
* :mod:`~vae_edu.estimators.likelihood` — the IWAE bound $\mathcal L_k$ and the importance-sampled
  $\log p(x)$ of a model;
* :mod:`~vae_edu.estimators.proposals` — proposals other than the encoder: the defensive mixture;
* :mod:`~vae_edu.estimators.ais` and :mod:`~vae_edu.estimators.ais_likelihood` — annealed
  importance sampling, a second estimate of $\log p(x)$ that needs no encoder.

>>> from vae_edu.estimators import mc_mean

Book: *The Gaussian KL, derived and checked*.
"""

from __future__ import annotations

from .ais import AISResult, annealed_importance_weights, sigmoid_schedule
from .ais_likelihood import ais_log_likelihood, reverse_ais_log_likelihood
from .likelihood import eval_mode, iwae_bound, log_likelihood
from .monte_carlo import (
    assert_within_se,
    effective_sample_size,
    elbo_monte_carlo,
    importance_log_mean,
    kl_monte_carlo,
    log_mean_exp,
    mc_elbo,
    mc_mean,
    z_score,
)
from .proposals import log_likelihood_defensive, widened_gaussian

__all__ = [
    "mc_mean",
    "z_score",
    "assert_within_se",
    "kl_monte_carlo",
    "mc_elbo",
    "elbo_monte_carlo",
    "log_mean_exp",
    "importance_log_mean",
    "effective_sample_size",
    "iwae_bound",
    "log_likelihood",
    "eval_mode",
    "widened_gaussian",
    "log_likelihood_defensive",
    "AISResult",
    "sigmoid_schedule",
    "annealed_importance_weights",
    "ais_log_likelihood",
    "reverse_ais_log_likelihood",
]
