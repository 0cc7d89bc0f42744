r"""Monte Carlo gradients of an expectation: the score-function and the pathwise estimator.

For a diagonal Gaussian $q(z) = \mathcal N(z;\ \mu, \operatorname{diag}\sigma^2)$ with parameters
$\phi = (\mu, \log\sigma^2)$ and a function $f:\mathbb R^D\to\mathbb R$, both estimators
approximate $\nabla_\phi\,\mathbb E_{q}[f(z)]$ from $K$ samples:

* score function (REINFORCE): $\nabla_\phi\mathbb E_q[f] = \mathbb E_q\big[(f(z) - b)\,\nabla_\phi\log q(z)\big]$
  for any baseline $b$ that does not depend on $z$;
* pathwise (reparameterization): with $z = \mu + \sigma\odot\varepsilon$, $\varepsilon\sim\mathcal N(0, I)$,
  $\nabla_\phi\mathbb E_q[f] = \mathbb E_\varepsilon\big[\nabla_z f(z)\ \partial z/\partial\phi\big]$.

Every estimate comes with its standard error, as ``(estimate, stderr)`` pairs collected in a
:class:`GradientEstimate`.

Book: *The reparameterization trick, derived and checked*.

>>> import torch
>>> f = lambda z: (z**2).sum(-1)  # E_q[f] = sum(mu^2 + sigma^2): d/dmu = 2 mu, d/dlog_var = sigma^2
>>> est = pathwise_grad(f, torch.tensor([1.0]), torch.tensor([0.0]), num_samples=10_000,
...                     generator=torch.Generator().manual_seed(0))
>>> [round(float(est.mu[0]), 1), round(float(est.log_var[0]), 1)]
[2.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Callable, NamedTuple, Union

import torch
from torch import Tensor

from ..distributions.gaussian import reparameterize
from ..estimators.monte_carlo import mc_mean
from ..checks import check_event_shapes, check_int, check_tensor

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


def _check_num_samples(num_samples: object) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
    return num_samples


def _check_mu_log_var(mu: Tensor, log_var: Tensor) -> None:
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    if log_var.dtype != mu.dtype:
        raise TypeError(f"log_var has dtype {log_var.dtype} but mu has dtype {mu.dtype}")
    if log_var.shape != mu.shape:
        raise ValueError(
            f"log_var must have the same shape as mu, got mu{tuple(mu.shape)} and log_var{tuple(log_var.shape)}"
        )


def _evaluate(f: Callable[[Tensor], Tensor], z: Tensor) -> Tensor:
    """``f(z)`` for samples ``z`` of shape ``(K, ..., D)``, checked to be finite, of shape ``(K, ...)``."""
    out = f(z)
    check_tensor("f(z)", out)
    if out.shape != z.shape[:-1]:
        raise ValueError(
            f"f must map z of shape {tuple(z.shape)} (K, ..., D) to one value per sample, shape "
            f"{tuple(z.shape[:-1])}; f(z) has shape {tuple(out.shape)}"
        )
    if out.dtype != z.dtype:
        raise TypeError(f"f(z) has dtype {out.dtype} but z has dtype {z.dtype}; f must keep the dtype")
    return out


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
    _check_mu_log_var(mu, log_var)
    num = _check_num_samples(num_samples)
    mu, log_var = mu.detach(), log_var.detach()
    with torch.no_grad():
        eps = torch.randn((num, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator)
        z = reparameterize(mu, log_var, eps)  # z_k ~ q, (K, ..., D)
        f_z = _evaluate(f, z)  # (K, ...)
    score_mu, score_log_var = score_normal_diag(z, mu, log_var)  # (K, ..., D) each
    return GradientEstimate(
        mu=score_function_estimate(f_z, score_mu, baseline=baseline),
        log_var=score_function_estimate(f_z, score_log_var, baseline=baseline),
    )


def pathwise_grad(
    f: Callable[[Tensor], Tensor],
    mu: Tensor,
    log_var: Tensor,
    *,
    num_samples: int,
    generator: torch.Generator | None = None,
) -> GradientEstimate:
    r"""Pathwise (reparameterization) estimate of $\nabla_{\mu,\log\sigma^2}\,\mathbb E_{q}[f(z)]$, $q = \mathcal N(\mu, \operatorname{diag}\sigma^2)$.

    With $z_k = \mu + \sigma\odot\varepsilon_k$ (:func:`~vae_edu.distributions.reparameterize`),
    the chain rule through the sample gives

    $$\nabla_\mu\mathbb E_q[f] \approx \frac1K\sum_{k=1}^K \nabla_z f(z_k),\qquad
      \nabla_{\log\sigma^2}\mathbb E_q[f] \approx \frac1K\sum_{k=1}^K \nabla_z f(z_k)\odot\tfrac12\sigma\odot\varepsilon_k,$$

    since $\partial z/\partial\mu = 1$ and $\partial z/\partial\log\sigma^2 = \tfrac12\sigma\odot\varepsilon$
    (elementwise). $\nabla_z f(z_k)$ comes from autograd, so $f$ must be differentiable, and the
    value for sample $k$ (and batch element) may depend only on that sample's $z$.

    Args:
        f: differentiable map from ``z`` of shape ``(K, ..., D)`` to values of shape ``(K, ...)``.
        mu: means $\mu$, shape ``(..., D)``.
        log_var: log-variances $\log\sigma^2$, same shape as ``mu``.
        num_samples: $K >= 2$.
        generator: optional :class:`torch.Generator`. The noise is
            ``eps = torch.randn((num_samples, *mu.shape), generator=generator)`` (in ``mu``'s dtype),
            as in :func:`score_function_grad`.

    Returns:
        A :class:`GradientEstimate`; each ``(estimate, stderr)`` has shape ``(..., D)``.

    Raises:
        ValueError: if ``f(z)`` is not connected to ``z`` by autograd, or its gradient is not finite.

    Book: *The reparameterization trick, derived and checked*.
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    _check_mu_log_var(mu, log_var)
    num = _check_num_samples(num_samples)
    mu, log_var = mu.detach(), log_var.detach()
    eps = torch.randn((num, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator)
    with torch.enable_grad():
        z = reparameterize(mu, log_var, eps).requires_grad_(True)  # a leaf, (K, ..., D)
        f_z = _evaluate(f, z)  # (K, ...)
        if not f_z.requires_grad:
            raise ValueError("f(z) is not differentiable in z (autograd has no path from z to f(z))")
        # each f(z_k) depends only on z_k, so the gradient of the sum holds every per-sample gradient
        (grad_z,) = torch.autograd.grad(f_z.sum(), z)  # (K, ..., D)
    if not bool(torch.isfinite(grad_z).all()):
        raise ValueError("the gradient of f(z) with respect to z contains NaN or infinite values")
    std_eps = z.detach() - mu  # sigma * eps, (K, ..., D)
    return GradientEstimate(
        mu=mc_mean(grad_z),  # dz/dmu = 1
        log_var=mc_mean(grad_z * 0.5 * std_eps),  # dz/dlog_var = sigma * eps / 2
    )


class GradientSNR(NamedTuple):
    r"""The signal-to-noise ratio of a stochastic gradient, per parameter element (:func:`gradient_snr`).

    Attributes:
        snr: $|\bar g_j| / s_j$, shape ``(P,)``.
        mean: $\bar g_j$, the mean of the $R$ gradient draws, shape ``(P,)``.
        std: $s_j$, their standard deviation (``correction=1``), shape ``(P,)``.
        num_repeats: $R$.

    Book: *Training with more samples: IWAE, and the book's best digits model*; the estimators it
    measures are those of *The reparameterization trick, derived and checked*.
    """

    snr: Tensor
    mean: Tensor
    std: Tensor
    num_repeats: int

    def pooled(self, index: Tensor | slice | None = None) -> float:
        r"""The pooled SNR of a group of elements, with the noise in $\bar g$ taken out.

        $$\mathrm{SNR}_{\text{pooled}} = \sqrt{\frac{\max\big(0,\ \overline{\bar g_j^2} - \overline{s_j^2}/R\big)}
          {\overline{s_j^2}}}$$

        (averages over the elements $j$ selected by ``index``): the root of the mean signal power
        over the mean noise power. $\mathbb E[\bar g_j^2] = \mathbb E[g_j]^2 + \operatorname{Var}[g_j]/R$,
        so subtracting $s_j^2/R$ removes the floor of about $1/\sqrt R$ that $|\bar g_j|/s_j$
        has when the true signal is 0.

        Args:
            index: which elements (a boolean mask, indices or a slice of ``(P,)``); all if ``None``.

        Returns:
            A float $\ge 0$.
        """
        mean, std = (self.mean, self.std) if index is None else (self.mean[index], self.std[index])
        noise = std.pow(2).mean()
        signal = (mean.pow(2).mean() - noise / self.num_repeats).clamp(min=0)
        return float((signal / noise).sqrt())


def gradient_snr(
    estimate: Callable[[], Tensor], params: Sequence[Tensor], *, num_repeats: int
) -> GradientSNR:
    r"""The signal-to-noise ratio of a stochastic gradient, element by element, from repeated draws.

    $$\mathrm{SNR}_j = \frac{\big|\mathbb E[g_j]\big|}{\sqrt{\operatorname{Var}[g_j]}}
      \approx \frac{|\bar g_j|}{s_j},\qquad
      g^{(r)} = \nabla_\theta\,\hat{\mathcal L}^{(r)},\quad r = 1, \dots, R$$

    where each $\hat{\mathcal L}^{(r)}$ = ``estimate()`` is a fresh Monte Carlo estimate (new
    noise each call) and $\theta$ are ``params`` (all elements, flattened and concatenated in
    order). Rainforth et al. (2018) measure it for the IWAE bound $\mathcal L_k$: with
    ``estimate = lambda: iwae_bound(model, x, k, gen).mean()`` the decoder's SNR grows like
    $\sqrt k$ while the encoder's falls like $1/\sqrt k$. The estimate $|\bar g_j|$ carries
    noise of size $s_j/\sqrt R$, so an SNR below a few $1/\sqrt R$ cannot be told from zero
    (:meth:`GradientSNR.pooled` corrects a group's summary for it).
    The model's mode is left as it is (call ``model.eval()`` to measure without dropout). An
    element whose gradient never varies has $s_j = 0$: its SNR is ``inf`` (``nan`` if its
    gradient is 0, as for a parameter ``estimate`` does not use).

    Args:
        estimate: takes no argument and returns a differentiable scalar (a 0-dim tensor), a new
            draw on every call.
        params: the tensors to differentiate with respect to (``requires_grad``), e.g.
            ``list(model.encoder.parameters())``.
        num_repeats: $R \ge 2$, the number of independent draws.

    Returns:
        A :class:`GradientSNR` of ``(snr, mean, std, num_repeats)``, each tensor of shape
        ``(P,)``, $P$ the total number of elements of ``params``; its :meth:`~GradientSNR.pooled`
        summarises a group of elements (e.g. the encoder's) without the noise floor.

    Raises:
        TypeError, ValueError: naming ``estimate``, ``params`` or ``num_repeats``.

    Book: *Training with more samples: IWAE, and the book's best digits model*; the estimators it
    measures are those of *The reparameterization trick, derived and checked*.
    """
    if not callable(estimate):
        raise TypeError(f"estimate must be callable, got {type(estimate).__name__}")
    params = list(params) if not isinstance(params, Tensor) else [params]
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty sequence of tensors that require grad")
    num = check_int("num_repeats", num_repeats, minimum=2)
    draws = []
    for _ in range(num):
        with torch.enable_grad():
            value = estimate()
            if not isinstance(value, Tensor) or value.dim() != 0 or not value.requires_grad:
                raise ValueError("estimate() must return a differentiable scalar (0-dim) tensor")
            grads = torch.autograd.grad(value, params, allow_unused=True)
        flat = [torch.zeros_like(p).flatten() if g is None else g.flatten() for p, g in zip(params, grads)]
        draws.append(torch.cat(flat))  # (P,)
    g = torch.stack(draws)  # (R, P)
    if not bool(torch.isfinite(g).all()):
        raise ValueError("estimate() has a gradient with NaN or infinite values")
    mean, std = g.mean(dim=0), g.std(dim=0, correction=1)
    return GradientSNR(mean.abs() / std, mean, std, num)
