r"""Monte Carlo gradients of an expectation: the score-function and the pathwise estimator.

* :mod:`~vae_edu.gradients.score` — scores and the score-function (REINFORCE) estimator;
* :mod:`~vae_edu.gradients.pathwise` — the pathwise (reparameterization) gradient and the
  signal-to-noise ratio of both.

>>> from vae_edu.gradients import pathwise_grad

Book: *The reparameterization trick, derived and checked*.
"""

from __future__ import annotations

from . import pathwise, score

#: Every module's public names (read before the star imports rebind a module's name to a function).
__all__ = [*score.__all__, *pathwise.__all__]

from .score import *  # noqa: F403 (each module's __all__)
from .pathwise import *  # noqa: F403 (each module's __all__)
