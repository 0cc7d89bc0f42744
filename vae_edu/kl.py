r"""Closed-form Kullback–Leibler divergences between Gaussians, and between Dirichlets.

Every function returns $\mathrm{KL}(q\,\|\,p) \ge 0$ with its arguments in the order the text
writes them ($q$ first), summed over the event dimension.

Book: *The Gaussian KL, derived and checked* (Gaussians) and *The Dirichlet VAE* (:func:`kl_dirichlet`).
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from .checks import check_event_shapes, check_positive, check_tensor, cholesky_checked

__all__ = ["kl_normal_std_normal", "kl_normal_normal", "kl_normal_full", "kl_mvn", "mean_field_gap", "kl_dirichlet"]


def _expm1_minus_x(x: Tensor) -> Tensor:
    r"""$e^x - 1 - x \ge 0$, to full relative precision also near $x = 0$.

    ``expm1(x) - x`` still cancels for small $|x|$ (in float32 it is exactly 0 for
    $|x| \lesssim 10^{-7}$), so for $|x| < 0.1$ the Taylor series $\sum_{k=2}^{10} x^k/k!$ is used
    (truncation error below $10^{-16}$ relative).
    """
    small = x.abs() < 0.1
    xs = torch.where(small, x, torch.zeros_like(x))
    series = torch.full_like(x, 1.0 / math.factorial(10))
    for k in range(9, 1, -1):
        series = 1.0 / math.factorial(k) + xs * series  # Horner: 1/k! + x/(k+1)! + ...
    return torch.where(small, xs * xs * series, torch.expm1(x) - x)


def kl_normal_std_normal(mu: Tensor, log_var: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu, \operatorname{diag}\sigma^2)\,\|\,\mathcal N(0, I)\big)$ in closed form.

    $$\mathrm{KL} = \sum_{d=1}^{D}\Big[\log\frac{1}{\sigma_d} + \frac{\sigma_d^2+\mu_d^2}{2}
      - \frac12\Big] = \frac12\sum_{d=1}^{D}\big[\mu_d^2 + (\sigma_d^2 - 1 - \log\sigma_d^2)\big]$$

    The bracket $\sigma^2 - 1 - \log\sigma^2$ is evaluated as ``expm1(log_var) - log_var``
    (its Taylor series when $|\log\sigma^2| < 0.1$), which keeps full relative precision when
    $\sigma^2 \approx 1$ (where the KL is tiny).

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
    var_term = _expm1_minus_x(log_var)  # sigma^2 - 1 - log sigma^2 >= 0
    return 0.5 * (mean_term + var_term).sum(dim=-1)


def kl_normal_normal(mu_q: Tensor, log_var_q: Tensor, mu_p: Tensor, log_var_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)\,\|\,\mathcal N(\mu_p, \operatorname{diag}\sigma_p^2)\big)$ in closed form.

    $$\mathrm{KL} = \frac12\sum_{d=1}^{D}\Big[\log\frac{\sigma_{p,d}^2}{\sigma_{q,d}^2}
      + \frac{\sigma_{q,d}^2 + (\mu_{q,d}-\mu_{p,d})^2}{\sigma_{p,d}^2} - 1\Big]$$

    With $r = \log\sigma_q^2 - \log\sigma_p^2$ the variance part is ``expm1(r) - r`` (never
    negative; its Taylor series when $|r| < 0.1$, so exact near $r=0$) and the mean part is $(\mu_q-\mu_p)^2/\sigma_p^2$.

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
    var_term = _expm1_minus_x(log_ratio)
    mean_term = (mu_q - mu_p) ** 2 * torch.exp(-log_var_p)
    return 0.5 * (var_term + mean_term).sum(dim=-1)


def kl_normal_full(mu_q: Tensor, cov_q: Tensor, mu_p: Tensor, cov_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathcal N(\mu_q, \Sigma_q)\,\|\,\mathcal N(\mu_p, \Sigma_p)\big)$ for full covariances.

    $$\mathrm{KL} = \frac12\Big[\operatorname{tr}(\Sigma_p^{-1}\Sigma_q)
      + (\mu_p-\mu_q)^\top\Sigma_p^{-1}(\mu_p-\mu_q) - D
      + \log\det\Sigma_p - \log\det\Sigma_q\Big]$$

    Evaluated with Cholesky factors $\Sigma = LL^\top$ and the lower-triangular
    $A = L_p^{-1}L_q$, whose diagonal gives $r_i = 2\log(L_{q,ii}/L_{p,ii})$:
    $\operatorname{tr}(\Sigma_p^{-1}\Sigma_q) - D - \log\det\Sigma_q + \log\det\Sigma_p
    = \sum_i (e^{r_i} - 1 - r_i) + \sum_{i>j} A_{ij}^2$ and the quadratic form is
    $\|L_p^{-1}(\mu_p-\mu_q)\|^2$. Every term is non-negative, so there is no cancellation
    when $q \approx p$, and no explicit inverse.

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
    chol_q = cholesky_checked("cov_q", cov_q).expand(*batch, dim, dim)  # (..., D, D)
    chol_p = cholesky_checked("cov_p", cov_p).expand(*batch, dim, dim)  # (..., D, D)
    diff = (mu_p - mu_q).expand(*batch, dim).unsqueeze(-1)  # (..., D, 1)

    a = torch.linalg.solve_triangular(chol_p, chol_q, upper=False)  # L_p^{-1} L_q, lower triangular, (..., D, D)
    off_diagonal = torch.tril(a, diagonal=-1).pow(2).sum(dim=(-2, -1))
    log_diag_q = torch.log(torch.diagonal(chol_q, dim1=-2, dim2=-1))  # (..., D)
    log_diag_p = torch.log(torch.diagonal(chol_p, dim1=-2, dim2=-1))
    diagonal = _expm1_minus_x(2.0 * (log_diag_q - log_diag_p)).sum(dim=-1)  # trace - D - log det ratio, diagonal part
    mahalanobis = torch.linalg.solve_triangular(chol_p, diff, upper=False).pow(2).sum(dim=(-2, -1))
    return 0.5 * (diagonal + off_diagonal + mahalanobis)


def kl_mvn(mu_q: Tensor, cov_q: Tensor, mu_p: Tensor, cov_p: Tensor) -> Tensor:
    """Deprecated: the old name of :func:`kl_normal_full` (the name beside ``log_normal_full``).

    Returns :func:`kl_normal_full` of the same arguments, with a ``DeprecationWarning``; it
    will be removed in a later release.

    Book: *The Gaussian KL, derived and checked*, "full covariance".
    """
    warnings.warn("vae_edu.kl.kl_mvn is deprecated: call kl_normal_full (same arguments)",
                  DeprecationWarning, stacklevel=2)
    return kl_normal_full(mu_q, cov_q, mu_p, cov_p)


def mean_field_gap(precision: Tensor) -> Tensor:
    r"""The smallest $\mathrm{KL}(q\,\|\,p)$ a diagonal Gaussian $q$ can reach, for $p = \mathcal N(\mu, \Lambda^{-1})$.

    $$\min_{q = \mathcal N(m, \operatorname{diag} v)} \mathrm{KL}(q\,\|\,p)
      = \frac12\Big(\sum_j \log\Lambda_{jj} - \log\det\Lambda\Big) \;\ge 0,$$

    reached at $m = \mu$, $v_j = 1/\Lambda_{jj}$ (narrower than the marginal variances
    $(\Lambda^{-1})_{jj}$). It is zero exactly when $\Lambda$ is diagonal; for a posterior
    $p(z|x)$ it is the part of the ELBO's gap that no mean-field encoder can close.

    Args:
        precision: $\Lambda$, symmetric positive definite, shape ``(..., D, D)``.

    Returns:
        The gap in nats, shape ``(...)``.

    Raises:
        TypeError, ValueError: naming ``precision`` (not a floating-point tensor, not square,
            symmetric or positive definite).

    Book: *The ELBO, derived and checked* (Exercise 2) and *The linear VAE*.
    """
    check_tensor("precision", precision, min_dim=2)
    chol = cholesky_checked("precision", precision)  # (..., D, D)
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)  # log det Lambda
    log_diagonal = torch.log(torch.diagonal(precision, dim1=-2, dim2=-1)).sum(dim=-1)  # sum_j log Lambda_jj
    return 0.5 * (log_diagonal - log_det)


def kl_dirichlet(alpha_q: Tensor, alpha_p: Tensor) -> Tensor:
    r"""$\mathrm{KL}\big(\mathrm{Dir}(\alpha_q)\,\|\,\mathrm{Dir}(\alpha_p)\big)$ in closed form.

    With the concentration sums $\alpha_{q,0} = \sum_k \alpha_{q,k}$, $\alpha_{p,0} = \sum_k \alpha_{p,k}$
    and the digamma function $\psi$
    ($\mathbb E_{\mathrm{Dir}(\alpha_q)}[\log\theta_k] = \psi(\alpha_{q,k}) - \psi(\alpha_{q,0})$):

    $$\mathrm{KL} = \log\Gamma(\alpha_{q,0}) - \sum_k\log\Gamma(\alpha_{q,k}) - \log\Gamma(\alpha_{p,0})
      + \sum_k\log\Gamma(\alpha_{p,k})
      + \sum_k(\alpha_{q,k} - \alpha_{p,k})\big(\psi(\alpha_{q,k}) - \psi(\alpha_{q,0})\big)$$

    Evaluated as $\sum_k G(\alpha_{p,k}, \alpha_{q,k}) - G(\alpha_{p,0}, \alpha_{q,0})$ with the gap
    $G(b, a) = \log\Gamma(b) - \log\Gamma(a) - (b - a)\,\psi(a) \ge 0$ (the same sum, regrouped),
    so it is exactly 0 when $q = p$, and in float64 whatever the input dtype: the terms are
    of the size of $\alpha_{q,0}\log\alpha_{q,0}$ and cancel to the KL, which in float32 loses
    every digit once $\alpha_{q,0}\gtrsim 10^2$ (float64 keeps about
    $16 - \log_{10}(\alpha_{q,0}\log\alpha_{q,0}/\mathrm{KL})$ digits). The result is not
    clamped: a negative value would be a rounding error of that size, not hidden.

    Args:
        alpha_q: concentrations of $q$, strictly positive, shape ``(..., K)``.
        alpha_p: concentrations of $p$, strictly positive, shape ``(..., K)``; batch shapes
            broadcast, the event dimension ``K`` must match.

    Returns:
        The KL, shape: the broadcast batch shape ``(...)``, in the dtype of ``alpha_q``.

    Example:
        >>> kl_dirichlet(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 1.0]))  # q = p
        tensor(0.)

    Book: *The Dirichlet VAE*, "the Dirichlet KL".
    """
    check_tensor("alpha_q", alpha_q, min_dim=1)
    check_tensor("alpha_p", alpha_p, min_dim=1)
    check_event_shapes(alpha_q=alpha_q, alpha_p=alpha_p)
    check_positive("alpha_q", alpha_q)
    check_positive("alpha_p", alpha_p)
    a_q, a_p = alpha_q.double(), alpha_p.double()  # (..., K), float64: see above
    alpha_0_q, alpha_0_p = a_q.sum(dim=-1), a_p.sum(dim=-1)  # concentration sums, (...)
    gaps = _lgamma_gap(a_p, a_q).sum(dim=-1) - _lgamma_gap(alpha_0_p, alpha_0_q)  # (...)
    return gaps.to(alpha_q.dtype)


def _lgamma_gap(b: Tensor, a: Tensor) -> Tensor:
    r"""$\log\Gamma(b) - \log\Gamma(a) - (b - a)\,\psi(a) \ge 0$, exactly 0 at $b = a$."""
    return torch.lgamma(b) - torch.lgamma(a) - (b - a) * torch.digamma(a)
