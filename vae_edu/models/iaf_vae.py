r"""A VAE whose posterior is a diagonal Gaussian followed by $T$ IAF steps: :class:`IAFEncoder` and :class:`IAFVAE`.

$$z_0 = \mu_q(x) + \sigma_q(x)\odot\varepsilon,\qquad z_T = f_T\circ\dots\circ f_1(z_0;\ h(x)),\qquad
  \log q(z_T|x) = \log\mathcal N(z_0;\ \mu_q, \operatorname{diag}\sigma_q^2) - \sum_{t}\log\left|\det J_t\right|$$

The KL term has no closed form any more; the ELBO uses the Monte Carlo KL
$\log q(z_T|x) - \log p(z_T)$ on the same samples as the reconstruction term. The model has the
plain :class:`~vae_edu.models.VAE`'s API (``elbo``, ``log_importance_weights``, ``sample``,
``reconstruct``), so :func:`~vae_edu.train.fit` and :func:`~vae_edu.estimators.log_likelihood`
work on it unchanged. It has no ``elbo_terms``: the KL does not split into closed-form
per-dimension terms (so ``fit(..., free_bits=...)`` refuses it).

Book: *Inverse autoregressive flow*.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..utils import check_int
from .config import VAEConfig
from .iaf import IAFFlow
from .layers import Decoder, check_data, mlp
from .prior import Prior

__all__ = ["IAFEncoder", "IAFVAE"]


class IAFEncoder(nn.Module):
    r"""The encoder $q(z_T|x)$: an MLP gives $(\mu_q, \log\sigma_q^2, h)$, then $T$ IAF steps with context $h$.

    Args:
        config: a :class:`VAEConfig` (``x_dim``, ``z_dim``, ``hidden``, ``num_hidden_layers``, ``activation``).
        num_steps: $T \ge 1$ IAF steps.
        context_dim: width of $h$ (>= 1).
        made_hidden: widths of each step's MADE hidden layers.
        forget_bias: see :class:`~vae_edu.models.iaf.IAFStep`.

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

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        r"""The base Gaussian's parameters and the context.

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            ``(mu_q, log_var_q, h)`` of shapes ``(B, z_dim)``, ``(B, z_dim)``, ``(B, context_dim)``.
        """
        check_data("x", x, self.config, next(self.parameters()).dtype, values=False)
        out = self.net(x)  # (B, 2 z_dim + context_dim)
        z_dim = self.config.z_dim
        return out[:, :z_dim], out[:, z_dim : 2 * z_dim], out[:, 2 * z_dim :]

    def sample(
        self, x: Tensor, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draw $z_T \sim q(z_T|x)$ and return $\log q(z_T|x)$ with it.

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$, samples per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            ``(z_T, log_q)`` of shapes ``(K, B, z_dim)`` and ``(K, B)``; differentiable.
        """
        check_int("num_samples", num_samples)
        mu_q, log_var_q, h = self(x)
        return self.flow.sample(mu_q, log_var_q, num_samples, h, generator)


class IAFVAE(nn.Module):
    r"""A VAE with an IAF posterior: :class:`IAFEncoder`, the :class:`Decoder` of ``config`` and the standard normal :class:`Prior`.

    $$\mathrm{ELBO}_\beta(x) = \frac1K\sum_{k=1}^K\Big[\log p(x|z_T^{(k)}) - \beta\big(\log q(z_T^{(k)}|x) - \log p(z_T^{(k)})\big)\Big]$$

    Created in evaluation mode, like :class:`~vae_edu.models.VAE`.

    Args:
        config: the decoder's and encoder MLP's hyper-parameters (default: the book's digits model).
        num_steps, context_dim, made_hidden, forget_bias: see :class:`IAFEncoder`.

    Example:
        >>> import torch
        >>> from vae_edu.models import VAEConfig
        >>> _ = torch.manual_seed(0)
        >>> model = IAFVAE(VAEConfig(x_dim=4, z_dim=2, hidden=8, num_levels=3), context_dim=4, made_hidden=(8,))
        >>> model.elbo(torch.tensor([[0.0, 1.0, 2.0, 1.0]]), num_samples=10).shape
        torch.Size([1])

    Book: *Inverse autoregressive flow*.
    """

    def __init__(
        self,
        config: VAEConfig | None = None,
        num_steps: int = 4,
        context_dim: int = 64,
        made_hidden: Sequence[int] = (256,),
        forget_bias: float = 2.0,
    ) -> None:
        super().__init__()
        config = VAEConfig() if config is None else config
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = IAFEncoder(config, num_steps, context_dim, made_hidden, forget_bias)
        self.decoder = Decoder(config)
        self.prior = Prior(config.z_dim)
        self.eval()

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (data must have it too)."""
        return next(self.encoder.parameters()).dtype

    def _terms(self, x: Tensor, num_samples: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        check_data("x", x, self.config, self.dtype)
        z_T, log_q = self.encoder.sample(x, num_samples, generator)  # (K, B, z_dim), (K, B)
        return self.decoder.log_prob(x, z_T), self.prior.log_prob(z_T), log_q  # (K, B) each

    def elbo(
        self, x: Tensor, num_samples: int = 1, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""The ELBO per example with the Monte Carlo KL $\log q(z_T|x) - \log p(z_T)$.

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$, draws of $z_T$ per example.
            beta: $\beta \ge 0$, the weight of the KL term.
            generator: optional :class:`torch.Generator` for the noise.

        Returns:
            shape ``(B,)``, in nats; unbiased and differentiable.

        Book: *Inverse autoregressive flow*.
        """
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
            raise ValueError(f"beta must be a finite float >= 0, got {beta!r}")
        log_p_x_given_z, log_p_z, log_q = self._terms(x, num_samples, generator)
        return (log_p_x_given_z - beta * (log_q - log_p_z)).mean(dim=0)

    def kl(self, x: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""The Monte Carlo KL, $\frac1K\sum_k \big[\log q(z_T^{(k)}|x) - \log p(z_T^{(k)})\big]$ (the rate).

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$.
            generator: optional :class:`torch.Generator`.

        Returns:
            shape ``(B,)``, nats; an unbiased estimate of $\mathrm{KL}\big(q(z_T|x)\,\|\,p(z)\big)$ (single
            draws can be negative).

        Book: *Inverse autoregressive flow*.
        """
        _, log_p_z, log_q = self._terms(x, num_samples, generator)
        return (log_q - log_p_z).mean(dim=0)

    def log_importance_weights(
        self, x: Tensor, num_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""$\log w_k = \log p(x|z_T^{(k)}) + \log p(z_T^{(k)}) - \log q(z_T^{(k)}|x)$, $z_T^{(k)} \sim q(z_T|x)$.

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$.
            generator: optional :class:`torch.Generator`.

        Returns:
            shape ``(K, B)``; differentiable.

        Book: *Inverse autoregressive flow*.
        """
        log_p_x_given_z, log_p_z, log_q = self._terms(x, num_samples, generator)
        return log_p_x_given_z + log_p_z - log_q

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ images: $z \sim p(z)$, then $x \sim p(x|z)$ (the flow is part of $q$, not of the generative model).

        Args:
            n: number of images.
            generator: optional :class:`torch.Generator` for $z$ and $x$.

        Returns:
            shape ``(n, x_dim)``.

        Book: *Inverse autoregressive flow*.
        """
        return self.decoder.sample(self.prior.sample(n, generator), generator)

    def reconstruct(self, x: Tensor) -> Tensor:
        r"""The decoder's expected image at $z_T = f(\mu_q(x);\ h(x))$, the flow applied to the base mean.

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            shape ``(B, x_dim)``.

        Book: *Inverse autoregressive flow*.
        """
        mu_q, _, h = self.encoder(x)
        z_T, _ = self.encoder.flow(mu_q, h)
        return self.decoder.mean(z_T)
