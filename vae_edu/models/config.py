"""The hyper-parameters of a VAE, in one validated dataclass.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ..checks import check_int

__all__ = ["VAEConfig", "Likelihood", "Activation", "LIKELIHOODS", "ACTIVATIONS"]

Likelihood = Literal["categorical", "bernoulli", "gaussian"]
Activation = Literal["leaky_relu", "relu", "elu", "gelu", "silu", "tanh", "softplus"]

#: The decoder likelihoods :class:`VAEConfig` accepts.
LIKELIHOODS: tuple[str, ...] = ("categorical", "bernoulli", "gaussian")
#: The hidden-layer activations :class:`VAEConfig` accepts.
ACTIVATIONS: tuple[str, ...] = ("leaky_relu", "relu", "elu", "gelu", "silu", "tanh", "softplus")


@dataclass
class VAEConfig:
    r"""Hyper-parameters of :class:`~vae_edu.models.VAE` (defaults: the digits model of the book).

    Encoder and decoder are MLPs with ``num_hidden_layers`` hidden layers of width ``hidden``:
    the encoder maps $x$ to $(\mu_q, \log\sigma_q^2)$, the decoder maps $z$ to the parameters of
    $p(x|z)$.

    Attributes:
        x_dim: data dimension $D$ (64 for the 8×8 digits).
        z_dim: latent dimension $d$.
        hidden: width of every hidden layer.
        num_hidden_layers: number of hidden layers in the encoder and in the decoder (>= 1).
        likelihood: the decoder $p(x|z)$: ``"categorical"`` over ``num_levels`` integer levels per
            pixel (data: levels as floats), ``"bernoulli"`` (data: 0/1), or ``"gaussian"``
            (continuous data) with the variance given by ``decoder_log_var``.
        num_levels: $L$, the number of levels of the categorical decoder (17 for digits: 0..16).
        decoder_log_var: Gaussian decoder only: a fixed $\log\sigma^2$ shared by every pixel, or
            ``None`` for a learned $\log\sigma_d^2$ per pixel. Must be ``None`` for the other
            likelihoods.
        activation: the hidden-layer non-linearity (``"leaky_relu"``, ``"relu"``, ``"elu"``,
            ``"gelu"``, ``"silu"``, ``"tanh"``, ``"softplus"``).
        decoder_dropout: dropout probability after each hidden layer of the decoder, active only
            in training mode (inside :func:`~vae_edu.training.loop.fit`); a regulariser against the
            decoder memorising a small training set (on the digits it is what takes the test NLL
            below the reference setup's; see ``benchmarks/digits_nll.py``). 0 turns it off.

    Raises:
        TypeError, ValueError: naming the field, for a value of the wrong type or out of range.

    Book: *Training a VAE on digits*.
    """

    x_dim: int = 64
    z_dim: int = 16
    hidden: int = 256
    num_hidden_layers: int = 2
    likelihood: Likelihood = "categorical"
    num_levels: int = 17
    decoder_log_var: float | None = None
    activation: Activation = "leaky_relu"
    decoder_dropout: float = 0.1

    def __post_init__(self) -> None:
        check_int("x_dim", self.x_dim, 1)
        check_int("z_dim", self.z_dim, 1)
        check_int("hidden", self.hidden, 1)
        check_int("num_hidden_layers", self.num_hidden_layers, 1)
        check_int("num_levels", self.num_levels, 2)
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if isinstance(self.decoder_dropout, bool) or not isinstance(self.decoder_dropout, (int, float)):
            raise TypeError(f"decoder_dropout must be a float, got {type(self.decoder_dropout).__name__}")
        if not 0 <= self.decoder_dropout < 1:
            raise ValueError(f"decoder_dropout must be in [0, 1), got {self.decoder_dropout}")
        self.decoder_dropout = float(self.decoder_dropout)
        if self.decoder_log_var is not None:
            if self.likelihood != "gaussian":
                raise ValueError(
                    f"decoder_log_var applies only to likelihood='gaussian' (got likelihood={self.likelihood!r}); "
                    "leave it None"
                )
            if isinstance(self.decoder_log_var, bool) or not isinstance(self.decoder_log_var, (int, float)):
                raise TypeError(f"decoder_log_var must be a float or None, got {type(self.decoder_log_var).__name__}")
            if not math.isfinite(self.decoder_log_var):
                raise ValueError(f"decoder_log_var must be finite, got {self.decoder_log_var}")
            self.decoder_log_var = float(self.decoder_log_var)
