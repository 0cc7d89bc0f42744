r"""The linear VAE: a VAE whose encoder and decoder are linear, i.e. probabilistic PCA with an encoder.

$$q(z|x) = \mathcal N\big(W_q x + b_q,\ \operatorname{diag}\sigma_q^2\big),\qquad
  p(z) = \mathcal N(0, I_d),\qquad p(x|z) = \mathcal N\big(W_p z + b_p,\ \sigma_p^2 I_D\big)$$

Its decoder is the linear-Gaussian model of :mod:`vae_edu.exact.linear_gaussian`, so everything a
non-linear VAE can only estimate is exact here: the ELBO in closed form, and the log-likelihood
$\log p(x)$ of the trained decoder (:meth:`LinearVAE.to_linear_gaussian`). Maximising the ELBO
reaches the maximum-likelihood probabilistic PCA solution (Lucas et al., 2019, "Don't blame the
ELBO!").

Book: *The linear VAE is probabilistic PCA*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int, check_vector
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from ..estimators.monte_carlo import mc_elbo
from ..kl import kl_normal_std_normal
from .linear_gaussian import LinearGaussian, expected_log_linear_gaussian

__all__ = ["LinearVAE"]


class LinearVAE(nn.Module):
    r"""A VAE with a linear encoder, a linear decoder and a learned decoder variance.

    * encoder: $\mu_q(x) = W_q x + b_q$ and $\log\sigma_q^2$, a free vector **shared by all**
      $x$. The true posterior of a linear-Gaussian decoder has the covariance
      $\sigma_p^2(W_p^\top W_p + \sigma_p^2 I)^{-1}$, the same for every $x$, so an
      $x$-dependent variance would add parameters and nothing else;
    * decoder: $p(x|z) = \mathcal N(W_p z + b_p,\ \sigma_p^2 I)$ with a learned scalar
      $\log\sigma_p^2$; prior $p(z) = \mathcal N(0, I)$.

    Parameters (``nn.Parameter``): ``W_q`` ``(z_dim, x_dim)``, ``b_q`` ``(z_dim,)``,
    ``log_var_q`` ``(z_dim,)``, ``W_p`` ``(x_dim, z_dim)``, ``b_p`` ``(x_dim,)``, ``log_var_p`` ``()``.
    The weights start as $\mathcal N(0, \text{init\_std}^2)$ draws, biases and log-variances at 0.

    Args:
        x_dim: data dimension $D$.
        z_dim: latent dimension $d$.
        dtype: floating-point dtype of the parameters (use ``torch.float64`` to train to
            high precision).
        generator: optional :class:`torch.Generator` for the initial weights.
        init_std: standard deviation of the initial weights (> 0).

    Example:
        >>> model = LinearVAE(x_dim=5, z_dim=2)
        >>> x = torch.randn(3, 5)
        >>> model.elbo_exact(x).shape
        torch.Size([3])

    Book: *The linear VAE is probabilistic PCA*.
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
        init_std: float = 0.1,
    ) -> None:
        super().__init__()
        check_int("x_dim", x_dim)
        check_int("z_dim", z_dim)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        check_generator(generator)
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or not 0 < init_std < math.inf:
            raise ValueError(f"init_std must be a positive finite number, got {init_std!r}")
        self.x_dim, self.z_dim = x_dim, z_dim

        def weights(*shape: int) -> nn.Parameter:
            return nn.Parameter(init_std * torch.randn(shape, dtype=dtype, generator=generator))

        self.W_q = weights(z_dim, x_dim)
        self.b_q = nn.Parameter(torch.zeros(z_dim, dtype=dtype))
        self.log_var_q = nn.Parameter(torch.zeros(z_dim, dtype=dtype))
        self.W_p = weights(x_dim, z_dim)
        self.b_p = nn.Parameter(torch.zeros(x_dim, dtype=dtype))
        self.log_var_p = nn.Parameter(torch.zeros((), dtype=dtype))

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (and of every result)."""
        return self.W_p.dtype

    def extra_repr(self) -> str:
        """The sizes and dtype shown by ``repr(model)``, e.g. ``x_dim=5, z_dim=2, dtype=torch.float32``."""
        return f"x_dim={self.x_dim}, z_dim={self.z_dim}, dtype={self.dtype}"

    def _check(self, name: str, value: Tensor, dim: int, dim_name: str) -> None:
        check_vector(name, value, dim, self.dtype, size_name=dim_name)

    # ------------------------------------------------------------------ the two halves
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""Parameters of $q(z|x) = \mathcal N\big(W_q x + b_q,\ \operatorname{diag}\sigma_q^2\big)$.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            ``(mu_q, log_var_q)``, each of shape ``(..., z_dim)`` (``log_var_q`` is the same for
            every ``x``, expanded).
        """
        self._check("x", x, self.x_dim, "x_dim")
        mu_q = x @ self.W_q.T + self.b_q  # (..., z_dim)
        return mu_q, self.log_var_q.expand_as(mu_q)

    def decode(self, z: Tensor) -> Tensor:
        r"""Mean of the decoder, $\mu_p(z) = W_p z + b_p$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.

        Returns:
            ``mu_p``, shape ``(..., x_dim)``.
        """
        self._check("z", z, self.z_dim, "z_dim")
        return z @ self.W_p.T + self.b_p  # (..., x_dim)

    def log_p_x_given_z(self, x: Tensor, z: Tensor) -> Tensor:
        r"""The decoder's log-likelihood $\log p(x|z) = \log\mathcal N(x;\ W_p z + b_p,\ \sigma_p^2 I)$.

        Args:
            x: data, shape ``(..., x_dim)``.
            z: latent codes, shape ``(..., z_dim)``; batch shapes broadcast (e.g. ``z`` of
                shape ``(K, B, z_dim)`` against ``x`` of shape ``(B, x_dim)``).

        Returns:
            shape: the broadcast batch shape.
        """
        self._check("x", x, self.x_dim, "x_dim")
        mu_p = self.decode(z)  # (..., x_dim)
        return log_normal_diag(x, mu_p, self.log_var_p.expand(self.x_dim))

    def to_linear_gaussian(self) -> LinearGaussian:
        r"""The trained decoder as a :class:`LinearGaussian` $(W_p, b_p, \sigma_p^2)$, detached.

        Its :meth:`~LinearGaussian.log_marginal` is the exact $\log p(x)$ of the decoder, its
        :meth:`~LinearGaussian.posterior` the exact $p(z|x)$ that $q(z|x)$ approximates.

        Returns:
            A :class:`LinearGaussian` holding copies of the parameters (no gradients).
        """
        with torch.no_grad():
            W, b = self.W_p.detach().clone(), self.b_p.detach().clone()
            return LinearGaussian(W, b, torch.exp(self.log_var_p.detach()))

    # ------------------------------------------------------------------ the objective
    def elbo_exact(self, x: Tensor) -> Tensor:
        r"""The ELBO in closed form — no sampling, differentiable in every parameter.

        $$\mathrm{ELBO}(x) = -\frac D2\log(2\pi\sigma_p^2)
          - \frac{\|x - W_p\mu_q - b_p\|^2 + \sum_j \|W_{p,:,j}\|^2\sigma_{q,j}^2}{2\sigma_p^2}
          - \mathrm{KL}\big(q(z|x)\,\|\,\mathcal N(0, I)\big)$$

        The first two terms are $\mathbb E_q[\log p(x|z)]$
        (:func:`~vae_edu.exact.linear_gaussian.expected_log_linear_gaussian`, shared with
        :class:`LinearGaussian`), the last one is :func:`vae_edu.kl.kl_normal_std_normal`.

        Args:
            x: data, shape ``(..., x_dim)``.

        Returns:
            The ELBO per example (to be maximised), shape ``(...)``.

        Book: *The linear VAE is probabilistic PCA*.
        """
        mu_q, log_var_q = self.encode(x)  # (..., z_dim) each
        reconstruction = expected_log_linear_gaussian(x, self.W_p, self.b_p, self.log_var_p, mu_q, log_var_q)
        return reconstruction - kl_normal_std_normal(mu_q, log_var_q)

    def elbo_monte_carlo(
        self, x: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""The ELBO by Monte Carlo with reparameterised samples, with its standard error.

        $$\mathrm{ELBO}(x) \approx \frac1K\sum_{k=1}^K\big[\log p(x|z_k) + \log p(z_k) - \log q(z_k|x)\big],
          \qquad z_k = \mu_q + \sigma_q\odot\varepsilon_k,\ \varepsilon_k\sim\mathcal N(0, I)$$

        Differentiable through the samples (the reparameterization trick), so
        ``-estimate.mean()`` is a training loss for a VAE whose ELBO has no closed form.

        Args:
            x: data, shape ``(..., x_dim)``.
            num_samples: $K \ge 2$, samples per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            ``(estimate, stderr)``, each of shape ``(...)``.

        Book: *The linear VAE is probabilistic PCA*; the estimator is derived in *The ELBO, derived and checked*.
        """
        check_int("num_samples", num_samples, minimum=2)
        check_generator(generator)
        mu_q, log_var_q = self.encode(x)  # (..., z_dim)
        eps = torch.randn((num_samples, *mu_q.shape), dtype=self.dtype, device=mu_q.device, generator=generator)
        z = reparameterize(mu_q, log_var_q, eps)  # (K, ..., z_dim)
        return mc_elbo(
            self.log_p_x_given_z(x, z),  # (K, ...)
            log_standard_normal(z),
            log_normal_diag(z, mu_q, log_var_q),
        )
