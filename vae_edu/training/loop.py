r"""Training a VAE: minibatch gradient steps on $-\mathrm{ELBO}$ (or $-\mathcal L_k$), early stopping, resume.

:func:`fit` works with any :class:`~vae_edu.models.VariationalModel`: it calls only
:func:`~vae_edu.training.objectives.training_loss` and :func:`~vae_edu.training.objectives.validation_loss`. A
checkpoint holds everything the next epoch depends on (parameters, optimiser, early-stopping
state, random generators), so a resumed run ends bit for bit as one that was never interrupted,
and a finished run can be resumed with a larger ``epochs`` to train on.

Book: *Training a VAE on digits* and *Posterior collapse and the rate–distortion trade-off*.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ..checks import check_batch, check_number
from ..models.protocols import HasELBOTerms, VariationalModel
from .objectives import Objective, kl_weight, training_loss, validation_loss
from .state import EarlyStopping, History, load_checkpoint, save_checkpoint

__all__ = ["fit"]

OptimizerName = Literal["adam", "adamax"]
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "adamax": torch.optim.Adamax}

def fit(
    model: nn.Module,
    train: Tensor | Sequence[Tensor],
    val: Tensor | Sequence[Tensor],
    *,
    epochs: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: OptimizerName = "adamax",
    patience: int | None = 20,
    objective: Objective = "elbo",
    num_samples: int = 1,
    val_num_samples: int | None = None,
    beta: float = 1.0,
    warmup_epochs: int = 0,
    free_bits: float = 0.0,
    seed: int = 0,
    max_seconds: float | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> History:
    r"""Train ``model`` in place on $-\mathrm{ELBO}_{\beta_e}$ (or $-\mathcal L_k$) by minibatch steps, with early stopping.

    Each epoch shuffles ``train``, takes one optimiser step per minibatch on
    :func:`~vae_edu.training.objectives.training_loss` ($\beta_e$ from :func:`kl_weight`: a linear warm-up
    over ``warmup_epochs``; free bits $\lambda$ = ``free_bits``), then computes the validation loss.
    Training stops after ``epochs``, after ``patience`` epochs without a validation improvement
    (never during the warm-up), or after ``max_seconds``; the model ends with the parameters of
    its best validation epoch, in evaluation mode. Everything random follows from ``seed``: the
    shuffling, $\varepsilon$, and the dropout masks (torch's global generator, which ``fit`` seeds
    and gives back unchanged). The data are checked once, before the first step.

    The defaults (Adamax, $\eta = 10^{-3}$, minibatches of 64, patience 20) are the reference
    setup of Tomczak's *Deep Generative Modeling*; on the digits the default model stops after
    ~150 epochs (under 30 s on one CPU thread).

    Args:
        model: a :class:`~vae_edu.models.VariationalModel`, e.g. :class:`~vae_edu.models.VAE`.
        train, val: data ``(N, x_dim)`` in the model's dtype, or tuples ``(x, y, ...)`` for a
            conditional model.
        epochs: the last epoch to run (counting the epochs of a resumed run).
        batch_size, lr: examples per minibatch; the learning rate $\eta$.
        optimizer: ``"adamax"`` or ``"adam"``.
        patience: epochs without improvement before stopping; ``None``: never stop early.
        objective: ``"elbo"`` or ``"iwae"`` (then ``num_samples`` is $k$).
        num_samples: draws of $z$ per example per step.
        val_num_samples: if set, early stopping watches the validation $-\mathcal L_k$ (IWAE
            bound) with $k$ = ``val_num_samples`` instead of the training objective's validation
            loss: one criterion for models whose ELBOs are computed differently (closed-form
            against Monte Carlo KL). ``None``: the training objective's.
        beta, warmup_epochs, free_bits: $\beta$, the warm-up length, $\lambda$ (``"elbo"`` only).
        seed: seeds the shuffling and the noise; ``seed + 1`` seeds the validation noise.
        max_seconds: a wall-clock budget for this call, checked after each epoch.
        checkpoint: a file the full training state is saved to after every epoch.
        resume: a checkpoint of ``fit`` with the same settings (``epochs`` and ``max_seconds``
            may differ): training continues from it.
        progress: show a progress bar.

    Returns:
        A :class:`History`.

    Raises:
        TypeError, ValueError: naming the argument (bad model, data or setting, or a ``resume``
            file written with other settings).
        FloatingPointError: if the training loss becomes NaN or infinite (lower ``lr``).

    Book: *Training a VAE on digits*.
    """
    train_batch, val_batch, settings = check_fit_arguments(
        model, train, val, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, patience=patience,
        objective=objective, num_samples=num_samples, val_num_samples=val_num_samples, beta=beta,
        warmup_epochs=warmup_epochs, free_bits=free_bits, seed=seed, max_seconds=max_seconds)  # fmt: skip
    val_objective, val_k = (objective, num_samples) if val_num_samples is None else ("iwae", val_num_samples)
    gen = torch.Generator().manual_seed(seed)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    stopping = EarlyStopping(patience, warmup_epochs, copy.deepcopy(model.state_dict()))
    history, rng_state = History(), None
    if resume is not None:
        history, stopping.best_state, stopping.bad_epochs, rng_state = load_checkpoint(
            resume, settings, model, opt, gen)
    clock = _Stopwatch(history)
    with _training_session(model, gen, rng_state, epochs, history.epochs, progress) as bar:
        history.stop_reason = "epochs"
        for epoch in range(history.epochs, epochs):
            if stopping.exhausted:
                history.stop_reason = "patience"
                break
            beta_e = kl_weight(epoch, beta, warmup_epochs)
            train_loss = train_epoch(model, opt, train_batch, gen, epoch=epoch, batch_size=batch_size,
                                     objective=objective, num_samples=num_samples, beta=beta_e,
                                     free_bits=free_bits)  # fmt: skip
            model.eval()
            val_loss = validation_loss(model, val_batch, objective=val_objective, num_samples=val_k,
                                       generator=torch.Generator().manual_seed(seed + 1))  # fmt: skip
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            history.beta.append(beta_e)
            stopping.update(history, model, epoch)
            clock.record(history)
            if checkpoint is not None:
                save_checkpoint(checkpoint, settings, model, opt, gen, stopping.best_state, stopping.bad_epochs,
                                history)
            bar.update(1)
            bar.set_postfix(train=f"{train_loss:.2f}", val=f"{val_loss:.2f}")
            if max_seconds is not None and clock.elapsed >= max_seconds:
                history.stop_reason = "max_seconds"
                break
    model.load_state_dict(stopping.best_state)
    return history


def check_fit_arguments(
    model: object,
    train: object,
    val: object,
    *,
    epochs: object,
    batch_size: object,
    lr: object,
    optimizer: object,
    patience: object,
    objective: object,
    num_samples: object,
    val_num_samples: object,
    beta: object,
    warmup_epochs: object,
    free_bits: object,
    seed: object,
    max_seconds: object,
) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], dict[str, object]]:
    """Check the arguments of :func:`fit` once, before the first step (then the steps trust them).

    Returns:
        ``(train_batch, val_batch, settings)``: the data as tuples of tensors, and the settings a
        checkpoint records (a resumed run must match them).

    Raises:
        TypeError, ValueError: naming the argument.
    """
    if not isinstance(model, nn.Module) or not isinstance(model, VariationalModel):
        raise TypeError("model must be an nn.Module with elbo() and log_importance_weights() (a VariationalModel)")
    train_batch, val_batch = check_batch("train", train), check_batch("val", val)
    for name, value, minimum in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("num_samples", num_samples, 1),
                                 ("warmup_epochs", warmup_epochs, 0), ("seed", seed, 0)):  # fmt: skip
        check_number(name, value, minimum=minimum, integer=True)
    check_number("patience", patience, minimum=1, integer=True, allow_none=True)
    check_number("val_num_samples", val_num_samples, minimum=1, integer=True, allow_none=True)
    for name, value in (("lr", lr), ("beta", beta), ("free_bits", free_bits), ("max_seconds", max_seconds)):
        check_number(name, value, minimum=0, allow_none=name == "max_seconds")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {optimizer!r}")
    if objective not in ("elbo", "iwae"):
        raise ValueError(f"objective must be 'elbo' or 'iwae', got {objective!r}")
    if objective == "iwae" and (beta != 1 or warmup_epochs or free_bits):
        raise ValueError("objective='iwae' has no KL weight: beta must be 1, warmup_epochs and free_bits 0")
    if free_bits and not isinstance(model, HasELBOTerms):
        raise TypeError("free_bits needs a model with elbo_terms() (per-dimension KL)")
    check_data = getattr(model, "check_data", None)
    if check_data is not None:  # once, here: the steps then skip the model's own checks
        check_data(*train_batch, name="train")
        check_data(*val_batch, name="val")
    settings = {"batch_size": batch_size, "lr": float(lr), "optimizer": optimizer, "patience": patience,  # type: ignore[arg-type]
                "objective": objective, "num_samples": num_samples, "val_num_samples": val_num_samples,
                "beta": float(beta), "warmup_epochs": warmup_epochs,  # type: ignore[arg-type]
                "free_bits": float(free_bits), "seed": seed, "num_train": len(train_batch[0]), "num_val": len(val_batch[0])}  # type: ignore[arg-type]  # fmt: skip
    return train_batch, val_batch, settings


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[Tensor, ...],
    generator: torch.Generator,
    *,
    epoch: int,
    batch_size: int,
    objective: Objective,
    num_samples: int,
    beta: float,
    free_bits: float,
) -> float:
    r"""One epoch of :func:`fit`: shuffle ``batch`` with ``generator``, one optimiser step per minibatch.

    Each step minimises :func:`~vae_edu.training.objectives.training_loss` ($-\mathrm{ELBO}_\beta$ with
    free bits, or $-\mathcal L_k$), with its noise drawn from ``generator``.

    Args:
        model, optimizer: trained in place (``model`` is put in training mode).
        batch: the training data, a tuple ``(x, ...)`` of tensors with ``N`` rows.
        generator: draws the shuffling and $\varepsilon$.
        epoch: the epoch number, for the error message.
        batch_size, objective, num_samples, beta, free_bits: as in :func:`fit` ($\beta$ of this epoch).

    Returns:
        The minimised loss per example, averaged over the epoch's minibatches (nats).

    Raises:
        FloatingPointError: if the loss becomes NaN or infinite.
    """
    model.train()
    total = 0.0
    for index in torch.randperm(len(batch[0]), generator=generator).split(batch_size):
        minibatch = tuple(t[index] for t in batch)
        loss = training_loss(model, minibatch, objective=objective, num_samples=num_samples, beta=beta,
                             free_bits=free_bits, generator=generator)  # fmt: skip
        if not torch.isfinite(loss):
            lr = optimizer.param_groups[0]["lr"]
            raise FloatingPointError(f"the training loss is {loss.item()} at epoch {epoch}; try a smaller lr (now {lr:g})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
    return total / len(batch[0])


class _Stopwatch:
    """Wall-clock and CPU seconds of a :func:`fit` call, added to those of the run it resumes."""

    def __init__(self, history: History) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.seconds0, self.cpu_seconds0 = history.seconds, history.cpu_seconds

    @property
    def elapsed(self) -> float:
        """Wall-clock seconds since this call started."""
        return time.perf_counter() - self.wall0

    def record(self, history: History) -> None:
        history.seconds = self.seconds0 + self.elapsed
        history.cpu_seconds = self.cpu_seconds0 + time.process_time() - self.cpu0


@contextmanager
def _training_session(
    model: nn.Module, generator: torch.Generator, rng_state: Tensor | None, epochs: int, initial: int, progress: bool
) -> Iterator[Any]:
    """Around :func:`fit`'s loop: torch's global generator forked and seeded from ``generator`` (or
    restored to ``rng_state``), the model's input checks off, a progress bar. On exit all are
    restored and the model is left in evaluation mode."""
    from tqdm.auto import tqdm  # noqa: PLC0415 (a notebook widget only when asked for)

    validate_args = getattr(model, "validate_args", False)
    with torch.random.fork_rng(devices=[]):
        if rng_state is None:
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        else:
            torch.set_rng_state(rng_state)
        bar = tqdm(total=epochs, initial=initial, disable=not progress, desc="fit", unit="epoch")
        try:
            if validate_args:
                model.validate_args = False  # checked once, by check_fit_arguments
            yield bar
        finally:
            bar.close()
            model.eval()
            if validate_args:
                model.validate_args = validate_args
