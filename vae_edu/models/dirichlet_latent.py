r"""The Dirichlet latent as parts: its posterior object $q(\theta|x) = \mathrm{Dir}(\alpha_q(x))$ and its prior.

:class:`DirichletPosterior` has the interface of every posterior (``rsample``,
``rsample_with_log_prob``, ``mean``), with samples by implicit reparameterisation;
:class:`DirichletPrior` gives $\log\mathrm{Dir}(\theta;\alpha_p\mathbf 1_K)$, samples, and the KL in
closed form (:func:`vae_edu.kl.kl_dirichlet`). The encoder, decoder and model are in
:mod:`vae_edu.models.dirichlet`.

Book: *The Dirichlet VAE*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_int
from ..distributions.dirichlet import log_dirichlet, rsample_dirichlet
from ..kl import kl_dirichlet

__all__ = ["DirichletPosterior", "DirichletPrior", "safe_simplex"]


class DirichletPosterior:
    r"""$q(\theta\mid x) = \mathrm{Dir}(\alpha_q(x))$ for a batch, the encoder's output for the Dirichlet latent.

    Samples are reparameterised implicitly (:func:`vae_edu.distributions.dirichlet.rsample_dirichlet`); densities
    are evaluated at the samples clamped to the smallest positive float (see :func:`safe_simplex`).

    Book: *The Dirichlet VAE*.
    """

    def __init__(self, alpha: Tensor) -> None:
        self.alpha = alpha  # (B, K)

    @property
    def mean(self) -> Tensor:
        r"""$\alpha_q / \sum_k \alpha_{q,k}$, shape ``(B, K)``."""
        return self.alpha / self.alpha.sum(dim=-1, keepdim=True)

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""$\theta_s \sim \mathrm{Dir}(\alpha_q)$, shape ``(S, B, K)``; differentiable in $\alpha_q$."""
        return rsample_dirichlet(self.alpha, num_samples, generator)

    def log_prob(self, theta: Tensor) -> Tensor:
        r"""$\log\mathrm{Dir}(\theta;\ \alpha_q)$ at the clamped $\theta$: ``(..., B, K)`` → ``(..., B)``."""
        return log_dirichlet(safe_simplex(theta), self.alpha)

    def rsample_with_log_prob(
        self, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draws $\theta_s$ ``(S, B, K)`` and $\log q(\theta_s\mid x)$ ``(S, B)``."""
        theta = self.rsample(num_samples, generator)
        return theta, self.log_prob(theta)


def safe_simplex(theta: Tensor) -> Tensor:
    """``theta`` clamped at the smallest positive float and renormalised, so that a Dirichlet
    log-density is finite at a sample whose smallest coordinates underflowed to 0."""
    safe = theta.clamp_min(torch.finfo(theta.dtype).tiny)
    return safe / safe.sum(dim=-1, keepdim=True)


class DirichletPrior(nn.Module):
    r"""The symmetric prior $p(\theta) = \mathrm{Dir}(\alpha_p \mathbf 1_K)$, with the closed-form KL
    to a :class:`DirichletPosterior` (:func:`vae_edu.kl.kl_dirichlet`).

    Book: *The Dirichlet VAE*.
    """

    alpha_p: Tensor

    def __init__(self, num_topics: int, alpha_p: float) -> None:
        super().__init__()
        self.register_buffer("alpha_p", torch.full((num_topics,), float(alpha_p)))  # (K,)

    def log_prob(self, theta: Tensor) -> Tensor:
        r"""$\log\mathrm{Dir}(\theta;\ \alpha_p)$ at the clamped $\theta$: ``(..., K)`` → ``(...)``."""
        return log_dirichlet(safe_simplex(theta), self.alpha_p)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ draws $\theta \sim \mathrm{Dir}(\alpha_p)$, shape ``(n, K)``."""
        return rsample_dirichlet(self.alpha_p, check_int("n", n), generator)

    def kl(self, q: object) -> Tensor | None:
        r"""$\mathrm{KL}\big(\mathrm{Dir}(\alpha_q)\,\|\,\mathrm{Dir}(\alpha_p)\big)$, shape ``(B,)``, for a
        :class:`DirichletPosterior` (``None`` otherwise). It does not split over the $K$ coordinates."""
        if not isinstance(q, DirichletPosterior):
            return None
        return kl_dirichlet(q.alpha, self.alpha_p.expand_as(q.alpha))
