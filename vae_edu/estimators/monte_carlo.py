r"""Monte Carlo estimators with standard errors.

A Monte Carlo estimate is only as good as its error bar: every estimator here returns
``(estimate, stderr)``, and the book checks closed forms against estimates "within a few
standard errors".

Book: *The Gaussian KL* and *The ELBO*.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from ..checks import check_event_shapes, check_generator, check_tensor
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize

__all__ = [
    "mc_mean",
    "kl_monte_carlo",
    "mc_elbo",
    "elbo_monte_carlo",
    "log_mean_exp",
    "importance_log_mean",
    "effective_sample_size",
]


def _check_log_w(log_w: object, dim: int = 0) -> Tensor:
    """Log-weights: a floating-point tensor, no NaN or +inf (a -inf is a zero weight), a non-empty sample axis."""
    if not isinstance(log_w, Tensor) or not log_w.is_floating_point() or log_w.dim() < 1:
        check_tensor("log_w", log_w, min_dim=1)  # raises, naming log_w
    assert isinstance(log_w, Tensor)
    if isinstance(dim, bool) or not isinstance(dim, int) or not -log_w.dim() <= dim < log_w.dim():
        raise ValueError(f"dim must be an int in [{-log_w.dim()}, {log_w.dim() - 1}] for log_w of shape {tuple(log_w.shape)}, got {dim!r}")
    if bool(torch.isnan(log_w).any()) or bool((log_w == float("inf")).any()):
        bad = "NaN" if bool(torch.isnan(log_w).any()) else "+inf"
        raise ValueError(f"log_w contains {bad} values (-inf, a zero weight, is allowed)")
    if log_w.shape[dim] == 0:
        raise ValueError(f"log_w has no samples: its sample axis (dim={dim}) is empty, shape {tuple(log_w.shape)}")
    return log_w


def mc_mean(values: Tensor) -> tuple[Tensor, Tensor]:
    r"""Monte Carlo mean over the first (sample) dimension, with its standard error.

    $$\hat\mu = \frac1N\sum_{n=1}^N v_n,\qquad
      \widehat{\mathrm{se}} = \frac{s}{\sqrt N},\quad s^2 = \frac{1}{N-1}\sum_{n=1}^N (v_n-\hat\mu)^2$$

    Args:
        values: samples, shape ``(N, ...)`` with ``N >= 2``.

    Returns:
        ``(mean, stderr)``, each of shape ``(...)``.

    Book: *The Gaussian KL, derived and checked*.
    """
    check_tensor("values", values, min_dim=1)
    num = values.shape[0]
    if num < 2:
        raise ValueError(f"values needs at least 2 samples along dim 0 for a standard error, got {num}")
    mean = values.mean(dim=0)
    stderr = values.std(dim=0, correction=1) / math.sqrt(num)
    return mean, stderr


def kl_monte_carlo(
    mu_q: Tensor,
    log_var_q: Tensor,
    mu_p: Tensor | None = None,
    log_var_p: Tensor | None = None,
    *,
    num_samples: int = 10_000,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""Monte Carlo estimate of $\mathrm{KL}(q\,\|\,p)$ for diagonal Gaussians, with its standard error.

    $$\mathrm{KL}(q\,\|\,p) = \mathbb E_{q(z)}\big[\log q(z) - \log p(z)\big]
      \approx \frac1N\sum_{n=1}^N \big[\log q(z_n) - \log p(z_n)\big],\qquad z_n\sim q$$

    Args:
        mu_q, log_var_q: parameters of $q$, shape ``(..., D)``.
        mu_p, log_var_p: parameters of $p$, shape ``(..., D)``; both ``None`` (the default)
            means the standard normal prior $p(z)=\mathcal N(0, I)$.
        num_samples: $N$, the number of samples from $q$ (at least 2).
        generator: optional :class:`torch.Generator` for reproducible samples.

    Returns:
        ``(estimate, stderr)``, each of the broadcast batch shape ``(...)``.

    Book: *The Gaussian KL, derived and checked*.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
        raise ValueError(f"num_samples must be an int >= 2, got {num_samples!r}")
    check_generator(generator)
    check_tensor("mu_q", mu_q, min_dim=1)
    check_tensor("log_var_q", log_var_q, min_dim=1)
    if (mu_p is None) != (log_var_p is None):
        raise ValueError("mu_p and log_var_p must be given together (or both left as None)")
    if mu_p is not None and log_var_p is not None:
        check_tensor("mu_p", mu_p, min_dim=1)
        check_tensor("log_var_p", log_var_p, min_dim=1)
        shape = check_event_shapes(mu_q=mu_q, log_var_q=log_var_q, mu_p=mu_p, log_var_p=log_var_p)
    else:
        shape = check_event_shapes(mu_q=mu_q, log_var_q=log_var_q)
    mu_q, log_var_q = mu_q.expand(shape), log_var_q.expand(shape)  # (..., D), the broadcast shape
    z = reparameterize(mu_q, log_var_q, num_samples=num_samples, generator=generator)  # (N, ..., D)
    log_q = log_normal_diag(z, mu_q, log_var_q)  # (N, ...)
    if mu_p is None or log_var_p is None:
        log_p = log_standard_normal(z)
    else:
        log_p = log_normal_diag(z, mu_p, log_var_p)
    return mc_mean(log_q - log_p)


def mc_elbo(log_p_x_given_z: Tensor, log_p_z: Tensor, log_q_z: Tensor) -> tuple[Tensor, Tensor]:
    r"""Monte Carlo ELBO from per-sample log-densities, with its standard error.

    $$\mathrm{ELBO} = \mathbb E_{q(z|x)}\big[\log p(x|z) + \log p(z) - \log q(z|x)\big]
      \approx \frac1K\sum_{k=1}^K \big[\log p(x|z_k) + \log p(z_k) - \log q(z_k|x)\big]$$

    Args:
        log_p_x_given_z: $\log p(x|z_k)$, shape ``(K, ...)``.
        log_p_z: $\log p(z_k)$, shape ``(K, ...)``.
        log_q_z: $\log q(z_k|x)$, shape ``(K, ...)``; all three evaluated at the same
            samples $z_k \sim q(z|x)$.

    Returns:
        ``(estimate, stderr)``, each of shape ``(...)``.

    Book: *The ELBO, derived and checked*.
    """
    check_tensor("log_p_x_given_z", log_p_x_given_z, min_dim=1)
    check_tensor("log_p_z", log_p_z, min_dim=1)
    check_tensor("log_q_z", log_q_z, min_dim=1)
    for name, t in (("log_p_z", log_p_z), ("log_q_z", log_q_z)):
        if t.dtype != log_p_x_given_z.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but log_p_x_given_z has dtype {log_p_x_given_z.dtype}")
    if not (log_p_x_given_z.shape == log_p_z.shape == log_q_z.shape):
        raise ValueError(
            "log_p_x_given_z, log_p_z and log_q_z must have the same shape (K, ...), got "
            f"{tuple(log_p_x_given_z.shape)}, {tuple(log_p_z.shape)} and {tuple(log_q_z.shape)}"
        )
    if log_p_x_given_z.shape[0] < 2:
        raise ValueError(
            "log_p_x_given_z, log_p_z and log_q_z need K >= 2 samples along dim 0 for a standard "
            f"error, got K={log_p_x_given_z.shape[0]}"
        )
    return mc_mean(log_p_x_given_z + log_p_z - log_q_z)


def elbo_monte_carlo(log_p_x_given_z: Tensor, log_p_z: Tensor, log_q_z: Tensor) -> tuple[Tensor, Tensor]:
    """Deprecated: the old name of :func:`mc_elbo` (``LinearVAE.elbo_monte_carlo`` is a method on data).

    Returns :func:`mc_elbo` of the same arguments, with a ``DeprecationWarning``; it will be
    removed in a later release.

    Book: *The ELBO, derived and checked*.
    """
    warnings.warn("vae_edu.estimators.elbo_monte_carlo is deprecated: call mc_elbo (same arguments)",
                  DeprecationWarning, stacklevel=2)
    return mc_elbo(log_p_x_given_z, log_p_z, log_q_z)


def log_mean_exp(log_w: Tensor, dim: int = 0) -> Tensor:
    r"""The log of a mean of exponentials, computed stably in log space.

    $$\log \frac1K\sum_{k=1}^K e^{\ell_k} = \operatorname{logsumexp}_k(\ell_k) - \log K$$

    This is how every importance-sampled likelihood is formed: with log-weights
    $\ell_k = \log p(x, z_k) - \log q(z_k|x)$ it is $\log \hat p(x)$. Computing ``exp`` first
    underflows to 0 for the log-likelihoods of real data (hundreds of nats below zero).
    An entry $-\infty$ is a zero weight: it counts in $K$ and adds nothing to the sum; if all
    are $-\infty$ the result is $-\infty$.

    Args:
        log_w: log-values $\ell_k$, shape ``(K, ...)`` (or with the sample axis at ``dim``),
            ``K >= 1``; ``-inf`` allowed, NaN and ``+inf`` are not.
        dim: the sample axis.

    Returns:
        Shape of ``log_w`` without ``dim``.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_log_w(log_w, dim)
    num = log_w.shape[dim]
    return torch.logsumexp(log_w, dim=dim) - math.log(num)


