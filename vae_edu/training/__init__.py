r"""Training: the loop that fits any model to $-\mathrm{ELBO}$ (or $-\mathcal L_k$), its objectives, and a GAN's.

* :mod:`~vae_edu.training.loop` — :func:`fit`, the loop itself;
* :mod:`~vae_edu.training.state` — the run's history, early stopping, checkpoints and resume;
* :mod:`~vae_edu.training.objectives` — the KL weight (warm-up), free bits, the minibatch loss;
* :mod:`~vae_edu.training.gan` — the alternating GAN updates.

>>> from vae_edu.training import fit

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from .gan import GANHistory, fit_gan
from .loop import fit
from .objectives import (
    Objective,
    free_bits_kl,
    kl_weight,
    mean_negative_elbo,
    training_loss,
    validation_loss,
)
from .state import History, load_checkpoint

__all__ = [
    "fit",
    "History",
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
