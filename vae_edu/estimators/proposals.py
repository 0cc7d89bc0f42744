r"""Importance-sampling proposals other than the encoder itself: the defensive mixture.

:func:`~vae_edu.estimators.log_likelihood` uses the encoder $q(z|x)$ as its proposal. An encoder
fitted by the reverse KL $\mathrm{KL}(q\,\|\,p(z|x))$ tends to be *narrower* than the posterior;
where $q$ has thin tails the importance weights $p(x, z)/q(z|x)$ are heavy-tailed and, at any
finite $K$, $\log\hat p(x)$ comes out low. A **defensive mixture** (Hesterberg, 1995) adds a
wider component $r$,

$$q_\alpha(z|x) = (1-\alpha)\,q(z|x) + \alpha\,r(z|x),\qquad
  r(z|x) = \mathcal N\big(z;\ \bar z(x),\ s^2\operatorname{diag}\sigma^2(x)\big),$$

with $\bar z(x)$ the posterior's point code (``q.mean``) and $\sigma^2(x)$ its Gaussian's
variances (for a flow posterior such as the IAF's, its base Gaussian's). Every weight is then
at most $p(x, z)/\big((1-\alpha) q(z|x)\big)$ and at most $p(x, z)/\big(\alpha\, r(z|x)\big)$: the
estimate can lose little against $q$ alone, and the wide component covers what $q$ misses.
The same construction serves every posterior with ``rsample_with_log_prob``, ``log_prob`` and
a Gaussian to widen, so two models can be scored with the same kind of proposal.

Book: *Inverse autoregressive flow*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, overload

import torch
from torch import Tensor, nn

from ..checks import check_batch, check_generator, check_int
from ..models.posteriors import DiagonalGaussian
from .likelihood import eval_mode

__all__ = ["widened_gaussian", "log_likelihood_defensive"]


def widened_gaussian(q: object, scale: float) -> DiagonalGaussian:
    r"""The wide component $r(z|x) = \mathcal N\big(\bar z(x),\ s^2\operatorname{diag}\sigma^2(x)\big)$ of a posterior.

    $\bar z$ is ``q.mean``; $\log\sigma^2$ is ``q.log_var`` (a :class:`DiagonalGaussian`) or
    ``q.base.log_var`` (a flow posterior such as :class:`~vae_edu.models.IAFPosterior`); the
    log-variance becomes $\log\sigma^2 + 2\log s$.

    Args:
        q: the posterior of a batch.
        scale: $s > 0$, the factor on the standard deviations.

    Returns:
        a :class:`DiagonalGaussian` with tensors of shape ``(B, z_dim)``.

    Raises:
        TypeError: if ``q`` has no Gaussian to widen.

    Book: *Inverse autoregressive flow*.
    """
    gaussian = q if isinstance(q, DiagonalGaussian) else getattr(q, "base", None)
    if not isinstance(gaussian, DiagonalGaussian):
        raise TypeError(
            f"q must be a DiagonalGaussian or have one as .base (a flow posterior), got {type(q).__name__}"
        )
    mean = q.mean  # type: ignore[attr-defined]
    return DiagonalGaussian(mean, gaussian.log_var + 2.0 * math.log(scale))


def _pieces(total: int, size: int) -> list[int]:
    """``total`` split into near-equal pieces of at most ``size`` (none if ``total`` is 0)."""
    num = -(-total // size)
    return [total // num + (i < total % num) for i in range(num)]


@overload
def log_likelihood_defensive(
    model: nn.Module,
    x: Tensor | Sequence[Tensor],
    num_samples: int = ...,
    *,
    alpha: float = ...,
    scale: float = ...,
    chunk_size: int = ...,
    generator: torch.Generator | None = ...,
    return_stderr: Literal[False] = ...,
) -> Tensor: ...


@overload
def log_likelihood_defensive(
    model: nn.Module,
    x: Tensor | Sequence[Tensor],
    num_samples: int = ...,
    *,
    alpha: float = ...,
    scale: float = ...,
    chunk_size: int = ...,
    generator: torch.Generator | None = ...,
    return_stderr: Literal[True],
) -> tuple[Tensor, Tensor]: ...


def log_likelihood_defensive(
    model: nn.Module,
    x: Tensor | Sequence[Tensor],
    num_samples: int = 5000,
    *,
    alpha: float = 0.2,
    scale: float = 2.0,
    chunk_size: int = 4096,
    generator: torch.Generator | None = None,
    return_stderr: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Importance-sampled $\log p(x)$ with the defensive mixture $q_\alpha = (1-\alpha)\,q + \alpha\,r$ as proposal.

    $$\log\hat p(x) = \log\frac1K\sum_{k=1}^K \frac{p(x|z_k)\,p(z_k)}{(1-\alpha)\,q(z_k|x) + \alpha\,r(z_k|x)}$$

    with $r$ from :func:`widened_gaussian`. The draws are stratified: exactly $K_r = $
    ``round(alpha * K)`` come from $r$ and $K - K_r$ from $q$, and $\alpha$ in the density is
    $K_r/K$, which keeps $\hat p(x)$ unbiased (each component's draws are weighted by the
    mixture density, the balance heuristic of multiple importance sampling). Like
    :func:`~vae_edu.estimators.log_likelihood` it is a lower bound on $\log p(x)$ in expectation.
    Scoring $r$'s draws needs $\log q(z|x)$ at points $q$ did not draw: for the IAF posterior that
    inverts the flow ($T\cdot d$ sequential passes), the cost of this estimator.

    Args:
        model: a composed model, ``VAE(encoder, decoder, prior)``: ``encoder(x)`` returns a
            posterior with ``mean``, ``rsample_with_log_prob`` and ``log_prob`` and a Gaussian to
            widen; ``decoder.log_prob(x, z)``, ``prior.log_prob(z)``.
        x: data, shape ``(B, x_dim)`` (or a tuple ``(x, y, ...)`` for a conditional model).
        num_samples: $K \ge 2$.
        alpha: $\alpha \in (0, 1)$, the share of draws from the wide component.
        scale: $s \ge 1$, how much wider than $q$'s Gaussian $r$ is (standard deviations).
        chunk_size: the most (sample, example) pairs evaluated at once.
        generator: optional :class:`torch.Generator`.
        return_stderr: also return the delta-method standard error of $\log\hat p$ for the
            stratified draws, $\sqrt{\sum_j n_j \widehat{\mathrm{Var}}_j(w)}\,/\,\sum_k w_k$.

    Returns:
        $\log\hat p(x)$, shape ``(B,)``, in nats (or ``(log_p_hat, stderr)``).

    Raises:
        TypeError, ValueError: naming the argument.

    Book: *Inverse autoregressive flow*.
    """
    if not isinstance(model, nn.Module) or not all(hasattr(model, n) for n in ("encoder", "decoder", "prior")):
        raise TypeError(f"model must be a composed VAE(encoder, decoder, prior), got {type(model).__name__}")
    check_int("num_samples", num_samples, 2)
    check_int("chunk_size", chunk_size)
    check_generator(generator)
    for name, value in (("alpha", alpha), ("scale", scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1 (a wider component), got {scale!r}")
    num_r = round(alpha * num_samples)
    if not 0 < num_r < num_samples or (return_stderr and min(num_r, num_samples - num_r) < 2):
        raise ValueError(
            f"alpha * num_samples must leave draws for both components (2 each for a standard error): "
            f"alpha={alpha!r}, num_samples={num_samples} give {num_r} from the wide one"
        )
    batch = check_batch("x", x)
    check_data = getattr(model, "check_data", None)
    if check_data is not None:
        check_data(*batch)
    num_q = num_samples - num_r
    log_shares = (math.log(num_q / num_samples), math.log(num_r / num_samples))  # log(1 - alpha), log alpha
    if num_samples <= chunk_size:  # all K draws of several examples per chunk
        examples_per_chunk, pieces = max(1, chunk_size // num_samples), ([num_q], [num_r])
    else:  # one example per chunk, each component's draws in pieces of at most chunk_size
        examples_per_chunk, pieces = 1, (_pieces(num_q, chunk_size), _pieces(num_r, chunk_size))
    sums: list[list[Tensor]] = [[], []]  # per component: logsumexp of log w, (b,) per chunk
    sums_sq: list[list[Tensor]] = [[], []]  # per component: logsumexp of 2 log w
    with torch.inference_mode(), eval_mode(model):
        for start in range(0, batch[0].shape[0], examples_per_chunk):
            x_part, *context = (t[start : start + examples_per_chunk] for t in batch)
            q = model.encoder(x_part, *context)
            wide = widened_gaussian(q, scale)
            for component in (0, 1):  # 0: draws from q, 1: draws from r
                lse, lse_sq = [], []
                for size in pieces[component]:
                    if component == 0:
                        z, log_q = q.rsample_with_log_prob(size, generator)  # (n, b, z_dim), (n, b)
                        log_r = wide.log_prob(z)
                    else:
                        z = wide.rsample(size, generator)  # (n, b, z_dim)
                        log_q, log_r = q.log_prob(z), wide.log_prob(z)  # (n, b) each
                    log_mix = torch.logaddexp(log_shares[0] + log_q, log_shares[1] + log_r)
                    log_joint = model.decoder.log_prob(x_part, z, *context) + model.prior.log_prob(z, *context)
                    log_w = log_joint - log_mix  # (n, b)
                    lse.append(torch.logsumexp(log_w, dim=0))
                    lse_sq.append(torch.logsumexp(2.0 * log_w, dim=0))
                sums[component].append(torch.logsumexp(torch.stack(lse), dim=0))
                sums_sq[component].append(torch.logsumexp(torch.stack(lse_sq), dim=0))
        lse_j = torch.stack([torch.cat(s) for s in sums])  # (2, B): log of each component's sum of w
        lse_sq_j = torch.stack([torch.cat(s) for s in sums_sq])  # (2, B)
        log_sum = torch.logsumexp(lse_j, dim=0)  # log sum_k w_k, (B,)
        log_p_hat = log_sum - math.log(num_samples)
        if return_stderr:
            n_j = torch.tensor([num_q, num_r], dtype=log_sum.dtype).unsqueeze(-1)  # (2, 1)
            # n_j Var_j(w) / (sum w)^2 = n_j / (n_j - 1) * (sum_j w^2 - (sum_j w)^2 / n_j) / (sum w)^2
            share_sq = torch.exp(lse_sq_j - 2.0 * log_sum)
            share = torch.exp(lse_j - log_sum)
            rel_var = (n_j / (n_j - 1) * (share_sq - share**2 / n_j)).sum(dim=0)
            stderr = rel_var.clamp(min=0.0).sqrt()
    if return_stderr:
        return log_p_hat.clone(), stderr.clone()
    return log_p_hat.clone()
