r"""The prior $p(z)$ of a VAE: the standard normal.

A prior is a part with ``log_prob(z)``, ``sample(n, generator=...)`` and ``kl_per_dim(q)``: the
closed-form $\mathrm{KL}(q(z_j|x)\,\|\,p(z_j))$ per latent dimension when it knows ``q``'s family,
else ``None`` (the VAE then uses the Monte Carlo KL).

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_int, check_tensor
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from ..kl import kl_normal_normal, kl_normal_std_normal
from .posteriors import DiagonalGaussian

__all__ = ["StandardNormalPrior", "NormalPrior"]


class StandardNormalPrior(nn.Module):
    r"""The standard normal prior $p(z) = \mathcal N(0, I)$.

    It has no parameters; the zero buffer ``mu_p`` lets it follow the model's dtype and device.

    Args:
        z_dim: latent dimension $d$.

    Book: *Training a VAE on digits*.
    """

    mu_p: Tensor

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = check_int("z_dim", z_dim)
        self.register_buffer("mu_p", torch.zeros(z_dim))

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p(z) = \log\mathcal N(z;\ 0, I)$: ``z`` ``(..., z_dim)`` → ``(...)``."""
        return log_standard_normal(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ codes $z \sim \mathcal N(0, I)$, shape ``(n, z_dim)``."""
        check_int("n", n)
        shape = (n, self.z_dim)
        return torch.randn(shape, dtype=self.mu_p.dtype, device=self.mu_p.device, generator=generator)

    def kl_per_dim(self, q: object) -> Tensor | None:
        r"""$\mathrm{KL}\big(q(z_j|x)\,\|\,\mathcal N(0, 1)\big)$ per dimension, shape ``(B, z_dim)``, for a
        :class:`~vae_edu.models.DiagonalGaussian` ``q``; ``None`` for any other posterior.

        $$\mathrm{KL}_j = \tfrac12\big[\mu_{q,j}^2 + \sigma_{q,j}^2 - 1 - \log\sigma_{q,j}^2\big]$$
        """
        if not isinstance(q, DiagonalGaussian):
            return None
        return kl_normal_std_normal(q.mu[..., None], q.log_var[..., None])  # (B, z_dim)


class NormalPrior(nn.Module):
    r"""A diagonal Gaussian prior $p(z) = \mathcal N\big(z;\ \mu_p, \operatorname{diag}\sigma_p^2\big)$.

    Args:
        mu_p, log_var_p: its parameters, shape ``(z_dim,)``.
        learned: make them parameters trained with the model (else fixed buffers).

    Book: *The Dirichlet VAE* (the Laplace approximation of a Dirichlet prior in the softmax basis).
    """

    mu_p: Tensor
    log_var_p: Tensor

    def __init__(self, mu_p: Tensor, log_var_p: Tensor, *, learned: bool = False) -> None:
        super().__init__()
        check_tensor("mu_p", mu_p, min_dim=1)
        check_tensor("log_var_p", log_var_p, min_dim=1)
        if mu_p.dim() != 1 or mu_p.shape != log_var_p.shape:
            raise ValueError(
                f"mu_p and log_var_p must both have shape (z_dim,), got {tuple(mu_p.shape)} and {tuple(log_var_p.shape)}"
            )
        self.z_dim = mu_p.shape[0]
        for name, value in (("mu_p", mu_p), ("log_var_p", log_var_p)):
            if learned:
                setattr(self, name, nn.Parameter(value.clone()))
            else:
                self.register_buffer(name, value.clone())

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log\mathcal N(z;\ \mu_p, \operatorname{diag}\sigma_p^2)$: ``z`` ``(..., z_dim)`` → ``(...)``."""
        return log_normal_diag(z, self.mu_p, self.log_var_p)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ draws, shape ``(n, z_dim)``."""
        return reparameterize(self.mu_p, self.log_var_p, num_samples=check_int("n", n), generator=generator)

    def kl_per_dim(self, q: object) -> Tensor | None:
        r"""$\mathrm{KL}\big(q(z_j|x)\,\|\,p(z_j)\big)$ per dimension, shape ``(B, z_dim)``, for a
        :class:`~vae_edu.models.DiagonalGaussian` ``q``; ``None`` otherwise."""
        if not isinstance(q, DiagonalGaussian):
            return None
        mu_p, log_var_p = self.mu_p[..., None], self.log_var_p[..., None]  # (z_dim, 1)
        return kl_normal_normal(q.mu[..., None], q.log_var[..., None], mu_p, log_var_p)  # (B, z_dim)
