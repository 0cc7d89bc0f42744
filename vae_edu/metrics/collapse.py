r"""Diagnostics of posterior collapse: rate, distortion and active units.

The negative ELBO of a dataset splits into two numbers with an information-theoretic reading
(Alemi et al., 2018):

$$R = \mathbb E_{x}\Big[\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)\Big],\qquad
  D = -\mathbb E_{x}\,\mathbb E_{q(z|x)}\big[\log p(x|z)\big],\qquad
  -\mathrm{ELBO} = D + R,$$

the *rate* (nats the encoder spends describing $x$) and the *distortion* (nats the decoder still
needs). A β-VAE minimises $D + \beta R$. A latent dimension $j$ is *active* when the encoder's
mean moves with the data, $\operatorname{Cov}_x\big(\mathbb E_{q(z|x)}[z_j]\big) > 0.01$ (Burda et
al., 2016); a collapsed posterior has $R \approx 0$ and no active units.

Book: *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import check_tensor
from ..estimators.monte_carlo import mc_mean
from ..models.protocols import HasELBOTerms

__all__ = ["RateDistortion", "rate_distortion", "active_units"]


@dataclass(frozen=True)
class RateDistortion:
    r"""Rate and distortion of a model on a dataset, in nats per example, with standard errors.

    Attributes:
        rate: $R = \frac1N\sum_n \mathrm{KL}\big(q(z|x_n)\,\|\,p(z)\big)$ (closed form per example).
        distortion: $D = -\frac1N\sum_n \widehat{\mathbb E}_q[\log p(x_n|z)]$ (Monte Carlo per example).
        rate_stderr: standard error of the rate's mean over the $N$ examples.
        distortion_stderr: standard error of the distortion's mean over the $N$ examples (it
            includes the Monte Carlo noise of the reconstruction term).
        kl_per_dim: $\frac1N\sum_n \mathrm{KL}\big(q(z_j|x_n)\,\|\,p(z_j)\big)$ for each latent
            dimension $j$, shape ``(z_dim,)``; it sums to ``rate``.
        neg_elbo_stderr: standard error of $D + R$ over the examples.
    """

    rate: float
    distortion: float
    rate_stderr: float
    distortion_stderr: float
    kl_per_dim: Tensor
    neg_elbo_stderr: float

    @property
    def neg_elbo(self) -> float:
        r"""$-\mathrm{ELBO} = D + R$, nats per example."""
        return self.distortion + self.rate

    def objective(self, beta: float = 1.0) -> float:
        r"""The β-VAE loss $D + \beta R$, nats per example."""
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
            raise ValueError(f"beta must be a finite float >= 0, got {beta!r}")
        return self.distortion + beta * self.rate


def rate_distortion(
    model: HasELBOTerms,
    x: Tensor,
    *,
    num_samples: int = 1,
    batch_size: int = 1024,
    generator: torch.Generator | None = None,
) -> RateDistortion:
    r"""The rate $R$ and distortion $D$ of a model on data ``x``, without gradients.

    $$R = \frac1N\sum_{n=1}^N \sum_{j=1}^{d}\mathrm{KL}\big(q(z_j|x_n)\,\|\,p(z_j)\big),\qquad
      D = -\frac1N\sum_{n=1}^N \frac1K\sum_{k=1}^K \log p(x_n|z_{n,k}),\quad z_{n,k}\sim q(z|x_n)$$

    Both come from ``model.elbo_terms`` (the same reconstruction and KL terms as ``model.elbo``),
    so $-(D + R)$ is the mean ELBO of those draws.

    Args:
        model: a model with ``elbo_terms`` (e.g. :class:`~vae_edu.models.VAE`).
        x: data, shape ``(N, x_dim)`` with ``N >= 2``, in the model's dtype.
        num_samples: $K$, draws of $z$ per example for the reconstruction term.
        batch_size: examples per forward pass.
        generator: optional :class:`torch.Generator` for the draws.

    Returns:
        A :class:`RateDistortion`.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    if not isinstance(model, HasELBOTerms):
        raise TypeError("model must have elbo_terms() (per-dimension KL), e.g. a vae_edu.models.VAE")
    check_tensor("x", x, min_dim=2)
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (N, x_dim) with N >= 2, got {tuple(x.shape)}")
    for name, value in (("num_samples", num_samples), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    reconstruction, kl_per_dim = [], []
    was_training = getattr(model, "training", False)
    model.eval()  # type: ignore[attr-defined]
    try:
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                terms = model.elbo_terms(x[start : start + batch_size], num_samples=num_samples, generator=generator)
                if terms.kl_per_dim is None:
                    raise TypeError(
                        "rate_distortion needs a closed-form KL per latent dimension; this model's prior or "
                        "posterior has none (its rate is elbo_terms(x).kl, a Monte Carlo estimate)"
                    )
                reconstruction.append(terms.reconstruction)  # (b,)
                kl_per_dim.append(terms.kl_per_dim)  # (b, z_dim)
    finally:
        model.train(was_training)  # type: ignore[attr-defined]
    recon = torch.cat(reconstruction)  # (N,)
    kl = torch.cat(kl_per_dim)  # (N, z_dim)
    rate, rate_se = mc_mean(kl.sum(dim=-1))
    distortion, distortion_se = mc_mean(-recon)
    _, neg_elbo_se = mc_mean(kl.sum(dim=-1) - recon)
    return RateDistortion(
        rate=float(rate),
        distortion=float(distortion),
        rate_stderr=float(rate_se),
        distortion_stderr=float(distortion_se),
        kl_per_dim=kl.mean(dim=0),
        neg_elbo_stderr=float(neg_elbo_se),
    )


def active_units(mu_q: Tensor, threshold: float = 0.01) -> tuple[Tensor, int]:
    r"""The activity of each latent dimension and the number of active ones (Burda et al., 2016).

    $$A_j = \operatorname{Cov}_x\big(\mathbb E_{q(z|x)}[z_j]\big)
      = \frac{1}{N-1}\sum_{n=1}^N \big(\mu_{q,j}(x_n) - \bar\mu_{q,j}\big)^2,
      \qquad \text{dimension } j \text{ is active iff } A_j > \text{threshold}$$

    An inactive dimension's mean ignores $x$; since its KL to the prior is at least
    $\tfrac12\mu_{q,j}^2$, such a dimension usually also has $q(z_j|x) \approx p(z_j)$.

    Args:
        mu_q: the encoder's means $\mu_q(x_n)$ over a dataset, shape ``(N, z_dim)`` with ``N >= 2``.
        threshold: the activity above which a dimension counts as active (> 0; 0.01 in Burda et al.).

    Returns:
        ``(activity, num_active)``: $A_j$, shape ``(z_dim,)``, and the number of $j$ with $A_j$ above ``threshold``.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    check_tensor("mu_q", mu_q, min_dim=2)
    if mu_q.dim() != 2 or mu_q.shape[0] < 2:
        raise ValueError(f"mu_q must have shape (N, z_dim) with N >= 2, got {tuple(mu_q.shape)}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < math.inf:
        raise ValueError(f"threshold must be a finite float > 0, got {threshold!r}")
    activity = mu_q.detach().var(dim=0, correction=1)  # (z_dim,)
    return activity, int((activity > threshold).sum())
