r"""The pathwise (reparameterization) gradient, and the signal-to-noise ratio of both estimators.

$$\nabla_\phi\,\mathbb E_{q_\phi(z)}[f(z)] = \mathbb E_{\varepsilon\sim\mathcal N(0, I)}\big[\nabla_\phi f(\mu + \sigma\odot\varepsilon)\big]$$

:func:`pathwise_grad` averages that over $K$ draws, with a standard error per parameter;
:func:`gradient_snr` compares it with the score-function estimate of
:mod:`vae_edu.gradients.score` by $|\text{mean}|/\text{std}$ of single-sample gradients.

Book: *The reparameterization trick, derived and checked*.

>>> import torch
>>> f = lambda z: (z**2).sum(-1)  # E_q[f] = sum(mu^2 + sigma^2): d/dmu = 2 mu, d/dlog_var = sigma^2
>>> est = pathwise_grad(f, torch.tensor([1.0]), torch.tensor([0.0]), num_samples=10_000,
...                     generator=torch.Generator().manual_seed(0))
>>> [round(float(est.mu[0]), 1), round(float(est.log_var[0]), 1)]
[2.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable, NamedTuple

import torch
from torch import Tensor

from ..checks import check_int, check_mu_log_var, check_per_sample
from ..distributions.gaussian import reparameterize
from ..estimators.monte_carlo import mc_mean
from .score import GradientEstimate

__all__ = ["pathwise_grad", "GradientSNR", "gradient_snr"]


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
    check_mu_log_var(mu, log_var)
    num = check_int("num_samples", num_samples, minimum=2)
    mu, log_var = mu.detach(), log_var.detach()
    eps = torch.randn((num, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator)
    with torch.enable_grad():
        z = reparameterize(mu, log_var, eps).requires_grad_(True)  # a leaf, (K, ..., D)
        f_z = check_per_sample(f, z)  # (K, ...)
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
