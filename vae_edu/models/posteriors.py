r"""What an encoder returns: the approximate posterior $q(z|x)$ of one batch, as an object.

Every posterior has the same small interface, which is all :class:`~vae_edu.models.VAE` needs:

* ``rsample(num_samples, generator)`` — reparameterized draws $z_k \sim q(z|x)$, shape ``(K, B, z_dim)``;
* ``rsample_with_log_prob(num_samples, generator)`` — the draws and $\log q(z_k|x)$, shape ``(K, B)``;
* ``mean`` — a point code for $x$ (used by ``reconstruct``), shape ``(B, z_dim)``.

A prior that knows the posterior's family gives the KL in closed form
(:meth:`~vae_edu.models.StandardNormalPrior.kl_per_dim`); otherwise the VAE uses the Monte Carlo
KL $\log q(z|x) - \log p(z)$ on the same draws.

Book: *Training a VAE on digits* and *Inverse autoregressive flow*.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor

from ..distributions.gaussian import log_normal_diag, reparameterize

__all__ = ["Posterior", "DiagonalGaussian"]


@runtime_checkable
class Posterior(Protocol):
    """The interface of $q(z|x)$ for one batch (see the module docstring)."""

    @property
    def mean(self) -> Tensor: ...

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor: ...

    def rsample_with_log_prob(
        self, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]: ...


class DiagonalGaussian(NamedTuple):
    r"""$q(z|x) = \mathcal N\big(z;\ \mu_q(x), \operatorname{diag}\sigma_q^2(x)\big)$ for a batch.

    A named tuple, so ``mu_q, log_var_q = model.encoder(x)`` unpacks it.

    Attributes:
        mu: $\mu_q$, shape ``(B, z_dim)``.
        log_var: $\log\sigma_q^2$, shape ``(B, z_dim)``.

    Example:
        >>> q = DiagonalGaussian(torch.zeros(3, 2), torch.zeros(3, 2))
        >>> q.rsample(5).shape
        torch.Size([5, 3, 2])

    Book: *The reparameterization trick*.
    """

    mu: Tensor
    log_var: Tensor

    @property
    def mean(self) -> Tensor:
        r"""$\mu_q$, shape ``(B, z_dim)``."""
        return self.mu

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""$z_k = \mu_q + \sigma_q \odot \varepsilon_k$, shape ``(K, B, z_dim)``; differentiable."""
        return reparameterize(self.mu, self.log_var, num_samples=num_samples, generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log q(z|x)$ summed over the latent dimensions: ``z`` ``(..., B, z_dim)`` → ``(..., B)``."""
        return log_normal_diag(z, self.mu, self.log_var)

    def rsample_with_log_prob(
        self, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draws $z_k$ ``(K, B, z_dim)`` and $\log q(z_k|x)$ ``(K, B)``."""
        z = self.rsample(num_samples, generator)  # (K, B, z_dim)
        return z, self.log_prob(z)
