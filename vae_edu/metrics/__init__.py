r"""Measuring a trained model: posterior collapse, the latent space, disentanglement, samples, topics.

* :mod:`~vae_edu.metrics.collapse` — rate, distortion and active units;
* :mod:`~vae_edu.metrics.latent` — neighbourhoods, interpolation and traversals of $z$;
* :mod:`~vae_edu.metrics.aggregate` — the aggregate posterior $q(z)$, ELBO surgery and holes;
* :mod:`~vae_edu.metrics.disentanglement` — a correlation-gap score;
* :mod:`~vae_edu.metrics.sample_quality` — judging samples with a classifier;
* :mod:`~vae_edu.metrics.topics` — matching learned topics to true ones.

>>> from vae_edu.metrics import active_units

Book: *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

from .collapse import RateDistortion, rate_distortion, active_units
from .latent import (
    neighbour_label_agreement,
    distance_rank_correlation,
    lerp,
    slerp,
    traverse,
    prior_quantile_grid,
    prior_norm_mean_std,
)
from .aggregate import (
    aggregate_posterior_log_prob,
    elbo_surgery,
    in_hole,
    hole_fraction,
    prior_elbo_surgery,
    prior_hole_fraction,
)
from .disentanglement import CorrelationGap, abs_correlation, correlation_gap
from .sample_quality import (
    DigitClassifier,
    fit_digit_classifier,
    SampleQuality,
    sample_quality,
    nearest_neighbour_distance,
    mean_pairwise_distance,
    NUM_CLASSES,
    COVERAGE_THRESHOLD,
)
from .topics import match_topics, topic_matching_score

__all__ = [
    "RateDistortion",
    "rate_distortion",
    "active_units",
    "neighbour_label_agreement",
    "distance_rank_correlation",
    "lerp",
    "slerp",
    "traverse",
    "prior_quantile_grid",
    "prior_norm_mean_std",
    "aggregate_posterior_log_prob",
    "elbo_surgery",
    "in_hole",
    "hole_fraction",
    "prior_elbo_surgery",
    "prior_hole_fraction",
    "CorrelationGap",
    "abs_correlation",
    "correlation_gap",
    "DigitClassifier",
    "fit_digit_classifier",
    "SampleQuality",
    "sample_quality",
    "nearest_neighbour_distance",
    "mean_pairwise_distance",
    "NUM_CLASSES",
    "COVERAGE_THRESHOLD",
    "match_topics",
    "topic_matching_score",
]
