r"""A conditional linear-Gaussian model: the exact playground of the conditional ELBO.

$$y \in \{0, \dots, C-1\},\qquad z \mid y \sim \mathcal N(m_y, I_d),\qquad
  x \mid z, y \sim \mathcal N(Wz + b_y,\ \sigma^2 I_D)$$

Given $y$, the shift $u = z - m_y \sim \mathcal N(0, I)$ turns it into the linear-Gaussian model of
:mod:`vae_edu.exact.linear_gaussian` with bias $c_y = Wm_y + b_y$, so everything is exact:
$p(x|y) = \mathcal N(x;\ c_y,\ WW^\top + \sigma^2 I)$, the posterior
$p(z|x,y) = \mathcal N\big(m_y + M^{-1}W^\top(x - c_y),\ \sigma^2M^{-1}\big)$ with
$M = W^\top W + \sigma^2 I$, the conditional ELBO of any diagonal Gaussian $q(z|x,y)$, and its gap
$\mathrm{KL}\big(q(z|x,y)\,\|\,p(z|x,y)\big)$. With class probabilities $p(y)$ (uniform unless
given), the unconditional $p(x) = \sum_y p(y)\,p(x|y)$ and the Bayes classifier $p(y|x)$ are exact too.

Shapes: ``x`` is ``(B, x_dim)``, ``y`` is ``(B,)`` (int64), ``z`` is ``(..., B, z_dim)``.
Book: *The conditional VAE*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_labels, check_tensor
from ..distributions.gaussian import log_normal_diag
from ..kl import kl_normal_full, kl_normal_normal
from .linear_gaussian import LinearGaussian

__all__ = ["ConditionalLinearGaussian"]


class ConditionalLinearGaussian:
    r"""$z|y \sim \mathcal N(m_y, I)$, $x|z,y \sim \mathcal N(Wz + b_y, \sigma^2 I)$: a linear-Gaussian model per class.

    Args:
        W: decoder weights, shared by the classes, shape ``(x_dim, z_dim)``.
        b: decoder bias of each class, shape ``(num_classes, x_dim)``.
        m: prior mean of each class, shape ``(num_classes, z_dim)``.
        sigma2: observation-noise variance $\sigma^2 > 0$.

    Example:
        >>> model = ConditionalLinearGaussian(torch.randn(5, 2), torch.randn(3, 5), torch.randn(3, 2), 0.5)
        >>> y = torch.tensor([0, 2])
        >>> x = model.sample(y)
        >>> model.log_marginal(x, y).shape
        torch.Size([2])

    Book: *The conditional VAE*.
    """

    def __init__(self, W: Tensor, b: Tensor, m: Tensor, sigma2: float | Tensor) -> None:
        self.base = LinearGaussian(W, torch.zeros(W.shape[0], dtype=W.dtype) if isinstance(W, Tensor) else W, sigma2)
        for name, value, width in (("b", b, W.shape[0]), ("m", m, W.shape[1])):
            check_tensor(name, value, min_dim=2)
            if value.dim() != 2 or value.shape[1] != width:
                raise ValueError(f"{name} must have shape (num_classes, {width}), got {tuple(value.shape)}")
            if value.dtype != W.dtype:
                raise TypeError(f"{name} has dtype {value.dtype} but W has dtype {W.dtype}")
        if b.shape[0] != m.shape[0]:
            raise ValueError(f"b and m must have the same number of classes, got {b.shape[0]} and {m.shape[0]}")
        self.W, self.b, self.m, self.sigma2 = W, b, m, self.base.sigma2

    @property
    def num_classes(self) -> int:
        """The number of classes $C$."""
        return self.b.shape[0]

    def __repr__(self) -> str:
        return (
            f"ConditionalLinearGaussian(num_classes={self.num_classes}, x_dim={self.base.x_dim}, "
            f"z_dim={self.base.z_dim}, sigma2={float(self.sigma2):.4g})"
        )

    def _check(self, x: Tensor, y: Tensor) -> None:
        check_tensor("x", x, min_dim=2)
        if x.dim() != 2 or x.shape[1] != self.base.x_dim:
            raise ValueError(f"x must have shape (B, x_dim={self.base.x_dim}), got {tuple(x.shape)}")
        if x.dtype != self.W.dtype:
            raise TypeError(f"x has dtype {x.dtype} but the model has dtype {self.W.dtype}")
        check_labels("y", y, self.num_classes, x.shape[0])

    def offset(self, y: Tensor) -> Tensor:
        r"""$c_y = Wm_y + b_y$, the mean of $p(x|y)$, shape ``(B, x_dim)``."""
        check_labels("y", y, self.num_classes)
        return self.m[y] @ self.W.T + self.b[y]

    def sample(self, y: Tensor, *, generator: torch.Generator | None = None, return_z: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        r"""Draw $z \sim p(z|y)$, then $x \sim p(x|z,y)$, one per label: ``x`` ``(B, x_dim)`` (and ``z`` ``(B, z_dim)``)."""
        check_labels("y", y, self.num_classes)
        x_u, u = self.base.sample(y.shape[0], generator=generator, return_z=True)  # u = z - m_y ~ N(0, I)
        z = u + self.m[y]  # (B, z_dim)
        x = x_u + self.offset(y)  # W u + noise + (W m_y + b_y) = W z + b_y + noise, (B, x_dim)
        return (x, z) if return_z else x

    def log_p_z(self, z: Tensor, y: Tensor) -> Tensor:
        r"""The prior $\log p(z|y) = \log\mathcal N(z;\ m_y, I)$, shape ``(..., B)``."""
        check_labels("y", y, self.num_classes)
        return log_normal_diag(z, self.m[y], torch.zeros_like(self.m[y]))

    def log_p_x_given_z(self, x: Tensor, z: Tensor, y: Tensor) -> Tensor:
        r"""The decoder $\log p(x|z,y) = \log\mathcal N(x;\ Wz + b_y,\ \sigma^2 I)$, shape ``(..., B)`` for ``z`` ``(..., B, z_dim)``."""
        self._check(x, y)
        return self.base.log_p_x_given_z(x - self.b[y], z)

    def log_marginal(self, x: Tensor, y: Tensor) -> Tensor:
        r"""The exact conditional evidence $\log p(x|y) = \log\mathcal N(x;\ c_y,\ WW^\top + \sigma^2 I)$, shape ``(B,)``."""
        self._check(x, y)
        return self.base.log_marginal(x - self.offset(y))

    def _log_p_y(self, log_p_y: Tensor | None) -> Tensor:
        """The class log-probabilities, shape ``(C,)``: uniform if ``None``, else checked."""
        if log_p_y is None:
            return torch.full((self.num_classes,), -math.log(self.num_classes), dtype=self.W.dtype)
        check_tensor("log_p_y", log_p_y, min_dim=1)
        if log_p_y.shape != (self.num_classes,):
            raise ValueError(f"log_p_y must have shape (num_classes,) = ({self.num_classes},), got {tuple(log_p_y.shape)}")
        if log_p_y.dtype != self.W.dtype:
            raise TypeError(f"log_p_y has dtype {log_p_y.dtype} but the model has dtype {self.W.dtype}")
        total = float(torch.logsumexp(log_p_y, dim=0))
        if abs(total) > 1e-5:
            raise ValueError(f"log_p_y must be normalised (logsumexp(log_p_y) = 0), got logsumexp = {total:.3g}")
        return log_p_y

    def _log_marginal_each_class(self, x: Tensor) -> Tensor:
        r"""$\log p(x|y=c)$ for every class $c$, shape ``(B, C)``."""
        check_tensor("x", x, min_dim=2)  # log_marginal checks the rest
        each = [self.log_marginal(x, torch.full((x.shape[0],), c)) for c in range(self.num_classes)]  # C x (B,)
        return torch.stack(each, dim=-1)  # (B, C)

    def log_p_x(self, x: Tensor, log_p_y: Tensor | None = None) -> Tensor:
        r"""The unconditional evidence $\log p(x) = \log\sum_y p(y)\,p(x|y)$, a mixture of $C$ Gaussians. Shape ``(B,)``.

        Args:
            x: data, shape ``(B, x_dim)``.
            log_p_y: $\log p(y)$, shape ``(num_classes,)``, normalised; ``None`` for the uniform $p(y) = 1/C$.
        """
        return torch.logsumexp(self._log_marginal_each_class(x) + self._log_p_y(log_p_y), dim=-1)

    def log_p_y_given_x(self, x: Tensor, log_p_y: Tensor | None = None) -> Tensor:
        r"""The Bayes classifier $\log p(y|x) = \log p(y) + \log p(x|y) - \log p(x)$ for every class, shape ``(B, num_classes)``.

        Args:
            x: data, shape ``(B, x_dim)``.
            log_p_y: $\log p(y)$, shape ``(num_classes,)``, normalised; ``None`` for the uniform $p(y) = 1/C$.
        """
        joint = self._log_marginal_each_class(x) + self._log_p_y(log_p_y)  # log p(x, y=c), (B, C)
        return joint - torch.logsumexp(joint, dim=-1, keepdim=True)

    def posterior(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        r"""The exact posterior $p(z|x,y) = \mathcal N\big(m_y + M^{-1}W^\top(x - c_y),\ \sigma^2M^{-1}\big)$.

        Returns:
            ``(mu, cov)`` of shapes ``(B, z_dim)`` and ``(B, z_dim, z_dim)``.
        """
        self._check(x, y)
        mu_u, cov = self.base.posterior(x - self.offset(y))
        return mu_u + self.m[y], cov

    def log_p_z_given_x(self, x: Tensor, z: Tensor, y: Tensor) -> Tensor:
        r"""$\log p(z|x,y)$, shape ``(..., B)`` for ``z`` ``(..., B, z_dim)``."""
        self._check(x, y)
        return self.base.log_p_z_given_x(x - self.offset(y), z - self.m[y])

    def expected_log_p_x_given_z(self, x: Tensor, y: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""The exact reconstruction term $\mathbb E_{q(z|x,y)}[\log p(x|z,y)]$ for a diagonal Gaussian $q$, shape ``(B,)``."""
        self._check(x, y)
        return self.base.expected_log_p_x_given_z(x - self.b[y], mu_q, log_var_q)

    def elbo(self, x: Tensor, y: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""The exact conditional ELBO of $q(z|x,y) = \mathcal N(\mu_q, \operatorname{diag}\sigma_q^2)$.

        $$\mathrm{ELBO}(q) = \mathbb E_{q(z|x,y)}[\log p(x|z,y)] - \mathrm{KL}\big(q(z|x,y)\,\|\,p(z|y)\big)
          = \log p(x|y) - \mathrm{KL}\big(q(z|x,y)\,\|\,p(z|x,y)\big)$$

        Args:
            x: data, shape ``(B, x_dim)``.
            y: labels, shape ``(B,)``, int64.
            mu_q, log_var_q: parameters of $q(z|x,y)$, shape ``(B, z_dim)``.

        Returns:
            shape ``(B,)``.
        """
        reconstruction = self.expected_log_p_x_given_z(x, y, mu_q, log_var_q)
        mu_p = self.m[y]
        return reconstruction - kl_normal_normal(mu_q, log_var_q, mu_p, torch.zeros_like(mu_p))

    def kl_to_posterior(self, x: Tensor, y: Tensor, mu_q: Tensor, log_var_q: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(z|x,y)\,\|\,p(z|x,y)\big)$, the gap between $\log p(x|y)$ and the ELBO, exactly. Shape ``(B,)``."""
        mu_post, cov_post = self.posterior(x, y)
        check_tensor("log_var_q", log_var_q, min_dim=1)
        cov_q = torch.diag_embed(torch.exp(log_var_q.double()))  # (B, d, d)
        return kl_normal_full(mu_q.double(), cov_q, mu_post.double(), cov_post.double()).to(self.W.dtype)
