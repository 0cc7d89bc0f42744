r"""Closed-form Kullback–Leibler divergences between Gaussians.

Every function returns $\mathrm{KL}(q\,\|\,p) \ge 0$ with its arguments in the order the text
writes them ($q$ first), summed over the event dimension. Book: *The Gaussian KL, derived and
checked*.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .utils import check_event_shapes, check_tensor

__all__ = ["kl_normal_std_normal", "kl_normal_normal", "kl_mvn"]


def kl_normal_std_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)$ in closed form.

    $$\mathrm{KL} = \sum_{d=1}^{D}\Big[\log\frac{1}{\sigma_d} + \frac{\sigma_d^2+\mu_d^2}{2}
      - \frac12\Big] = \frac12\sum_{d=1}^{D}\big[\mu_d^2 + (\sigma_d^2 - 1 - \log\sigma_d^2)\big]$$

    The bracket $\sigma^2 - 1 - \log\sigma^2$ is evaluated as ``expm1(log_var) - log_var``,
    which keeps full relative precision when $\sigma^2 \approx 1$ (where the KL is tiny).

    Args:
        mu: means of $q$, shape ``(..., D)``.
        log_var: log-variances of $q$, shape ``(..., D)``.

    Returns:
        The KL, shape: the broadcast batch shape ``(...)``.

    Book: *The Gaussian KL, derived and checked*, step 4.
    """
    check_tensor("mu", mu, min_dim=1)
    check_tensor("log_var", log_var, min_dim=1)
    check_event_shapes(mu=mu, log_var=log_var)
    mean_term = mu**2  # (..., D)
    var_term = torch.expm1(log_var) - log_var  # sigma^2 - 1 - log sigma^2 >= 0
    return 0.5 * (mean_term + var_term).sum(dim=-1)


