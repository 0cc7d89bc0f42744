r"""Categorical latents: the Gumbel-softmax (Concrete) relaxation, straight-through, and exact enumeration.

A one-hot latent $z \in \{e_1, \dots, e_C\}$, $q(z = e_c) = \pi_c = \operatorname{softmax}(a)_c$, has no
reparameterization. $\nabla_a\mathbb E_q[f(z)]$ exactly by enumeration, $\sum_c \pi_c f(e_c)$ (:func:`enumerate_elbo`);
unbiased by the score function, $\mathbb E_q[f(z)(z - \pi)]$ (:func:`score_function_grad_categorical`); or
biased, through the relaxation $y = \operatorname{softmax}((a + g)/\tau)$ with Gumbel noise $g$ (Jang et al. 2017;
Maddison et al. 2017) or straight-through (:func:`gumbel_softmax_grad`).

A function ``f`` maps codes ``z`` ``(K, ..., C)`` to values ``(K, ...)``, as in :mod:`vae_edu.gradients`.

Book: *Discrete latents*.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .checks import check_event_shapes, check_generator, check_int, check_positive_float, check_tensor
from .estimators.monte_carlo import mc_mean
from .gradients.score import Baseline, score_function_estimate

__all__ = ["sample_gumbel", "rsample_relaxed_one_hot", "log_relaxed_one_hot", "straight_through", "kl_categorical",
           "enumerate_expectation", "enumerate_elbo", "enumerate_log_marginal", "score_categorical",
           "score_function_grad_categorical", "gumbel_softmax_grad"]  # fmt: skip

Function = Callable[[Tensor], Tensor]


def sample_gumbel(shape: tuple[int, ...], *, dtype: torch.dtype = torch.float32, device: torch.device | None = None,
                  generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
    r"""Standard Gumbel noise of shape ``shape``: $g = -\log(-\log u)$, $u \sim \mathcal U(0, 1)$ (with $u \ge$
    the smallest positive float), so that $\arg\max_c (a_c + g_c) \sim \operatorname{Categorical}(\operatorname{softmax}(a))$.

    Book: *Discrete latents*.
    """
    check_generator(generator)
    u = torch.rand(shape, dtype=dtype, device=device, generator=generator)
    return -torch.log(-torch.log(u.clamp_min(torch.finfo(dtype).tiny)))


def _check_logits(logits: Tensor, name: str = "logits") -> Tensor:
    if check_tensor(name, logits, min_dim=1).shape[-1] < 2:
        raise ValueError(f"{name} must have C >= 2 categories in its last dimension, got shape {tuple(logits.shape)}")
    return logits


def rsample_relaxed_one_hot(logits: Tensor, temperature: float, num_samples: int = 1,
                            generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
    r"""Draws from the Concrete (Gumbel-softmax) distribution, differentiable in the logits.

    $$y = \operatorname{softmax}\big((a + g)/\tau\big),\qquad g_c \sim \mathrm{Gumbel}(0, 1);\qquad
      y \xrightarrow[\tau\to 0]{} \operatorname{onehot}\big(\arg\max_c(a_c + g_c)\big) \sim \operatorname{Cat}(\operatorname{softmax}(a))$$

    Args:
        logits, temperature: $a$ ``(..., C)`` and $\tau > 0$.
        num_samples, generator: $K$ and an optional :class:`torch.Generator` for $g$.

    Returns:
        $y$ on the simplex, shape ``(K, ..., C)``.

    Book: *Discrete latents*.
    """
    _check_logits(logits)
    tau = check_positive_float("temperature", temperature)
    g = sample_gumbel((check_int("num_samples", num_samples), *logits.shape), dtype=logits.dtype,
                      device=logits.device, generator=generator)  # (K, ..., C)  # fmt: skip
    return torch.softmax((logits + g) / tau, dim=-1)


def log_relaxed_one_hot(y: Tensor, logits: Tensor, temperature: float) -> Tensor:
    r"""The Concrete log-density (Maddison et al. 2017, eq. 6) of $y$ inside the simplex, on its first $C-1$ coordinates.

    $$\log p_{a,\tau}(y) = \log\Gamma(C) + (C-1)\log\tau + \sum_{c=1}^C\big(a_c - (\tau+1)\log y_c\big)
      - C\log\sum_{c=1}^C e^{a_c - \tau\log y_c}$$

    Args:
        y: points with every $y_c > 0$ and $\sum_c y_c = 1$, shape ``(..., C)``.
        logits: $a$, shape ``(..., C)``; batch shapes broadcast.
        temperature: $\tau > 0$.

    Returns:
        the broadcast batch shape ``(...)``.

    Book: *Discrete latents*.
    """
    check_tensor("y", y, min_dim=1)
    _check_logits(logits)
    check_event_shapes(y=y, logits=logits)
    tau = check_positive_float("temperature", temperature)
    num = y.shape[-1]
    if not bool((y > 0).all()):
        raise ValueError("y must lie inside the simplex (every y_c > 0)")
    if not bool(((y.sum(dim=-1) - 1).abs() <= 10 * num * torch.finfo(y.dtype).eps).all()):
        raise ValueError("y must lie on the simplex (its last dimension must sum to 1)")
    log_y = torch.log(y)  # (..., C)
    scores = logits - tau * log_y  # (..., C)
    return (math.lgamma(num) + (num - 1) * math.log(tau) + (scores - log_y).sum(dim=-1)
            - num * torch.logsumexp(scores, dim=-1))  # fmt: skip


def straight_through(y_soft: Tensor) -> Tensor:
    r"""The straight-through estimator: the one-hot of $\arg\max_c y_c$ forward, $y$'s gradient backward.

    $$z = \operatorname{onehot}(\arg\max_c y_c) + \big(y - \operatorname{sg}(y)\big),\qquad
      \frac{\partial z}{\partial y} := I$$

    The forward value is exactly one-hot ($y - \operatorname{sg}(y) = 0$ in floating point).
    ``y_soft`` ``(..., C)`` → $z$ ``(..., C)``.

    Book: *Discrete latents*.
    """
    check_tensor("y_soft", y_soft, min_dim=1)
    hard = torch.nn.functional.one_hot(y_soft.argmax(dim=-1), y_soft.shape[-1]).to(y_soft.dtype)
    return hard + (y_soft - y_soft.detach())


def kl_categorical(logits_q: Tensor, logits_p: Tensor | None = None) -> Tensor:
    r"""$\mathrm{KL}\big(\operatorname{Cat}(\pi_q)\,\|\,\operatorname{Cat}(\pi_p)\big)$ with $\pi = \operatorname{softmax}(a)$.

    $$\mathrm{KL} = \sum_{c=1}^C \pi_{q,c}\,\big(\log\pi_{q,c} - \log\pi_{p,c}\big)$$

    With ``logits_p=None`` the prior is uniform, $\log\pi_{p,c} = -\log C$, and the KL is
    $\log C - H(\pi_q) \le \log C$ (equality for a one-hot $q$).

    Args:
        logits_q, logits_p: shape ``(..., C)``; batch shapes broadcast.

    Returns:
        the broadcast batch shape ``(...)``.

    Book: *Discrete latents*.
    """
    _check_logits(logits_q, "logits_q")
    log_q = torch.log_softmax(logits_q, dim=-1)  # (..., C)
    if logits_p is None:
        log_p = torch.full_like(log_q, -math.log(log_q.shape[-1]))
    else:
        _check_logits(logits_p, "logits_p")
        check_event_shapes(logits_q=logits_q, logits_p=logits_p)
        log_p = torch.log_softmax(logits_p, dim=-1)
    return (log_q.exp() * (log_q - log_p)).sum(dim=-1)


def _all_codes(f: Function, batch: torch.Size, num: int, like: Tensor) -> Tensor:
    """``f`` at every one-hot code $e_c$, shape ``(C, ...)``."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    eye = torch.eye(num, dtype=like.dtype, device=like.device)  # (C, C)
    codes = eye.view(num, *([1] * len(batch)), num).expand(num, *batch, num)  # (C, ..., C)
    out = f(codes)
    check_tensor("f(z)", out)
    if out.shape != codes.shape[:-1]:
        raise ValueError(f"f must map z of shape {tuple(codes.shape)} to shape {tuple(codes.shape[:-1])}, "
                         f"got {tuple(out.shape)}")  # fmt: skip
    return out


