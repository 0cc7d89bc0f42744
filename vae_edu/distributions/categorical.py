r"""Log-probabilities of discrete data: Bernoulli, categorical and multinomial.

All sum over the event (last) dimension and return the batch shape. ``validate=False`` skips the
checks of ``x`` against the logits (the models check their data once, at their public methods).

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_event_shapes, check_tensor

__all__ = ["log_bernoulli", "log_categorical", "log_multinomial"]


def _check_x_against_logits(x: Tensor, logits: Tensor, event_dims: int) -> None:
    """Validate ``x`` and ``logits`` for the discrete log-probabilities (shared checks)."""
    check_tensor("x", x, min_dim=1)
    check_tensor("logits", logits, min_dim=event_dims)
    if logits.dtype != x.dtype:
        raise TypeError(f"logits has dtype {logits.dtype} but x has dtype {x.dtype}")
    if logits.shape[-event_dims] != x.shape[-1]:
        want = "(..., D)" if event_dims == 1 else "(..., D, L)"
        raise ValueError(
            f"logits must have shape {want} with D = x.shape[-1] = {x.shape[-1]}, got logits"
            f"{tuple(logits.shape)}"
        )
    try:
        torch.broadcast_shapes(x.shape[:-1], logits.shape[: logits.dim() - event_dims])
    except RuntimeError:
        raise ValueError(f"batch shapes do not broadcast: x{tuple(x.shape)}, logits{tuple(logits.shape)}") from None


def log_bernoulli(x: Tensor, logits: Tensor, *, validate: bool = True) -> Tensor:
    r"""Log-probability of binary data under independent Bernoullis, summed over the last dimension.

    $$\log p(x) = \sum_{d=1}^{D}\big[x_d \log\pi_d + (1-x_d)\log(1-\pi_d)\big]
      = \sum_{d=1}^{D}\big[x_d\,a_d - \operatorname{softplus}(a_d)\big],\qquad \pi_d = \operatorname{sigmoid}(a_d)$$

    Written with the logits $a$, never with $\pi$: $\log\operatorname{sigmoid}(a) = a - \operatorname{softplus}(a)$
    stays exact where $\pi$ rounds to 0 or 1.

    Args:
        x: binary data, values in $\{0, 1\}$, shape ``(..., D)``.
        logits: $a = \log\frac{\pi}{1-\pi}$, shape ``(..., D)``; batch shapes broadcast.
        validate: check the inputs (``False`` only where they were checked already: a model
            checks its data once, at its public methods).

    Returns:
        $\log p(x)$, shape: the broadcast batch shape.

    Raises:
        ValueError: if ``x`` holds a value other than 0 or 1 (a grey level is not a Bernoulli
            outcome: binarize it, or use :func:`log_categorical`), or shapes do not match.

    Book: *Training a VAE on digits*.
    """
    if not validate:  # the caller (a model part) has checked its inputs once, at its boundary
        return _log_bernoulli(x, logits)
    _check_x_against_logits(x, logits, 1)
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError("x must hold only 0s and 1s for a Bernoulli likelihood (binarize grey levels first)")
    return _log_bernoulli(x, logits)


def _log_bernoulli(x: Tensor, logits: Tensor) -> Tensor:
    """:func:`log_bernoulli` without input checks, for logits a model has just computed."""
    return (x * logits - torch.nn.functional.softplus(logits)).sum(dim=-1)


def log_categorical(x: Tensor, logits: Tensor, *, validate: bool = True, overwrite: bool = False) -> Tensor:
    r"""Log-probability of integer levels under independent categoricals, summed over the last dimension of ``x``.

    Pixel $d$ takes a level $x_d \in \{0, \dots, L-1\}$ with probability $\pi_{d,x_d} = \operatorname{softmax}(a_d)_{x_d}$:

    $$\log p(x) = \sum_{d=1}^{D}\log\pi_{d,x_d}
      = \sum_{d=1}^{D}\Big[a_{d,x_d} - \log\sum_{l=0}^{L-1} e^{a_{d,l}}\Big]$$

    The normaliser is a log-sum-exp per pixel; the log-softmax of all $D\times L$ logits is never
    stored, which matters when it is evaluated for thousands of samples of $z$.

    Args:
        x: levels as floats (0.0, 1.0, ..., L-1), shape ``(..., D)``.
        logits: unnormalised log-probabilities $a$, shape ``(..., D, L)``; the batch shapes of
            ``x`` and ``logits`` broadcast.
        validate: check the inputs (``False`` only where they were checked already: a model
            checks its data once, at its public methods).
        overwrite: reuse the memory of ``logits`` for the normaliser (no gradient through it).

    Returns:
        $\log p(x)$, shape: the broadcast batch shape.

    Raises:
        ValueError: if ``x`` holds a non-integer value or a level outside ``[0, L-1]``, or shapes do
            not match.

    Book: *Training a VAE on digits*.
    """
    if not validate:  # the caller (a model part) has checked its inputs once, at its boundary
        return _log_categorical(x, logits, overwrite=overwrite)
    _check_x_against_logits(x, logits, 2)
    num_levels = logits.shape[-1]
    if not bool((x == torch.round(x)).all()):
        raise ValueError("x must hold integer levels (0.0, 1.0, ..., L-1) for a categorical likelihood")
    if not bool(((x >= 0) & (x <= num_levels - 1)).all()):
        raise ValueError(
            f"x must hold levels in [0, {num_levels - 1}] (logits has L = {num_levels} levels), got values in "
            f"[{x.min().item():g}, {x.max().item():g}]"
        )
    return _log_categorical(x, logits)


def _log_categorical(x: Tensor, logits: Tensor, *, overwrite: bool = False) -> Tensor:
    r""":func:`log_categorical` without input checks, for logits a model has just computed.

    ``overwrite=True`` lets the normaliser reuse the memory of ``logits`` (only when no gradient
    is needed and the caller owns ``logits``): the log-likelihood estimator evaluates millions of
    rows of ``D * L`` logits, and a second array of that size costs as much as computing them.
    """
    batch = torch.broadcast_shapes(x.shape[:-1], logits.shape[:-2])
    index = x.to(torch.int64).unsqueeze(-1).expand(*batch, x.shape[-1], 1)  # (..., D, 1)
    chosen = logits.expand(*batch, *logits.shape[-2:]).gather(-1, index).squeeze(-1)  # a_{d, x_d}, (..., D)
    return chosen.sum(dim=-1) - _log_normalizer(logits, overwrite=overwrite)


def _log_normalizer(logits: Tensor, *, overwrite: bool = False) -> Tensor:
    r"""$\sum_{d}\log\sum_{l} e^{a_{d,l}}$ for logits of shape ``(..., D, L)``; returns shape ``(...)``.

    One shift $m$ per example (the maximum over all $D\times L$ logits) instead of one per
    pixel, so that $e^{a-m}$ is a single elementwise pass: $\log\sum_l e^{a_{d,l}} = m + \log\sum_l e^{a_{d,l}-m}$.
    If a pixel's logits all lie so far below $m$ that its sum underflows (~70 nats in float32),
    the exact per-pixel log-sum-exp is used instead.
    """
    num_pixels, num_levels = logits.shape[-2:]
    flat = logits.reshape(-1, num_pixels * num_levels)  # (N, D L); a view when logits is contiguous
    shift = flat.detach().amax(dim=-1, keepdim=True)  # m, (N, 1); the result does not depend on it
    if overwrite and not torch.is_grad_enabled():
        exps = flat.sub_(shift).exp_()  # in place: the caller no longer needs logits
    else:
        exps = torch.exp(flat - shift)
    sums = exps.view(-1, num_pixels, num_levels).sum(dim=-1)  # (N, D)
    if bool((sums.detach() < torch.finfo(logits.dtype).tiny * 2.0**24).any()):  # a pixel's sum underflowed
        if overwrite and not torch.is_grad_enabled():  # logits is gone: the caller must recompute it
            raise FloatingPointError("the categorical normaliser underflowed; call again with overwrite=False")
        return torch.logsumexp(logits, dim=-1).sum(dim=-1)
    out = torch.log(sums).sum(dim=-1) + num_pixels * shift[:, 0]  # (N,)
    return out.view(logits.shape[:-2])


def log_multinomial(x: Tensor, log_probs: Tensor, *, validate: bool = True) -> Tensor:
    r"""$\log\mathrm{Mult}(x;\ N, p) = \log\Gamma(N+1) - \sum_v\log\Gamma(x_v+1) + \sum_v x_v\log p_v$, $N = \sum_v x_v$.

    The likelihood of a bag of words: $x_v$ counts how often word $v$ occurs in a document of
    $N$ words, each drawn independently from $p$.

    Args:
        x: counts (non-negative whole numbers, as floats), shape ``(..., V)``.
        log_probs: $\log p$, normalised over the last dimension, shape ``(..., V)``; batch shapes
            broadcast (e.g. ``(K, B, V)`` against ``x`` of shape ``(B, V)``).
        validate: check the inputs (``False`` only where they were checked already: a model
            checks its data once, at its public methods).

    Returns:
        shape: the broadcast batch shape ``(...)``.

    Book: *The Dirichlet VAE*, "a topic model as a VAE".
    """
    if not validate:  # the caller (a model part) has checked its inputs once, at its boundary
        return _log_multinomial(x, log_probs)
    check_tensor("x", x, min_dim=1)
    if not isinstance(log_probs, Tensor) or not log_probs.is_floating_point():
        raise TypeError("log_probs must be a floating-point torch.Tensor")
    if bool(torch.isnan(log_probs).any()) or bool((log_probs == float("inf")).any()):
        raise ValueError("log_probs contains NaN or +inf values")
    check_event_shapes(x=x, log_probs=log_probs)
    if bool((x < 0).any()) or not bool((x == torch.round(x)).all()):
        raise ValueError("x must hold counts (non-negative whole numbers)")
    return _log_multinomial(x, log_probs)


def _log_multinomial(x: Tensor, log_probs: Tensor) -> Tensor:
    log_coef = torch.lgamma(x.sum(dim=-1) + 1) - torch.lgamma(x + 1).sum(dim=-1)  # (B,)
    # x_v log p_v with 0 * log 0 = 0 (a word with probability 0 that never occurs)
    return log_coef + torch.where(x > 0, x * log_probs, torch.zeros_like(log_probs)).sum(dim=-1)
