r"""An IAF posterior as a part: :class:`IAFEncoder` gives $q(z_T|x)$, a diagonal Gaussian pushed through $T$ IAF steps.

$$z_0 = \mu_q(x) + \sigma_q(x)\odot\varepsilon,\qquad z_T = f_T\circ\dots\circ f_1(z_0;\ h(x)),\qquad
  \log q(z_T|x) = \log\mathcal N(z_0;\ \mu_q, \operatorname{diag}\sigma_q^2) - \sum_{t}\log\left|\det J_t\right|$$

Plugged into :class:`~vae_edu.models.VAE` in place of the Gaussian encoder, it makes the IAF-VAE:
``VAE(IAFEncoder(config), Decoder(config), StandardNormalPrior(config.z_dim))``. The standard
normal prior has no closed-form KL for this posterior, so the ELBO uses the Monte Carlo KL
$\log q(z_T|x) - \log p(z_T)$ on the same draws as the reconstruction term.

Book: *Inverse autoregressive flow*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..checks import check_int
from .config import VAEConfig
from .iaf import IAFFlow
from .layers import mlp
from .posteriors import DiagonalGaussian

__all__ = ["IAFPosterior", "IAFEncoder"]


class IAFPosterior:
    r"""$q(z_T|x)$ for a batch: the base Gaussian, the flow and the context $h(x)$.

    Book: *Inverse autoregressive flow*.
    """

    def __init__(self, base: DiagonalGaussian, flow: IAFFlow, context: Tensor) -> None:
        self.base, self.flow, self.context = base, flow, context

    @property
    def mean(self) -> Tensor:
        r"""The flow applied to the base mean, $f(\mu_q(x);\ h(x))$, shape ``(B, z_dim)``."""
        return self.flow(self.base.mu, self.context)[0]

    def rsample_with_log_prob(
        self, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draws $z_T$ ``(K, B, z_dim)`` and $\log q(z_T|x)$ ``(K, B)``; differentiable."""
        z_0, log_q_0 = self.base.rsample_with_log_prob(num_samples, generator)  # (K, B, z_dim), (K, B)
        z_T, log_det = self.flow(z_0, self.context)  # (K, B, z_dim), (K, B)
        return z_T, log_q_0 - log_det

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""Draws $z_T \sim q(z_T|x)$, shape ``(K, B, z_dim)``."""
        return self.rsample_with_log_prob(num_samples, generator)[0]

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log q(z|x)$ at any $z$ ``(..., B, z_dim)`` → ``(..., B)``: the flow inverted
        (:meth:`~vae_edu.models.iaf.IAFFlow.inverse`, $T\cdot d$ sequential MADE passes), then
        $\log\mathcal N(z_0;\ \mu_q, \operatorname{diag}\sigma_q^2) - \sum_t\log|\det J_t|$.

        The draws of :meth:`rsample_with_log_prob` carry their $\log q$ at no extra cost; this is
        for points drawn elsewhere (e.g. by another proposal, :mod:`vae_edu.estimators.proposals`). Where
        the inverse overflows the dtype (a gate $\sigma_{t,i}$ underflows: $z_0$ is of order
        $1/\sigma_{t,i}$, so $\mathcal N(z_0)$ falls faster than $1/\sigma$ grows), $-\infty$.
        """
        z_0, log_det = self.flow.inverse(z, self.context)  # (..., B, z_dim), (..., B)
        # NaN: the inverse overflowed, so far out that z_0 ~ 1 / sigma and q underflows to 0
        overflow = torch.isnan(log_det)  # (..., B)
        log_q = self.base.log_prob(torch.where(overflow.unsqueeze(-1), 0.0, z_0)) - log_det
        return torch.where(overflow, -math.inf, log_q)


class IAFEncoder(nn.Module):
    r"""The encoder $q(z_T|x)$: an MLP gives $(\mu_q, \log\sigma_q^2, h)$, then $T$ IAF steps with context $h$.

    Args:
        config: a :class:`VAEConfig` (``x_dim``, ``z_dim``, ``hidden``, ``num_hidden_layers``, ``activation``).
        num_steps: $T \ge 1$ IAF steps.
        context_dim: width of $h$ (>= 1).
        made_hidden: widths of each step's MADE hidden layers.
        forget_bias: see :class:`~vae_edu.models.iaf.IAFStep`.

    Example:
        >>> import torch
        >>> from vae_edu.models import Decoder, StandardNormalPrior, VAE, VAEConfig
        >>> _ = torch.manual_seed(0)
        >>> config = VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3)
        >>> encoder = IAFEncoder(config, context_dim=4, made_hidden=(8,))
        >>> model = VAE(encoder, Decoder(config), StandardNormalPrior(config.z_dim))
        >>> model.elbo(torch.tensor([[0.0, 1.0, 2.0, 1.0]]), num_samples=10).shape
        torch.Size([1])

    Book: *Inverse autoregressive flow*.
    """

    def __init__(
        self,
        config: VAEConfig,
        num_steps: int = 4,
        context_dim: int = 64,
        made_hidden: Sequence[int] = (256,),
        forget_bias: float = 2.0,
    ) -> None:
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        check_int("context_dim", context_dim, 1)
        self.config, self.context_dim = config, context_dim
        out_dim = 2 * config.z_dim + context_dim
        self.net = mlp(config.x_dim, config.hidden, config.num_hidden_layers, out_dim, config.activation)
        self.flow = IAFFlow(
            config.z_dim, num_steps, made_hidden, context_dim=context_dim, forget_bias=forget_bias,
            activation=config.activation,
        )

    def forward(self, x: Tensor) -> IAFPosterior:
        r"""$q(z_T|x)$ for the batch ``x`` ``(B, x_dim)``: an :class:`IAFPosterior`."""
        out = self.net(x)  # (B, 2 z_dim + context_dim)
        z_dim = self.config.z_dim
        base = DiagonalGaussian(out[:, :z_dim], out[:, z_dim : 2 * z_dim])
        return IAFPosterior(base, self.flow, out[:, 2 * z_dim :])
