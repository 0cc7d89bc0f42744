r"""The state of a training run: its :class:`History`, the ``EarlyStopping`` rule, and checkpoints.

:func:`~vae_edu.training.loop.fit` writes a checkpoint (model, optimiser, generators, history,
early-stopping state and its own settings) when given ``checkpoint=path``, and continues from one
with ``resume=path``; a finished run is extended by asking for more epochs.

Book: *Training a VAE on digits*.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from ..utils import atomic_save

__all__ = ["History", "load_checkpoint"]


CHECKPOINT_FORMAT = "vae_edu.fit/2"


@dataclass
class History:
    r"""What :func:`fit` did, epoch by epoch.

    Attributes:
        train_loss: the minimised objective per example, averaged over each epoch's minibatches, nats.
        val_loss: $-\mathrm{ELBO}$ per example on the validation data after each epoch ($\beta = 1$,
            the same noise every epoch; $-\mathcal L_k$ for the IWAE objective, or with $k$ =
            ``val_num_samples`` when that is set). Early stopping watches it.
        beta: the KL weight of each epoch.
        best_epoch: the (0-based) epoch with the lowest ``val_loss``; the model ends with its parameters.
        best_val_loss: ``val_loss[best_epoch]``.
        seconds: wall-clock training time, summed over resumed runs.
        cpu_seconds: process CPU time, summed over resumed runs.
        stop_reason: ``"epochs"``, ``"patience"`` (early stopping) or ``"max_seconds"``.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    beta: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = math.inf
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    stop_reason: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)


@dataclass
class EarlyStopping:
    """Early-stopping bookkeeping: the best validation epoch's parameters and the epochs since.

    Attributes:
        patience: epochs without improvement before stopping; ``None``: never.
        warmup_epochs: epochs during which no improvement is not counted.
        best_state: the model's ``state_dict`` at its best validation epoch.
        bad_epochs: epochs since the last improvement.
    """

    patience: int | None
    warmup_epochs: int
    best_state: dict[str, Tensor]
    bad_epochs: int = 0

    @property
    def exhausted(self) -> bool:
        """Whether ``patience`` epochs have passed without an improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def update(self, history: History, model: nn.Module, epoch: int) -> None:
        """Keep ``model``'s parameters if ``history``'s last validation loss is its best so far."""
        val_loss = history.val_loss[-1]
        if val_loss < history.best_val_loss:
            history.best_val_loss, history.best_epoch, self.bad_epochs = val_loss, epoch, 0
            self.best_state = copy.deepcopy(model.state_dict())
        elif epoch + 1 >= self.warmup_epochs:
            self.bad_epochs += 1


def save_checkpoint(
    path: str | os.PathLike[str],
    settings: dict[str, object],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    best_state: dict[str, Tensor],
    bad_epochs: int,
    history: History,
) -> None:
    """Save everything the next epoch of :func:`fit` depends on, atomically, for :func:`load_checkpoint`.

    That is the settings, parameters, optimiser and generator states, the early-stopping state,
    torch's global generator (the dropout masks) and the history.
    """
    state = {"settings": settings, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "generator": generator.get_state(), "best_state": best_state, "bad_epochs": bad_epochs,
             "torch_rng_state": torch.get_rng_state(), "history": asdict(history)}  # fmt: skip
    atomic_save({"format": CHECKPOINT_FORMAT, **state}, Path(path))


def load_checkpoint(
    path: str | os.PathLike[str],
    settings: dict[str, object],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> tuple[History, dict[str, Tensor], int, Tensor]:
    """Restore a checkpoint of :func:`fit` into ``model``, ``optimizer`` and ``generator``.

    Returns:
        ``(history, best_state, bad_epochs, torch_rng_state)``: what the loop continues from.

    Raises:
        ValueError: naming ``resume``, if the file is not a checkpoint of ``fit`` or was written
            with other ``settings``.
    """
    state = torch.load(Path(path), weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"resume: {path} is not a checkpoint written by vae_edu.training.loop.fit")
    differ = {k: (state["settings"].get(k), v) for k, v in settings.items() if state["settings"].get(k) != v}
    if differ:
        raise ValueError(f"resume: the checkpoint was written with other settings (saved, now): {differ}")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return History(**state["history"]), state["best_state"], state["bad_epochs"], state["torch_rng_state"]
