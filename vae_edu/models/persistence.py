r"""Saving and loading a model with its configuration (``torch.load(..., weights_only=True)``).

A file holds a format tag, the model's class name, its configuration as a dict, the extra
constructor arguments (``model.init_kwargs()``) and the ``state_dict``: no pickled code.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..utils import atomic_save

if TYPE_CHECKING:
    from .vae import VAE

__all__ = ["save_model", "load_model", "MODEL_FORMAT"]

#: The format tag of a file written by :func:`save_model`.
MODEL_FORMAT = "vae_edu.model/1"

def save_model(model: VAE, path: str | os.PathLike[str]) -> None:
    """Save ``model`` with its configuration, atomically, so that :func:`load_model` rebuilds it.

    Only a model built from a configuration (:meth:`~vae_edu.models.VAE.from_config`,
    :class:`~vae_edu.models.CVAE`, :class:`~vae_edu.models.DirichletVAE`) can be rebuilt; for a model
    of your own parts save ``model.state_dict()`` and rebuild the parts yourself.
    """
    if model.config is None:
        raise TypeError("save needs a model built from a config; for your own parts save model.state_dict()")
    state = {"format": MODEL_FORMAT, "class": type(model).__name__, "config": asdict(model.config),
             "init": model.init_kwargs(), "state_dict": model.state_dict()}  # fmt: skip
    atomic_save(state, Path(path))


def load_model(cls: type[VAE], path: str | os.PathLike[str]) -> VAE:
    """The ``cls`` model saved at ``path`` by :func:`save_model`, in evaluation mode, in its dtype."""
    state = torch.load(Path(path), weights_only=True)
    if not isinstance(state, dict) or state.get("format") != MODEL_FORMAT:
        raise ValueError(f"path: {path} is not a model saved by VAE.save")
    if state["class"] != cls.__name__:
        raise ValueError(f"path: {path} holds a {state['class']}; load it with {state['class']}.load")
    model = cls.rebuild(cls.config_class(**state["config"]), **state["init"])
    model.to(next(iter(state["state_dict"].values())).dtype).load_state_dict(state["state_dict"])
    return model.eval()
