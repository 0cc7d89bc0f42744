r"""The variational autoencoder: :class:`Encoder`, :class:`Decoder` and :class:`Prior` composed, and its ELBO.

$$\mathrm{ELBO}(x) = \mathbb E_{q(z|x)}\big[\log p(x|z)\big] - \beta\,\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)
  \le \log p(x)\quad(\beta = 1)$$

Book: *Training a VAE on digits* and *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..distributions import log_normal_diag, reparameterize
from ..utils import check_int
from .config import VAEConfig
from .layers import Decoder, Encoder, check_data
from .prior import Prior

__all__ = ["VAE", "ELBOTerms"]


@dataclass(frozen=True)
class ELBOTerms:
    r"""The two terms of the ELBO, per example.

    Attributes:
        reconstruction: $\mathbb E_{q(z|x)}[\log p(x|z)]$ (a Monte Carlo mean over ``num_samples``
            draws), shape ``(B,)``. Minus it is the *distortion*.
        kl_per_dim: $\mathrm{KL}\big(q(z_j|x)\,\|\,p(z_j)\big)$ for each latent dimension $j$, in
            closed form, shape ``(B, z_dim)``. Summed over $j$ it is the *rate*.
    """

    reconstruction: Tensor
    kl_per_dim: Tensor

    @property
    def kl(self) -> Tensor:
        r"""$\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big) = \sum_j \mathrm{KL}_j$, shape ``(B,)``."""
        return self.kl_per_dim.sum(dim=-1)

    def elbo(self, beta: float = 1.0) -> Tensor:
        r"""$\mathbb E_q[\log p(x|z)] - \beta\,\mathrm{KL}$, shape ``(B,)``."""
        return self.reconstruction - beta * self.kl


class VAE(nn.Module):
    r"""A VAE with a diagonal-Gaussian encoder, a standard normal prior and the decoder of ``config``.

    A VAE is created in evaluation mode (``model.training`` is ``False``): with decoder dropout
    switched off, everything it computes is a deterministic function of its parameters and the
    generator passed in. :func:`~vae_edu.train.fit` switches it to training mode for the gradient
    steps only (call ``model.train()`` yourself in a hand-written training loop).

    Args:
        config: the hyper-parameters; the default :class:`VAEConfig` is the book's digits model
            (categorical decoder over 17 levels, ``z_dim=16``, two hidden layers of 256).

    Example:
        >>> import torch
        >>> from vae_edu.models import VAE, VAEConfig
        >>> _ = torch.manual_seed(0)
        >>> model = VAE(VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3))
        >>> x = torch.tensor([[0.0, 1.0, 2.0, 1.0]])
        >>> model.elbo(x, num_samples=10).shape
        torch.Size([1])

    Book: *Training a VAE on digits*.
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        config = VAEConfig() if config is None else config
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.prior = Prior(config.z_dim)
        self.eval()  # dropout (if any) only inside fit()

    @classmethod
    def from_config(cls, config: VAEConfig | None = None) -> "VAE":
        """The book's VAE built from ``config`` (the default :class:`VAEConfig` is the digits model)."""
        return cls(config)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (data must have it too)."""
        return next(self.encoder.parameters()).dtype

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_data("x", x, self.config, self.dtype)
        return self.encoder(x)

    def _sample_z(
        self, mu_q: Tensor, log_var_q: Tensor, num_samples: int, generator: torch.Generator | None
    ) -> Tensor:
        check_int("num_samples", num_samples)
        eps = torch.randn((num_samples, *mu_q.shape), dtype=mu_q.dtype, device=mu_q.device, generator=generator)
        return reparameterize(mu_q, log_var_q, eps)  # (K, B, z_dim)

    def elbo_terms(self, x: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> ELBOTerms:
        r"""The reconstruction term (Monte Carlo, reparameterized) and the KL per latent dimension (closed form).

        $$\mathbb E_{q(z|x)}[\log p(x|z)] \approx \frac1K\sum_{k=1}^K \log p(x|z_k),\quad z_k = \mu_q + \sigma_q\odot\varepsilon_k;
          \qquad \mathrm{KL}_j = \tfrac12\big[\mu_{q,j}^2 + \sigma_{q,j}^2 - 1 - \log\sigma_{q,j}^2\big]$$

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$, draws of $z$ per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            :class:`ELBOTerms` with ``reconstruction`` ``(B,)`` and ``kl_per_dim`` ``(B, z_dim)``.

        Book: *Posterior collapse and the rate–distortion trade-off*.
        """
        mu_q, log_var_q = self._encode(x)
        z = self._sample_z(mu_q, log_var_q, num_samples, generator)  # (K, B, z_dim)
        reconstruction = self.decoder.log_prob(x, z).mean(dim=0)  # (B,)
        kl_per_dim = self.prior.kl(mu_q[..., None], log_var_q[..., None])  # (B, z_dim)
        return ELBOTerms(reconstruction, kl_per_dim)

    def elbo(
        self, x: Tensor, num_samples: int = 1, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""The evidence lower bound per example, the quantity to maximise.

        $$\mathrm{ELBO}_\beta(x) = \mathbb E_{q(z|x)}\big[\log p(x|z)\big] - \beta\,\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)$$

        The expectation is a Monte Carlo mean over ``num_samples`` reparameterized draws (an
        unbiased, differentiable estimate); the KL is in closed form. With $\beta = 1$ it is a
        lower bound on $\log p(x)$. The training loss is ``-model.elbo(x).mean()``.

        Args:
            x: data, shape ``(B, x_dim)`` (levels for the categorical decoder, 0/1 for Bernoulli).
            num_samples: $K$, draws of $z$ per example.
            beta: $\beta \ge 0$, the weight of the KL term.
            generator: optional :class:`torch.Generator` for the noise.

        Returns:
            shape ``(B,)``, in nats.

        Book: *Training a VAE on digits*.
        """
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
            raise ValueError(f"beta must be a finite float >= 0, got {beta!r}")
        return self.elbo_terms(x, num_samples, generator).elbo(beta)

    def kl_per_dim(self, x: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(z_j|x)\,\|\,p(z_j)\big)$ for every latent dimension $j$, in closed form (no sampling).

        A dimension whose KL is ~0 for every $x$ is *inactive*: $q(z_j|x) = p(z_j)$, so it carries
        no information about $x$ (posterior collapse).

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            shape ``(B, z_dim)``; the sum over the last dimension is the KL term of the ELBO.

        Book: *Posterior collapse and the rate–distortion trade-off*.
        """
        mu_q, log_var_q = self._encode(x)
        return self.prior.kl(mu_q[..., None], log_var_q[..., None])  # (B, z_dim)

    def log_importance_weights(
        self, x: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""Log importance weights $\log w_k = \log p(x|z_k) + \log p(z_k) - \log q(z_k|x)$, $z_k \sim q(z|x)$.

        Their mean is a single-sample ELBO estimate; $\log\frac1K\sum_k w_k$ is the IWAE bound
        $\mathcal L_K$, which tends to $\log p(x)$ as $K\to\infty$ (see
        :func:`vae_edu.estimators.iwae_bound` and :func:`vae_edu.estimators.log_likelihood`).

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$.
            generator: optional :class:`torch.Generator` for the noise.

        Returns:
            shape ``(K, B)``; differentiable (reparameterized).

        Book: *Training a VAE on digits*.
        """
        mu_q, log_var_q = self._encode(x)
        z = self._sample_z(mu_q, log_var_q, num_samples, generator)  # (K, B, z_dim)
        log_q = log_normal_diag(z, mu_q, log_var_q)  # (K, B)
        return self.decoder.log_prob(x, z) + self.prior.log_prob(z) - log_q

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ images by ancestral sampling: $z \sim p(z)$, then $x \sim p(x|z)$.

        For the decoder's expected images instead of sampled pixels, use
        ``model.decoder.mean(model.prior.sample(n))``.

        Returns:
            shape ``(n, x_dim)``, in the data's units.
        """
        return self.decoder.sample(self.prior.sample(n, generator), generator)

    def reconstruct(self, x: Tensor) -> Tensor:
        r"""The decoder's expected image at the encoder's mean, $\mathbb E_{p(x|z)}[x]$ at $z = \mu_q(x)$.

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            shape ``(B, x_dim)``, in the data's units.
        """
        mu_q, _ = self._encode(x)
        return self.decoder.mean(mu_q)
