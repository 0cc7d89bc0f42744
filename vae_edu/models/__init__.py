r"""VAE models as parts and their composition: ``VAE(encoder, decoder, prior)``.

Encoders (:class:`Encoder`, :class:`IAFEncoder`, :class:`ConditionalEncoder`) return a posterior
object (:class:`DiagonalGaussian`, :class:`IAFPosterior`); decoders (:class:`Decoder`,
:class:`AutoregressiveDecoder`, :class:`ConditionalDecoder`) give $\log p(x|z)$; priors
(:class:`StandardNormalPrior`, :class:`LabelPrior`, the learned :class:`MixturePrior` and
:class:`VampPrior`) give $\log p(z)$, samples and, where one
exists, the closed-form KL. The conditional VAE (:class:`CVAE`) is a :class:`VAE` of conditional
parts. Also: a small GAN (:class:`GAN`) and the Dirichlet VAE (:class:`DirichletVAE`).

>>> from vae_edu.models import VAE, VAEConfig
>>> VAE.from_config(VAEConfig(z_dim=2)).config.z_dim
2

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from .autoregressive import AutoregressiveDecoder
from .code_prior import AutoregressiveCodePrior, fit_code_prior
from .config import ACTIVATIONS, LIKELIHOODS, VAEConfig
from .cvae import CVAE, ConditionalDecoder, ConditionalEncoder, LabelPrior
from .dirichlet import DirichletEncoder, DirichletVAE, DirichletVAEConfig, TopicDecoder
from .dirichlet_latent import DirichletPosterior, DirichletPrior
from .gan import GAN, Discriminator, GANConfig, Generator
from .hierarchical import FirstLayerDecoder, HierarchicalPrior
from .iaf import IAFFlow, IAFStep
from .iaf_encoder import IAFEncoder, IAFPosterior
from .ladder import LadderEncoder, LadderPosterior, hierarchical_vae, layer_kl
from .layers import Decoder, Encoder, mlp
from .learned_priors import MixturePrior, log_mixture_normal_diag, sample_mixture_normal_diag
from .vamp_prior import VampPrior
from .posteriors import DiagonalGaussian, Posterior
from .prior import NormalPrior, StandardNormalPrior
from .protocols import HasELBOTerms, VariationalModel
from .quantisers import (
    Quantised,
    QuantisedEncoder,
    QuantisedPosterior,
    UniformCodePrior,
    VectorQuantiser,
    code_perplexity,
)
from .vae import VAE
from .terms import ELBOTerms

__all__ = [
    "VAEConfig",
    "LIKELIHOODS",
    "ACTIVATIONS",
    "Encoder",
    "Decoder",
    "StandardNormalPrior",
    "NormalPrior",
    "MixturePrior",
    "VampPrior",
    "log_mixture_normal_diag",
    "sample_mixture_normal_diag",
    "Posterior",
    "DiagonalGaussian",
    "AutoregressiveDecoder",
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
    "DirichletPosterior",
    "DirichletPrior",
    "TopicDecoder",
    "IAFStep",
    "IAFFlow",
    "IAFEncoder",
    "IAFPosterior",
    "VectorQuantiser",
    "Quantised",
    "QuantisedPosterior",
    "QuantisedEncoder",
    "UniformCodePrior",
    "code_perplexity",
    "HierarchicalPrior",
    "LadderEncoder",
    "LadderPosterior",
    "FirstLayerDecoder",
    "hierarchical_vae",
    "layer_kl",
    "AutoregressiveCodePrior",
    "fit_code_prior",
]