def importance_log_mean(log_w: Tensor) -> tuple[Tensor, Tensor]:
    r"""Importance-sampled $\log \hat p$ with the standard error of $\log \hat p$ (delta method).

    With weights $w_k = e^{\ell_k}$, $\hat p = \frac1K\sum_k w_k$ and
    $\operatorname{se}(\log\hat p) \approx \operatorname{se}(\hat p)/\hat p
    = \frac{s_w}{\sqrt K\,\bar w}$, the *relative* standard error of $\hat p$.
    Everything is computed after dividing the weights by their maximum, so nothing overflows.
    A ``-inf`` log-weight is a zero weight, as in :func:`log_mean_exp`. Where every weight is
    zero, $\log\hat p = -\infty$ and the relative error $0/0$ is undefined: ``stderr`` is NaN
    there (as in :func:`log_likelihood`), so a "within k standard errors" check fails.

    Args:
        log_w: log-weights, shape ``(K, ...)`` with ``K >= 2``; ``-inf`` allowed, NaN and
            ``+inf`` are not.

    Returns:
        ``(log_p_hat, stderr)``, each of shape ``(...)``. A large ``stderr`` (say > 0.1) means
        the estimate is dominated by a few weights and cannot be trusted.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_log_w(log_w)
    num = log_w.shape[0]
    if num < 2:
        raise ValueError(f"log_w needs at least 2 samples along dim 0 for a standard error, got {num}")
    shift = log_w.amax(dim=0, keepdim=True)  # (1, ...)
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))  # all -inf: every weight 0
    w = torch.exp(log_w - shift)  # (K, ...), max weight 1 (or all 0)
    w_bar, se_w = mc_mean(w)
    return log_mean_exp(log_w), se_w / w_bar


def effective_sample_size(log_w: Tensor) -> Tensor:
    r"""Kish's effective sample size of importance weights, $(\sum_k w_k)^2 / \sum_k w_k^2$.

    It is $K$ when all weights are equal (the proposal is the target) and near 1 when a single
    weight dominates. A ``-inf`` log-weight is a zero weight; where every weight is zero the
    ratio is $0/0$ and the result is NaN.

    Args:
        log_w: log-weights, shape ``(K, ...)``, ``K >= 1``; ``-inf`` allowed, NaN and ``+inf`` are not.

    Returns:
        Shape ``(...)``, values in $[1, K]$.

    Book: *Latent-variable models and the intractable marginal*.
    """
    _check_log_w(log_w)
    return torch.exp(2 * torch.logsumexp(log_w, dim=0) - torch.logsumexp(2 * log_w, dim=0))
