r"""The score-function (REINFORCE) estimator of a gradient, and the scores it needs.

For a diagonal Gaussian $q(z) = \mathcal N(z;\ \mu, \operatorname{diag}\sigma^2)$ with parameters
$\phi = (\mu, \log\sigma^2)$ and a function $f:\mathbb R^D\to\mathbb R$,

$$\nabla_\phi\mathbb E_q[f] = \mathbb E_q\big[(f(z) - b)\,\nabla_\phi\log q(z)\big]$$

for any baseline $b$ that does not depend on $z$. Every estimate comes with its standard error, as
``(estimate, stderr)`` pairs collected in a :class:`GradientEstimate`. The other estimator, the
pathwise one, is in :mod:`vae_edu.gradients.pathwise`.

Book: *The reparameterization trick, derived and checked*.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Union

import torch
from torch import Tensor

from ..checks import (
    check_event_shapes,
    check_int,
    check_mu_log_var,
    check_per_sample,
    check_tensor,
)
from ..distributions.gaussian import reparameterize
from ..estimators.monte_carlo import mc_mean

__all__ = [
    "GradientEstimate",
    "score_normal_diag",
    "score_bernoulli",
    "score_function_estimate",
    "score_function_grad",
]

#: A baseline for the score-function estimator: none, the leave-one-out ``"mean"``, a number, or
#: a tensor that broadcasts to the batch shape (it must not depend on the samples).
Baseline = Union[None, str, float, Tensor]


class GradientEstimate(NamedTuple):
    r"""A Monte Carlo estimate of $\nabla_{\mu}$ and $\nabla_{\log\sigma^2}$ of $\mathbb E_q[f(z)]$.

    Attributes:
        mu: ``(estimate, stderr)`` of $\nabla_\mu\mathbb E_q[f(z)]$, each of shape ``(..., D)``.
        log_var: ``(estimate, stderr)`` of $\nabla_{\log\sigma^2}\mathbb E_q[f(z)]$, each of shape ``(..., D)``.

    The standard errors are those of :func:`vae_edu.estimators.mc_mean` over the $K$ per-sample
    gradients, so the per-sample variance is ``stderr**2 * num_samples``.
    """

    mu: tuple[Tensor, Tensor]
    log_var: tuple[Tensor, Tensor]


def score_normal_diag(z: Tensor, mu: Tensor, log_var: Tensor) -> tuple[Tensor, Tensor]:
    r"""The score $\nabla_\phi \log q(z)$ of a diagonal Gaussian, for $\phi = \mu$ and $\phi = \log\sigma^2$.

    $$\nabla_{\mu}\log\mathcal N(z;\mu,\operatorname{diag}\sigma^2) = \frac{z-\mu}{\sigma^2},\qquad
      \nabla_{\log\sigma^2}\log\mathcal N(z;\mu,\operatorname{diag}\sigma^2)
      = \frac12\Big(\frac{(z-\mu)^2}{\sigma^2} - 1\Big)$$

    Both have mean zero under $q$, which is why a constant baseline leaves the score-function
    estimator unbiased.

    Args:
        z: points, shape ``(..., D)`` (e.g. ``(K, ..., D)`` samples).
        mu: means $\mu$, shape ``(..., D)``.
        log_var: log-variances $\log\sigma^2$, shape ``(..., D)``. Batch shapes broadcast.

    Returns:
        ``(score_mu, score_log_var)``, each of the broadcast shape ``(..., D)``.

    Book: *The reparameterization trick, derived and checked*.
    """
    check_tensor("z", z, min_dim=1)
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    check_event_shapes(z=z, mu=mu, log_var=log_var)
    diff = z - mu  # (..., D)
    precision = torch.exp(-log_var)  # 1 / sigma^2
    return diff * precision, 0.5 * (diff**2 * precision - 1.0)


def score_bernoulli(z: Tensor, logits: Tensor) -> Tensor:
    r"""The score $\nabla_\theta\log q(z)$ of independent Bernoullis with logits $\theta$.

    $$\log q(z) = \sum_d \big[z_d\log p_d + (1-z_d)\log(1-p_d)\big],\quad p = \operatorname{sigmoid}(\theta)
      \quad\Longrightarrow\quad \nabla_{\theta}\log q(z) = z - p$$

    Args:
        z: binary points (entries 0 or 1), shape ``(..., D)``.
        logits: $\theta = \log\frac{p}{1-p}$, shape ``(..., D)``. Batch shapes broadcast.

    Returns:
        The score, of the broadcast shape ``(..., D)``.

    Book: *The reparameterization trick, derived and checked* (discrete latents).
    """
    check_tensor("z", z, min_dim=1)
    check_tensor("logits", logits, min_dim=1)
    check_event_shapes(z=z, logits=logits)
    if not bool(((z == 0) | (z == 1)).all()):
        raise ValueError("z must contain only 0s and 1s (Bernoulli samples)")
    return z - torch.sigmoid(logits)


def _centred(f_z: Tensor, baseline: Baseline) -> Tensor:
    """$f(z_k) - b_k$ for each sample, shape ``(K, ...)``; see :func:`score_function_estimate`."""
    num = f_z.shape[0]
    if baseline is None:
        return f_z
    if isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f'baseline must be None, "mean", a number or a tensor, got {baseline!r}')
        # leave-one-out mean b_k = (sum_{j != k} f_j) / (K - 1), so f_k - b_k = K / (K - 1) (f_k - mean_j f_j)
        return (f_z - f_z.mean(dim=0)) * (num / (num - 1))
    if isinstance(baseline, bool):
        raise TypeError("baseline must be None, \"mean\", a number or a tensor, got a bool")
    if isinstance(baseline, (int, float)):
        if not math.isfinite(baseline):
            raise ValueError(f"baseline must be finite, got {baseline!r}")
        return f_z - baseline
    if isinstance(baseline, Tensor):
        check_tensor("baseline", baseline)
        if baseline.dtype != f_z.dtype:
            raise TypeError(f"baseline has dtype {baseline.dtype} but f(z) has dtype {f_z.dtype}")
        batch = f_z.shape[1:]
        try:
            fits = torch.broadcast_shapes(baseline.shape, batch) == batch
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"baseline must not depend on the samples: its shape must broadcast to the batch shape "
                f"{tuple(batch)}, got {tuple(baseline.shape)}"
            )
        return f_z - baseline
    raise TypeError(f'baseline must be None, "mean", a number or a tensor, got {type(baseline).__name__}')


def score_function_estimate(f_z: Tensor, score: Tensor, *, baseline: Baseline = None) -> tuple[Tensor, Tensor]:
    r"""The score-function (REINFORCE) estimate of a gradient, from per-sample values and scores.

    $$\nabla_\phi\mathbb E_{q_\phi}[f(z)] \approx \frac1K\sum_{k=1}^K \big(f(z_k) - b_k\big)\,\nabla_\phi\log q_\phi(z_k),
      \qquad z_k\sim q_\phi$$

    It is unbiased whenever $b_k$ does not depend on $z_k$, because $\mathbb E_q[\nabla_\phi\log q_\phi] = 0$:

    * ``None``: $b_k = 0$;
    * a number or a tensor (broadcasting to the batch shape ``(...)``): the same $b$ for every sample;
    * ``"mean"``: the *leave-one-out* mean $b_k = \frac{1}{K-1}\sum_{j\ne k} f(z_j)$, independent of
      $z_k$. (The plain mean $\frac1K\sum_j f(z_j)$ contains $f(z_k)$ and would scale the
      expected estimate by $1 - 1/K$.)

    The standard error is that of :func:`~vae_edu.estimators.mc_mean` over the $K$ terms. With
    ``"mean"`` the terms share the baseline and are not independent, so it is accurate up to
    $O(1/K)$ (the estimator is a U-statistic); with the other baselines it is exact.

    Args:
        f_z: $f(z_k)$, shape ``(K, ...)`` with ``K >= 2``.
        score: $\nabla_\phi\log q_\phi(z_k)$ at the same samples, shape ``(K, ..., P)`` for $P$ parameters
            (e.g. from :func:`score_normal_diag` or :func:`score_bernoulli`).
        baseline: ``None``, ``"mean"``, a number, or a tensor of a shape that broadcasts to ``(...)``.

    Returns:
        ``(estimate, stderr)``, each of shape ``(..., P)``.

    Book: *The reparameterization trick, derived and checked*.
    """
    check_tensor("f_z", f_z, min_dim=1)
    check_tensor("score", score, min_dim=2)
    if score.shape[:-1] != f_z.shape:
        raise ValueError(
            f"score must have shape (*f_z.shape, P) = ({', '.join(map(str, f_z.shape))}, P), got {tuple(score.shape)}"
        )
    if score.dtype != f_z.dtype:
        raise TypeError(f"score has dtype {score.dtype} but f_z has dtype {f_z.dtype}")
    if f_z.shape[0] < 2:
        raise ValueError(f"f_z needs K >= 2 samples along dim 0, got {f_z.shape[0]}")
    centred = _centred(f_z, baseline)  # (K, ...)
    return mc_mean(centred.unsqueeze(-1) * score)  # terms (K, ..., P)


def score_function_grad(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    log_var: Tensor,
    *,
    num_samples: int,
    baseline: Baseline = None,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    r"""Score-function (REINFORCE) estimate of $\nabla_{\mu,\log\sigma^2}\,\mathbb E_{q}[f(z)]$, $q = \mathcal N(\mu, \operatorname{diag}\sigma^2)$.

    $$\nabla_\phi\mathbb E_q[f(z)] \approx \frac1K\sum_{k=1}^K \big(f(z_k) - b_k\big)\,\nabla_\phi\log q(z_k),\qquad z_k\sim q$$

    with the Gaussian scores of :func:`score_normal_diag`. Only values of $f$ are needed, never
    its gradient: $f$ may be non-differentiable or a black box. It is evaluated without autograd.

    Args:
        f: maps samples ``z`` of shape ``(K, ..., D)`` to values of shape ``(K, ...)``.
        mu: means $\mu$, shape ``(..., D)``.
        log_var: log-variances $\log\sigma^2$, same shape as ``mu``.
        num_samples: $K >= 2$.
        baseline: ``None``, ``"mean"`` (leave-one-out), a number or a tensor; see
            :func:`score_function_estimate`.
        generator: optional :class:`torch.Generator`. The noise is
            ``eps = torch.randn((num_samples, *mu.shape), generator=generator)`` (in ``mu``'s dtype),
            as in :func:`pathwise_grad`, so the same seed gives both estimators the same samples.

    Returns:
        A :class:`GradientEstimate`; each ``(estimate, stderr)`` has shape ``(..., D)``.

    Book: *The reparameterization trick, derived and checked*.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    check_mu_log_var(mu, log_var)
    num = check_int("num_samples", num_samples, minimum=2)
    mu, log_var = mu.detach(), log_var.detach()
    with torch.no_grad():
        eps = torch.randn((num, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator)
        z = reparameterize(mu, log_var, eps)  # z_k ~ q, (K, ..., D)
        f_z = check_per_sample(f, z)  # (K, ...)
    score_mu, score_log_var = score_normal_diag(z, mu, log_var)  # (K, ..., D) each
    return GradientEstimate(
        mu=score_function_estimate(f_z, score_mu, baseline=baseline),
        log_var=score_function_estimate(f_z, score_log_var, baseline=baseline),
    )
