r"""Training: the loop that fits any model to $-\mathrm{ELBO}$ (or $-\mathcal L_k$), its objectives, and a GAN's.

* :mod:`~vae_edu.training.loop` — :func:`fit`, early stopping, checkpoints and resume;
* :mod:`~vae_edu.training.objectives` — the KL weight (warm-up), free bits, the minibatch loss;
* :mod:`~vae_edu.training.gan` — the alternating GAN updates.

>>> from vae_edu.training import fit

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from .loop import History, fit, load_checkpoint
from .objectives import kl_weight, free_bits_kl, mean_negative_elbo, training_loss, validation_loss, Objective
from .gan import GANHistory, fit_gan

__all__ = [
    "History",
    "fit",
    "load_checkpoint",
    "kl_weight",
    "free_bits_kl",
    "mean_negative_elbo",
    "training_loss",
    "validation_loss",
    "Objective",
    "GANHistory",
    "fit_gan",
]
