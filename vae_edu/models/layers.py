r"""The networks of a VAE as separate modules: :class:`Encoder` $q(z|x)$ and :class:`Decoder` $p(x|z)$ (the :class:`~vae_edu.models.Prior` is in ``prior.py``).

Each has a ``log_prob`` (and a ``sample`` where it applies) that calls the log-density of
:mod:`vae_edu.distributions` for its distribution, so the formulas are written once.
Shapes: data ``x`` is ``(B, x_dim)``; latent samples ``z`` are ``(K, B, z_dim)`` for ``K``
samples per example; log-probabilities are ``(K, B)``.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..distributions import (
    _log_bernoulli,
    _log_categorical,
    log_normal_diag,
    reparameterize,
)
from ..utils import check_int, check_tensor
from .config import VAEConfig

__all__ = ["mlp", "Encoder", "Decoder", "check_data"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
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
        layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _model_dtype(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def check_data(name: str, x: object, config: VAEConfig, dtype: torch.dtype, *, values: bool = True) -> Tensor:
    """Check a batch of data for a model: shape ``(B, x_dim)``, the model's dtype, finite, and
    (if ``values``) values the likelihood can score: levels ``0..L-1`` (categorical) or 0/1 (Bernoulli).

    Raises:
        TypeError, ValueError: naming ``name``.
    """
    check_tensor(name, x, min_dim=2)
    assert isinstance(x, Tensor)
    if x.dim() != 2 or x.shape[1] != config.x_dim:
        raise ValueError(f"{name} must have shape (batch, x_dim={config.x_dim}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model has dtype {dtype}; convert with .to({dtype})")
    if values and config.likelihood == "categorical":
        if not bool((x == torch.round(x)).all()):
            raise ValueError(f"{name} must hold integer levels 0..{config.num_levels - 1} for the categorical decoder")
        if not bool(((x >= 0) & (x <= config.num_levels - 1)).all()):
            raise ValueError(
                f"{name} must hold levels in [0, {config.num_levels - 1}] for the categorical decoder, got values in "
                f"[{x.min().item():g}, {x.max().item():g}]"
            )
    if values and config.likelihood == "bernoulli" and not bool(((x == 0) | (x == 1)).all()):
        raise ValueError(f"{name} must hold only 0s and 1s for the Bernoulli decoder (binarize it first)")
    return x


def _check_z(z: object, z_dim: int, dtype: torch.dtype) -> Tensor:
    check_tensor("z", z, min_dim=1)
    assert isinstance(z, Tensor)
    if z.shape[-1] != z_dim:
        raise ValueError(f"z must have last dimension z_dim={z_dim}, got shape {tuple(z.shape)}")
    if z.dtype != dtype:
        raise TypeError(f"z has dtype {z.dtype} but the model has dtype {dtype}")
    return z


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

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        r"""The parameters of $q(z|x)$.

        Args:
            x: data, shape ``(B, x_dim)``.

        Returns:
            ``(mu_q, log_var_q)``, each of shape ``(B, z_dim)``.
        """
        check_data("x", x, self.config, _model_dtype(self), values=False)
        out = self.net(x)  # (B, 2 z_dim)
        mu_q, log_var_q = out.chunk(2, dim=-1)  # (B, z_dim) each
        return mu_q, log_var_q

    def sample(self, x: Tensor, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $z_k \sim q(z|x)$ with the reparameterization trick, $z = \mu_q + \sigma_q\odot\varepsilon$.

        Args:
            x: data, shape ``(B, x_dim)``.
            num_samples: $K$, samples per example.
            generator: optional :class:`torch.Generator` for $\varepsilon$.

        Returns:
            $z$, shape ``(K, B, z_dim)``; differentiable in the encoder's parameters.
        """
        check_int("num_samples", num_samples)
        mu_q, log_var_q = self(x)
        eps = torch.randn((num_samples, *mu_q.shape), dtype=mu_q.dtype, device=mu_q.device, generator=generator)
        return reparameterize(mu_q, log_var_q, eps)  # (K, B, z_dim)

    def log_prob(self, z: Tensor, x: Tensor) -> Tensor:
        r"""$\log q(z|x) = \log\mathcal N\big(z;\ \mu_q(x), \operatorname{diag}\sigma_q^2(x)\big)$.

        Args:
            z: latent codes, shape ``(K, B, z_dim)`` (or ``(B, z_dim)``).
            x: data, shape ``(B, x_dim)``.

        Returns:
            shape ``(K, B)`` (or ``(B,)``).
        """
        _check_z(z, self.config.z_dim, _model_dtype(self))
        mu_q, log_var_q = self(x)
        return log_normal_diag(z, mu_q, log_var_q)


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
            if config.decoder_log_var is None:
                self.log_var_p = nn.Parameter(torch.zeros(config.x_dim))  # learned, one per pixel
            else:
                self.register_buffer("log_var_p", torch.full((config.x_dim,), config.decoder_log_var))

    def forward(self, z: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        r"""The parameters of $p(x|z)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``, e.g. ``(K, B, z_dim)``.

        Returns:
            categorical: logits, shape ``(..., x_dim, num_levels)``; Bernoulli: logits, shape
            ``(..., x_dim)``; Gaussian: ``(mu_p, log_var_p)``, each of shape ``(..., x_dim)``.
        """
        _check_z(z, self.config.z_dim, _model_dtype(self))
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
        check_data("x", x, self.config, _model_dtype(self))
        if self.config.likelihood == "categorical":
            if not torch.is_grad_enabled():  # evaluation: let the normaliser reuse the logits' memory
                try:
                    return _log_categorical(x, self(z), overwrite=True)  # type: ignore[arg-type]
                except FloatingPointError:  # a pixel's normaliser underflowed: recompute, exactly
                    pass
            return _log_categorical(x, self(z))  # type: ignore[arg-type]
        params = self(z)
        if self.config.likelihood == "bernoulli":
            assert isinstance(params, Tensor)
            return _log_bernoulli(x, params)
        mu_p, log_var_p = params
        return log_normal_diag(x, mu_p, log_var_p)

    def mean(self, z: Tensor) -> Tensor:
        r"""The expected image $\mathbb E_{p(x|z)}[x]$, in the data's units.

        Categorical: $\sum_l l\,\pi_{d,l}$ (a grey level in $[0, L-1]$); Bernoulli:
        $\operatorname{sigmoid}(a_d)$; Gaussian: $\mu_p(z)$.

        Args:
            z: latent codes, shape ``(..., z_dim)``.

        Returns:
            shape ``(..., x_dim)``.
        """
        params = self(z)
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
        params = self(z)
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
        eps = torch.randn(mu_p.shape, dtype=mu_p.dtype, device=mu_p.device, generator=generator)
        return reparameterize(mu_p, log_var_p, eps)
