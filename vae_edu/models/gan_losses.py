r"""A GAN's losses, from the discriminator's logits, and the optimal discriminator.

$$V(D, G) = \mathbb E_{x\sim p_{\text{data}}}\big[\log D(x)\big] + \mathbb E_{z\sim p(z)}\big[\log\big(1 - D(G(z))\big)\big]$$

The discriminator minimises $-V$ (:func:`discriminator_loss`); the generator minimises the
non-saturating $-\mathbb E_z[\log D(G(z))]$ (:func:`generator_loss_non_saturating`) rather than
the saturating $\mathbb E_z[\log(1 - D(G(z)))]$ (:func:`generator_loss_saturating`), whose gradient
vanishes when $D$ wins. For fixed $G$ the best discriminator has logit
$\log p_{\text{data}}(x) - \log p_G(x)$ (:func:`optimal_discriminator_logit`), and at the
equilibrium $p_G = p_{\text{data}}$ its loss is :data:`CHANCE_DISCRIMINATOR_LOSS` $= 2\log 2$.

Book: *VAE vs GAN on the same data*.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

from ..checks import check_tensor

__all__ = [
    "discriminator_loss",
    "generator_loss_non_saturating",
    "generator_loss_saturating",
    "optimal_discriminator_logit",
    "CHANCE_DISCRIMINATOR_LOSS",
]


def _check_logits(name: str, logits: object) -> Tensor:
    check_tensor(name, logits, min_dim=1)
    assert isinstance(logits, Tensor)
    if logits.numel() == 0:
        raise ValueError(f"{name} is empty")
    return logits


def discriminator_loss(logits_real: Tensor, logits_fake: Tensor) -> Tensor:
    r"""The discriminator's loss $-V(D, G)$, a binary cross-entropy (real = 1, generated = 0).

    $$\mathcal L_D = -\frac1B\sum_b \log D(x_b) - \frac1M\sum_m \log\big(1 - D(G(z_m))\big)
      = \frac1B\sum_b \operatorname{softplus}(-\ell(x_b)) + \frac1M\sum_m \operatorname{softplus}(\ell(G(z_m)))$$

    A discriminator that cannot tell the two apart, $D \equiv \tfrac12$ ($\ell = 0$), scores
    $2\log 2$; values below $2\log 2$ measure its advantage.

    Args:
        logits_real: $\ell(x)$ on real data, shape ``(B,)``.
        logits_fake: $\ell(G(z))$ on generated samples, shape ``(M,)`` (same dtype).

    Returns:
        A scalar, in nats.

    Book: *VAE vs GAN on the same data*.
    """
    _check_logits("logits_real", logits_real)
    _check_logits("logits_fake", logits_fake)
    if logits_real.dtype != logits_fake.dtype:
        raise TypeError(f"logits_fake has dtype {logits_fake.dtype} but logits_real has dtype {logits_real.dtype}")
    return F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean()


def generator_loss_non_saturating(logits_fake: Tensor) -> Tensor:
    r"""The non-saturating generator loss of Goodfellow et al. (2014): $-\mathbb E_z[\log D(G(z))]$.

    $$\mathcal L_G = -\frac1M\sum_m \log D(G(z_m)) = \frac1M\sum_m \operatorname{softplus}(-\ell(G(z_m)))$$

    Its gradient with respect to the logit is $-(1 - D)$: large exactly when the discriminator
    confidently rejects a sample, which is when the generator most needs to learn.

    Args:
        logits_fake: $\ell(G(z))$, shape ``(M,)``.

    Returns:
        A scalar, in nats.

    Book: *VAE vs GAN on the same data*.
    """
    return F.softplus(-_check_logits("logits_fake", logits_fake)).mean()


def generator_loss_saturating(logits_fake: Tensor) -> Tensor:
    r"""The minimax generator loss, $\mathbb E_z[\log(1 - D(G(z)))]$, the term of $V$ the generator minimises.

    $$\frac1M\sum_m \log\big(1 - D(G(z_m))\big) = -\frac1M\sum_m \operatorname{softplus}(\ell(G(z_m)))$$

    Its gradient with respect to the logit is $-D$, which vanishes when the discriminator
    rejects the samples confidently ($D \to 0$): early in training it *saturates*.

    Args:
        logits_fake: $\ell(G(z))$, shape ``(M,)``.

    Returns:
        A scalar, in nats (always negative).

    Book: *VAE vs GAN on the same data*.
    """
    return -F.softplus(_check_logits("logits_fake", logits_fake)).mean()


def optimal_discriminator_logit(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    r"""The logit of the optimal discriminator for a fixed generator, $D^* = p_{\text{data}} / (p_{\text{data}} + p_g)$.

    $$\ell^*(x) = \log\frac{D^*(x)}{1 - D^*(x)} = \log p_{\text{data}}(x) - \log p_g(x)$$

    At $D^*$, $V(D^*, G) = 2\,\mathrm{JS}(p_{\text{data}}\,\|\,p_g) - \log 4$.

    Args:
        log_p_data: $\log p_{\text{data}}(x)$, any shape.
        log_p_g: $\log p_g(x)$, the same shape and dtype.

    Returns:
        $\ell^*(x)$, the same shape.

    Book: *VAE vs GAN on the same data*.
    """
    check_tensor("log_p_data", log_p_data)
    check_tensor("log_p_g", log_p_g)
    if log_p_data.shape != log_p_g.shape:
        raise ValueError(f"log_p_g has shape {tuple(log_p_g.shape)} but log_p_data has {tuple(log_p_data.shape)}")
    if log_p_data.dtype != log_p_g.dtype:
        raise TypeError(f"log_p_g has dtype {log_p_g.dtype} but log_p_data has dtype {log_p_data.dtype}")
    return log_p_data - log_p_g


#: $2\log 2$, the discriminator loss of a discriminator that cannot tell real from generated.
CHANCE_DISCRIMINATOR_LOSS = 2 * math.log(2)
