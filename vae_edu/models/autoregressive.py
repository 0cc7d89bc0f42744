r"""An autoregressive decoder $p(x|z) = \prod_d p(x_d \mid x_{<d}, z)$, a part for :class:`~vae_edu.models.VAE`.

``VAE(Encoder(config), AutoregressiveDecoder(config), StandardNormalPrior(config.z_dim))`` is a VAE
with this decoder.

A decoder this strong can model the data on its own, without looking at $z$: each pixel is
predicted from the pixels before it. The ELBO then prefers $q(z|x) = p(z)$ (zero KL) unless $z$
buys more reconstruction than it costs — *posterior collapse*. The conditionals come from one
:class:`~vae_edu.models.made.MADE` pass with $z$ as its context, so $\log p(x|z)$ costs one
network evaluation; sampling needs $D$ of them, one pixel at a time.

Book: *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..checks import check_int
from ..distributions.categorical import log_categorical
from .checks import check_data, check_z, model_dtype
from .config import VAEConfig
from .made import MADE

__all__ = ["AutoregressiveDecoder"]


def _sample_levels(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One level per row of ``logits`` ``(..., L)`` by the inverse CDF, as floats, shape ``(...)``."""
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)  # (..., L)
    u = torch.rand((*logits.shape[:-1], 1), dtype=logits.dtype, device=logits.device, generator=generator)
    return (cdf < u).sum(dim=-1).clamp_(max=logits.shape[-1] - 1).to(logits.dtype)


class AutoregressiveDecoder(nn.Module):
    r"""The decoder $p(x|z) = \prod_{d} \operatorname{Cat}\big(x_d;\ \operatorname{softmax} a_d(x_{<d}, z)\big)$ over $L$ levels per pixel.

    The logits $a_d$ of every pixel come from one :class:`~vae_edu.models.made.MADE` pass over
    $x/(L-1)$ with $z$ as the context: pixel $d$ sees the pixels before it in ``order`` and all
    of $z$. Given the same $z$, it is a strictly richer model than the factorised
    :class:`~vae_edu.models.Decoder`, which sees $z$ only.

    Args:
        config: a :class:`~vae_edu.models.VAEConfig` with ``likelihood="categorical"`` and no
            decoder dropout (its ``x_dim``, ``z_dim``, ``num_levels`` and ``activation`` are used).
        hidden_sizes: widths of the MADE's hidden layers (default ``(config.hidden,)``).
        order: the pixels in generation order (default: raster order ``0, 1, ..., D-1``).
        direct: include the MADE's masked linear connection from the earlier pixels to the logits.

    Book: *Posterior collapse and the rate–distortion trade-off*.
    """

    def __init__(
        self,
        config: VAEConfig,
        hidden_sizes: Sequence[int] | None = None,
        *,
        order: Sequence[int] | Tensor | None = None,
        direct: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
        if config.likelihood != "categorical":
            raise ValueError(f"the autoregressive decoder is categorical: config.likelihood must be 'categorical', got {config.likelihood!r}")
        if getattr(config, "decoder_dropout", 0.0):
            raise ValueError(
                f"the autoregressive decoder has no dropout: config.decoder_dropout must be 0, got {config.decoder_dropout}"
            )
        self.config = config
        sizes = (config.hidden,) if hidden_sizes is None else hidden_sizes
        self.made = MADE(
            config.x_dim,
            sizes,
            config.num_levels,
            order=order,
            context_dim=config.z_dim,
            activation=config.activation,
            direct=direct,
        )
        self.input_scale = 1.0 / (config.num_levels - 1)

    @property
    def order(self) -> Tensor:
        """The pixels in generation order, shape ``(x_dim,)``."""
        return self.made.order

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        r"""The logits $a_d(x_{<d}, z)$ of every pixel's conditional, in one pass (teacher forcing).

        Args:
            x: levels as floats, shape ``(B, x_dim)`` (or any batch shape that broadcasts with ``z``'s).
            z: latent codes, shape ``(K, B, z_dim)`` or ``(B, z_dim)``.

        Returns:
            logits, shape ``(..., x_dim, num_levels)`` with the broadcast batch shape, e.g. ``(K, B, x_dim, L)``.
        """
        return self.made(x * self.input_scale, z)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        r"""$\log p(x|z) = \sum_d \log \operatorname{softmax}\big(a_d(x_{<d}, z)\big)_{x_d}$, for every sample of $z$.

        Args:
            x: data, shape ``(B, x_dim)``, levels ``0..L-1`` as floats.
            z: latent codes, shape ``(K, B, z_dim)`` (or ``(B, z_dim)``).

        Returns:
            shape ``(K, B)`` (or ``(B,)``).
        """
        return log_categorical(x, self(x, z), validate=False)

    def check_data(self, x: Tensor, name: str = "x") -> None:
        """Check data for this decoder (shape, dtype, levels); ``VAE`` calls it."""
        check_data(name, x, self.config, model_dtype(self))

    def sample(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $x \sim p(x|z)$ by ancestral sampling, one pixel at a time in ``order`` ($D$ network passes).

        Args:
            z: latent codes, shape ``(..., z_dim)``.
            generator: optional :class:`torch.Generator`.

        Returns:
            levels as floats, shape ``(..., x_dim)``.
        """
        check_z(z, self.config.z_dim, model_dtype(self))
        x = torch.zeros((*z.shape[:-1], self.config.x_dim), dtype=z.dtype, device=z.device)  # (..., D)
        with torch.no_grad():
            for d in self.order.tolist():  # pixel d sees only the pixels already drawn
                logits_d = self(x, z)[..., d, :]  # (..., L)
                x[..., d] = _sample_levels(logits_d, generator)
        return x

    def mean(self, z: Tensor, num_samples: int = 32, generator: torch.Generator | None = None) -> Tensor:
        r"""A Monte Carlo estimate of $\mathbb E_{p(x|z)}[x]$: the average of ``num_samples`` draws (in level units).

        Unlike the factorised decoder's, this mean has no closed form: pixel $d$'s distribution
        depends on the pixels drawn before it.

        Args:
            z: latent codes, shape ``(..., z_dim)``.
            num_samples: draws of $x$ per code.
            generator: optional :class:`torch.Generator`.

        Returns:
            shape ``(..., x_dim)``.
        """
        check_int("num_samples", num_samples)
        check_z(z, self.config.z_dim, model_dtype(self))
        draws = self.sample(z.expand(num_samples, *z.shape), generator)  # (S, ..., D)
        return draws.mean(dim=0)
