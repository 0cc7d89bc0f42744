r"""The Dirichlet distribution on the simplex: its log-density, two ways to sample it differentiably,
its score, and the Laplace approximation in the softmax basis.

A point of the simplex $\Delta^{K-1} = \{\theta\in\mathbb R^K: \theta_k\ge0,\ \sum_k\theta_k = 1\}$ is a
vector of *proportions*. Two differentiable routes to samples of $\mathrm{Dir}(\alpha)$:

* **implicit reparameterisation** (Figurnov et al. 2018): exact samples whose gradient
  $\partial\theta/\partial\alpha$ comes from differentiating the CDF (PyTorch's ``Dirichlet.rsample``);
  :func:`rsample_dirichlet`.
* **the Laplace approximation in the softmax basis** (MacKay 1998; Srivastava & Sutton 2017): replace
  $\mathrm{Dir}(\alpha)$ by the logistic normal $\theta = \operatorname{softmax}(z)$,
  $z\sim\mathcal N(\mu, \operatorname{diag}\sigma^2)$ with $(\mu, \sigma^2)$ from
  :func:`dirichlet_to_logistic_normal`, and reparameterise the Gaussian; :func:`rsample_logistic_normal`.

Plus the score-function route's ingredient, $\nabla_\alpha\log\mathrm{Dir}(\theta;\alpha)$
(:func:`score_dirichlet`). Matching learned to true topics is in :mod:`vae_edu.metrics.topics`.

Book: *The Dirichlet VAE*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_event_shapes, check_generator, check_int, check_positive, check_tensor
from .gaussian import reparameterize

__all__ = [
    "log_dirichlet",
    "score_dirichlet",
    "dirichlet_to_logistic_normal",
    "logistic_normal_to_dirichlet",
    "rsample_dirichlet",
    "rsample_logistic_normal",
]


def _check_alpha(name: str, alpha: object) -> Tensor:
    check_tensor(name, alpha, min_dim=1)
    assert isinstance(alpha, Tensor)
    if alpha.shape[-1] < 2:
        raise ValueError(f"{name} must have an event dimension K >= 2, got shape {tuple(alpha.shape)}")
    return check_positive(name, alpha)


def _check_simplex(name: str, theta: Tensor) -> None:
    if bool((theta < 0).any()):
        raise ValueError(f"{name} must lie on the simplex (entries >= 0), got minimum {theta.min().item():.3g}")
    tol = 1e-4 if theta.dtype in (torch.float16, torch.bfloat16, torch.float32) else 1e-8
    if not bool(((theta.sum(dim=-1) - 1).abs() <= tol).all()):
        raise ValueError(f"{name} must lie on the simplex (rows summing to 1 within {tol:g})")


def _check_num_samples(num_samples: object) -> int:
    return check_int("num_samples", num_samples, 1)


def log_dirichlet(theta: Tensor, alpha: Tensor) -> Tensor:
    r"""$\log\mathrm{Dir}(\theta;\alpha) = \log\Gamma(\alpha_0) - \sum_k\log\Gamma(\alpha_k) + \sum_k(\alpha_k - 1)\log\theta_k$, $\alpha_0 = \sum_k\alpha_k$.

    The density is with respect to the Lebesgue measure on the first $K-1$ coordinates (the
    convention of ``torch.distributions.Dirichlet``).

    Args:
        theta: points of the simplex, shape ``(..., K)`` (entries $\ge 0$, rows summing to 1).
        alpha: concentrations, strictly positive, shape ``(..., K)``; batch shapes broadcast.

    Returns:
        shape: the broadcast batch shape ``(...)``.

    Book: *The Dirichlet VAE*, "the Dirichlet on the simplex".
    """
    check_tensor("theta", theta, min_dim=1)
    _check_alpha("alpha", alpha)
    check_event_shapes(theta=theta, alpha=alpha)
    _check_simplex("theta", theta)
    log_norm = torch.lgamma(alpha.sum(dim=-1)) - torch.lgamma(alpha).sum(dim=-1)  # (...)
    return log_norm + torch.xlogy(alpha - 1, theta).sum(dim=-1)


def score_dirichlet(theta: Tensor, alpha: Tensor) -> Tensor:
    r"""The score $\nabla_\alpha\log\mathrm{Dir}(\theta;\alpha)$: $\ \partial/\partial\alpha_k = \psi(\alpha_0) - \psi(\alpha_k) + \log\theta_k$.

    Its expectation under $\mathrm{Dir}(\alpha)$ is 0 (because $\mathbb E[\log\theta_k] = \psi(\alpha_k) - \psi(\alpha_0)$);
    $(f(\theta) - b)\,\nabla_\alpha\log\mathrm{Dir}(\theta;\alpha)$ is the score-function (REINFORCE)
    estimate of $\nabla_\alpha\mathbb E[f(\theta)]$ (:func:`vae_edu.gradients.score_function_estimate`).

    Args:
        theta: points of the simplex with every entry $> 0$, shape ``(..., K)``.
        alpha: concentrations, shape ``(..., K)``; batch shapes broadcast.

    Returns:
        shape: the broadcast shape ``(..., K)``.

    Book: *The Dirichlet VAE*, "three gradient routes".
    """
    check_tensor("theta", theta, min_dim=1)
    _check_alpha("alpha", alpha)
    check_event_shapes(theta=theta, alpha=alpha)
    _check_simplex("theta", theta)
    if not bool((theta > 0).all()):
        raise ValueError("theta must be strictly positive for the score (log theta is -inf at 0)")
    return torch.digamma(alpha.sum(dim=-1, keepdim=True)) - torch.digamma(alpha) + torch.log(theta)


def dirichlet_to_logistic_normal(alpha: Tensor) -> tuple[Tensor, Tensor]:
    r"""The Laplace approximation of $\mathrm{Dir}(\alpha)$ in the softmax basis: a logistic normal $\mathcal N(\mu, \operatorname{diag}\sigma^2)$.

    $$\mu_k = \log\alpha_k - \frac1K\sum_i\log\alpha_i,\qquad
      \sigma_k^2 = \frac1{\alpha_k}\Big(1 - \frac2K\Big) + \frac1{K^2}\sum_i\frac1{\alpha_i}$$

    (MacKay 1998; Hennig et al. 2012; Srivastava & Sutton 2017): the diagonal of the Laplace
    approximation's covariance, the off-diagonal terms dropped. $\theta = \operatorname{softmax}(z)$ with
    $z\sim\mathcal N(\mu,\operatorname{diag}\sigma^2)$ then approximates $\mathrm{Dir}(\alpha)$: for large $\alpha$
    its mean tends to the Dirichlet's, but (without the negative correlations) its variances are too small,
    by the factor $1 - 1/K$ for a symmetric $\alpha$ (a half for $K = 2$); for $\alpha_k < 1$, where the
    Dirichlet piles up in the corners, it is poor.

    Args:
        alpha: concentrations, strictly positive, shape ``(..., K)``, $K\ge2$.

    Returns:
        ``(mu, log_var)``, each of shape ``(..., K)``; ``mu`` sums to 0 over the last dimension.

    Book: *The Dirichlet VAE*, "the Laplace approximation".
    """
    _check_alpha("alpha", alpha)
    num = alpha.shape[-1]
    log_alpha = torch.log(alpha)  # (..., K)
    mu = log_alpha - log_alpha.mean(dim=-1, keepdim=True)
    inv_alpha = torch.reciprocal(alpha)
    var = inv_alpha * (1.0 - 2.0 / num) + inv_alpha.sum(dim=-1, keepdim=True) / num**2
    return mu, torch.log(var)


def logistic_normal_to_dirichlet(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""The inverse of :func:`dirichlet_to_logistic_normal`: the $\alpha$ whose Laplace approximation has these $(\mu, \sigma^2)$.

    $$\alpha_k = \frac1{\sigma_k^2}\Big(1 - \frac2K + \frac{e^{\mu_k}}{K^2}\sum_i e^{-\mu_i}\Big)$$

    Exact for $(\mu, \sigma^2)$ in the image of the forward map; for other inputs (the map
    from $2K$ numbers to $K$ is not onto) it is the moment-matching projection of Hennig et al. (2012).

    Args:
        mu: means in the softmax basis, shape ``(..., K)``, $K\ge2$.
        log_var: log-variances, shape ``(..., K)``.

    Returns:
        ``alpha``, shape: the broadcast shape ``(..., K)``, strictly positive.

    Book: *The Dirichlet VAE*, "the Laplace approximation".
    """
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    check_event_shapes(mu=mu, log_var=log_var)
    num = mu.shape[-1]
    if num < 2:
        raise ValueError(f"mu must have an event dimension K >= 2, got shape {tuple(mu.shape)}")
    # e^{mu_k} sum_i e^{-mu_i} = exp(mu_k + logsumexp(-mu)), computed in log space
    cross = torch.exp(mu + torch.logsumexp(-mu, dim=-1, keepdim=True))  # (..., K)
    return torch.exp(-log_var) * (1.0 - 2.0 / num + cross / num**2)


