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

from .linear_gaussian import LinearGaussian, expected_log_linear_gaussian
from .ppca import ppca_fit
from .marginal import (
    log_importance_weights_gaussian,
    log_importance_weights,
    log_weight_moment_prior,
    log_weight_moment,
    log_relative_variance,
    num_samples_for_relative_error,
    LogLikelihood,
)
from .grid import (
    log_marginal_grid,
    log_posterior_grid,
    kl_normal_grid,
    kl_grid_normal,
    fit_normal_grid,
    MAX_GRID_NODES,
)
from .linear_vae import LinearVAE
from .linear_vae_fit import fit_exact_elbo, fit_monte_carlo_elbo
from .conditional_linear import ConditionalLinearGaussian
from .linear_gaussian_chain import LinearGaussianChain, LinearGaussianDecoder
from .chain_elbo import ChainELBOTerms, TopDownELBO
from .targets import (
    log_banana,
    log_normalizer_grid,
    DiagonalGaussianQ,
    FullCovarianceGaussianQ,
    IAFQ,
    reverse_kl,
    fit_reverse_kl,
)

__all__ = [
    "LinearGaussian",
    "expected_log_linear_gaussian",
    "ppca_fit",
    "log_importance_weights_gaussian",
    "log_importance_weights",
    "log_weight_moment_prior",
    "log_weight_moment",
    "log_relative_variance",
    "num_samples_for_relative_error",
    "LogLikelihood",
    "log_marginal_grid",
    "log_posterior_grid",
    "kl_normal_grid",
    "kl_grid_normal",
    "fit_normal_grid",
    "MAX_GRID_NODES",
    "LinearVAE",
    "fit_exact_elbo",
    "fit_monte_carlo_elbo",
    "ConditionalLinearGaussian",
    "LinearGaussianChain",
    "LinearGaussianDecoder",
    "ChainELBOTerms",
    "TopDownELBO",
    "log_banana",
    "log_normalizer_grid",
    "DiagonalGaussianQ",
    "FullCovarianceGaussianQ",
    "IAFQ",
    "reverse_kl",
    "fit_reverse_kl",
]
