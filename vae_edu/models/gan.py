r"""A small generative adversarial network: :class:`Generator`, :class:`Discriminator`, :class:`GAN`, and its losses.

A GAN (Goodfellow et al., 2014) draws $z \sim \mathcal N(0, I)$ and maps it to $x = G(z)$, like a
VAE's decoder, but it has no likelihood $p(x|z)$ and no encoder. It is trained against a
discriminator $D(x) = \operatorname{sigmoid}(\ell(x))$ that tells real from generated data:

$$\min_G \max_D\ V(D, G) = \mathbb E_{p_{\text{data}}}[\log D(x)] + \mathbb E_{p(z)}[\log(1 - D(G(z)))]$$

Every loss here takes the discriminator's *logits* $\ell$ and is written in log space,
$\log D = -\operatorname{softplus}(-\ell)$ and $\log(1 - D) = -\operatorname{softplus}(\ell)$.
The training loop is :func:`vae_edu.training.gan.fit_gan`.

Shapes: data ``x`` is ``(B, x_dim)``, codes ``z`` are ``(..., z_dim)``, logits are ``(B,)``.

Book: *VAE vs GAN on the same data*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..checks import check_int, check_tensor
from .checks import check_z, model_dtype
from .config import ACTIVATIONS
from .layers import mlp

__all__ = ["GANConfig", "Generator", "Discriminator", "GAN", "check_gan_data"]

Output = Literal["sigmoid", "linear"]


@dataclass
class GANConfig:
    r"""Hyper-parameters of :class:`GAN` (defaults: the book's digits GAN, images in $[0, 1]$).

    Attributes:
        x_dim: data dimension $D$ (64 for the 8×8 digits, 2 for the toy mixture).
        z_dim: dimension $d$ of the generator's noise $z \sim \mathcal N(0, I)$.
        hidden: width of every hidden layer of both networks.
        num_hidden_layers: hidden layers in the generator and in the discriminator (>= 1).
        output: the generator's last non-linearity: ``"sigmoid"`` (pixel intensities in $[0, 1]$,
            data in unit scale) or ``"linear"`` (real-valued data such as the 2-D toy set).
        activation: the hidden-layer non-linearity (as in :class:`~vae_edu.models.VAEConfig`).

    Raises:
        TypeError, ValueError: naming the field.

    Book: *VAE vs GAN on the same data*.
    """

    x_dim: int = 64
    z_dim: int = 16
    hidden: int = 128
    num_hidden_layers: int = 2
    output: Output = "sigmoid"
    activation: str = "leaky_relu"

    def __post_init__(self) -> None:
        check_int("x_dim", self.x_dim, 1)
        check_int("z_dim", self.z_dim, 1)
        check_int("hidden", self.hidden, 1)
        check_int("num_hidden_layers", self.num_hidden_layers, 1)
        if self.output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {self.output!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")


def check_gan_data(name: str, x: object, config: GANConfig, dtype: torch.dtype) -> Tensor:
    r"""Check a batch of data for a GAN: shape ``(B, x_dim)``, the model's dtype, finite, and in
    $[0, 1]$ when the generator's output is a sigmoid (it could never produce other values).

    Args:
        name: the argument's name, used in error messages.
        x: the data, expected shape ``(B, x_dim)`` with $B \ge 1$.
        config: the :class:`GANConfig` that sets ``x_dim`` and the output range.
        dtype: the model's dtype, which ``x`` must have.

    Returns:
        ``x`` itself, unchanged.

    Raises:
        TypeError, ValueError: naming ``name``.

    Book: *VAE vs GAN on the same data*.
    """
    check_tensor(name, x, min_dim=2)
    assert isinstance(x, Tensor)
    if x.dim() != 2 or x.shape[1] != config.x_dim or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (batch >= 1, x_dim={config.x_dim}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model has dtype {dtype}; convert with .to({dtype})")
    if config.output == "sigmoid" and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(
            f"{name} must hold values in [0, 1] for a sigmoid generator (unit scale: divide grey levels 0..16 by 16), "
            f"got values in [{x.min().item():g}, {x.max().item():g}]"
        )
    return x


class Generator(nn.Module):
    r"""The generator $x = G(z)$: an MLP from noise $z$ to data space (sigmoid or linear output).

    Args:
        config: a :class:`GANConfig`.

    Book: *VAE vs GAN on the same data*.
    """

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.net = mlp(config.z_dim, config.hidden, config.num_hidden_layers, config.x_dim, config.activation)

    def forward(self, z: Tensor) -> Tensor:
        r"""$G(z)$.

        Args:
            z: codes, shape ``(..., z_dim)``.

        Returns:
            shape ``(..., x_dim)``; in $(0, 1)$ for ``output="sigmoid"``. Differentiable.
        """
        check_z(z, self.config.z_dim, model_dtype(self))
        out = self.net(z)  # (..., x_dim)
        return torch.sigmoid(out) if self.config.output == "sigmoid" else out


class Discriminator(nn.Module):
    r"""The discriminator's logit $\ell(x)$, with $D(x) = \operatorname{sigmoid}(\ell(x))$ the probability that $x$ is real.

    Args:
        config: a :class:`GANConfig`.

    Book: *VAE vs GAN on the same data*.
    """

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.net = mlp(config.x_dim, config.hidden, config.num_hidden_layers, 1, config.activation)

    def forward(self, x: Tensor) -> Tensor:
        r"""The logit $\ell(x) = \log D(x) - \log(1 - D(x))$.

        Args:
            x: data or generated samples, shape ``(B, x_dim)``.

        Returns:
            shape ``(B,)``.
        """
        check_tensor("x", x, min_dim=2)
        if x.shape[-1] != self.config.x_dim:
            raise ValueError(f"x must have last dimension x_dim={self.config.x_dim}, got shape {tuple(x.shape)}")
        if x.dtype != model_dtype(self):
            raise TypeError(f"x has dtype {x.dtype} but the model has dtype {model_dtype(self)}")
        return self.net(x).squeeze(-1)  # (B,)


class GAN(nn.Module):
    r"""A generator and a discriminator; samples are $x = G(z)$ with $z \sim \mathcal N(0, I)$.

    Unlike :class:`~vae_edu.models.VAE`, it has no ``elbo`` and no ``log_importance_weights``:
    the model defines samples, not a density, so there is no likelihood (or bound) to report.

    Args:
        config: a :class:`GANConfig` (default: the digits GAN).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> gan = GAN(GANConfig(x_dim=2, z_dim=2, hidden=8, output="linear"))
        >>> gan.sample(5).shape
        torch.Size([5, 2])

    Book: *VAE vs GAN on the same data*.
    """

    def __init__(self, config: GANConfig | None = None) -> None:
        super().__init__()
        config = GANConfig() if config is None else config
        if not isinstance(config, GANConfig):
            raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (data must have it too)."""
        return model_dtype(self.generator)

    def sample_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Noise $z \sim \mathcal N(0, I)$, shape ``(n, z_dim)``, in the model's dtype."""
        check_int("n", n)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return torch.randn(n, self.config.z_dim, dtype=self.dtype, generator=generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""Draw $n$ samples $x = G(z)$, $z \sim \mathcal N(0, I)$ (no gradients).

        Args:
            n: number of samples.
            generator: optional :class:`torch.Generator` for $z$.

        Returns:
            shape ``(n, x_dim)``, in the data's units (unit scale for a sigmoid generator).
        """
        z = self.sample_z(n, generator)  # (n, z_dim)
        with torch.no_grad():
            return self.generator(z)
