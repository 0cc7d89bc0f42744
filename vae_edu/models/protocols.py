"""What the training loop and the likelihood estimators need from a model, written down as protocols.

:func:`vae_edu.training.loop.fit` and :func:`vae_edu.estimators.log_likelihood` work with any
:class:`torch.nn.Module` that has these methods, not only :class:`~vae_edu.models.VAE`: a VAE
with another encoder (IAF) or a conditional VAE reuses them unchanged. A conditional model takes
its extra inputs positionally after ``x`` (``elbo(x, y, num_samples=..., ...)``; the options are
keyword-only) and is given its data as a tuple ``(x, y)``.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

__all__ = ["VariationalModel", "HasELBOTerms"]


@runtime_checkable
class VariationalModel(Protocol):
    """A latent-variable model with an ELBO and importance weights (plus the ``nn.Module`` API).

    ``fit`` calls ``elbo`` (objective ``"elbo"``) or ``log_importance_weights`` (objective
    ``"iwae"``); ``log_likelihood`` and ``iwae_bound`` call only ``log_importance_weights``.

    Book: *Training a VAE on digits* (the loop and the estimators) and *VAE vs GAN on the same data*
    (a GAN is not one).
    """

    def elbo(
        self, x: Tensor, *, num_samples: int = 1, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""$\mathbb E_q[\log p(x|z)] - \beta\,\mathrm{KL}(q(z|x)\,\|\,p(z))$ per example, shape ``(B,)``, differentiable."""
        ...

    def log_importance_weights(
        self, x: Tensor, *, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""$\log p(x, z_k) - \log q(z_k|x)$ for $z_k \sim q(z|x)$, shape ``(num_samples, B)``, differentiable."""
        ...


@runtime_checkable
class HasELBOTerms(Protocol):
    """A model whose ELBO splits into a reconstruction term and a closed-form KL per latent dimension.

    ``fit(..., free_bits=...)`` needs it, with a closed-form ``kl_per_dim`` (free bits act on each
    dimension's KL).
    """

    def elbo_terms(self, x: Tensor, *, num_samples: int = 1, generator: torch.Generator | None = None):  # type: ignore[no-untyped-def]
        """An object with ``reconstruction`` and ``kl`` ``(B,)``, and ``kl_per_dim`` ``(B, z_dim)``
        or ``None`` (:class:`~vae_edu.models.ELBOTerms`)."""
        ...
