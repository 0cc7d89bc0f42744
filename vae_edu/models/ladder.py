r"""The hierarchical VAE's posterior, the ladder encoder, and the model assembled from its parts.

$$q(z_1, z_2|x) = q(z_2|x)\,q(z_1|z_2, x)$$

The bottom-up network reads $x$ once; the top-down step combines its message $(\hat\mu, \hat\sigma^2)$
about $z_1$ with the prior's $p(z_1|z_2)$, by precision weighting (Sønderby et al. 2016) or as a
residual on the prior's parameters (:data:`~vae_edu.models.hierarchical.COMBINE`). The prior and
the decoder are in :mod:`vae_edu.models.hierarchical`; :func:`hierarchical_vae` puts the three
together.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..checks import check_int
from ..distributions.gaussian import log_normal_diag, reparameterize
from ..kl import kl_normal_normal, kl_normal_std_normal
from .config import VAEConfig
from .hierarchical import COMBINE, FirstLayerDecoder, HierarchicalPrior, split_z
from .layers import Decoder, mlp
from .vae import VAE

__all__ = [
    "LadderPosterior",
    "LadderDraws",
    "LadderEncoder",
    "hierarchical_vae",
    "LayerKL",
    "layer_kl",
]


@dataclass(frozen=True)
class LadderDraws:
    r"""Draws of $q(z_1, z_2|x)$ with every per-layer term (what :func:`layer_kl` reads).

    Attributes:
        z: ``[z_1, z_2]``, shape ``(K, B, z_dim)``.
        log_q_1: $\log q(z_1|z_2, x)$, shape ``(K, B)``.
        log_q_2: $\log q(z_2|x)$, shape ``(K, B)``.
        mu_q1: the mean of $q(z_1|z_2, x)$ at the drawn $z_2$, shape ``(K, B, z1_dim)``.
        log_var_q1: its log-variance, shape ``(K, B, z1_dim)``.
        mu_p1: the mean of $p(z_1|z_2)$ at the drawn $z_2$, shape ``(K, B, z1_dim)``.
        log_var_p1: its log-variance, shape ``(K, B, z1_dim)``.
    """

    z: Tensor
    log_q_1: Tensor
    log_q_2: Tensor
    mu_q1: Tensor
    log_var_q1: Tensor
    mu_p1: Tensor
    log_var_p1: Tensor


class LadderPosterior:
    r"""$q(z_1, z_2|x) = q(z_2|x)\,q(z_1|z_2, x)$ for a batch: the top layer's Gaussian, the lower layer's message, the prior.

    $q(z_2|x) = \mathcal N(\hat\mu_2, \operatorname{diag}\hat\sigma_2^2)$ and $q(z_1|z_2, x)$ is
    :func:`precision_weighted` (or :func:`residual_combined`, ``combine="residual"``) of
    $(\hat\mu_1, \hat\sigma_1^2)$ and $p(z_1|z_2)$. Draws are
    ``[z_1, z_2]``: $z_2$ first, then $z_1$ given it (so the noise for $z_2$ is drawn first).

    Attributes:
        mu_q2: the mean of $q(z_2|x)$, shape ``(B, z2_dim)``.
        log_var_q2: the log-variance of $q(z_2|x)$, shape ``(B, z2_dim)``.
        mu_hat_1: the mean of the bottom-up message for $z_1$, shape ``(B, z1_dim)``.
        log_var_hat_1: the log-variance of that message, shape ``(B, z1_dim)``.
        prior: the :class:`HierarchicalPrior` whose top-down network is shared.
        combine: a key of :data:`~vae_edu.models.hierarchical.COMBINE`, ``"precision"`` or ``"residual"``.

    Book: *A hierarchical VAE*.
    """

    def __init__(
        self,
        mu_q2: Tensor,
        log_var_q2: Tensor,
        mu_hat_1: Tensor,
        log_var_hat_1: Tensor,
        prior: HierarchicalPrior,
        combine: str = "precision",
    ) -> None:
        self.mu_q2, self.log_var_q2 = mu_q2, log_var_q2
        self.mu_hat_1, self.log_var_hat_1 = mu_hat_1, log_var_hat_1
        self.prior, self.combine = prior, combine

    def conditional(self, z_2: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        r"""$q(z_1|z_2, x)$ and $p(z_1|z_2)$ at ``z_2`` ``(..., B, z2_dim)``: ``(mu_q1, log_var_q1, mu_p1, log_var_p1)``, each ``(..., B, z1_dim)``."""
        mu_p, log_var_p = self.prior.conditional(z_2)
        mu_q, log_var_q = COMBINE[self.combine](self.mu_hat_1, self.log_var_hat_1, mu_p, log_var_p)
        return mu_q, log_var_q, mu_p, log_var_p

    @property
    def mean(self) -> Tensor:
        r"""The point code $[\mu_{q,1}(\hat\mu_2, x),\ \hat\mu_2]$, shape ``(B, z_dim)`` ($z_1$'s
        conditional mean at $z_2$'s mean; not $\mathbb E_q[z_1]$ unless $\mu_{q,1}$ is linear in $z_2$)."""
        mu_q1 = self.conditional(self.mu_q2)[0]
        return torch.cat([mu_q1, self.mu_q2], dim=-1)

    def rsample_layers(self, num_samples: int = 1, generator: torch.Generator | None = None) -> LadderDraws:
        r"""Reparameterized draws with every per-layer term: a :class:`LadderDraws`."""
        z_2 = reparameterize(self.mu_q2, self.log_var_q2, num_samples=num_samples, generator=generator)  # (K, B, z2)
        mu_q1, log_var_q1, mu_p1, log_var_p1 = self.conditional(z_2)  # (K, B, z1_dim) each
        z_1 = reparameterize(mu_q1, log_var_q1, generator=generator)  # (K, B, z1_dim)
        log_q_2 = log_normal_diag(z_2, self.mu_q2, self.log_var_q2)  # (K, B)
        log_q_1 = log_normal_diag(z_1, mu_q1, log_var_q1)  # (K, B)
        z = torch.cat([z_1, z_2], dim=-1)  # (K, B, z_dim)
        return LadderDraws(z, log_q_1, log_q_2, mu_q1, log_var_q1, mu_p1, log_var_p1)

    def rsample_with_log_prob(
        self, num_samples: int = 1, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""Draws ``[z_1, z_2]`` ``(K, B, z_dim)`` and $\log q(z_2|x) + \log q(z_1|z_2, x)$ ``(K, B)``."""
        draws = self.rsample_layers(num_samples, generator)
        return draws.z, draws.log_q_1 + draws.log_q_2

    def rsample(self, num_samples: int = 1, generator: torch.Generator | None = None) -> Tensor:
        r"""Draws ``[z_1, z_2]`` $\sim q(z_1, z_2|x)$, shape ``(K, B, z_dim)``."""
        return self.rsample_layers(num_samples, generator).z

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log q(z_2|x) + \log q(z_1|z_2, x)$ at any ``z = [z_1, z_2]`` ``(..., B, z_dim)`` → ``(..., B)``."""
        z_1, z_2 = split_z(z, self.prior.z1_dim)
        mu_q1, log_var_q1, _, _ = self.conditional(z_2)
        return log_normal_diag(z_2, self.mu_q2, self.log_var_q2) + log_normal_diag(z_1, mu_q1, log_var_q1)


class LadderEncoder(nn.Module):
    r"""The top-down inference network: a bottom-up network gives the messages, the prior's top-down network the rest.

    ``net(x)`` has width ``2 * z1_dim + 2 * z2_dim``, read as
    $[\hat\mu_1, \log\hat\sigma_1^2, \hat\mu_2, \log\hat\sigma_2^2]$; ``encoder(x)`` returns the
    :class:`LadderPosterior`. The prior is **shared, not owned**: it is held without being
    registered, so in ``VAE(encoder, decoder, prior)`` its parameters appear once (under
    ``prior.``); convert or move the whole model, not the encoder alone.

    Args:
        net: maps ``(B, x_dim)`` to ``(B, 2 * (z1_dim + z2_dim))``.
        prior: the model's :class:`HierarchicalPrior`.
        x_dim: the data dimension (to check ``net``'s widths once).
        combine: how the message meets the prior: ``"precision"`` (:func:`precision_weighted`,
            the Ladder VAE) or ``"residual"`` (:func:`residual_combined`, NVAE).

    Book: *A hierarchical VAE*.
    """

    prior: HierarchicalPrior  # set with object.__setattr__: not a submodule

    def __init__(self, net: nn.Module, prior: HierarchicalPrior, x_dim: int, combine: str = "precision") -> None:
        super().__init__()
        if combine not in COMBINE:
            raise ValueError(f"combine must be one of {tuple(COMBINE)}, got {combine!r}")
        self.combine = combine
        if not isinstance(net, nn.Module):
            raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
        if not isinstance(prior, HierarchicalPrior):
            raise TypeError(f"prior must be a HierarchicalPrior, got {type(prior).__name__}")
        self.x_dim = check_int("x_dim", x_dim)
        self.net = net
        object.__setattr__(self, "prior", prior)  # shared with the VAE, not a submodule
        width = 2 * prior.z_dim
        first = next(net.parameters(), None)
        dtype = first.dtype if first is not None else torch.get_default_dtype()
        try:
            with torch.no_grad():
                out = net(torch.zeros(1, x_dim, dtype=dtype))
        except RuntimeError as err:
            raise ValueError(f"net cannot read x of shape (1, x_dim={x_dim}) ({err})") from err
        if not isinstance(out, Tensor) or out.shape != (1, width):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"net must map (B, x_dim={x_dim}) to (B, 2 * (z1_dim + z2_dim) = {width}), got {shape}")

    def forward(self, x: Tensor) -> LadderPosterior:
        r"""$q(z_1, z_2|x)$ for the batch ``x`` ``(B, x_dim)``: a :class:`LadderPosterior`."""
        z1_dim, z2_dim = self.prior.z1_dim, self.prior.z2_dim
        mu_hat_1, log_var_hat_1, mu_q2, log_var_q2 = self.net(x).split([z1_dim, z1_dim, z2_dim, z2_dim], dim=-1)
        return LadderPosterior(mu_q2, log_var_q2, mu_hat_1, log_var_hat_1, self.prior, self.combine)

    def extra_repr(self) -> str:
        return f"x_dim={self.x_dim}, combine={self.combine!r}, prior={type(self.prior).__name__} (shared, not a submodule)"


def hierarchical_vae(config: VAEConfig, z2_dim: int = 8, *, combine: str = "residual") -> VAE:
    r"""The book's two-layer VAE from a :class:`~vae_edu.models.VAEConfig`: ``config.z_dim`` for $z_1$, ``z2_dim`` for $z_2$.

    * prior: $p(z_2) = \mathcal N(0, I)$, top-down ``mlp(z2_dim, hidden, num_hidden_layers, 2 * z_dim)``;
    * encoder: bottom-up ``mlp(x_dim, hidden, num_hidden_layers, 2 * (z_dim + z2_dim))`` and the
      prior's top-down network (:class:`LadderEncoder`);
    * decoder: ``Decoder(config)`` of $z_1$ (the book's categorical decoder for the digits).

    Initial weights come from torch's global generator, prior first, then encoder, then decoder.

    Args:
        config: the widths, depth, activation and likelihood.
        z2_dim: the width of $z_2$ (>= 1).
        combine: ``"residual"`` (NVAE, the default: on the digits it trains with ``fit``'s
            defaults; precision weighting without a KL warm-up let $z_1$ collapse onto one unit of
            $z_2$ in our first run) or ``"precision"`` (the Ladder VAE), see :class:`LadderEncoder`.

    Returns:
        ``VAE(LadderEncoder, FirstLayerDecoder(Decoder(config)), HierarchicalPrior)``, in
        evaluation mode, its codes ``[z_1, z_2]`` of width ``config.z_dim + z2_dim``.

    Book: *A hierarchical VAE*.
    """
    if not isinstance(config, VAEConfig):
        raise TypeError(f"config must be a VAEConfig, got {type(config).__name__}")
    z2_dim = check_int("z2_dim", z2_dim)
    z1_dim, hidden, depth, act = config.z_dim, config.hidden, config.num_hidden_layers, config.activation
    prior = HierarchicalPrior(mlp(z2_dim, hidden, depth, 2 * z1_dim, act), z1_dim, z2_dim)
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {tuple(COMBINE)}, got {combine!r}")
    encoder = LadderEncoder(mlp(config.x_dim, hidden, depth, 2 * (z1_dim + z2_dim), act), prior, config.x_dim, combine)
    decoder = FirstLayerDecoder(Decoder(config), z1_dim, z2_dim)
    return VAE(encoder, decoder, prior)


@dataclass(frozen=True)
class LayerKL:
    r"""The KL term of a hierarchical ELBO, per layer, per example.

    Attributes:
        kl_1: $\frac1K\sum_k\big[\log q(z_1^{(k)}|z_2^{(k)}, x) - \log p(z_1^{(k)}|z_2^{(k)})\big]$, shape ``(B,)``.
        kl_2: $\frac1K\sum_k\big[\log q(z_2^{(k)}|x) - \log p(z_2^{(k)})\big]$, shape ``(B,)``;
            ``kl_1 + kl_2`` is the VAE's Monte Carlo KL on the same draws.
        kl_1_per_dim: $\frac1K\sum_k \mathrm{KL}\big(q(z_{1,j}|z_2^{(k)}, x)\,\|\,p(z_{1,j}|z_2^{(k)})\big)$,
            the inner KL in closed form, shape ``(B, z1_dim)``: an estimate of $\mathrm{KL}_1$ with less noise.
        kl_2_per_dim: $\mathrm{KL}\big(q(z_{2,j}|x)\,\|\,\mathcal N(0, 1)\big)$, exact, shape ``(B, z2_dim)``.
    """

    kl_1: Tensor
    kl_2: Tensor
    kl_1_per_dim: Tensor
    kl_2_per_dim: Tensor


def layer_kl(
    model: VAE, x: Tensor, *, num_samples: int = 1, generator: torch.Generator | None = None
) -> LayerKL:
    r"""The per-layer KL terms of a hierarchical VAE's ELBO, $\mathrm{KL}_1$ and $\mathrm{KL}_2$.

    $$\mathrm{KL}_2 = \mathbb E_{q(z_2|x)}\Big[\log\frac{q(z_2|x)}{p(z_2)}\Big],\qquad
      \mathrm{KL}_1 = \mathbb E_{q(z_2|x)}\,\mathbb E_{q(z_1|z_2, x)}\Big[\log\frac{q(z_1|z_2, x)}{p(z_1|z_2)}\Big],$$

    $\mathrm{KL}_1 + \mathrm{KL}_2 = \mathrm{KL}\big(q(z_1, z_2|x)\,\|\,p(z_1, z_2)\big)$. The draws
    are those of ``model.elbo_terms`` with the same generator state, so ``kl_1 + kl_2`` equals its
    ``kl``. A layer whose KL is about 0 for every $x$ has collapsed: its posterior is its prior.

    Args:
        model: a :class:`~vae_edu.models.VAE` of a :class:`LadderEncoder` and a :class:`HierarchicalPrior`.
        x: data, shape ``(B, x_dim)``.
        num_samples: $K$ draws per example.
        generator: optional :class:`torch.Generator`.

    Returns:
        a :class:`LayerKL`.

    Book: *A hierarchical VAE*.
    """
    if not isinstance(model, VAE) or not isinstance(model.encoder, LadderEncoder):
        raise TypeError(f"model must be a VAE with a LadderEncoder (hierarchical_vae), got {type(model).__name__}")
    if not isinstance(model.prior, HierarchicalPrior):
        raise TypeError(f"model.prior must be a HierarchicalPrior, got {type(model.prior).__name__}")
    q = model.encode(x)  # checks x
    draws = q.rsample_layers(check_int("num_samples", num_samples), generator)
    z_1, z_2 = split_z(draws.z, model.prior.z1_dim)
    log_p_1, log_p_2 = model.prior.log_prob_layers(draws.z)  # (K, B) each
    kl_1_per_dim = kl_normal_normal(
        draws.mu_q1[..., None], draws.log_var_q1[..., None], draws.mu_p1[..., None], draws.log_var_p1[..., None]
    ).mean(dim=0)  # (B, z1_dim)
    kl_2_per_dim = kl_normal_std_normal(q.mu_q2[..., None], q.log_var_q2[..., None])  # (B, z2_dim)
    return LayerKL(
        kl_1=(draws.log_q_1 - log_p_1).mean(dim=0),
        kl_2=(draws.log_q_2 - log_p_2).mean(dim=0),
        kl_1_per_dim=kl_1_per_dim,
        kl_2_per_dim=kl_2_per_dim,
    )
