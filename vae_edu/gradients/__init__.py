r"""Monte Carlo gradients of an expectation: the score-function and the pathwise estimator.

* :mod:`~vae_edu.gradients.score` — scores and the score-function (REINFORCE) estimator;
* :mod:`~vae_edu.gradients.pathwise` — the pathwise (reparameterization) gradient and the
  signal-to-noise ratio of both.

>>> from vae_edu.gradients import pathwise_grad

Book: *The reparameterization trick, derived and checked*.
"""

from __future__ import annotations

from .pathwise import GradientSNR, gradient_snr, pathwise_grad
from .score import (
    GradientEstimate,
    score_bernoulli,
    score_function_estimate,
    score_function_grad,
    score_normal_diag,
)

__all__ = [
    "GradientEstimate",
    "score_normal_diag",
    "score_bernoulli",
    "score_function_estimate",
    "score_function_grad",
    "pathwise_grad",
    "GradientSNR",
    "gradient_snr",
]