def enumerate_expectation(f: Function, logits_q: Tensor) -> Tensor:
    r"""$\mathbb E_{q}[f(z)] = \sum_{c=1}^C \pi_{q,c}\,f(e_c)$ exactly, differentiable in $a_q$ (and in $f$'s parameters).

    Args:
        f, logits_q: maps one-hot codes ``(C, ..., C)`` to values ``(C, ...)``; $a_q$ ``(..., C)``.

    Returns:
        shape ``(...)``.

    Book: *Discrete latents*.
    """
    _check_logits(logits_q, "logits_q")
    f_codes = _all_codes(f, logits_q.shape[:-1], logits_q.shape[-1], logits_q)  # (C, ...)
    return (torch.softmax(logits_q, dim=-1).movedim(-1, 0) * f_codes).sum(dim=0)


def enumerate_elbo(log_p_x_given_z: Function, logits_q: Tensor, logits_p: Tensor | None = None) -> Tensor:
    r"""The exact ELBO of a categorical latent, by summing over its $C$ values.

    $$\mathrm{ELBO}(x) = \sum_{c=1}^C \pi_{q,c}\log p(x|e_c) - \mathrm{KL}\big(\operatorname{Cat}(\pi_q)\,\|\,\operatorname{Cat}(\pi_p)\big)$$

    Its gradient by autograd is the exact gradient the estimators approximate.

    Args:
        log_p_x_given_z: maps one-hot codes ``(C, B, C)`` to $\log p(x|z)$, shape ``(C, B)``.
        logits_q: $a_q(x)$, shape ``(B, C)``.
        logits_p: the prior's logits ``(C,)`` or ``(B, C)``; ``None`` for the uniform prior.

    Returns:
        shape ``(B,)``.

    Book: *Discrete latents*.
    """
    return enumerate_expectation(log_p_x_given_z, logits_q) - kl_categorical(logits_q, logits_p)


