r"""A VAE whose latent is a vector of proportions $\theta$ on the simplex: a topic model (LDA) as a VAE.

$$\theta\sim p(\theta),\qquad x\mid\theta\sim\mathrm{Multinomial}\big(N,\ \theta^\top\beta\big),\qquad
  \beta_k = \operatorname{softmax}(b_k)\in\Delta^{V-1},$$

with $K$ learned *topics* $\beta_k$ (distributions over the $V$ words, or over the pixels of an
image) and the encoder $q(\theta\mid x)$ in one of three forms (``DirichletVAEConfig.latent``):

* ``"dirichlet"``: $q = \mathrm{Dir}(\alpha_q(x))$, prior $\mathrm{Dir}(\alpha_p\mathbf 1_K)$, KL in closed form
  (:func:`vae_edu.kl.kl_dirichlet`), samples by implicit reparameterisation;
* ``"laplace"``: $\theta = \operatorname{softmax}(z)$, $q = \mathcal N(\mu_q(x), \operatorname{diag}\sigma_q^2(x))$,
  prior the Laplace approximation of $\mathrm{Dir}(\alpha_p\mathbf 1_K)$ in the softmax basis
  (Srivastava & Sutton 2017's ProdLDA prior);
* ``"gaussian"``: the same logistic normal but with the usual VAE prior $z\sim\mathcal N(0, I)$.

**Why the mixture decoder** $p(w\mid\theta) = \theta^\top\beta$ (LDA's) and not ProdLDA's
$\operatorname{softmax}(B\theta)$: it is the model that generated the synthetic corpus, so the learned
$\beta_k$ are distributions over words directly comparable with the true topics, and on images each
$\beta_k$ is a non-negative "part" and $\theta$ the weights that mix the parts into the image.

Book: *The Dirichlet VAE*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..checks import check_int, check_positive_float, check_tensor
from ..distributions.dirichlet import dirichlet_to_logistic_normal
from ..distributions.categorical import log_multinomial
from .dirichlet_latent import DirichletPosterior, DirichletPrior
from .layers import mlp
from .posteriors import DiagonalGaussian
from .prior import NormalPrior
from .vae import VAE

__all__ = [
    "DirichletVAEConfig",
    "DirichletEncoder",
    "TopicDecoder",
    "DirichletVAE",
    "LATENTS",
    "check_counts",
]

Latent = Literal["dirichlet", "laplace", "gaussian"]
#: The latent distributions :class:`DirichletVAEConfig` accepts.
LATENTS: tuple[str, ...] = ("dirichlet", "laplace", "gaussian")
#: Smallest concentration the Dirichlet encoder outputs ($\alpha_q = \operatorname{softplus}(h) + $ this).
ALPHA_MIN = 1e-2


@dataclass
class DirichletVAEConfig:
    r"""Hyper-parameters of :class:`DirichletVAE`.

    Attributes:
        x_dim: vocabulary size $V$ (64 for the digits read as "bags of ink": pixel $v$ occurs
            $x_v$ times, its grey level).
        num_topics: $K$, the size of the latent $\theta$.
        hidden: width of the encoder's hidden layers.
        num_hidden_layers: hidden layers of the encoder (>= 1).
        alpha_p: the symmetric prior concentration $\alpha_p > 0$ ($<1$: sparse proportions).
        latent: ``"dirichlet"``, ``"laplace"`` or ``"gaussian"`` (see the module docstring).
        activation: the encoder's non-linearity (a key of :data:`vae_edu.models.config.ACTIVATIONS`).

    Raises:
        TypeError, ValueError: naming the field.
    """

    x_dim: int = 100
    num_topics: int = 5
    hidden: int = 100
    num_hidden_layers: int = 2
    alpha_p: float = 0.2
    latent: Latent = "dirichlet"
    activation: str = "softplus"

    def __post_init__(self) -> None:
        from .config import ACTIVATIONS

        check_int("x_dim", self.x_dim, 2)
        check_int("num_topics", self.num_topics, 2)
        check_int("hidden", self.hidden, 1)
        check_int("num_hidden_layers", self.num_hidden_layers, 1)
        check_positive_float("alpha_p", self.alpha_p)
        if self.latent not in LATENTS:
            raise ValueError(f"latent must be one of {LATENTS}, got {self.latent!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")


def check_counts(name: str, x: object, x_dim: int, dtype: torch.dtype) -> Tensor:
    """Check a batch of bag-of-words counts: shape ``(B, x_dim)``, ``dtype``, non-negative whole numbers.

    Raises:
        TypeError, ValueError: naming ``name``.
    """
    check_tensor(name, x, min_dim=2)
    assert isinstance(x, Tensor)
    if x.dim() != 2 or x.shape[1] != x_dim:
        raise ValueError(f"{name} must have shape (batch, x_dim={x_dim}), got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the model has dtype {dtype}; convert with .to({dtype})")
    if bool((x < 0).any()) or not bool((x == torch.round(x)).all()):
        raise ValueError(f"{name} must hold counts (non-negative whole numbers)")
    return x


class DirichletEncoder(nn.Module):
    r"""The encoder $q(\theta\mid x)$: an MLP on $\log(1 + x)$ with the head of ``config.latent``.

    * ``"dirichlet"``: a :class:`DirichletPosterior` with $\alpha_q = \operatorname{softplus}(h(x)) + 0.01$;
    * ``"laplace"``/``"gaussian"``: a :class:`~vae_edu.models.DiagonalGaussian` over $z$, with
      $\theta = \operatorname{softmax}(z)$ (a logistic normal).

    The input is $\log(1 + x)$: counts of long documents would otherwise saturate the first layer.

    Book: *The Dirichlet VAE*, "a topic model as a VAE".
    """

    def __init__(self, config: DirichletVAEConfig) -> None:
        super().__init__()
        self.config = config
        heads = 1 if config.latent == "dirichlet" else 2
        self.net = mlp(config.x_dim, config.hidden, config.num_hidden_layers, heads * config.num_topics, config.activation)

    def forward(self, x: Tensor) -> DirichletPosterior | DiagonalGaussian:
        r"""$q(\theta\mid x)$ (or $q(z\mid x)$) for counts ``x`` ``(B, x_dim)``; parameters of shape ``(B, K)``."""
        out = self.net(torch.log1p(x))  # (B, heads * K)
        if self.config.latent == "dirichlet":
            return DirichletPosterior(nn.functional.softplus(out) + ALPHA_MIN)
        mu_q, log_var_q = out.chunk(2, dim=-1)  # (B, K) each
        return DiagonalGaussian(mu_q, log_var_q)


class TopicDecoder(nn.Module):
    r"""The decoder $p(x\mid\theta) = \mathrm{Mult}\big(x;\ N, \theta^\top\beta\big)$ with $K$ learned topics
    $\beta_k = \operatorname{softmax}(b_k)$; for a logistic-normal latent its input is $z$ and
    $\theta = \operatorname{softmax}(z)$.

    Args:
        config: a :class:`DirichletVAEConfig` (``x_dim``, ``num_topics``, ``latent``).

    Book: *The Dirichlet VAE*.
    """

    def __init__(self, config: DirichletVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.topic_logits = nn.Parameter(0.1 * torch.randn(config.num_topics, config.x_dim))  # b, (K, V)

    @property
    def topics(self) -> Tensor:
        r"""The topics $\beta = \operatorname{softmax}(b)$ row by row, shape ``(K, V)``."""
        return torch.softmax(self.topic_logits, dim=-1)

    def proportions(self, z: Tensor) -> Tensor:
        r"""$\theta$ from the latent: itself (Dirichlet) or $\operatorname{softmax}(z)$, shape ``(..., K)``."""
        return z if self.config.latent == "dirichlet" else torch.softmax(z, dim=-1)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        r"""$\log\mathrm{Mult}\big(x;\ N, \theta^\top\beta\big)$; ``z`` ``(S, B, K)`` → ``(S, B)``."""
        log_probs = torch.log(self.proportions(z) @ self.topics)  # (S, B, V); > 0 since every beta_kv > 0
        return log_multinomial(x, log_probs, validate=False)

    def check_data(self, x: Tensor, name: str = "x") -> None:
        """Check counts for this decoder; ``VAE`` calls it."""
        check_counts(name, x, self.config.x_dim, self.topic_logits.dtype)


class DirichletVAE(VAE):
    r"""A topic model trained as a VAE: a :class:`~vae_edu.models.VAE` of a :class:`DirichletEncoder`,
    a :class:`TopicDecoder` and a prior on the simplex (``config.latent``): a :class:`DirichletPrior`,
    or for the logistic normals a :class:`~vae_edu.models.NormalPrior` over $z$ (the Laplace
    approximation of the Dirichlet prior, or $\mathcal N(0, I)$).

    Created in evaluation mode; :func:`vae_edu.training.loop.fit`, :func:`vae_edu.estimators.iwae_bound` and
    :func:`vae_edu.estimators.log_likelihood` work on it as on any VAE.

    Args:
        config: a :class:`DirichletVAEConfig`.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = DirichletVAE(DirichletVAEConfig(x_dim=6, num_topics=2, hidden=8))
        >>> x = torch.tensor([[3.0, 0.0, 1.0, 0.0, 2.0, 4.0]])  # word counts of one document
        >>> model.elbo(x, num_samples=4).shape, model.topics.shape
        (torch.Size([1]), torch.Size([2, 6]))

    Book: *The Dirichlet VAE*.
    """

    def __init__(self, config: DirichletVAEConfig | None = None) -> None:
        config = DirichletVAEConfig() if config is None else config
        if not isinstance(config, DirichletVAEConfig):
            raise TypeError(f"config must be a DirichletVAEConfig, got {type(config).__name__}")
        encoder, decoder = DirichletEncoder(config), TopicDecoder(config)  # in this order: the RNG
        prior: nn.Module
        if config.latent == "dirichlet":
            prior = DirichletPrior(config.num_topics, config.alpha_p)
        else:
            alpha_p = torch.full((config.num_topics,), float(config.alpha_p))
            mu_p, log_var_p = (
                dirichlet_to_logistic_normal(alpha_p)
                if config.latent == "laplace"
                else (torch.zeros_like(alpha_p), torch.zeros_like(alpha_p))
            )
            prior = NormalPrior(mu_p, log_var_p)
        super().__init__(encoder, decoder, prior)
        self.config = config  # type: ignore[assignment]

    config_class = DirichletVAEConfig

    @classmethod
    def rebuild(cls, config: object, **init: object) -> "DirichletVAE":
        """A fresh model of ``config`` (:meth:`~vae_edu.models.VAE.load` fills its parameters)."""
        return cls(config)  # type: ignore[arg-type]

    @property
    def topics(self) -> Tensor:
        r"""The topics $\beta$, shape ``(K, V)``."""
        return self.decoder.topics

    def proportions(self, x: Tensor) -> Tensor:
        r"""A point estimate of $\theta$: the mean $\alpha_q/\sum_k\alpha_{q,k}$ (Dirichlet) or
        $\operatorname{softmax}(\mu_q)$, shape ``(B, K)``."""
        return self.decoder.proportions(self.encode(x).mean)
