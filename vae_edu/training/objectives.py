r"""The training objectives: the KL weight schedule (warm-up), free bits, the minibatch loss
and the per-example $-\mathrm{ELBO}$ of a dataset, used by :func:`vae_edu.training.loop.fit`.

Book: *Training a VAE on digits* and *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from ..checks import check_batch, check_tensor
from ..estimators.likelihood import eval_mode, iwae_bound
from ..models.protocols import VariationalModel

__all__ = ["kl_weight", "free_bits_kl", "mean_negative_elbo", "training_loss", "validation_loss", "Objective"]

Objective = Literal["elbo", "iwae"]


def kl_weight(epoch: int, beta: float = 1.0, warmup_epochs: int = 0) -> float:
    r"""The KL weight of epoch ``epoch`` under linear KL annealing (warm-up).

    $$\beta_e = \beta\,\min\Big(1, \frac{e+1}{T}\Big)\quad(e = 0, 1, \dots),\qquad \beta_e = \beta \text{ if } T = 0$$

    Args:
        epoch: $e$, 0-based.
        beta: $\beta$, the final weight.
        warmup_epochs: $T$, the length of the ramp in epochs.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    if warmup_epochs <= 0:
        return float(beta)
    return float(beta) * min(1.0, (epoch + 1) / warmup_epochs)


def free_bits_kl(kl_per_dim: Tensor, free_bits: float) -> Tensor:
    r"""The KL term with free bits: each latent dimension's batch-mean KL is floored at $\lambda$.

    $$\mathrm{KL}_\lambda = \sum_{j=1}^{d} \max\Big(\lambda,\ \frac1B\sum_{b=1}^B \mathrm{KL}\big(q(z_j|x_b)\,\|\,p(z_j)\big)\Big)$$

    Below $\lambda$ nats a dimension's KL costs nothing more, so the optimiser has no reason to
    push it to zero (Kingma et al., 2016). With $\lambda = 0$ it is the batch-mean KL.

    Args:
        kl_per_dim: KL per example and latent dimension, shape ``(B, z_dim)``.
        free_bits: $\lambda \ge 0$, in nats per dimension.

    Returns:
        A scalar (0-dim tensor).

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """
    check_tensor("kl_per_dim", kl_per_dim, min_dim=2)
    if kl_per_dim.dim() != 2:
        raise ValueError(f"kl_per_dim must have shape (B, z_dim), got {tuple(kl_per_dim.shape)}")
    if isinstance(free_bits, bool) or not isinstance(free_bits, (int, float)) or not 0 <= free_bits < math.inf:
        raise ValueError(f"free_bits must be a finite float >= 0, got {free_bits!r}")
    return kl_per_dim.mean(dim=0).clamp(min=free_bits).sum()


def mean_negative_elbo(
    model: VariationalModel,
    data: Tensor | Sequence[Tensor],
    *,
    num_samples: int = 1,
    batch_size: int = 1024,
    generator: torch.Generator | None = None,
) -> float:
    r"""$-\frac1N\sum_n \mathrm{ELBO}(x_n)$ over a dataset, in nats per example, without gradients (in evaluation mode).

    Args:
        model: a :class:`~vae_edu.models.VariationalModel`.
        data: data, shape ``(N, x_dim)`` (or a tuple ``(x, y, ...)``).
        num_samples: Monte Carlo samples of $z$ per example (the mean is unbiased for any value;
            more samples, less noise).
        batch_size: examples per forward pass.
        generator: optional :class:`torch.Generator`.

    Book: *Training a VAE on digits*.
    """
    batch = check_batch("data", data)
    total = 0.0
    with torch.no_grad(), eval_mode(model):
        for start in range(0, batch[0].shape[0], batch_size):
            part = tuple(t[start : start + batch_size] for t in batch)
            total -= float(model.elbo(*part, num_samples=num_samples, generator=generator).sum())
    return total / batch[0].shape[0]


def training_loss(
    model: Any,
    batch: tuple[Tensor, ...],
    *,
    objective: Objective = "elbo",
    num_samples: int = 1,
    beta: float = 1.0,
    free_bits: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""The minibatch loss to minimise: $-\frac1B\sum_b \mathrm{ELBO}_\beta(x_b)$ (with free bits if
    $\lambda > 0$: :func:`free_bits_kl`; plus the posterior's penalty, e.g. VQ-VAE's commitment loss,
    through ``model.loss`` when it has one), or $-\frac1B\sum_b \mathcal L_k(x_b)$ for ``objective="iwae"``.

    Args:
        model: a :class:`~vae_edu.models.VariationalModel` (``elbo_terms`` for free bits).
        batch: ``(x,)`` or ``(x, y, ...)``.
        objective: ``"elbo"`` or ``"iwae"``.
        num_samples: draws of $z$ per example ($k$ for ``"iwae"``).
        beta: the KL weight $\beta$.
        free_bits: $\lambda$, nats per latent dimension; 0 = off.
        generator: optional :class:`torch.Generator` for the noise.

    Returns:
        A scalar (0-dim tensor), differentiable.

    Book: *Training a VAE on digits* and *Posterior collapse and the rate–distortion trade-off*.
    """
    if objective == "iwae":
        return -iwae_bound(model, batch, num_samples, generator).mean()
    if free_bits > 0:
        terms = model.elbo_terms(*batch, num_samples=num_samples, generator=generator)
        if terms.kl_per_dim is None:
            raise TypeError("free_bits needs a closed-form KL per latent dimension, which this model has not")
        loss = -terms.reconstruction.mean() + beta * free_bits_kl(terms.kl_per_dim, free_bits)
        return loss if getattr(terms, "penalty", None) is None else loss + terms.penalty.mean()
    if hasattr(model, "loss"):  # -ELBO plus any penalty the posterior carries (VQ-VAE)
        return model.loss(*batch, num_samples=num_samples, beta=beta, generator=generator).mean()
    return -model.elbo(*batch, num_samples=num_samples, beta=beta, generator=generator).mean()


def validation_loss(
    model: Any,
    data: tuple[Tensor, ...],
    *,
    objective: Objective = "elbo",
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> float:
    r"""$-\mathrm{ELBO}$ per example over ``data`` (one draw of $z$), or $-\mathcal L_k$ for the IWAE
    objective: what :func:`~vae_edu.training.loop.fit` watches for early stopping.

    Book: *Training a VAE on digits*.
    """
    if objective == "elbo":
        return mean_negative_elbo(model, data, generator=generator)
    total = 0.0
    with torch.no_grad(), eval_mode(model):
        for start in range(0, data[0].shape[0], 256):
            part = tuple(t[start : start + 256] for t in data)
            total -= float(iwae_bound(model, part, num_samples, generator).sum())
    return total / data[0].shape[0]
