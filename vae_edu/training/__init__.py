r"""Training: the loop that fits any model to $-\mathrm{ELBO}$ (or $-\mathcal L_k$), its objectives, and a GAN's.

* :mod:`~vae_edu.training.loop` — :func:`fit`, the loop itself;
* :mod:`~vae_edu.training.state` — the run's history, early stopping, checkpoints and resume;
* :mod:`~vae_edu.training.objectives` — the KL weight (warm-up), free bits, the minibatch loss;
* :mod:`~vae_edu.training.gan` — the alternating GAN updates.

>>> from vae_edu.training import fit

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

from . import gan, loop, objectives, state

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [*loop.__all__, *state.__all__, *objectives.__all__, *gan.__all__]

from .loop import *  # noqa: F403 (each module's __all__)
from .state import *  # noqa: F403 (each module's __all__)
from .objectives import *  # noqa: F403 (each module's __all__)
from .gan import *  # noqa: F403 (each module's __all__)
