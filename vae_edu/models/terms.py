r"""The terms of the ELBO, per example, and the prior's closed-form KL when it has one.

$$\mathrm{ELBO}(x) = \underbrace{\mathbb E_{q(z|x)}\big[\log p(x|z)\big]}_{\text{reconstruction}}
  - \beta\,\underbrace{\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)}_{\text{rate}}$$

:class:`ELBOTerms` is what :meth:`~vae_edu.models.VAE.elbo_terms` returns; :func:`closed_form_kl`
asks a prior for the KL in closed form.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

__all__ = ["ELBOTerms", "closed_form_kl"]


@dataclass(frozen=True)
class ELBOTerms:
    r"""The two terms of the ELBO, per example.

    Attributes:
        reconstruction: $\mathbb E_{q(z|x)}[\log p(x|z)]$, a Monte Carlo mean, shape ``(B,)``.
            Minus it is the *distortion*.
        kl: $\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)$, shape ``(B,)`` (the *rate*): in closed form
            when the prior has one, else the Monte Carlo mean of $\log q(z|x) - \log p(z)$ on the
            same draws.
        kl_per_dim: the closed-form KL of each latent dimension, shape ``(B, z_dim)``, or
            ``None`` when there is no closed form.
        penalty: a training penalty the posterior carries, shape ``(B,)``, not part of the bound
            (VQ-VAE's codebook and commitment losses), or ``None``; :meth:`VAE.loss` adds it.
    """

    reconstruction: Tensor
    kl: Tensor
    kl_per_dim: Tensor | None = None
    penalty: Tensor | None = None

    def elbo(self, beta: float = 1.0) -> Tensor:
        r"""$\mathbb E_q[\log p(x|z)] - \beta\,\mathrm{KL}$, shape ``(B,)``."""
        return self.reconstruction - beta * self.kl


def closed_form_kl(prior: nn.Module, q: object, context: tuple[Tensor, ...], *, per_dim: bool = False) -> Tensor | None:
    r"""The prior's closed-form $\mathrm{KL}(q\,\|\,p)$: per latent dimension ``(B, z_dim)`` from
    ``prior.kl_per_dim(q)``, or in total ``(B,)`` from ``prior.kl(q)`` (or the per-dimension one summed);
    ``None`` when the prior has none for this posterior."""
    per_dim_kl = getattr(prior, "kl_per_dim", None)
    value = per_dim_kl(q, *context) if per_dim_kl is not None else None
    if per_dim or value is not None:
        return value if per_dim else value.sum(dim=-1)  # type: ignore[union-attr]
    total_kl = getattr(prior, "kl", None)
    return total_kl(q, *context) if total_kl is not None else None
