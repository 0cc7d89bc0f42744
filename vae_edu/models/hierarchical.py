r"""A hierarchical VAE with two stochastic layers, $z_2 \to z_1 \to x$, as parts for ``VAE(encoder, decoder, prior)``.

$$p(x, z_1, z_2) = p(z_2)\,p(z_1|z_2)\,p(x|z_1),\qquad
  q(z_1, z_2|x) = q(z_2|x)\,q(z_1|z_2, x)$$

$$\mathrm{ELBO}(x) = \mathbb E_q\big[\log p(x|z_1)\big]
  - \underbrace{\mathbb E_{q}\Big[\log\frac{q(z_2|x)}{p(z_2)}\Big]}_{\mathrm{KL}_2}
  - \underbrace{\mathbb E_{q}\Big[\log\frac{q(z_1|z_2, x)}{p(z_1|z_2)}\Big]}_{\mathrm{KL}_1}$$

The inference path runs **top-down**, as the generative one does (the Ladder VAE, Sønderby et
al., 2016): one bottom-up network reads $x$ and gives, per layer, a Gaussian "message"
$(\hat\mu_\ell, \hat\sigma_\ell^2)$; the top layer's posterior is its message,
$q(z_2|x) = \mathcal N(\hat\mu_2, \operatorname{diag}\hat\sigma_2^2)$; the layer below combines its
message with the **prior's own top-down network** $p(z_1|z_2) = \mathcal N(\mu_p(z_2),
\operatorname{diag}\sigma_p^2(z_2))$, either by precision weighting (:func:`precision_weighted`,
``combine="precision"``):

$$\sigma_{q,1}^{-2} = \hat\sigma_1^{-2} + \sigma_p^{-2},\qquad
  \mu_{q,1} = \sigma_{q,1}^2\big(\hat\mu_1\hat\sigma_1^{-2} + \mu_p\sigma_p^{-2}\big).$$

For a linear-Gaussian chain this product of two Gaussians in $z_1$ *is* the exact conditional
$p(z_1|z_2, x) \propto p(z_1|z_2)\,p(x|z_1)$ (:mod:`vae_edu.exact.linear_gaussian_chain` checks it). Or
by the residual form of NVAE (Vahdat & Kautz, 2020) and Tomczak's *Deep Generative Modeling*
(:func:`residual_combined`, ``combine="residual"``, the default of :func:`hierarchical_vae`): the
message shifts the prior's mean and scales its standard deviation,
$q(z_1|z_2, x) = \mathcal N\big(\mu_p(z_2) + \Delta\mu(x),\ \sigma_p^2(z_2)\,e^{\Delta\ell(x)}\big)$.

**The code $z$ is the concatenation** ``z = [z_1, z_2]``, shape ``(..., z1_dim + z2_dim)``
(:func:`split_z` takes it apart): the posterior's draws, the prior's ``log_prob`` and ``sample``,
and the decoder all use it, so :class:`~vae_edu.models.VAE` computes the ELBO and the importance
weights with no change. The parts:

* :class:`HierarchicalPrior` — $p(z_2)\,p(z_1|z_2)$ with $p(z_2) = \mathcal N(0, I)$; it owns the
  top-down network;
* :class:`LadderEncoder` — the bottom-up network; it **shares** the prior's top-down network
  (held without registering it, as :class:`~vae_edu.models.VampPrior` holds its encoder: the
  parameters appear once, under ``prior.``); it returns a :class:`LadderPosterior`;
* :class:`FirstLayerDecoder` — any decoder $p(x|z_1)$ (e.g. :class:`~vae_edu.models.Decoder`)
  reading the first ``z1_dim`` coordinates of $z$.

Neither the prior nor the posterior gives a closed-form KL, so the VAE uses the Monte Carlo KL
$\log q(z|x) - \log p(z)$ on the same draws as the reconstruction term;
:func:`layer_kl` splits it per layer. What needs a closed-form KL per dimension
(``model.kl_per_dim``, :func:`~vae_edu.metrics.collapse.rate_distortion`, ``fit(free_bits=...)``) does
not apply. A model of these parts has no ``config``: save ``model.state_dict()``.

The digits model in one call (:func:`hierarchical_vae`)::

    from vae_edu.models import VAEConfig
    from vae_edu.models.hierarchical import hierarchical_vae
    model = hierarchical_vae(VAEConfig(), z2_dim=8)  # z_1: config.z_dim = 16, z_2: 8
    # a VAE(LadderEncoder, FirstLayerDecoder(Decoder(config)), HierarchicalPrior): fit(model, ...)
    ladder = hierarchical_vae(VAEConfig(), z2_dim=8, combine="precision")  # Sønderby et al.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from ..kl import kl_normal_normal, kl_normal_std_normal
from .checks import check_z, model_dtype
from .config import VAEConfig
from .layers import Decoder, mlp
from .vae import VAE

__all__ = [
    "split_z",
    "precision_weighted",
    "residual_combined",
    "COMBINE",
    "HierarchicalPrior",
    "LadderPosterior",
    "LadderDraws",
    "LadderEncoder",
    "FirstLayerDecoder",
    "LayerKL",
    "layer_kl",
    "hierarchical_vae",
]


def split_z(z: Tensor, z1_dim: int) -> tuple[Tensor, Tensor]:
    r"""Split the concatenated code ``z = [z_1, z_2]`` into its layers.

    Args:
        z: codes, shape ``(..., z1_dim + z2_dim)``.
        z1_dim: the width of $z_1$ (the layer next to $x$).

    Returns:
        ``(z_1, z_2)``, shapes ``(..., z1_dim)`` and ``(..., z2_dim)`` (views of ``z``).

    Book: *A hierarchical VAE*.
    """
    return z[..., :z1_dim], z[..., z1_dim:]


def residual_combined(mu_hat: Tensor, log_var_hat: Tensor, mu_p: Tensor, log_var_p: Tensor) -> tuple[Tensor, Tensor]:
    r"""The residual posterior of a lower layer (NVAE; Tomczak's *Deep Generative Modeling*): the message shifts and scales the prior.

    $$q(z_1|z_2, x) = \mathcal N\big(\mu_p(z_2) + \Delta\mu(x),\ \sigma_p^2(z_2)\,e^{\Delta\ell(x)}\big),
      \qquad \mathrm{KL}\big(q\,\|\,p(z_1|z_2)\big) = \tfrac12\sum_j\Big[\frac{\Delta\mu_j^2}{\sigma_{p,j}^2}
      + e^{\Delta\ell_j} - \Delta\ell_j - 1\Big]$$

    The message $(\Delta\mu, \Delta\ell)$ = (``mu_hat``, ``log_var_hat``) is read as a shift and a
    log-scale: a zero message makes the posterior the prior, and the KL depends on $z_2$ only through $\sigma_p$.

    Args:
        mu_hat, log_var_hat: the bottom-up message $\Delta\mu$, $\Delta\ell$, shape ``(..., d)``.
        mu_p, log_var_p: the top-down prior $p(z_1|z_2)$, shape ``(..., d)``; batch shapes broadcast.

    Returns:
        ``(mu_q, log_var_q)``, each of the broadcast shape.

    Book: *A hierarchical VAE*.
    """
    return mu_p + mu_hat, log_var_p + log_var_hat


def precision_weighted(mu_hat: Tensor, log_var_hat: Tensor, mu_p: Tensor, log_var_p: Tensor) -> tuple[Tensor, Tensor]:
    r"""The product of two diagonal Gaussians in $z$, normalised: the Ladder VAE's posterior of a lower layer.

    $$\mathcal N(z;\ \hat\mu, \hat\sigma^2)\,\mathcal N(z;\ \mu_p, \sigma_p^2) \propto
      \mathcal N(z;\ \mu_q, \sigma_q^2),\qquad
      \sigma_q^{-2} = \hat\sigma^{-2} + \sigma_p^{-2},\qquad
      \mu_q = w\,\hat\mu + (1 - w)\,\mu_p,\quad w = \frac{\hat\sigma^{-2}}{\hat\sigma^{-2} + \sigma_p^{-2}}
      = \operatorname{sigmoid}\big(\log\sigma_p^2 - \log\hat\sigma^2\big)$$

    Computed in log space: $\log\sigma_q^2 = -\operatorname{logaddexp}(-\log\hat\sigma^2, -\log\sigma_p^2)$.

    Args:
        mu_hat, log_var_hat: the bottom-up message from $x$, shape ``(..., d)``.
        mu_p, log_var_p: the top-down prior $p(z_1|z_2)$, shape ``(..., d)``; batch shapes broadcast.

    Returns:
        ``(mu_q, log_var_q)``, each of the broadcast shape.

    Book: *A hierarchical VAE*.
    """
    w = torch.sigmoid(log_var_p - log_var_hat)  # the weight of the bottom-up message
    mu_q = w * mu_hat + (1 - w) * mu_p
    log_var_q = -torch.logaddexp(-log_var_hat, -log_var_p)
    return mu_q, log_var_q


#: How :class:`LadderEncoder` combines the bottom-up message with the top-down prior, by name.
COMBINE = {"precision": precision_weighted, "residual": residual_combined}


class HierarchicalPrior(nn.Module):
    r"""The two-layer prior $p(z_1, z_2) = \mathcal N(z_2;\ 0, I)\,\mathcal N\big(z_1;\ \mu_p(z_2), \operatorname{diag}\sigma_p^2(z_2)\big)$.

    Its top-down network maps $z_2$ to $[\mu_p, \log\sigma_p^2]$; :class:`LadderEncoder` uses the
    same network for the posterior. No closed-form KL: the VAE estimates it by Monte Carlo.

    Args:
        top_down: maps ``(..., z2_dim)`` to ``(..., 2 * z1_dim)``, read as ``[mu_p, log_var_p]``
            (e.g. ``mlp(z2_dim, hidden, 2, 2 * z1_dim, "leaky_relu")``; a ``nn.Linear`` gives a
            linear-Gaussian chain).
        z1_dim, z2_dim: the widths of $z_1$ and $z_2$.

    Example:
        >>> prior = HierarchicalPrior(nn.Linear(2, 6), z1_dim=3, z2_dim=2)
        >>> z = prior.sample(4)  # [z_1, z_2]
        >>> z.shape, prior.log_prob(z).shape
        (torch.Size([4, 5]), torch.Size([4]))

    Book: *A hierarchical VAE*.
    """

    def __init__(self, top_down: nn.Module, z1_dim: int, z2_dim: int) -> None:
        super().__init__()
        if not isinstance(top_down, nn.Module):
            raise TypeError(f"top_down must be an nn.Module, got {type(top_down).__name__}")
        self.z1_dim, self.z2_dim = check_int("z1_dim", z1_dim), check_int("z2_dim", z2_dim)
        self.top_down = top_down
        first = next(top_down.parameters(), None)
        dtype = first.dtype if first is not None else torch.get_default_dtype()
        try:
            with torch.no_grad():
                out = top_down(torch.zeros(1, z2_dim, dtype=dtype))
        except RuntimeError as err:
            raise ValueError(f"top_down cannot read z_2 of shape (1, z2_dim={z2_dim}) ({err})") from err
        if not isinstance(out, Tensor) or out.shape != (1, 2 * z1_dim):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"top_down must map (B, z2_dim={z2_dim}) to (B, 2 * z1_dim = {2 * z1_dim}), got {shape}")

    @property
    def z_dim(self) -> int:
        """The width of the concatenated code ``[z_1, z_2]``."""
        return self.z1_dim + self.z2_dim

    def conditional(self, z_2: Tensor) -> tuple[Tensor, Tensor]:
        r"""$p(z_1|z_2)$: ``(mu_p, log_var_p)``, each ``(..., z1_dim)``, for ``z_2`` ``(..., z2_dim)``."""
        mu_p, log_var_p = self.top_down(z_2).chunk(2, dim=-1)  # (..., z1_dim) each
        return mu_p, log_var_p

    def log_prob_layers(self, z: Tensor) -> tuple[Tensor, Tensor]:
        r"""$\big(\log p(z_1|z_2),\ \log p(z_2)\big)$ for ``z = [z_1, z_2]`` ``(..., z_dim)``, each ``(...)``."""
        z_1, z_2 = split_z(z, self.z1_dim)
        mu_p, log_var_p = self.conditional(z_2)
        return log_normal_diag(z_1, mu_p, log_var_p), log_standard_normal(z_2)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""$\log p(z_1, z_2) = \log p(z_2) + \log p(z_1|z_2)$: ``z`` ``(..., z_dim)`` → ``(...)``."""
        log_p_1, log_p_2 = self.log_prob_layers(z)
        return log_p_1 + log_p_2

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        r"""$n$ ancestral draws $z_2 \sim \mathcal N(0, I)$, $z_1 \sim p(z_1|z_2)$; ``[z_1, z_2]`` of shape ``(n, z_dim)``."""
        check_int("n", n)
        check_generator(generator)
        dtype = model_dtype(self) if next(self.parameters(), None) is not None else torch.get_default_dtype()
        z_2 = torch.randn((n, self.z2_dim), dtype=dtype, generator=generator)  # (n, z2_dim)
        mu_p, log_var_p = self.conditional(z_2)
        z_1 = reparameterize(mu_p, log_var_p, generator=generator)  # (n, z1_dim)
        return torch.cat([z_1, z_2], dim=-1)

    def extra_repr(self) -> str:
        return f"z1_dim={self.z1_dim}, z2_dim={self.z2_dim}"


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
        combine: a key of :data:`COMBINE`, ``"precision"`` or ``"residual"``.

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


class FirstLayerDecoder(nn.Module):
    r"""$p(x|z) = p(x|z_1)$: a decoder of $z_1$ that reads the first ``z1_dim`` coordinates of ``z = [z_1, z_2]``.

    Args:
        decoder: has ``log_prob(x, z_1)``, ``sample(z_1)``, ``mean(z_1)`` (and optionally
            ``check_data``), e.g. ``Decoder(config)`` with ``config.z_dim = z1_dim``.
        z1_dim, z2_dim: the widths of $z_1$ and $z_2$.

    Book: *A hierarchical VAE*.
    """

    def __init__(self, decoder: nn.Module, z1_dim: int, z2_dim: int) -> None:
        super().__init__()
        if not isinstance(decoder, nn.Module):
            raise TypeError(f"decoder must be an nn.Module, got {type(decoder).__name__}")
        for method in ("log_prob", "sample", "mean"):
            if not callable(getattr(decoder, method, None)):
                raise TypeError(f"decoder must have a {method} method, got {type(decoder).__name__}")
        self.decoder = decoder
        self.z1_dim, self.z2_dim = check_int("z1_dim", z1_dim), check_int("z2_dim", z2_dim)

    def log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        r"""$\log p(x|z_1)$: ``x`` ``(B, x_dim)``, ``z`` ``(K, B, z_dim)`` → ``(K, B)``."""
        return self.decoder.log_prob(x, z[..., : self.z1_dim])

    def mean(self, z: Tensor) -> Tensor:
        r"""$\mathbb E_{p(x|z_1)}[x]$ for ``z`` ``(..., z_dim)``, shape ``(..., x_dim)``."""
        z = check_z(z, self.z1_dim + self.z2_dim, model_dtype(self))
        return self.decoder.mean(z[..., : self.z1_dim])

    def sample(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""$x \sim p(x|z_1)$ for ``z`` ``(..., z_dim)``, shape ``(..., x_dim)``."""
        z = check_z(z, self.z1_dim + self.z2_dim, model_dtype(self))
        return self.decoder.sample(z[..., : self.z1_dim], generator=generator)

    def check_data(self, x: Tensor, name: str = "x") -> None:
        """The wrapped decoder's data check, if it has one."""
        check = getattr(self.decoder, "check_data", None)
        if check is not None:
            check(x, name=name)

    def extra_repr(self) -> str:
        return f"z1_dim={self.z1_dim}, z2_dim={self.z2_dim} (reads z[..., :z1_dim])"


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

