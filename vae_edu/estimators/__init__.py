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

from .monte_carlo import (
    mc_mean,
    kl_monte_carlo,
    mc_elbo,
    elbo_monte_carlo,
    log_mean_exp,
    importance_log_mean,
    effective_sample_size,
)
from .significance import z_score, assert_within_se, assert_above, assert_below, combined_se
from .likelihood import iwae_bound, log_likelihood, eval_mode
from .proposals import widened_gaussian, log_likelihood_defensive
from .ais import AISResult, sigmoid_schedule, annealed_importance_weights
from .ais_likelihood import ais_log_likelihood, reverse_ais_log_likelihood

__all__ = [
    "mc_mean",
    "kl_monte_carlo",
    "mc_elbo",
    "elbo_monte_carlo",
    "log_mean_exp",
    "importance_log_mean",
    "effective_sample_size",
    "z_score",
    "assert_within_se",
    "assert_above",
    "assert_below",
    "combined_se",
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
