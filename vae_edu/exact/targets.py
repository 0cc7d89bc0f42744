r"""A known non-Gaussian 2-D "posterior" and three variational families fitted to it by minimising $\mathrm{KL}(q\,\|\,p)$.

The target is a banana, an unnormalised log-density $\log\tilde p(z)$ with normaliser
$Z = \int \tilde p(z)\,dz$; the reverse KL of any $q$ we can sample and score is

$$\mathrm{KL}(q\,\|\,p) = \mathbb E_{q}\big[\log q(z) - \log\tilde p(z)\big] + \log Z \;\ge\; 0,$$

estimated by Monte Carlo with a standard error. The families: a diagonal Gaussian (what a VAE
encoder outputs), a full-covariance Gaussian, and an IAF (:class:`~vae_edu.models.iaf.IAFFlow`)
on top of a diagonal Gaussian.

Book: *Inverse autoregressive flow*.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..checks import check_int, check_positive_float, check_tensor
from ..distributions.gaussian import log_normal_diag, log_normal_full, log_standard_normal, reparameterize
from ..estimators.monte_carlo import mc_mean
from ..models.iaf import IAFFlow
from ..models.iaf_encoder import IAFPosterior
from ..models.posteriors import DiagonalGaussian
from .grid import log_marginal_grid

__all__ = [
    "log_banana",
    "log_normalizer_grid",
    "DiagonalGaussianQ",
    "FullCovarianceGaussianQ",
    "IAFQ",
    "reverse_kl",
    "fit_reverse_kl",
]

LogDensity = Callable[[Tensor], Tensor]


def _check_finite(name: str, value: object) -> float:
    if isinstance(value, Tensor) and value.dim() == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def log_banana(
    z: Tensor, scale: float = 1.0, curvature: float = 0.5, noise: float = 0.5, angle: float = 0.0
) -> Tensor:
    r"""The unnormalised log-density of a banana: $u_1 \sim \mathcal N(0, a^2)$, $u_2 \mid u_1 \sim \mathcal N\big(b(u_1^2 - a^2), c^2\big)$, $z = R_\theta u$.

    $$\log\tilde p(z) = -\frac{u_1^2}{2a^2} - \frac{\big(u_2 - b(u_1^2 - a^2)\big)^2}{2c^2},
      \quad u = R_\theta^\top z,\qquad Z = 2\pi a c$$

    ($Z$ is known, which lets the tests check :func:`log_normalizer_grid`.) Its mean is 0; for
    $\theta = 0$ its coordinates are uncorrelated, yet $z_2$ depends strongly on $z_1$: no
    Gaussian fits it well. A rotation $R_\theta$ (angle $\theta$) also correlates them.

    Args:
        z: points, shape ``(..., 2)``.
        scale: $a > 0$.
        curvature: $b$ (any finite float).
        noise: $c > 0$.
        angle: $\theta$, radians, counter-clockwise.

    Returns:
        shape ``(...)``.

    Book: *Inverse autoregressive flow*.
    """
    check_tensor("z", z, min_dim=1)
    if z.shape[-1] != 2:
        raise ValueError(f"z must have last dimension 2, got shape {tuple(z.shape)}")
    a, c = check_positive_float("scale", scale), check_positive_float("noise", noise)
    curvature, angle = _check_finite("curvature", curvature), _check_finite("angle", angle)
    cos, sin = math.cos(angle), math.sin(angle)
    u_1 = cos * z[..., 0] + sin * z[..., 1]  # u = R^T z
    u_2 = -sin * z[..., 0] + cos * z[..., 1]
    return -0.5 * (u_1 / a) ** 2 - 0.5 * ((u_2 - curvature * (u_1**2 - a**2)) / c) ** 2


def log_normalizer_grid(log_density: LogDensity, *, num_points: int = 601, limit: float = 12.0) -> Tensor:
    r"""$\log Z = \log\int \tilde p(z)\,dz$ for a 2-D unnormalised density, by quadrature on a grid.

    Written as $\int \mathcal N(z; 0, I)\,\big[\tilde p(z)/\mathcal N(z; 0, I)\big]\,dz$ so that
    :func:`vae_edu.exact.grid.log_marginal_grid` does the Riemann sum over $[-L, L]^2$ (in float64).

    Args:
        log_density: $z \mapsto \log\tilde p(z)$, shape ``(..., 2)`` → ``(...)``.
        num_points: grid points per axis.
        limit: half-width $L$ of the grid; $\tilde p$ must have decayed at its edges.

    Returns:
        $\log Z$, shape ``()``, float64.

    Book: *Inverse autoregressive flow*.
    """
    if not callable(log_density):
        raise TypeError(f"log_density must be callable, got {type(log_density).__name__}")
    x = torch.zeros(1, dtype=torch.float64)  # a dummy "observation": the integrand depends on z only

    def ratio(_: Tensor, z: Tensor) -> Tensor:
        return log_density(z) - log_standard_normal(z)  # (G^2,)

    return log_marginal_grid(ratio, x, 2, num_points=num_points, limit=limit)


class DiagonalGaussianQ(nn.Module):
    r"""$q(z) = \mathcal N\big(z;\ \mu, \operatorname{diag}\sigma^2\big)$ with learned $\mu$ and $\log\sigma^2$ (start: $\mathcal N(0, I)$).

    Args:
        z_dim: dimension $d$.

    Book: *Inverse autoregressive flow*.
    """

    def __init__(self, z_dim: int = 2) -> None:
        super().__init__()
        check_int("z_dim", z_dim, 1)
        self.mu = nn.Parameter(torch.zeros(z_dim))
        self.log_var = nn.Parameter(torch.zeros(z_dim))

    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        r"""Draw $z = \mu + \sigma\odot\varepsilon$ and return $(z, \log q(z))$ of shapes ``(N, d)``, ``(N,)``."""
        check_int("num_samples", num_samples, 1)
        eps = torch.randn((num_samples, *self.mu.shape), dtype=self.mu.dtype, generator=generator)
        z = reparameterize(self.mu, self.log_var, eps)  # (N, d)
        return z, log_normal_diag(z, self.mu, self.log_var)


class FullCovarianceGaussianQ(nn.Module):
    r"""$q(z) = \mathcal N(z;\ \mu, LL^\top)$ with $L$ lower triangular, positive diagonal $e^{\ell_{ii}}$ (start: $\mathcal N(0, I)$).

    Args:
        z_dim: dimension $d$.

    Book: *Inverse autoregressive flow*.
    """

    def __init__(self, z_dim: int = 2) -> None:
        super().__init__()
        check_int("z_dim", z_dim, 1)
        self.mu = nn.Parameter(torch.zeros(z_dim))
        self.raw_scale_tril = nn.Parameter(torch.zeros(z_dim, z_dim))

    @property
    def scale_tril(self) -> Tensor:
        """The Cholesky factor $L$, shape ``(d, d)``, made of the strict lower triangle of the parameter and an exponentiated diagonal."""
        raw = self.raw_scale_tril
        return torch.tril(raw, diagonal=-1) + torch.diag(torch.exp(torch.diagonal(raw)))

    @property
    def cov(self) -> Tensor:
        r"""$\Sigma = LL^\top$, shape ``(d, d)``."""
        scale_tril = self.scale_tril
        return scale_tril @ scale_tril.T

    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        r"""Draw $z = \mu + L\varepsilon$ and return $(z, \log q(z))$ of shapes ``(N, d)``, ``(N,)``."""
        check_int("num_samples", num_samples, 1)
        eps = torch.randn((num_samples, *self.mu.shape), dtype=self.mu.dtype, generator=generator)
        z = self.mu + eps @ self.scale_tril.T  # (N, d)
        return z, log_normal_full(z, self.mu, self.cov)


class IAFQ(nn.Module):
    r"""$q(z_T)$: a learned diagonal Gaussian $z_0$ pushed through an unconditional :class:`~vae_edu.models.iaf.IAFFlow`.

    Args:
        z_dim: dimension $d$.
        num_steps: $T$ IAF steps.
        hidden_sizes: each step's MADE hidden widths.

    Book: *Inverse autoregressive flow*.
    """

    def __init__(self, z_dim: int = 2, num_steps: int = 2, hidden_sizes: tuple[int, ...] = (32,)) -> None:
        super().__init__()
        self.base = DiagonalGaussianQ(z_dim)
        self.flow = IAFFlow(z_dim, num_steps, hidden_sizes)

    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        r"""Draw $z_T$ and return $(z_T, \log q(z_T))$ of shapes ``(N, d)``, ``(N,)``."""
        check_int("num_samples", num_samples, 1)
        q = IAFPosterior(DiagonalGaussian(self.base.mu, self.base.log_var), self.flow, None)
        return q.rsample_with_log_prob(num_samples, generator)  # (N, d), (N,)


def _check_q(q: object) -> nn.Module:
    if not isinstance(q, nn.Module) or not callable(getattr(q, "sample", None)):
        raise TypeError(f"q must be an nn.Module with a sample(num_samples, generator) method, got {type(q).__name__}")
    return q


def reverse_kl(
    q: nn.Module, log_density: LogDensity, log_normalizer: float | Tensor, num_samples: int = 10_000,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    r"""$\mathrm{KL}(q\,\|\,p) = \mathbb E_q[\log q(z) - \log\tilde p(z)] + \log Z$ by Monte Carlo, with its standard error.

    Args:
        q: a family above (anything with ``sample(num_samples, generator) -> (z, log_q)``).
        log_density: $\log\tilde p$, shape ``(..., d)`` → ``(...)``.
        log_normalizer: $\log Z$, a finite number (or a 0-d tensor).
        num_samples: $N \ge 2$.
        generator: optional :class:`torch.Generator`.

    Returns:
        ``(estimate, stderr)``, each of shape ``()``, detached.

    Book: *Inverse autoregressive flow*.
    """
    _check_q(q)
    log_normalizer = _check_finite("log_normalizer", log_normalizer)
    check_int("num_samples", num_samples, 2)
    with torch.no_grad():
        z, log_q = q.sample(num_samples, generator)  # (N, d), (N,)
        estimate, stderr = mc_mean(log_q - log_density(z))
    return estimate + log_normalizer, stderr


def fit_reverse_kl(
    q: nn.Module, log_density: LogDensity, *, steps: int = 2000, num_samples: int = 256, lr: float = 1e-2,
    seed: int = 0,
) -> list[float]:
    r"""Fit $q$ to $p \propto \tilde p$ by Adam on the reparameterised reverse KL, $\frac1N\sum_n[\log q(z_n) - \log\tilde p(z_n)]$.

    The loss is $\mathrm{KL}(q\,\|\,p) - \log Z$, so its minimum over all $q$ is $-\log Z$. With
    $\tilde p(z) = p(x, z)$ for one fixed $x$ it is $-\mathrm{ELBO}$, and $Z = p(x)$: fitting $q$ here is
    what a VAE's encoder does for each $x$ (with the decoder held fixed).

    Args:
        q: a family above, trained in place.
        log_density: $\log\tilde p$.
        steps: gradient steps.
        num_samples: $N$, samples of $z$ per step.
        lr: Adam's learning rate.
        seed: seeds the noise.

    Returns:
        the loss (without $\log Z$) at every step.

    Book: *Inverse autoregressive flow*.
    """
    _check_q(q)
    check_int("steps", steps, 1)
    check_int("num_samples", num_samples, 1)
    check_positive_float("lr", lr)
    check_int("seed", seed, 0)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(q.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        z, log_q = q.sample(num_samples, generator)  # (N, d), (N,)
        loss = (log_q - log_density(z)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