def kl_normal_normal(mu_q: Tensor, log_var_q: Tensor, mu_p: Tensor, log_var_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)\,\|\,\mathcal N(\mu_p, \operatorname{diag}\sigma_p^2)\big)$ in closed form.

    $$\mathrm{KL} = \frac12\sum_{d=1}^{D}\Big[\log\frac{\sigma_{p,d}^2}{\sigma_{q,d}^2}
      + \frac{\sigma_{q,d}^2 + (\mu_{q,d}-\mu_{p,d})^2}{\sigma_{p,d}^2} - 1\Big]$$

    With $r = \log\sigma_q^2 - \log\sigma_p^2$ the variance part is ``expm1(r) - r`` (never
    negative, exact near $r=0$) and the mean part is $(\mu_q-\mu_p)^2/\sigma_p^2$.

    Args:
        mu_q, log_var_q: parameters of $q$, shape ``(..., D)``.
        mu_p, log_var_p: parameters of $p$, shape ``(..., D)``; batch shapes broadcast, the
            event dimension ``D`` must match.

    Returns:
        The KL, shape: the broadcast batch shape.

    Book: *The Gaussian KL, derived and checked*, "two general Gaussians".
    """
    for name, t in (("mu_q", mu_q), ("log_var_q", log_var_q), ("mu_p", mu_p), ("log_var_p", log_var_p)):
        check_tensor(name, t, min_dim=1)
    check_event_shapes(mu_q=mu_q, log_var_q=log_var_q, mu_p=mu_p, log_var_p=log_var_p)
    log_ratio = log_var_q - log_var_p  # log(sigma_q^2 / sigma_p^2), (..., D)
    var_term = torch.expm1(log_ratio) - log_ratio
    mean_term = (mu_q - mu_p) ** 2 * torch.exp(-log_var_p)
    return 0.5 * (var_term + mean_term).sum(dim=-1)


def _cholesky(name: str, cov: Tensor) -> Tensor:
    """Cholesky factor of a symmetric positive-definite matrix, with an error that names it."""
    if not torch.allclose(cov, cov.transpose(-1, -2), rtol=1e-5, atol=1e-8):
        raise ValueError(f"{name} must be symmetric")
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ValueError(f"{name} must be positive definite (its Cholesky factorisation failed)")
    return chol


def kl_mvn(mu_q: Tensor, cov_q: Tensor, mu_p: Tensor, cov_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu_q, \Sigma_q)\,\|\,\mathcal N(\mu_p, \Sigma_p)\big)$ for full covariances.

    $$\mathrm{KL} = \frac12\Big[\operatorname{tr}(\Sigma_p^{-1}\Sigma_q)
      + (\mu_p-\mu_q)^\top\Sigma_p^{-1}(\mu_p-\mu_q) - D
      + \log\det\Sigma_p - \log\det\Sigma_q\Big]$$

    Evaluated with Cholesky factors $\Sigma = LL^\top$: the trace is
    $\|L_p^{-1}L_q\|_F^2$, the quadratic form $\|L_p^{-1}(\mu_p-\mu_q)\|^2$ and
    $\log\det\Sigma = 2\sum_i \log L_{ii}$ — no explicit inverse.

    Args:
        mu_q: mean of $q$, shape ``(..., D)``.
        cov_q: covariance of $q$, symmetric positive definite, shape ``(..., D, D)``.
        mu_p: mean of $p$, shape ``(..., D)``.
        cov_p: covariance of $p$, shape ``(..., D, D)``. Batch shapes broadcast.

    Returns:
        The KL, shape: the broadcast batch shape.

    Raises:
        ValueError: if a covariance is not square ``D x D``, not symmetric or not positive
            definite, or the shapes do not agree.

    Book: *The Gaussian KL, derived and checked*, "full covariance".
    """
    check_tensor("mu_q", mu_q, min_dim=1)
    check_tensor("mu_p", mu_p, min_dim=1)
    check_tensor("cov_q", cov_q, min_dim=2)
    check_tensor("cov_p", cov_p, min_dim=2)
    check_event_shapes(mu_q=mu_q, mu_p=mu_p)
    dim = mu_q.shape[-1]
    for name, cov in (("cov_q", cov_q), ("cov_p", cov_p)):
        if cov.shape[-2:] != (dim, dim):
            raise ValueError(
                f"{name} must have shape (..., {dim}, {dim}) to match mu_q, got {tuple(cov.shape)}"
            )
        if cov.dtype != mu_q.dtype:
            raise TypeError(f"{name} has dtype {cov.dtype} but mu_q has dtype {mu_q.dtype}")
    try:
        batch = torch.broadcast_shapes(mu_q.shape[:-1], mu_p.shape[:-1], cov_q.shape[:-2], cov_p.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch shapes do not broadcast: mu_q{tuple(mu_q.shape)}, cov_q{tuple(cov_q.shape)}, "
            f"mu_p{tuple(mu_p.shape)}, cov_p{tuple(cov_p.shape)}"
        ) from None
    chol_q = _cholesky("cov_q", cov_q).expand(*batch, dim, dim)  # (..., D, D)
    chol_p = _cholesky("cov_p", cov_p).expand(*batch, dim, dim)  # (..., D, D)
    diff = (mu_p - mu_q).expand(*batch, dim).unsqueeze(-1)  # (..., D, 1)

    trace_term = torch.linalg.solve_triangular(chol_p, chol_q, upper=False).pow(2).sum(dim=(-2, -1))
    mahalanobis = torch.linalg.solve_triangular(chol_p, diff, upper=False).pow(2).sum(dim=(-2, -1))
    log_det_p = 2.0 * torch.log(torch.diagonal(chol_p, dim1=-2, dim2=-1)).sum(dim=-1)
    log_det_q = 2.0 * torch.log(torch.diagonal(chol_q, dim1=-2, dim2=-1)).sum(dim=-1)
    return 0.5 * (trace_term + mahalanobis - dim + log_det_p - log_det_q)
