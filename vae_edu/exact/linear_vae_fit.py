r"""Fitting the linear VAE: full-batch L-BFGS on the exact ELBO, or Adam on its Monte Carlo estimate.

Both maximise the average ELBO of a dataset over the encoder and decoder together. With the exact
ELBO the optimum is known (probabilistic PCA with a diagonal posterior: Lucas et al. 2019), so
the chapter can check that the fit reaches it; the Monte Carlo fit shows what sampling noise
costs on the way.

Book: *The linear VAE is probabilistic PCA*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..checks import check_generator, check_int, check_tensor
from .linear_vae import LinearVAE

__all__ = ["fit_exact_elbo", "fit_monte_carlo_elbo"]


# ---------------------------------------------------------------------- training
def _check_data(model: LinearVAE, x: Tensor) -> None:
    if not isinstance(model, LinearVAE):
        raise TypeError(f"model must be a LinearVAE, got {type(model).__name__}")
    check_tensor("x", x, min_dim=2)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (N, x_dim), got {tuple(x.shape)}")
    model._check("x", x, model.x_dim, "x_dim")


def _mean_elbo(model: LinearVAE, x: Tensor) -> float:
    with torch.no_grad():
        return float(model.elbo_exact(x).mean())


def fit_exact_elbo(
    model: LinearVAE, x: Tensor, *, num_iterations: int, record_every: int = 10, history_size: int = 100
) -> list[float]:
    r"""Maximise the mean exact ELBO over a data set with L-BFGS (strong-Wolfe line search), in place.

    The closed-form ELBO is a smooth, deterministic function of the parameters: the setting
    quasi-Newton methods are made for. They converge far faster and further than Adam.

    Args:
        model: the :class:`LinearVAE` to train (its parameters are updated in place).
        x: the whole data set (full batch), shape ``(N, x_dim)``.
        num_iterations: L-BFGS iterations (each runs a line search of one or a few ELBO evaluations).
        record_every: record the ELBO after every ``record_every`` iterations.
        history_size: number of gradient pairs L-BFGS keeps.

    Returns:
        The mean exact ELBO per example at iterations ``0, record_every, 2 * record_every, ...``
        and at ``num_iterations``.

    Book: *The linear VAE is probabilistic PCA*.
    """
    _check_data(model, x)
    check_int("num_iterations", num_iterations)
    check_int("record_every", record_every)
    check_int("history_size", history_size)

    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, history_size=history_size, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = -model.elbo_exact(x).mean()
        loss.backward()
        return loss

    history = [_mean_elbo(model, x)]
    done = 0
    while done < num_iterations:
        chunk = min(record_every, num_iterations - done)  # the L-BFGS memory carries over between chunks
        # up to 25 evaluations per line search (torch's default budget, 1.25 per iteration, cuts it short)
        optimizer.param_groups[0].update(max_iter=chunk, max_eval=25 * chunk + 1)
        optimizer.step(closure)
        done += chunk
        history.append(_mean_elbo(model, x))
    return history


def fit_monte_carlo_elbo(
    model: LinearVAE,
    x: Tensor,
    *,
    num_samples: int | None,
    num_steps: int,
    lr: float,
    decay: bool = True,
    generator: torch.Generator | None = None,
) -> list[float]:
    r"""Maximise the Monte Carlo ELBO with Adam, as a VAE with no closed form must, in place.

    Every step draws fresh $\varepsilon$ (:meth:`LinearVAE.elbo_monte_carlo`), so the gradient
    is unbiased but noisy; the learning rate decays linearly from ``lr`` to 0 so that the
    iterates settle despite the noise. Two switches turn the run into a control experiment:
    ``decay=False`` keeps the learning rate at ``lr`` (the noise is then never damped), and
    ``num_samples=None`` follows the gradient of the exact ELBO (:meth:`LinearVAE.elbo_exact`)
    with the same optimiser and schedule (no noise at all).

    Args:
        model: the :class:`LinearVAE` to train (its parameters are updated in place).
        x: the whole data set (full batch), shape ``(N, x_dim)``.
        num_samples: $K \ge 2$ samples per example and step, or ``None`` for the exact ELBO.
        num_steps: number of Adam steps.
        lr: initial learning rate (> 0).
        decay: decay the learning rate linearly from ``lr`` to 0 over the ``num_steps`` steps
            (``True``) or keep it at ``lr`` (``False``).
        generator: optional :class:`torch.Generator` for the samples.

    Returns:
        The mean **exact** ELBO per example before training and after every step
        (``num_steps + 1`` floats): the quantity being climbed, measured without noise.

    Book: *The linear VAE is probabilistic PCA*.
    """
    _check_data(model, x)
    if num_samples is not None:
        check_int("num_samples", num_samples, minimum=2)
    check_int("num_steps", num_steps)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    if not isinstance(decay, bool):
        raise TypeError(f"decay must be a bool, got {type(decay).__name__}")
    check_generator(generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    factor = (lambda step: 1.0 - step / num_steps) if decay else (lambda step: 1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    history = [_mean_elbo(model, x)]
    for _ in range(num_steps):
        optimizer.zero_grad()
        if num_samples is None:
            estimate = model.elbo_exact(x)  # (N,), no sampling
        else:
            estimate, _ = model.elbo_monte_carlo(x, num_samples, generator)  # (N,)
        (-estimate.mean()).backward()
        optimizer.step()
        schedule.step()
        history.append(_mean_elbo(model, x))
    return history
