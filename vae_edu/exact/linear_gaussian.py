r"""The linear-Gaussian latent-variable model (probabilistic PCA): the book's exact playground.

$$z \sim \mathcal N(0, I_d),\qquad x \mid z \sim \mathcal N(Wz + b,\ \sigma^2 I_D)$$

Everything a VAE can only estimate is exact here: the marginal $p(x)$, the posterior
$p(z|x)$, the ELBO of any diagonal Gaussian $q$, and $\mathrm{KL}(q\,\|\,p(z|x))$. The chapters
use it as ground truth. With $M = W^\top W + \sigma^2 I_d$ (a small $d\times d$ matrix):

* marginal: $p(x) = \mathcal N(x;\ b,\ C)$ with $C = WW^\top + \sigma^2 I_D$,
  $\log\det C = (D-d)\log\sigma^2 + \log\det M$ and $C^{-1} = \sigma^{-2}(I - WM^{-1}W^\top)$;
* posterior: $p(z|x) = \mathcal N\big(M^{-1}W^\top(x-b),\ \sigma^2 M^{-1}\big)$.

Linear algebra runs in float64 internally; results come back in the dtype of the model.
Book: *The ELBO, derived and checked*; Tipping & Bishop (1999).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_broadcast, check_event_shapes, check_int, check_positive, check_tensor, check_vector
from ..distributions.gaussian import LOG_2PI, log_normal_diag, log_normal_full
from ..kl import kl_normal_full, kl_normal_std_normal
from .ppca import ppca_fit

__all__ = ["LinearGaussian", "expected_log_linear_gaussian"]


def expected_log_linear_gaussian(
    x: Tensor, W: Tensor, b: Tensor, log_var_p: Tensor, mu_q: Tensor, log_var_q: Tensor
) -> Tensor:
    r"""$\mathbb E_{q(z|x)}[\log p(x|z)]$ in closed form for the decoder $p(x|z) = \mathcal N(Wz + b, \sigma_p^2 I)$
    and $q(z|x) = \mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)$.

    $$\mathbb E_q[\log p(x|z)] = -\frac D2\log(2\pi\sigma_p^2)
      - \frac{1}{2\sigma_p^2}\Big[\|x - b - W\mu_q\|^2 + \sum_j \sigma_{q,j}^2\,\|W_{:,j}\|^2\Big]$$

    The reconstruction term of every linear-Gaussian model in the book (:class:`LinearGaussian`
    and :class:`~vae_edu.exact.linear_vae.LinearVAE`), written once; inputs are trusted (the callers check them).

    Args:
        x: data, shape ``(..., D)``.
        W, b: the decoder's weights ``(D, d)`` and offset ``(D,)``.
        log_var_p: $\log\sigma_p^2$, a scalar tensor.
        mu_q, log_var_q: parameters of $q(z|x)$, shape ``(..., d)``.

    Returns:
        shape: the broadcast batch shape; differentiable in every argument.

    Book: *The ELBO* and *The linear VAE is probabilistic PCA*.
    """
    resid = x - b - mu_q @ W.T  # (..., D)
    spread = (torch.exp(log_var_q) * (W**2).sum(0)).sum(-1)  # tr(W diag(s^2) W^T), (...)
    return -0.5 * x.shape[-1] * (LOG_2PI + log_var_p) - 0.5 * ((resid**2).sum(-1) + spread) * torch.exp(-log_var_p)


class LinearGaussian:
    r"""Linear-Gaussian model $z\sim\mathcal N(0,I)$, $x|z\sim\mathcal N(Wz+b, \sigma^2 I)$.

    Args:
        W: decoder weights, shape ``(x_dim, z_dim)``.
        b: decoder bias (the marginal mean of $x$), shape ``(x_dim,)``.
        sigma2: observation-noise variance $\sigma^2 > 0$ (a float or a 0-dim tensor).

    Example:
        >>> model = LinearGaussian(torch.randn(5, 2), torch.zeros(5), 0.1)
        >>> x = model.sample(3)
        >>> mu_q, cov_q = model.posterior(x)
    """

    def __init__(self, W: Tensor, b: Tensor, sigma2: float | Tensor) -> None:
        check_tensor("W", W, min_dim=2)
        if W.dim() != 2:
            raise ValueError(f"W must have shape (x_dim, z_dim), got {tuple(W.shape)}")
        check_tensor("b", b, min_dim=1)
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape ({W.shape[0]},) to match W{tuple(W.shape)}, got {tuple(b.shape)}")
        if b.dtype != W.dtype:
            raise TypeError(f"b has dtype {b.dtype} but W has dtype {W.dtype}")
        if not isinstance(sigma2, Tensor):
            if isinstance(sigma2, bool) or not isinstance(sigma2, (int, float)):
                raise TypeError(f"sigma2 must be a float or a 0-dim tensor, got {type(sigma2).__name__}")
            sigma2 = torch.tensor(float(sigma2), dtype=W.dtype)
        check_tensor("sigma2", sigma2)
        if sigma2.dim() != 0:
            raise ValueError(f"sigma2 must be a scalar (0-dim tensor), got shape {tuple(sigma2.shape)}")
        check_positive("sigma2", sigma2)
        self.W = W
        self.b = b
        self.sigma2 = sigma2.to(W.dtype)

    # ------------------------------------------------------------------ basics
    @property
    def x_dim(self) -> int:
        """Data dimension $D$."""
        return self.W.shape[0]

    @property
    def z_dim(self) -> int:
        """Latent dimension $d$."""
        return self.W.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (and of every result)."""
        return self.W.dtype

    def __repr__(self) -> str:
        return f"LinearGaussian(x_dim={self.x_dim}, z_dim={self.z_dim}, sigma2={float(self.sigma2):.4g})"

    def _check_x(self, x: Tensor) -> None:
        check_tensor("x", x, min_dim=1)
        check_event_shapes(x=x, b=self.b)

    def _check_x_z(self, x: Tensor, z: Tensor) -> None:
        self._check_x(x)
        check_vector("z", z, self.z_dim, self.dtype)
        check_broadcast({"x": x.shape[:-1], "z": z.shape[:-1]})

    def _check_q(self, x: Tensor, mu_q: Tensor, log_var_q: Tensor) -> None:
        self._check_x(x)
        check_vector("mu_q", mu_q, self.z_dim, self.dtype)
        check_tensor("log_var_q", log_var_q, min_dim=1)
        check_event_shapes(mu_q=mu_q, log_var_q=log_var_q)
        check_broadcast({"x": x.shape[:-1], "mu_q": mu_q.shape[:-1], "log_var_q": log_var_q.shape[:-1]})

    def _m_cholesky(self) -> Tensor:
        """Cholesky factor of $M = W^\\top W + \\sigma^2 I$, in float64, shape ``(z_dim, z_dim)``."""
        W = self.W.double()
        eye = torch.eye(self.z_dim, dtype=torch.float64, device=W.device)
        return torch.linalg.cholesky(W.T @ W + self.sigma2.double() * eye)

    # ------------------------------------------------------------ generative side
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, return_z: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        r"""Draw $n$ samples by ancestral sampling: $z\sim p(z)$, then $x\sim p(x|z)$.

        Args:
            n: number of samples (>= 1).
            generator: optional :class:`torch.Generator`.
            return_z: also return the latent codes.

        Returns:
            ``x`` of shape ``(n, x_dim)``, or ``(x, z)`` with ``z`` of shape ``(n, z_dim)``.
        """
        n = check_int("n", n)
        z = torch.randn((n, self.z_dim), dtype=self.dtype, generator=generator)
        noise = torch.randn((n, self.x_dim), dtype=self.dtype, generator=generator)
        x = z @ self.W.T + self.b + torch.sqrt(self.sigma2) * noise  # (n, x_dim)
        return (x, z) if return_z else x

    def log_p_x_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        r"""The decoder's log-likelihood $\log p(x|z) = \log\mathcal N(x;\ Wz+b,\ \sigma^2 I)$.

        Args:
            x: data, shape ``(..., x_dim)``.
            z: latent codes, shape ``(..., z_dim)``; batch shapes broadcast (e.g. ``z`` of
                shape ``(K, B, z_dim)`` against ``x`` of shape ``(B, x_dim)``).

        Returns:
            shape: the broadcast batch shape.
        """
        self._check_x_z(x, z)
        mu_p = z @ self.W.T + self.b  # (..., x_dim)
        log_var_p = torch.log(self.sigma2).expand(self.x_dim)  # (x_dim,)
        return log_normal_diag(x, mu_p, log_var_p)

    def marginal(self) -> tuple[Tensor, Tensor]:
        r"""Mean and covariance of the exact marginal $p(x) = \mathcal N(b,\ WW^\top + \sigma^2 I)$.

        Returns:
            ``(b, C)`` with shapes ``(x_dim,)`` and ``(x_dim, x_dim)``.
        """
        eye = torch.eye(self.x_dim, dtype=self.dtype, device=self.W.device)
        return self.b, self.W @ self.W.T + self.sigma2 * eye

    def log_marginal(self, x: Tensor) -> Tensor:
        r"""Exact log-evidence $\log p(x) = \log\mathcal N(x;\ b,\ WW^\top + \sigma^2 I)$.

        Uses the determinant lemma and the Woodbury identity through $M$ (see the module
        docstring), so the cost is $O(Dd^2)$ rather than $O(D^3)$.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            $\log p(x)$, shape ``(...)``.

        Book: *The ELBO, derived and checked*.
        """
        self._check_x(x)
        chol_m = self._m_cholesky()
        sigma2 = self.sigma2.double()
        r = (x.double() - self.b.double())  # (..., D)
        u = torch.linalg.solve_triangular(chol_m, (r @ self.W.double()).unsqueeze(-1), upper=False)  # (..., d, 1)
        quad = ((r**2).sum(-1) - u.squeeze(-1).pow(2).sum(-1)) / sigma2  # r^T C^{-1} r, (...)
        log_det_c = (self.x_dim - self.z_dim) * torch.log(sigma2) + 2.0 * torch.log(torch.diagonal(chol_m)).sum()
        out = -0.5 * (self.x_dim * LOG_2PI + log_det_c + quad)
        return out.to(self.dtype)

    # ------------------------------------------------------------ inference side
    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Exact posterior $p(z|x) = \mathcal N\big(M^{-1}W^\top(x-b),\ \sigma^2M^{-1}\big)$.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            ``(mu, cov)``: ``mu`` of shape ``(..., z_dim)``; ``cov`` of shape
            ``(..., z_dim, z_dim)`` (the same matrix for every ``x``, expanded).
        """
        self._check_x(x)
        chol_m = self._m_cholesky()
        rhs = ((x.double() - self.b.double()) @ self.W.double()).unsqueeze(-1)  # (..., d, 1)
        mu = torch.cholesky_solve(rhs, chol_m).squeeze(-1)  # (..., d)
        eye = torch.eye(self.z_dim, dtype=torch.float64, device=chol_m.device)
        cov = self.sigma2.double() * torch.cholesky_solve(eye, chol_m)  # (d, d)
        cov = 0.5 * (cov + cov.T)  # exact symmetry for downstream Cholesky factorisations
        return mu.to(self.dtype), cov.to(self.dtype).expand(*mu.shape[:-1], self.z_dim, self.z_dim)

    def log_p_z_given_x(self, x: Tensor, z: Tensor) -> Tensor:
        r"""Log-density of the exact posterior, $\log p(z|x) = \log\mathcal N\big(z;\ M^{-1}W^\top(x-b),\ \sigma^2M^{-1}\big)$.

        Args:
            x: data, shape ``(..., x_dim)``.
            z: latent codes, shape ``(..., z_dim)``; batch shapes broadcast (e.g. ``z`` of
                shape ``(K, B, z_dim)`` against ``x`` of shape ``(B, x_dim)``).

        Returns:
            shape: the broadcast batch shape.

        Book: *The ELBO, derived and checked* (Bayes' rule, line 2).
        """
        self._check_x_z(x, z)
        mu_post, cov_post = self.posterior(x)  # (..., z_dim), (..., z_dim, z_dim)
        return log_normal_full(z.double(), mu_post.double(), cov_post.double()).to(self.dtype)

    def expected_log_p_x_given_z(self, x: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""Exact reconstruction term $\mathbb E_{q(z|x)}[\log p(x|z)]$ for $q = \mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)$.

        $$\mathbb E_q[\log p(x|z)] = -\frac D2\log(2\pi\sigma^2)
          - \frac{1}{2\sigma^2}\Big[\|x - b - W\mu_q\|^2 + \sum_j \sigma_{q,j}^2\,\|W_{:,j}\|^2\Big]$$

        Args:
            x: data, shape ``(..., x_dim)``.
            mu_q, log_var_q: parameters of $q(z|x)$, shape ``(..., z_dim)``.

        Returns:
            shape: the broadcast batch shape.
        """
        self._check_q(x, mu_q, log_var_q)
        log_var_p = torch.log(torch.as_tensor(self.sigma2, dtype=torch.float64))
        out = expected_log_linear_gaussian(
            x.double(), self.W.double(), self.b.double(), log_var_p, mu_q.double(), log_var_q.double()
        )
        return out.to(self.dtype)

    def elbo(self, x: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""Exact ELBO of a diagonal Gaussian $q(z|x)$ — no sampling.

        $$\mathrm{ELBO}(q) = \mathbb E_{q(z|x)}[\log p(x|z)] - \mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)
          = \log p(x) - \mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big)$$

        Args:
            x: data, shape ``(..., x_dim)``.
            mu_q, log_var_q: parameters of $q(z|x)$, shape ``(..., z_dim)``.

        Returns:
            The ELBO (to be maximised), shape: the broadcast batch shape.

        Book: *The ELBO, derived and checked*.
        """
        reconstruction = self.expected_log_p_x_given_z(x, mu_q, log_var_q)
        kl = kl_normal_std_normal(mu_q.double(), log_var_q.double()).to(self.dtype)
        return reconstruction - kl

    def kl_to_posterior(self, x: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big)$, the gap between $\log p(x)$ and the ELBO, exactly.

        Args:
            x: data, shape ``(..., x_dim)``.
            mu_q, log_var_q: parameters of $q(z|x)$, shape ``(..., z_dim)``.

        Returns:
            shape: the broadcast batch shape.
        """
        self._check_q(x, mu_q, log_var_q)
        mu_post, cov_post = self.posterior(x)
        cov_q = torch.diag_embed(torch.exp(log_var_q.double()))  # (..., d, d)
        return kl_normal_full(mu_q.double(), cov_q, mu_post.double(), cov_post.double()).to(self.dtype)

    # ------------------------------------------------------------ learning
    @classmethod
    def fit(cls, data: Tensor, z_dim: int) -> "LinearGaussian":
        r"""The maximum-likelihood model of ``data`` (``(N, x_dim)``), in its dtype: see :func:`ppca_fit`."""
        return cls(*ppca_fit(data, z_dim))
