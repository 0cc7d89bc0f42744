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
(:func:`residual_combined`, ``combine="residual"``, the default of :func:`~vae_edu.models.ladder.hierarchical_vae`): the
message shifts the prior's mean and scales its standard deviation,
$q(z_1|z_2, x) = \mathcal N\big(\mu_p(z_2) + \Delta\mu(x),\ \sigma_p^2(z_2)\,e^{\Delta\ell(x)}\big)$.

**The code $z$ is the concatenation** ``z = [z_1, z_2]``, shape ``(..., z1_dim + z2_dim)``
(:func:`split_z` takes it apart): the posterior's draws, the prior's ``log_prob`` and ``sample``,
and the decoder all use it, so :class:`~vae_edu.models.VAE` computes the ELBO and the importance
weights with no change. The parts:

* :class:`HierarchicalPrior` — $p(z_2)\,p(z_1|z_2)$ with $p(z_2) = \mathcal N(0, I)$; it owns the
  top-down network;
* :class:`~vae_edu.models.ladder.LadderEncoder` — the bottom-up network; it **shares** the prior's top-down network
  (held without registering it, as :class:`~vae_edu.models.VampPrior` holds its encoder: the
  parameters appear once, under ``prior.``); it returns a :class:`~vae_edu.models.ladder.LadderPosterior`;
* :class:`FirstLayerDecoder` — any decoder $p(x|z_1)$ (e.g. :class:`~vae_edu.models.Decoder`)
  reading the first ``z1_dim`` coordinates of $z$.

Neither the prior nor the posterior gives a closed-form KL, so the VAE uses the Monte Carlo KL
$\log q(z|x) - \log p(z)$ on the same draws as the reconstruction term;
:func:`~vae_edu.models.ladder.layer_kl` splits it per layer. What needs a closed-form KL per dimension
(``model.kl_per_dim``, :func:`~vae_edu.metrics.collapse.rate_distortion`, ``fit(free_bits=...)``) does
not apply. A model of these parts has no ``config``: save ``model.state_dict()``.

The digits model in one call (:func:`~vae_edu.models.ladder.hierarchical_vae`)::

    from vae_edu.models import VAEConfig
    from vae_edu.models import hierarchical_vae
    model = hierarchical_vae(VAEConfig(), z2_dim=8)  # z_1: config.z_dim = 16, z_2: 8
    # a VAE(LadderEncoder, FirstLayerDecoder(Decoder(config)), HierarchicalPrior): fit(model, ...)
    ladder = hierarchical_vae(VAEConfig(), z2_dim=8, combine="precision")  # Sønderby et al.

Book: *A hierarchical VAE*.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..checks import check_generator, check_int
from ..distributions.gaussian import log_normal_diag, log_standard_normal, reparameterize
from .checks import check_z, model_dtype

__all__ = [
    "split_z",
    "precision_weighted",
    "residual_combined",
    "COMBINE",
    "HierarchicalPrior",
    "FirstLayerDecoder",
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