def enumerate_log_marginal(log_p_x_given_z: Function, logits_p: Tensor) -> Tensor:
    r"""The exact evidence $\log p(x) = \log\sum_{c=1}^C \pi_{p,c}\,p(x|e_c)$, the bound's target.

    Args:
        log_p_x_given_z: maps one-hot codes ``(C, B, C)`` to $\log p(x|z)$, shape ``(C, B)``.
        logits_p: the prior's logits, one row per example, shape ``(B, C)`` (``logits_p.expand(B, C)``).

    Returns:
        shape ``(B,)``.

    Book: *Discrete latents*.
    """
    _check_logits(logits_p, "logits_p")
    log_p_x = _all_codes(log_p_x_given_z, logits_p.shape[:-1], logits_p.shape[-1], logits_p)  # (C, B)
    return torch.logsumexp(log_p_x + torch.log_softmax(logits_p, dim=-1).movedim(-1, 0), dim=0)


def score_categorical(z: Tensor, logits: Tensor) -> Tensor:
    r"""The score $\nabla_a\log q(z)$ of a categorical with logits $a$ ``(..., C)`` at one-hot $z$ ``(..., C)``.

    $$\log q(z) = \sum_c z_c \log\operatorname{softmax}(a)_c\quad\Longrightarrow\quad\nabla_a\log q(z) = z - \operatorname{softmax}(a)$$

    Book: *Discrete latents*.
    """
    return z - torch.softmax(logits, dim=-1)


