r"""Estimates of a model's $\log p(x)$ by importance sampling with its encoder: the IWAE bound and the NLL.

* :func:`iwae_bound` — $\mathcal L_k = \mathbb E\big[\log \tfrac1k\sum_{i=1}^k w_i\big]$ with
  $w_i = p(x, z_i)/q(z_i|x)$, a lower bound on $\log p(x)$ that tightens as $k$ grows;
* :func:`log_likelihood` — $\log \tfrac1K\sum_i w_i$ with $K$ in the thousands, the book's NLL;
* :mod:`~vae_edu.estimators.ais_likelihood` has the annealed importance sampling estimates.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal, overload

import torch
from torch import Tensor

from ..checks import check_batch, check_generator, check_int
from .monte_carlo import log_mean_exp

if TYPE_CHECKING:
    from ..models.protocols import VariationalModel

__all__ = ["iwae_bound", "log_likelihood", "eval_mode"]


@contextlib.contextmanager
def eval_mode(model: object) -> Iterator[None]:
    """Run a block with ``model`` in evaluation mode (dropout off), then restore its mode.

    Evaluations (:func:`log_likelihood`, :func:`vae_edu.training.objectives.mean_negative_elbo`) use it, so a
    model left in training mode is still scored as the deterministic model it is.

    Book: *Training a VAE on digits*.
    """
    was_training = isinstance(model, torch.nn.Module) and model.training
    if was_training:
        model.eval()  # type: ignore[union-attr]
    try:
        yield
    finally:
        if was_training:
            model.train()  # type: ignore[union-attr]


def _check_model(model: object) -> None:
    if not callable(getattr(model, "log_importance_weights", None)):
        raise TypeError(
            f"model must have a log_importance_weights method (a VariationalModel such as VAE), "
            f"got {type(model).__name__}: a model without a posterior q(z|x), such as a GAN, has no likelihood estimate"
        )


def iwae_bound(
    model: VariationalModel,
    x: Tensor | Sequence[Tensor],
    num_samples: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""The importance-weighted bound $\mathcal L_K$ (IWAE), one Monte Carlo draw of it per example.

    $$\mathcal L_K(x) = \mathbb E_{z_1..z_K \sim q(z|x)}\Big[\log\frac1K\sum_{k=1}^K
      \frac{p(x, z_k)}{q(z_k|x)}\Big],\qquad
      \mathrm{ELBO} = \mathcal L_1 \le \mathcal L_K \le \mathcal L_{K+1} \le \log p(x)$$

    The estimate is ``log_mean_exp`` of ``num_samples`` $= K$ log importance weights; it stays
    differentiable, so ``-iwae_bound(model, x, num_samples).mean()`` is the IWAE training loss.
    For large $K$ and no gradients use :func:`log_likelihood` (the same estimator, in
    memory-bounded chunks).

    Args:
        model: a :class:`~vae_edu.models.VariationalModel` (needs ``log_importance_weights``).
        x: data, shape ``(B, x_dim)`` (or a tuple ``(x, y, ...)`` for a conditional model).
        num_samples: $K$, the number of importance samples (>= 1).
        generator: optional :class:`torch.Generator`.

    Returns:
        shape ``(B,)``, in nats.

    Book: *Training a VAE on digits*.
    """
    _check_model(model)
    check_int("num_samples", num_samples)
    check_generator(generator)
    batch = check_batch("x", x)
    log_w = model.log_importance_weights(*batch, num_samples=num_samples, generator=generator)  # (K, B)
    return log_mean_exp(log_w, dim=0)


@overload
def log_likelihood(
    model: VariationalModel,
    x: Tensor | Sequence[Tensor],
    num_samples: int = ...,
    *,
    chunk_size: int = ...,
    generator: torch.Generator | None = ...,
    return_stderr: Literal[False] = ...,
) -> Tensor: ...


@overload
def log_likelihood(
    model: VariationalModel,
    x: Tensor | Sequence[Tensor],
    num_samples: int = ...,
    *,
    chunk_size: int = ...,
    generator: torch.Generator | None = ...,
    return_stderr: Literal[True],
) -> tuple[Tensor, Tensor]: ...


