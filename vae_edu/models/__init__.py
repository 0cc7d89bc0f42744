"""VAE models: :class:`Encoder`, :class:`Decoder`, :class:`Prior` composed in :class:`VAE`; the
conditional VAE (:class:`CVAE`), a small GAN (:class:`GAN`), the IAF-VAE (:class:`IAFVAE`) and the
Dirichlet VAE (:class:`DirichletVAE`).

>>> from vae_edu.models import VAE, VAEConfig
>>> VAE(VAEConfig(z_dim=2)).config.z_dim
2

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from .config import ACTIVATIONS, LIKELIHOODS, VAEConfig
from .cvae import CVAE, ConditionalDecoder, ConditionalEncoder, LabelPrior
from .dirichlet import DirichletEncoder, DirichletVAE, DirichletVAEConfig
from .gan import GAN, Discriminator, GANConfig, Generator
from .iaf import IAFFlow, IAFStep
from .iaf_vae import IAFVAE, IAFEncoder
from .layers import Decoder, Encoder, mlp
from .prior import Prior
from .protocols import HasELBOTerms, VariationalModel
from .vae import VAE, ELBOTerms

__all__ = [
    "VAEConfig",
    "LIKELIHOODS",
    "ACTIVATIONS",
    "Encoder",
    "Decoder",
    "Prior",
    "mlp",
    "VAE",
    "ELBOTerms",
    "VariationalModel",
    "HasELBOTerms",
    "CVAE",
    "ConditionalEncoder",
    "ConditionalDecoder",
    "LabelPrior",
    "GAN",
    "GANConfig",
    "Generator",
    "Discriminator",
    "DirichletVAE",
    "DirichletVAEConfig",
    "DirichletEncoder",
    "IAFStep",
    "IAFFlow",
    "IAFEncoder",
    "IAFVAE",
]
