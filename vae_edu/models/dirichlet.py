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

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ..dirichlet import _log_multinomial, dirichlet_to_logistic_normal, log_dirichlet, rsample_dirichlet
from ..distributions import log_normal_diag, reparameterize
from ..kl import kl_dirichlet, kl_normal_normal
from ..utils import check_int, check_positive_float, check_tensor
from .layers import mlp

__all__ = ["DirichletVAEConfig", "DirichletEncoder", "DirichletVAE", "LATENTS"]

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

    * ``"dirichlet"``: $\alpha_q = \operatorname{softplus}(h(x)) + 0.01$, shape ``(B, K)``;
    * ``"laplace"``/``"gaussian"``: $(\mu_q, \log\sigma_q^2)$ of $z$, each ``(B, K)``.

    The input is $\log(1 + x)$: counts of long documents would otherwise saturate the first layer.

    Book: *The Dirichlet VAE*, "a topic model as a VAE".
    """

    def __init__(self, config: DirichletVAEConfig) -> None:
        super().__init__()
        self.config = config
        heads = 1 if config.latent == "dirichlet" else 2
        self.net = mlp(config.x_dim, config.hidden, config.num_hidden_layers, heads * config.num_topics, config.activation)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """``(alpha_q,)`` for the Dirichlet latent, ``(mu_q, log_var_q)`` otherwise; each ``(B, K)``."""
        out = self.net(torch.log1p(x))  # (B, heads * K)
        if self.config.latent == "dirichlet":
            return (nn.functional.softplus(out) + ALPHA_MIN,)
        mu_q, log_var_q = out.chunk(2, dim=-1)  # (B, K) each
        return mu_q, log_var_q


class DirichletVAE(nn.Module):
    r"""A topic model trained as a VAE: $q(\theta\mid x)$, a prior on the simplex, and $p(x\mid\theta) = \mathrm{Mult}(N, \theta^\top\beta)$.

    Usable by :func:`vae_edu.train.fit`, :func:`vae_edu.estimators.iwae_bound` and
    :func:`vae_edu.estimators.log_likelihood` (it is a
    :class:`~vae_edu.models.VariationalModel`). Created in evaluation mode.

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
        super().__init__()
        config = DirichletVAEConfig() if config is None else config
        if not isinstance(config, DirichletVAEConfig):
            raise TypeError(f"config must be a DirichletVAEConfig, got {type(config).__name__}")
        self.config = config
        self.encoder = DirichletEncoder(config)
        self.topic_logits = nn.Parameter(0.1 * torch.randn(config.num_topics, config.x_dim))  # b, (K, V)
        alpha_p = torch.full((config.num_topics,), float(config.alpha_p))
        self.register_buffer("alpha_p", alpha_p)  # (K,)
        if config.latent == "laplace":
            mu_p, log_var_p = dirichlet_to_logistic_normal(alpha_p)
        else:
            mu_p, log_var_p = torch.zeros_like(alpha_p), torch.zeros_like(alpha_p)
        self.register_buffer("mu_p", mu_p)  # (K,), used by the logistic-normal latents
        self.register_buffer("log_var_p", log_var_p)
        self.eval()

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (data must have it too)."""
        return self.topic_logits.dtype

    @property
    def topics(self) -> Tensor:
        r"""The topics $\beta = \operatorname{softmax}(b)$ row by row, shape ``(K, V)``."""
        return torch.softmax(self.topic_logits, dim=-1)

    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        r"""The parameters of $q(\theta\mid x)$: ``(alpha_q,)`` or ``(mu_q, log_var_q)``, each ``(B, K)``."""
        check_counts("x", x, self.config.x_dim, self.dtype)
        return self.encoder(x)

    def log_p_x_given_theta(self, x: Tensor, theta: Tensor) -> Tensor:
        r"""$\log\mathrm{Mult}\big(x;\ N, \theta^\top\beta\big)$; ``theta`` ``(K_s, B, K)`` → ``(K_s, B)``."""
        log_probs = torch.log(theta @ self.topics)  # (S, B, V); > 0 since every beta_kv > 0
        return _log_multinomial(x, log_probs)

    def _sample(self, params: tuple[Tensor, ...], num_samples: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``(theta, z)``: theta ``(S, B, K)``; z the Gaussian sample (logistic normal) or theta itself."""
        check_int("num_samples", num_samples)
        if self.config.latent == "dirichlet":
            theta = rsample_dirichlet(params[0], num_samples, generator)  # (S, B, K)
            return theta, theta
        mu_q, log_var_q = params
        eps = torch.randn((num_samples, *mu_q.shape), dtype=mu_q.dtype, device=mu_q.device, generator=generator)
        z = reparameterize(mu_q, log_var_q, eps)  # (S, B, K)
        return torch.softmax(z, dim=-1), z

    def kl(self, x: Tensor) -> Tensor:
        r"""$\mathrm{KL}\big(q(\theta\mid x)\,\|\,p(\theta)\big)$ in closed form (in $z$ for the logistic normals), shape ``(B,)``."""
        return self._kl(self.encode(x))

    def _kl(self, params: tuple[Tensor, ...]) -> Tensor:
        if self.config.latent == "dirichlet":
            return kl_dirichlet(params[0], self.alpha_p.expand_as(params[0]))
        return kl_normal_normal(params[0], params[1], self.mu_p, self.log_var_p)

    def elbo(
        self, x: Tensor, num_samples: int = 1, beta: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        r"""$\mathbb E_{q(\theta|x)}\big[\log\mathrm{Mult}(x; N, \theta^\top\beta)\big] - \beta_{\mathrm{KL}}\,\mathrm{KL}\big(q(\theta|x)\,\|\,p(\theta)\big)$ per example.

        The expectation is a Monte Carlo mean over ``num_samples`` reparameterised draws (implicit
        for the Dirichlet, through $\varepsilon$ for the logistic normals); the KL is in closed form.

        Args:
            x: word counts, shape ``(B, x_dim)``.
            num_samples: draws of $\theta$ per document.
            beta: the weight of the KL term, $\ge 0$.
            generator: optional :class:`torch.Generator`.

        Returns:
            shape ``(B,)``, in nats.
        """
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            raise TypeError(f"beta must be a number, got {type(beta).__name__} {beta!r}")
        if not 0 <= beta < math.inf:
            raise ValueError(f"beta must be a finite float >= 0, got {beta!r}")
        params = self.encode(x)
        theta, _ = self._sample(params, num_samples, generator)
        reconstruction = self.log_p_x_given_theta(x, theta).mean(dim=0)  # (B,)
        return reconstruction - beta * self._kl(params)

    def log_importance_weights(self, x: Tensor, num_samples: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$\log w_s = \log p(x\mid\theta_s) + \log p(\theta_s) - \log q(\theta_s\mid x)$, shape ``(S, B)``.

        For the logistic normals the densities are those of $z$ (the model is $z\sim p(z)$,
        $x\sim\mathrm{Mult}(N, \operatorname{softmax}(z)^\top\beta)$). For the Dirichlet, samples are
        clamped at the smallest positive float before the densities are evaluated.
        """
        params = self.encode(x)
        theta, z = self._sample(params, num_samples, generator)
        log_lik = self.log_p_x_given_theta(x, theta)  # (S, B)
        if self.config.latent == "dirichlet":
            safe = theta.clamp_min(torch.finfo(theta.dtype).tiny)
            safe = safe / safe.sum(dim=-1, keepdim=True)
            return log_lik + log_dirichlet(safe, self.alpha_p) - log_dirichlet(safe, params[0])
        return log_lik + log_normal_diag(z, self.mu_p, self.log_var_p) - log_normal_diag(z, params[0], params[1])

    def proportions(self, x: Tensor) -> Tensor:
        r"""A point estimate of $\theta$: the mean $\alpha_q/\sum_k\alpha_{q,k}$ (Dirichlet) or $\operatorname{softmax}(\mu_q)$, shape ``(B, K)``."""
        params = self.encode(x)
        if self.config.latent == "dirichlet":
            return params[0] / params[0].sum(dim=-1, keepdim=True)
        return torch.softmax(params[0], dim=-1)
