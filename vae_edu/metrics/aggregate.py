r"""The aggregate posterior $q(z) = \frac1N\sum_n q(z|x_n)$: its density, ELBO surgery, and holes.

* :func:`aggregate_posterior_log_prob` — $\log q(z)$, a mixture of the $N$ per-example posteriors;
* :func:`elbo_surgery` — the data-averaged KL term split into the information the code carries
  about the example and the mismatch $\mathrm{KL}(q(z)\,\|\,p(z))$ (Hoffman & Johnson 2016);
* :func:`in_hole` and :func:`hole_fraction` — prior samples where $q(z)$ is much smaller than
  $p(z)$: regions the decoder was never trained on;
* :func:`prior_elbo_surgery` and :func:`prior_hole_fraction` — the same against any prior with a
  ``log_prob`` (a learned one of :mod:`vae_edu.models.learned_priors`), by Monte Carlo.

Book: *Is z meaningful? The latent space*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import (
    check_event_shapes,
    check_int,
    check_points,
    check_positive_float,
    check_tensor,
)
from ..distributions.gaussian import log_normal_diag, log_standard_normal
from ..estimators.monte_carlo import mc_mean

__all__ = ["aggregate_posterior_log_prob", "elbo_surgery", "in_hole", "hole_fraction", "prior_elbo_surgery", "prior_hole_fraction"]


def aggregate_posterior_log_prob(z: Tensor, mu_q: Tensor, log_var_q: Tensor, *, chunk_size: int = 1024) -> Tensor:
    r"""Log-density of the aggregate posterior $q(z) = \frac1N\sum_{n=1}^N q(z|x_n)$, in log space.

    $$\log q(z) = \operatorname{logsumexp}_n \log\mathcal N\big(z;\ \mu_{q,n}, \operatorname{diag}\sigma_{q,n}^2\big) - \log N$$

    Args:
        z: points, shape ``(M, z_dim)``.
        mu_q, log_var_q: the encoder's outputs for the $N$ data points, shape ``(N, z_dim)`` each.
        chunk_size: points of ``z`` per block (memory is ``chunk_size * N * z_dim``).

    Returns:
        shape ``(M,)``.

    Book: *Is z meaningful? The latent space*.
    """
    check_points("z", z)
    check_points("mu_q", mu_q)
    check_points("log_var_q", log_var_q)
    if log_var_q.shape != mu_q.shape:
        raise ValueError(f"log_var_q must have the shape of mu_q {tuple(mu_q.shape)}, got {tuple(log_var_q.shape)}")
    check_event_shapes(z=z[:1], mu_q=mu_q[:1], log_var_q=log_var_q[:1])
    check_int("chunk_size", chunk_size, 1)
    out = []
    for block in z.split(chunk_size):
        log_q = log_normal_diag(block[:, None, :], mu_q, log_var_q)  # (m, N)
        out.append(torch.logsumexp(log_q, dim=1) - math.log(mu_q.shape[0]))
    return torch.cat(out)


def elbo_surgery(z: Tensor, mu_q: Tensor, log_var_q: Tensor) -> tuple[Tensor, Tensor]:
    r"""ELBO surgery: the integrands of the two parts of the average KL term, at samples of $q(z|x_n)$.

    With $n$ uniform over the $N$ data points and $q(z) = \frac1N\sum_n q(z|x_n)$
    (Hoffman & Johnson, 2016),

    $$\frac1N\sum_{n=1}^N \mathrm{KL}\big(q(z|x_n)\,\|\,p(z)\big)
      = \underbrace{\frac1N\sum_{n=1}^N \mathbb E_{q(z|x_n)}\Big[\log\frac{q(z|x_n)}{q(z)}\Big]}_{I_q(n;\,z)}
      + \underbrace{\mathbb E_{q(z)}\Big[\log\frac{q(z)}{p(z)}\Big]}_{\mathrm{KL}(q(z)\,\|\,p(z))}$$

    with $p(z) = \mathcal N(0, I)$ and $\log q(z)$ from :func:`aggregate_posterior_log_prob`.
    At every $z$ the two integrands add up to $\log q(z|x_n) - \log p(z)$, the integrand of
    the KL term, and the first is at most $\log N$ (since $q(z) \ge q(z|x_n)/N$), so
    $0 \le I_q(n; z) \le \log N$.

    Args:
        z: samples, shape ``(K, N, z_dim)``, with ``z[k, n]`` drawn from $q(z|x_n)$ (e.g.
            :func:`~vae_edu.distributions.reparameterize` with noise of shape ``(K, N, z_dim)``).
        mu_q, log_var_q: the encoder's outputs for the $N$ data points, shape ``(N, z_dim)`` each.

    Returns:
        ``(information, marginal)``, each of shape ``(K, N)``: $\log q(z|x_n) - \log q(z)$ and
        $\log q(z) - \log p(z)$ at ``z[k, n]``. Their means over all $KN$ samples
        (:func:`~vae_edu.estimators.mc_mean` of the flattened values) estimate $I_q(n; z)$ and
        $\mathrm{KL}\big(q(z)\,\|\,p(z)\big)$ without bias.

    Book: *The ELBO, derived and checked*.
    """
    check_tensor("z", z, min_dim=3)
    check_points("mu_q", mu_q)
    if z.dim() != 3 or z.shape[1:] != mu_q.shape:
        raise ValueError(
            f"z must have shape (K, N, z_dim) with (N, z_dim) = {tuple(mu_q.shape)}, got {tuple(z.shape)}"
        )
    flat = z.reshape(-1, z.shape[-1])  # (K * N, z_dim)
    log_q_z = aggregate_posterior_log_prob(flat, mu_q, log_var_q).view(z.shape[:2])  # (K, N)
    log_q_z_given_x = log_normal_diag(z, mu_q, log_var_q)  # (K, N)
    return log_q_z_given_x - log_q_z, log_q_z - log_standard_normal(z)


def in_hole(z: Tensor, mu_q: Tensor, log_var_q: Tensor, ratio: float = 0.1) -> Tensor:
    r"""Which points lie in a "hole" of the aggregate posterior: $\mathbb 1\big[\log q(z) - \log p(z) < \log c\big]$.

    $q(z)$ is :func:`aggregate_posterior_log_prob` and $p(z) = \mathcal N(0, I)$; a point is in a
    hole when the aggregate posterior is less than $c$ times the prior there.

    Args:
        z: points, shape ``(M, z_dim)``.
        mu_q, log_var_q: the encoder's outputs for the data, shape ``(N, z_dim)`` each.
        ratio: $c > 0$.

    Returns:
        a bool tensor, shape ``(M,)``.

    Book: *Is z meaningful? The latent space*.
    """
    log_c = math.log(check_positive_float("ratio", ratio))
    log_q = aggregate_posterior_log_prob(z, mu_q, log_var_q)  # (M,)
    return log_q - log_standard_normal(z) < log_c


def hole_fraction(z: Tensor, mu_q: Tensor, log_var_q: Tensor, ratio: float = 0.1) -> tuple[Tensor, Tensor]:
    r"""The prior mass in the "holes" of the aggregate posterior, by Monte Carlo over prior samples.

    $$H_c = \Pr_{z\sim p(z)}\big[q(z) < c\,p(z)\big] \approx \frac1M\sum_{m=1}^M \mathbb 1\big[\log q(z_m) - \log p(z_m) < \log c\big],
      \quad z_m \sim \mathcal N(0, I)$$

    A hole is a region that the prior (and so ancestral sampling) visits but the encoder maps
    (almost) no training data to: the decoder was never trained there. $H_c$ is the chance that a
    prior sample lands in one, with "much less" meaning "less than $c$ times" (default $c = 0.1$).
    If $q(z) = p(z)$ exactly, $H_c = 0$ for every $c < 1$.

    Args:
        z: samples from the prior $\mathcal N(0, I)$, shape ``(M, z_dim)``, $M \ge 2$.
        mu_q, log_var_q: the encoder's outputs for the data, shape ``(N, z_dim)`` each.
        ratio: $c > 0$.

    Returns:
        ``(H, stderr)``, each of shape ``()``: the fraction and its binomial standard error
        (the mean of :func:`in_hole` over ``z``, by :func:`~vae_edu.estimators.mc_mean`).

    Book: *Is z meaningful? The latent space*.
    """
    return mc_mean(in_hole(z, mu_q, log_var_q, ratio).to(z.dtype))


def prior_elbo_surgery(prior: nn.Module, z: Tensor, mu_q: Tensor, log_var_q: Tensor) -> tuple[Tensor, Tensor]:
    r"""ELBO surgery against any prior: the integrands of $I_q(n; z)$ and $\mathrm{KL}\big(q(z)\,\|\,p(z)\big)$.

    $$\frac1N\sum_{n=1}^N \mathrm{KL}\big(q(z|x_n)\,\|\,p(z)\big)
      = \underbrace{\frac1N\sum_n \mathbb E_{q(z|x_n)}\Big[\log\frac{q(z|x_n)}{q(z)}\Big]}_{I_q(n;\,z)}
      + \underbrace{\mathbb E_{q(z)}\Big[\log\frac{q(z)}{p(z)}\Big]}_{\mathrm{KL}(q(z)\,\|\,p(z))}$$

    :func:`~vae_edu.metrics.aggregate.elbo_surgery` with $p(z) = $ ``prior.log_prob`` in place of
    $\mathcal N(0, I)$. Only the second part depends on the prior, and it is 0 exactly when
    $p(z) = q(z)$: the aggregate posterior is the best prior for a fixed encoder.

    Args:
        prior: has ``log_prob(z)`` (e.g. :class:`MixturePrior`, :class:`VampPrior`,
            :class:`~vae_edu.models.StandardNormalPrior`).
        z: samples, shape ``(K, N, z_dim)``, ``z[k, n]`` drawn from $q(z|x_n)$.
        mu_q, log_var_q: the encoder's outputs for the $N$ data points, shape ``(N, z_dim)`` each.

    Returns:
        ``(information, marginal)``, each of shape ``(K, N)``: $\log q(z|x_n) - \log q(z)$ and
        $\log q(z) - \log p(z)$ at ``z[k, n]``; their means estimate the two parts without bias.

    Book: *Learned priors: mixtures and the VampPrior*.
    """
    check_tensor("z", z, min_dim=3)
    check_tensor("mu_q", mu_q, min_dim=2)
    if z.dim() != 3 or mu_q.dim() != 2 or z.shape[1:] != mu_q.shape:
        raise ValueError(f"z must have shape (K, N, z_dim) with (N, z_dim) = {tuple(mu_q.shape)}, got {tuple(z.shape)}")
    flat = z.reshape(-1, z.shape[-1])  # (K * N, z_dim)
    log_q_z = aggregate_posterior_log_prob(flat, mu_q, log_var_q).view(z.shape[:2])  # (K, N)
    log_q_z_given_x = log_normal_diag(z, mu_q, log_var_q)  # (K, N)
    return log_q_z_given_x - log_q_z, log_q_z - prior.log_prob(z)


def prior_hole_fraction(
    prior: nn.Module, z: Tensor, mu_q: Tensor, log_var_q: Tensor, ratio: float = 0.1
) -> tuple[Tensor, Tensor]:
    r"""The prior mass in the "holes" of the aggregate posterior, for any prior, by Monte Carlo.

    $$H_c = \Pr_{z\sim p(z)}\big[q(z) < c\,p(z)\big] \approx \frac1M\sum_{m=1}^M
      \mathbb 1\big[\log q(z_m) - \log p(z_m) < \log c\big],\quad z_m \sim p(z)$$

    The measure of :func:`~vae_edu.metrics.aggregate.hole_fraction` (which fixes $p = \mathcal N(0, I)$) with
    $p(z) = $ ``prior.log_prob``: the chance that a sample of the prior lands where the encoder
    sends (almost) no training data. With the standard normal prior and the same ``z`` the two
    functions agree exactly.

    Args:
        prior: has ``log_prob(z)``.
        z: samples of ``prior`` (e.g. ``prior.sample(M)``), shape ``(M, z_dim)``, $M \ge 2$.
        mu_q, log_var_q: the encoder's outputs for the data, shape ``(N, z_dim)`` each.
        ratio: $c > 0$.

    Returns:
        ``(H, stderr)``, each of shape ``()``: the fraction and its binomial standard error.

    Book: *Learned priors: mixtures and the VampPrior*.
    """
    log_c = math.log(check_positive_float("ratio", ratio))
    with torch.no_grad():
        log_q = aggregate_posterior_log_prob(z, mu_q, log_var_q)  # (M,)
        holes = log_q - prior.log_prob(z) < log_c  # (M,)
    return mc_mean(holes.to(z.dtype))