def _gumbel_for(f: object, logits: Tensor, num_samples: int, generator: torch.Generator | None) -> Tensor:
    """The estimators' checks, and their Gumbel noise ``(K, ..., C)``."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    num = check_int("num_samples", num_samples, 2)
    return sample_gumbel((num, *_check_logits(logits).shape), dtype=logits.dtype, device=logits.device, generator=generator)


def score_function_grad_categorical(
    f: Function, logits: Tensor, *, num_samples: int, baseline: Baseline = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""The score-function (REINFORCE) estimate of $\nabla_a\mathbb E_{q}[f(z)]$, unbiased, with its standard error.

    $$\nabla_a\mathbb E_q[f(z)] \approx \frac1K\sum_{k=1}^K \big(f(z_k) - b_k\big)\,\big(z_k - \operatorname{softmax}(a)\big),
      \qquad z_k = \operatorname{onehot}\big(\arg\max_c(a_c + g_{k,c})\big)$$

    The draws use the Gumbel noise of :func:`gumbel_softmax_grad` (the same ``generator`` seed gives
    both estimators the same $g$). $f$ must not depend on $a$ (for the ELBO, add the exact
    gradient of :func:`kl_categorical`); it is evaluated without autograd.

    Args:
        f, logits, num_samples, generator: as in :func:`gumbel_softmax_grad` (``f`` sees one-hot codes).
        baseline: as in :func:`vae_edu.gradients.score_function_estimate` (``"mean"``: leave-one-out).

    Returns:
        ``(estimate, stderr)``, each of shape ``(..., C)``.

    Book: *Discrete latents*.
    """
    g = _gumbel_for(f, logits, num_samples, generator)  # (K, ..., C)
    logits = logits.detach()
    with torch.no_grad():
        z = torch.nn.functional.one_hot((logits + g).argmax(dim=-1), logits.shape[-1]).to(logits.dtype)  # (K, ..., C)
        f_z = f(z)  # (K, ...)
    check_tensor("f(z)", f_z)
    return score_function_estimate(f_z, score_categorical(z, logits), baseline=baseline)


def gumbel_softmax_grad(
    f: Function, logits: Tensor, temperature: float, *, num_samples: int, hard: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    r"""The Gumbel-softmax (or straight-through) estimate of $\nabla_a\mathbb E_q[f(z)]$, with its standard error.

    $$\widehat\nabla = \frac1K\sum_{k=1}^K \nabla_a f(y_k),\qquad y_k = \operatorname{softmax}\big((a + g_k)/\tau\big)$$

    It is the exact gradient of $\mathbb E_g[f(y)]$, not of $\mathbb E_q[f(z)]$: biased in general;
    lowering $\tau$ trades bias for variance. With ``hard=True`` (straight-through, as in
    :func:`torch.nn.functional.gumbel_softmax`), $f$ sees the one-hot $z_k$ of :func:`straight_through`
    and the gradient flows through $y_k$.

    Args:
        f: differentiable map from codes ``(K, ..., C)`` to values ``(K, ...)``, sample by sample.
        logits, temperature: $a$ ``(..., C)`` and $\tau > 0$.
        num_samples: $K \ge 2$.
        hard: use the straight-through estimator.
        generator: optional :class:`torch.Generator`.

    Returns:
        ``(estimate, stderr)``, each of shape ``(..., C)``.

    Book: *Discrete latents*.
    """
    g = _gumbel_for(f, logits, num_samples, generator)  # (K, ..., C)
    tau = check_positive_float("temperature", temperature)
    with torch.enable_grad():
        a = logits.detach().expand_as(g).clone().requires_grad_(True)  # a leaf per sample, (K, ..., C)
        y = torch.softmax((a + g) / tau, dim=-1)  # (K, ..., C)
        f_y = f(straight_through(y) if hard else y)  # (K, ...)
        check_tensor("f(z)", f_y)
        if not f_y.requires_grad:
            raise ValueError("f(z) is not differentiable in z (autograd has no path from z to f(z))")
        (grad,) = torch.autograd.grad(f_y.sum(), a)  # per-sample gradients, (K, ..., C)
    return mc_mean(grad)
