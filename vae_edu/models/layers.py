r"""The networks of a VAE as separate modules: :class:`Encoder` $q(z|x)$ and :class:`Decoder` $p(x|z)$ (the :class:`~vae_edu.models.StandardNormalPrior` is in ``prior.py``).

Each has a ``log_prob`` (and a ``sample`` where it applies) that calls the log-density of
:mod:`vae_edu.distributions` for its distribution, so the formulas are written once.
Shapes: data ``x`` is ``(B, x_dim)``; latent samples ``z`` are ``(K, B, z_dim)`` for ``K``
samples per example; log-probabilities are ``(K, B)``.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..distributions.categorical import log_bernoulli, log_categorical
from ..distributions.gaussian import log_normal_diag, reparameterize
from .checks import check_data, check_z, model_dtype
from .config import VAEConfig
from .posteriors import DiagonalGaussian

__all__ = ["mlp", "Encoder", "Decoder", "LEARNED_LOG_VAR_START", "LEARNED_LOG_VAR_MIN"]

#: A learned Gaussian decoder's $\log\sigma_p^2$ at initialisation: $\sigma_p = 0.1$ (data on $[0, 1]$).
LEARNED_LOG_VAR_START: float = math.log(1e-2)
#: The floor of a learned Gaussian decoder's $\log\sigma_p^2$ ($\sigma_p \ge 0.01$).
LEARNED_LOG_VAR_MIN: float = math.log(1e-4)

#: The hidden-layer non-linearities by name (the keys of :data:`~vae_edu.models.config.ACTIVATIONS`).
ACTIVATION_MODULES: dict[str, type[nn.Module]] = {
    "leaky_relu": nn.LeakyReLU,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


def mlp(
    in_dim: int, hidden: int, num_hidden_layers: int, out_dim: int, activation: str, dropout: float = 0.0
) -> nn.Sequential:
    """A multilayer perceptron: ``num_hidden_layers`` × (Linear → activation [→ Dropout]), then a final Linear.

    Args:
        in_dim: input width.
        hidden: width of every hidden layer.
        num_hidden_layers: number of hidden layers (>= 1).
        out_dim: output width.
        activation: a key of :data:`vae_edu.models.config.ACTIVATIONS`.
        dropout: dropout probability after each hidden layer (0: no dropout layers).

    Returns:
        The network, mapping ``(..., in_dim)`` to ``(..., out_dim)``.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden), ACTIVATION_MODULES[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    r"""The encoder $q(z|x) = \mathcal N\big(z;\ \mu_q(x), \operatorname{diag}\sigma_q^2(x)\big)$, an MLP with two heads.

    Args:
        config: a :class:`VAEConfig`. The network sees the data as it is (for the categorical
            likelihood, the levels $0, \dots, L-1$ themselves: on the digits this trains to a better
            log-likelihood than levels scaled to $[0, 1]$).

    Book: *Training a VAE on digits*.
    """

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.net = mlp(config.x_dim, config.hidden, config.num_hidden_layers, 2 * config.z_dim, config.activation)

    def forward(self, x: Tensor) -> DiagonalGaussian:
        r"""$q(z|x)$ for the batch.

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            a :class:`~vae_edu.models.DiagonalGaussian` with ``mu`` and ``log_var`` of shape
            ``(B, z_dim)``; it unpacks as ``mu_q, log_var_q = encoder(x)``.
        """
        mu_q, log_var_q = self.net(x).chunk(2, dim=-1)  # (B, z_dim) each
        return DiagonalGaussian(mu_q, log_var_q)


class Decoder(nn.Module):
    r"""The decoder $p(x|z)$: an MLP from $z$ to the parameters of a per-pixel distribution.

    * ``"categorical"``: logits $a_{d,l}$ of $L$ levels per pixel, $p(x_d = l|z) = \operatorname{softmax}(a_d)_l$;
    * ``"bernoulli"``: logits $a_d$, $p(x_d = 1|z) = \operatorname{sigmoid}(a_d)$;
    * ``"gaussian"``: $p(x|z) = \mathcal N(x;\ \mu_p(z), \operatorname{diag}\sigma_p^2)$ with
      $\log\sigma_p^2$ fixed (``config.decoder_log_var``) or a learned parameter per pixel.

    With ``config.decoder_dropout > 0`` the MLP has dropout after each hidden layer, active only
    in training mode.

    Args:
        config: a :class:`VAEConfig`.

    Book: *Training a VAE on digits*.
    """

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        width = config.x_dim * config.num_levels if config.likelihood == "categorical" else config.x_dim
        self.net = mlp(
            config.z_dim, config.hidden, config.num_hidden_layers, width, config.activation, config.decoder_dropout
        )
        if config.likelihood == "gaussian":
            if config.decoder_log_var is None:  # learned, one per pixel, above the floor
                start = math.log(math.expm1(LEARNED_LOG_VAR_START - LEARNED_LOG_VAR_MIN))
                self.log_var_raw = nn.Parameter(torch.full((config.x_dim,), start))
            else:
                self.register_buffer("fixed_log_var_p", torch.full((config.x_dim,), config.decoder_log_var))

    @property
    def log_var_p(self) -> Tensor:
        r"""The Gaussian decoder's $\log\sigma_p^2$ per pixel, shape ``(x_dim,)``.

        Learned, it is ``LEARNED_LOG_VAR_MIN + softplus(log_var_raw)``: it starts at
        $\sigma_p^2 = 10^{-2}$ (data on $[0, 1]$) and cannot fall below $\sigma_p^2 = 10^{-4}$, where a
        constant pixel would otherwise drive it, and the log-likelihood, to infinity.
        """
        if self.config.decoder_log_var is None:
            return LEARNED_LOG_VAR_MIN + F.softplus(self.log_var_raw)
        return self.fixed_log_var_p

    def forward(self, z: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        r"""The parameters of $p(x|z)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``, e.g. ``(K, B, z_dim)``.

        Returns:
            categorical: logits, shape ``(..., x_dim, num_levels)``; Bernoulli: logits, shape
            ``(..., x_dim)``; Gaussian: ``(mu_p, log_var_p)``, each of shape ``(..., x_dim)``.
        """
        out = self.net(z)  # (..., out_width)
        if self.config.likelihood == "categorical":
            return out.view(*out.shape[:-1], self.config.x_dim, self.config.num_levels)  # (..., x_dim, L)
        if self.config.likelihood == "bernoulli":
            return out
        return out, self.log_var_p.expand_as(out)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        r"""$\log p(x|z)$, summed over the pixels, for every sample of $z$.

        Args:
            x: data, shape ``(B, x_dim)``.
            z: latent codes, shape ``(K, B, z_dim)`` (or ``(B, z_dim)``).

        Returns:
            shape ``(K, B)`` (or ``(B,)``).
        """
        if self.config.likelihood == "categorical":
            if not torch.is_grad_enabled():  # evaluation: let the normaliser reuse the logits' memory
                try:
                    return log_categorical(x, self(z), validate=False, overwrite=True)  # type: ignore[arg-type]
                except FloatingPointError:  # a pixel's normaliser underflowed: recompute, exactly
                    pass
            return log_categorical(x, self(z), validate=False)  # type: ignore[arg-type]
        params = self(z)
        if self.config.likelihood == "bernoulli":
            assert isinstance(params, Tensor)
            return log_bernoulli(x, params, validate=False)
        mu_p, log_var_p = params
        return log_normal_diag(x, mu_p, log_var_p)

    def check_data(self, x: Tensor, name: str = "x") -> None:
        """Check data for this decoder (shape, dtype, values it can score); ``VAE`` calls it."""
        check_data(name, x, self.config, model_dtype(self))

    def mean(self, z: Tensor) -> Tensor:
        r"""The expected image $\mathbb E_{p(x|z)}[x]$, in the data's units.

        Categorical: $\sum_l l\,\pi_{d,l}$ (a grey level in $[0, L-1]$); Bernoulli:
        $\operatorname{sigmoid}(a_d)$; Gaussian: $\mu_p(z)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.

        Returns:
            shape ``(..., x_dim)``.
        """
        params = self(check_z(z, self.config.z_dim, model_dtype(self)))
        if self.config.likelihood == "categorical":
            assert isinstance(params, Tensor)
            top = self.config.num_levels - 1
            levels = torch.arange(top + 1, dtype=params.dtype, device=params.device)
            # The mean lies in [0, L-1]; the rounding of softmax and the sum can overshoot L-1 by
            # a few ulps, which the clamp removes (it changes nothing else).
            return (torch.softmax(params, dim=-1) @ levels).clamp(0, top)  # (..., x_dim)
        if self.config.likelihood == "bernoulli":
            assert isinstance(params, Tensor)
            return torch.sigmoid(params)
        return params[0]

    def sample(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $x \sim p(x|z)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.
            generator: optional :class:`torch.Generator`.

        Returns:
            $x$, shape ``(..., x_dim)``: levels as floats (categorical), 0/1 (Bernoulli) or reals (Gaussian).
        """
        params = self(check_z(z, self.config.z_dim, model_dtype(self)))
        if self.config.likelihood == "categorical":
            assert isinstance(params, Tensor)
            cdf = torch.softmax(params, dim=-1).cumsum(dim=-1)  # (..., x_dim, L)
            u = torch.rand((*params.shape[:-1], 1), dtype=params.dtype, device=params.device, generator=generator)
            level = (cdf < u).sum(dim=-1).clamp_(max=self.config.num_levels - 1)  # inverse CDF, (..., x_dim)
            return level.to(params.dtype)
        if self.config.likelihood == "bernoulli":
            assert isinstance(params, Tensor)
            return torch.bernoulli(torch.sigmoid(params), generator=generator)
        mu_p, log_var_p = params
        return reparameterize(mu_p, log_var_p, generator=generator)