def rsample_dirichlet(alpha: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
    r"""Draw $\theta_s\sim\mathrm{Dir}(\alpha)$, differentiably in $\alpha$ by implicit reparameterisation.

    $\theta_k = g_k/\sum_i g_i$ with $g_k\sim\mathrm{Gamma}(\alpha_k, 1)$; the gradient
    $\partial g/\partial\alpha = -\frac{\partial F(g;\alpha)/\partial\alpha}{p(g;\alpha)}$ comes from the CDF $F$
    (Figurnov et al. 2018), as implemented by ``torch.distributions.Dirichlet.rsample``. PyTorch's
    Gamma sampler only reads the global generator, so with a ``generator`` the draw runs under a
    forked global state seeded from it: reproducible, and the caller's global state is untouched.

    Args:
        alpha: concentrations, strictly positive, shape ``(..., K)``.
        num_samples: $S$, the number of draws.
        generator: optional :class:`torch.Generator`.

    Returns:
        $\theta$, shape ``(S, ..., K)``, differentiable in ``alpha``. Entries may underflow to 0
        for very small $\alpha_k$.

    Book: *The Dirichlet VAE*, "three gradient routes".
    """
    _check_alpha("alpha", alpha)
    _check_num_samples(num_samples)
    check_generator(generator)
    dist = torch.distributions.Dirichlet(alpha, validate_args=False)
    if generator is None:
        return dist.rsample((num_samples,))
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return dist.rsample((num_samples,))  # (S, ..., K)


def rsample_logistic_normal(
    mu: Tensor, log_var: Tensor, num_samples: int = 1, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    r"""Draw $\theta = \operatorname{softmax}(z)$, $z = \mu + \sigma\odot\varepsilon$: the logistic normal, reparameterised.

    With $(\mu, \log\sigma^2)$ from :func:`dirichlet_to_logistic_normal` this is the Laplace route to
    (approximate) Dirichlet samples.

    Args:
        mu: means, shape ``(..., K)``.
        log_var: log-variances, shape ``(..., K)``.
        num_samples: $S$.
        generator: optional :class:`torch.Generator` for $\varepsilon$.

    Returns:
        ``(theta, z)``, each of shape ``(S, ..., K)``, differentiable in ``mu`` and ``log_var``.

    Book: *The Dirichlet VAE*, "three gradient routes".
    """
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    shape = check_event_shapes(mu=mu, log_var=log_var)
    _check_num_samples(num_samples)
    check_generator(generator)
    eps = torch.randn((num_samples, *shape), dtype=mu.dtype, device=mu.device, generator=generator)
    z = reparameterize(mu, log_var, eps)  # (S, ..., K)
    return torch.softmax(z, dim=-1), z