def log_likelihood(
    model: VariationalModel,
    x: Tensor | Sequence[Tensor],
    num_samples: int = 5000,
    *,
    chunk_size: int = 4096,
    generator: torch.Generator | None = None,
    return_stderr: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Importance-sampled $\log p(x)$ with the encoder $q(z|x)$ as proposal: the test-set log-likelihood.

    $$\log\hat p(x) = \log\frac1K\sum_{k=1}^K \frac{p(x|z_k)\,p(z_k)}{q(z_k|x)},\qquad z_k\sim q(z|x)$$

    It is the IWAE bound $\mathcal L_K$ at large $K$ (5000 is the convention for reported NLLs):
    a lower bound in expectation that tightens to $\log p(x)$ as $K$ grows. The $K\times B$
    weights are never all in memory: they are computed in chunks of at most ``chunk_size``
    (sample, example) pairs, and each chunk is reduced to $\operatorname{logsumexp}$ at once;
    the chunks combine as $\log\hat p = \operatorname{logsumexp}_c(\operatorname{logsumexp}_{k\in c}\log w_k) - \log K$.
    Runs under :func:`torch.inference_mode` (no gradients), with the model in evaluation mode.
    The cost is $K\times B$ decoder evaluations: for the book's digits model, 447 test images at
    $K = 5000$ are 2.2 million passes, about 1.6 TFLOP of matrix products — those, not the
    bookkeeping, set the time.

    Args:
        model: a :class:`~vae_edu.models.VariationalModel` (needs ``log_importance_weights``).
        x: data, shape ``(B, x_dim)`` (or a tuple ``(x, y, ...)`` for a conditional model).
        num_samples: $K$ (>= 2 if ``return_stderr``).
        chunk_size: the most (sample, example) pairs evaluated at once; memory is about
            ``chunk_size`` × (the decoder's output width) floats. Examples with more than
            ``chunk_size`` samples are evaluated one example at a time.
        generator: optional :class:`torch.Generator`; the same generator state and the same
            ``chunk_size`` give the same numbers.
        return_stderr: also return the delta-method standard error of $\log\hat p$ (as in
            :func:`importance_log_mean`), computed from $\sum_k w_k$ and $\sum_k w_k^2$.

    Returns:
        $\log\hat p(x)$, shape ``(B,)``, in nats (or ``(log_p_hat, stderr)``). The NLL is ``-log_p_hat``.

    Book: *Training a VAE on digits*.
    """
    _check_model(model)
    check_int("num_samples", num_samples)
    check_int("chunk_size", chunk_size)
    check_generator(generator)
    if return_stderr and num_samples < 2:
        raise ValueError(f"num_samples must be >= 2 for a standard error, got {num_samples}")
    batch = check_batch("x", x)
    num_examples = batch[0].shape[0]
    if num_samples <= chunk_size:  # all K samples of several examples per chunk
        examples_per_chunk, pieces = max(1, chunk_size // num_samples), [num_samples]
    else:  # one example per chunk, its K samples in near-equal pieces of at most chunk_size
        num_pieces = -(-num_samples // chunk_size)
        examples_per_chunk = 1
        pieces = [num_samples // num_pieces + (i < num_samples % num_pieces) for i in range(num_pieces)]
    sums, sums_sq = [], []  # logsumexp of log w and of 2 log w, per example
    with torch.inference_mode(), eval_mode(model):
        for start in range(0, num_examples, examples_per_chunk):
            part = tuple(t[start : start + examples_per_chunk] for t in batch)
            lse, lse_sq = [], []
            for size in pieces:
                log_w = model.log_importance_weights(*part, num_samples=size, generator=generator)  # (size, b)
                lse.append(torch.logsumexp(log_w, dim=0))
                if return_stderr:
                    lse_sq.append(torch.logsumexp(2.0 * log_w, dim=0))
            sums.append(torch.logsumexp(torch.stack(lse), dim=0))  # (b,)
            if return_stderr:
                sums_sq.append(torch.logsumexp(torch.stack(lse_sq), dim=0))
        log_sum = torch.cat(sums)  # log sum_k w_k, (B,)
        log_p_hat = log_sum - math.log(num_samples)
        if return_stderr:
            # relative stderr of p_hat: sqrt((K sum w^2 / (sum w)^2 - 1) / (K - 1))
            ratio = torch.exp(torch.cat(sums_sq) - 2.0 * log_sum) * num_samples  # >= 1
            stderr = torch.sqrt((ratio - 1.0).clamp(min=0.0) / (num_samples - 1))
    # cloned outside inference mode: ordinary tensors, usable in autograd code afterwards
    if return_stderr:
        return log_p_hat.clone(), stderr.clone()
    return log_p_hat.clone()
