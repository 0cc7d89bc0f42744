"""Shared helpers: reproducible set-up (seeds, runs, threads) and atomic saving.

The input checks are in :mod:`vae_edu.checks`.
"""

from __future__ import annotations

import os
import random
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["atomic_save", "setup", "run_seed", "run_number", "RUN_ENV", "RUN_STRIDE"]


def __getattr__(name: str) -> object:
    """The input checks moved to :mod:`vae_edu.checks`: their old names here still work, with a warning."""
    from . import checks  # noqa: PLC0415 (only for the old names)

    if name in checks.__all__:
        warnings.warn(f"vae_edu.utils.{name} has moved: import it from vae_edu.checks", DeprecationWarning, stacklevel=2)
        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The environment variable that selects "another run" of every chapter (default 0).
RUN_ENV = "VAE_EDU_SEED"
#: The distance between two runs' seeds. Run ``r`` uses seed ``base + RUN_STRIDE * r`` (modulo
#: ``2**32``) for each ``base``, so two runs share no seed as long as a chapter's seeds stay below
#: ``RUN_STRIDE``.
RUN_STRIDE = 1000


def run_number() -> int:
    """The run selected by the environment variable ``VAE_EDU_SEED`` (0 when it is unset).

    Every seed a chapter uses goes through :func:`run_seed`, so setting ``VAE_EDU_SEED=1`` (or any
    other number) before starting Jupyter shows *another run* of every chapter: new initial weights,
    new minibatch orders, new Monte Carlo draws. What a chapter asserts must hold for every run.

    Raises:
        ValueError: if ``VAE_EDU_SEED`` is set to something other than a non-negative integer.
    """
    text = os.environ.get(RUN_ENV, "").strip()
    if not text:
        return 0
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"{RUN_ENV} must be a non-negative integer, got {text!r}") from None
    if number < 0:
        raise ValueError(f"{RUN_ENV} must be a non-negative integer, got {number}")
    return number


def run_seed(base: int = 0) -> int:
    """The seed that stands for ``base`` in this run: ``base + 1000 * VAE_EDU_SEED`` (mod ``2**32``).

    With ``VAE_EDU_SEED`` unset (run 0) it is ``base`` itself, so the committed outputs are run 0.
    A chapter writes ``torch.Generator().manual_seed(vae_edu.run_seed(3))`` where it would write
    ``manual_seed(3)``, and ``fit(..., seed=vae_edu.run_seed(0))``.

    Args:
        base: the seed of run 0, in ``[0, 2**32)``.

    Returns:
        The seed to use, a Python ``int``.

    Raises:
        TypeError: if ``base`` is not an integer.
        ValueError: if ``base`` is outside ``[0, 2**32)`` or ``VAE_EDU_SEED`` is malformed.

    >>> run_seed(3) == 3 + 1000 * run_number()
    True
    """
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, (int, np.integer)):
        raise TypeError(f"base must be an int, got {type(base).__name__}")
    if not 0 <= base < 2**32:  # numpy's range
        raise ValueError(f"base must be in [0, 2**32 - 1], got {base}")
    return (int(base) + RUN_STRIDE * run_number()) % 2**32


def setup(seed: int = 0, threads: int = 1) -> None:
    """Seed every random number generator and fix torch's thread count.

    Call it once at the top of a notebook or script: ``vae_edu.setup(seed=0)``. The generators are
    seeded with :func:`run_seed` of ``seed``: the environment variable ``VAE_EDU_SEED`` (default 0)
    selects another run, ``seed + 1000 * VAE_EDU_SEED``.

    One thread is the default on purpose: on a small (2-core) machine, torch with two threads
    runs many times slower as soon as anything else is busy, and one thread is as fast when
    the machine is idle.

    Args:
        seed: seed of run 0 for :mod:`random`, :mod:`numpy` and :mod:`torch`, in ``[0, 2**32)``.
        threads: number of intra-op threads for torch (``torch.set_num_threads``).

    Raises:
        TypeError: if ``seed`` or ``threads`` is not an integer.
        ValueError: if ``seed`` is outside ``[0, 2**32 - 1]``, ``threads`` is smaller than 1, or
            ``VAE_EDU_SEED`` is malformed.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}")
    if not 0 <= seed < 2**32:  # numpy's range; checked before any generator is touched
        raise ValueError(f"seed must be in [0, 2**32 - 1], got {seed}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    used = run_seed(int(seed))  # seed itself unless VAE_EDU_SEED selects another run
    random.seed(used)
    np.random.seed(used)
    torch.manual_seed(used)
    torch.set_num_threads(int(threads))


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary file in the same directory, then ``os.replace``: never a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
