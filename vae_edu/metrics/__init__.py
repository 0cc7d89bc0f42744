r"""Measuring a trained model: posterior collapse, the latent space, disentanglement, samples, topics.

* :mod:`~vae_edu.metrics.collapse` — rate, distortion and active units;
* :mod:`~vae_edu.metrics.latent` — neighbourhoods, interpolation and traversals of $z$;
* :mod:`~vae_edu.metrics.aggregate` — the aggregate posterior $q(z)$, ELBO surgery and holes;
* :mod:`~vae_edu.metrics.disentanglement` — a correlation-gap score;
* :mod:`~vae_edu.metrics.sample_quality` — judging samples with a classifier;
* :mod:`~vae_edu.metrics.topics` — matching learned topics to true ones.

>>> from vae_edu.metrics import active_units

Book: *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

from . import aggregate, collapse, disentanglement, latent, sample_quality, topics

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [
    *collapse.__all__,
    *latent.__all__,
    *aggregate.__all__,
    *disentanglement.__all__,
    *sample_quality.__all__,
    *topics.__all__,
]

from .collapse import *  # noqa: F403 (each module's __all__)
from .latent import *  # noqa: F403 (each module's __all__)
from .aggregate import *  # noqa: F403 (each module's __all__)
from .disentanglement import *  # noqa: F403 (each module's __all__)
from .sample_quality import *  # noqa: F403 (each module's __all__)
from .topics import *  # noqa: F403 (each module's __all__)
